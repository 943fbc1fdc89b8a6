"""See the backprop: pictures of computational graphs with forward values (green) and
gradients (red) on every edge, the graph's "flat" gradient code, gradient tables, and
pictures of Jacobians.

    import backprop as bp

    x = bp.tensor(-2.0, requires_grad=True)
    y = bp.tensor(5.0, requires_grad=True)
    z = bp.tensor(-4.0, requires_grad=True)
    f = (x + y) * z
    f.backward()
    bp.viz.draw(f, params={"x": x, "y": y, "z": z})   # a graphviz.Digraph
    print(bp.viz.flat_code(f, params={"x": x, "y": y, "z": z}))
    bp.viz.gradient_table(f)

Optional dependencies (`pip install 'backprop[viz]'`): the `graphviz` package and Graphviz's
`dot` program for `draw`, matplotlib for `jacobian_image`. They, and NumPy, are imported only
when these functions run.
"""

from backprop.viz._deps import DotNotFoundError
from backprop.viz.flatcode import FlatCode, flat_code
from backprop.viz.jacobian import jacobian_image
from backprop.viz.picture import draw
from backprop.viz.table import GradientRow, GradientTable, gradient_table
from backprop.viz.trace import trace

__all__ = [
    "DotNotFoundError",
    "FlatCode",
    "GradientRow",
    "GradientTable",
    "draw",
    "flat_code",
    "gradient_table",
    "jacobian_image",
    "trace",
]
