"""Functional normalisation: batch, layer, group, instance and RMS norm.

Batch and layer norm normalise through the engine's fused `norm_rows` kernel where it exists
(statistics in one pass, the gradient in one pass); the affine part is an ordinary multiply
and add so its gradients come from the engine like any other.
"""

import math

from backprop import _core
from backprop._grad_mode import no_grad
from backprop._core import Tensor

_fused_rows = getattr(_core, "norm_rows", None)


def _normalize_rows(x2d, eps):
    """Each row of a 2-D tensor shifted to mean 0 and scaled to variance 1 (biased)."""
    if _fused_rows is not None:
        return _fused_rows(x2d, eps)
    mean = x2d.mean(1, keepdim=True)
    centered = x2d - mean
    var = (centered * centered).mean(1, keepdim=True)
    return centered * (var + eps).rsqrt()


def _affine(y, weight, bias, channel_shape):
    if weight is not None:
        y = y * weight.reshape(channel_shape)
    if bias is not None:
        y = y + bias.reshape(channel_shape)
    return y


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5) -> Tensor:
    """(x - mean) / sqrt(var + eps) * weight + bias over the last len(normalized_shape) dims."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.dim() - k :]) != shape or input.dim() < k:
        raise RuntimeError(
            f"layer_norm: Given normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}], "
            f"but got input of size {list(input.shape)}"
        )
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None and tuple(t.shape) != shape:
            raise RuntimeError(f"layer_norm: Expected {name} to be of same shape as normalized_shape, but got {name} of shape {list(t.shape)} and normalized_shape = {list(shape)}")
    inner = math.prod(shape)
    if input.numel() == 0 or inner == 0:
        y = input * 1.0
    else:
        y = _normalize_rows(input.reshape(-1, inner), eps).reshape(tuple(input.shape))
    return _affine(y, weight, bias, shape)


def rms_norm(input, normalized_shape, weight=None, eps=None) -> Tensor:
    """x / sqrt(mean(x^2) + eps) * weight over the last dims; `eps=None` is the dtype's epsilon."""
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    k = len(shape)
    if k == 0 or tuple(input.shape[input.dim() - k :]) != shape:
        raise RuntimeError(
            f"rms_norm: Given normalized_shape={list(shape)}, expected input with shape [*, {', '.join(map(str, shape))}], "
            f"but got input of size {list(input.shape)}"
        )
    if eps is None:
        eps = 2.220446049250313e-16 if input.dtype == _core.float64 else 1.1920928955078125e-07
    dims = tuple(range(input.dim() - k, input.dim()))
    y = input * ((input * input).mean(dims, keepdim=True) + eps).rsqrt()
    return y * weight if weight is not None else y


def _channel_shape(input):
    return (input.shape[1],) + (1,) * (input.dim() - 2)


def _update_running(running, stat, momentum):
    with no_grad():
        running.copy_(running * (1.0 - momentum) + stat.detach().to(running.dtype) * momentum)


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1, eps=1e-5) -> Tensor:
    """Per channel (dim 1): normalise with the batch's statistics while training (updating the
    running ones: unbiased variance, weight `momentum`), with the running ones otherwise."""
    if input.dim() < 2:
        raise ValueError(f"batch_norm: expected an input of at least 2 dims [N, C, *], got shape {tuple(input.shape)}")
    c = input.shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        if t is not None and t.numel() != c:
            raise RuntimeError(f"batch_norm: {name} should contain {c} elements not {t.numel()}")
    cshape = _channel_shape(input)
    if not training and (running_mean is None or running_var is None):
        raise RuntimeError(f"batch_norm: running_{'mean' if running_mean is None else 'var'} must be defined in evaluation mode")
    if training:
        count = input.numel() // c if c else 0
        if training and count <= 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {list(input.shape)}")
        # Channels first and flattened, so each channel is one row of the fused kernel.
        rows = input.transpose(0, 1).reshape(c, -1)
        y = _normalize_rows(rows, eps).reshape((c, input.shape[0]) + tuple(input.shape[2:])).transpose(0, 1)
        if training and running_mean is not None:
            with no_grad():
                d = rows.detach()
                mean = d.mean(1)
                var = ((d - mean.unsqueeze(1)) ** 2).sum(1) / (count - 1)
                _update_running(running_mean, mean, momentum)
                _update_running(running_var, var, momentum)
    else:
        scale = (running_var.to(input.dtype) + eps).rsqrt()
        y = (input - running_mean.to(input.dtype).reshape(cshape)) * scale.reshape(cshape)
    return _affine(y, weight, bias, cshape)


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None, use_input_stats=True, momentum=0.1, eps=1e-5) -> Tensor:
    """Per sample and channel, normalise over the remaining (spatial) dims."""
    if input.dim() < 3:
        raise ValueError(f"instance_norm: expected an input of at least 3 dims [N, C, L, ...], got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    cshape = _channel_shape(input)
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError("instance_norm: Expected running_mean and running_var to be defined when use_input_stats is false")
        y = (input - running_mean.reshape(cshape)) * (running_var + eps).rsqrt().reshape(cshape)
        return _affine(y, weight, bias, cshape)
    spatial = input.numel() // (n * c) if n * c else 0
    if spatial <= 1:
        raise ValueError(f"Expected more than 1 spatial element when training, got input size {list(input.shape)}")
    rows = input.reshape(n * c, -1)
    y = _normalize_rows(rows, eps).reshape(tuple(input.shape))
    if running_mean is not None and running_var is not None:
        with no_grad():
            d = rows.detach()
            mean = d.mean(1)
            var = ((d - mean.unsqueeze(1)) ** 2).sum(1) / (spatial - 1)
            _update_running(running_mean, mean.reshape(n, c).mean(0), momentum)
            _update_running(running_var, var.reshape(n, c).mean(0), momentum)
    return _affine(y, weight, bias, cshape)


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5) -> Tensor:
    """Channels split into `num_groups` groups; each sample's group normalised together."""
    if input.dim() < 2:
        raise RuntimeError(f"group_norm: expected an input of at least 2 dims [N, C, *], got shape {tuple(input.shape)}")
    n, c = input.shape[0], input.shape[1]
    if num_groups <= 0 or c % num_groups:
        raise RuntimeError(f"group_norm: Expected number of channels in input to be divisible by num_groups, but got input of shape {list(input.shape)} and num_groups={num_groups}")
    if input.numel() == 0:
        y = input * 1.0
    else:
        y = _normalize_rows(input.reshape(n * num_groups, -1), eps).reshape(tuple(input.shape))
    return _affine(y, weight, bias, _channel_shape(input))
