"""Printing and pickling tensors (NumPy's formatting, PyTorch's layout and print options)."""

import contextlib
import math
import sys

# PyTorch's print options and their profiles (`set_printoptions`).
_PROFILES = {
    "default": {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80},
    "short": {"precision": 2, "threshold": 1000, "edgeitems": 2, "linewidth": 80},
    "full": {"precision": 4, "threshold": math.inf, "edgeitems": 3, "linewidth": 80},
}
_OPTIONS = dict(_PROFILES["default"], sci_mode=None)


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None, profile=None, sci_mode=None):
    """How tensors print, as `torch.set_printoptions`.

    Args:
        precision: digits after the decimal point (default 4).
        threshold: more elements than this print summarised with "..." (default 1000).
        edgeitems: items kept at each end of a summarised dimension (default 3).
        linewidth: characters per line before wrapping (default 80).
        profile: "default", "short" or "full" (no summarising); the other arguments given
            override it.
        sci_mode: True for scientific notation, False never, None (default) to choose
            automatically. As in PyTorch, every call sets it (to None when not given).
    """
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"Invalid profile: {profile}. the profile must be one of 'default', 'short', 'full'")
        _OPTIONS.update(_PROFILES[profile])
    for key, value in (("precision", precision), ("threshold", threshold), ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if value is not None:
            _OPTIONS[key] = value
    _OPTIONS["sci_mode"] = sci_mode


def get_printoptions():
    """The current print options (a dict of `set_printoptions`' arguments, profile aside)."""
    return dict(_OPTIONS)


@contextlib.contextmanager
def printoptions(**kwargs):
    """A context in which tensors print with `set_printoptions(**kwargs)`; restores the old
    options on exit."""
    old = get_printoptions()
    set_printoptions(**kwargs)
    try:
        yield
    finally:
        _OPTIONS.clear()
        _OPTIONS.update(old)


def _array_string(a, prefix):
    import numpy as np

    o = _OPTIONS
    threshold = o["threshold"]
    kwargs = {
        "separator": ", ",
        "prefix": prefix,
        "threshold": sys.maxsize if threshold == math.inf else int(threshold),
        "edgeitems": int(o["edgeitems"]),
        "precision": int(o["precision"]),
        "max_line_width": int(o["linewidth"]),
    }
    if o["sci_mode"] is True and a.dtype.kind == "f":
        p = int(o["precision"])
        kwargs["formatter"] = {"float_kind": lambda x: f"{x:.{p}e}"}
    elif o["sci_mode"] is False:
        kwargs["suppress_small"] = True
        kwargs["floatmode"] = "fixed"
    return np.array2string(a, **kwargs)


def tensor_repr(t):
    import numpy as np

    a = _host_array(t)
    prefix = "tensor("
    if a.size == 0:
        body = f"[], size={tuple(a.shape)}"
    else:
        body = _array_string(a, prefix)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device.type}'")
    if t.dtype.name not in ("float32", "int64", "bool"):
        extras.append(f"dtype=backprop.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


def _host_array(t):
    """A NumPy array of `t`'s values; bfloat16, which NumPy lacks, as its exact float32 values."""
    t = t.detach().cpu()
    return (t.float() if t.dtype.name == "bfloat16" else t).numpy()


def tensor_reduce(t):
    return (_rebuild, (_host_array(t).copy(), t.requires_grad and t.is_leaf, t.device.type, t.dtype.name))


def _rebuild(array, requires_grad, device, dtype=None):
    import backprop

    x = backprop.tensor(array, device=device, dtype=getattr(backprop, dtype) if dtype else None)
    if requires_grad:
        x.requires_grad_()
    return x
