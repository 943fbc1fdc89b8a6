"""`gradient_table(output)`: the chain rule, one row per gradient the backward pass sent:
for each op and input, the upstream gradient, the local gradient and the downstream
gradient (downstream = local x upstream), with the engine's own numbers."""

from html import escape

from backprop.viz import graph as graphs
from backprop.viz import values as fmt
from backprop.viz.rules import HELPERS, Ctx, rule_for

_COLUMNS = ("node", "input", "upstream", "local", "downstream")


class GradientRow:
    """One gradient of the backward pass. `upstream` and `downstream` are the engine's
    arrays; `local` is the local derivative's value for elementwise ops (None for ops whose
    Jacobian is never formed, like matmul: `local_formula` gives their vjp instead)."""

    __slots__ = ("node", "input", "upstream", "local", "local_formula", "downstream", "summed_to")

    def __init__(self, node, input, upstream, local, local_formula, downstream, summed_to=None) -> None:
        self.node, self.input = node, input
        self.upstream, self.local, self.local_formula, self.downstream = upstream, local, local_formula, downstream
        self.summed_to = summed_to  # the input's shape, when its gradient was summed down to it

    def __repr__(self):
        return f"<GradientRow {self.node} / {self.input}>"


class GradientTable:
    """Rows in backward order (the output's op first). Prints as text; shows as an HTML
    table in notebooks."""

    def __init__(self, rows, digits=2) -> None:
        self.rows = rows
        self.digits = digits

    def __len__(self):
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def __getitem__(self, k):
        return self.rows[k]

    def _cells(self, row):
        def show(a):
            return "-" if a is None else fmt.one_line(a, self.digits)

        local = row.local_formula
        if row.local is not None:
            value = fmt.one_line(row.local, self.digits)
            local = value if _is_number(local) else f"{local} = {value}"
        if row.summed_to is not None:
            local += f", summed to {row.summed_to}"
        return (row.node, row.input, show(row.upstream), local, show(row.downstream))

    def __repr__(self):
        cells = [_COLUMNS] + [tuple(_clip(c) for c in self._cells(r)) for r in self.rows]
        widths = [max(len(c[k]) for c in cells) for k in range(len(_COLUMNS))]
        lines = ["  ".join(c[k].ljust(widths[k]) for k in range(len(_COLUMNS))).rstrip() for c in cells]
        lines.insert(1, "  ".join("-" * w for w in widths))
        return "\n".join(lines)

    def _repr_html_(self):
        colors = {"upstream": "#cf222e", "downstream": "#cf222e"}
        head = "".join(f"<th>{c}</th>" for c in _COLUMNS)
        body = []
        for row in self.rows:
            tds = []
            for name, text in zip(_COLUMNS, self._cells(row)):
                style = f' style="color:{colors[name]}"' if name in colors else ""
                tds.append(f"<td{style}><code>{escape(text)}</code></td>")
            body.append("<tr>" + "".join(tds) + "</tr>")
        return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def gradient_table(output, params=None, output_name=None, digits=2):
    """For each op of the graph that computed `output` (in backward order) and each input
    that received a gradient: the upstream gradient (dL/d output of the op), the local
    gradient (d output / d input: its value for elementwise ops; for ops like matmul, whose
    Jacobian is never formed, the vjp that replaces it) and the downstream gradient the
    engine sent to the input. Call `output.backward()` first. Names as in `draw` and
    `flat_code` (`params` names leaves and intermediates)."""
    g = graphs.build(output, params, output_name, caller="gradient_table")
    root = g.output.producer
    if root.upstream is None:
        if root.node.output_values is None:
            raise ValueError(
                "gradient_table: the graph did not keep its gradients: tensors with more than 64 elements keep "
                "them only when the graph is recorded inside `with bp.viz.trace():`"
            )
        raise ValueError("gradient_table: no gradients yet: call output.backward() first")
    rows = []
    for op in reversed(g.ops):
        rule = rule_for(op.name, op.params, len(op.inputs)) if len(op.outputs) == 1 else None
        for i, v in enumerate(op.inputs):
            if v.kind == graphs.CONSTANT:
                continue
            local, formula = _local(op, rule, i)
            summed = rule is not None and rule.natural_shape(_ctx(op, op.params, [""] * len(op.inputs), "", ""), i) != v.shape
            upstream = op.upstream[0] if op.upstream and len(op.upstream) == 1 else None
            downstream = op.downstream[i] if op.downstream else None
            rows.append(
                GradientRow(
                    _statement(op),
                    v.name,
                    fmt.to_numpy(upstream) if upstream is not None else None,
                    local,
                    formula,
                    fmt.to_numpy(downstream) if downstream is not None else None,
                    v.shape if summed else None,
                )
            )
    return GradientTable(rows, digits)


def _clip(text, width=48):
    return text if len(text) <= width else text[: width - 1] + "\u2026"


def _is_number(text):
    try:
        float(text)
    except ValueError:
        return False
    return True


def _operand(v):
    return fmt.number(fmt.to_numpy(v.tensor).item()).rstrip("0").rstrip(".") if v.is_number else v.name


def _statement(op):
    """`s3 = sigmoid(s2)`, `s12 = pow(W2, exponent=2.0)`: the op as a call, with its parameters."""
    outputs = ", ".join(o.name for o in op.outputs)
    args = [_operand(v) for v in op.inputs]
    args += [f"{k}={v}" for k, v in op.params.items() if isinstance(v, (int, float, tuple)) and not isinstance(v, bool)]
    args += [k for k, v in op.params.items() if v is True]
    return f"{outputs} = {op.name}({', '.join(args)})"


def _ctx(op, params, xs, out, g):
    return Ctx(xs, out, g, [v.shape for v in op.inputs], op.output.shape, [v.dtype for v in op.inputs], op.output.dtype, params)


def _local(op, rule, i):
    """(value or None, formula) of the local gradient of `op`'s output wrt input `i`."""
    import math

    import numpy as np

    if rule is None:
        return None, f"(computed by {op.name}.backward)"
    params = dict(op.params)
    condition = None
    if op.name == "where":
        saved = op.node.saved_tensors
        condition = fmt.to_numpy(saved[0]) if saved else None
        params["condition"] = "condition"
    for key, value in params.items():
        if not isinstance(value, (int, float, bool, tuple, str)):
            params[key] = key  # index tensors: only named in formulas

    names = [_operand(v) for v in op.inputs]
    if rule.locals is None:
        return None, "vjp: " + rule.vjps[i](_ctx(op, params, names, op.output.name, "upstream"))
    formula = rule.locals[i](_ctx(op, params, names, op.output.name, "upstream"))
    placeholders = [f"_x{k}" for k in range(len(op.inputs))]
    values = [v.tensor for v in op.inputs] + [op.output.tensor]
    if any(t is None for t in values) or (op.name == "where" and condition is None):
        return None, formula
    namespace = {"np": np, "math": math, "condition": condition, "_out": fmt.to_numpy(op.output.tensor)}
    for h in rule.helpers:
        exec(HELPERS[h], namespace)  # fixed helper source
    for name, v in zip(placeholders, op.inputs):
        namespace[name] = fmt.to_numpy(v.tensor)
    expr = rule.locals[i](_ctx(op, params, placeholders, "_out", "upstream"))
    with np.errstate(all="ignore"):
        value = eval(expr, namespace)  # our own rule templates
    return np.broadcast_to(np.asarray(value, dtype=np.float64), op.output.shape), formula
