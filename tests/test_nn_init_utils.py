"""nn.init (trunc_normal_, orthogonal_, sparse_, calculate_gain) and nn.utils (clipping,
total norms, parameter vectors, parametrizations, weight and spectral norm, Linear+BN fusion)."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.nn.utils import parametrize
from conftest import assert_close, to_np


def test_trunc_normal_stays_in_bounds_with_the_truncated_moments():
    bp.manual_seed(0)
    t = nn.init.trunc_normal_(bp.empty(200000), mean=0.5, std=2.0, a=-1.0, b=3.0)
    v = to_np(t)
    assert v.min() >= -1.0 and v.max() <= 3.0
    # Truncated normal on [a, b]: mean = mu + sigma (phi(al) - phi(be)) / Z.
    al, be = (-1.0 - 0.5) / 2.0, (3.0 - 0.5) / 2.0
    phi = lambda z: math.exp(-z * z / 2) / math.sqrt(2 * math.pi)  # noqa: E731
    cdf = lambda z: 0.5 * (1 + math.erf(z / math.sqrt(2)))  # noqa: E731
    z = cdf(be) - cdf(al)
    mean = 0.5 + 2.0 * (phi(al) - phi(be)) / z
    var = 4.0 * (1 + (al * phi(al) - be * phi(be)) / z - ((phi(al) - phi(be)) / z) ** 2)
    assert abs(v.mean() - mean) < 0.01 and abs(v.var() - var) < 0.02


def test_trunc_normal_erfinv_is_accurate():
    from scipy.special import erfinv

    from backprop.nn.init import _erfinv

    x = np.linspace(-0.999999, 0.999999, 1001)
    assert_close(_erfinv(bp.tensor(x)), erfinv(x), rtol=2e-6, atol=1e-6)


@pytest.mark.parametrize("shape", [(3, 5), (5, 3), (4, 2, 3)])
def test_orthogonal_gives_orthonormal_rows_or_columns(shape):
    bp.manual_seed(1)
    w = to_np(nn.init.orthogonal_(bp.empty(*shape), gain=2.0)).reshape(shape[0], -1)
    rows, cols = w.shape
    gram = w @ w.T if rows <= cols else w.T @ w
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(rows, cols)), atol=1e-5)
    with pytest.raises(ValueError, match="2 or more dimensions"):
        nn.init.orthogonal_(bp.empty(3))


def test_sparse_zeroes_a_fraction_of_each_column():
    bp.manual_seed(2)
    w = to_np(nn.init.sparse_(bp.empty(10, 6), sparsity=0.3, std=0.5))
    assert ((w == 0).sum(0) == 3).all()
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.sparse_(bp.empty(2, 2, 2), 0.5)


def test_calculate_gain_table():
    g = nn.init.calculate_gain
    for name in ["linear", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d", "conv_transpose3d", "sigmoid"]:
        assert g(name) == 1
    assert g("tanh") == 5 / 3 and g("relu") == math.sqrt(2) and g("selu") == 0.75
    assert g("leaky_relu") == math.sqrt(2 / (1 + 0.01**2)) and g("leaky_relu", 0.2) == math.sqrt(2 / 1.04)
    with pytest.raises(ValueError):
        g("swish")
    with pytest.raises(ValueError):
        g("leaky_relu", True)


def test_clip_grad_norm_get_total_norm_and_clip_grads_with_norm():
    a, b = nn.Parameter(bp.zeros(3)), nn.Parameter(bp.zeros(2))
    a.grad, b.grad = bp.tensor([3.0, 0.0, 4.0]), bp.tensor([0.0, 12.0])
    assert_close(nn.utils.get_total_norm([a.grad, b.grad]), 13.0)
    assert_close(nn.utils.get_total_norm([a.grad, b.grad], norm_type=1), 19.0)
    assert_close(nn.utils.get_total_norm([a.grad, b.grad], norm_type=math.inf), 12.0)
    total = nn.utils.clip_grad_norm_([a, b], max_norm=1.3, foreach=True)
    assert_close(total, 13.0)
    assert_close(a.grad, np.array([3.0, 0.0, 4.0]) * 1.3 / (13 + 1e-6), rtol=1e-6)
    nn.utils.clip_grads_with_norm_([a, b], 100.0, bp.tensor(1.0))  # coefficient clamps at 1
    assert_close(a.grad, np.array([3.0, 0.0, 4.0]) * 1.3 / (13 + 1e-6), rtol=1e-6)
    a.grad = bp.tensor([math.nan, 0.0, 0.0])
    with pytest.raises(RuntimeError, match="non-finite"):
        nn.utils.clip_grad_norm_([a], 1.0, error_if_nonfinite=True)
    assert_close(nn.utils.get_total_norm([]), 0.0)


def test_clip_grad_norm_on_the_gpu(device):
    p = nn.Parameter(bp.zeros(2).to(device))
    p.grad = bp.tensor([6.0, 8.0]).to(device)
    total = nn.utils.clip_grad_norm_(p, 5.0)
    assert total.device.type == device
    assert_close(p.grad, [3.0, 4.0], rtol=1e-5)


def test_parameters_vector_round_trip():
    m = nn.Linear(3, 2)
    v = nn.utils.parameters_to_vector(m.parameters())
    assert tuple(v.shape) == (8,)
    nn.utils.vector_to_parameters(v * 0 + 1, m.parameters())
    assert_close(m.weight, np.ones((2, 3)))
    with pytest.raises(ValueError, match="elements"):
        nn.utils.vector_to_parameters(bp.ones(3), m.parameters())


class Scale(nn.Module):
    def forward(self, x):
        return x * 2

    def right_inverse(self, x):
        return x / 2


def test_register_parametrization_and_remove():
    m = nn.Linear(3, 3)
    w0 = to_np(m.weight).copy()  # to_np shares the parameter's memory
    parametrize.register_parametrization(m, "weight", Scale())
    assert parametrize.is_parametrized(m) and parametrize.is_parametrized(m, "weight")
    assert type(m).__name__ == "ParametrizedLinear" and parametrize.type_before_parametrizations(m) is nn.Linear
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original"]
    assert_close(m.parametrizations.weight.original, w0 / 2, rtol=1e-6)
    assert_close(m.weight, w0, rtol=1e-6)
    m(bp.ones(1, 3)).sum().backward()
    assert_close(m.parametrizations.weight.original.grad, 2 * np.ones((3, 3)))
    m.weight = bp.ones(3, 3)  # goes through right_inverse
    assert_close(m.parametrizations.weight.original, np.full((3, 3), 0.5))
    with parametrize.cached():
        assert m.weight is m.weight
    parametrize.remove_parametrizations(m, "weight")
    assert type(m) is nn.Linear and isinstance(m.weight, nn.Parameter)
    assert_close(m.weight, np.ones((3, 3)))
    assert list(m.state_dict()) == ["bias", "weight"]  # re-registered last, as in PyTorch


def test_parametrization_chains_and_checks_shapes():
    m = nn.Linear(2, 2)

    class Double(nn.Module):
        def forward(self, x):
            return x * 2

    class Flat(nn.Module):
        def forward(self, x):
            return x.reshape(-1)

    parametrize.register_parametrization(m, "weight", Double())
    parametrize.register_parametrization(m, "weight", Double())
    assert_close(m.weight, 4 * to_np(m.parametrizations.weight.original), rtol=1e-6)
    with pytest.raises(ValueError, match="shape or dtype"):
        parametrize.register_parametrization(nn.Linear(2, 2), "weight", Flat())
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(m, "nothing", Double())
    parametrize.remove_parametrizations(m, "weight", leave_parametrized=False)
    assert type(m) is nn.Linear


def test_weight_norm_parametrization():
    m = nn.Linear(3, 2)
    w = to_np(m.weight).copy()
    nn.utils.parametrizations.weight_norm(m)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original0", "parametrizations.weight.original1"]
    g = to_np(m.parametrizations.weight.original0)
    assert g.shape == (2, 1)
    np.testing.assert_allclose(g[:, 0], np.linalg.norm(w, axis=1), rtol=1e-6)
    assert_close(m.weight, w, rtol=1e-5)
    with bp.no_grad():
        m.parametrizations.weight.original0.mul_(2.0)
    assert_close(m.weight, 2 * w, rtol=1e-5)
    m(bp.ones(1, 3)).sum().backward()
    assert m.parametrizations.weight.original1.grad is not None
    whole = nn.utils.parametrizations.weight_norm(nn.Linear(3, 2), dim=None)
    assert tuple(whole.parametrizations.weight.original0.shape) == ()


def test_spectral_norm_parametrization_divides_by_the_largest_singular_value():
    bp.manual_seed(4)
    m = nn.Linear(5, 4)
    w = to_np(m.weight).astype(np.float64)
    nn.utils.parametrizations.spectral_norm(m)
    assert list(m.state_dict()) == ["bias", "parametrizations.weight.original", "parametrizations.weight.0._u", "parametrizations.weight.0._v"]
    for _ in range(30):
        wn = to_np(m.weight)
    sigma = np.linalg.svd(w, compute_uv=False)[0]
    np.testing.assert_allclose(wn, w / sigma, rtol=1e-4, atol=1e-5)
    m.eval()
    assert_close(m.weight, wn, rtol=1e-6)
    assert repr(m).startswith("ParametrizedLinear(")


def test_fuse_linear_bn_eval_matches_the_pair():
    bp.manual_seed(5)
    lin, bn = nn.Linear(3, 4), nn.BatchNorm1d(4)
    for _ in range(3):
        bn(lin(bp.randn(8, 3)))
    with bp.no_grad():
        bn.weight.copy_(bp.randn(4))
        bn.bias.copy_(bp.randn(4))
    lin.eval(), bn.eval()
    fused = nn.utils.fuse_linear_bn_eval(lin, bn)
    x = bp.randn(5, 3)
    assert_close(fused(x), to_np(bn(lin(x))), rtol=1e-5, atol=1e-6)
    assert fused is not lin
    with pytest.raises(AssertionError, match="eval"):
        nn.utils.fuse_linear_bn_eval(nn.Linear(3, 4), bn)
