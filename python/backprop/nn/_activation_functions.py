"""Functional activations composed from existing engine ops (the elementwise primitives such
as silu or softplus live in the engine's op table instead): PyTorch's formulas and defaults."""

import warnings

from backprop import _core
from backprop._core import Tensor


def _softmax_dim(name, ndim):
    """PyTorch's inference for a softmax called without `dim` (with its deprecation warning)."""
    warnings.warn(
        f"Implicit dimension choice for {name} has been deprecated. Change the call to include dim=X as an argument.",
        UserWarning,
        stacklevel=3,
    )
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """Softmax along `dim`: `exp(x) / exp(x).sum(dim, keepdim=True)`, computed stably.

    Args:
        input: the tensor to normalise.
        dim: the dimension whose slices sum to 1. `None` is deprecated (as in PyTorch): it
            warns and picks 0 for 0-, 1- and 3-dimensional input, 1 otherwise.
        dtype: if given, `input` is cast to it first.

    Returns:
        A tensor of `input`'s shape.

    Example:
        >>> F.softmax(bp.tensor([[1.0, 2.0], [3.0, 3.0]]), dim=1)[1].tolist()
        [0.5, 0.5]
    """
    if dim is None:
        dim = _softmax_dim("softmax", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return _core.softmax(input, dim)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """`log(softmax(x))` along `dim`, computed stably as `x - logsumexp(x, dim)`.

    Args:
        input: the tensor to normalise.
        dim: the dimension to normalise over; `None` warns and infers it as `softmax` does.
        dtype: if given, `input` is cast to it first.

    Returns:
        A tensor of `input`'s shape.
    """
    if dim is None:
        dim = _softmax_dim("log_softmax", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return _core.log_softmax(input, dim)


def softmin(input, dim=None, _stacklevel=3, dtype=None) -> Tensor:
    """`softmax(-x)` along `dim`; `dim=None` warns and infers it as `softmax` does.

    Args:
        input: the tensor to normalise.
        dim: the dimension to normalise over.
        dtype: if given, `input` is cast to it first.

    Returns:
        A tensor of `input`'s shape.
    """
    if dim is None:
        dim = _softmax_dim("softmin", input.dim())
    if dtype is not None:
        input = input.to(dtype)
    return _core.softmax(-input, dim)


def prelu(input, weight) -> Tensor:
    """max(0, x) + weight * min(0, x), one learned slope per channel (dim 1) or one for all."""
    n = weight.numel()
    if n != 1:
        channels = input.shape[1] if input.dim() >= 2 else 1
        if weight.dim() != 1 or n != channels:
            raise RuntimeError(
                f"prelu: mismatch of parameter numbers and input channel size: found {n} weights for an input "
                f"of shape {tuple(input.shape)} (channel dim 1 of size {channels})"
            )
        weight = weight.reshape((n,) + (1,) * (input.dim() - 2))
    else:
        weight = weight.reshape(())
    return input.relu() + weight * (-(-input).relu())


def rrelu(input, lower=1.0 / 8, upper=1.0 / 3, training=False, inplace=False) -> Tensor:
    """Leaky ReLU with a random negative slope drawn from U(lower, upper) per element while
    training, and the mean slope (lower + upper) / 2 otherwise."""
    if not 0 <= lower <= upper:
        raise ValueError(f"rrelu: expected 0 <= lower <= upper, got lower={lower}, upper={upper}")
    if not training:
        return _core.leaky_relu(input, (lower + upper) / 2)
    slope = _core.rand(*input.shape, dtype=input.dtype, device=input.device) * (upper - lower) + lower
    return _core.where(input >= 0, input, input * slope)


def hardshrink(input, lambd=0.5) -> Tensor:
    """x where |x| > lambd, 0 elsewhere."""
    return _core.where(input.abs() > lambd, input, 0.0)


def softshrink(input, lambd=0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 between."""
    if lambd < 0:
        raise RuntimeError(f"softshrink: lambda must be greater or equal to 0, but found to be {lambd}.")
    return _core.where(input > lambd, input - lambd, _core.where(input < -lambd, input + lambd, 0.0))


def tanhshrink(input) -> Tensor:
    """x - tanh(x)."""
    return input - input.tanh()


def threshold(input, threshold, value, inplace=False) -> Tensor:
    """x where x > threshold, `value` elsewhere."""
    return _core.where(input > threshold, input, float(value))


def glu(input, dim=-1) -> Tensor:
    """a * sigmoid(b), where a and b are the two halves of `input` along `dim`."""
    if input.dim() == 0:
        raise RuntimeError("glu does not support scalars because halving size must be even")
    d = dim % input.dim()
    size = input.shape[d]
    if size % 2:
        raise RuntimeError(f"glu: Halving dimension must be even, but dimension {d} is size {size}")
    a, b = input.split(size // 2, d)
    return a * b.sigmoid()
