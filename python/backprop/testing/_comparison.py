"""assert_close: PyTorch's `torch.testing.assert_close` for backprop tensors, NumPy arrays,
Python numbers and nested sequences or mappings of them."""

import math
from collections.abc import Mapping, Sequence

import numpy as np

import backprop as bp

# PyTorch's default (rtol, atol) per dtype; integer and bool dtypes compare exactly.
DTYPE_PRECISIONS = {
    "float16": (1e-3, 1e-5),
    "bfloat16": (1.6e-2, 1e-5),
    "float32": (1.3e-6, 1e-5),
    "float64": (1e-7, 1e-7),
}


def default_tolerances(*dtypes):
    """The (rtol, atol) assert_close uses for values of these dtypes (names or dtype objects):
    the loosest of each dtype's default."""
    pairs = [DTYPE_PRECISIONS.get(_dtype_name(d), (0.0, 0.0)) for d in dtypes]
    return max(p[0] for p in pairs), max(p[1] for p in pairs)


def _dtype_name(d):
    if isinstance(d, str):
        return d
    if isinstance(d, bp.dtype):
        return d.name
    return np.dtype(d).name


def _is_tensor_like(x):
    return isinstance(x, (bp.Tensor, np.ndarray, np.generic))


def _is_number(x):
    return isinstance(x, (bool, int, float, complex)) and not isinstance(x, np.generic)


def _values(x):
    """(NumPy array, dtype name, device name) of a tensor-like."""
    if isinstance(x, bp.Tensor):
        return x.detach().cpu().numpy(), x.dtype.name, str(x.device)
    a = np.asarray(x)
    return a, a.dtype.name, "cpu"


def _qualified(name, of_tensor):
    return f"backprop.{name}" if of_tensor else name


class _Mismatch(AssertionError):
    pass


def assert_close(
    actual,
    expected,
    *,
    rtol=None,
    atol=None,
    equal_nan=False,
    check_dtype=True,
    check_device=True,
    msg=None,
):
    """Asserts that `actual` and `expected` are close, as ``torch.testing.assert_close``.

    Tensor-likes (backprop tensors and NumPy arrays, which may be mixed) must have the same
    shape, and unless disabled the same dtype and device; then every element must satisfy
    ``|actual - expected| <= atol + rtol * |expected|``. Without `rtol` and `atol` the
    defaults of the dtype apply (float16 1e-3/1e-5, bfloat16 1.6e-2/1e-5, float32
    1.3e-6/1e-5, float64 1e-7/1e-7, integers and bool exactly); pass both or neither.
    Python numbers are compared as scalars; sequences and mappings are compared item by item.
    NaNs are equal only with ``equal_nan=True``; infinities only to the same infinity.

    The error message gives the number of mismatched elements, the greatest absolute and
    relative differences with their indices, and the first mismatched elements. `msg`
    replaces it (a string) or rewrites it (a callable taking the generated message).
    """
    if (rtol is None) != (atol is None):
        missing = "atol" if atol is None else "rtol"
        raise ValueError(f"Both 'rtol' and 'atol' must be either specified or omitted, but got no {missing}.")
    # An explicit stack instead of recursion: nesting depth is the user's data.
    stack = [(actual, expected, "")]
    while stack:
        a, e, path = stack.pop()
        try:
            children = _compare(a, e, rtol, atol, equal_nan, check_dtype, check_device)
        except _Mismatch as err:
            text = str(err)
            if path:
                text += f"\n\nThe failure occurred for item {path}"
            if callable(msg):
                text = msg(text)
            elif msg is not None:
                text = msg
            raise AssertionError(text) from None
        for key, ca, ce in reversed(children):
            stack.append((ca, ce, f"{path}[{key!r}]"))


def _compare(a, e, rtol, atol, equal_nan, check_dtype, check_device):
    """Compares one pair; returns the child pairs of a sequence or mapping pair."""
    if _is_tensor_like(a) and _is_tensor_like(e):
        _compare_tensor_likes(a, e, rtol, atol, equal_nan, check_dtype, check_device)
        return []
    if _is_number(a) and _is_number(e):
        _compare_scalars(a, e, rtol, atol, equal_nan, check_dtype)
        return []
    if isinstance(a, Mapping) and isinstance(e, Mapping):
        if set(a) != set(e):
            missing = sorted(map(repr, set(e) - set(a)))
            extra = sorted(map(repr, set(a) - set(e)))
            raise _Mismatch(
                "The keys of the mappings do not match:\n"
                f"Missing keys in the actual mapping: {', '.join(missing) or 'none'}\n"
                f"Additional keys in the actual mapping: {', '.join(extra) or 'none'}"
            )
        return [(k, a[k], e[k]) for k in e]
    if _is_sequence(a) and _is_sequence(e):
        if len(a) != len(e):
            raise _Mismatch(f"The length of the sequences mismatch: {len(a)} != {len(e)}")
        return [(i, x, y) for i, (x, y) in enumerate(zip(a, e))]
    raise TypeError(
        f"No comparison pair was able to handle inputs of type {type(a)} and {type(e)} "
        "(assert_close compares tensors and NumPy arrays with each other, numbers with numbers, "
        "and sequences or mappings item by item; wrap a list in np.asarray to compare it as an array)"
    )


