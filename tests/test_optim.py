"""Optimizers against NumPy transcriptions of PyTorch's documented update rules, over several
steps; state dicts, parameter groups, zero_grad, errors, and the learning-rate schedules."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn, optim
from conftest import assert_close, to_np

# The loss sum(c * w + d * w^2 / 2) has gradient c + d * w: it changes with w, so each step's
# gradient depends on the previous steps' updates.
C = np.array([[0.5, -1.5, 2.0], [-0.25, 1.0, 3.0]])
D = np.array([[1.0, 0.5, 2.0], [0.1, 3.0, 0.7]])
W0 = np.array([[0.3, -0.2, 1.0], [0.7, -1.1, 0.05]])
B0 = np.array([0.1, -0.4, 0.9])


def quadratic_grad(w, c, d):
    return c + d * w


def make_params(dtype, device):
    w = nn.Parameter(bp.tensor(W0, dtype=dtype, device=device))
    b = nn.Parameter(bp.tensor(B0, dtype=dtype, device=device))
    return w, b


def backprop_run(opt_factory, steps, dtype, device):
    w, b = make_params(dtype, device)
    opt = opt_factory(w, b)
    c = [bp.tensor(C, dtype=dtype, device=device), bp.tensor(C[0], dtype=dtype, device=device)]
    d = [bp.tensor(D, dtype=dtype, device=device), bp.tensor(D[1], dtype=dtype, device=device)]
    for _ in range(steps):
        opt.zero_grad()
        loss = (c[0] * w + d[0] * w * w / 2).sum() + (c[1] * b + d[1] * b * b / 2).sum()
        loss.backward()
        opt.step()
    return to_np(w), to_np(b), opt


def numpy_adam(theta, c, d, steps, lr, betas, eps, weight_decay, amsgrad, maximize, decoupled):
    """Adam / AdamW exactly as PyTorch's documentation writes the algorithm."""
    b1, b2 = betas
    m = np.zeros_like(theta)
    v = np.zeros_like(theta)
    v_max = np.zeros_like(theta)
    for t in range(1, steps + 1):
        g = quadratic_grad(theta, c, d)
        if maximize:
            g = -g
        if decoupled:
            theta = theta - lr * weight_decay * theta
        elif weight_decay != 0:
            g = g + weight_decay * theta
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g**2
        m_hat = m / (1 - b1**t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - b2**t)
        else:
            v_hat = v / (1 - b2**t)
        theta = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
    return theta


def numpy_sgd(theta, c, d, steps, lr, momentum, dampening, weight_decay, nesterov, maximize):
    """SGD exactly as PyTorch's documentation writes the algorithm."""
    buf = None
    for t in range(1, steps + 1):
        g = quadratic_grad(theta, c, d)
        if weight_decay != 0:
            g = g + weight_decay * theta
        if momentum != 0:
            buf = g if t == 1 else momentum * buf + (1 - dampening) * g
            g = g + momentum * buf if nesterov else buf
        theta = theta + lr * g if maximize else theta - lr * g
    return theta


