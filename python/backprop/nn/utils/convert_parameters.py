"""Parameters as one flat vector and back."""

from backprop._grad_mode import no_grad


def parameters_to_vector(parameters):
    """All parameters flattened and concatenated into one vector (differentiable)."""
    from backprop import cat

    params = list(parameters)
    devices = {p.device.type for p in params}
    if len(devices) > 1:
        raise TypeError(f"parameters_to_vector: found parameters on several devices ({sorted(devices)}); move them to one first")
    return cat([p.reshape(-1) for p in params])


def vector_to_parameters(vec, parameters):
    """Copies consecutive slices of `vec` into `parameters`, in place."""
    from backprop._core import Tensor

    if not isinstance(vec, Tensor):
        raise TypeError(f"expected torch.Tensor, but got: {type(vec).__name__}")
    params = list(parameters)
    total = sum(p.numel() for p in params)
    if vec.dim() != 1 or vec.numel() != total:
        raise ValueError(f"vector_to_parameters: the vector has shape {tuple(vec.shape)}, the parameters {total} elements in all")
    offset = 0
    with no_grad():
        for p in params:
            n = p.numel()
            p.copy_(vec[offset : offset + n].view_as(p))
            offset += n
