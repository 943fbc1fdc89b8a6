"""Shape and indexing breadth (issue 12): flip/roll/rot90/repeat/tile/repeat_interleave/movedim,
broadcasting helpers, meshgrid, the stack family, the scatter family, index_add/copy/fill/put,
masked_select/masked_scatter, nonzero/argwhere, take/take_along_dim, the *_as helpers and the
in-place forms. Forwards against NumPy, backwards against float64 central differences, on the
CPU and the GPU; errors as PyTorch raises them (the numbers noted come from torch 2.15)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backprop as bp
from conftest import assert_close, check_backward, on, to_np


def arr(*shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


def idx(data, t):
    return bp.tensor(data, device=t.device)


def like(t, value):
    """A 0-d tensor of `t`'s dtype and device (index_put wants matching dtypes, as PyTorch)."""
    return bp.tensor(value, dtype=t.dtype, device=t.device)


# ---------------------------------------------------------------- reordering and repeating


@settings(max_examples=25, deadline=None)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    data=st.data(),
)
def test_flip_roll_tile_movedim_match_numpy(shape, data):
    a = np.arange(int(np.prod(shape)), dtype=np.float64).reshape(shape)
    t = bp.tensor(a)
    nd = len(shape)
    dims = data.draw(st.lists(st.integers(-nd, nd - 1), unique_by=lambda d: d % nd, max_size=nd))
    assert_close(t.flip(dims), np.flip(a, tuple(dims)) if dims else a)
    shifts = data.draw(st.lists(st.integers(-7, 7), min_size=len(dims), max_size=len(dims)))
    if dims:
        assert_close(t.roll(shifts, dims), np.roll(a, shifts, axis=tuple(dims)))
    assert_close(bp.roll(t, 3), np.roll(a, 3))
    reps = data.draw(st.lists(st.integers(0, 3), min_size=0, max_size=nd + 1))
    assert_close(t.tile(reps), np.tile(a, reps))
    src = data.draw(st.permutations(range(nd)))
    assert_close(t.movedim(tuple(src), tuple(range(nd))), np.moveaxis(a, src, range(nd)))


def test_flip_family(device):
    a = arr(2, 3, 4)
    t = on(device, a)
    assert_close(bp.flip(t, (0, 2)), np.flip(a, (0, 2)))
    assert_close(t.flip(-1), np.flip(a, -1))
    assert_close(t.fliplr(), np.fliplr(a))
    assert_close(bp.flipud(t), np.flipud(a))
    assert_close(bp.flip(on(device, 1.5), [0]), 1.5)  # torch: a 0-d flip is a copy
    check_backward(lambda x: x.flip(0, 2), [a], device=device)
    check_backward(lambda x: x.fliplr() * 3.0, [a], device=device)
    with pytest.raises(ValueError, match="appears multiple times"):
        t.flip(0, 0)
    with pytest.raises(IndexError):
        t.flip(3)
    with pytest.raises(ValueError, match=">= 2-d"):
        on(device, [1.0, 2.0]).fliplr()
    with pytest.raises(ValueError, match=">= 1-d"):
        on(device, 1.0).flipud()


def test_roll_and_rot90(device):
    a = arr(3, 4)
    t = on(device, a)
    assert_close(t.roll(1, 0), np.roll(a, 1, 0))
    assert_close(t.roll((1, -5), (0, 1)), np.roll(a, (1, -5), (0, 1)))
    assert_close(t.roll(5), np.roll(a, 5))
    for k in (-3, -1, 0, 1, 2, 3, 6):
        assert_close(bp.rot90(t, k), np.rot90(a, k))
        assert_close(t.rot90(k, (1, 0)), np.rot90(a, k, axes=(1, 0)))
    b = arr(2, 3, 4)
    assert_close(on(device, b).rot90(1, [0, 2]), np.rot90(b, 1, axes=(0, 2)))
    check_backward(lambda x: x.roll((2, 1), (0, 1)), [a], device=device)
    check_backward(lambda x: x.roll(-7), [a], device=device)
    check_backward(lambda x: x.rot90(1), [a], device=device)
    check_backward(lambda x: x.rot90(3, (1, 0)), [a], device=device)
    with pytest.raises(ValueError, match="shifts and dimensions must align"):
        t.roll((1, 2), (0,))
    with pytest.raises(ValueError, match="rotation dims == 2"):
        t.rot90(1, [0])
    with pytest.raises(ValueError, match="to be different"):
        t.rot90(1, [0, 0])
    with pytest.raises(ValueError, match="total dims >= 2"):
        on(device, [1.0]).rot90()