ADAM_CASES = [
    dict(lr=1e-2, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, maximize=False),
    dict(lr=5e-2, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1, amsgrad=False, maximize=False),
    dict(lr=3e-2, betas=(0.9, 0.9), eps=1e-8, weight_decay=0.05, amsgrad=True, maximize=False),
    dict(lr=1e-2, betas=(0.5, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=True, maximize=True),
]


@pytest.mark.parametrize("case", ADAM_CASES)
@pytest.mark.parametrize("cls", [optim.Adam, optim.AdamW])
def test_adam_matches_documented_algorithm_over_several_steps(cls, case, device):
    dtypes = [bp.float32] if device == "gpu" else [bp.float64, bp.float32]
    for dtype in dtypes:
        tol = dict(rtol=1e-10, atol=1e-12) if dtype == bp.float64 else dict(rtol=2e-5, atol=2e-6)
        steps = 9
        w, b, opt = backprop_run(lambda w, b: cls([w, b], **case), steps, dtype, device)
        decoupled = cls is optim.AdamW
        want_w = numpy_adam(W0, C, D, steps, decoupled=decoupled, **case)
        want_b = numpy_adam(B0, C[0], D[1], steps, decoupled=decoupled, **case)
        assert_close(w, want_w, **tol)
        assert_close(b, want_b, **tol)
        assert opt.state[opt.param_groups[0]["params"][0]]["step"].item() == steps


SGD_CASES = [
    dict(lr=0.1, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(lr=0.05, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(lr=0.05, momentum=0.8, dampening=0.3, weight_decay=0.01, nesterov=False, maximize=False),
    dict(lr=0.02, momentum=0.9, dampening=0.0, weight_decay=0.1, nesterov=True, maximize=False),
    dict(lr=0.01, momentum=0.5, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=True),
]


@pytest.mark.parametrize("case", SGD_CASES)
def test_sgd_matches_documented_algorithm_over_several_steps(case, device):
    dtypes = [bp.float32] if device == "gpu" else [bp.float64, bp.float32]
    for dtype in dtypes:
        tol = dict(rtol=1e-10, atol=1e-12) if dtype == bp.float64 else dict(rtol=1e-5, atol=1e-6)
        w, b, _ = backprop_run(lambda w, b: optim.SGD([w, b], **case), 8, dtype, device)
        assert_close(w, numpy_sgd(W0, C, D, 8, **case), **tol)
        assert_close(b, numpy_sgd(B0, C[0], D[1], 8, **case), **tol)


def test_param_groups_use_their_own_hyperparameters():
    w, b = make_params(bp.float64, "cpu")
    opt = optim.AdamW([{"params": [w], "lr": 0.1, "weight_decay": 0.0}, {"params": b}], lr=0.01, weight_decay=0.2)
    c, d = bp.tensor(C, dtype=bp.float64), bp.tensor(D, dtype=bp.float64)
    c1, d1 = bp.tensor(C[0], dtype=bp.float64), bp.tensor(D[1], dtype=bp.float64)
    for _ in range(4):
        opt.zero_grad()
        ((c * w + d * w * w / 2).sum() + (c1 * b + d1 * b * b / 2).sum()).backward()
        opt.step()
    common = dict(betas=(0.9, 0.999), eps=1e-8, amsgrad=False, maximize=False, decoupled=True)
    assert_close(w, numpy_adam(W0, C, D, 4, lr=0.1, weight_decay=0.0, **common), rtol=1e-10)
    assert_close(b, numpy_adam(B0, C[0], D[1], 4, lr=0.01, weight_decay=0.2, **common), rtol=1e-10)
    assert opt.param_groups[1]["lr"] == 0.01 and opt.param_groups[1]["betas"] == (0.9, 0.999)


def test_parameters_without_gradients_are_left_alone():
    w, b = make_params(bp.float32, "cpu")
    opt = optim.Adam([w, b], lr=0.1)
    (w * 2).sum().backward()
    opt.step()
    assert_close(b, B0.astype(np.float32))
    assert b not in opt.state and opt.state[w]["step"].item() == 1


def test_step_bumps_the_parameter_version_so_stale_graphs_fail():
    w = nn.Parameter(bp.ones(3))
    opt = optim.SGD([w], lr=0.1)
    y = (w * w).sum()  # saves w for its backward
    w.grad = bp.ones(3)
    opt.step()
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_zero_grad_sets_to_none_or_zeroes():
    w = nn.Parameter(bp.ones(3))
    opt = optim.SGD([w], lr=0.1)
    (w * 3).sum().backward()
    opt.zero_grad(set_to_none=False)
    assert_close(w.grad, np.zeros(3))
    opt.zero_grad()
    assert w.grad is None


def test_optimizer_state_dict_round_trip_continues_identically():
    def run(steps_before, steps_after, reload):
        bp.manual_seed(0)
        model = nn.Linear(4, 3)
        opt = optim.AdamW(model.parameters(), lr=0.05, amsgrad=True)
        x, y = bp.randn(8, 4), bp.randint(0, 3, (8,))

        def step():
            opt.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            opt.step()

        for _ in range(steps_before):
            step()
        if reload:
            saved_model, saved_opt = model.state_dict(), opt.state_dict()
            model = nn.Linear(4, 3)
            model.load_state_dict(saved_model)
            opt = optim.AdamW(model.parameters(), lr=0.5)
            opt.load_state_dict(saved_opt)
        for _ in range(steps_after):
            step()
        return to_np(model.weight)

    np.testing.assert_allclose(run(3, 4, reload=True), run(3, 4, reload=False), rtol=1e-6)


def test_optimizer_state_dict_layout_is_pytorchs():
    w, b = make_params(bp.float32, "cpu")
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    (w.sum() + b.sum()).backward()
    opt.step()
    sd = opt.state_dict()
    assert sd["param_groups"][0]["params"] == [0, 1]
    assert set(sd["state"]) == {0, 1} and set(sd["state"][0]) == {"momentum_buffer"}
    assert sd["param_groups"][0]["lr"] == 0.1


def test_load_state_dict_rejects_mismatched_groups():
    w, b = make_params(bp.float32, "cpu")
    sd = optim.Adam([w, b]).state_dict()
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([w]).load_state_dict(sd)


def test_bad_hyperparameters_and_arguments_are_rejected():
    w = nn.Parameter(bp.ones(2))
    with pytest.raises(ValueError, match="learning rate"):
        optim.SGD([w], lr=-1)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([w], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta"):
        optim.Adam([w], betas=(1.0, 0.9))
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.Adam([])
    with pytest.raises(TypeError, match="iterable"):
        optim.Adam(w)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([w * 2], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [w]}, {"params": [w]}], lr=0.1)


def test_engine_rejects_gradients_of_the_wrong_shape():
    w = nn.Parameter(bp.ones(2, 3))
    w.grad = bp.ones(2, 3)
    opt = optim.Adam([w])
    opt.step()
    opt.state[w]["exp_avg"] = bp.zeros(3, 2)
    with pytest.raises(ValueError, match="exp_avg"):
        opt.step()


def test_closure_is_evaluated_with_grad_enabled():
    w = nn.Parameter(bp.tensor([1.0, -2.0]))
    opt = optim.SGD([w], lr=0.5)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with bp.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 5.0
    assert_close(w, [0.0, 0.0])


def test_step_lr_and_cosine_annealing_follow_their_formulas():
    w = nn.Parameter(bp.ones(1))
    opt = optim.SGD([w], lr=1.0)
    sched = optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    lrs = []
    for _ in range(8):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs == [1.0, 1.0, 1.0, 0.5, 0.5, 0.5, 0.25, 0.25]
    assert sched.get_last_lr() == [0.25]  # epoch 8

    opt = optim.Adam([w], lr=0.1)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, T_max=10, eta_min=0.001)
    got = []
    for _ in range(21):
        got.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    want = [0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(21)]
    np.testing.assert_allclose(got, want, rtol=1e-12)


def test_schedules_match_pytorch_when_installed():
    torch = pytest.importorskip("torch")
    for make_bp, make_torch in [
        (lambda o: optim.lr_scheduler.StepLR(o, 2, 0.3), lambda o: torch.optim.lr_scheduler.StepLR(o, 2, 0.3)),
        (lambda o: optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01), lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, 7, 0.01)),
    ]:
        ob = optim.SGD([nn.Parameter(bp.ones(1))], lr=0.2)
        ot = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.2)
        sb, st = make_bp(ob), make_torch(ot)
        for _ in range(20):
            assert ob.param_groups[0]["lr"] == pytest.approx(ot.param_groups[0]["lr"], rel=1e-9, abs=1e-12)
            ob.step()
            ot.step()
            sb.step()
            st.step()


