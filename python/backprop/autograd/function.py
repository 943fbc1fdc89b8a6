"""Custom differentiable functions, PyTorch's `autograd.Function` contract."""

import functools

from backprop import _core
from backprop._core import FunctionCtx, Tensor, is_grad_enabled
from backprop._grad_mode import no_grad


class Function:
    """Subclass with static `forward(ctx, *args)` and `backward(ctx, *grad_outputs)`, then call
    `MyFunction.apply(*args)`. `backward` returns one gradient (or None) per forward argument.

        class Multiply(Function):
            @staticmethod
            def forward(ctx, x, y):
                ctx.save_for_backward(x, y)
                return x * y

            @staticmethod
            def backward(ctx, grad_z):
                x, y = ctx.saved_tensors
                return grad_z * y, grad_z * x
    """

    @staticmethod
    def forward(ctx, *args):
        raise NotImplementedError("a Function subclass must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grad_outputs)")

    @classmethod
    def apply(cls, *args):
        ctx = FunctionCtx()
        tracking = is_grad_enabled()
        ctx.needs_input_grad = tuple(tracking and isinstance(a, Tensor) and a.requires_grad for a in args)
        with no_grad():
            outputs = cls.forward(ctx, *args)
        return _core._record_function(cls, ctx, args, outputs)


def once_differentiable(backward):
    """Marks a backward as not itself differentiable: it runs with grad mode off."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)

    return wrapper