def test_repeat_tile_repeat_interleave(device):
    a = arr(2, 3)
    t = on(device, a)
    assert_close(t.repeat(2, 1, 3), np.tile(a, (2, 1, 3)))
    assert_close(t.repeat((0, 2)), np.tile(a, (0, 2)))
    assert_close(bp.tile(t, (2,)), np.tile(a, 2))
    assert_close(t.repeat_interleave(2), np.repeat(a, 2))
    assert_close(bp.repeat_interleave(t, 3, dim=1), np.repeat(a, 3, axis=1))
    assert_close(t.repeat_interleave(idx([1, 0, 2], t), dim=1), np.repeat(a, [1, 0, 2], axis=1))
    assert_close(t.repeat_interleave(idx([2], t), dim=0), np.repeat(a, 2, axis=0))
    assert bp.repeat_interleave(idx([1, 2], t)).tolist() == [0, 1, 1]
    check_backward(lambda x: x.repeat(2, 1, 2), [a], device=device)
    check_backward(lambda x: x.tile((3,)), [a], device=device)
    check_backward(lambda x: x.repeat_interleave(2, dim=0), [a], device=device)
    check_backward(lambda x: x.repeat_interleave(idx([3, 0, 1], x), dim=1), [a], device=device)
    with pytest.raises(ValueError, match="can not be smaller"):
        t.repeat(2)
    with pytest.raises(ValueError, match="non-negative"):
        t.repeat(-1, 2)
    with pytest.raises(ValueError, match="non-negative"):
        t.repeat_interleave(-1)
    with pytest.raises(ValueError, match="same size as input along dim"):
        t.repeat_interleave(idx([1, 2], t), dim=1)
    with pytest.raises(ValueError, match="output_size"):
        t.repeat_interleave(2, dim=0, output_size=5)


def test_movedim_swapdims_are_views(device):
    a = arr(2, 3, 4)
    t = on(device, a)
    for src, dst in [(0, 2), ((0, 1), (2, 0)), (-1, 0)]:
        assert_close(bp.movedim(t, src, dst), np.moveaxis(a, src, dst))
    assert_close(t.moveaxis(1, 0), np.moveaxis(a, 1, 0))
    assert_close(bp.swapdims(t, 0, 2), np.swapaxes(a, 0, 2))
    assert_close(bp.swapaxes(t, 1, 2), np.swapaxes(a, 1, 2))
    check_backward(lambda x: x.movedim((0, 1), (2, 0)), [a], device=device)
    with pytest.raises(ValueError, match="repeated dim in `source`"):
        t.movedim((0, 0), (1, 0))
    with pytest.raises(ValueError, match="same number of dims"):
        t.movedim((0, 1), (1,))


def test_views_share_storage_and_writes_show_through():
    t = bp.zeros(2, 3, 4)
    views = [
        (t.movedim(0, 2), (0, 1, 0)),
        (t.swapdims(0, 1), (0, 0, 1)),
        (t[0].broadcast_to((5, 3, 4)), (4, 0, 1)),
        (t.unflatten(2, (2, 2)), (0, 0, 0, 1)),
        (t.view_as(bp.zeros(6, 4)), (0, 1)),
        (t[:, :1].expand_as(bp.zeros(2, 3, 4)), (0, 2, 1)),
    ]
    t[0, 0, 1] = 7.0  # every view above reads this element at the position listed
    for v, pos in views:
        assert v[pos].item() == 7.0
    t.movedim(0, 2)[1, 2, 0] = 5.0
    assert t[0, 1, 2].item() == 5.0


# ---------------------------------------------------------------- broadcasting, grids, stacks


