"""Autograd: custom Functions, `grad`, gradient checking and functional transforms."""

from backprop._core import FunctionCtx, grad
from backprop._grad_mode import enable_grad, no_grad, set_grad_enabled
from backprop.autograd import functional
from backprop.autograd.function import Function, once_differentiable
from backprop.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """`autograd.backward(tensors, grad_tensors)`: backward from several outputs at once."""
    from backprop import Tensor

    if isinstance(tensors, Tensor):
        tensors = [tensors]
        grad_tensors = [grad_tensors] if grad_tensors is not None else None
    tensors = list(tensors)
    grad_tensors = list(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    if len(tensors) == 1:
        tensors[0].backward(grad_tensors[0], retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)
        return
    # Several roots: one pass over a sum of <output, gradient> products.
    from backprop import ones_like

    total = None
    for t, g in zip(tensors, grad_tensors):
        g = ones_like(t) if g is None else g
        term = (t * g).sum()
        total = term if total is None else total + term
    total.backward(retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "enable_grad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "no_grad",
    "once_differentiable",
    "set_grad_enabled",
]
