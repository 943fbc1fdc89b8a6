"""Movement and indexing ops: views share storage (O(1)), gradients flow back through the
inverse view; advanced indexing gathers and scatter-adds its gradient."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import backprop as bp
from backprop.testing.strategies import shapes
from conftest import assert_close, check_backward, on, to_np


def arange_np(*shape):
    return np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)


def test_views_share_storage_and_cost_nothing():
    x = bp.arange(12.0).reshape(3, 4)
    v = x.T
    assert not v.is_contiguous() and v.stride() == (1, 4)
    x[0, 1] = 100.0
    assert v[1, 0].item() == 100.0
    assert x.view(4, 3).is_contiguous()
    e = bp.tensor([1.0, 2.0]).expand(3, 2)
    assert e.stride() == (0, 1)
    s = x[:, 1::2]
    assert s.stride() == (4, 2) and s.storage_offset() == 1


@given(data=st.data())
def test_reshape_permute_transpose_roundtrip(data, device):
    shape = data.draw(shapes(min_dims=1, max_dims=4, max_side=4))
    a = arange_np(*shape)
    perm = data.draw(st.permutations(range(len(shape))))
    x = on(device, a)
    assert_close(x.permute(*perm), a.transpose(perm))
    assert_close(x.reshape(-1), a.reshape(-1))
    assert_close(x.permute(*perm).reshape(-1), a.transpose(perm).reshape(-1))
    if len(shape) >= 2:
        assert_close(x.transpose(0, -1), np.swapaxes(a, 0, -1))
    check_backward(lambda t: (t.permute(*perm) * bp.arange(float(a.size), dtype=t.dtype, device=t.device).reshape(a.transpose(perm).shape)).reshape(-1), [a], device=device)


def test_view_refuses_incompatible_strides_and_reshape_copies():
    x = bp.arange(6.0).reshape(2, 3).T
    with pytest.raises(bp.ShapeError, match="reshape"):
        x.view(6)
    assert x.reshape(6).tolist() == [0.0, 3.0, 1.0, 4.0, 2.0, 5.0]
    with pytest.raises(bp.ShapeError, match="invalid"):
        x.reshape(4, 2)
    with pytest.raises(bp.ShapeError, match="one dimension"):
        x.reshape(-1, -1)


def test_squeeze_unsqueeze_flatten_expand(device):
    a = arange_np(2, 1, 3)
    x = on(device, a)
    assert tuple(x.squeeze().shape) == (2, 3)
    assert tuple(x.squeeze(1).shape) == (2, 3)
    assert tuple(x.squeeze(0).shape) == (2, 1, 3)
    assert tuple(x.unsqueeze(0).shape) == (1, 2, 1, 3)
    assert tuple(x.unsqueeze(-1).shape) == (2, 1, 3, 1)
    assert tuple(x.flatten().shape) == (6,)
    assert tuple(x.flatten(1).shape) == (2, 3)
    assert_close(x.expand(2, 4, 3), np.broadcast_to(a, (2, 4, 3)))
    assert_close(x.expand(-1, 4, -1), np.broadcast_to(a, (2, 4, 3)))
    with pytest.raises(bp.ShapeError, match="expand"):
        x.expand(3, 1, 3)


def test_expand_backward_sums_over_the_broadcast_dims():
    check_backward(lambda t: t.expand(4, 2, 3), [arange_np(2, 1)])
    check_backward(lambda t: t.unsqueeze(0).expand(5, 3) * 2.0, [arange_np(3)])


BASIC_KEYS = [
    (1,),
    (-1,),
    (slice(None), 1),
    (slice(1, None), slice(None, None, 2)),
    (Ellipsis, 0),
    (None, 0, slice(None)),
    (0, None, Ellipsis, None),
    (slice(-3, -1),),
    (slice(None, 100),),
    (slice(5, 2),),
]


@pytest.mark.parametrize("key", BASIC_KEYS, ids=str)
def test_basic_indexing_matches_numpy_and_backprops(key, device):
    a = arange_np(4, 3, 2)
    x = on(device, a)
    assert_close(x[key], a[key])
    check_backward(lambda t: t[key], [a], device=device)


ADVANCED_KEYS = [
    ([0, 2, 2],),
    (slice(None), [1, 0]),
    ([[0, 1], [3, 3]], slice(None), 1),
    ([0, 1, 3], [2, 0, 1]),
    ([0, 1], slice(None), [1, 0]),  # advanced dims not adjacent: broadcast dims go first
    (1, [0, 2], [1, 1]),
    (Ellipsis, [1, 0]),
    ([-1, 0],),
]


@pytest.mark.parametrize("key", ADVANCED_KEYS, ids=str)
def test_advanced_indexing_matches_numpy_and_scatter_adds(key, device):
    a = arange_np(4, 3, 2)
    x = on(device, a)
    want = a[tuple(np.array(k) if isinstance(k, list) else k for k in key)]
    got = x[tuple(bp.tensor(k) if isinstance(k, list) else k for k in key)]
    assert_close(got, want)
    assert_close(x[key], want)  # lists work as indices too
    check_backward(lambda t: t[key], [a], device=device)


def test_bool_mask_indexing_and_repeated_indices():
    a = bp.tensor([1.0, -2.0, 3.0, -4.0], requires_grad=True)
    pos = a[a > 0]
    assert pos.tolist() == [1.0, 3.0]
    (a[[0, 0, 2]] * bp.tensor([1.0, 2.0, 3.0])).sum().backward()
    assert a.grad.tolist() == [3.0, 0.0, 3.0, 0.0]  # repeats accumulate


def test_index_errors():
    x = bp.zeros(3, 4)
    with pytest.raises(IndexError, match="out of bounds"):
        x[3]
    with pytest.raises(IndexError, match="out of bounds"):
        x[:, bp.tensor([0, 4])]
    with pytest.raises(IndexError, match="too many indices"):
        x[0, 0, 0]
    with pytest.raises(IndexError, match="int64, int32 or bool"):
        x[bp.tensor([0.0, 1.0])]
    with pytest.raises(IndexError, match="valid indices"):
        x["a"]


def test_gather_and_index_select(device):
    a = arange_np(3, 4)
    x = on(device, a)
    idx = np.array([[0, 3], [1, 1], [2, 0]])
    assert_close(x.gather(1, on(device, idx)), np.take_along_axis(a, idx, 1))
    assert_close(x.index_select(0, bp.tensor([2, 0], device=device)), a[[2, 0]])
    assert_close(x.index_select(1, bp.tensor([3, 3, 1], device=device)), a[:, [3, 3, 1]])
    check_backward(lambda t: t.gather(1, bp.tensor(idx, device=t.device)), [a], device=device)
    check_backward(lambda t: t.gather(0, bp.tensor([[2, 0, 1, 1]], device=t.device)), [a], device=device)
    with pytest.raises(bp.ShapeError, match="dimensions"):
        x.gather(1, bp.tensor([0, 1], device=device))


def test_cat_and_stack(device):
    a, b = arange_np(2, 3), arange_np(1, 3) + 10
    x, y = on(device, a), on(device, b)
    assert_close(bp.cat([x, y]), np.concatenate([a, b]))
    assert_close(bp.cat([x.T, y.T], dim=1), np.concatenate([a.T, b.T], axis=1))
    assert_close(bp.stack([x, x], dim=1), np.stack([a, a], axis=1))
    check_backward(lambda p, q: bp.cat([p, q * 2.0], dim=0), [a, b], device=device)
    check_backward(lambda p, q: bp.stack([p, q], dim=-1), [a, a + 1], device=device)
    with pytest.raises(bp.ShapeError, match="must match"):
        bp.cat([x, bp.zeros(2, 2, device=device)])
    with pytest.raises(bp.ShapeError, match="equal size"):
        bp.stack([x, y])


def test_split_chunk_unbind_narrow():
    x = bp.arange(10.0)
    assert [t.tolist() for t in x.split(4)] == [[0.0, 1.0, 2.0, 3.0], [4.0, 5.0, 6.0, 7.0], [8.0, 9.0]]
    assert [len(t) for t in x.chunk(3)] == [4, 4, 2]
    assert [t.item() for t in bp.arange(3.0).unbind()] == [0.0, 1.0, 2.0]
    assert x.narrow(0, 2, 3).tolist() == [2.0, 3.0, 4.0]
    check_backward(lambda t: t.split([3, 7])[1] * 3.0, [np.arange(10.0)])


def test_setitem_basic_and_advanced():
    x = bp.zeros(3, 4)
    x[1] = 5.0
    x[:, 0] = bp.tensor([1.0, 2.0, 3.0])
    x[[0, 2], [3, 3]] = bp.tensor([7.0, 8.0])
    x[x > 6] = -1.0
    want = np.zeros((3, 4))
    want[1] = 5
    want[:, 0] = [1, 2, 3]
    want[[0, 2], [3, 3]] = [7, 8]
    want[want > 6] = -1
    assert_close(x, want)
    with pytest.raises(bp.ShapeError, match="cannot be assigned"):
        x[0] = bp.tensor([1.0, 2.0])


def test_setitem_on_a_non_leaf_is_differentiable():
    a = bp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    v = bp.tensor(10.0, requires_grad=True)
    y = a * 2
    y[1] = v * 3
    y.sum().backward()
    assert y.tolist() == [2.0, 30.0, 6.0]
    assert a.grad.tolist() == [2.0, 0.0, 2.0]
    assert v.grad.item() == 3.0


def test_contiguous_and_clone_are_copies_with_gradient():
    x = bp.arange(6.0).reshape(2, 3).T
    c = x.contiguous()
    assert c.is_contiguous() and c.tolist() == x.tolist()
    check_backward(lambda t: t.T.contiguous() * 2.0, [arange_np(2, 3)])
    check_backward(lambda t: t.clone() * t, [arange_np(3)])
