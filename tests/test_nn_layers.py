"""Layers against NumPy: Linear (and its PyTorch-default initialisation), activations,
Flatten/Identity, Dropout statistics, Maxout's forward and gradient routing."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from conftest import assert_close, to_np


def test_linear_forward_and_backward_match_numpy(device):
    lin = nn.Linear(5, 3).to(device)
    x = np.random.default_rng(0).standard_normal((4, 5)).astype(np.float32)
    xt = bp.tensor(x, device=device, requires_grad=True)
    y = lin(xt)
    w, b = to_np(lin.weight), to_np(lin.bias)
    assert_close(y, x @ w.T + b, rtol=1e-5, atol=1e-5)
    g = np.random.default_rng(1).standard_normal((4, 3)).astype(np.float32)
    y.backward(bp.tensor(g, device=device))
    assert_close(lin.weight.grad, g.T @ x, rtol=1e-5, atol=1e-5)
    assert_close(lin.bias.grad, g.sum(0), rtol=1e-5, atol=1e-5)
    assert_close(xt.grad, g @ w, rtol=1e-5, atol=1e-5)


def test_linear_takes_leading_batch_dims_and_no_bias():
    lin = nn.Linear(4, 2, bias=False)
    x = bp.randn(3, 5, 4)
    assert_close(lin(x), to_np(x) @ to_np(lin.weight).T, rtol=1e-5, atol=1e-6)
    with pytest.raises(bp.ShapeError, match="linear"):
        lin(bp.randn(3, 5))


def test_linear_default_init_is_pytorchs_uniform_bound():
    bp.manual_seed(0)
    lin = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)
    w, b = to_np(lin.weight), to_np(lin.bias)
    assert np.abs(w).max() <= bound and np.abs(b).max() <= bound
    # U(-a, a) has standard deviation a / sqrt(3); 120,000 samples pin it to well under 1%.
    assert abs(w.std() - bound / math.sqrt(3)) < 0.01 * bound
    assert abs(w.mean()) < 0.01 * bound
    assert abs(b.std() - bound / math.sqrt(3)) < 0.1 * bound


ACTIVATIONS = [
    (nn.ReLU(), lambda x: np.maximum(x, 0)),
    (nn.Sigmoid(), lambda x: 1 / (1 + np.exp(-x))),
    (nn.Tanh(), np.tanh),
    (nn.LeakyReLU(0.1), lambda x: np.where(x > 0, x, 0.1 * x)),
    (nn.ELU(0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1))),
    (nn.GELU(), lambda x: 0.5 * x * (1 + np.vectorize(math.erf)(x / math.sqrt(2)))),
    (nn.Softmax(dim=1), lambda x: np.exp(x) / np.exp(x).sum(1, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda x: x - np.log(np.exp(x).sum(1, keepdims=True))),
    (nn.Identity(), lambda x: x),
]


@pytest.mark.parametrize("module,reference", ACTIVATIONS, ids=lambda v: type(v).__name__)
def test_activations_match_numpy(module, reference, device):
    x = np.random.default_rng(2).standard_normal((6, 4)) * 3
    xt = bp.tensor(x, dtype=bp.float32, device=device, requires_grad=True)
    y = module(xt)
    assert_close(y, reference(x), rtol=1e-5, atol=1e-5)
    if device == "cpu":
        x64 = bp.tensor(x, dtype=bp.float64, requires_grad=True)
        assert bp.autograd.gradcheck(lambda t: module(t), (x64,))


def test_flatten_and_unflatten():
    x = bp.randn(2, 3, 4, 5)
    assert nn.Flatten()(x).shape == (2, 60)
    assert nn.Flatten(0, 2)(x).shape == (24, 5)
    assert nn.Unflatten(1, (2, 30))(nn.Flatten()(x)).shape == (2, 2, 30)


def test_dropout_statistics_in_train_mode(device):
    bp.manual_seed(3)
    p = 0.4
    drop = nn.Dropout(p)
    x = bp.ones(200, 500, device=device, requires_grad=True)
    y = drop(x)
    out = to_np(y)
    kept = out != 0
    # 100,000 Bernoulli(0.6) draws: the kept fraction is within 4 standard deviations of 0.6.
    sd = math.sqrt(p * (1 - p) / out.size)
    assert abs(kept.mean() - (1 - p)) < 4 * sd
    np.testing.assert_allclose(out[kept], 1 / (1 - p), rtol=1e-6)
    assert abs(out.mean() - 1.0) < 4 * sd / (1 - p)
    # Columns and rows are not correlated with the mask: each row keeps about 60% too.
    assert np.abs(kept.mean(1) - (1 - p)).max() < 0.1
    y.sum().backward()
    np.testing.assert_allclose(to_np(x.grad), out, rtol=1e-6)  # d(x * mask)/dx = mask


def test_dropout_is_the_identity_in_eval_mode_and_validates_p(device):
    drop = nn.Dropout(0.5).eval()
    x = bp.randn(50, 40, device=device)
    np.testing.assert_array_equal(to_np(drop(x)), to_np(x))
    assert not np.array_equal(to_np(drop.train()(x)), to_np(x))
    assert_close(nn.Dropout(0.0)(x), to_np(x))
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


def test_maxout_is_the_max_of_affine_pieces(device):
    bp.manual_seed(4)
    m = nn.Maxout(3, 4, pieces=2).to(device)
    x = np.random.default_rng(5).standard_normal((6, 3)).astype(np.float32)
    w, b = to_np(m.linear.weight), to_np(m.linear.bias)
    w1, w2, b1, b2 = w[:4], w[4:], b[:4], b[4:]
    want = np.maximum(x @ w1.T + b1, x @ w2.T + b2)
    xt = bp.tensor(x, device=device, requires_grad=True)
    y = m(xt)
    assert y.shape == (6, 4)
    assert_close(y, want, rtol=1e-5, atol=1e-5)
    # "max routes": each output's gradient reaches only the winning piece's weights.
    y.sum().backward()
    first_wins = (x @ w1.T + b1) > (x @ w2.T + b2)
    grad_w = to_np(m.linear.weight.grad)
    assert_close(grad_w[:4], first_wins.T.astype(np.float32) @ x, rtol=1e-5, atol=1e-5)
    assert_close(grad_w[4:], (~first_wins).T.astype(np.float32) @ x, rtol=1e-5, atol=1e-5)
    assert repr(m) == "Maxout(\n  in_features=3, out_features=4, pieces=2\n  (linear): Linear(in_features=3, out_features=8, bias=True)\n)"


def test_maxout_gradcheck():
    m = nn.Maxout(3, 2, pieces=3).double()
    x = bp.randn(4, 3, dtype=bp.float64, requires_grad=True)
    assert bp.autograd.gradcheck(lambda t: m(t), (x,))


def test_clip_grad_norm_scales_all_gradients_together():
    a, b = nn.Parameter(bp.zeros(3)), nn.Parameter(bp.zeros(2, 2))
    a.grad = bp.tensor([3.0, 0.0, 4.0])
    b.grad = bp.tensor([[0.0, 12.0], [0.0, 0.0]])
    total = nn.utils.clip_grad_norm_([a, b], max_norm=6.5)
    assert total.item() == pytest.approx(13.0)
    scale = 6.5 / (13.0 + 1e-6)
    assert_close(a.grad, np.array([3.0, 0.0, 4.0]) * scale, rtol=1e-6)
    assert_close(b.grad, np.array([[0.0, 12.0], [0.0, 0.0]]) * scale, rtol=1e-6)
    # Already small enough: unchanged.
    nn.utils.clip_grad_norm_([a, b], max_norm=100.0)
    assert_close(a.grad, np.array([3.0, 0.0, 4.0]) * scale, rtol=1e-6)
    inf = nn.utils.clip_grad_norm_([a, b], max_norm=1.0, norm_type="inf")
    assert inf.item() == pytest.approx(12.0 * scale, rel=1e-6)
    a.grad = bp.tensor([float("nan"), 0.0, 1.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)


def test_clip_grad_value_and_vector_round_trip():
    p = nn.Parameter(bp.zeros(4))
    p.grad = bp.tensor([-3.0, 0.5, 2.0, -0.1])
    nn.utils.clip_grad_value_([p], 1.0)
    assert_close(p.grad, [-1.0, 0.5, 1.0, -0.1])
    m = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert v.shape == (8,)
    nn.utils.vector_to_parameters(v * 2, m.parameters())
    assert_close(nn.utils.parameters_to_vector(m.parameters()), to_np(v) * 2)