def test_broadcast_helpers(device):
    a, b = arr(3, 1), arr(4)
    x, y = on(device, a), on(device, b)
    assert bp.broadcast_shapes((3, 1), (4,), (2, 1, 1)) == (2, 3, 4) == np.broadcast_shapes((3, 1), (4,), (2, 1, 1))
    assert bp.broadcast_shapes(3, (2, 1)) == (2, 3)
    assert bp.broadcast_shapes() == ()
    with pytest.raises(ValueError, match="cannot be broadcast"):
        bp.broadcast_shapes((2,), (3,))
    xb, yb = bp.broadcast_tensors(x, y)
    na, nb = np.broadcast_arrays(a, b)
    assert_close(xb, na)
    assert_close(yb, nb)
    assert_close(bp.broadcast_to(x, (2, 3, 4)), np.broadcast_to(a, (2, 3, 4)))
    check_backward(lambda p, q: bp.broadcast_tensors(p, q)[0] * bp.broadcast_tensors(p, q)[1], [a, b], device=device)
    check_backward(lambda p: bp.broadcast_to(p, (2, 3, 4)), [a], device=device)


def test_meshgrid(device):
    a, b, c = arr(3), arr(2, seed=1), arr(4, seed=2)
    x, y, z = on(device, a), on(device, b), on(device, c)
    for indexing in ("ij", "xy"):
        got = bp.meshgrid(x, y, z, indexing=indexing)
        want = np.meshgrid(a, b, c, indexing=indexing)
        assert len(got) == 3
        for g, w in zip(got, want):
            assert_close(g, w)
    got = bp.meshgrid([x, y])
    assert [tuple(g.shape) for g in got] == [(3, 2), (3, 2)]
    check_backward(lambda p, q: bp.meshgrid(p, q, indexing="xy")[0] * bp.meshgrid(p, q, indexing="xy")[1], [a, b], device=device)
    with pytest.raises(ValueError, match="indexing"):
        bp.meshgrid(x, y, indexing="yx")


def test_stack_family(device):
    a, b = arr(3), arr(3, seed=1)
    m, n = arr(2, 3), arr(4, 3, seed=1)
    x, y, p, q = on(device, a), on(device, b), on(device, m), on(device, n)
    assert_close(bp.hstack([x, y]), np.hstack([a, b]))
    assert_close(bp.hstack([p, on(device, arr(2, 1))]), np.hstack([m, arr(2, 1)]))
    assert_close(bp.vstack([x, y]), np.vstack([a, b]))
    assert_close(bp.vstack([p, q]), np.vstack([m, n]))
    assert_close(bp.row_stack((x, y)), np.vstack([a, b]))
    assert_close(bp.dstack([x, y]), np.dstack([a, b]))
    assert_close(bp.dstack([p, p]), np.dstack([m, m]))
    assert_close(bp.column_stack([x, y, on(device, arr(3, 2))]), np.column_stack([a, b, arr(3, 2)]))
    assert_close(bp.concat([p, q]), np.concatenate([m, n]))
    assert_close(bp.concatenate((p, p), dim=1), np.concatenate([m, m], axis=1))
    assert_close(bp.atleast_3d(on(device, 2.0)), np.atleast_3d(2.0))
    assert [tuple(t.shape) for t in bp.atleast_2d(x, p)] == [(1, 3), (2, 3)]
    check_backward(lambda s, t: bp.column_stack([s, t * 2.0]), [a, b], device=device)
    check_backward(lambda s, t: bp.dstack([s, t]), [m, m * 2], device=device)
    with pytest.raises(TypeError, match="sequence of tensors"):
        bp.hstack(x)


# ---------------------------------------------------------------- the scatter family


def scatter_ref(a, dim, index, src, combine, include_self=True):
    """NumPy reference: out[..index[p].. along dim] combined with src[p], positions in row-major order."""
    out = a.copy()
    seen = np.zeros(a.shape, dtype=bool)
    for p in np.ndindex(*index.shape):
        q = list(p)
        q[dim] = index[p]
        q = tuple(q)
        v = src[p] if isinstance(src, np.ndarray) else src
        if not include_self and not seen[q]:
            out[q] = v
        else:
            out[q] = combine(out[q], v)
        seen[q] = True
    return out


