"""The examples run: the lecture's MNIST script (on small MNIST-format files in a temporary
home directory) and the two-layer net, whose autograd gradients must reproduce the lecture's
hand-derived NumPy ones step for step."""

import importlib.util
import os
import runpy
import sys
import types

import numpy as np
import pytest

import backprop as bp
from test_data import write_fake_mnist

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "examples")


def load_example(name):
    spec = importlib.util.spec_from_file_location(name, os.path.join(EXAMPLES, name + ".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def numpy_two_layer_net(x, y, w1, w2, steps, lr=1e-4):
    """The lecture's NumPy code, verbatim apart from returning the losses."""
    losses = []
    for t in range(steps):
        h = 1 / (1 + np.exp(-x.dot(w1)))
        y_pred = h.dot(w2)
        loss = np.square(y_pred - y).sum()
        losses.append(loss)

        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h.T.dot(grad_y_pred)
        grad_h = grad_y_pred.dot(w2.T)
        grad_w1 = x.T.dot(grad_h * h * (1 - h))

        w1 -= lr * grad_w1
        w2 -= lr * grad_w2
    return losses, w1, w2


def test_two_layer_net_autograd_matches_the_hand_derived_numpy_version():
    example = load_example("two_layer_net")
    rng = np.random.default_rng(0)
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)), rng.standard_normal((H, D_out))
    want_losses, want_w1, want_w2 = numpy_two_layer_net(x, y, w1.copy(), w2.copy(), steps=30)
    losses = []
    bw1 = bp.tensor(w1, dtype=bp.float64, requires_grad=True)
    bw2 = bp.tensor(w2, dtype=bp.float64, requires_grad=True)
    example.two_layer_net(
        bp.tensor(x, dtype=bp.float64), bp.tensor(y, dtype=bp.float64), bw1, bw2, steps=30, log=lambda t, loss: losses.append(loss)
    )
    np.testing.assert_allclose(losses, want_losses, rtol=1e-9)
    assert losses[-1] < losses[0] / 4  # and it learns
    np.testing.assert_allclose(bw1.detach().numpy(), want_w1, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(bw2.detach().numpy(), want_w2, rtol=1e-9, atol=1e-12)
    assert bw1.is_leaf and bw1.requires_grad and bw1.grad is None


@pytest.fixture
def cuda_module(monkeypatch):
    """`torch.cuda.is_available()` in the script needs `backprop.cuda`, which the GPU backend
    provides; where this build lacks it, stand in for a machine without a GPU."""
    try:
        importlib.import_module("backprop.cuda")
    except ImportError:
        stand_in = types.ModuleType("backprop.cuda")
        stand_in.is_available = lambda: False
        monkeypatch.setitem(sys.modules, "backprop.cuda", stand_in)


def test_lecture_mnist_script_runs_unchanged(tmp_path, monkeypatch, capsys, cuda_module):
    write_fake_mnist(tmp_path / ".cache" / "MNIST" / "raw", n_train=192, n_test=64)
    monkeypatch.setenv("HOME", str(tmp_path))
    bp.manual_seed(0)
    runpy.run_path(os.path.join(EXAMPLES, "mnist_mlp.py"), run_name="__main__")
    out = capsys.readouterr().out
    for epoch in range(5):
        assert f"Train Epoch: {epoch} [0/192 (0%)]\tLoss: " in out
    assert out.count("Test set: Average loss: ") == 5
    last = out.strip().splitlines()[-1]
    assert last.startswith("Test set: Average loss: ") and "Accuracy: " in last and "/64 (" in last


def test_check_my_layer_finds_the_minimal_counterexample_of_the_wrong_backward():
    example = load_example("check_my_layer")
    lines = []
    error = example.main(log=lines.append)
    out = "\n".join(lines)
    assert isinstance(error, bp.testing.GradientCheckError)
    assert "AffineWithBug: the gradient check FAILS." in out
    assert "the gradient of input 2 (shape (1,)) differs from float64 central differences" in out
    # the smallest input where mean and sum over the batch differ: two rows, one feature
    assert "Minimal counterexample: x (2, 1), w (1, 1), b (1,)" in out
    assert "Affine: the gradient check passes on every example drawn." in out
