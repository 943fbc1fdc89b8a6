"""bp.viz.draw: the lecture's circuits drawn the way the slides draw them, large graphs
summarised, clear errors. Rendering tests need Graphviz's `dot` (CI installs it)."""

import re
import shutil
import subprocess
import sys
from pathlib import Path
from xml.etree import ElementTree

import pytest

import backprop as bp
from backprop.viz import picture
from test_lecture import Multiply  # the lecture's custom Function
from backprop.viz.picture import FORWARD_COLOR, GRADIENT_COLOR

requires_dot = pytest.mark.skipif(
    shutil.which("dot") is None, reason="Graphviz's dot program is not installed (apt-get install graphviz)"
)


def structure(dot):
    """({node id: label text}, [(tail, head, label html)]) of a drawn graph."""
    nodes, edges = {}, []
    for line in dot.body:
        line = line.strip()
        m = re.match(r"^(\S+) -> (\S+)(?: \[(.*)\])?$", line)
        if m:
            edges.append((m[1], m[2], m[3] or ""))
            continue
        m = re.match(r"^(\S+) \[(.*)\]$", line)
        if m:
            nodes[m[1]] = text(m[2])
    return nodes, edges


def text(label):
    """The visible text of an HTML-like label."""
    m = re.search(r"label=<(.*)>", label)
    return " ".join(re.sub(r"<[^>]+>", " ", m[1]).split()) if m else ""


def edge_label(edges, tail, head):
    (label,) = [lbl for t, h, lbl in edges if t == tail and h == head]
    return label


def value_then_grad(value, grad):
    """The slides' edge label: forward value in green, gradient in red below it."""
    return f'<FONT COLOR="{FORWARD_COLOR}">{value}</FONT><BR/><FONT COLOR="{GRADIENT_COLOR}">{grad}</FONT>'


def ids(nodes, label):
    return [k for k, v in nodes.items() if v.split(" ")[0] == label]


def simple_circuit():
    x = bp.tensor(-2.0, requires_grad=True)
    y = bp.tensor(5.0, requires_grad=True)
    z = bp.tensor(-4.0, requires_grad=True)
    q = x + y
    f = q * z
    f.backward()
    return f, {"x": x, "y": y, "z": z, "q": q, "f": f}


def sigmoid_circuit():
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    f = 1 / (1 + bp.exp(-(w0 * x0 + w1 * x1 + w2)))
    f.backward()
    return f, {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}


def test_simple_circuit_has_one_node_per_op_and_leaf_and_slide_labels():
    f, params = simple_circuit()
    dot = bp.viz.draw(f, params=params)
    nodes, edges = structure(dot)
    assert sorted(nodes.values()) == ["add", "f", "mul", "x", "y", "z"]
    assert len(edges) == 5
    (add,), (mul,) = ids(nodes, "add"), ids(nodes, "mul")
    x, y, z = (ids(nodes, n)[0] for n in "xyz")
    assert value_then_grad("-2.00", "-4.00") in edge_label(edges, x, add)
    assert value_then_grad("5.00", "-4.00") in edge_label(edges, y, add)
    assert value_then_grad("3.00", "-4.00") in edge_label(edges, add, mul)  # q
    assert value_then_grad("-4.00", "3.00") in edge_label(edges, z, mul)
    assert value_then_grad("-12.00", "1.00") in edge_label(edges, mul, "output")


def test_before_backward_edges_carry_only_forward_values():
    x = bp.tensor(-2.0, requires_grad=True)
    y = bp.tensor(5.0, requires_grad=True)
    dot = bp.viz.draw(x * y)
    _, edges = structure(dot)
    assert all(GRADIENT_COLOR not in lbl and FORWARD_COLOR in lbl for _, _, lbl in edges)


def test_sigmoid_circuit_counts_and_constants_written_into_the_gates():
    f, params = sigmoid_circuit()
    nodes, edges = structure(bp.viz.draw(f, params=params))
    ops = sorted(v.split(" ")[0] for k, v in nodes.items() if k.startswith("op"))
    assert ops == ["add", "add", "add", "div", "exp", "mul", "mul", "neg"]
    assert sorted(v for k, v in nodes.items() if k.startswith("leaf")) == ["w0", "w1", "w2", "x0", "x1"]
    assert len(nodes) == 8 + 5 + 1 and len(edges) == 13
    # The numbers of the expression are in the gates, as on the slides: 1 + e^-s, 1 / x.
    assert "add +1" in nodes.values() and "div 1/x" in nodes.values()
    (neg,), (exp,) = ids(nodes, "neg"), ids(nodes, "exp")
    assert value_then_grad("-1.00", "-0.20") in edge_label(edges, neg, exp)
    assert value_then_grad("0.73", "1.00") in edge_label(edges, ids(nodes, "div")[0], "output")