IDX = np.array([[0, 2], [1, 1], [2, 0]])  # scatter along dim 1 of a (3, 4) tensor
UNIQUE = np.array([[0, 2, 1], [3, 1, 0], [2, 3, 1]])


def test_scatter_src_and_value(device):
    a, s = arr(3, 4), arr(3, 5, seed=1)
    t = on(device, a)
    i = idx(UNIQUE, t)
    assert_close(t.scatter(1, i, on(device, s)), scatter_ref(a, 1, UNIQUE, s, lambda o, v: v))
    assert_close(bp.scatter(t, 1, i, 2.5), scatter_ref(a, 1, UNIQUE, 2.5, lambda o, v: v))
    assert_close(t.scatter(1, i, value=-1.0), scatter_ref(a, 1, UNIQUE, -1.0, lambda o, v: v))
    assert_close(t.scatter(1, idx(IDX, t), on(device, s), reduce="add"), scatter_ref(a, 1, IDX, s, np.add))
    assert_close(t.scatter(1, idx(IDX, t), on(device, s), reduce="multiply"), scatter_ref(a, 1, IDX, s, np.multiply))
    i0 = np.array([[2, 0, 1, 2]])
    assert_close(t.scatter(0, idx(i0, t), on(device, s)), scatter_ref(a, 0, i0, s, lambda o, v: v))
    check_backward(lambda x, y: x.scatter(1, idx(UNIQUE, x), y), [a, s], device=device)
    check_backward(lambda x: x.scatter(0, idx(i0, x), 3.0), [a], device=device)


def test_scatter_add_and_reduce_sum_mean(device):
    a, s = arr(3, 4), arr(3, 2, seed=1)
    t, u = on(device, a), on(device, s)
    i = idx(IDX, t)
    assert_close(t.scatter_add(1, i, u), scatter_ref(a, 1, IDX, s, np.add))
    assert_close(bp.scatter_add(t, 1, i, u), scatter_ref(a, 1, IDX, s, np.add))
    for include_self in (True, False):
        assert_close(t.scatter_reduce(1, i, u, "sum", include_self=include_self), scatter_ref(a, 1, IDX, s, np.add, include_self))
        total = scatter_ref(a, 1, IDX, s, np.add, include_self)
        count = scatter_ref(np.full(a.shape, 1.0 if include_self else 0.0), 1, IDX, np.ones_like(s), np.add, True)
        assert_close(t.scatter_reduce(1, i, u, "mean", include_self=include_self), np.where(count > 0, total / np.maximum(count, 1), a))
        check_backward(lambda x, y, inc=include_self: x.scatter_reduce(1, idx(IDX, x), y, "sum", include_self=inc), [a, s], device=device)
        check_backward(lambda x, y, inc=include_self: x.scatter_reduce(1, idx(IDX, x), y, "mean", include_self=inc), [a, s], device=device)
    check_backward(lambda x, y: x.scatter_add(1, idx(IDX, x), y), [a, s], device=device)
    # torch 2.15: integer mean rounds down; a position no value reaches keeps its own value
    ints = bp.arange(6).reshape(2, 3).to(device)
    got = ints.scatter_reduce(1, idx([[0, 0]], ints), idx([[-1, -2]], ints), "mean")
    assert got.tolist() == [[-1, 1, 2], [3, 4, 5]]
    got = on(device, np.arange(6.0).reshape(2, 3)).scatter_reduce(1, idx([[0, 0]], ints), on(device, np.ones((1, 2))), "mean", include_self=False)
    assert_close(got, [[1.0, 1.0, 2.0], [3.0, 4.0, 5.0]])


@pytest.mark.parametrize("reduce", ["prod", "amax", "amin"])
@pytest.mark.parametrize("include_self", [True, False])
def test_scatter_reduce_prod_amax_amin(device, reduce, include_self):
    a, s = arr(3, 4), arr(3, 2, seed=1)
    comb = {"prod": np.multiply, "amax": np.maximum, "amin": np.minimum}[reduce]
    t, u = on(device, a), on(device, s)
    got = t.scatter_reduce(1, idx(IDX, t), u, reduce, include_self=include_self)
    assert_close(got, scatter_ref(a, 1, IDX, s, comb, include_self))
    check_backward(lambda x, y: x.scatter_reduce(1, idx(IDX, x), y, reduce, include_self=include_self), [a, s], device=device)


