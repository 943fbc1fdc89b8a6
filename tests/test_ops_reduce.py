"""Reductions over any axes, with keepdim: forward vs NumPy, backward vs NumPy's vjp and
float64 central differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop as bp
from backprop.testing.strategies import axes, shapes
from conftest import assert_close, check_backward, on, to_np


@st.composite
def array_and_axes(draw, min_dims=1):
    shape = draw(shapes(min_dims=min_dims, max_dims=4, min_side=1, max_side=4).filter(lambda s: np.prod(s) <= 100))
    # distinct values at least 0.05 apart: max/min have a unique winner, far from ties
    a = draw(hnp.arrays(np.float64, shape, elements=st.integers(-60, 60).map(lambda i: i / 20), unique=True))
    dims = draw(axes(len(shape)))
    keepdim = draw(st.booleans())
    return a, dims or None, keepdim


def _np_axes(axes):
    return None if axes is None else tuple(axes)


@given(case=array_and_axes())
def test_sum_and_mean(case, device):
    a, axes, keepdim = case
    x = bp.tensor(a, dtype=bp.float32, device=device)
    assert_close(x.sum(dim=axes, keepdim=keepdim), a.sum(axis=_np_axes(axes), keepdims=keepdim), rtol=1e-5, atol=1e-5)
    assert_close(x.mean(dim=axes, keepdim=keepdim), a.mean(axis=_np_axes(axes), keepdims=keepdim), rtol=1e-5, atol=1e-5)
    check_backward(lambda t: t.sum(dim=axes, keepdim=keepdim), [a], device=device)
    check_backward(lambda t: t.mean(dim=axes, keepdim=keepdim), [a], device=device)


@given(case=array_and_axes())
def test_amax_amin_and_var(case, device):
    a, axes, keepdim = case
    x = bp.tensor(a, dtype=bp.float32, device=device)
    assert_close(x.amax(dim=axes, keepdim=keepdim), a.max(axis=_np_axes(axes), keepdims=keepdim))
    assert_close(x.amin(dim=axes, keepdim=keepdim), a.min(axis=_np_axes(axes), keepdims=keepdim))
    n = a.size if axes is None else int(np.prod([a.shape[d] for d in axes]))
    if n > 1:
        assert_close(x.var(dim=axes, keepdim=keepdim), a.var(axis=_np_axes(axes), keepdims=keepdim, ddof=1), rtol=1e-4, atol=1e-5)
        assert_close(x.std(dim=axes, keepdim=keepdim), a.std(axis=_np_axes(axes), keepdims=keepdim, ddof=1), rtol=1e-4, atol=1e-5)
        check_backward(lambda t: t.var(dim=axes, keepdim=keepdim), [a], device=device)
    # values are unique, so the max is a single element and the derivative exists
    check_backward(lambda t: t.amax(dim=axes, keepdim=keepdim), [a], device=device)


@given(case=array_and_axes())
def test_max_along_dim_routes_the_gradient(case, device):
    a, _, keepdim = case
    dim = -1
    x = bp.tensor(a, dtype=bp.float32, device=device, requires_grad=True)
    values, indices = x.max(dim=dim, keepdim=keepdim)
    assert_close(values, a.max(axis=dim, keepdims=keepdim))
    assert to_np(indices).tolist() == a.argmax(axis=dim).reshape(to_np(indices).shape).tolist()
    g = np.random.default_rng(1).standard_normal(values.shape)
    values.backward(on(device, g))
    want = np.zeros_like(a)
    idx = np.expand_dims(a.argmax(axis=dim), dim)
    np.put_along_axis(want, idx, g.reshape(idx.shape), axis=dim)
    assert_close(x.grad, want)
    mins, _ = on(device, a).min(dim=0)
    assert_close(mins, a.min(axis=0))


@given(case=array_and_axes(min_dims=1))
def test_argmax_argmin(case, device):
    a, _, keepdim = case
    x = on(device, a)
    assert x.argmax().item() == a.argmax()
    assert to_np(x.argmax(dim=0, keepdim=keepdim)).tolist() == a.argmax(axis=0, keepdims=keepdim).tolist()
    assert to_np(x.argmin(dim=-1)).tolist() == a.argmin(axis=-1).tolist()
    assert x.argmax(dim=0).dtype == bp.int64


@given(case=array_and_axes())
def test_logsumexp(case, device):
    a, axes, keepdim = case
    axes = axes or (0,)
    x = bp.tensor(a, dtype=bp.float32, device=device)
    want = np.log(np.exp(a).sum(axis=axes, keepdims=keepdim))
    assert_close(x.logsumexp(dim=axes, keepdim=keepdim), want, rtol=1e-5, atol=1e-5)
    check_backward(lambda t: t.logsumexp(dim=axes, keepdim=keepdim), [a], device=device)


def test_logsumexp_is_stable_for_large_values():
    x = bp.tensor([1000.0, 1000.0])
    assert abs(x.logsumexp(dim=0).item() - (1000 + np.log(2))) < 1e-3
    y = bp.tensor([-float("inf"), -float("inf")])
    assert y.logsumexp(dim=0).item() == -float("inf")


def test_full_max_spreads_gradient_over_ties():
    x = bp.tensor([1.0, 3.0, 3.0, 2.0], requires_grad=True)
    x.max().backward()
    assert x.grad.tolist() == [0.0, 0.5, 0.5, 0.0]


def test_sum_of_bool_and_int_counts_in_int64():
    assert bp.tensor([True, False, True]).sum().item() == 2
    assert bp.tensor([True, False, True]).sum().dtype == bp.int64
    assert bp.tensor([1, 2, 3]).sum().item() == 6


def test_reduction_errors():
    x = bp.zeros(2, 3)
    with pytest.raises(IndexError, match="out of range"):
        x.sum(dim=2)
    with pytest.raises(ValueError, match="more than once"):
        x.sum(dim=(0, 0))
    with pytest.raises(ValueError, match="empty"):
        bp.zeros(0).max()
    with pytest.raises(bp.DTypeError, match="mean"):
        bp.tensor([1, 2]).mean()


def test_large_reductions_match_numpy(device):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((513, 300)).astype(np.float32)
    x = on(device, a)
    assert_close(x.sum(dim=0), a.sum(0), rtol=1e-4, atol=1e-3)
    assert_close(x.sum(dim=1), a.sum(1), rtol=1e-4, atol=1e-3)
    assert_close(x.T.sum(dim=0), a.T.sum(0), rtol=1e-4, atol=1e-3)
    assert_close(x.max(dim=1)[0], a.max(1))
    assert abs(x.sum().item() - a.astype(np.float64).sum()) < 1e-2
