"""The arithmetic variants and the op table's newer rows at their edges: the numbers PyTorch
2.15 gives (asked of torch and written down here), dtype rules and error types. Forward and
gradients on random inputs are the rows of tests/op_table.py."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop.testing import check_gradients
from conftest import on, to_np

nan, inf = math.nan, math.inf


def _same(got, want):
    """Lists equal with NaN == NaN."""
    assert len(got) == len(want), (got, want)
    for g, w in zip(got, want):
        assert (math.isnan(g) and math.isnan(w)) or g == pytest.approx(w, rel=1e-6, abs=1e-30), (got, want)


def _grad(fn, *values, dtype=bp.float32):
    xs = [bp.tensor(v, dtype=dtype, requires_grad=True) for v in values]
    fn(*xs).sum().backward()
    return [x.grad.tolist() for x in xs]


def test_add_and_sub_with_alpha():
    assert bp.add(bp.tensor([1.0, 2.0]), bp.tensor([1.0, 1.0]), alpha=2.5).tolist() == [3.5, 4.5]
    assert bp.add(bp.tensor([1, 2]), bp.tensor([1, 1]), alpha=2).tolist() == [3, 4]
    assert bp.add(bp.tensor([1.0, 2.0]), 2, alpha=3).tolist() == [7.0, 8.0]
    assert bp.sub(bp.tensor([1.0, 2.0]), 3, alpha=2).tolist() == [-5.0, -4.0]
    assert bp.subtract(bp.tensor([1.0]), bp.tensor([1.0]), alpha=0.5).tolist() == [0.5]
    assert bp.add(bp.tensor([True]), bp.tensor([True]), alpha=2).tolist() == [True]
    with pytest.raises(RuntimeError, match="alpha must not be a floating point number"):
        bp.add(bp.tensor([1, 2]), bp.tensor([1, 1]), alpha=2.5)
    assert _grad(lambda a, b: (a * 1).add(b, alpha=3), [1.0], [1.0]) == [[1.0], [3.0]]
    assert bp.rsub(bp.tensor([1.0, 2.0]), bp.tensor([5.0, 5.0])).tolist() == [4.0, 3.0]
    assert bp.rsub(bp.tensor([1.0, 2.0]), 5, alpha=2).tolist() == [3.0, 1.0]


def test_div_rounding_modes(device):
    a, b = on(device, [-7.0, 7.0, -7.5]), on(device, [2.0, -2.0, 2.0])
    assert bp.div(a, b, rounding_mode="trunc").tolist() == [-3.0, -3.0, -3.0]
    assert bp.div(a, b, rounding_mode="floor").tolist() == [-4.0, -4.0, -4.0]
    assert a.divide(b, rounding_mode="floor").tolist() == [-4.0, -4.0, -4.0]
    ia, ib = on(device, [-7, 7]), on(device, [2, -2])
    t = bp.div(ia, ib, rounding_mode="trunc")
    assert t.tolist() == [-3, -3] and t.dtype == bp.int64
    f = bp.div(ia, ib, rounding_mode="floor")
    assert f.tolist() == [-4, -4] and f.dtype == bp.int64
    q = bp.div(ia, ib)
    assert q.tolist() == [-3.5, -3.5] and q.dtype == bp.float32
    assert bp.true_divide(on(device, [7]), on(device, [2])).tolist() == [3.5]
    assert bp.div(ia, 2.5, rounding_mode="trunc").tolist() == [-2.0, 2.0]
    z = bp.div(on(device, [-7.0, 7.0, 0.0]), on(device, [0.0, 0.0, 0.0]), rounding_mode="trunc").tolist()
    _same(z, [-inf, inf, nan])
    z = bp.div(on(device, [-7.0, 7.0, 0.0]), on(device, [0.0, 0.0, 0.0]), rounding_mode="floor").tolist()
    _same(z, [-inf, inf, nan])
    if device == "cpu":  # exactly Python's 1.0 // 0.1 (the shader's fmod is not exact here)
        assert bp.div(on(device, [1.0]), 0.1, rounding_mode="floor").tolist() == [9.0]
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        bp.div(ia, on(device, [0, 1]), rounding_mode="trunc")
    with pytest.raises(ValueError, match="rounding_mode to be one of None, 'trunc', or 'floor'"):
        bp.div(a, b, rounding_mode="round")


def test_rounded_division_has_a_zero_gradient_and_floor_divide_none():
    # torch: d/dx div(x, 2, rounding_mode=...) is 0; floor_divide has no derivative
    for mode in ("trunc", "floor"):
        assert _grad(lambda x: bp.div(x, 2.0, rounding_mode=mode), [1.5]) == [[0.0]]
    x = bp.tensor([1.5], requires_grad=True)
    with pytest.raises(RuntimeError, match="floor_divide"):
        bp.floor_divide(x, 2.0).sum().backward()


def test_lerp_addcmul_addcdiv():
    assert bp.lerp(bp.tensor([1.0, 2.0]), bp.tensor([3.0, 10.0]), 0.75).tolist() == [2.5, 8.0]
    got = bp.lerp(bp.tensor([1.0, 2.0]), bp.tensor([3.0, 10.0]), bp.tensor([0.25, 0.9])).tolist()
    assert got == pytest.approx([1.5, 9.199999809265137], rel=1e-7)
    assert bp.lerp(bp.tensor([1.0, 2.0]), bp.tensor([[3.0], [10.0]]), 0.5).tolist() == [[2.0, 2.5], [5.5, 6.0]]
    assert bp.lerp(bp.tensor([1.0]), bp.tensor([3.0]), 1.0).tolist() == [3.0]  # end exactly
    with pytest.raises(bp.DTypeError, match="lerp"):
        bp.lerp(bp.tensor([1, 2]), bp.tensor([3, 10]), 0.5)
    with pytest.raises(bp.DTypeError, match="weight"):
        f64 = bp.float64
        bp.lerp(bp.tensor([1.0], dtype=f64), bp.tensor([3.0], dtype=f64), bp.tensor([0.25]))
    assert bp.addcmul(bp.tensor([1.0, 2.0]), bp.tensor([3.0, 4.0]), bp.tensor([5.0, 6.0]), value=0.5).tolist() == [8.5, 14.0]
    assert bp.addcmul(bp.tensor([1, 2]), bp.tensor([3, 4]), bp.tensor([5, 6]), value=2).tolist() == [31, 50]
    got = bp.addcdiv(bp.tensor([1.0, 2.0]), bp.tensor([3.0, 4.0]), bp.tensor([5.0, 6.0]), value=0.5).tolist()
    assert got == pytest.approx([1.2999999523162842, 2.3333332538604736], rel=1e-7)
    with pytest.raises(bp.DTypeError, match="integer division with addcdiv"):
        bp.addcdiv(bp.tensor([1, 2]), bp.tensor([3, 4]), bp.tensor([5, 6]))


@pytest.mark.parametrize(
    "fn",
    [
        lambda s, e, w: bp.lerp(s, e, w),
        lambda s, e, w: bp.addcmul(s, e, w, value=-1.5),
        lambda s, e, w: bp.addcdiv(s, e, w * w + 0.5, value=0.5),
    ],
    ids=["lerp", "addcmul", "addcdiv"],
)
def test_ternary_variants_gradients(fn, device):
    rng = np.random.default_rng(5)
    s, e = rng.uniform(-2, 2, (3, 4)), rng.uniform(-2, 2, (4,))
    w = rng.uniform(0.0, 1.0, (3, 1))  # both halves of lerp's formula
    check_gradients(fn, s, e, w, devices=(device,), rtol={"float32": 1e-3}, atol={"float32": 1e-4})


def test_hypot_logaddexp_xlogy_copysign_edges():
    _same(bp.hypot(bp.tensor([3.0, 0.0, inf, nan]), bp.tensor([4.0, 0.0, nan, inf])).tolist(), [5.0, 0.0, inf, inf])
    assert bp.hypot(bp.tensor([1e30]), bp.tensor([1e30])).item() == pytest.approx(1.4142135e30, rel=1e-6)
    _same(_grad(bp.hypot, [0.0], [0.0])[0], [nan])  # torch: nan at (0, 0)
    got = bp.logaddexp(bp.tensor([1.0, -inf, inf, 1000.0]), bp.tensor([2.0, -inf, inf, 1000.0])).tolist()
    _same(got, [2.3132617473602295, -inf, inf, 1000.6931762695312])
    _same(bp.logaddexp2(bp.tensor([1.0, -inf, inf]), bp.tensor([2.0, -inf, inf])).tolist(), [2.5849623680114746, -inf, inf])
    ga, gb = _grad(bp.logaddexp, [-inf, 1.0], [-inf, 1.0])
    _same(ga, [nan, 0.5])
    _same(gb, [nan, 0.5])
    got = bp.xlogy(bp.tensor([0.0, 0.0, 0.0, nan, 1.0, 2.0, 0.0]), bp.tensor([0.0, nan, -1.0, 0.0, nan, 3.0, inf])).tolist()
    _same(got, [0.0, nan, 0.0, nan, nan, 2.1972246170043945, 0.0])
    assert bp.xlogy(bp.tensor([0, 2]), bp.tensor([0, 3])).dtype == bp.float32
    ga, gb = _grad(bp.xlogy, [0.0, 0.0, 2.0, 0.0], [0.0, 2.0, 3.0, -1.0])
    _same(ga, [0.0, 0.6931471824645996, 1.0986123085021973, 0.0])
    _same(gb, [nan, 0.0, 0.6666666865348816, -0.0])
    _same(bp.copysign(bp.tensor([1.0, -2.0, 3.0, 0.0]), bp.tensor([-1.0, 1.0, -0.0, -1.0])).tolist(), [-1.0, 2.0, -3.0, -0.0])
    assert bp.copysign(bp.tensor([1, -2]), bp.tensor([-1, 1])).tolist() == [-1.0, 2.0]
    ga, gb = _grad(bp.copysign, [1.0, -2.0, 0.0, -0.0], [-1.0, -1.0, 1.0, -1.0])
    assert ga == [-1.0, 1.0, 0.0, 0.0] and gb == [0.0, 0.0, 0.0, 0.0]


def test_fmax_fmin_nan_rules_and_gradients():
    a, b = [1.0, nan, nan, 3.0], [nan, 2.0, nan, 1.0]
    _same(bp.fmax(bp.tensor(a), bp.tensor(b)).tolist(), [1.0, 2.0, nan, 3.0])
    _same(bp.fmin(bp.tensor(a), bp.tensor(b)).tolist(), [1.0, 2.0, nan, 1.0])
    assert bp.fmax(bp.tensor([1, 5]), bp.tensor([3, 2])).tolist() == [3, 5]
    ga, gb = _grad(bp.fmax, [1.0, nan, 2.0, 3.0], [nan, 2.0, 2.0, 1.0])
    assert ga == [1.0, 0.0, 0.5, 1.0] and gb == [0.0, 1.0, 0.5, 0.0]
    # both NaN: the whole gradient goes to the first operand (torch)
    ga, gb = _grad(bp.fmin, [nan, nan, 1.0], [nan, 1.0, nan])
    assert ga == [1.0, 0.0, 1.0] and gb == [0.0, 1.0, 0.0]


def test_unary_newcomers_at_their_edges():
    _same(bp.sinc(bp.tensor([0.0, 0.5, 1.0, 1e-20, inf, nan])).tolist(), [1.0, 0.6366197466850281, -2.7827534054836178e-08, 1.0, nan, nan])
    assert _grad(bp.sinc, [0.0, 0.5, 1.0])[0] == pytest.approx([0.0, -1.2732396125793457, -1.0], rel=1e-6)
    assert bp.sinc(bp.tensor([0, 1])).dtype == bp.float32
    _same(bp.logit(bp.tensor([0.0, 0.25, 0.5, 1.0, 1.5, -0.1])).tolist(), [-inf, -1.0986123085021973, 0.0, inf, nan, nan])
    got = bp.logit(bp.tensor([0.0, 0.25, 0.5, 1.0, 1.5, -0.1]), eps=0.1).tolist()
    assert got == pytest.approx([-2.1972246170043945, -1.0986123085021973, 0.0, 2.1972243785858154, 2.1972243785858154, -2.1972246170043945])
    assert bp.logit(bp.tensor([0.0, 0.25]), eps=0.9).tolist() == pytest.approx([2.1972243785858154] * 2)
    assert _grad(lambda x: bp.logit(x, eps=0.3), [0.0, 0.25, 0.3, 0.5, 0.7, 1.0])[0] == pytest.approx(
        [0.0, 0.0, 4.761904716491699, 4.0, 4.761904716491699, 0.0]
    )
    _same(bp.erfc(bp.tensor([0.0, 1.0, 10.0, -inf])).tolist(), [1.0, 0.15729920566082, 1.401298464324817e-45, 2.0])
    _same(
        bp.erfinv(bp.tensor([0.0, 0.5, -0.9, 1.0, -1.0, 1.5, 0.999999])).tolist(),
        [0.0, 0.4769362807273865, -1.1630871295928955, inf, -inf, nan, 3.4570746421813965],
    )
    got = bp.erfinv(bp.tensor([0.5, -0.9, 0.999999, 1e-10], dtype=bp.float64)).tolist()
    np.testing.assert_allclose(got, [0.4769362762044699, -1.1630871536766743, 3.458910737275499, 8.862269254527581e-11], rtol=1e-14)
    assert _grad(bp.erfinv, [0.0, 0.5, 1.0])[0] == pytest.approx([0.8862269520759583, 1.1125849485397339, inf])
    assert bp.exp2(bp.tensor([3])).tolist() == [8.0]
    assert bp.deg2rad(bp.tensor([180])).tolist() == pytest.approx([3.1415927410125732])
    assert bp.rad2deg(bp.tensor([3])).tolist() == pytest.approx([171.88734436035156])
    assert bp.sgn(bp.tensor([-2.0, 0.0, nan, 3.0])).tolist() == [-1.0, 0.0, 0.0, 1.0]
    assert bp.sgn(bp.tensor([-2, 0, 3])).tolist() == [-1, 0, 1]
    assert bp.acosh(bp.tensor([1.0, 2.0])).tolist() == pytest.approx([0.0, 1.3169578969248166])


def test_nextafter_ldexp_float_power():
    got = bp.nextafter(bp.tensor([1.0, 0.0, 1.0]), bp.tensor([2.0, -1.0, 1.0])).tolist()
    assert got == [1.0000001192092896, -1.401298464324817e-45, 1.0]
    got = bp.nextafter(bp.tensor([1.0, 0.0], dtype=bp.float64), bp.tensor([2.0, -1.0], dtype=bp.float64)).tolist()
    assert got == [1.0000000000000002, -5e-324]
    assert _grad(bp.nextafter, [1.0], [2.0]) == [[1.0], [0.0]]
    assert bp.ldexp(bp.tensor([1.0, 3.0]), bp.tensor([2, -1])).tolist() == [4.0, 1.5]
    assert bp.ldexp(bp.tensor([1, 3]), bp.tensor([2, -1])).dtype == bp.float32
    ga, gb = _grad(bp.ldexp, [1.0, 3.0], [2.0, -1.0])
    assert ga == [4.0, 0.5] and gb == pytest.approx([2.7725887298583984, 1.0397207736968994])
    p = bp.float_power(bp.tensor([2, 3]), bp.tensor([2, -1]))
    assert p.dtype == bp.float64 and p.tolist() == [4.0, 1 / 3]
    assert bp.float_power(bp.tensor([2.0, 3.0]), 2).tolist() == [4.0, 9.0]


def test_aliases_and_positive():
    x = bp.tensor([-1.5, 0.5])
    assert bp.positive(x) is x and (+x) is x
    with pytest.raises(TypeError, match="bool"):
        bp.positive(bp.tensor([True]))
    assert bp.negative(x).tolist() == [1.5, -0.5]
    assert bp.absolute(bp.tensor([-1])).tolist() == [1]
    assert bp.multiply(x, 2).tolist() == [-3.0, 1.0]
    assert bp.fix(x).tolist() == [-1.0, 0.0]
    assert bp.arctan2(x, bp.tensor([1.0, 1.0])).tolist() == bp.atan2(x, bp.tensor([1.0, 1.0])).tolist()
    for alias, name in [("arccos", "acos"), ("arcsin", "asin"), ("arctan", "atan"), ("arcsinh", "asinh"), ("arctanh", "atanh")]:
        assert getattr(bp, alias)(x * 0.5).tolist() == getattr(bp, name)(x * 0.5).tolist()
    assert bp.arccosh(bp.tensor([2.0])).tolist() == bp.acosh(bp.tensor([2.0])).tolist()


def test_shifts_follow_pytorch(device):
    a = on(device, [5, -5, 3])
    assert (a << 2).tolist() == [20, -20, 12]
    assert (a >> 1).tolist() == [2, -3, 1]
    assert (1 << on(device, [3])).tolist() == [8]  # torch: tensor([8])
    assert bp.bitwise_left_shift(a, on(device, [1, 2, 3])).tolist() == [10, -20, 24]
    assert bp.bitwise_right_shift(a, on(device, [1, 2, 3])).tolist() == [2, -2, 0]
    # a count < 0 or >= 64: 0 to the left, the sign fill to the right (torch 2.15)
    assert (on(device, [5]) << on(device, [-1])).tolist() == [0]
    assert (on(device, [-5, 5]) >> on(device, [-1, -1])).tolist() == [-1, 0]
    assert (on(device, [True]) << 1).tolist() == [2]
    with pytest.raises(TypeError, match="lshift|left_shift"):
        on(device, [1.0]) << 1
    with pytest.raises(bp.DTypeError, match="left_shift"):
        on(device, [True]) << on(device, [True])


def test_cpu_shift_by_large_counts():
    assert (bp.tensor([5]) >> bp.tensor([70])).tolist() == [0]
    assert (bp.tensor([5]) << bp.tensor([64])).tolist() == [0]
    assert (bp.tensor([-5]) >> bp.tensor([64])).tolist() == [-1]
    assert (bp.tensor([1]) << bp.tensor([62])).tolist() == [2**62]


def test_bitwise_ops_refuse_floats_with_a_type_error():
    with pytest.raises(TypeError, match="bitwise_and"):
        bp.tensor([1.0]) & bp.tensor([2.0])
    with pytest.raises(TypeError, match="bitwise_not"):
        ~bp.tensor([1.0])
    assert (bp.tensor([True]) & 1).tolist() == [1]
    assert (bp.tensor([3]) & True).tolist() == [1]
