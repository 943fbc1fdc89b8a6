"""Grad-mode context managers (the flag itself is thread-local in the engine)."""

from typing import Any

import functools

from backprop._core import _set_grad_enabled, is_grad_enabled


class _GradMode:
    _enabled = True

    def __enter__(self) -> Any:
        self._prev = is_grad_enabled()
        _set_grad_enabled(self._enabled)
        return self

    def __exit__(self, *exc: object) -> None:
        _set_grad_enabled(self._prev)
        return False

    def __call__(self, fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with self.__class__():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradMode):
    """Context manager and decorator: ops inside record no graph."""

    _enabled = False


class enable_grad(_GradMode):
    """Context manager and decorator: turns recording back on inside a `no_grad` block."""

    _enabled = True


class set_grad_enabled(_GradMode):
    """`set_grad_enabled(mode)`: sets grad mode immediately, or for a `with` block."""

    def __init__(self, mode) -> None:
        self._enabled = mode
        self._prev = is_grad_enabled()
        _set_grad_enabled(mode)

    def __enter__(self) -> Any:
        return self

    def __call__(self, fn):
        _set_grad_enabled(self._prev)
        mode = self._enabled

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with set_grad_enabled(mode):
                return fn(*args, **kwargs)

        return wrapper
