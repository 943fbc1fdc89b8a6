"""Elementwise ops: forward against NumPy; backward against a NumPy-written vjp and against
float64 central differences; shapes, broadcasting and values drawn by hypothesis."""

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop as bp
from backprop.testing import check_gradients
from backprop.testing.strategies import arrays, away_from, broadcastable_shapes, floats, shapes
from conftest import assert_close, on, to_np
from op_table import BINARY, UNARY


def _elements(op):
    """The row's input domain, kept `gap` away from its kinks (unary ops; binary ops keep
    away from ties instead)."""
    if op.gap and op.arity == 1:
        return away_from(op.kinks, op.gap, low=op.low, high=op.high)
    return floats(op.low, op.high)


def _check(op, inputs, device, data):
    """The row through backprop.testing: forward against its NumPy function, backward against
    its NumPy vjp (when it has one) and float64 central differences, in float32 and (on the
    CPU) float64."""
    expected = op.np_fn(*inputs)
    upstream = data.draw(hnp.arrays(np.float64, np.shape(expected), elements=st.floats(-2, 2)))
    numpy_vjp = None if op.np_vjp is None else (lambda g, *xs: op.np_vjp(g, *xs, op.np_fn(*xs)))
    check_gradients(
        op.bp_fn,
        *inputs,
        numpy_fn=op.np_fn,
        numpy_vjp=numpy_vjp,
        upstream=upstream,
        devices=(device,),
        dtypes=("float32", "float64"),
        forward_rtol={"float32": op.rtol, "float64": 1e-9},
        forward_atol={"float32": op.atol, "float64": 1e-10},
        rtol={"float32": op.rtol, "float64": 1e-5},
        atol={"float32": op.atol, "float64": 1e-6},
    )
    for dtype in (bp.float32, bp.float64) if device == "cpu" else (bp.float32,):
        assert op.bp_fn(*[bp.tensor(a, dtype=dtype, device=device) for a in inputs]).dtype == dtype


@pytest.mark.parametrize("op", UNARY, ids=lambda o: o.name)
@given(data=st.data())
def test_unary(op, data, device):
    shape = data.draw(shapes(min_dims=0, max_dims=3, min_side=1, max_side=4))
    _check(op, [data.draw(arrays(shape=shape, elements=_elements(op)))], device, data)


@pytest.mark.parametrize("op", BINARY, ids=lambda o: o.name)
@given(data=st.data())
def test_binary_broadcasting(op, data, device):
    shape_a, shape_b = data.draw(broadcastable_shapes(2, min_dims=0, max_dims=3, min_side=1, max_side=4))
    a = data.draw(arrays(shape=shape_a, elements=_elements(op)))
    b = data.draw(arrays(shape=shape_b, elements=_elements(op)))
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
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        _ = x // bp.tensor([0, 1, 1, 1])


def test_elu_keeps_relative_precision_near_zero(device):
    x = on(device, [-1e-8, -1e-5, -0.5])
    want = 1.5 * np.expm1(np.array([-1e-8, -1e-5, -0.5]))
    np.testing.assert_allclose(to_np(bp.nn.functional.elu(x, 1.5)), want, rtol=1e-6)


def test_nan_propagates_through_max_and_relu():
    x = bp.tensor([1.0, float("nan"), 2.0])
    assert np.isnan(x.max().item())
    assert np.isnan(bp.relu(x)[1].item())