@requires_dot
def test_sigmoid_circuit_svg_shows_the_slide_numbers():
    f, params = sigmoid_circuit()
    svg = bp.viz.draw(f, params=params).pipe(format="svg").decode()
    ElementTree.fromstring(svg)
    shown = set(re.findall(r">([^<>]+)</text>", svg))
    for number in ["-0.20", "0.39", "-0.39", "-0.59", "0.20", "0.73", "1.37", "0.37", "-0.53", "1.00"]:
        assert number in shown, number
    for name in ["w0", "x0", "w1", "x1", "w2", "mul", "exp", "div"]:
        assert name in shown, name
    assert FORWARD_COLOR in svg and GRADIENT_COLOR in svg


@requires_dot
def test_render_writes_the_picture(tmp_path):
    f, params = simple_circuit()
    path = bp.viz.draw(f, params=params).render(tmp_path / "circuit", format="svg")
    svg = Path(path).read_text()
    assert svg.lstrip().startswith(("<?xml", "<svg"))
    ElementTree.fromstring(svg)  # well-formed after readable_svg


def test_relu_vector_shows_values_and_the_routed_gradient():
    x = bp.tensor([1.0, -2.0, 3.0, -1.0], requires_grad=True)
    y = bp.relu(x)
    y.backward(bp.tensor([4.0, -1.0, 5.0, 9.0]))
    nodes, edges = structure(bp.viz.draw(y, params={"x": x, "y": y}))
    assert sorted(nodes.values()) == ["relu", "x (4,)", "y"]
    (relu,), (leaf,) = ids(nodes, "relu"), ids(nodes, "x")
    assert value_then_grad("[1.00, -2.00, 3.00, -1.00]", "[4.00, 0.00, 5.00, 0.00]") in edge_label(edges, leaf, relu)
    assert value_then_grad("[1.00, 0.00, 3.00, 0.00]", "[4.00, -1.00, 5.00, 9.00]") in edge_label(edges, relu, "output")


def test_matmul_2x3_by_3x4_shows_matrices_row_by_row():
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    y = x @ w
    y.backward(bp.tensor([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]]))
    nodes, edges = structure(bp.viz.draw(y, params={"x": x, "w": w}))
    assert sorted(nodes.values()) == ["matmul", "out", "w (3, 4)", "x (2, 3)"]
    assert len(edges) == 3
    (mm,), (xl,) = ids(nodes, "matmul"), ids(nodes, "x")
    label = edge_label(edges, xl, mm)
    rows = re.findall(r'<FONT COLOR="([^"]+)">([^<]+)</FONT>', label)
    assert rows == [
        (FORWARD_COLOR, "[2.00, 1.00, -3.00]"),
        (FORWARD_COLOR, "[-3.00, 4.00, 2.00]"),
        (GRADIENT_COLOR, "[0.00, 16.00, -9.00]"),  # dL/dx = dL/dy w^T
        (GRADIENT_COLOR, "[-24.00, 9.00, -30.00]"),
    ]


def test_fan_out_edges_carry_each_consumers_share_of_the_gradient():
    # copy gate: c feeds mul twice and add once; each edge shows what flowed back along it.
    c = bp.tensor(3.0, requires_grad=True)
    out = c * c + c
    out.backward()
    nodes, edges = structure(bp.viz.draw(out, params={"c": c}))
    (leaf,), (mul,), (add,) = ids(nodes, "c"), ids(nodes, "mul"), ids(nodes, "add")
    into_mul = [lbl for t, h, lbl in edges if (t, h) == (leaf, mul)]
    assert len(into_mul) == 2 and all(value_then_grad("3.00", "3.00") in lbl for lbl in into_mul)
    assert value_then_grad("3.00", "1.00") in edge_label(edges, leaf, add)
    assert c.grad.item() == 7.0


def caption(dot):
    m = re.search(r"^\s*label=(<.*>) label", dot.source, re.MULTILINE)
    return text(f"label={m[1]}") if m else ""


