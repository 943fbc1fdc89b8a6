"""The backprop lecture's worked examples, run with backprop.

Each example builds its computational graph by running Python, calls backward(), and prints
the forward values and gradients the slides show.
"""

import backprop as bp
from backprop.autograd import Function


def section(title):
    print(f"\n== {title} ==")


def simple_circuit():
    section("f(x, y, z) = (x + y) * z at x=-2, y=5, z=-4")
    x = bp.tensor(-2.0, requires_grad=True)
    y = bp.tensor(5.0, requires_grad=True)
    z = bp.tensor(-4.0, requires_grad=True)
    q = x + y
    f = q * z
    f.backward()
    print(f"q = {q.item():g}, f = {f.item():g}")
    print(f"df/dx = {x.grad.item():g}, df/dy = {y.grad.item():g}, df/dz = {z.grad.item():g}")


def sigmoid_neuron():
    section("sigmoid neuron f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))")
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = 1 / (1 + bp.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()
    print(f"f = {f.item():.2f}")
    for name, t in (("w0", w0), ("x0", x0), ("w1", w1), ("x1", x1), ("w2", w2)):
        print(f"df/d{name} = {t.grad.item():.2f}")


def relu_vector():
    section("elementwise ReLU with upstream gradient [4, -1, 5, 9]")
    x = bp.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True)
    y = bp.relu(x)
    y.backward(bp.tensor([4.0, -1.0, 5.0, 9.0]))
    print(f"y = {y.tolist()}, dL/dx = {x.grad.tolist()}  (the Jacobian is diagonal and never formed)")


def matrix_multiply():
    section("y = x @ w with x [2x3], w [3x4] and upstream dL/dy")
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    y = x @ w
    y.backward(bp.tensor([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]]))
    print(f"y = {y.tolist()}")
    print(f"dL/dx = (dL/dy) w^T = {x.grad.tolist()}")
    print(f"dL/dw = x^T (dL/dy) = {w.grad.tolist()}")


class Multiply(Function):
    @staticmethod
    def forward(ctx, x, y):
        ctx.save_for_backward(x, y)
        return x * y

    @staticmethod
    def backward(ctx, grad_z):
        x, y = ctx.saved_tensors
        return grad_z * y, grad_z * x  # mul swaps


class LegendrePolynomial3(Function):
    @staticmethod
    def forward(ctx, input):
        ctx.save_for_backward(input)
        return 0.5 * (5 * input**3 - 3 * input)

    @staticmethod
    def backward(ctx, grad_output):
        (input,) = ctx.saved_tensors
        return grad_output * 1.5 * (5 * input**2 - 1)


def custom_functions():
    section("custom Functions: Multiply and LegendrePolynomial3")
    x = bp.tensor(3.0, requires_grad=True)
    y = bp.tensor(-2.0, requires_grad=True)
    z = Multiply.apply(x, y)
    z.backward()
    print(f"z = {z.item():g}, dz/dx = {x.grad.item():g}, dz/dy = {y.grad.item():g}")
    t = bp.tensor([0.5], dtype=bp.float64, requires_grad=True)
    print("gradcheck(LegendrePolynomial3):", bp.autograd.gradcheck(LegendrePolynomial3.apply, (t,)))


def gate_patterns():
    section("gate patterns: add distributes, mul swaps, max routes, copy adds")
    x = bp.tensor(3.0, requires_grad=True)
    y = bp.tensor(-4.0, requires_grad=True)
    z = bp.tensor(2.0, requires_grad=True)
    w = bp.tensor(-1.0, requires_grad=True)
    out = 2 * (x * y + bp.maximum(z, w))
    out.backward()
    print(f"dx = {x.grad.item():g} (y * 2), dy = {y.grad.item():g} (x * 2), dz = {z.grad.item():g}, dw = {w.grad.item():g}")
    c = bp.tensor(3.0, requires_grad=True)
    (c * c + c).backward()
    print(f"copy gate: d(c*c + c)/dc = {c.grad.item():g}")


if __name__ == "__main__":
    simple_circuit()
    sigmoid_neuron()
    relu_vector()
    matrix_multiply()
    custom_functions()
    gate_patterns()
