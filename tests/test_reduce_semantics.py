"""Reductions at PyTorch's edges: gradients of norm and std where the chain rule would give
0/0, norm(p=0), empty dim lists, sum(dtype=...), and var/std's two ways of saying the
correction. The expected numbers are PyTorch 2.x's (`torch` was asked; it is not needed here)."""

import math

import numpy as np
import pytest

import backprop as bp
from conftest import assert_close, check_backward, on, to_np


@pytest.mark.parametrize("p", [2, 3, 0.5, 1, float("inf")])
def test_norm_gradient_at_zero_is_zero(device, p):
    x = on(device, np.zeros(3, dtype=np.float32)).requires_grad_()
    y = x.norm(p=p)
    y.backward()
    assert y.item() == 0.0
    np.testing.assert_array_equal(to_np(x.grad), np.zeros(3))
    # along a dim (torch: x.norm(dim=1).sum().backward() on zeros(2, 3) gives zeros)
    x = on(device, np.zeros((2, 3), dtype=np.float32)).requires_grad_()
    x.norm(p=p, dim=1).sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.zeros((2, 3)))


def test_norm_gradient_where_some_elements_are_zero():
    # torch: tensor([0., 1.]).norm(p=0.5) backward -> [0., 1.]; p=3 at [0, 2] -> [0, 1]
    x = bp.tensor([0.0, 1.0], requires_grad=True)
    x.norm(p=0.5).backward()
    np.testing.assert_array_equal(to_np(x.grad), [0.0, 1.0])
    x = bp.tensor([0.0, 2.0], requires_grad=True)
    x.norm(p=3).backward()
    np.testing.assert_allclose(to_np(x.grad), [0.0, 1.0], rtol=1e-6)


def test_norm_values_and_gradients_match_pytorch(device):
    # torch: tensor([1., 2., 4.]).norm(p=3) = 4.1793, grad [0.0573, 0.2290, 0.9160]
    x = on(device, [1.0, 2.0, 4.0]).requires_grad_()
    y = x.norm(p=3)
    y.backward()
    assert_close(y, 4.179339, rtol=1e-5)
    assert_close(x.grad, [0.057251, 0.229004, 0.916015], rtol=1e-4)
    m = on(device, [[1.0, 2.0], [3.0, 4.0]])
    assert_close(m.norm(), math.sqrt(30), rtol=1e-6)
    assert_close(m.norm(p="fro", dim=1), [2.236068, 5.0], rtol=1e-6)
    assert_close(m.norm(p=float("-inf")), 1.0)
    assert_close(m.norm(p=-1), 0.48, rtol=1e-6)
    # inf norm: ties share the gradient, with the sign of each element
    x = on(device, [1.0, -3.0, 3.0]).requires_grad_()
    x.norm(p=float("inf")).backward()
    assert_close(x.grad, [0.0, -0.5, 0.5])


@pytest.mark.parametrize("p", [2, 3, 1.5, 0.7, -2])
def test_norm_gradient_against_central_differences(p):
    rng = np.random.default_rng(3)
    a = rng.uniform(0.5, 2.0, (3, 4)) * rng.choice([-1.0, 1.0], (3, 4))
    check_backward(lambda x: x.norm(p=p, dim=1, keepdim=True), [a])
    check_backward(lambda x: x.norm(p=p), [a])


def test_norm_second_derivative_is_the_projection_over_the_norm():
    # d2|x| / dx2 = (I - x x^T / |x|^2) / |x|
    a = np.array([1.0, -2.0, 2.0])
    x = bp.tensor(a, dtype=bp.float64, requires_grad=True)
    (g,) = bp.autograd.grad(x.norm(), x, create_graph=True)
    rows = [to_np(bp.autograd.grad(g[i], x, retain_graph=True)[0]) for i in range(3)]
    n = np.linalg.norm(a)
    np.testing.assert_allclose(np.stack(rows), (np.eye(3) - np.outer(a, a) / n**2) / n, rtol=1e-12)


def test_norm_p0_counts_nonzeros(device):
    # torch: tensor([0., 1., -2., 0., 3.]).norm(p=0) = 3; [[0, 1], [0, 0]].norm(p=0, dim=1) = [1, 0]
    x = on(device, [0.0, 1.0, -2.0, 0.0, 3.0]).requires_grad_()
    y = x.norm(p=0)
    assert y.item() == 3.0 and y.dtype == x.dtype
    y.backward()  # PyTorch's gradient is empty (None); here it is zeros
    np.testing.assert_array_equal(to_np(x.grad), np.zeros(5))
    assert_close(on(device, [[0.0, 1.0], [0.0, 0.0]]).norm(p=0, dim=1), [1.0, 0.0])


def test_norm_refuses_integer_tensors_and_unknown_names():
    with pytest.raises(bp.DTypeError, match="norm: expected a float tensor"):
        bp.tensor([1, 2]).norm()
    with pytest.raises(ValueError, match='unknown norm "nuc"'):
        bp.ones(2).norm(p="nuc")