def test_scatter_reduce_prod_gradient_with_zeros():
    # one zero among the factors of a position: its gradient is the product of the others
    a = np.array([[2.0, 0.0, 3.0]])
    s = np.array([[0.0, 5.0, 4.0]])
    i = np.array([[0, 1, 1]])
    check_backward(lambda x, y: x.scatter_reduce(1, idx(i, x), y, "prod"), [a, s])
    # torch 2.15's numbers for this case
    x = bp.tensor(a, requires_grad=True)
    y = bp.tensor(s, requires_grad=True)
    x.scatter_reduce(1, bp.tensor(i), y, "prod").sum().backward()
    assert x.grad.tolist() == [[0.0, 20.0, 1.0]]
    assert y.grad.tolist() == [[2.0, 0.0, 0.0]]


def test_scatter_reduce_extrema_share_ties_and_propagate_nan():
    x = bp.tensor([[1.0, 5.0]], requires_grad=True)
    y = bp.tensor([[5.0, 5.0]], requires_grad=True)
    out = x.scatter_reduce(1, bp.tensor([[1, 1]]), y, "amax")
    assert out.tolist() == [[1.0, 5.0]]
    out.sum().backward()
    assert_close(x.grad, [[1.0, 1 / 3]])
    assert_close(y.grad, [[1 / 3, 1 / 3]])
    # include_self=False: self's value takes no part, so it gets no share even when it equals
    # the result (torch 2.15 still counts it in the divisor: y.grad would be [[1/3, 1/3]]; the
    # values here are the true derivative, which central differences confirm away from ties)
    x = bp.tensor([[1.0, 5.0]], requires_grad=True)
    y = bp.tensor([[5.0, 5.0]], requires_grad=True)
    x.scatter_reduce(1, bp.tensor([[1, 1]]), y, "amax", include_self=False).sum().backward()
    assert_close(x.grad, [[1.0, 0.0]])
    assert_close(y.grad, [[0.5, 0.5]])
    nan = bp.tensor([[1.0, 2.0]]).scatter_reduce(1, bp.tensor([[0]]), bp.tensor([[float("nan")]]), "amin")
    assert np.isnan(nan[0, 0].item()) and nan[0, 1].item() == 2.0


def test_scatter_errors(device):
    t = on(device, np.arange(6.0).reshape(2, 3))
    with pytest.raises(IndexError, match="index 5 is out of bounds for dimension 1 with size 3"):
        t.scatter(1, idx([[0], [5]], t), 1.0)
    with pytest.raises(IndexError, match="out of bounds"):
        t.scatter(1, idx([[0], [-1]], t), 1.0)  # torch: no wrapping for scatter
    with pytest.raises(ValueError, match="same number of dimensions"):
        t.scatter(1, idx([0], t), 1.0)
    with pytest.raises(ValueError, match="no larger than"):
        t.scatter(0, idx([[0, 1, 0, 1]], t), on(device, np.ones((1, 4))))
    with pytest.raises(ValueError, match="dtype"):
        t.scatter(1, idx([[0]], t), bp.ones(1, 1, dtype=bp.int64, device=t.device))
    with pytest.raises(ValueError, match="reduce argument must be either sum, prod, mean, amax or amin"):
        t.scatter_reduce(1, idx([[0]], t), t, "foo")
    with pytest.raises(IndexError, match="out of bounds"):
        t.scatter_add(1, idx([[3]], t), t)
    with pytest.raises(TypeError, match="missing the src"):
        t.scatter(1, idx([[0]], t))
    with pytest.raises(ValueError, match="integer"):
        t.scatter(1, on(device, [[0.0]]), 1.0)


# ---------------------------------------------------------------- index_add / copy / fill / put


