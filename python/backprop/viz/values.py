"""Reading tensor values back (from any device) and writing them the way the slides do:
two decimals for numbers, the values of small tensors, shape and a summary for large ones."""

import math

SMALL = 16  # tensors up to this many elements are shown element by element


def to_numpy(t):
    """A NumPy copy of a tensor's values, read back from the GPU if it lives there."""
    return t.detach().cpu().numpy()


def number(v, digits=2):
    """`-0.20`, `0.73`, `1.37e-05`: fixed point unless that would hide the value."""
    v = float(v)
    if math.isnan(v):
        return "nan"
    if v in (float("inf"), float("-inf")):
        return "inf" if v > 0 else "-inf"
    if v == 0:
        return f"{0:.{digits}f}"
    if 10.0**-digits <= abs(v) < 1e5:
        return f"{v:.{digits}f}"
    return f"{v:.{digits}e}"


def _element(v, digits):
    """One element of `ndarray.tolist()`: bools and ints as they are, floats as numbers."""
    if isinstance(v, (bool, int)):
        return str(v)
    return number(v, digits)


def rows(a, digits=2):
    """The values of a small array as text lines: one line for a vector, one per row of a
    matrix, one flat line (after its shape) for more dimensions."""
    if a.ndim == 0:
        return [_element(a.item(), digits)]
    if a.ndim == 1:
        return ["[" + ", ".join(_element(v, digits) for v in a.tolist()) + "]"]
    if a.ndim == 2:
        return ["[" + ", ".join(_element(v, digits) for v in row) + "]" for row in a.tolist()]
    return [f"{tuple(a.shape)}: [" + ", ".join(_element(v, digits) for v in a.reshape(-1).tolist()) + "]"]


def summary(a, digits=2):
    """`mean 0.01 std 0.99 min -3.10 max 3.30` (NaN-aware; empty tensors say so)."""
    import numpy as np

    if a.size == 0:
        return "empty"
    if a.dtype == np.bool_:
        return f"{int(a.sum())} true"
    x = a.astype(np.float64)
    finite = x[np.isfinite(x)]
    text = f"mean {number(finite.mean(), digits)} std {number(finite.std(), digits)}" if finite.size else "no finite values"
    text += f" min {number(x.min(), digits)} max {number(x.max(), digits)}" if finite.size == x.size else f" ({x.size - finite.size} not finite)"
    return text


def describe(a, digits=2, small=SMALL):
    """Text lines for an array: its values when small, else its shape and a summary."""
    if a.size <= small:
        return rows(a, digits)
    return [f"shape {tuple(a.shape)}", summary(a, digits)]


def one_line(a, digits=2, small=SMALL):
    """`describe` on one line (for code comments)."""
    if a.size <= small and a.ndim == 2:
        return "[" + ", ".join(rows(a, digits)) + "]"
    return ", ".join(describe(a, digits, small))
