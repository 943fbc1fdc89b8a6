"""The threading contract (README, "Threads"): separate models trained in separate threads
give the results of training them one after another; reading a tensor while another thread
runs backward through it neither deadlocks nor corrupts anything."""

import copy
import threading

import numpy as np

import backprop as bp
import backprop.autograd
import backprop.nn as nn
import backprop.optim

TIMEOUT = 120


def make_model(seed):
    bp.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Linear(16, 3))


def data(seed):
    rng = np.random.default_rng(seed)
    x = bp.tensor(rng.standard_normal((32, 6)).astype(np.float32))
    y = bp.tensor(rng.integers(0, 3, size=32))
    return x, y


def train(model, x, y, steps=40):
    opt = bp.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def run_threads(targets):
    errors = []

    def guarded(f):
        def run():
            try:
                f()
            except BaseException as e:  # reported by the main thread
                errors.append(e)

        return run

    threads = [threading.Thread(target=guarded(f)) for f in targets]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a thread did not finish: deadlock?"
    assert not errors, errors


def test_threads_training_separate_models_match_serial_training():
    models = [make_model(seed) for seed in range(4)]
    serial = [copy.deepcopy(m) for m in models]
    datasets = [data(seed) for seed in range(4)]
    expected = [train(m, *d) for m, d in zip(serial, datasets)]

    results = [None] * len(models)

    def job(k):
        return lambda: results.__setitem__(k, train(models[k], *datasets[k]))

    run_threads([job(k) for k in range(len(models))])
    for k in range(len(models)):
        assert results[k] == expected[k], f"model {k}: losses differ from serial training"
        for p, q in zip(models[k].parameters(), serial[k].parameters()):
            np.testing.assert_array_equal(p.detach().numpy(), q.detach().numpy())


def test_reading_a_tensor_while_another_thread_runs_backward_through_it():
    w = bp.randn(8, 8, requires_grad=True)
    x = bp.randn(16, 8)
    snapshot = w.detach().numpy().copy()
    expected_grad = None
    for _ in range(2):
        w.grad = None
        (x @ w).tanh().sum().backward()
        expected_grad = w.grad.numpy().copy()
    stop = threading.Event()
    reads = []

    def reader():
        while not stop.is_set():
            values = np.array(w.tolist(), dtype=np.float32)
            assert np.array_equal(values, snapshot), "a reader saw w change"
            assert np.array_equal(w.detach().numpy(), snapshot)
            repr(w)
            reads.append(1)

    def differentiator():
        try:
            for _ in range(60):
                w.grad = None
                (x @ w).tanh().sum().backward()
                np.testing.assert_allclose(w.grad.numpy(), expected_grad, rtol=1e-6)
        finally:
            stop.set()

    run_threads([reader, reader, differentiator])
    assert reads, "the readers never ran"


def test_threads_with_hooks_and_custom_functions_do_not_deadlock():
    class Double(bp.autograd.Function):
        @staticmethod
        def forward(ctx, t):
            return t * 2

        @staticmethod
        def backward(ctx, g):
            return g * 2

    def job(seed):
        def run():
            bp.manual_seed(seed)
            for _ in range(20):
                a = bp.randn(5, requires_grad=True)
                seen = []
                a.register_hook(lambda g: seen.append(g.sum().item()))
                Double.apply(a).sum().backward()
                np.testing.assert_allclose(a.grad.numpy(), np.full(5, 2.0))
                assert seen == [10.0]

        return run

    run_threads([job(s) for s in range(4)])