def test_index_add_copy_fill(device):
    a, s = arr(4, 3), arr(2, 3, seed=1)
    t, u = on(device, a), on(device, s)
    i = [3, 1]
    ref = a.copy()
    np.add.at(ref, i, 2.0 * s)
    assert_close(t.index_add(0, idx(i, t), u, alpha=2.0), ref)
    ref = a.copy()
    np.add.at(ref, [1, 1], s)
    assert_close(bp.index_add(t, 0, idx([1, 1], t), u), ref)
    ref = a.copy()
    ref[:, [2, 0]] = arr(4, 2, seed=2)
    assert_close(t.index_copy(1, idx([2, 0], t), on(device, arr(4, 2, seed=2))), ref)
    ref = a.copy()
    ref[:, [0, 2]] = 7.0
    assert_close(t.index_fill(1, idx([0, -1], t), 7.0), ref)  # torch: index_fill wraps negatives
    assert_close(bp.index_fill(t, 1, idx([0, 2], t), on(device, 7.0)), ref)
    check_backward(lambda x, y: x.index_add(0, idx([3, 1], x), y, alpha=-1.5), [a, s], device=device)
    check_backward(lambda x, y: x.index_add(0, idx([1, 1], x), y), [a, s], device=device)
    check_backward(lambda x, y: x.index_copy(0, idx([3, 0], x), y), [a, s], device=device)
    check_backward(lambda x, v: x.index_fill(1, idx([2], x), v.reshape(())), [a, np.array([3.0])], device=device)


def test_index_errors_match_torch(device):
    t = on(device, np.arange(6.0).reshape(2, 3))
    ones = on(device, np.ones((1, 3)))
    with pytest.raises(IndexError, match="index -1 is out of bounds for dimension 0 with size 2"):
        t.index_add(0, idx([-1], t), ones)
    with pytest.raises(IndexError, match="index 5 is out of bounds"):
        t.index_add(0, idx([5], t), ones)
    with pytest.raises(ValueError, match="does not fit"):
        t.index_add(0, idx([0, 1], t), ones)
    with pytest.raises(IndexError, match="out of bounds"):
        t.index_copy(0, idx([-1], t), ones)
    with pytest.raises(IndexError, match="index 7 is out of bounds"):
        t.index_fill(0, idx([7], t), 5.0)
    with pytest.raises(ValueError, match="dimension 1 or 0"):
        t.index_fill(0, idx([[0]], t), 5.0)
    with pytest.raises(ValueError, match="dtype"):
        t.index_add(0, idx([0], t), bp.ones(1, 3, dtype=bp.int64, device=t.device))


def test_index_put(device):
    a = arr(3, 4)
    t = on(device, a)
    rows, cols = np.array([0, 2, 0]), np.array([1, 3, 1])
    v = arr(3, seed=1)
    ref = a.copy()
    np.add.at(ref, (rows, cols), v)
    assert_close(t.index_put((idx(rows, t), idx(cols, t)), on(device, v), accumulate=True), ref)
    ref = a.copy()
    ref[[0, 2], [1, 3]] = 9.0
    assert_close(bp.index_put(t, (idx([0, 2], t), idx([1, 3], t)), like(t, 9.0)), ref)
    mask = a > 0
    ref = a.copy()
    ref[mask] = 0.0
    assert_close(t.index_put((idx(mask, t),), like(t, 0.0)), ref)
    # torch 2.15: torch.index_put(x, (tensor([0, 0]),), tensor(1.), accumulate=True) adds twice
    x = on(device, np.arange(6.0).reshape(2, 3))
    assert_close(x.index_put((idx([0, 0], x),), like(x, 1.0), accumulate=True), [[2.0, 3.0, 4.0], [3.0, 4.0, 5.0]])
    check_backward(lambda x, w: x.index_put((idx(rows, x), idx(cols, x)), w, accumulate=True), [a, v], device=device)
    check_backward(lambda x, w: x.index_put((idx([2, 0], x),), w), [a, arr(4, seed=3)], device=device)


# ---------------------------------------------------------------- masks, nonzero, take


