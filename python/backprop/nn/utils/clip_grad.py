"""Gradient clipping: by the global norm of all gradients, or by value."""

from typing import Any

import math

from backprop._core import Tensor
from backprop._grad_mode import no_grad


def _as_list(tensors):
    if isinstance(tensors, Tensor):
        return [tensors]
    return list(tensors)


def _grads(parameters):
    return [p.grad for p in _as_list(parameters) if p.grad is not None]


def get_total_norm(tensors: Any, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: bool | None = None) -> Tensor:
    """The `norm_type`-norm of all `tensors` taken together (as if concatenated), a 0-dim
    tensor on the first tensor's device; 0 for no tensors. `foreach` is accepted for
    PyTorch compatibility (the norms are one engine reduction each either way)."""
    from backprop import stack, tensor

    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return tensor(0.0)
    device = tensors[0].device
    with no_grad():
        norms = [t.detach().norm(norm_type).to(device) for t in tensors]
        if len(norms) == 1:
            total = norms[0]
        elif math.isinf(norm_type):
            total = stack(norms).max() if norm_type > 0 else stack(norms).min()
        else:
            total = stack(norms).norm(norm_type)
    if error_if_nonfinite and not math.isfinite(total.item()):
        raise RuntimeError(
            f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
            "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
            "`error_if_nonfinite=False`"
        )
    return total


def clip_grads_with_norm_(parameters: Any, max_norm: float, total_norm: Tensor, foreach: bool | None = None) -> None:
    """Scales the gradients of `parameters` by min(1, max_norm / (total_norm + 1e-6)), in place,
    without reading the norm back to the host."""
    grads = _grads(parameters)
    if not grads:
        return
    with no_grad():
        coef = (float(max_norm) / (total_norm.detach() + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(coef.to(g.device).to(g.dtype))


def clip_grad_norm_(
    parameters: Any, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False, foreach: bool | None = None
) -> Tensor:
    """Scales all gradients together so their global `norm_type`-norm is at most `max_norm`.

    Returns the global norm before clipping (a 0-dim tensor). Gradients are multiplied by
    min(1, max_norm / (norm + 1e-6)), as in PyTorch.
    """
    parameters = _as_list(parameters)
    total = get_total_norm(_grads(parameters), norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total, foreach)
    return total


def clip_grad_value_(parameters: Any, clip_value: float, foreach: bool | None = None) -> None:
    """Clamps every gradient element into [-clip_value, clip_value], in place."""
    with no_grad():
        for g in _grads(parameters):
            g.copy_(g.clamp(-clip_value, clip_value))
