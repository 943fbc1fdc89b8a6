"""gradcheck itself: it accepts correct backwards, rejects wrong ones with both Jacobians in
the message, and refuses inputs it cannot check."""

import pytest

import backprop as bp
from backprop.autograd import Function, GradcheckError, gradcheck


class GoodCube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x**2 * g


class BadCube(GoodCube):
    """GoodCube's forward with a wrong backward."""

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x**2 * g  # wrong constant


def x64(*values):
    return bp.tensor(list(values), dtype=bp.float64, requires_grad=True)


def test_gradcheck_accepts_a_correct_backward():
    assert gradcheck(GoodCube.apply, (x64(0.5, -1.5, 2.0),))
    assert gradcheck(lambda a, b: (a * b).sum() + bp.tanh(a) @ b, (x64(0.1, 0.2), x64(-0.3, 0.4)))


def test_gradcheck_rejects_a_wrong_backward_and_shows_both_jacobians():
    with pytest.raises(GradcheckError) as info:
        gradcheck(BadCube.apply, (x64(0.5, -1.5),))
    msg = str(info.value)
    assert "numerical" in msg and "analytical" in msg
    assert "0.75" in msg and "0.5" in msg  # 3x^2 vs 2x^2 at x = 0.5
    assert gradcheck(BadCube.apply, (x64(0.5),), raise_exception=False) is False


def test_gradcheck_input_errors():
    with pytest.raises(ValueError, match="float64"):
        gradcheck(GoodCube.apply, (bp.tensor([1.0], requires_grad=True),))
    with pytest.raises(ValueError, match="NaN or inf"):
        gradcheck(GoodCube.apply, (x64(float("nan")),))
    with pytest.raises(ValueError, match="no input requires grad"):
        gradcheck(GoodCube.apply, (bp.tensor([1.0], dtype=bp.float64),))


def test_gradcheck_with_several_outputs_and_non_tensor_args():
    def f(a, scale):
        return a * scale, a.sum() ** 2

    assert gradcheck(f, (x64(1.0, 2.0), 3.0))
