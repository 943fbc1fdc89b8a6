"""Anomaly detection, PyTorch's `torch.autograd.detect_anomaly` and `set_detect_anomaly`.

While it is on, each recorded op keeps the traceback of its forward call, and a backward
whose node returns NaN raises RuntimeError("Function 'DivBackward0' returned nan values in
its 0th output.") after warning with that node's forward traceback. Off (the default),
nothing is captured.
"""

import functools
import warnings

from backprop import _core

__all__ = ["detect_anomaly", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "set_detect_anomaly"]

is_anomaly_enabled = _core.is_anomaly_enabled
is_anomaly_check_nan_enabled = _core.is_anomaly_check_nan_enabled


class _AnomalyScope:
    def __init__(self, mode, check_nan):
        self.mode = bool(mode)
        self.check_nan = bool(check_nan)

    def __enter__(self):
        self.previous = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        _core._set_anomaly_enabled(self.mode, self.check_nan)
        return self

    def __exit__(self, *exc):
        _core._set_anomaly_enabled(*self.previous)
        return False

    def __call__(self, fn):
        """Used as a decorator: `fn` runs with this setting."""
        mode, check_nan = self.mode, self.check_nan

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with _AnomalyScope(mode, check_nan):
                return fn(*args, **kwargs)

        return wrapper


class detect_anomaly(_AnomalyScope):
    """Context manager (or decorator) that turns anomaly detection on. `check_nan=False`
    keeps the forward tracebacks but does not check gradients for NaN."""

    def __init__(self, check_nan=True):
        warnings.warn(
            "Anomaly Detection has been enabled. This mode will increase the runtime and should only be enabled "
            "for debugging.",
            stacklevel=2,
        )
        super().__init__(True, check_nan)


class set_detect_anomaly(_AnomalyScope):
    """Turns anomaly detection on or off: at once (as a function call), or for a `with` block
    after which the previous setting returns."""

    def __init__(self, mode, check_nan=True):
        self.previous = (is_anomaly_enabled(), is_anomaly_check_nan_enabled())
        super().__init__(mode, check_nan)
        _core._set_anomaly_enabled(self.mode, self.check_nan)

    def __enter__(self):
        return self
