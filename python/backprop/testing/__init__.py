"""backprop.testing: check your gradients the way backprop checks its own.

- :func:`assert_close` and :func:`make_tensor`, as ``torch.testing``'s;
- :mod:`backprop.testing.strategies`: hypothesis strategies for shapes, broadcastable
  shapes, tensors (non-contiguous ones included), axes, dtypes, and values kept away from
  the kinks of non-smooth functions;
- :func:`check_gradients`: a function of tensors against a NumPy forward, a NumPy vjp and
  float64 central differences, on CPU and GPU, to first or second order;
- :func:`given_gradients`: the strategies and check_gradients in one decorator, with
  hypothesis shrinking a failure to a minimal shape and value;
- a pytest plugin (``bp_device`` fixture, ``--bp-gpu`` option), active once backprop is
  installed.

The strategies and given_gradients need hypothesis (``pip install hypothesis``); the rest
needs only NumPy.
"""

from backprop.testing._comparison import assert_close, default_tolerances
from backprop.testing._creation import make_tensor
from backprop.testing._given import given_gradients
from backprop.testing._gradients import GradientCheckError, check_gradients

__all__ = [
    "assert_close",
    "default_tolerances",
    "make_tensor",
    "check_gradients",
    "given_gradients",
    "GradientCheckError",
    "strategies",
]


def __getattr__(name):
    # hypothesis is imported only by what needs it (given_gradients imports it when called)
    if name == "strategies":
        import importlib

        return importlib.import_module("backprop.testing.strategies")
    raise AttributeError(f"module 'backprop.testing' has no attribute {name!r}")
