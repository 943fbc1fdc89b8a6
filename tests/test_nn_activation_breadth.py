"""Activation modules against PyTorch's formulas in NumPy, with central-difference gradients.
The elementwise primitives come from the op table (`F.silu` ...): their tests wait for it."""

import math
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.nn import functional as F
from conftest import assert_close, check_backward, on, to_np

RNG = np.random.default_rng(3)
X = RNG.standard_normal((4, 6)) * 2
X[0, 0] = 0.3  # away from kinks: central differences need a smooth neighbourhood
SELU_A, SELU_S = 1.6732632423543772, 1.0507009873554805


def softplus(x, beta=1.0, th=20.0):
    return np.where(beta * x > th, x, np.log1p(np.exp(beta * x)) / beta)


# Modules whose functional forms the op table provides: (name, module, reference)
TABLE = [
    ("silu", lambda: nn.SiLU(), lambda x: x / (1 + np.exp(-x))),
    ("mish", lambda: nn.Mish(), lambda x: x * np.tanh(np.log1p(np.exp(x)))),
    ("softplus", lambda: nn.Softplus(beta=2.0, threshold=5.0), lambda x: softplus(x, 2.0, 5.0)),
    ("selu", lambda: nn.SELU(), lambda x: SELU_S * np.where(x > 0, x, SELU_A * (np.exp(x) - 1))),
    ("celu", lambda: nn.CELU(alpha=0.7), lambda x: np.maximum(0, x) + np.minimum(0, 0.7 * (np.exp(x / 0.7) - 1))),
    ("hardtanh", lambda: nn.Hardtanh(-0.5, 1.5), lambda x: np.clip(x, -0.5, 1.5)),
    ("relu6", lambda: nn.ReLU6(), lambda x: np.clip(x, 0, 6)),
    ("hardsigmoid", lambda: nn.Hardsigmoid(), lambda x: np.clip(x + 3, 0, 6) / 6),
    ("hardswish", lambda: nn.Hardswish(), lambda x: x * np.clip(x + 3, 0, 6) / 6),
    ("softsign", lambda: nn.Softsign(), lambda x: x / (1 + np.abs(x))),
    ("logsigmoid", lambda: nn.LogSigmoid(), lambda x: -np.log1p(np.exp(-x))),
]


@pytest.mark.parametrize("name,make,reference", [pytest.param(*row, id=row[0]) for row in TABLE])
def test_op_table_activation_modules(name, make, reference):
    out = check_backward(make(), [X])
    np.testing.assert_allclose(out, reference(X), rtol=1e-10, atol=1e-12)


def test_gelu_tanh_approximation():
    ref = 0.5 * X * (1 + np.tanh(math.sqrt(2 / math.pi) * (X + 0.044715 * X**3)))
    out = check_backward(nn.GELU(approximate="tanh"), [X])
    np.testing.assert_allclose(out, ref, rtol=1e-10)


def test_gelu_module_exact_and_argument_check():
    from scipy.special import erf

    assert_close(nn.GELU()(bp.tensor(X)), 0.5 * X * (1 + erf(X / math.sqrt(2))), rtol=1e-6)
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    with pytest.raises(ValueError, match="approximate"):
        nn.GELU("fast")


COMPOSED = [
    ("hardshrink", lambda: nn.Hardshrink(0.7), lambda x: np.where(np.abs(x) > 0.7, x, 0)),
    ("softshrink", lambda: nn.Softshrink(0.7), lambda x: np.where(x > 0.7, x - 0.7, np.where(x < -0.7, x + 0.7, 0))),
    ("tanhshrink", lambda: nn.Tanhshrink(), lambda x: x - np.tanh(x)),
    ("threshold", lambda: nn.Threshold(0.2, -3.0), lambda x: np.where(x > 0.2, x, -3.0)),
    ("glu", lambda: nn.GLU(), lambda x: x[:, :3] / (1 + np.exp(-x[:, 3:]))),
    ("glu_dim0", lambda: nn.GLU(dim=0), lambda x: x[:2] / (1 + np.exp(-x[2:]))),
    ("softmin", lambda: nn.Softmin(dim=1), lambda x: np.exp(-x) / np.exp(-x).sum(1, keepdims=True)),
    ("rrelu_eval", lambda: nn.RReLU(0.1, 0.3).eval(), lambda x: np.where(x >= 0, x, 0.2 * x)),
]


