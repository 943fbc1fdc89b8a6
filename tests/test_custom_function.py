"""Custom autograd Functions: ctx.save_for_backward, saved_tensors, needs_input_grad,
non-tensor arguments, multiple outputs, and the errors PyTorch users expect."""

import pytest

import backprop as bp
from backprop.autograd import Function
from conftest import Square


class ScaleShift(Function):
    """y = a * x + b with a Python-number scale: backward returns None for it."""

    @staticmethod
    def forward(ctx, x, scale, shift):
        ctx.scale = scale
        ctx.save_for_backward(x)
        return x * scale + shift

    @staticmethod
    def backward(ctx, g):
        assert ctx.needs_input_grad == (True, False, True)
        return g * ctx.scale, None, g.sum() if g.ndim else g


def test_non_tensor_arguments_and_ctx_attributes():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    b = bp.tensor(0.5, requires_grad=True)
    y = ScaleShift.apply(x, 3.0, b)
    assert y.tolist() == [3.5, 6.5]
    y.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    assert b.grad.item() == 2.0


class SplitSum(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2, x.sum()

    @staticmethod
    def backward(ctx, g_double, g_sum):
        return g_double * 2 + g_sum


def test_multiple_outputs_and_materialized_zero_grads():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    d, s = SplitSum.apply(x)
    s.backward()  # no gradient flows into d: it arrives as zeros
    assert x.grad.tolist() == [1.0, 1.0]


class WrongCount(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x + y

    @staticmethod
    def backward(ctx, g):
        return g, g, g


class WrongShape(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 2

    @staticmethod
    def backward(ctx, g):
        return bp.ones(5)


def test_bad_backwards_are_reported():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="incorrect number of gradients"):
        WrongCount.apply(x, x).sum().backward()
    with pytest.raises(ValueError, match="WrongShape"):
        WrongShape.apply(x).sum().backward()


Saves = Square  # a Function that saves its input


def test_saved_tensors_are_version_checked_and_freed():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    a = x * 1
    y = Saves.apply(a)
    a.add_(1)
    with pytest.raises(RuntimeError, match="in-place"):
        y.sum().backward()
    z = Saves.apply(x * 1)
    z.sum().backward(retain_graph=True)
    z.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        z.sum().backward()


def test_function_output_that_is_its_input():
    class Identity(Function):
        @staticmethod
        def forward(ctx, x):
            return x

        @staticmethod
        def backward(ctx, g):
            return g * 3

    x = bp.tensor([1.0], requires_grad=True)
    y = Identity.apply(x)
    assert y.grad_fn is not None and x.grad_fn is None
    y.sum().backward()
    assert x.grad.tolist() == [3.0]


def test_function_without_grad_inputs_records_nothing():
    y = Saves.apply(bp.tensor([1.0, 2.0]))
    assert y.grad_fn is None and y.tolist() == [1.0, 4.0]


def test_mark_non_differentiable_and_double_backward_through_a_function():
    class ArgmaxAndSquare(Function):
        @staticmethod
        def forward(ctx, x):
            idx = x.argmax()
            ctx.save_for_backward(x)
            sq = x * x
            ctx.mark_non_differentiable(idx)
            return sq, idx

        @staticmethod
        def backward(ctx, g, _):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = bp.tensor([1.0, 3.0], dtype=bp.float64, requires_grad=True)
    sq, idx = ArgmaxAndSquare.apply(x)
    assert not idx.requires_grad
    (g,) = bp.autograd.grad(sq.sum(), x, create_graph=True)
    (gg,) = bp.autograd.grad(g.sum(), x)
    assert gg.tolist() == [2.0, 2.0]


def test_backward_exceptions_propagate():
    class Boom(Function):
        @staticmethod
        def forward(ctx, x):
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            raise ZeroDivisionError("from backward")

    with pytest.raises(ZeroDivisionError, match="from backward"):
        Boom.apply(bp.tensor(1.0, requires_grad=True)).backward()
