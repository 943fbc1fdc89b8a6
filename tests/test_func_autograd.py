"""The autograd tools beside `backprop.func`: `autograd.grad(materialize_grads=,
is_grads_batched=)`, `autograd.functional.vhp`, and `Function.setup_context`."""

import numpy as np
import pytest

import backprop as bp
from backprop.autograd import Function, once_differentiable
from backprop.autograd.functional import hessian, hvp, vhp
from conftest import assert_close


def test_materialize_grads_gives_zeros_for_unused_inputs():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = bp.tensor(3.0, requires_grad=True)
    out = (x * 2).sum()
    gx, gy = bp.autograd.grad(out, [x, y], materialize_grads=True, retain_graph=True)
    assert gx.tolist() == [2.0, 2.0] and gy.item() == 0.0 and gy.shape == ()
    # allow_unused is implied; saying False with it is an error (as in PyTorch)
    with pytest.raises(ValueError, match="allow_unused"):
        bp.autograd.grad(out, [x, y], materialize_grads=True, allow_unused=False, retain_graph=True)
    # without it an unused input is an error unless allow_unused=True, which gives None
    with pytest.raises(RuntimeError):
        bp.autograd.grad(out, [x, y], retain_graph=True)
    assert bp.autograd.grad(out, [x, y], allow_unused=True)[1] is None


def test_is_grads_batched_returns_a_batch_of_vjps():
    x = bp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = x * x
    (rows,) = bp.autograd.grad(out, x, bp.eye(3), is_grads_batched=True)
    assert_close(rows, np.diag([2.0, 4.0, 6.0]))  # the Jacobian, one vjp per row
    vs = bp.tensor([[1.0, 0.0, 1.0], [0.5, 0.5, 0.5]])
    (b,) = bp.autograd.grad(x.sin(), x, vs, is_grads_batched=True)
    assert_close(b, vs.numpy() * np.cos([1.0, 2.0, 3.0]))
    with pytest.raises(RuntimeError, match="first dimension"):
        bp.autograd.grad(x * x, x, bp.ones(3), is_grads_batched=True)


def test_vhp_equals_v_times_the_hessian():
    x = np.array([0.3, -0.7, 1.1])
    v = np.array([1.0, 2.0, -1.0])

    def f(a):
        return (a**3).sum() + a[0] * a[1] * a[2]

    H = np.diag(6 * x) + np.array([[0, x[2], x[1]], [x[2], 0, x[0]], [x[1], x[0], 0]])
    val, got = vhp(f, bp.tensor(x), bp.tensor(v))
    assert_close(val, (x**3).sum() + x.prod())
    assert_close(got, v @ H)
    assert_close(hvp(f, bp.tensor(x), bp.tensor(v))[1], H @ v)
    assert_close(hessian(f, bp.tensor(x)), H)
    # several inputs: a tuple of vectors, a tuple back; unused inputs give zeros
    val, (g1, g2) = vhp(lambda a, b: (a * a * a).sum(), (bp.tensor(x), bp.tensor([1.0])), (bp.tensor(v), bp.tensor([1.0])))
    assert_close(g1, v * 6 * x)
    assert g2.tolist() == [0.0]
    with pytest.raises(RuntimeError, match="single-element"):
        vhp(lambda a: a * 2, bp.tensor(x), bp.tensor(v))
    with pytest.raises(RuntimeError, match="shape"):
        vhp(f, bp.tensor(x), bp.ones(2))


class MulSplit(Function):
    """PyTorch 2's style: forward without ctx, setup_context saves."""

    @staticmethod
    def forward(x, y, scale):
        return x * y * scale

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, y, scale = inputs
        ctx.save_for_backward(x, y)
        ctx.scale = scale

    @staticmethod
    def backward(ctx, g):
        x, y = ctx.saved_tensors
        return g * y * ctx.scale, g * x * ctx.scale, None


def test_setup_context_style():
    x = bp.tensor([1.0, 2.0], dtype=bp.float64, requires_grad=True)
    y = bp.tensor([3.0, 4.0], dtype=bp.float64, requires_grad=True)
    out = MulSplit.apply(x, y, 2.0)
    assert out.tolist() == [6.0, 16.0]
    out.sum().backward()
    assert x.grad.tolist() == [6.0, 8.0] and y.grad.tolist() == [2.0, 4.0]
    assert bp.autograd.gradcheck(lambda a, b: MulSplit.apply(a, b, 0.5), (x, y))
    # gradients flow through create_graph as well
    (g,) = bp.autograd.grad(MulSplit.apply(x, x, 1.0).sum(), x, create_graph=True)
    (gg,) = bp.autograd.grad(g.sum(), x)
    assert gg.tolist() == [2.0, 2.0]


class ArgmaxAndDouble(Function):
    @staticmethod
    def forward(x):
        return x * 2, x.argmax()

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_non_differentiable(output[1])
        ctx.set_materialize_grads(False)

    @staticmethod
    @once_differentiable
    def backward(ctx, g, g_idx):
        assert bp.is_grad_enabled() is False  # once_differentiable turns grad mode off
        return None if g is None else g * 2


def test_mark_non_differentiable_set_materialize_grads_and_once_differentiable():
    x = bp.tensor([1.0, 5.0, 2.0], requires_grad=True)
    doubled, idx = ArgmaxAndDouble.apply(x)
    assert idx.item() == 1 and not idx.requires_grad and doubled.requires_grad
    (g,) = bp.autograd.grad(doubled.sum(), x, create_graph=True)
    assert g.tolist() == [2.0, 2.0, 2.0]
    assert not g.requires_grad  # backward ran with grad off: it is not differentiable again


def test_materialize_grads_false_passes_none_for_unused_outputs():
    seen = []

    class Two(Function):
        @staticmethod
        def forward(ctx, x):
            ctx.set_materialize_grads(False)
            return x * 1, x * 3

        @staticmethod
        def backward(ctx, a, b):
            seen.append((a is None, b is None))
            return a if b is None else b * 3

    x = bp.tensor([1.0, 2.0], requires_grad=True)
    a, b = Two.apply(x)
    b.sum().backward()
    assert seen == [(True, False)] and x.grad.tolist() == [3.0, 3.0]


def test_apply_rejects_keywords():
    with pytest.raises(TypeError, match="positional"):
        MulSplit.apply(bp.ones(1), bp.ones(1), scale=1.0)
