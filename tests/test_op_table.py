"""The op table (rust/ops/table.rs): every row reaches Python, the GPU and viz, and the
numbers PyTorch gives at the edges (asked of torch 2.x and written down here)."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import _core
from conftest import to_np

F = bp.nn.functional
TABLE = _core._op_table()


def _rows(api):
    return [op["name"] for op in TABLE if op["api"] == api]


@pytest.mark.parametrize("name", _rows("method"))
def test_method_rows_are_functions_and_tensor_methods(name):
    assert getattr(bp, name) is getattr(_core, name)
    assert callable(getattr(bp.Tensor, name))


@pytest.mark.parametrize("name", _rows("function"))
def test_function_rows_are_in_nn_functional(name):
    assert getattr(F, name) is getattr(_core, name)


def test_codes_are_distinct_and_every_row_has_numpy_text():
    for arity in (1, 2):
        codes = [op["code"] for op in TABLE if op["arity"] == arity]
        assert len(set(codes)) == len(codes)
    for op in TABLE:
        assert len(op["numpy"]) >= 1 + op["arity"], op["name"]
        assert op["wgsl"] or op["class"] == "integer", op["name"]  # integer rows (shifts) have only wgsl_int
    libs = _core._wgsl_library("unary_ops.wgsl") + _core._wgsl_library("binary_ops.wgsl")
    for op in TABLE:
        assert f"const {op['name'].upper()}: u32 = {op['code']}u;" in libs


def test_softplus_is_one_primitive_with_pytorchs_values():
    x = bp.tensor([-100.0], requires_grad=True)
    y = F.softplus(x)
    assert y.grad_fn.name() == "SoftplusBackward0"  # one node, not a composite
    assert y.item() == pytest.approx(3.783505853677006e-44, rel=1e-6)  # torch.float32
    assert F.softplus(bp.tensor([-100.0], dtype=bp.float64)).item() == pytest.approx(3.720075976020836e-44, rel=1e-12)
    y.backward()
    assert x.grad.item() == pytest.approx(3.783505853677006e-44, rel=1e-6)
    got = F.softplus(bp.tensor([-1.0, 0.0, 5.0, 11.0]), beta=2.0, threshold=10.0).tolist()
    np.testing.assert_allclose(got, [0.06346400082111359, 0.3465735912322998, 5.000022888183594, 11.0], rtol=1e-6)


def test_log1p_and_expm1_keep_tiny_inputs():
    for dtype in (bp.float32, bp.float64):
        x = bp.tensor([1e-10, -3e-9, 1e-8], dtype=dtype)
        np.testing.assert_allclose(to_np(bp.log1p(x)), np.log1p(to_np(x).astype(np.float64)), rtol=1e-7)
        np.testing.assert_allclose(to_np(bp.expm1(x)), np.expm1(to_np(x).astype(np.float64)), rtol=1e-7)
    assert bp.log1p(bp.tensor([1e-10])).item() == pytest.approx(1.000000013351432e-10, rel=1e-7)  # torch


def test_stable_activations_at_large_inputs():
    np.testing.assert_allclose(F.logsigmoid(bp.tensor([-100.0, 0.0])).tolist(), [-100.0, -0.6931471824645996], rtol=1e-7)
    assert -5e-44 < F.logsigmoid(bp.tensor([100.0])).item() <= 0.0  # torch: -3.9e-44
    np.testing.assert_allclose(F.selu(bp.tensor([-1.0, 1.0])).tolist(), [-1.1113307476043701, 1.0507010221481323], rtol=1e-6)
    np.testing.assert_allclose(F.celu(bp.tensor([-1.0, 1.0]), alpha=2.0).tolist(), [-0.7869386672973633, 1.0], rtol=1e-6)
    np.testing.assert_allclose(
        F.gelu(bp.tensor([-1.0, 0.5, 3.0]), approximate="tanh").tolist(), [-0.15880799293518066, 0.3457140028476715, 2.9963626861572266], rtol=1e-6
    )
    np.testing.assert_allclose(F.mish(bp.tensor([-1.0, 0.5, 30.0])).tolist(), [-0.3034014403820038, 0.37524524331092834, 30.0], rtol=1e-6)
    np.testing.assert_allclose(F.silu(bp.tensor([-1.0, 0.5])).tolist(), [-0.2689414322376251, 0.3112296760082245], rtol=1e-6)
    with pytest.raises(ValueError, match="approximate must be"):
        F.gelu(bp.tensor([1.0]), approximate="fast")


def _grad(fn, values, upstream=None):
    x = bp.tensor(values, requires_grad=True)
    fn(x).backward(bp.ones(len(values)) if upstream is None else bp.tensor(upstream))
    return x.grad.tolist()


def test_gradients_at_the_kinks_follow_pytorch():
    assert _grad(F.hardswish, [-3.0, 3.0, 0.0]) == [0.0, 1.0, 0.5]
    assert _grad(F.hardsigmoid, [-3.0, 3.0, 0.0]) == pytest.approx([0.0, 0.0, 0.1666666716337204])
    assert _grad(F.hardtanh, [-1.0, 1.0, 0.0, 0.5]) == [0.0, 0.0, 1.0, 1.0]
    assert _grad(F.relu6, [0.0, 6.0, 3.0]) == [0.0, 0.0, 1.0]
    for name in ("floor", "ceil", "round", "trunc"):
        assert _grad(getattr(bp, name), [1.5, -0.3], [-2.0, math.inf]) == [0.0, 0.0], name
    assert _grad(bp.frac, [1.5, -0.3], [-2.0, math.inf]) == [-2.0, math.inf]
    # d/dx x ** 0.0 is 0, also at 0 (not 0 * inf)
    assert _grad(lambda x: x**0.0, [0.0, 1.0, -1.0]) == [0.0, 0.0, 0.0]
    assert _grad(lambda x: x**0.5, [0.0, 2.0]) == pytest.approx([math.inf, 0.3535533845424652])


def test_clamp_keeps_nan_like_pytorch():
    x = bp.tensor([math.nan, 1.0])
    out = x.clamp(-1, 0.5).tolist()
    assert math.isnan(out[0]) and out[1] == 0.5
    assert all(math.isnan(v) for v in bp.tensor([0.0, 2.0]).clamp(min=math.nan).tolist())
    assert all(math.isnan(v) for v in bp.tensor([0.0, 2.0]).clamp(max=math.nan).tolist())
    assert bp.tensor([0.0, 5.0, -5.0]).clamp(min=2.0, max=1.0).tolist() == [1.0, 1.0, 1.0]


def test_remainder_fmod_and_floor_divide_with_inf_and_signs():
    inf = math.inf
    a = bp.tensor([5.0, 5.0, -5.0, -5.0])
    b = bp.tensor([inf, -inf, inf, -inf])
    assert bp.remainder(a, b).tolist() == [5.0, -inf, inf, -5.0]
    assert bp.fmod(a, b).tolist() == [5.0, 5.0, -5.0, -5.0]
    assert (a // b).tolist() == [0.0, -1.0, -1.0, 0.0]
    assert bp.remainder(bp.tensor([-7.0, 7.0, -7.0, 7.0]), bp.tensor([2.0, -2.0, -2.0, 2.0])).tolist() == [1.0, -1.0, -1.0, 1.0]
    assert bp.fmod(bp.tensor([-7.0, 7.0, -7.0, 7.5]), bp.tensor([2.0, -2.0, -2.0, 2.0])).tolist() == [-1.0, 1.0, -1.0, 1.5]
    assert (bp.tensor([-7.0, 7.0, 1.0]) // bp.tensor([2.0, -2.0, 0.1])).tolist() == [-4.0, -4.0, 9.0]
    assert bp.remainder(bp.tensor([-7, 7, -7, 7]), bp.tensor([2, -2, -2, 2])).tolist() == [1, -1, -1, 1]
    assert bp.fmod(bp.tensor([-7, 7, -7, 7]), bp.tensor([2, -2, -2, 2])).tolist() == [-1, 1, -1, 1]
    assert bp.fmod(bp.tensor([5]), 2.5).dtype == bp.float32
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        bp.fmod(bp.tensor([5]), bp.tensor([0]))


def test_int64_min_divided_by_minus_one_wraps():
    m = bp.tensor([-(2**63)])
    assert (m // -1).tolist() == [-(2**63)]
    assert (m % -1).tolist() == [0]
    assert bp.fmod(m, -1).tolist() == [0]


def test_int_and_or_xor_are_bitwise_bool_stays_logical():
    a, b = bp.tensor([12, -3]), bp.tensor([10, 6])
    assert (a & b).tolist() == [8, 4] and (a & b).dtype == bp.int64
    assert (a | b).tolist() == [14, -1]
    assert (a ^ b).tolist() == [6, -5]
    assert (~a).tolist() == [-13, 2]
    assert bp.bitwise_and(a, 7).tolist() == [4, 5]
    t, f = bp.tensor([True, False]), bp.tensor([True, True])
    assert (t & f).tolist() == [True, False] and (t & f).dtype == bp.bool
    assert (~t).tolist() == [False, True] and bp.bitwise_not(t).tolist() == [False, True]
    with pytest.raises(TypeError, match="bitwise_and"):  # torch: NotImplementedError; `~`: TypeError
        bp.tensor([1.0]) & bp.tensor([2.0])


def test_rounding_and_int_results():
    assert bp.round(bp.tensor([0.5, 1.5, 2.5, -0.5, -2.5])).tolist() == [0.0, 2.0, 2.0, -0.0, -2.0]
    frac = bp.frac(bp.tensor([2.5, -2.5, math.inf])).tolist()
    assert frac[:2] == [0.5, -0.5] and math.isnan(frac[2])
    for name in ("floor", "ceil", "round", "trunc", "square"):
        assert getattr(bp, name)(bp.tensor([3, -2])).dtype == bp.int64, name
    assert bp.sign(bp.tensor([-3])).tolist() == [-1]
    assert bp.atan2(bp.tensor([1]), bp.tensor([2])).dtype == bp.float32
    got = bp.atan2(bp.tensor([1.0, -1.0, 0.0, 0.0]), bp.tensor([0.0, 0.0, -1.0, 0.0])).tolist()
    np.testing.assert_allclose(got, [1.5707963705062866, -1.5707963705062866, 3.1415927410125732, 0.0])


def test_new_ops_take_the_scalar_backward_path_with_the_same_bits():
    def grads(general):
        x = bp.tensor(0.7, requires_grad=True)
        y = bp.tensor(-1.3, requires_grad=True)
        out = F.softplus(x * y) + bp.atan2(x, y) + F.mish(y) + bp.asinh(x) * bp.fmod(y, 0.4) + F.hardswish(x)
        if general:
            out.register_hook(lambda g: None)
        out.backward()
        return x.grad.numpy().tobytes(), y.grad.numpy().tobytes()

    assert grads(False) == grads(True)


def test_higher_derivatives_of_new_ops():
    x = bp.tensor([0.3, -0.8], dtype=bp.float64, requires_grad=True)
    (g,) = bp.autograd.grad(F.silu(x).sum(), x, create_graph=True)
    (h,) = bp.autograd.grad(g.sum(), x)
    v = to_np(x.detach())
    s = 1 / (1 + np.exp(-v))
    np.testing.assert_allclose(to_np(h), s * (1 - s) * (2 + v * (1 - 2 * s)), rtol=1e-10)


def test_sign_of_nan_and_clamp_gradient_at_its_bounds_are_pytorchs(device):
    # torch 2.15: torch.sign(nan) == 0; x.clamp(-1, 1.5).sum().backward() on [-1, 0, 1.5, 2]
    # gives x.grad == [0, 1, 0, 0] (a bound itself is outside).
    s = bp.sign(bp.tensor([float("nan"), -0.0, 2.0, -3.0], device=device))
    assert s.tolist() == [0.0, 0.0, 1.0, -1.0]
    x = bp.tensor([-1.0, 0.0, 1.5, 2.0], device=device, requires_grad=True)
    x.clamp(-1.0, 1.5).sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0, 0.0]
