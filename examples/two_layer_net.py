"""The lecture's "NumPy code for a 2-layer MLP", with autograd doing the backward pass.

The NumPy original derives four gradient lines by hand:

    grad_y_pred = 2.0 * (y_pred - y)
    grad_w2 = h.T.dot(grad_y_pred)
    grad_h = grad_y_pred.dot(w2.T)
    grad_w1 = x.T.dot(grad_h * h * (1 - h))

Here `loss.backward()` replaces them: the forward pass records the graph, and backward
applies upstream x local = downstream gradient through it.

The tensors are float64, NumPy's default, as in the original. (In float32, exp(-x w1)
overflows to inf for strongly saturated units, and the backward pass then multiplies a zero
upstream gradient by that infinite local gradient: NaN. `bp.sigmoid` avoids that.)
"""

import backprop as bp


def two_layer_net(x, y, w1, w2, steps=2000, lr=1e-4, log=print):
    """Gradient descent on sum((sigmoid(x w1) w2 - y)^2); updates w1 and w2 in place."""
    for t in range(steps):
        h = 1 / (1 + bp.exp(-x.mm(w1)))
        y_pred = h.mm(w2)
        loss = (y_pred - y).square().sum()
        log(t, loss.item())

        loss.backward()

        with bp.no_grad():
            w1 -= lr * w1.grad
            w2 -= lr * w2.grad
            w1.grad = None
            w2.grad = None
    return w1, w2


if __name__ == "__main__":
    N, D_in, H, D_out = 64, 1000, 100, 10
    x, y = bp.randn(N, D_in, dtype=bp.float64), bp.randn(N, D_out, dtype=bp.float64)
    w1 = bp.randn(D_in, H, dtype=bp.float64, requires_grad=True)
    w2 = bp.randn(H, D_out, dtype=bp.float64, requires_grad=True)
    two_layer_net(x, y, w1, w2)
