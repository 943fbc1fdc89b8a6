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
    def jvp(ctx, *grad_inputs):
        """Forward-mode rule: the output's tangent given one tangent per forward argument
        (zeros for arguments without one). Optional; needed to use the Function on dual tensors."""
        raise NotImplementedError(
            "You must implement the jvp function for custom autograd.Function to use it with forward mode AD."
        )

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
        result = _core._record_function(cls, ctx, args, outputs)
        if _core._is_dual_level_open():
            result = _forward_through(cls, ctx, args, result)
        return result


def _forward_through(cls, ctx, args, result):
    """Forward AD through a custom Function: its `jvp` gives the output tangent."""
    tangents = [_core._tangent(a) if isinstance(a, Tensor) else None for a in args]
    if all(t is None for t in tangents):
        return result
    if cls.jvp is Function.jvp:
        raise NotImplementedError(
            f"{cls.__name__}: You must implement the jvp function for custom autograd.Function to use it with "
            "forward mode AD (an input carries a forward-AD tangent)."
        )
    from backprop import zeros_like

    filled = [
        t if t is not None else (zeros_like(a) if isinstance(a, Tensor) else None) for a, t in zip(args, tangents)
    ]
    with no_grad():
        out_tangent = cls.jvp(ctx, *filled)
    if isinstance(result, Tensor):
        return _core._make_dual(result, out_tangent)
    if not isinstance(out_tangent, (tuple, list)) or len(out_tangent) != len(result):
        raise RuntimeError(f"{cls.__name__}.jvp must return one tangent per forward output")
    return type(result)(
        _core._make_dual(r, t) if isinstance(r, Tensor) and t is not None else r for r, t in zip(result, out_tangent)
    )


def once_differentiable(backward):
    """Marks a backward as not itself differentiable: it runs with grad mode off."""

    @functools.wraps(backward)
    def wrapper(ctx, *grads):
        with no_grad():
            return backward(ctx, *grads)

    return wrapper