def _is_sequence(x):
    return isinstance(x, Sequence) and not isinstance(x, (str, bytes))


def _compare_scalars(a, e, rtol, atol, equal_nan, check_dtype):
    if check_dtype and type(a) is not type(e):
        raise _Mismatch(f"The (d)types do not match: {type(a)} != {type(e)}.")
    if rtol is None:
        rtol, atol = default_tolerances("float64") if isinstance(a, float) or isinstance(e, float) else (0.0, 0.0)
    if a == e or (equal_nan and _isnan(a) and _isnan(e)):
        return
    diff = abs(a - e)
    if diff <= atol + rtol * abs(e):
        return
    rel = diff / abs(e) if e != 0 else math.inf
    exact = rtol == 0 and atol == 0
    raise _Mismatch(
        f"Scalars are not {'equal' if exact else 'close'}!\n\n"
        f"Expected {e} but got {a}.\n"
        f"Absolute difference: {diff}{'' if exact else f' (up to {atol} allowed)'}\n"
        f"Relative difference: {rel}{'' if exact else f' (up to {rtol} allowed)'}"
    )


def _isnan(x):
    return isinstance(x, (float, complex)) and x != x


def _compare_tensor_likes(a, e, rtol, atol, equal_nan, check_dtype, check_device):
    av, adt, adev = _values(a)
    ev, edt, edev = _values(e)
    if av.shape != ev.shape:
        raise _Mismatch(f"The values for attribute 'shape' do not match: {av.shape} != {ev.shape}.")
    if check_device and adev != edev:
        raise _Mismatch(f"The values for attribute 'device' do not match: {adev} != {edev}.")
    if check_dtype and adt != edt:
        raise _Mismatch(
            f"The values for attribute 'dtype' do not match: "
            f"{_qualified(adt, isinstance(a, bp.Tensor))} != {_qualified(edt, isinstance(e, bp.Tensor))}."
        )
    if rtol is None:
        rtol, atol = default_tolerances(adt, edt)
    mismatch = _mismatches(av, ev, rtol, atol, equal_nan)
    if not mismatch.any():
        return
    raise _Mismatch(_describe(av, ev, mismatch, rtol, atol))


def _mismatches(av, ev, rtol, atol, equal_nan):
    exact_ints = rtol == 0 and atol == 0 and av.dtype.kind in "biu" and ev.dtype.kind in "biu"
    if exact_ints:  # no float64 round trip: int64 values beyond 2**53 stay distinct
        return av != ev
    a = av.astype(np.float64)
    e = ev.astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        # an infinity is close only to the same infinity (inf - inf is NaN, inf <= inf holds)
        close = (a == e) | (np.isfinite(a) & np.isfinite(e) & (np.abs(a - e) <= atol + rtol * np.abs(e)))
    if equal_nan:
        close |= np.isnan(a) & np.isnan(e)
    return ~close


def _describe(av, ev, mismatch, rtol, atol):
    a = av.astype(np.float64)
    e = ev.astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        abs_diff = np.abs(a - e)
        rel_diff = abs_diff / np.abs(e)
    # Where a NaN or an infinity is involved the difference is NaN; it counts as the largest.
    abs_diff = np.where(mismatch & np.isnan(abs_diff), np.inf, abs_diff)
    rel_diff = np.where(mismatch & np.isnan(rel_diff), np.inf, rel_diff)
    abs_diff = np.where(np.isnan(abs_diff), 0.0, abs_diff)
    rel_diff = np.where(np.isnan(rel_diff), 0.0, rel_diff)
    n, total = int(mismatch.sum()), mismatch.size
    exact = rtol == 0 and atol == 0
    ia = np.unravel_index(int(np.argmax(abs_diff)), a.shape) if a.ndim else ()
    ir = np.unravel_index(int(np.argmax(rel_diff)), a.shape) if a.ndim else ()
    ia = tuple(int(i) for i in ia)
    ir = tuple(int(i) for i in ir)
    lines = [
        f"Tensor-likes are not {'equal' if exact else 'close'}!",
        "",
        f"Mismatched elements: {n} / {total} ({100.0 * n / total:.1f}%)",
        f"Greatest absolute difference: {_num(abs_diff[ia], a[ia], e[ia])} at index {ia}"
        + ("" if exact else f" (up to {atol} allowed)"),
        f"Greatest relative difference: {_num(rel_diff[ir], a[ir], e[ir], rel=True)} at index {ir}"
        + ("" if exact else f" (up to {rtol} allowed)"),
    ]
    shown = np.argwhere(mismatch)[:5] if a.ndim else [()]
    lines.append("Mismatched elements (index: actual vs expected):")
    for idx in shown:
        idx = tuple(int(i) for i in idx)
        lines.append(f"  {idx}: {av[idx].item()!r} vs {ev[idx].item()!r}")
    if n > len(shown):
        lines.append(f"  ... and {n - len(shown)} more")
    return "\n".join(lines)


def _num(diff, a, e, rel=False):
    if np.isnan(a) or np.isnan(e):
        return "nan"
    if np.isinf(diff) and not rel:
        return "inf"
    return f"{float(diff):.6g}"
