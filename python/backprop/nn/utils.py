"""Gradient utilities: clipping by global norm or by value, flattening parameters."""

import math

from backprop._core import Tensor
from backprop._grad_mode import no_grad


def _grads(parameters):
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    return [p.grad for p in parameters if p.grad is not None]


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """Scales all gradients together so their global `norm_type`-norm is at most `max_norm`.

    Returns the global norm before clipping (a 0-dim tensor). Gradients are scaled by
    `max_norm / (norm + 1e-6)` when that is below 1, as in PyTorch.
    """
    from backprop import stack, tensor

    grads = _grads(parameters)
    norm_type = float(norm_type)
    if not grads:
        return tensor(0.0)
    with no_grad():
        norms = [g.detach().norm(norm_type) for g in grads]
        one = norms[0] if len(norms) == 1 else None
        if math.isinf(norm_type):
            total = one if one is not None else stack(norms).max()
        else:
            total = one if one is not None else stack(norms).norm(norm_type)
        value = total.item()
        if error_if_nonfinite and not math.isfinite(value):
            raise RuntimeError(
                f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so it cannot be "
                "clipped. To disable this error and scale the gradients by the non-finite norm anyway, set "
                "`error_if_nonfinite=False`"
            )
        coef = float(max_norm) / (value + 1e-6)
        if coef < 1.0:
            for g in grads:
                g.mul_(coef)
    return total


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamps every gradient element into [-clip_value, clip_value], in place."""
    with no_grad():
        for g in _grads(parameters):
            g.copy_(g.clamp(-clip_value, clip_value))


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one vector."""
    from backprop import cat

    return cat([p.reshape(-1) for p in parameters])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of `vec` into `parameters`, in place."""
    offset = 0
    with no_grad():
        for p in parameters:
            n = p.numel()
            p.copy_(vec[offset : offset + n].view_as(p))
            offset += n
    if offset != vec.numel():
        raise ValueError(f"vector_to_parameters: the vector has {vec.numel()} elements, the parameters {offset}")
