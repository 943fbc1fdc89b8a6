"""Shape functions that are compositions of tensor methods: stacking (`hstack`, `vstack`,
`dstack`, `column_stack`), broadcasting (`broadcast_tensors`, `broadcast_shapes`),
`meshgrid` and `atleast_*d`. Views where PyTorch returns views; the rest copies through
`cat`, so gradients flow through every one of them.

The engine's methods of the same family (`flip`, `roll`, `scatter`, `index_add`, ...) are
bound here as module-level functions too, so `backprop.flip(x, dims)` is `x.flip(dims)`.
"""

from backprop._core import Tensor, cat

_T = Tensor
flip = _T.flip
fliplr = _T.fliplr
flipud = _T.flipud
roll = _T.roll
rot90 = _T.rot90
tile = _T.tile
repeat_interleave = _T.repeat_interleave
movedim = _T.movedim
moveaxis = _T.moveaxis
swapaxes = _T.swapaxes
swapdims = _T.swapdims
broadcast_to = _T.broadcast_to
scatter = _T.scatter
scatter_add = _T.scatter_add
scatter_reduce = _T.scatter_reduce
index_add = _T.index_add
index_copy = _T.index_copy
index_fill = _T.index_fill
index_put = _T.index_put
masked_select = _T.masked_select
masked_scatter = _T.masked_scatter
take = _T.take
take_along_dim = _T.take_along_dim
argwhere = _T.argwhere
unflatten = _T.unflatten


def nonzero(input, *, as_tuple=False):
    """Coordinates of the non-zero elements of `input`: shape (count, ndim), or with
    `as_tuple=True` one 1-D int64 tensor per dim."""
    return input.nonzero(as_tuple=as_tuple)


def concat(tensors, dim=0):
    """Alias of `cat`: concatenates `tensors` along `dim`."""
    return cat(tensors, dim)


concatenate = concat


def broadcast_shapes(*shapes):
    """The shape that tensors of `shapes` broadcast to (NumPy's rule), as a tuple.

    Each shape is a tuple of ints or one int. Raises ValueError when they do not broadcast."""
    out = []
    for shape in shapes:
        dims = (shape,) if isinstance(shape, int) else tuple(shape)
        for d in dims:
            if d < 0:
                raise ValueError(f"broadcast_shapes: trying to create a tensor with negative dimension {d}: {list(dims)}")
        if len(dims) > len(out):
            out = [1] * (len(dims) - len(out)) + out
        for i, d in enumerate(dims):
            j = len(out) - len(dims) + i
            if out[j] == 1:
                out[j] = d
            elif d != 1 and d != out[j]:
                raise ValueError(
                    f"broadcast_shapes: shape mismatch: objects cannot be broadcast to a single shape; "
                    f"the size {d} of shape {list(dims)} does not match {out[j]} at dimension {j}"
                )
    return tuple(out)


def broadcast_tensors(*tensors):
    """Views of `tensors` expanded to their common broadcast shape (no copies)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    shape = broadcast_shapes(*(tuple(t.shape) for t in tensors))
    return tuple(t.expand(*shape) for t in tensors)


def meshgrid(*tensors, indexing="ij"):
    """Coordinate grids from 1-D (or 0-D) tensors, as views.

    Args: tensors: the coordinate vectors (varargs or one list); indexing: "ij" (matrix,
    the default) or "xy" (Cartesian: the first two output dims swapped).
    Returns: a tuple of tensors, each of shape (len(t0), len(t1), ...)."""
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        tensors = tuple(tensors[0])
    if indexing not in ("ij", "xy"):
        raise ValueError(f'meshgrid: indexing must be "ij" or "xy", got {indexing!r}')
    if not tensors:
        raise ValueError("meshgrid: expects a non-empty list of tensors")
    for t in tensors:
        if t.ndim > 1:
            raise ValueError(f"meshgrid: expects 0-D or 1-D tensors, got a tensor of shape {tuple(t.shape)}")
    vecs = [t.reshape(-1) for t in tensors]
    swap = indexing == "xy" and len(vecs) >= 2
    if swap:
        vecs[0], vecs[1] = vecs[1], vecs[0]
    shape = tuple(v.shape[0] for v in vecs)
    n = len(vecs)
    grids = []
    for i, v in enumerate(vecs):
        view = [1] * n
        view[i] = shape[i]
        grids.append(v.reshape(*view).expand(*shape))
    if swap:
        grids[0], grids[1] = grids[1], grids[0]
    return tuple(grids)


def _seq(tensors, op):
    if isinstance(tensors, Tensor) or not isinstance(tensors, (list, tuple)):
        raise TypeError(f"{op}(): expects a sequence of tensors, got {type(tensors).__name__}")
    if not tensors:
        raise ValueError(f"{op}(): expects a non-empty sequence of tensors")
    return tensors


def atleast_1d(*tensors):
    """Each tensor viewed with at least one dim (0-D becomes shape (1,))."""
    out = tuple(t.reshape(1) if t.ndim == 0 else t for t in _flat_args(tensors))
    return out[0] if len(out) == 1 else out


def atleast_2d(*tensors):
    """Each tensor viewed with at least two dims (1-D (n,) becomes (1, n))."""
    out = tuple(t.reshape(1, -1) if t.ndim < 2 else t for t in _flat_args(tensors))
    return out[0] if len(out) == 1 else out


def atleast_3d(*tensors):
    """Each tensor viewed with at least three dims ((n,) becomes (1, n, 1); (m, n) becomes (m, n, 1))."""

    def lift(t):
        if t.ndim == 0:
            return t.reshape(1, 1, 1)
        if t.ndim == 1:
            return t.reshape(1, -1, 1)
        if t.ndim == 2:
            return t.unsqueeze(-1)
        return t

    out = tuple(lift(t) for t in _flat_args(tensors))
    return out[0] if len(out) == 1 else out


def _flat_args(tensors):
    if len(tensors) == 1 and isinstance(tensors[0], (list, tuple)):
        return tuple(tensors[0])
    return tensors


def hstack(tensors):
    """Concatenates column-wise: along dim 1, or dim 0 for 1-D tensors."""
    ts = [atleast_1d(t) for t in _seq(tensors, "hstack")]
    return cat(ts, 0 if ts[0].ndim == 1 else 1)


def vstack(tensors):
    """Concatenates row-wise (dim 0), 1-D tensors taken as rows."""
    return cat([atleast_2d(t) for t in _seq(tensors, "vstack")], 0)


row_stack = vstack


def dstack(tensors):
    """Concatenates depth-wise (dim 2), after `atleast_3d`."""
    return cat([atleast_3d(t) for t in _seq(tensors, "dstack")], 2)


def column_stack(tensors):
    """Stacks 0-D and 1-D tensors as columns, concatenating 2-D tensors along dim 1."""
    cols = [t.reshape(-1, 1) if t.ndim <= 1 else t for t in _seq(tensors, "column_stack")]
    return cat(cols, 1)


__all__ = [
    "argwhere", "atleast_1d", "atleast_2d", "atleast_3d", "broadcast_shapes", "broadcast_tensors", "broadcast_to",
    "column_stack", "concat", "concatenate", "dstack", "flip", "fliplr", "flipud", "hstack", "index_add", "index_copy",
    "index_fill", "index_put", "masked_scatter", "masked_select", "meshgrid", "moveaxis", "movedim", "nonzero", "roll",
    "rot90", "row_stack", "scatter", "scatter_add", "scatter_reduce", "swapaxes", "swapdims", "take", "take_along_dim",
    "tile", "unflatten", "vstack", "repeat_interleave",
]
