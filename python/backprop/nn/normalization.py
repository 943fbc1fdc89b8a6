"""Normalisation layers: BatchNorm1d/2d, LayerNorm, GroupNorm, RMSNorm, InstanceNorm1d, with
PyTorch's parameters, buffers (state_dict keys), defaults and reprs."""

from backprop import _core
from backprop.nn import functional as F
from backprop.nn import init
from backprop.nn.module import Module
from backprop.nn.parameter import Parameter


def _shape(normalized_shape):
    if isinstance(normalized_shape, int):
        return (normalized_shape,)
    return tuple(normalized_shape)


class _NormBase(Module):
    """Per-channel affine parameters and (optionally) running statistics."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True, track_running_stats: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        self.num_features = num_features
        self.eps = eps
        self.momentum = momentum
        self.affine = affine
        self.track_running_stats = track_running_stats
        self._has_bias = affine and bias
        if affine:
            self.weight = Parameter(_core.ones(num_features, device=device, dtype=dtype))
            if bias:
                self.bias = Parameter(_core.zeros(num_features, device=device, dtype=dtype))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)
        if track_running_stats:
            self.register_buffer("running_mean", _core.zeros(num_features, device=device, dtype=dtype))
            self.register_buffer("running_var", _core.ones(num_features, device=device, dtype=dtype))
            self.register_buffer("num_batches_tracked", _core.tensor(0, dtype=_core.int64, device=device))
        else:
            self.register_buffer("running_mean", None)
            self.register_buffer("running_var", None)
            self.register_buffer("num_batches_tracked", None)
        self.reset_parameters()
        self.register_load_state_dict_pre_hook(_default_num_batches_tracked)

    def reset_running_stats(self):
        if self.track_running_stats:
            init.zeros_(self.running_mean)
            init.ones_(self.running_var)
            self.num_batches_tracked.zero_()

    def reset_parameters(self):
        """Resets the running statistics and sets `weight` to ones and `bias` to zeros (when affine)."""
        self.reset_running_stats()
        if self.affine:
            init.ones_(self.weight)
            if self.bias is not None:
                init.zeros_(self.bias)

    def extra_repr(self):
        return (
            f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
            f"bias={self._has_bias}, track_running_stats={self.track_running_stats}"
        )


def _default_num_batches_tracked(module, state_dict, prefix, *_):
    """Checkpoints from before `num_batches_tracked` existed load with the counter at 0."""
    key = prefix + "num_batches_tracked"
    if module.num_batches_tracked is not None and key not in state_dict:
        state_dict[key] = _core.tensor(0, dtype=_core.int64)


class _BatchNorm(_NormBase):
    _dims = ()

    def _check_input_dim(self, input):
        if input.dim() not in self._dims:
            expected = " or ".join(f"{d}D" for d in self._dims)
            raise ValueError(f"{type(self).__name__}: expected {expected} input (got {input.dim()}D input)")

    def forward(self, input):
        self._check_input_dim(input)
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats and self.num_batches_tracked is not None:
            self.num_batches_tracked.add_(1)
            # momentum=None: the cumulative average of all batches seen so far.
            factor = 1.0 / float(self.num_batches_tracked.item()) if self.momentum is None else self.momentum
        use_batch_stats = self.training or (self.running_mean is None and self.running_var is None)
        track = not self.training or self.track_running_stats
        return F.batch_norm(
            input,
            self.running_mean if track else None,
            self.running_var if track else None,
            self.weight,
            self.bias,
            use_batch_stats,
            factor,
            self.eps,
        )


class BatchNorm1d(_BatchNorm):
    """Batch normalisation of `[N, C]` or `[N, C, L]` input over the batch (and length) per
    channel: batch statistics while training (updating the running mean and unbiased
    variance with weight `momentum`, or their cumulative average with `momentum=None`), the
    running statistics in eval mode."""

    _dims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalisation of `[N, C, H, W]` input per channel."""

    _dims = (4,)


class InstanceNorm1d(_NormBase):
    """Normalises each sample's channels of `[N, C, L]` (or `[C, L]`) over the length; no
    affine parameters and no running statistics by default, as in PyTorch."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = False, track_running_stats: bool = False, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__(num_features, eps, momentum, affine, track_running_stats, device, dtype, bias=bias)

    def forward(self, input):
        if input.dim() not in (2, 3):
            raise ValueError(f"InstanceNorm1d: expected 2D or 3D input (got {input.dim()}D input)")
        unbatched = input.dim() == 2
        x = input.unsqueeze(0) if unbatched else input
        y = F.instance_norm(
            x,
            self.running_mean,
            self.running_var,
            self.weight,
            self.bias,
            self.training or not self.track_running_stats,
            self.momentum if self.momentum is not None else 0.0,
            self.eps,
        )
        return y.squeeze(0) if unbatched else y



def _affine_parameters(module, shape, affine, bias, device, dtype):
    """`weight` (ones) and `bias` (zeros) of `shape`, or None-registered ones, as PyTorch's norms."""
    module.register_parameter("weight", Parameter(_core.ones(*shape, device=device, dtype=dtype)) if affine else None)
    module.register_parameter("bias", Parameter(_core.zeros(*shape, device=device, dtype=dtype)) if affine and bias else None)


def _reset_affine(self):
    """Sets `weight` to ones and `bias` to zeros, where the layer has them."""
    if self.weight is not None:
        init.ones_(self.weight)
    if self.bias is not None:
        init.zeros_(self.bias)

class LayerNorm(Module):
    """Normalises over the last dims (`normalized_shape`), then scales and shifts element-wise
    (`elementwise_affine`; `bias=False` drops the shift)."""

    def __init__(self, normalized_shape, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        _affine_parameters(self, self.normalized_shape, elementwise_affine, bias, device, dtype)

    reset_parameters = _reset_affine

    def forward(self, input):
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"


class GroupNorm(Module):
    """Splits the channels into `num_groups` groups and normalises each sample's group."""

    def __init__(self, num_groups: int, num_channels: int, eps: float = 1e-5, affine: bool = True, device=None, dtype=None, *, bias: bool = True) -> None:
        super().__init__()
        if num_channels % num_groups:
            raise ValueError("num_channels must be divisible by num_groups")
        self.num_groups = num_groups
        self.num_channels = num_channels
        self.eps = eps
        self.affine = affine
        self._has_bias = affine and bias
        _affine_parameters(self, (num_channels,), affine, bias, device, dtype)

    reset_parameters = _reset_affine

    def forward(self, input):
        return F.group_norm(input, self.num_groups, self.weight, self.bias, self.eps)

    def extra_repr(self):
        return f"{self.num_groups}, {self.num_channels}, eps={self.eps}, affine={self.affine}, bias={self._has_bias}"


class RMSNorm(Module):
    """x / sqrt(mean(x^2) + eps) * weight over the last dims; `eps=None` uses the dtype's
    machine epsilon."""

    def __init__(self, normalized_shape, eps: float | None = None, elementwise_affine: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        self.normalized_shape = _shape(normalized_shape)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        if elementwise_affine:
            self.weight = Parameter(_core.ones(*self.normalized_shape, device=device, dtype=dtype))
        else:
            self.register_parameter("weight", None)

    def reset_parameters(self):
        """Sets `weight` to ones (when elementwise_affine)."""
        if self.weight is not None:
            init.ones_(self.weight)

    def forward(self, input):
        return F.rms_norm(input, self.normalized_shape, self.weight, self.eps)

    def extra_repr(self):
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"
