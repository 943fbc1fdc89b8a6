"""Scans (cumsum, cumprod, cummax, cummin, logcumsumexp), sorting and the selections built on
it (sort, argsort, topk, kthvalue, median, nanmedian, mode, unique), and the counting
reductions (prod, bincount, histc, histogram, count_nonzero, var_mean, std_mean, aminmax,
nansum, nanmean): forward against NumPy, backward against float64 central differences, on
the CPU and the GPU. Expected numbers marked "torch" were measured with PyTorch 2.15."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop as bp
from conftest import assert_close, check_backward, on, to_np


def leaf(device, data):
    """A float32 leaf on `device` that requires grad."""
    return bp.tensor(data, dtype=bp.float32, device=device, requires_grad=True)

NAN = float("nan")


@st.composite
def array_and_dim(draw, max_side=5, unique=False):
    shape = tuple(draw(st.lists(st.integers(1, max_side), min_size=1, max_size=3)))
    a = draw(hnp.arrays(np.float64, shape, elements=st.integers(-40, 40).map(lambda i: i / 8), unique=unique))
    dim = draw(st.integers(-len(shape), len(shape) - 1))
    return a, dim


# ---- scans ---------------------------------------------------------------------------------


@given(case=array_and_dim())
@settings(max_examples=15)
def test_cumsum_and_cumprod_match_numpy_with_gradients(case, device):
    a, dim = case
    x = on(device, a)
    assert_close(x.cumsum(dim), np.cumsum(a, axis=dim), rtol=1e-5, atol=1e-5)
    assert_close(x.cumprod(dim), np.cumprod(a, axis=dim), rtol=1e-4, atol=1e-4)
    check_backward(lambda t: t.cumsum(dim), [a], device=device)
    check_backward(lambda t: t.cumprod(dim), [a], device=device, rtol=1e-4, atol=1e-4)


def test_cumprod_gradient_is_exact_with_zeros(device):
    # one zero, two zeros, a zero first: the division formula would give nan or inf
    for a in ([2.0, 0.0, 3.0, 4.0], [0.0, 2.0, 0.0, 5.0], [1.5, -2.0, 0.0, 0.0]):
        check_backward(lambda t: bp.cumprod(t, 0), [a], device=device)
    x = leaf(device, [2.0, 0.0, 3.0, 4.0])
    x.cumprod(0).sum().backward()
    assert_close(x.grad, [1.0, 2 + 6 + 24, 0.0, 0.0])  # torch: [1, 32, 0, 0]


def test_prod_gradient_with_zeros(device):
    for a in ([[2.0, 0.0, 3.0], [1.0, 2.0, 3.0]], [[0.0, 0.0, 3.0], [4.0, 0.0, 1.0]]):
        check_backward(lambda t: t.prod(1), [a], device=device)
        check_backward(lambda t: t.prod(), [a], device=device)
        check_backward(lambda t: t.prod(0, keepdim=True), [a], device=device)
    x = leaf(device, [[2.0, 0.0, 3.0]])
    x.prod().backward()
    assert_close(x.grad, [[0.0, 6.0, 0.0]])  # torch
    assert bp.tensor([[1, 2], [3, 4]]).prod().item() == 24
    assert bp.tensor([True, False]).prod().dtype == bp.int64
    assert_close(bp.tensor([[1.0, 2.0], [3.0, 4.0]]).prod(dim=1, keepdims=True), [[2.0], [12.0]])


def test_cumsum_dtypes_and_edges(device):
    assert bp.tensor([True, True, False], device=device).cumsum(0).tolist() == [1, 2, 2]
    assert bp.tensor([1, 2, 3], device=device).cumsum(0).dtype == bp.int64
    assert bp.tensor([1, 2, 3], device=device).cumsum(0, dtype=bp.float32).dtype == bp.float32
    assert bp.tensor(2.0, device=device).cumsum(0).item() == 2.0
    assert tuple(bp.zeros(0, 3, device=device).cumsum(1).shape) == (0, 3)
    with pytest.raises(IndexError):
        bp.zeros(2, 3).cumsum(2)


def test_cummax_cummin_ties_and_nan_as_torch(device):
    t = on(device, [1.0, 1.0, NAN, 0.0, NAN, 5.0])
    v, i = bp.cummax(t, 0)
    assert_close(v, [1.0, 1.0, NAN, NAN, NAN, NAN])
    assert i.tolist() == [0, 1, 2, 2, 4, 4]  # torch
    v, i = on(device, [2.0, 1.0, 1.0, 3.0]).cummin(0)
    assert v.tolist() == [2.0, 1.0, 1.0, 1.0] and i.tolist() == [0, 1, 2, 2]  # torch
    assert v is not None and hasattr(bp.cummax(t, 0), "values")


@given(case=array_and_dim(unique=True))
@settings(max_examples=10)
def test_cummax_matches_numpy_and_routes_gradient(case, device):
    a, dim = case
    x = on(device, a)
    assert_close(x.cummax(dim).values, np.maximum.accumulate(a, axis=dim))
    assert_close(x.cummin(dim).values, np.minimum.accumulate(a, axis=dim))
    check_backward(lambda t: t.cummax(dim).values, [a], device=device)


@given(case=array_and_dim())
@settings(max_examples=10)
def test_logcumsumexp_matches_numpy(case, device):
    a, dim = case
    x = on(device, a)
    assert_close(x.logcumsumexp(dim), np.logaddexp.accumulate(a, axis=dim), rtol=1e-5, atol=1e-5)
    check_backward(lambda t: t.logcumsumexp(dim), [a], device=device, rtol=1e-4, atol=1e-5)


def test_logcumsumexp_is_stable(device):
    x = on(device, [-1000.0, 0.0, 1000.0, -math.inf])
    assert_close(x.logcumsumexp(0), [-1000.0, 0.0, 1000.0, 1000.0], rtol=1e-6)
    assert bp.tensor([-math.inf, -math.inf], device=device).logcumsumexp(0).tolist() == [-math.inf, -math.inf]
    with pytest.raises(bp.DTypeError):
        bp.tensor([1, 2]).logcumsumexp(0)


def test_scans_backward_twice_give_second_derivatives():
    x = bp.tensor([0.5, -1.0, 2.0], dtype=bp.float64, requires_grad=True)
    (g,) = bp.autograd.grad(x.cumprod(0).sum(), x, create_graph=True)
    (h,) = bp.autograd.grad(g.sum(), x)
    # d/dx of sum_j prod_{k<=j} x_k, twice, by hand: rows of the Hessian summed
    a, b, c = 0.5, -1.0, 2.0
    hess = np.array([[0, 1 + c, b], [1 + c, 0, a], [b, a, 0]])
    assert_close(h, hess.sum(0))


# ---- sorting --------------------------------------------------------------------------------


@given(case=array_and_dim(max_side=6), descending=st.booleans())
@settings(max_examples=15)
def test_sort_is_numpy_stable_sort(case, descending, device):
    a, dim = case
    x = on(device, a)
    values, indices = x.sort(dim=dim, descending=descending)
    key = -a if descending else a
    order = np.argsort(key, axis=dim, kind="stable")
    assert to_np(indices).tolist() == order.tolist()
    assert_close(values, np.take_along_axis(a, order, axis=dim))
    assert to_np(bp.argsort(x, dim=dim, descending=descending)).tolist() == order.tolist()


@given(case=array_and_dim(unique=True))
@settings(max_examples=10)
def test_sort_gradient_goes_back_to_each_element(case, device):
    a, dim = case
    check_backward(lambda t: t.sort(dim=dim).values, [a], device=device)
    check_backward(lambda t: t.sort(dim=dim, descending=True)[0], [a], device=device)


def test_sort_nan_and_signed_zero_as_torch(device):
    t = on(device, [2.0, NAN, -0.0, 0.0, 1.0])
    v, i = t.sort(descending=True)
    assert i.tolist() == [1, 0, 4, 2, 3]  # torch
    v, i = bp.sort(t, stable=True)
    assert i.tolist() == [2, 3, 4, 0, 1]
    assert math.copysign(1, v[0].item()) == -1 and math.isnan(v[4].item())
    # int64, bool, 0-d, empty
    assert bp.tensor([3, -1, 2], device=device).sort().values.tolist() == [-1, 2, 3]
    assert bp.tensor([True, False], device=device).sort().values.tolist() == [False, True]
    assert bp.tensor(3.0, device=device).sort().indices.item() == 0
    assert tuple(bp.zeros(2, 0, device=device).sort().values.shape) == (2, 0)


def test_sort_long_rows_and_many_rows():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(300_000).astype(np.float32)  # one row: the parallel sort
    v, i = bp.tensor(a).sort()
    assert np.array_equal(to_np(v), np.sort(a)) and np.array_equal(to_np(i), np.argsort(a, kind="stable"))
    b = rng.integers(-5, 5, (700, 400))
    v, i = bp.tensor(b).sort(dim=0, descending=True)
    assert np.array_equal(to_np(i), np.argsort(-b, axis=0, kind="stable"))


def test_gpu_sort_pads_rows_that_are_not_a_power_of_two(device):
    rng = np.random.default_rng(1)
    a = rng.integers(-3, 3, (3, 37)).astype(np.float32)
    v, i = on(device, a).sort(dim=1)
    assert np.array_equal(to_np(i), np.argsort(a, axis=1, kind="stable"))
    v, i = on(device, a).sort(dim=0, descending=True)
    assert np.array_equal(to_np(i), np.argsort(-a, axis=0, kind="stable"))


def test_topk_and_kthvalue(device):
    t = on(device, [1.0, 3.0, 3.0, 2.0])
    v, i = t.topk(2)
    assert v.tolist() == [3.0, 3.0] and i.tolist() == [1, 2]  # torch
    v, i = bp.topk(t, 2, largest=False)
    assert v.tolist() == [1.0, 2.0] and i.tolist() == [0, 3]  # torch
    assert bp.kthvalue(on(device, [3.0, 1.0, 2.0, 1.0]), 2).values.item() == 1.0
    v, i = on(device, [[3.0, 1.0, 2.0], [0.0, 5.0, 4.0]]).kthvalue(2, dim=1, keepdim=True)
    assert v.tolist() == [[2.0], [4.0]] and i.tolist() == [[2], [2]]
    with pytest.raises(IndexError):
        t.topk(5)
    with pytest.raises(IndexError):
        t.kthvalue(0)
    check_backward(lambda x: x.topk(2, dim=1).values, [[[0.5, 2.0, -1.0], [3.0, 1.0, 2.5]]], device=device)
    check_backward(lambda x: x.kthvalue(2, 0).values, [[[0.5, 2.0], [3.0, 1.0], [1.5, -2.0]]], device=device)


def test_median_and_nanmedian_as_torch(device):
    v, i = bp.median(on(device, [1.0, NAN, 3.0, NAN]), 0)
    assert math.isnan(v.item()) and i.item() == 1  # torch
    v, i = bp.nanmedian(on(device, [1.0, NAN, 3.0, 2.0]), 0)
    assert v.item() == 2.0 and i.item() == 3  # torch
    v, i = on(device, [NAN, NAN]).nanmedian(0)
    assert math.isnan(v.item()) and i.item() == 0  # torch
    assert on(device, [4.0, 1.0, 3.0, 2.0]).median().item() == 2.0  # the lower middle value
    assert math.isnan(bp.tensor([], dtype=bp.float32).median().item())
    a = np.array([[3.0, 1.0, 2.0, 5.0], [0.0, 9.0, 4.0, 4.5]])
    v, i = on(device, a).median(dim=1, keepdims=True)
    assert v.tolist() == [[2.0], [4.0]] and i.tolist() == [[2], [2]]
    check_backward(lambda x: x.median(dim=1).values, [a], device=device)
    check_backward(lambda x: x.median(), [a], device=device)


def test_mode_as_torch(device):
    v, i = bp.mode(on(device, [3.0, 1.0, 3.0, 1.0, 2.0]))
    assert v.item() == 1.0 and i.item() == 3  # torch: the smallest most frequent, last index
    v, i = bp.tensor([[1, 2, 2, 1, 1]], device=device).mode()
    assert v.tolist() == [1] and i.tolist() == [4]  # torch
    a = np.array([[2.0, 2.0, 5.0], [7.0, 1.0, 7.0]])
    v, i = on(device, a).mode(dim=1, keepdim=True)
    assert v.tolist() == [[2.0], [7.0]] and i.tolist() == [[1], [2]]
    # a mode sits on a tie, where central differences jump: the gradient goes to the index
    x = leaf(device, [[1.0, 2.0], [1.0, 3.0], [4.0, 3.0]])
    v, i = x.mode(0)
    assert i.tolist() == [1, 2]
    (v * on(device, [2.0, 5.0])).sum().backward()
    assert x.grad.tolist() == [[0.0, 0.0], [2.0, 0.0], [0.0, 5.0]]


def test_unique_and_unique_consecutive(device):
    t = bp.tensor([3, 1, 3, 2], device=device)
    assert t.unique().tolist() == [1, 2, 3]
    u, inv, counts = bp.unique(t, return_inverse=True, return_counts=True)
    assert u.tolist() == [1, 2, 3] and inv.tolist() == [2, 0, 2, 1] and counts.tolist() == [1, 1, 2]  # torch
    u, counts = bp.unique(on(device, [[2.0, 2.0], [0.5, 2.0]]), sorted=False, return_counts=True)
    assert u.tolist() == [0.5, 2.0] and counts.tolist() == [1, 3]
    u, inv = on(device, [[2.0, 1.0], [2.0, 0.0]]).unique(return_inverse=True)
    assert inv.tolist() == [[2, 1], [2, 0]]
    u, inv, counts = bp.unique_consecutive(bp.tensor([1, 1, 2, 2, 3, 1, 1, 2], device=device), return_inverse=True, return_counts=True)
    assert u.tolist() == [1, 2, 3, 1, 2] and inv.tolist() == [0, 0, 1, 1, 2, 3, 3, 4] and counts.tolist() == [2, 2, 1, 2, 1]
    assert bp.tensor([], device=device).unique().tolist() == []


def test_unique_along_a_dim(device):
    # Every expected value below is PyTorch 2.15's.
    a = bp.tensor([[1, 2, 1], [0, 5, 0], [1, 2, 1], [0, 5, 0], [3, 3, 3]], device=device)
    v, inv, c = bp.unique(a, dim=0, return_inverse=True, return_counts=True)
    assert v.tolist() == [[0, 5, 0], [1, 2, 1], [3, 3, 3]] and inv.tolist() == [1, 0, 1, 0, 2] and c.tolist() == [2, 2, 1]
    for dim in (1, -1):
        v, inv, c = a.unique(dim=dim, return_inverse=True, return_counts=True)
        assert v.tolist() == [[1, 2], [0, 5], [1, 2], [0, 5], [3, 3]] and inv.tolist() == [0, 1, 0] and c.tolist() == [2, 1]
    v, inv, c = bp.unique_consecutive(bp.tensor([[1, 2], [1, 2], [0, 1], [1, 2]], device=device), dim=0, return_inverse=True, return_counts=True)
    assert v.tolist() == [[1, 2], [0, 1], [1, 2]] and inv.tolist() == [0, 0, 1, 2] and c.tolist() == [2, 1, 1]
    nan = float("nan")
    v, inv, c = bp.unique(on(device, [[1.0, nan], [1.0, nan], [0.5, 2.0], [-0.0, 0.0], [0.0, 0.0]]), dim=0, return_inverse=True, return_counts=True)
    np.testing.assert_array_equal(v.cpu().numpy(), [[0.0, 0.0], [0.5, 2.0], [1.0, nan], [1.0, nan]])  # rows with NaN stay apart
    assert inv.tolist() == [2, 3, 1, 0, 0] and c.tolist() == [2, 1, 1, 1]
    x3 = bp.tensor([[[1, 2], [1, 2]], [[0, 1], [1, 2]]], device=device)
    v, inv = bp.unique(x3, dim=1, return_inverse=True)
    assert v.tolist() == x3.tolist() and inv.tolist() == [0, 1]
    assert bp.unique(bp.tensor([[True, False], [True, False]], device=device), dim=0).tolist() == [[True, False]]
    big = bp.tensor([[2**62 + 1], [2**62]], device="cpu")  # int64 compared exactly, not through float64
    assert bp.unique(big, dim=0).tolist() == [[2**62], [2**62 + 1]]
    v, inv, c = bp.unique(bp.zeros(0, 3, device=device), dim=0, return_inverse=True, return_counts=True)
    assert tuple(v.shape) == (0, 3) and inv.tolist() == [] and c.tolist() == []
    with pytest.raises(RuntimeError, match="0-sized"):
        bp.unique(bp.zeros(0, 3, device=device), dim=1)
    with pytest.raises(IndexError, match="0-dim"):
        bp.unique(bp.tensor(3, device=device), dim=0)
    with pytest.raises(IndexError):
        a.unique(dim=2)


# ---- counting reductions ----------------------------------------------------------------


def test_bincount(device):
    x = bp.tensor([0, 1, 1, 3], device=device)
    assert x.bincount().tolist() == [1, 2, 0, 1]
    assert bp.bincount(x, minlength=6).tolist() == [1, 2, 0, 1, 0, 0]
    w = on(device, [0.5, 1.0, 2.0, 0.25])
    assert_close(bp.bincount(x, weights=w), [0.5, 3.0, 0.0, 0.25])
    assert bp.bincount(x, weights=w).dtype == w.dtype  # torch: float32 weights give float32
    assert bp.tensor([], dtype=bp.int64, device=device).bincount(minlength=2).tolist() == [0, 0]
    with pytest.raises(ValueError, match="non-negative"):
        bp.tensor([1, -1]).bincount()
    with pytest.raises(bp.DTypeError):
        bp.tensor([1.0]).bincount()


def test_histc_and_histogram(device):
    assert_close(bp.histc(on(device, [1.0, 2.0, 1.0, 4.0]), bins=4, min=0, max=3), [0.0, 2.0, 1.0, 0.0])  # torch
    a = np.random.default_rng(2).standard_normal(200)
    h = bp.histc(on(device, a), bins=7)
    assert_close(h, np.histogram(a, bins=7)[0], atol=1.01)  # bin edges round differently in float32
    assert h.sum().item() == 200
    hist, edges = bp.histogram(bp.tensor([1.0, 2.0, 1.0]), bins=4)
    assert hist.tolist() == [2.0, 0.0, 0.0, 1.0] and edges.tolist() == [1.0, 1.25, 1.5, 1.75, 2.0]  # torch
    b = np.random.default_rng(3).uniform(-2, 2, 50)
    hist, edges = bp.tensor(b).histogram(bins=5, range=(-1.0, 1.0), density=True)
    eh, ee = np.histogram(b, bins=5, range=(-1.0, 1.0), density=True)
    assert_close(hist, eh, rtol=1e-5) and assert_close(edges, ee)
    given_edges = bp.tensor([-2.0, -0.5, 0.0, 2.0], dtype=bp.float64)
    w = np.random.default_rng(4).uniform(0, 1, 50)
    hist, _ = bp.histogram(bp.tensor(b), given_edges, weight=bp.tensor(w))
    assert_close(hist, np.histogram(b, bins=[-2.0, -0.5, 0.0, 2.0], weights=w)[0])


def test_count_nonzero_var_mean_std_mean_aminmax(device):
    t = bp.tensor([[0, 1], [2, 0]], device=device)
    assert bp.count_nonzero(t, dim=0).tolist() == [1, 1] and t.count_nonzero().item() == 2
    a = np.array([[1.0, 2.0, 4.0], [0.5, -1.0, 3.0]])
    x = on(device, a)
    var, mean = bp.var_mean(x, dim=1)
    assert_close(var, a.var(axis=1, ddof=1), rtol=1e-5) and assert_close(mean, a.mean(axis=1))
    std, mean = bp.std_mean(x, 0, correction=0, keepdims=True)
    assert_close(std, a.std(axis=0, keepdims=True), rtol=1e-5) and tuple(mean.shape) == (1, 3)
    lo, hi = bp.aminmax(x, dim=0)
    assert lo.tolist() == [0.5, -1.0, 3.0] and hi.tolist() == [1.0, 2.0, 4.0]
    r = x.aminmax()
    assert r.min.item() == -1.0 and r.max.item() == 4.0
    assert tuple(x.aminmax(keepdim=True).max.shape) == (1, 1)


def test_nansum_and_nanmean(device):
    a = np.array([[1.0, NAN, 2.0], [NAN, NAN, 4.0]])
    x = on(device, a)
    assert_close(x.nansum(), np.nansum(a))
    assert_close(bp.nansum(x, dim=1, keepdim=True), np.nansum(a, axis=1, keepdims=True))
    with np.errstate(invalid="ignore"):
        assert_close(bp.nanmean(x, dim=0), np.nanmean(a, axis=0))
    x = leaf(device, a)
    x.nansum().backward()
    assert_close(x.grad, [[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])


def test_keepdims_alias_on_every_reduction():
    x = bp.tensor([[1.0, 2.0], [3.0, 4.0]])
    for name in ("sum", "mean", "var", "std", "amax", "amin", "argmax", "argmin", "all", "any", "norm", "nansum", "nanmean", "prod"):
        r = getattr(x, name)(dim=1, keepdims=True) if name != "prod" else x.prod(1, keepdims=True)
        assert tuple(r.shape) == (2, 1), name
    assert tuple(x.logsumexp(1, keepdims=True).shape) == (2, 1)
    assert tuple(x.max(dim=1, keepdims=True).values.shape) == (2, 1)
    assert tuple(x.median(1, keepdims=True).values.shape) == (2, 1)
