"""Comparisons and value cleanup: isclose, allclose, equal, isinf, isposinf, isneginf,
isnan, isfinite, nan_to_num, and clamp/clip with tensor bounds, clamp_min, clamp_max, on
the CPU and the GPU. Numbers marked "torch" were measured with PyTorch 2.15."""

import math

import numpy as np
import pytest

import backprop as bp
from conftest import assert_close, check_backward, on


def leaf(device, data):
    """A float32 leaf on `device` that requires grad."""
    return bp.tensor(data, dtype=bp.float32, device=device, requires_grad=True)

INF, NAN = math.inf, math.nan


def test_isclose_matches_numpy(device):
    a = np.array([1.0, 1.0 + 1e-6, 2.0, INF, -INF, NAN, INF, 0.0])
    b = np.array([1.0, 1.0, 2.1, INF, INF, NAN, 1.0, 1e-9])
    x, y = on(device, a), on(device, b)
    assert bp.isclose(x, y).tolist() == np.isclose(a, b).tolist()
    assert bp.isclose(x, y, equal_nan=True).tolist() == np.isclose(a, b, equal_nan=True).tolist()
    assert x.isclose(y, rtol=0.1, atol=0.0).tolist() == np.isclose(a, b, rtol=0.1, atol=0.0).tolist()
    assert bp.isclose(bp.tensor([1, 2], device=device), bp.tensor([1, 3], device=device)).tolist() == [True, False]  # torch
    assert bp.isclose(on(device, [[1.0], [2.0]]), 1.0).tolist() == [[True], [False]]  # broadcast and numbers
    with pytest.raises(ValueError):
        bp.isclose(x, y, rtol=-1.0)


def test_allclose_and_equal(device):
    x = on(device, [1.0, 2.0, 3.0])
    assert bp.allclose(x, x + 1e-7) is True
    assert x.allclose(x + 1e-3) is False
    assert bp.allclose(on(device, [NAN]), on(device, [NAN]), equal_nan=True)
    assert bp.equal(x, on(device, [1.0, 2.0, 3.0])) is True
    assert bp.equal(x, on(device, [1.0, 2.0])) is False
    assert bp.equal(bp.tensor([1, 2]), bp.tensor([1.0, 2.0]))  # torch: True
    assert not bp.equal(on(device, [NAN]), on(device, [NAN]))


def test_infinity_and_nan_predicates(device):
    a = [1.0, INF, -INF, NAN, 0.0]
    x = on(device, a)
    assert x.isinf().tolist() == [False, True, True, False, False]
    assert bp.isposinf(x).tolist() == [False, True, False, False, False]
    assert bp.isneginf(x).tolist() == [False, False, True, False, False]
    assert bp.isnan(x).tolist() == [False, False, False, True, False]
    assert bp.isfinite(x).tolist() == [True, False, False, False, True]
    i = bp.tensor([1, 2], device=device)
    assert i.isinf().tolist() == [False, False] and i.isposinf().dtype == bp.bool


def test_nan_to_num_defaults_per_dtype(device):
    x = on(device, [NAN, INF, -INF, 1.5], dtype=bp.float32)
    big = float(np.finfo(np.float32).max)
    assert x.nan_to_num().tolist() == [0.0, big, -big, 1.5]  # torch
    assert bp.nan_to_num(x, nan=2.0, posinf=9.0, neginf=-9.0).tolist() == [2.0, 9.0, -9.0, 1.5]
    d = bp.tensor([INF], dtype=bp.float64).nan_to_num()
    assert d.item() == np.finfo(np.float64).max
    assert bp.tensor([3], device=device).nan_to_num().tolist() == [3]
    x = leaf(device, [NAN, 2.0, INF])
    x.nan_to_num().sum().backward()
    assert x.grad.tolist() == [0.0, 1.0, 0.0]  # torch: grad * isfinite


def test_clamp_with_tensor_bounds_gradients_as_torch(device):
    x = leaf(device, [-1.0, 0.0, 0.5, 1.0, 2.0])
    lo = leaf(device, [0.0] * 5)
    hi = leaf(device, [1.0] * 5)
    torch_like = bp.clamp(x, lo, hi)
    assert torch_like.tolist() == [0.0, 0.0, 0.5, 1.0, 1.0]
    torch_like.sum().backward()
    assert x.grad.tolist() == [0.0, 0.5, 1.0, 0.5, 0.0]  # torch
    assert lo.grad.tolist() == [1.0, 0.5, 0.0, 0.0, 0.0]  # torch
    assert hi.grad.tolist() == [0.0, 0.0, 0.0, 0.5, 1.0]  # torch
    # min > max: the result is max, whose gradient it takes (torch)
    x = leaf(device, [0.5])
    lo, hi = leaf(device, [1.0]), leaf(device, [0.0])
    y = bp.clamp(x, min=lo, max=hi)
    y.sum().backward()
    assert y.tolist() == [0.0] and x.grad.tolist() == [0.0] and lo.grad.tolist() == [0.0] and hi.grad.tolist() == [1.0]


def test_clamp_broadcasts_and_mixes_numbers(device):
    a = np.array([[-2.0, 0.3, 4.0], [1.0, -0.7, 2.5]])
    lo = np.array([-1.0, 0.0, 1.0])
    x = on(device, a)
    assert_close(x.clamp(min=on(device, lo), max=2.0), np.clip(a, lo, 2.0))
    assert_close(bp.clip(x, on(device, lo)), np.maximum(a, lo))
    assert_close(bp.clamp_min(x, on(device, lo)), np.maximum(a, lo))
    assert_close(x.clamp_max(on(device, [[0.0], [1.0]])), np.minimum(a, [[0.0], [1.0]]))
    assert_close(x.clamp_min(0.5), np.maximum(a, 0.5))
    assert_close(bp.clamp_max(x, 0.5), np.minimum(a, 0.5))
    check_backward(lambda t, m: t.clamp(min=m), [a, np.array([-1.1, 0.05, 1.3])], device=device)
    with pytest.raises(ValueError):
        x.clamp()
