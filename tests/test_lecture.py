"""The lecture's worked examples, with the numbers from the slides."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop.autograd import Function


def test_simple_circuit_x_plus_y_times_z():
    x = bp.tensor(-2.0, requires_grad=True)
    y = bp.tensor(5.0, requires_grad=True)
    z = bp.tensor(-4.0, requires_grad=True)
    q = x + y
    f = q * z
    assert (q.item(), f.item()) == (3.0, -12.0)
    f.backward()
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)


def test_sigmoid_neuron_circuit():
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = 1 / (1 + bp.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()
    assert round(f.item(), 2) == 0.73
    got = [round(t.grad.item(), 2) for t in (w0, x0, w1, x1, w2)]
    assert got == [-0.20, 0.39, -0.39, -0.59, 0.20]


def test_sigmoid_gate_gives_the_same_gradients_as_the_expanded_circuit():
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = bp.sigmoid(w0 * x0 + w1 * x1 + w2)
    f.backward()
    # the slide's flat code: ddot = (1 - f) * f
    dot = 2 * -1 + -3 * -2 + -3
    fv = 1 / (1 + math.exp(-dot))
    ddot = (1 - fv) * fv
    expected = [x0v * ddot for x0v in (-1.0,)] + [2.0 * ddot] + [-2.0 * ddot, -3.0 * ddot, ddot]
    assert w0.grad.item() == pytest.approx(expected[0], rel=1e-6)
    assert x0.grad.item() == pytest.approx(expected[1], rel=1e-6)
    assert w1.grad.item() == pytest.approx(expected[2], rel=1e-6)
    assert x1.grad.item() == pytest.approx(expected[3], rel=1e-6)
    assert w2.grad.item() == pytest.approx(expected[4], rel=1e-6)


def test_vector_sigmoid_example_from_the_pytorch_slides():
    w = bp.tensor([2.0, -3.0], requires_grad=True)
    x = bp.tensor([-1.0, -2.0], requires_grad=True)
    b = bp.tensor(-3.0, requires_grad=True)
    f = bp.sigmoid(w @ x + b)
    f.backward()
    assert [round(v, 4) for v in w.grad.tolist()] == [-0.1966, -0.3932]
    assert [round(v, 4) for v in x.grad.tolist()] == [0.3932, -0.5898]
    assert round(b.grad.item(), 4) == 0.1966


def test_relu_with_upstream_gradient():
    x = bp.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True)
    y = bp.relu(x)
    assert y.tolist() == [1.0, 0.0, 3.0, 0.0]
    y.backward(bp.tensor([4.0, -1.0, 5.0, 9.0]))
    assert x.grad.tolist() == [4.0, 0.0, 5.0, 0.0]


def test_matmul_2x3_by_3x4_with_upstream_gradient():
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    y = x @ w
    assert y.tolist() == [[-1.0, -1.0, 2.0, 6.0], [5.0, 2.0, 11.0, 7.0]]
    dy = np.array([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    y.backward(bp.tensor(dy))
    # dL/dx = (dL/dy) w^T  [N x D],  dL/dw = x^T (dL/dy)  [D x M]: the only way the shapes work
    assert x.grad.tolist() == [[0.0, 16.0, -9.0], [-24.0, 9.0, -30.0]]
    assert w.grad.tolist() == (np.array(x.detach().tolist()).T @ dy).tolist()


def test_gate_patterns():
    # add distributes, mul swaps, max routes, copy adds
    x, y, z, w = (bp.tensor(v, requires_grad=True) for v in (3.0, -4.0, 2.0, -1.0))
    out = 2 * (x * y + bp.maximum(z, w))
    out.backward()
    assert (x.grad.item(), y.grad.item()) == (-8.0, 6.0)  # mul swaps (times the upstream 2)
    assert (z.grad.item(), w.grad.item()) == (2.0, 0.0)  # max routes to the winner
    a = bp.tensor(4.0, requires_grad=True)
    b = bp.tensor(1.0, requires_grad=True)
    (a + b).backward()
    assert (a.grad.item(), b.grad.item()) == (1.0, 1.0)  # add distributes
    c = bp.tensor(3.0, requires_grad=True)
    (c * c + c).backward()
    assert c.grad.item() == 7.0  # copy adds: 2c + 1


class Multiply(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        z = x * y
        return z

    @staticmethod
    def backward(ctx, grad_z):
        x, y = ctx.saved_tensors
        grad_x = y * grad_z  # dz/dx * dL/dz
        grad_y = x * grad_z  # dz/dy * dL/dz
        return grad_x, grad_y


class LegendrePolynomial3(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


def test_custom_multiply_function():
    x = bp.tensor(3.0, requires_grad=True)
    y = bp.tensor(-2.0, requires_grad=True)
    z = Multiply.apply(x, y)
    assert z.grad_fn.name() == "MultiplyBackward"
    z.backward()
    assert (x.grad.item(), y.grad.item()) == (-2.0, 3.0)


def test_custom_legendre_function_matches_autograd_and_gradcheck():
    xs = np.linspace(-1, 1, 7)
    a = bp.tensor(xs, requires_grad=True)
    LegendrePolynomial3.apply(a).sum().backward()
    b = bp.tensor(xs, requires_grad=True)
    (0.5 * (5 * b**3 - 3 * b)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-6)
    t = bp.tensor(xs, dtype=bp.float64, requires_grad=True)
    assert bp.autograd.gradcheck(LegendrePolynomial3.apply, (t,))


def test_two_layer_sigmoid_net_matches_the_flat_numpy_code():
    # The slides' NumPy MLP: h = sigmoid(x w1), y_pred = h w2, loss = sum((y_pred - y)^2).
    rng = np.random.default_rng(0)
    N, D_in, H, D_out = 64, 100, 20, 10
    x, y = rng.standard_normal((N, D_in)), rng.standard_normal((N, D_out))
    w1, w2 = rng.standard_normal((D_in, H)) * 0.1, rng.standard_normal((H, D_out)) * 0.1
    for _ in range(3):
        h = 1 / (1 + np.exp(-x.dot(w1)))
        y_pred = h.dot(w2)
        loss = np.square(y_pred - y).sum()
        grad_y_pred = 2.0 * (y_pred - y)
        grad_w2 = h.T.dot(grad_y_pred)
        grad_h = grad_y_pred.dot(w2.T)
        grad_w1 = x.T.dot(grad_h * h * (1 - h))

        bw1 = bp.tensor(w1, dtype=bp.float64, requires_grad=True)
        bw2 = bp.tensor(w2, dtype=bp.float64, requires_grad=True)
        bx, by = bp.tensor(x, dtype=bp.float64), bp.tensor(y, dtype=bp.float64)
        bh = bp.sigmoid(bx @ bw1)
        bloss = ((bh @ bw2 - by) ** 2).sum()
        bloss.backward()
        np.testing.assert_allclose(bloss.item(), loss, rtol=1e-12)
        np.testing.assert_allclose(bw1.grad.numpy(), grad_w1, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(bw2.grad.numpy(), grad_w2, rtol=1e-10, atol=1e-12)
        w1 -= 1e-4 * grad_w1
        w2 -= 1e-4 * grad_w2


def test_svm_loss_with_l2_regularisation_gradient():
    # L = mean_i sum_{j != y_i} max(0, s_j - s_y + 1) + lambda * sum(W^2), s = W x
    rng = np.random.default_rng(1)
    W = rng.standard_normal((3, 4))
    X = rng.standard_normal((5, 4))
    y = rng.integers(0, 3, 5)
    lam = 0.1
    Wt = bp.tensor(W, dtype=bp.float64, requires_grad=True)
    s = bp.tensor(X) @ Wt.T
    margins = bp.relu(s - s.gather(1, bp.tensor(y).unsqueeze(1)) + 1.0)
    mask = bp.ones(5, 3, dtype=bp.float64)
    mask[bp.arange(5), bp.tensor(y)] = 0.0
    L = (margins * mask).sum(1).mean() + lam * (Wt**2).sum()
    L.backward()
    # the hand-derived gradient
    S = X @ W.T
    M = (S - S[np.arange(5), y][:, None] + 1 > 0).astype(float)
    M[np.arange(5), y] = 0
    M[np.arange(5), y] = -M.sum(1)
    dW = M.T @ X / 5 + 2 * lam * W
    np.testing.assert_allclose(Wt.grad.numpy(), dW, rtol=1e-10)