def test_adamw_matches_pytorch_on_an_mlp_when_installed():
    torch = pytest.importorskip("torch")
    bp.manual_seed(1)
    model = nn.Sequential(nn.Linear(5, 7), nn.ReLU(), nn.Linear(7, 3))
    ref = torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.ReLU(), torch.nn.Linear(7, 3)).double()
    with torch.no_grad():
        for (_, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
            q.copy_(torch.from_numpy(to_np(p).astype(np.float64)))
    model.double()
    ob = optim.AdamW(model.parameters(), lr=0.03, weight_decay=0.1, amsgrad=True)
    ot = torch.optim.AdamW(ref.parameters(), lr=0.03, weight_decay=0.1, amsgrad=True)
    rng = np.random.default_rng(0)
    for _ in range(6):
        x = rng.standard_normal((9, 5))
        y = rng.integers(0, 3, 9)
        ob.zero_grad()
        nn.functional.cross_entropy(model(bp.tensor(x, dtype=bp.float64)), bp.tensor(y)).backward()
        ob.step()
        ot.zero_grad()
        torch.nn.functional.cross_entropy(ref(torch.from_numpy(x)), torch.from_numpy(y)).backward()
        ot.step()
    for (_, p), (_, q) in zip(model.named_parameters(), ref.named_parameters()):
        np.testing.assert_allclose(to_np(p), q.detach().numpy(), rtol=1e-9, atol=1e-12)


def test_optimizer_built_before_a_dtype_change_keeps_training_the_model():
    """Module.to() replaces parameters whose dtype changes; the optimizer swaps them in at its
    next step and carries its state over, so it updates what the model uses (as in PyTorch)."""
    model = nn.Linear(3, 2)
    opt = optim.AdamW(model.parameters(), lr=0.1)
    model(bp.ones(1, 3)).sum().backward()
    opt.step()  # state exists before the move: it must follow the parameters
    model.double()
    before = [to_np(p).copy() for p in model.parameters()]
    opt.zero_grad()
    model(bp.ones(1, 3, dtype=bp.float64)).sum().backward()
    opt.step()
    held = opt.param_groups[0]["params"]
    assert all(a is b for a, b in zip(held, model.parameters()))
    for p, b in zip(model.parameters(), before):
        assert p.dtype == bp.float64 and not np.allclose(to_np(p), b)
        s = opt.state[p]
        assert s["exp_avg"].dtype == bp.float64 and s["step"].item() == 2.0
    assert len(opt.state) == 2


def test_optimizer_built_before_model_to_device_steps_the_moved_parameters(device):
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1))
    opt = optim.AdamW(model.parameters(), lr=0.05)
    model.to(device)
    before = [to_np(p).copy() for p in model.parameters()]
    model(bp.ones(5, 3, device=device)).pow(2).sum().backward()
    opt.step()
    assert all(a is b for a, b in zip(opt.param_groups[0]["params"], model.parameters()))
    for p, b in zip(model.parameters(), before):
        assert p.device.type == bp.device(device).type
        assert not np.allclose(to_np(p), b)
        assert opt.state[p]["exp_avg"].device == p.device
    assert model[1].running_mean.device.type == bp.device(device).type
