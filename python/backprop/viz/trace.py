"""`trace()`: keep every forward value of the graphs recorded inside it."""

import contextlib

from backprop import _core


@contextlib.contextmanager
def trace():
    """Inside `with bp.viz.trace():` every recorded op keeps its forward values and, after
    backward, its gradients, so `draw`, `flat_code` and `gradient_table` can show graphs of
    large tensors (outside it, only outputs of at most 64 elements are kept). It costs the
    memory of every intermediate value; the setting is per thread.

        with bp.viz.trace():
            loss = model(x).square().mean()
        loss.backward()
        bp.viz.draw(loss)
    """
    previous = _core._set_trace_all(True)
    try:
        yield
    finally:
        _core._set_trace_all(previous)