def test_large_tensors_show_shape_and_summary_and_say_how_to_see_values():
    bp.manual_seed(0)
    w = bp.randn(100, 50, requires_grad=True)
    loss = (w * 2).sum()
    loss.backward()
    dot = bp.viz.draw(loss, params={"w": w})
    nodes, edges = structure(dot)
    (leaf,), (mul,), (total,) = ids(nodes, "w"), ids(nodes, "mul"), ids(nodes, "sum")
    assert nodes[leaf] == "w (100, 50)"
    number = r"-?\d+\.\d\d(?:e[-+]\d\d)?"
    summary = f"mean {number} std {number} min {number} max {number}"
    # A leaf's value is always known, and so is the gradient along its only edge (its .grad).
    label = text("label=" + edge_label(edges, leaf, mul))
    assert re.fullmatch(f"shape \\(100, 50\\) {summary} shape \\(100, 50\\) mean 2\\.00 std 0\\.00 min 2\\.00 max 2\\.00", label), label
    # mul's 5,000-element output was not kept outside trace(): its shape is shown, and the caption says why.
    assert text("label=" + edge_label(edges, mul, total)) == "shape (100, 50)"
    assert "with bp.viz.trace():" in caption(dot)

    with bp.viz.trace():
        traced = (w * 2).sum()
    traced.backward()
    dot = bp.viz.draw(traced, params={"w": w})
    nodes, edges = structure(dot)
    mul, total = ids(nodes, "mul")[0], ids(nodes, "sum")[0]
    label = text("label=" + edge_label(edges, mul, total))
    assert re.fullmatch(f"shape \\(100, 50\\) {summary} shape \\(100, 50\\) mean 1\\.00 std 0\\.00 min 1\\.00 max 1\\.00", label), label
    assert caption(dot) == ""


def test_trace_restores_the_previous_setting_even_on_errors():
    from backprop import _core

    with pytest.raises(RuntimeError):
        with bp.viz.trace():
            assert _core._set_trace_all(True) is True
            raise RuntimeError("boom")
    assert _core._set_trace_all(False) is False


def test_custom_functions_are_drawn_with_their_values_and_gradients():
    x = bp.tensor(3.0, requires_grad=True)
    y = bp.tensor(-2.0, requires_grad=True)
    z = Multiply.apply(x, y) + 1
    z.backward()
    nodes, edges = structure(bp.viz.draw(z, params={"x": x, "y": y}))
    (custom,) = ids(nodes, "Multiply")
    assert value_then_grad("3.00", "-2.00") in edge_label(edges, ids(nodes, "x")[0], custom)
    assert value_then_grad("-2.00", "3.00") in edge_label(edges, ids(nodes, "y")[0], custom)


def test_values_are_read_back_from_any_device(device):
    x = bp.tensor([1.0, -2.0, 3.0], device=device, requires_grad=True)
    y = (bp.relu(x) * 2).sum()
    y.backward()
    nodes, edges = structure(bp.viz.draw(y, params={"x": x}))
    (leaf,), (relu,) = ids(nodes, "x"), ids(nodes, "relu")
    assert value_then_grad("[1.00, -2.00, 3.00]", "[2.00, 0.00, 2.00]") in edge_label(edges, leaf, relu)
    assert value_then_grad("8.00", "1.00") in edge_label(edges, ids(nodes, "sum")[0], "output")


def test_data_inputs_are_dashed_nodes_named_from_params():
    x = bp.tensor([[1.0, 2.0]])
    w = bp.tensor([[0.5], [-1.0]], requires_grad=True)
    out = (x @ w).sum()
    out.backward()
    dot = bp.viz.draw(out, params={"x": x, "w": w})
    nodes, edges = structure(dot)
    (data,), (mm,) = ids(nodes, "x"), ids(nodes, "matmul")
    assert data.startswith("const") and re.search(rf"\b{data} \[.*style=\"rounded,dashed\"", dot.source)
    label = edge_label(edges, data, mm)
    assert FORWARD_COLOR in label and "[1.00, 2.00]" in label
    assert GRADIENT_COLOR not in label  # no gradient flows into data


def test_unnamed_values_get_names_and_the_output_is_L():
    a = bp.tensor(2.0, requires_grad=True)
    nodes, _ = structure(bp.viz.draw(a * a))
    assert sorted(nodes.values()) == ["L", "leaf0", "mul"]


def test_show_and_rankdir_options():
    f, params = simple_circuit()
    _, edges = structure(bp.viz.draw(f, params=params, show="values"))
    assert all(GRADIENT_COLOR not in lbl for _, _, lbl in edges)
    _, edges = structure(bp.viz.draw(f, params=params, show=["grads"]))
    assert all(FORWARD_COLOR not in lbl and GRADIENT_COLOR in lbl for _, _, lbl in edges)
    _, edges = structure(bp.viz.draw(f, params=params, show=""))
    assert all(lbl == "" for _, _, lbl in edges)
    assert "rankdir=TB" in bp.viz.draw(f, rankdir="TB").source
    with pytest.raises(ValueError, match="values, grads, shapes"):
        bp.viz.draw(f, show="value")
    with pytest.raises(ValueError, match="rankdir must be one of"):
        bp.viz.draw(f, rankdir="left")
    with pytest.raises(ValueError, match="max_nodes"):
        bp.viz.draw(f, max_nodes=0)


