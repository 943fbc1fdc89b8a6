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

    PyTorch 2's split style works too: `forward(*args)` without ctx, plus
    `setup_context(ctx, inputs, output)` that saves what backward needs (`inputs` is the tuple
    of arguments given to `apply`, `output` what forward returned).
    """

    @staticmethod
    def forward(ctx, *args):
        """Override: computes the outputs from the inputs (tensors and other values), outside autograd.

        Args:
            ctx: a context to save what `backward` needs (omit it when `setup_context` is overridden).
            *args: the arguments given to `apply`.

        Returns:
            A tensor or a tuple of tensors (and other values).
        """
        raise NotImplementedError("a Function subclass must implement forward(ctx, *args)")

    @staticmethod
    def backward(ctx, *grad_outputs):
        """Override: the gradients of the inputs from those of the outputs.

        Args:
            ctx: the context `forward` (or `setup_context`) filled.
            *grad_outputs: one gradient per output of `forward`.

        Returns:
            One gradient (or None) per input of `forward`.
        """
        raise NotImplementedError("a Function subclass must implement backward(ctx, *grad_outputs)")

    @staticmethod
    def setup_context(ctx, inputs, output):
        """Optional override: fills `ctx` from `inputs` and `output` when `forward` takes no ctx."""
        raise NotImplementedError("setup_context is optional: override it together with a ctx-less forward(*args)")

    @classmethod
    def apply(cls, *args, **kwargs):
        """Runs the function on `args`, recording one graph node whose backward calls `backward`.

        Returns:
            What `forward` returned, with autograd history when an input requires grad.
        """
        if kwargs:
            raise TypeError(f"{cls.__name__}.apply takes positional arguments only, got keywords {sorted(kwargs)}")
        ctx = FunctionCtx()
        tracking = is_grad_enabled()
        ctx.needs_input_grad = tuple(tracking and isinstance(a, Tensor) and a.requires_grad for a in args)
        split_style = cls.setup_context is not Function.setup_context
        with no_grad():
            if split_style:
                outputs = cls.forward(*args)
                cls.setup_context(ctx, args, outputs)
            else:
                outputs = cls.forward(ctx, *args)
        return _core._record_function(cls, ctx, args, outputs)


def once_differentiable(backward):
    """Marks a backward as not itself differentiable: it runs with grad mode off."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)

    return wrapper
