"""The backprop lecture's worked examples, run with backprop.

Each example builds its computational graph by running Python, calls backward(), and prints
the forward values and gradients the slides show. The pictures the slides draw (forward
values in green above each edge, gradients in red below) are written as SVG files to a
folder, with the Jacobian images of the vector examples:

    python examples/lecture.py                  # pictures in lecture_graphs/
    python examples/lecture.py my_folder        # pictures elsewhere
    python examples/lecture.py --no-pictures    # the printed walk-through only

Pictures need Graphviz (pip install graphviz, and the `dot` program: apt-get install
graphviz / brew install graphviz); Jacobian images need matplotlib. Without them the
examples still run and say which pictures were skipped.
"""

import argparse
import os
import sys

import backprop as bp
from backprop.autograd import Function


def section(title):
    print(f"\n== {title} ==")


class Picture:
    """A graph to draw: the output tensor and the names of the tensors in it."""

    def __init__(self, name, output, params, output_name=None):
        self.name, self.output, self.params, self.output_name = name, output, params, output_name


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
    print("\nupstream x local = downstream, gate by gate:")
    print(bp.viz.gradient_table(f, params={"x": x, "y": y, "z": z, "q": q, "f": f}))
    return [Picture("simple_circuit", f, {"x": x, "y": y, "z": z, "q": q, "f": f})]


def sigmoid_neuron():
    section("sigmoid neuron f(w, x) = 1 / (1 + exp(-(w0 x0 + w1 x1 + w2)))")
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    names = {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}
    f = 1 / (1 + bp.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()
    print(f"f = {f.item():.2f}")
    for name, t in names.items():
        print(f"df/d{name} = {t.grad.item():.2f}")

    section("the same neuron with a sigmoid gate, as flat gradient code")
    for t in names.values():
        t.grad = None
    L = bp.sigmoid(w0 * x0 + w1 * x1 + w2)
    L.backward()
    print(bp.viz.flat_code(L, params=names))
    return [Picture("sigmoid_neuron", f, names, "f"), Picture("sigmoid_gate", L, names)]


def relu_vector():
    section("elementwise ReLU with upstream gradient [4, -1, 5, 9]")
    x = bp.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True)
    y = bp.relu(x)
    y.backward(bp.tensor([4.0, -1.0, 5.0, 9.0]))
    print(f"y = {y.tolist()}, dL/dx = {x.grad.tolist()}  (the Jacobian is diagonal and never formed)")
    return [Picture("relu_vector", y, {"x": x, "y": y})]


def matrix_multiply():
    section("y = x @ w with x [2x3], w [3x4] and upstream dL/dy")
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    y = x @ w
    y.backward(bp.tensor([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]]))
    print(f"y = {y.tolist()}")
    print(f"dL/dx = (dL/dy) w^T = {x.grad.tolist()}")
    print(f"dL/dw = x^T (dL/dy) = {w.grad.tolist()}")
    return [Picture("matrix_multiply", y, {"x": x, "w": w, "y": y})]


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
    return [Picture("custom_multiply", z, {"x": x, "y": y, "z": z})]


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
    copy = c * c + c
    copy.backward()
    print(f"copy gate: d(c*c + c)/dc = {c.grad.item():g}")
    return [Picture("gate_patterns", out, {"x": x, "y": y, "z": z, "w": w}), Picture("copy_gate", copy, {"c": c})]


EXAMPLES = [simple_circuit, sigmoid_neuron, relu_vector, matrix_multiply, custom_functions, gate_patterns]


def write_graphs(pictures, folder):
    """Each picture as `folder/<name>.svg`; says so and returns when Graphviz is missing."""
    written = []
    for p in pictures:
        try:
            svg = bp.viz.draw(p.output, params=p.params, output_name=p.output_name).pipe(format="svg")
        except (ImportError, bp.viz.DotNotFoundError) as e:
            print(f"\nskipping the graph pictures: {e}")
            return written
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{p.name}.svg")
        with open(path, "wb") as f:
            f.write(svg)
        written.append(path)
    return written


def write_jacobians(folder):
    """The lecture's sparse Jacobians: ReLU's is diagonal, matmul's is made of blocks."""
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]])
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]])
    figures = {
        "jacobian_relu": lambda: bp.viz.jacobian_image(bp.relu, bp.tensor([1.0, -2.0, 3.0, -1.0])),
        "jacobian_matmul": lambda: bp.viz.jacobian_image(lambda a, b: a @ b, (x, w), names=["x", "w"]),
    }
    written = []
    for name, make in figures.items():
        try:
            fig = make()
        except ImportError as e:
            print(f"\nskipping the Jacobian pictures: {e}")
            return written
        os.makedirs(folder, exist_ok=True)
        path = os.path.join(folder, f"{name}.svg")
        fig.savefig(path)
        written.append(path)
    return written


def main(argv=None):
    parser = argparse.ArgumentParser(description="The backprop lecture's worked examples, with their pictures.")
    parser.add_argument("folder", nargs="?", default="lecture_graphs", help="where the SVG pictures go (default: lecture_graphs)")
    parser.add_argument("--no-pictures", action="store_true", help="only print the walk-through")
    args = parser.parse_args(argv)
    pictures = [p for example in EXAMPLES for p in example()]
    if args.no_pictures:
        return
    written = write_graphs(pictures, args.folder) + write_jacobians(args.folder)
    if written:
        section(f"pictures written to {args.folder}{os.sep}")
        for path in written:
            print(path)


if __name__ == "__main__":
    main(sys.argv[1:])
