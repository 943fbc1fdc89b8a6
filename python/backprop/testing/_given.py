"""given_gradients: hypothesis strategies feeding check_gradients, as one decorator."""

import functools
import inspect

import numpy as np

import backprop as bp
from backprop.testing._gradients import check_gradients


def _contains_tensor(x):
    if isinstance(x, bp.Tensor):
        return True
    return isinstance(x, (tuple, list)) and any(_contains_tensor(v) for v in x)


def _split(result):
    """(outputs, reference or None) from what a test returned: `out`, or `(out, reference)`
    where the reference holds no backprop tensor."""
    if isinstance(result, tuple) and len(result) == 2 and _contains_tensor(result[0]) and not _contains_tensor(result[1]):
        return result[0], result[1]
    return result, None


def _differentiable(x):
    if isinstance(x, bp.Tensor):
        return x.is_floating_point()
    return isinstance(x, np.ndarray) and x.dtype.kind == "f"


def _as_input(x, differentiate):
    if isinstance(x, bp.Tensor):
        return x.detach().requires_grad_(True) if differentiate else x.detach()
    if isinstance(x, np.ndarray) and not differentiate:
        return bp.tensor(x)  # a tensor without requires_grad is a constant for check_gradients
    return x


def given_gradients(*, wrt=None, numpy_vjp=None, **options_and_strategies):
    """Decorates a test so that hypothesis draws its arguments and check_gradients checks
    what it returns:

        @given_gradients(x=tensors(shape=shapes(max_dims=3)), y=tensors(...))
        def test_my_loss(x, y):
            return my_loss(x, y), numpy_reference(np.asarray(x), np.asarray(y))

    The test returns its output (a tensor or a tuple of tensors), or ``(output, reference)``
    with a NumPy reference for the forward pass. Keyword arguments that are hypothesis
    strategies draw the test's arguments; the others are check_gradients' options
    (`numpy_vjp`, `eps`, `atol`, `rtol`, `order`, `devices`, `dtypes`, `forward_rtol`,
    `forward_atol`). `wrt` names the drawn arguments to differentiate (default: every
    floating-point tensor or array drawn). A test argument named `bp_device` (the pytest
    plugin's fixture) chooses the device. A failure is shrunk by hypothesis to a minimal
    shape and value, and reported with check_gradients' message.

    Hypothesis' ``@settings`` go above this decorator; ``deadline=None`` there is advisable,
    since central differences call the test twice per input element and an example can
    take longer than hypothesis' default deadline of 200 ms.
    """
    from hypothesis import given
    from hypothesis.strategies import SearchStrategy

    strategies = {k: v for k, v in options_and_strategies.items() if isinstance(v, SearchStrategy)}
    options = {k: v for k, v in options_and_strategies.items() if k not in strategies}
    if numpy_vjp is not None:
        options["numpy_vjp"] = numpy_vjp
    allowed = {"eps", "atol", "rtol", "order", "devices", "dtypes", "forward_rtol", "forward_atol", "numpy_vjp", "upstream", "seed"}
    unknown = set(options) - allowed
    if unknown:
        raise TypeError(f"given_gradients: {sorted(unknown)} are neither hypothesis strategies nor check_gradients options")
    if not strategies:
        raise TypeError("given_gradients: pass at least one argument strategy, e.g. x=tensors()")

    def decorate(test):
        params = list(inspect.signature(test).parameters)
        missing = [k for k in strategies if k not in params]
        if missing:
            raise TypeError(f"given_gradients: {test.__name__} has no argument(s) {missing} to draw")
        drawn = [p for p in params if p in strategies]

        @functools.wraps(test)
        def run(**kwargs):
            fixed = {k: v for k, v in kwargs.items() if k not in strategies}
            chosen = drawn if wrt is None else list(wrt)
            values = [
                _as_input(kwargs[n], n in chosen and (wrt is not None or _differentiable(kwargs[n]))) for n in drawn
            ]

            def fn(*xs):
                return _split(test(**fixed, **dict(zip(drawn, xs))))[0]

            _, reference = _split(test(**fixed, **dict(zip(drawn, values))))
            opts = dict(options)
            if "bp_device" in fixed:
                opts["devices"] = (fixed["bp_device"],)
            if reference is not None:
                opts["numpy_fn"] = lambda *arrays: reference
            check_gradients(fn, *values, **opts)

        return given(**strategies)(run)

    return decorate