def test_masked_select_and_scatter(device):
    a = arr(3, 4)
    mask = a > 0.2
    t, m = on(device, a), on(device, mask)
    assert_close(t.masked_select(m), a[mask])
    row = np.array([True, False, True, True])
    assert_close(bp.masked_select(t, on(device, row)), a[np.broadcast_to(row, a.shape)])
    src = arr(12, seed=1)
    ref = a.copy()
    ref[mask] = src[: mask.sum()]
    assert_close(t.masked_scatter(m, on(device, src)), ref)
    assert_close(bp.masked_scatter(t, m, on(device, src.reshape(3, 4))), ref)
    check_backward(lambda x: x.masked_select(idx(mask, x)), [a], device=device)
    check_backward(lambda x, s: x.masked_scatter(idx(mask, x), s), [a, src], device=device)
    with pytest.raises(ValueError, match="boolean masks"):
        t.masked_select(on(device, np.ones(4, dtype=np.int64)))
    with pytest.raises(ValueError, match="number of ones in mask"):
        t.masked_scatter(m, on(device, np.ones(1)))


def test_nonzero_argwhere(device):
    a = np.array([[0.0, 1.5, 0.0], [2.0, 0.0, -1.0]])
    t = on(device, a)
    assert t.nonzero().tolist() == np.argwhere(a).tolist()
    assert bp.argwhere(t).tolist() == np.argwhere(a).tolist()
    cols = bp.nonzero(t, as_tuple=True)
    assert [c.tolist() for c in cols] == [c.tolist() for c in np.nonzero(a)]
    assert on(device, a > 0).nonzero().tolist() == np.argwhere(a > 0).tolist()
    # torch 2.15: a 0-d input has shape (1, 0) rows, and one column as a tuple
    assert tuple(on(device, 1.0).nonzero().shape) == (1, 0)
    assert [c.tolist() for c in on(device, 1.0).nonzero(as_tuple=True)] == [[0]]
    assert tuple(on(device, np.zeros((2, 2))).nonzero().shape) == (0, 2)
    assert t.nonzero().dtype == bp.int64


def test_take_and_take_along_dim(device):
    a = arr(2, 3)
    t = on(device, a)
    i = np.array([[-1, 0], [4, 2]])
    assert_close(t.take(idx(i, t)), np.take(a, i))
    assert_close(bp.take(t, idx(i, t)), np.take(a, i))
    j = np.array([[2, 0, -1, 1], [0, 0, 1, 2]])
    assert_close(t.take_along_dim(idx(j, t), 1), np.take_along_axis(a, j, 1))
    assert_close(bp.take_along_dim(t, idx([[1]], t), dim=1), np.take_along_axis(a, np.array([[1], [1]]), 1))
    assert_close(t.take_along_dim(idx([5, 0], t)), a.reshape(-1)[[5, 0]])
    check_backward(lambda x: x.take(idx(i, x)), [a], device=device)
    check_backward(lambda x: x.take_along_dim(idx(j, x), 1), [a], device=device)
    with pytest.raises(IndexError, match="tried to access index 10 on a tensor of 6 elements"):
        t.take(idx([-1, 10], t))
    with pytest.raises(IndexError, match="out of bounds"):
        t.take_along_dim(idx([[3]], t), 1)
    with pytest.raises(ValueError, match="same number of dimensions"):
        t.take_along_dim(idx([0], t), 1)


def test_as_helpers_and_type_as(device):
    a = arr(2, 3)
    t = on(device, a)
    assert t.type_as(bp.zeros(1, dtype=bp.int64)).dtype == bp.int64
    assert t.type_as(t).dtype == t.dtype
    assert tuple(t.view_as(bp.zeros(3, 2)).shape) == (3, 2)
    assert tuple(t.reshape_as(bp.zeros(6)).shape) == (6,)
    assert tuple(t[:1].expand_as(bp.zeros(4, 2, 3)).shape) == (4, 2, 3)
    assert_close(bp.unflatten(t, 1, (3, 1)), a.reshape(2, 3, 1))
    assert tuple(t.unflatten(1, (-1, 1)).shape) == (2, 3, 1)


# ---------------------------------------------------------------- in-place forms


