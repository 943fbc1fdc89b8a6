"""Forward-mode automatic differentiation, PyTorch's `torch.autograd.forward_ad`.

Inside a dual level, `make_dual(primal, tangent)` makes a tensor that carries a tangent, and
every op computes its output's tangent in the same forward pass (a real forward mode: one
pass, no backward); `unpack_dual(y)` returns `(primal, tangent)`. The jvp rules live with
the engine's ops (`rust/autograd/forward.rs`): elementwise ops reuse their vjp formula (their
Jacobian is diagonal), linear ops apply themselves to the tangent, and matmul, reductions,
softmax and log_softmax have their own rules; composites (mean, var, cross_entropy,
layer_norm, dropout, ...) follow from their primitives.

    with forward_ad.dual_level():
        x = forward_ad.make_dual(primal, tangent)
        y = f(x)
        value, jvp = forward_ad.unpack_dual(y)
"""

from collections import namedtuple

from backprop import _core

__all__ = ["UnpackedDualTensor", "dual_level", "enter_dual_level", "exit_dual_level", "make_dual", "unpack_dual"]


class UnpackedDualTensor(namedtuple("UnpackedDualTensor", ["primal", "tangent"])):
    """What `unpack_dual` returns: the primal tensor and its tangent (None when it has none)."""

    __slots__ = ()


def enter_dual_level():
    """Opens a dual level (one at a time, as in PyTorch) and returns its index, 0."""
    return _core._enter_dual_level()


def exit_dual_level(*, level=None):
    """Closes the dual level: the tangents of its dual tensors are dropped."""
    if level not in (None, 0):
        raise RuntimeError(f"exit_dual_level: there is no dual level {level}; the open level is 0")
    _core._exit_dual_level()


def make_dual(tensor, tangent, *, level=None):
    """A view of `tensor` carrying `tangent` (same shape, dtype and device) at the open level.

    Gradients still flow back through the view to `tensor` in reverse mode.
    """
    if level not in (None, 0):
        raise RuntimeError(f"make_dual: there is no dual level {level}; the open level is 0")
    return _core._make_dual(tensor, tangent)


def unpack_dual(tensor, *, level=None):
    """`(primal, tangent)` of `tensor` at the open level; the tangent is None when it has none.

    The primal is the tensor itself; a jvp that failed on the way (an op without a jvp rule)
    raises here, naming the op.
    """
    if level not in (None, 0):
        raise RuntimeError(f"unpack_dual: there is no dual level {level}; the open level is 0")
    return UnpackedDualTensor(tensor, _core._tangent(tensor))


class dual_level:
    """Context manager that opens a dual level and closes it on exit (dropping every tangent)."""

    def __enter__(self):
        return enter_dual_level()

    def __exit__(self, *exc):
        exit_dual_level()
        return False
