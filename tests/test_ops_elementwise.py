"""Elementwise ops: forward against NumPy; backward against a NumPy-written vjp and against
float64 central differences; shapes, broadcasting and values drawn by hypothesis."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop as bp
from conftest import assert_close, bp_forward64, central_difference_vjp, on, to_np
from op_table import BINARY, UNARY


def _away_from(x, points, gap):
    for p in points:
        near = np.abs(x - p) < gap
        x = np.where(near, p + 2 * gap * np.where(x >= p, 1, -1), x)
    return x


def _draw(data, shape, op):
    x = data.draw(hnp.arrays(np.float64, shape, elements=st.floats(op.low, op.high, allow_subnormal=False)))
    return _away_from(x, op.kinks, op.gap) if op.gap and op.arity == 1 else x


def _dtypes(device):
    return ["float32"] if device == "gpu" else ["float32", "float64"]


def _check(op, arrays, device, data):
    expected = op.np_fn(*arrays)
    upstream = data.draw(hnp.arrays(np.float64, np.shape(expected), elements=st.floats(-2, 2)))
    for dtype in _dtypes(device):
        tol = dict(rtol=op.rtol, atol=op.atol) if dtype == "float32" else dict(rtol=1e-9, atol=1e-10)
        xs = [bp.tensor(a, dtype=getattr(bp, dtype), device=device, requires_grad=True) for a in arrays]
        y = op.bp_fn(*xs)
        assert y.dtype == getattr(bp, dtype)
        assert tuple(y.shape) == np.shape(expected)
        assert_close(y, expected, **tol, err_msg=f"{op.name} forward ({dtype})")
        y.backward(bp.tensor(upstream, dtype=getattr(bp, dtype), device=device))
        grads = [to_np(x.grad) for x in xs]
        for g, a in zip(grads, arrays):
            assert g.shape == a.shape
        if op.np_vjp is not None:
            want = [np.broadcast_to(w, np.shape(expected)) for w in op.np_vjp(upstream, *arrays, expected)]
            for i, (g, w, a) in enumerate(zip(grads, want, arrays)):
                w = _sum_to(np.asarray(w, dtype=np.float64), a.shape)
                np.testing.assert_allclose(g, w, rtol=max(tol["rtol"], 1e-4), atol=max(tol["atol"], 1e-5), err_msg=f"{op.name} vjp input {i} ({dtype})")
        if dtype == "float64":
            numeric = central_difference_vjp(bp_forward64(op.bp_fn), [a.copy() for a in arrays], upstream)
            for i, (g, n) in enumerate(zip(grads, numeric)):
                np.testing.assert_allclose(g, n, rtol=1e-5, atol=1e-6, err_msg=f"{op.name} central differences input {i}")


def _sum_to(g, shape):
    while g.ndim > len(shape):
        g = g.sum(0)
    for i, d in enumerate(shape):
        if d == 1 and g.shape[i] != 1:
            g = g.sum(i, keepdims=True)
    return g


@pytest.mark.parametrize("op", UNARY, ids=lambda o: o.name)
@given(data=st.data())
def test_unary(op, data, device):
    shape = data.draw(hnp.array_shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    _check(op, [_draw(data, shape, op)], device, data)


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.name)
@given(data=st.data())
def test_binary_broadcasting(op, data, device):
    shapes = data.draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, min_side=1, max_side=4))
    a = _draw(data, shapes.input_shapes[0], op)
    b = _draw(data, shapes.input_shapes[1], op)
    if op.gap:
        aa, bb = np.broadcast_arrays(a, b)
        assume(np.all(np.abs(aa - bb) > op.gap))  # ties are where the derivative jumps
    _check(op, [a, b], device, data)


def test_unary_ops_promote_ints_to_float():
    x = bp.tensor([1, 2, 3])
    assert x.dtype == bp.int64
    assert bp.exp(x).dtype == bp.float32
    assert (x / 2).dtype == bp.float32
    assert (x * 2).dtype == bp.int64
    assert (x * 2.5).dtype == bp.float32
    assert (x + bp.tensor([0.5], dtype=bp.float64)).dtype == bp.float64
    assert (bp.tensor([1.0]) + bp.tensor(2.0, dtype=bp.float64)).dtype == bp.float32
    assert (bp.tensor([True, False]) + 1).dtype == bp.int64


def test_comparisons_return_bool_and_record_nothing():
    x = bp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    m = x > 1.5
    assert m.dtype == bp.bool and not m.requires_grad
    assert m.tolist() == [False, True, True]
    assert (x == 2.0).tolist() == [False, True, False]
    assert ((x > 1.5) & (x < 2.5)).tolist() == [False, True, False]
    assert (~m).tolist() == [True, False, False]


def test_where_routes_gradients_to_the_chosen_branch():
    a = bp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    b = bp.tensor([10.0, 20.0, 30.0], requires_grad=True)
    out = bp.where(bp.tensor([True, False, True]), a, b)
    out.backward(bp.tensor([1.0, 2.0, 3.0]))
    assert out.tolist() == [1.0, 20.0, 3.0]
    assert a.grad.tolist() == [1.0, 0.0, 3.0]
    assert b.grad.tolist() == [0.0, 2.0, 0.0]


def test_maximum_splits_ties_and_routes_otherwise():
    a = bp.tensor([1.0, 5.0, 2.0], requires_grad=True)
    b = bp.tensor([3.0, 5.0, 1.0], requires_grad=True)
    bp.maximum(a, b).sum().backward()
    assert a.grad.tolist() == [0.0, 0.5, 1.0]
    assert b.grad.tolist() == [1.0, 0.5, 0.0]


def test_large_elementwise_matches_numpy(device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((300, 257)).astype(np.float32)
    b = rng.standard_normal((257,)).astype(np.float32)
    x, y = on(device, a), on(device, b)
    assert_close(x * y + bp.tanh(x), a * b + np.tanh(a), rtol=1e-5, atol=1e-5)
    assert_close(x.T * 2.0, a.T * 2.0)


def test_integer_and_bool_arithmetic():
    x = bp.tensor([7, -7, 7, -7])
    y = bp.tensor([2, 2, -2, -2])
    assert (x // y).tolist() == (np.array([7, -7, 7, -7]) // np.array([2, 2, -2, -2])).tolist()
    assert (x % y).tolist() == (np.array([7, -7, 7, -7]) % np.array([2, 2, -2, -2])).tolist()
    assert (x * y).tolist() == [14, -14, -14, 14]
    with pytest.raises(ValueError, match="division by zero"):
        _ = x // bp.tensor([0, 1, 1, 1])


def test_elu_keeps_relative_precision_near_zero(device):
    x = on(device, [-1e-8, -1e-5, -0.5])
    want = 1.5 * np.expm1(np.array([-1e-8, -1e-5, -0.5]))
    np.testing.assert_allclose(to_np(bp.nn.functional.elu(x, 1.5)), want, rtol=1e-6)


def test_nan_propagates_through_max_and_relu():
    x = bp.tensor([1.0, float("nan"), 2.0])
    assert np.isnan(x.max().item())
    assert np.isnan(bp.relu(x)[1].item())
