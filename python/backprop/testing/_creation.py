"""make_tensor: PyTorch's `torch.testing.make_tensor` for backprop."""

import math

import numpy as np

import backprop as bp

_FLOAT = {"float16", "bfloat16", "float32", "float64"}


def _dtype(d):
    if isinstance(d, bp.dtype):
        return d
    name = d if isinstance(d, str) else np.dtype(d).name
    found = getattr(bp, name, None)
    if not isinstance(found, bp.dtype):
        raise TypeError(f"make_tensor: unknown dtype {d!r}")
    return found


def _int_limits(name):
    if name == "bool":
        return 0, 2
    info = np.iinfo(name)
    # randint cannot draw int64's maximum (its exclusive bound would overflow)
    return int(info.min), int(info.max) + (0 if name == "int64" else 1)


def make_tensor(
    *shape,
    dtype,
    device,
    low=None,
    high=None,
    requires_grad=False,
    noncontiguous=False,
    exclude_zero=False,
):
    """A tensor of `shape` (ints, or one sequence of ints) filled with values drawn
    uniformly from ``[low, high)``, as ``torch.testing.make_tensor``.

    Defaults: floats ``[-9, 9)``, signed integers ``[-9, 10)``, unsigned ``[0, 10)``, bool
    ``[0, 2)``; bounds outside the dtype's finite range are clamped to it, and integer bounds
    are rounded up. ``noncontiguous=True`` returns a strided view (every second element of a
    buffer twice as long in the last dimension, offset by one) when the tensor has two or
    more elements. ``exclude_zero=True`` replaces zeros by the dtype's smallest normal number
    (floats) or by one (integers, bool). Draws come from backprop's generator
    (``backprop.manual_seed``).

    Raises ValueError for ``low >= high`` (except ``low == high`` for floats, which gives a
    constant tensor), NaN bounds, an interval outside the dtype's range, or
    ``requires_grad=True`` with an integer or bool dtype.
    """
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        shape = tuple(shape[0])
    shape = tuple(int(s) for s in shape)
    dt = _dtype(dtype)
    name = dt.name
    floating = name in _FLOAT
    if requires_grad and not floating:
        raise ValueError(f"`requires_grad=True` is not supported for boolean and integral dtypes, but got dtype={dt}")
    if floating:
        fi = np.finfo(np.float32 if name == "bfloat16" else name)
        lo_in, hi_ex, d_lo, d_hi = float(fi.min), float(fi.max), -9, 9
        if name == "bfloat16":
            lo_in, hi_ex = -3.3895313892515355e38, 3.3895313892515355e38
    else:
        lo_in, hi_ex = _int_limits(name)
        d_lo, d_hi = (0, 2) if name == "bool" else (-9, 10)
    low, high = _bounds(low, high, lo_in, hi_ex, d_lo, d_hi, floating, dt)

    numel = math.prod(shape)
    noncontiguous = noncontiguous and numel > 1
    full_shape = (*shape[:-1], 2 * shape[-1]) if noncontiguous else shape
    if floating:
        if low == high:
            result = bp.full(full_shape, low, dtype=dt, device=device)
        elif high - low >= hi_ex:  # the width itself overflows: draw half the range, then double
            result = bp.empty(*full_shape, dtype=dt, device=device).uniform_(low / 2, high / 2) * 2
        else:
            result = bp.empty(*full_shape, dtype=dt, device=device).uniform_(low, high)
    elif name == "bool":
        result = bp.randint(low, high, full_shape, device=device) == 1
    else:
        result = bp.randint(low, high, full_shape, dtype=dt, device=device)
    if noncontiguous:
        result = result[..., 1::2]  # the offset of one also catches offset bugs
    if exclude_zero:
        zero = result == 0
        if floating:
            result[zero] = float(np.finfo(np.float32 if name == "bfloat16" else name).tiny)
        else:
            result[zero] = True if name == "bool" else 1
    if floating and requires_grad:
        result.requires_grad_(True)
    return result


def _bounds(low, high, lo_in, hi_ex, d_lo, d_hi, floating, dt):
    low = d_lo if low is None else low
    high = d_hi if high is None else high
    if any(isinstance(v, float) and math.isnan(v) for v in (low, high)):
        raise ValueError(f"`low` and `high` cannot be NaN, but got low={low} and high={high}")
    if low == high and floating:
        pass
    elif low >= high:
        raise ValueError(f"`low` must be less than `high`, but got {low} >= {high}")
    elif high < lo_in or low >= hi_ex:
        raise ValueError(
            f"The value interval specified by `low` and `high` is [{low}, {high}), "
            f"but {dt} only supports [{lo_in}, {hi_ex})"
        )
    low = min(max(low, lo_in), hi_ex)
    high = min(max(high, lo_in), hi_ex)
    if not floating:
        return math.ceil(low), math.ceil(high)
    return float(low), float(high)