def test_a_10000_op_chain_is_collapsed_into_one_node():
    x = bp.tensor(0.5, requires_grad=True)
    y = x
    for _ in range(10_000):
        y = bp.tanh(y)
    y.backward()
    dot = bp.viz.draw(y, params={"x": x})
    nodes, edges = structure(dot)
    assert len(nodes) == 3 and len(edges) == 2  # x -> [tanh x 10,000] -> L
    assert "tanh × 10,000" in " ".join(nodes.values())
    assert "max_nodes=None" in dot.source


def test_a_10000_op_graph_without_chains_is_cut_to_the_nodes_nearest_the_output():
    a = bp.tensor(1.0, requires_grad=True)
    b = bp.tensor(0.5, requires_grad=True)
    p, q = a, b
    for _ in range(3_334):  # three ops per step, every value used twice: no chains
        p, q = q, p * 0.5 + q * 0.5
    dot = bp.viz.draw(q, max_nodes=150)
    nodes, edges = structure(dot)
    assert len(nodes) <= 150 + 2  # the kept nodes, the '...' node and the output
    assert "hidden" in nodes and "more nodes" in nodes["hidden"]
    assert any(t == "hidden" for t, _, _ in edges)
    assert re.search(r"of 10,002 ops .* are hidden", dot.source)


@requires_dot
def test_a_summarised_10000_op_graph_renders():
    a = bp.tensor(1.0, requires_grad=True)
    p, q = a, a * 2
    for _ in range(5_000):
        p, q = q, p * q
    svg = bp.viz.draw(q).pipe(format="svg").decode()
    assert "more nodes" in svg


def test_a_small_graph_is_never_summarised():
    f, params = sigmoid_circuit()
    assert bp.viz.draw(f, params=params).source == bp.viz.draw(f, params=params, max_nodes=None).source
    assert "max_nodes" not in bp.viz.draw(f).source


def test_tensors_without_a_graph_get_clear_errors():
    with pytest.raises(ValueError, match="no graph: nothing in its computation requires grad"):
        bp.viz.draw(bp.tensor([1.0, 2.0]) * 2)
    with pytest.raises(ValueError, match="is a leaf"):
        bp.viz.draw(bp.tensor(1.0, requires_grad=True))
    with bp.no_grad():
        y = bp.tensor(1.0, requires_grad=True) * 2
    with pytest.raises(ValueError, match="no_grad"):
        bp.viz.draw(y)
    with pytest.raises(TypeError, match="expected a backprop Tensor, got float"):
        bp.viz.draw(3.0)


def test_bad_params_get_clear_errors():
    f, _ = simple_circuit()
    with pytest.raises(TypeError, match=r"params\['x'\] must be a Tensor"):
        bp.viz.draw(f, params={"x": 3.0})
    with pytest.raises(TypeError, match="dict of name -> tensor"):
        bp.viz.draw(f, params=42)
    # (name, tensor) pairs work too, like model.named_parameters()
    x = bp.tensor(1.0, requires_grad=True)
    nodes, _ = structure(bp.viz.draw(x * 3, params=iter([("weight", x)])))
    assert "weight" in nodes.values()


def test_missing_graphviz_package_says_how_to_install(monkeypatch):
    f, _ = simple_circuit()
    picture._picture_class.cache_clear()
    monkeypatch.setitem(sys.modules, "graphviz", None)
    try:
        with pytest.raises(ImportError, match="pip install graphviz"):
            bp.viz.draw(f)
    finally:
        picture._picture_class.cache_clear()


def test_missing_dot_program_says_how_to_install(monkeypatch, tmp_path):
    f, _ = simple_circuit()
    dot = bp.viz.draw(f)
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` anywhere
    with pytest.raises(bp.viz.DotNotFoundError, match="apt-get install graphviz"):
        dot.pipe(format="svg")
    with pytest.raises(bp.viz.DotNotFoundError, match="brew install graphviz"):
        dot.render(tmp_path / "g")
    assert "digraph" in dot.source  # the DOT source itself needs no Graphviz


def test_importing_backprop_and_viz_loads_no_optional_dependency():
    code = (
        "import sys, backprop, backprop.viz; "
        "print(sorted(m for m in ('numpy', 'graphviz', 'matplotlib') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