def test_std_gradient_at_a_constant_input_is_zero(device):
    # torch: full((4,), 2.).std() = 0 with grad zeros; full((2, 3), 2.).std(dim=1).sum() likewise
    x = on(device, np.full(4, 2.0, dtype=np.float32)).requires_grad_()
    y = x.std()
    y.backward()
    assert y.item() == 0.0
    np.testing.assert_array_equal(to_np(x.grad), np.zeros(4))
    x = on(device, np.full((2, 3), 2.0, dtype=np.float32)).requires_grad_()
    x.std(dim=1).sum().backward()
    np.testing.assert_array_equal(to_np(x.grad), np.zeros((2, 3)))


@pytest.mark.parametrize("correction", [0, 1, 2])
def test_std_gradient_against_central_differences(correction):
    a = np.random.default_rng(5).standard_normal((3, 5))
    check_backward(lambda x: x.std(dim=1, correction=correction), [a])
    check_backward(lambda x: x.std(dim=(0, 1), correction=correction, keepdim=True), [a])
    out = check_backward(lambda x: x.std(correction=correction), [a])
    np.testing.assert_allclose(out, np.std(a, ddof=correction), rtol=1e-12)


def test_std_of_one_element_is_nan_as_in_pytorch():
    # torch: zeros(1).std() is nan (degrees of freedom <= 0), and so is its gradient
    x = bp.zeros(1, requires_grad=True)
    y = x.std()
    y.backward()
    assert math.isnan(y.item()) and math.isnan(x.grad.item())


def test_var_and_std_refuse_unbiased_together_with_correction():
    x = bp.arange(6.0).reshape(2, 3)
    for op in (x.var, x.std):
        with pytest.raises(TypeError, match="both unbiased and correction"):
            op(unbiased=True, correction=1)
        with pytest.raises(TypeError, match="both unbiased and correction"):
            op(dim=1, unbiased=False, correction=0)
    assert x.var(unbiased=False).item() == pytest.approx(35 / 12)
    assert x.var(correction=0).item() == pytest.approx(35 / 12)


def test_an_empty_dim_list_reduces_every_dim(device):
    # torch: arange(6.).reshape(2, 3).sum(dim=()) = 15 (also dim=[]); keepdim gives (1, 1)
    x = on(device, np.arange(6.0, dtype=np.float32).reshape(2, 3))
    for dim in ((), []):
        assert x.sum(dim=dim).item() == 15.0
    assert tuple(x.sum(dim=(), keepdim=True).shape) == (1, 1)
    assert x.mean(dim=()).item() == 2.5
    assert x.var(dim=()).item() == pytest.approx(3.5)
    assert on(device, [[1.0, 2.0], [3.0, 4.0]]).amax(dim=()).item() == 4.0
    s = on(device, np.float32(5.0))
    assert s.sum(dim=()).item() == 5.0 and s.sum(dim=0).item() == 5.0


def test_an_empty_dim_list_sends_the_gradient_everywhere():
    x = bp.ones(2, 3, requires_grad=True)
    x.sum(dim=[]).backward()
    np.testing.assert_array_equal(to_np(x.grad), np.ones((2, 3)))


def test_sum_with_an_integer_dtype_casts_before_summing(device):
    # torch: tensor([1.5, 2.7, -0.5]).sum(dtype=int64) = 3 (not int(3.7));
    #        [[1.5, 2.7], [-0.5, 0.9]].sum(dim=1, dtype=int64) = [3, 0]
    s = on(device, [1.5, 2.7, -0.5]).sum(dtype=bp.int64)
    assert s.dtype == bp.int64 and s.item() == 3
    assert on(device, [[1.5, 2.7], [-0.5, 0.9]]).sum(dim=1, dtype=bp.int64).tolist() == [3, 0]
    assert bp.tensor([1.5, 2.7]).sum(dtype=bp.float64).dtype == bp.float64


def test_all_and_any_follow_pytorch():
    # torch: [0., 1.].all() False, .any() True; [[0, 1], [1, 1]].all(dim=1) = [False, True];
    #        empty: all() True, any() False
    assert not bp.tensor([0.0, 1.0]).all().item()
    assert bp.tensor([0.0, 1.0]).any().item()
    assert bp.tensor([[0.0, 1.0], [1.0, 1.0]]).all(dim=1).tolist() == [False, True]
    assert bp.tensor([]).all().item() and not bp.tensor([]).any().item()


def test_amax_spreads_the_gradient_over_ties_and_refuses_empty_reductions():
    # torch: tensor([1., 3., 3.]).amax() backward -> [0, 0.5, 0.5]; amax of an empty tensor errors
    x = bp.tensor([1.0, 3.0, 3.0], requires_grad=True)
    x.amax().backward()
    np.testing.assert_array_equal(to_np(x.grad), [0.0, 0.5, 0.5])
    with pytest.raises(ValueError, match="zero elements"):
        bp.zeros(0).amax()
    with pytest.raises(ValueError, match="cannot reduce over an empty dimension"):
        bp.zeros(0, 3).amax(dim=0)
    assert tuple(bp.zeros(0, 3).amax(dim=1).shape) == (0,)
