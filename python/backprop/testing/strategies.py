"""Hypothesis strategies for backprop tensors: shapes, broadcastable shapes, tensors, axes,
dtypes, and element strategies that keep away from the kinks of non-smooth functions.

    from backprop.testing.strategies import tensors, shapes, away_from
    @given(x=tensors(shape=shapes(max_dims=3), elements=away_from([0.0], 1e-2)))
    def test_relu(x): ...

Everything shrinks the way hypothesis does: towards fewer dimensions, smaller sides and
simpler values, so a failure is reported at a minimal shape and value.
"""

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import backprop as bp

__all__ = ["shapes", "broadcastable_shapes", "tensors", "arrays", "axes", "dtypes", "floats", "away_from"]


def shapes(min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tensor shapes (tuples of ints) with `min_dims` to `max_dims` dimensions, each side
    between `min_side` and `max_side`; ``min_side=0`` admits zero-size tensors."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(n=2, min_dims=0, max_dims=3, min_side=1, max_side=4):
    """Tuples of `n` shapes that broadcast together (NumPy's and PyTorch's rule): the
    shapes may differ in rank and have ones where the others do not."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=n, min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side
    ).map(lambda s: tuple(s.input_shapes))


def floats(low=-3.0, high=3.0, width=64):
    """Finite floats in ``[low, high]`` (no subnormals), representable in `width` bits."""
    return st.floats(low, high, allow_nan=False, allow_infinity=False, allow_subnormal=False, width=width)


def away_from(points, margin=1e-2, *, low=-3.0, high=3.0, width=64):
    """Floats in ``[low, high]`` at least `margin` from each of `points`: the places where a
    function is not differentiable (``relu`` at 0, ``clamp`` at its bounds), where central
    differences straddle the kink and disagree with any one-sided derivative.

    A value that lands near a point is moved `margin` beyond it, so shrinking still works.
    """
    points = tuple(float(p) for p in np.atleast_1d(points))
    if margin < 0:
        raise ValueError(f"away_from: margin must be >= 0, got {margin}")
    # The move may land near another point when points are closer than 2 * margin; the
    # filter drops those rare draws instead of returning a value the caller ruled out.
    step = margin * (1 + 2**-20)

    def move(x):
        for p in points:
            if abs(x - p) < margin:
                up = p + step
                x = up if up <= high else p - step
        return x

    def far(x):
        return low <= x <= high and all(abs(x - p) >= margin for p in points)

    return floats(low, high, width).map(move).filter(far)


def _dtype(d):
    if isinstance(d, bp.dtype):
        return d
    return getattr(bp, d if isinstance(d, str) else np.dtype(d).name)


def dtypes(device="cpu", floating=True, integral=False, boolean=False):
    """The dtypes `device` holds, of the kinds asked for: float64 and float32 on the CPU,
    float32 on the GPU (which has no float64); int64 with ``integral=True``, bool with
    ``boolean=True``. Shrinks towards the first, the most precise."""
    names = []
    if floating:
        names += ["float32"] if str(device).startswith("gpu") else ["float64", "float32"]
    if integral:
        names.append("int64")
    if boolean:
        names.append("bool")
    if not names:
        raise ValueError("dtypes: ask for at least one kind (floating, integral or boolean)")
    return st.sampled_from([getattr(bp, n) for n in names if hasattr(bp, n)])


def _as_strategy(x):
    return x if isinstance(x, st.SearchStrategy) else st.just(x)


def _np_dtype(dt):
    return np.dtype("float32" if dt.name in ("float16", "bfloat16") else dt.name)


def _default_elements(dt):
    if dt.name == "bool":
        return st.booleans()
    if dt.name.startswith(("int", "uint")):
        return st.integers(-9, 9) if not dt.name.startswith("uint") else st.integers(0, 9)
    return floats(-9.0, 9.0, width=32 if dt.name != "float64" else 64)


@st.composite
def arrays(draw, dtype="float64", shape=None, elements=None):
    """NumPy arrays of `dtype` and `shape` (a tuple or a strategy; default :func:`shapes`)
    with `elements` (a strategy; default floats in [-9, 9], as ``make_tensor``)."""
    dt = _dtype(draw(_as_strategy(dtype)))
    shp = draw(_as_strategy(shapes() if shape is None else shape))
    elems = _default_elements(dt) if elements is None else elements
    return draw(hnp.arrays(_np_dtype(dt), shp, elements=elems))


@st.composite
def tensors(draw, dtype="float32", shape=None, elements=None, device="cpu", noncontiguous=False, requires_grad=False):
    """backprop tensors. Each argument may be a value or a strategy: `dtype` (default
    float32), `shape` (default :func:`shapes`), `elements` (a strategy for the values;
    default floats in [-9, 9] as ``make_tensor``; use :func:`away_from` near kinks),
    `device`, `noncontiguous` (a strided view into a larger buffer, when the tensor has
    two or more elements) and `requires_grad` (float dtypes only)."""
    dt = _dtype(draw(_as_strategy(dtype)))
    shp = tuple(draw(_as_strategy(shapes() if shape is None else shape)))
    dev = draw(_as_strategy(device))
    strided = draw(_as_strategy(noncontiguous)) and int(np.prod(shp)) > 1
    grad = draw(_as_strategy(requires_grad))
    elems = _default_elements(dt) if elements is None else elements
    if strided:
        # The values sit at the odd positions of a last dimension twice as long; the even
        # positions hold other draws, so reading the wrong element gives a wrong answer.
        big = draw(hnp.arrays(_np_dtype(dt), (*shp[:-1], 2 * shp[-1]), elements=elems))
        t = bp.tensor(big, dtype=dt, device=dev)[..., 1::2]
    else:
        t = bp.tensor(draw(hnp.arrays(_np_dtype(dt), shp, elements=elems)), dtype=dt, device=dev)
    if grad:
        t.requires_grad_(True)
    return t


@st.composite
def axes(draw, ndim, min_size=0, max_size=None, negative=True):
    """Tuples of distinct dimensions of an `ndim`-dimensional tensor, for ``dim=``
    arguments; with `negative` a dimension may be given from the end (-1 is the last)."""
    if ndim == 0:
        return ()
    top = ndim if max_size is None else min(max_size, ndim)
    lo = -ndim if negative else 0
    dims = draw(st.lists(st.integers(lo, ndim - 1), min_size=min_size, max_size=top, unique_by=lambda d: d % ndim))
    return tuple(dims)