INPLACE = [
    ("scatter_", lambda x, d: x.scatter_(1, idx(UNIQUE[:, :2], x), d["s"]), lambda x, d: x.scatter(1, idx(UNIQUE[:, :2], x), d["s"])),
    ("scatter_value", lambda x, d: x.scatter_(1, idx(IDX, x), 2.0), lambda x, d: x.scatter(1, idx(IDX, x), 2.0)),
    ("scatter_add_", lambda x, d: x.scatter_add_(1, idx(IDX, x), d["s"]), lambda x, d: x.scatter_add(1, idx(IDX, x), d["s"])),
    ("scatter_reduce_", lambda x, d: x.scatter_reduce_(1, idx(IDX, x), d["s"], "amax"), lambda x, d: x.scatter_reduce(1, idx(IDX, x), d["s"], "amax")),
    ("index_add_", lambda x, d: x.index_add_(0, idx([2, 0], x), d["r"]), lambda x, d: x.index_add(0, idx([2, 0], x), d["r"])),
    ("index_copy_", lambda x, d: x.index_copy_(0, idx([2, 0], x), d["r"]), lambda x, d: x.index_copy(0, idx([2, 0], x), d["r"])),
    ("index_fill_", lambda x, d: x.index_fill_(1, idx([3], x), -2.0), lambda x, d: x.index_fill(1, idx([3], x), -2.0)),
    ("index_put_", lambda x, d: x.index_put_((idx([0, 0], x),), d["row"], accumulate=True), lambda x, d: x.index_put((idx([0, 0], x),), d["row"], accumulate=True)),
    ("index_put_set", lambda x, d: x.index_put_((idx([1], x),), d["row"]), lambda x, d: x.index_put((idx([1], x),), d["row"])),
    ("masked_scatter_", lambda x, d: x.masked_scatter_(d["mask"], d["flat"]), lambda x, d: x.masked_scatter(d["mask"], d["flat"])),
]


def _operands(device, requires_grad=False):
    d = {"s": arr(3, 2, seed=1), "r": arr(2, 4, seed=2), "row": arr(4, seed=3), "flat": arr(12, seed=4)}
    d = {k: on(device, v).requires_grad_(requires_grad) for k, v in d.items()}
    d["mask"] = on(device, arr(3, 4, seed=5) > 0)
    return d


@pytest.mark.parametrize("name,inplace,outplace", INPLACE, ids=[c[0] for c in INPLACE])
def test_inplace_forms_match_and_bump_the_version(device, name, inplace, outplace):
    a = arr(3, 4)
    d = _operands(device)
    x = on(device, a)
    want = outplace(x, d)
    assert inplace(x, d) is x
    assert_close(x, want)
    # the version counter moves: a backward reading the overwritten saved output fails
    e = on(device, a).requires_grad_().exp()
    inplace(e, d)
    with pytest.raises(RuntimeError, match="version"):
        e.sum().backward()
    # autograd follows the update on a non-leaf, to both the old values and the operands
    dg = _operands(device, requires_grad=True)
    leaf = on(device, a).requires_grad_()
    y = leaf * 1.0
    inplace(y, dg)
    up = on(device, arr(3, 4, seed=9))
    (y * up).sum().backward()
    leaf2 = on(device, a).requires_grad_()
    dg2 = {k: (v.detach().requires_grad_() if v.dtype != bp.bool else v) for k, v in dg.items()}
    (outplace(leaf2 * 1.0, dg2) * up).sum().backward()
    assert_close(leaf.grad, leaf2.grad)
    for k in dg:
        if dg[k].dtype != bp.bool and dg2[k].grad is not None:
            assert_close(dg[k].grad, dg2[k].grad)
    with pytest.raises(RuntimeError, match="leaf"):
        inplace(on(device, a).requires_grad_(), d)


def test_inplace_on_a_saved_tensor_is_caught():
    x = bp.tensor(arr(3, 4), requires_grad=True)
    y = x * 1.0
    z = y.exp()  # saves its output
    z.scatter_add_(1, bp.tensor(IDX), bp.ones(3, 2, dtype=bp.float64))
    with pytest.raises(RuntimeError, match="version"):
        z.sum().backward()