@pytest.mark.parametrize("name,make,reference", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_composed_activation_modules(name, make, reference):
    out = check_backward(make(), [X])
    np.testing.assert_allclose(out, reference(X), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name,make,reference", COMPOSED, ids=[c[0] for c in COMPOSED])
def test_composed_activations_on_each_device(name, make, reference, device):
    assert_close(make()(on(device, X)), reference(X), rtol=1e-5, atol=1e-6)


def test_prelu_per_channel_and_shared():
    x = RNG.standard_normal((3, 4, 2))
    m = nn.PReLU(4, init=0.1).double()
    with bp.no_grad():
        m.weight.copy_(bp.tensor([0.1, 0.2, -0.3, 0.4]))
    a = to_np(m.weight)[:, None]
    out = check_backward(lambda t, w: F.prelu(t, w), [x, to_np(m.weight)])
    np.testing.assert_allclose(out, np.where(x > 0, x, a * x), rtol=1e-12)
    shared = nn.PReLU()
    assert_close(shared.weight, [0.25]) and repr(shared) == "PReLU(num_parameters=1)"
    assert_close(shared(bp.tensor([-2.0, 3.0])), [-0.5, 3.0])
    with pytest.raises(RuntimeError, match="mismatch"):
        m(bp.ones(2, 3))


def test_rrelu_training_slopes_lie_between_lower_and_upper():
    bp.manual_seed(0)
    x = -bp.ones(2000)
    y = to_np(nn.RReLU(0.1, 0.3)(x))
    assert y.min() >= -0.3 and y.max() <= -0.1 and abs(y.mean() + 0.2) < 0.01
    assert_close(nn.RReLU()(bp.tensor([2.0])), [2.0])


def test_softmax_without_dim_warns_and_infers_like_pytorch():
    x = bp.tensor(RNG.standard_normal((2, 3)))
    with pytest.warns(UserWarning, match="Implicit dimension choice for softmax"):
        y = nn.Softmax()(x)
    assert_close(y, to_np(F.softmax(x, 1)))
    with pytest.warns(UserWarning):
        y3 = nn.LogSoftmax()(bp.ones(2, 3, 4))
    assert_close(y3, np.full((2, 3, 4), -math.log(2)))  # dim 0 for 3-D input
    with pytest.warns(UserWarning, match="softmin"):
        nn.Softmin()(bp.ones(3))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nn.Softmax(dim=-1)(x)


@pytest.mark.parametrize("name", ["softmax", "log_softmax", "softmin"])
@pytest.mark.parametrize("shape, inferred", [((), 0), ((4,), 0), ((2, 3), 1), ((2, 3, 4), 0), ((2, 3, 2, 2), 1)])
def test_functional_softmax_without_dim_warns_and_infers_like_pytorch(name, shape, inferred):
    x = bp.tensor(RNG.standard_normal(shape))
    with pytest.warns(UserWarning, match=f"Implicit dimension choice for {name} has been deprecated") as record:
        y = getattr(F, name)(x)
    assert record[0].filename == __file__  # the warning points at the caller, as PyTorch's does
    assert_close(y, to_np(getattr(F, name)(x, inferred)), rtol=1e-6, atol=1e-7)


def test_functional_softmax_dtype_casts_first():
    x = bp.tensor([[1.0, 2.0], [3.0, 3.0]])
    y = F.softmax(x, dim=1, dtype=bp.float64)
    assert y.dtype == bp.float64
    assert_close(y[1], [0.5, 0.5])
    assert F.log_softmax(x, 0, dtype=bp.float64).dtype == bp.float64


def test_activation_errors_and_reprs():
    with pytest.raises(RuntimeError, match="Halving dimension must be even"):
        F.glu(bp.ones(2, 3))
    with pytest.raises(RuntimeError, match="lambda must be greater or equal to 0"):
        F.softshrink(bp.ones(2), -1.0)
    assert repr(nn.Hardshrink()) == "Hardshrink(0.5)"
    assert repr(nn.Threshold(0.1, 20)) == "Threshold(threshold=0.1, value=20)"
    assert repr(nn.GLU()) == "GLU(dim=-1)"
    assert repr(nn.RReLU()) == "RReLU(lower=0.125, upper=0.3333333333333333)"
    assert repr(nn.Softplus()) == "Softplus(beta=1.0, threshold=20.0)"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.SiLU()) == "SiLU()" and repr(nn.ReLU6()) == "ReLU6()"
    assert repr(nn.Softmin(1)) == "Softmin(dim=1)"
