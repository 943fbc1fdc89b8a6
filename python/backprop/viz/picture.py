"""`draw(output)`: the computational graph as the lecture's slides draw it. Gates (ops) are
nodes; each edge carries its forward value in green above and, after `backward()`, the
gradient flowing back along it in red below."""

import functools
from html import escape

from backprop.viz import _deps
from backprop.viz import graph as graphs
from backprop.viz import values as fmt
from backprop.viz.summarise import Plan, chain_label

FORWARD_COLOR = "#1a7f37"  # the slides' green: forward values
GRADIENT_COLOR = "#cf222e"  # the slides' red: gradients
MUTED_COLOR = "#6e7781"
SHOW_OPTIONS = ("values", "grads", "shapes")
RANKDIRS = ("LR", "RL", "TB", "BT")


def draw(output, params=None, show="values,grads", rankdir="LR", max_nodes=200, output_name=None, digits=2):
    """The graph that computed `output`, as a `graphviz.Digraph`.

    - One node per op (`mul`, `sigmoid`, `matmul`, or a custom Function's class name), with
      numbers the expression used written into it as the slides do (`+1`, `*-1`, `1/x`).
    - One node per leaf, named from `params` (a dict name -> tensor, such as
      `{"x": x, "y": y}` or `model.named_parameters()`; it can name intermediates and the
      output too), else `leaf0`, ...; non-scalars show their shape. Inputs that do not
      require grad (data) are dashed nodes.
    - Each edge: the forward value (green, above) and, after `backward()`, the gradient that
      flowed back along it (red, below). Scalars show the number, tensors of up to 16
      elements their values, larger ones their shape and mean/std/min/max.
    - `show`: any of "values", "grads", "shapes" (comma-separated or a list; "" for none);
      `digits`: decimals of the numbers (2, as on the slides).
    - `output_name` names the output's edge (default: its name in `params`, else `L`).
    - Graphs with more than `max_nodes` nodes are summarised (repeated chains collapsed, the
      nodes farthest from the output hidden) and the caption says so; `max_nodes=None`
      draws everything.

    Values of tensors with more than 64 elements are kept only when the graph is recorded
    inside `with bp.viz.trace():`. Render with `.render()`, `.pipe(format="svg")`, or by
    displaying the result in a notebook; that needs Graphviz's `dot` program."""
    show = _parse_show(show)
    if rankdir not in RANKDIRS:
        raise ValueError(f"draw: rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if max_nodes is not None and (not isinstance(max_nodes, int) or max_nodes < 1):
        raise ValueError(f"draw: max_nodes must be a positive int or None, got {max_nodes!r}")
    picture_class = _picture_class()
    graph = graphs.build(output, params, output_name, caller="draw")
    plan = Plan(graph, max_nodes)
    return _Painter(picture_class, graph, plan, show, rankdir, digits).paint()


def _parse_show(show):
    if show is None:
        return set()
    items = show.replace(" ", "").split(",") if isinstance(show, str) else list(show)
    items = {s for s in items if s}
    unknown = items - set(SHOW_OPTIONS)
    if unknown:
        raise ValueError(f"draw: show takes {', '.join(SHOW_OPTIONS)} (e.g. show=\"values,grads\"), got {sorted(unknown)}")
    return items


@functools.cache
def _picture_class():
    """`graphviz.Digraph` whose rendering explains how to install Graphviz when `dot` is missing."""
    graphviz = _deps.graphviz()

    class GraphPicture(graphviz.Digraph):
        """A `graphviz.Digraph` of a backprop graph."""

        def pipe(self, *args, **kwargs):
            try:
                out = super().pipe(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise _deps.DotNotFoundError(_deps.DOT_HINT) from e
            output_format = kwargs.get("format", args[0] if args else None) or self.format
            if output_format == "svg":
                out = readable_svg(out) if isinstance(out, str) else readable_svg(out.decode()).encode()
            return out

        def render(self, *args, **kwargs):
            try:
                path = super().render(*args, **kwargs)
            except graphviz.ExecutableNotFound as e:
                raise _deps.DotNotFoundError(_deps.DOT_HINT) from e
            if str(path).endswith(".svg"):
                with open(path, encoding="utf-8") as f:
                    svg = f.read()
                with open(path, "w", encoding="utf-8") as f:
                    f.write(readable_svg(svg))
            return path

    return GraphPicture


def readable_svg(svg):
    """Graphviz writes every `-` of a label as `&#45;`; in text elements a plain `-` is valid
    XML and lets people (and grep) find `-0.20` in the file. Comments keep the escape."""
    import re

    return re.sub(r"(<text\b[^>]*>)([^<]*)(</text>)", lambda m: m[1] + m[2].replace("&#45;", "-") + m[3], svg)


def _html(lines):
    """An HTML-like Graphviz label from (text, color, point size) lines."""
    parts = []
    for text, color, size in lines:
        body = escape(text, quote=False)
        if size:
            body = f'<FONT POINT-SIZE="{size}">{body}</FONT>'
        if color:
            body = f'<FONT COLOR="{color}">{body}</FONT>'
        parts.append(body)
    return "<" + "<BR/>".join(parts) + ">"


def _short(v):
    """A number as the slides write it inside a gate: `1`, `-1`, `0.5`."""
    return f"{v:g}"


_WITH_NUMBER = {
    # op: (text when the number is the first operand, text when it is the second)
    "add": ("+{c}", "+{c}"),
    "sub": ("{c}-x", "-{c}"),
    "mul": ("*{c}", "*{c}"),
    "div": ("{c}/x", "/{c}"),
    "pow": ("{c}**x", "**{c}"),
    "maximum": ("max({c}, x)", "max(x, {c})"),
    "minimum": ("min({c}, x)", "min(x, {c})"),
}


def op_detail(op):
    """The small second line of an op's node: numbers it used, or its parameters."""
    numbers = [(i, v) for i, v in enumerate(op.inputs) if v.is_number]
    if numbers:
        texts = []
        for i, v in numbers:
            c = _short(fmt.to_numpy(v.tensor).item())
            forms = _WITH_NUMBER.get(op.name)
            texts.append(forms[min(i, 1)].format(c=c) if forms else f"input {i} = {c}")
        return ", ".join(texts)
    p = op.params
    name = op.name
    if name == "pow" and "exponent" in p:
        return f"**{_short(p['exponent'])}"
    if name == "leaky_relu":
        return f"slope {_short(p['negative_slope'])}"
    if name == "elu":
        return f"alpha {_short(p['alpha'])}"
    if name == "clamp":
        return f"[{_short(p['min']) if 'min' in p else '-inf'}, {_short(p['max']) if 'max' in p else 'inf'}]"
    if name in ("sum", "mean") and len(p["dim"]) < len(op.inputs[0].shape):
        dims = p["dim"][0] if len(p["dim"]) == 1 else p["dim"]
        return f"dim {dims}" + (", keepdim" if p["keepdim"] else "")
    if name in ("softmax", "log_softmax", "cat"):
        return f"dim {p['dim']}"
    if name == "permute":
        return f"{p['dims']}"
    if name in ("reshape", "expand"):
        return f"\u2192 {op.output.shape}"
    if name == "to":
        return f"\u2192 {op.output.dtype}"
    if name == "select":
        return f"[{p['index']}] on dim {p['dim']}"
    if name == "slice":
        stop = p["start"] + op.output.shape[p["dim"]] * p["step"]
        return f"[{p['start']}:{stop}" + (f":{p['step']}" if p["step"] != 1 else "") + f"] on dim {p['dim']}"
    return ""


class _Painter:
    def __init__(self, picture_class, graph, plan, show, rankdir, digits) -> None:
        self.graph, self.plan, self.show, self.digits = graph, plan, show, digits
        self.missing_values = False
        self.dot = picture_class(
            name="backprop",
            graph_attr={"rankdir": rankdir, "fontname": "Helvetica", "fontsize": "10", "nodesep": "0.3", "ranksep": "0.5"},
            node_attr={"fontname": "Helvetica", "fontsize": "12", "height": "0.3"},
            edge_attr={"fontname": "Helvetica", "fontsize": "10", "arrowsize": "0.6", "color": "#57606a"},
        )

    def paint(self):
        # Inputs first: Graphviz then stacks them in first-use order (w0, x0 above w1, x1).
        for unit in sorted(self.plan.units, key=lambda u: u.kind in ("op", "chain")):
            self._node(unit)
        for unit in self.plan.units:
            if unit.kind in ("op", "chain"):
                self._edges_into(unit)
        self._output()
        if self.plan.hidden_ops or self.plan.hidden_inputs:
            n = self.plan.hidden_ops + self.plan.hidden_inputs
            self.dot.node("hidden", _html([(f"\u2026 {n:,} more nodes", MUTED_COLOR, None)]), shape="box", style="dashed", color=MUTED_COLOR)
        notes = list(self.plan.notes)
        if self.plan.summarised:
            notes.append("pass max_nodes=None to draw everything")
        if self.missing_values and ({"values", "grads"} & self.show):
            notes.append("values of tensors with more than 64 elements are kept only inside `with bp.viz.trace():`")
        if notes:
            self.dot.attr(label=_html([(n, MUTED_COLOR, None) for n in notes]), labelloc="b", labeljust="l")
        return self.dot

    # ---- nodes ---------------------------------------------------------------------------

    def _node(self, unit):
        if unit.kind == "op":
            op = unit.head
            lines = [(op.name, None, None)]
            detail = op_detail(op)
            if detail:
                lines.append((detail, MUTED_COLOR, 10))
            self.dot.node(unit.id, _html(lines), shape="ellipse")
        elif unit.kind == "chain":
            lines = [(chain_label(unit.ops), None, None), (f"{len(unit.ops):,} ops in a chain", MUTED_COLOR, 10)]
            self.dot.node(unit.id, _html(lines), shape="box", style="rounded,bold")
        else:
            v = unit.value
            lines = [(v.name, None, None)]
            if v.shape != ():
                lines.append((str(v.shape), MUTED_COLOR, 10))
            if unit.kind == "leaf":
                self.dot.node(unit.id, _html(lines), shape="box", style="rounded,filled", fillcolor="#ddf4ff", color="#54aeff")
            else:
                self.dot.node(unit.id, _html(lines), shape="box", style="rounded,dashed", color=MUTED_COLOR)

    def _output(self):
        out = self.graph.output
        self.dot.node("output", _html([(out.name, None, None)]), shape="plaintext")
        self.dot.edge(self.plan.unit_of[out.producer].id, "output", label=self._label(out, out.tensor, out.grad))

    # ---- edges ---------------------------------------------------------------------------

    def _edges_into(self, unit):
        op = unit.head
        from_hidden = False
        for v, i in self.plan.inputs(unit):
            producer = self.plan.producer(v)
            if producer.id not in self.plan.visible:
                from_hidden = True
                continue
            grad = op.downstream[i] if op.downstream else None
            if grad is None and len(v.consumers) == 1:
                grad = v.grad  # its only edge carries all of its gradient (e.g. a leaf's .grad)
            self.dot.edge(producer.id, unit.id, label=self._label(v, v.tensor, grad))
        if from_hidden:
            self.dot.edge("hidden", unit.id, style="dashed", color=MUTED_COLOR)

    def _label(self, v, value, grad):
        lines = []
        if "values" in self.show:
            if value is not None:
                lines += [(t, FORWARD_COLOR, None) for t in fmt.describe(fmt.to_numpy(value), self.digits)]
            else:
                self.missing_values = True
                lines.append((f"shape {v.shape}", MUTED_COLOR, None))
        if "shapes" in self.show and v.shape != () and not any(t.startswith("shape") for t, _, _ in lines):
            lines.append((str(v.shape), MUTED_COLOR, None))
        if "grads" in self.show and grad is not None:
            lines += [(t, GRADIENT_COLOR, None) for t in fmt.describe(fmt.to_numpy(grad), self.digits)]
        return _html(lines) if lines else None
