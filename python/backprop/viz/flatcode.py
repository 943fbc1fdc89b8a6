"""`flat_code(output)`: the graph's forward and backward passes as straight-line Python, the
lecture's "flat" gradient code: the backward pass reads as the forward pass reversed, one
line per local gradient, each line commented with the value it computes."""

import keyword
import re

from backprop.viz import graph as graphs
from backprop.viz import values as fmt
from backprop.viz.rules import HELPERS, Ctx, rule_for, supported_ops

_NEEDS_MATH = {"gelu", "erf", "erfinv", "scatter_add"}
_RESERVED = {"np", "math", "inputs", "grads", "_erf", "_erf_of", "gelu_grad"} | set(HELPERS)
_COMMENT_COLUMN = 40


class FlatCode(str):
    """Python source defining `f(inputs...)`, which computes the output and the gradients
    with NumPy, followed by a call of `f` on the values the graph was recorded with (the
    function is `forward_backward` when a value of the graph is itself named f).

    `inputs` maps each argument of `f` to its recorded value (a NumPy array); arguments with
    more than a few elements are read from a dict named `inputs` instead of being written
    out, so execute the code with `run()` or `exec(code, {"inputs": code.inputs})`. After
    that, `L, grads = f(...)` is defined: `grads` maps each leaf's name to its gradient."""

    inputs: dict

    def run(self):
        """Executes the code; returns its namespace (`f`, the output, `grads`, ...)."""
        namespace = {"inputs": dict(self.inputs)}
        exec(compile(str(self), "<flat_code>", "exec"), namespace)  # our own generated code
        return namespace


def flat_code(output, params=None, output_name=None, digits=2):
    """The straight-line forward and backward code of the graph that computed `output`, in
    the lecture's style, as Python source (a `FlatCode` string):

        def f(w0, x0, w1, x1, w2):
            s0 = w0 * x0                     # -2.00
            ...
            L = sigmoid(s3)                  # 0.73
            grad_L = 1.0                     # 1.00
            grad_s3 = grad_L * (1 - L) * L   # 0.20
            ...

    Names come from `params` (a dict name -> tensor, leaves or intermediates, e.g.
    `{"w0": w0, "x0": x0}` or `model.named_parameters()`), else `leaf0`, `s0`, ...; the output
    is `output_name` (default `L`). Each line's comment is the value it computes for the
    recorded inputs; executing the code reproduces the engine's gradients. After `backward()`
    the upstream gradient it was given is used (else ones).

    Raises NotImplementedError naming any op it has no rule for (custom `autograd.Function`s
    run Python code it cannot see into), and ValueError when an input's value was not kept
    (record large graphs inside `with bp.viz.trace():`)."""
    g = graphs.build(output, params, output_name, caller="flat_code")
    return _Writer(g, digits).write()


class _Writer:
    def __init__(self, graph, digits) -> None:
        self.graph = graph
        self.digits = digits
        self.rules = self._rules()
        self.idents = {}  # Value -> identifier
        self.grad_idents = {}
        self.taken = set(_RESERVED)
        self.arguments = []  # (identifier, NumPy array): the parameters of f, in order
        self.extra = {}  # (op, param name) -> identifier of an index/mask argument
        self.helpers = set()

    def _rules(self):
        rules, missing = {}, []
        for op in self.graph.ops:
            rule = rule_for(op.name, op.params, len(op.inputs)) if len(op.outputs) == 1 else None
            if rule is None:
                missing.append(op.name)
            rules[op] = rule
        if missing:
            names = ", ".join(sorted(set(missing)))
            raise NotImplementedError(
                f"flat_code cannot write the op(s) {names}: it has derivative rules for {', '.join(supported_ops())}. "
                f"A custom autograd.Function runs Python code flat_code cannot see into; draw() and gradient_table() "
                f"still show such graphs"
            )
        return rules

    # ---- names -------------------------------------------------------------------------

    def _fresh(self, name):
        ident = re.sub(r"\W", "_", name)
        if not ident or ident[0].isdigit():
            ident = "_" + ident
        if keyword.iskeyword(ident):
            ident += "_"
        base, k = ident, 1
        while ident in self.taken:
            ident, k = f"{base}_{k}", k + 1
        self.taken.add(ident)
        return ident

    def _name_everything(self):
        # The slides call the function f; a graph whose output is named f keeps its name.
        self.function = "f" if all(v.name != "f" for v in self.graph.values()) else "forward_backward"
        self.taken.add(self.function)
        for v in self.graph.values():
            if not v.is_number:
                self.idents[v] = self._fresh(v.name)
        for v in self.graph.values():
            if v.kind != graphs.CONSTANT:
                self.grad_idents[v] = self._fresh("grad_" + self.idents[v])

    def _expr(self, v):
        """How the code refers to a value: its name, or the number itself for `1`-like constants."""
        return number_literal(v) if v.is_number else self.idents[v]

    # ---- arguments -------------------------------------------------------------------------

    def _argument(self, ident, tensor, what):
        if tensor is None:
            raise ValueError(
                f"flat_code needs the value of every input, but the graph did not keep {what}: values of tensors "
                f"with more than 64 elements are kept only when the graph is recorded inside `with bp.viz.trace():`"
            )
        self.arguments.append((ident, fmt.to_numpy(tensor)))

    def _collect_arguments(self):
        seen = set()
        for op in self.graph.ops:
            for i, v in enumerate(op.inputs):
                if v in seen or v.kind == graphs.OUTPUT or v.is_number:
                    continue
                seen.add(v)
                what = f"the {v.shape} input {i} of {op.name}"
                self._argument(self.idents[v], v.tensor, what)
            for key, value in op.params.items():
                if not isinstance(value, (int, float, bool, tuple)):  # a tensor of indices
                    ident = self.extra[(op, key)] = self._fresh("idx")
                    self._argument(ident, value, f"the {key} of {op.name}")
            if op.name == "where":
                saved = op.node.saved_tensors
                if saved is None:
                    raise ValueError(
                        "flat_code needs the condition of `where`, which backward() freed; call flat_code before "
                        "backward(), or pass retain_graph=True to backward()"
                    )
                ident = self.extra[(op, "condition")] = self._fresh("mask")
                self._argument(ident, saved[0], "the condition of where")

    def _seed(self):
        """The upstream gradient of the output: `None` for the lecture's base case 1.0, else its array."""
        out = self.graph.output
        upstream = out.producer.upstream
        seed = upstream[out.output_nr] if upstream else None
        if seed is None:
            return None if out.numel == 1 else fmt.to_numpy(out.tensor) * 0 + 1
        a = fmt.to_numpy(seed)
        return None if (a.size == 1 and a.item() == 1) else a

    # ---- code --------------------------------------------------------------------------

    def _ctx(self, op):
        params = dict(op.params)
        for (o, key), ident in self.extra.items():
            if o is op:
                params[key] = ident
        out = op.output
        return Ctx(
            [self._expr(v) for v in op.inputs],
            self.idents[out],
            self.grad_idents.get(out),
            [v.shape for v in op.inputs],
            out.shape,
            [v.dtype for v in op.inputs],
            out.dtype,
            params,
        )

    def _forward(self):
        lines = []
        for op in self.graph.ops:
            rule = self.rules[op]
            self.helpers.update(rule.helpers)
            lines.append((self.idents[op.output], rule.forward(self._ctx(op))))
        return lines

    def _backward(self, seed):
        out = self.graph.output
        lines = []
        if seed is None:
            lines.append((self.grad_idents[out], "1.0"))
        has_grad = {out}
        for op in reversed(self.graph.ops):
            rule, ctx = self.rules[op], self._ctx(op)
            if op.output not in has_grad:
                continue  # nothing flowed back to this op
            for i, v in enumerate(op.inputs):
                if v.kind == graphs.CONSTANT:
                    continue
                expr = rule.vjps[i](ctx)
                if rule.natural_shape(ctx, i) != v.shape:
                    self.helpers.add("unbroadcast")
                    expr = f"unbroadcast({expr}, {v.shape})"
                target = self.grad_idents[v]
                if v in has_grad:  # the copy gate adds: a value used twice sums its gradients
                    expr = f"{target} + {expr}"
                has_grad.add(v)
                lines.append((target, expr))
        return lines

    def write(self):
        self._name_everything()
        self._collect_arguments()
        seed = self._seed()
        if seed is not None:
            self.arguments.append((self.grad_idents[self.graph.output], seed))
        forward = self._forward()
        backward = self._backward(seed)
        comments = self._evaluate(forward + backward)
        parts = [*self._head(), self._function(forward, backward, comments), self._call()]
        code = FlatCode("\n\n\n".join(parts) + "\n")
        code.inputs = dict(self.arguments)
        return code

    def _head(self):
        imports = (["import math"] if self.helpers & _NEEDS_MATH else []) + ["import numpy as np"]
        return ["\n".join(imports)] + [HELPERS[h].rstrip("\n") for h in sorted(self.helpers)]

    def _function(self, forward, backward, comments):
        out = self.graph.output
        lines = [f"def {self.function}({', '.join(ident for ident, _ in self.arguments)}):"]
        lines.append("    # forward pass: compute the output")
        statements = forward + backward
        width = min(_COMMENT_COLUMN, max(len(f"{t} = {e}") for t, e in statements))
        for k, (target, expr) in enumerate(statements):
            if k == len(forward):
                lines.append("    # backward pass: downstream gradient = upstream gradient * local gradient")
            lines.append(f"    {f'{target} = {expr}'.ljust(width)}  # {comments[k]}")
        grads = ", ".join(f"{v.name!r}: {self.grad_idents[v]}" for v in self.graph.leaves)
        lines.append(f"    return {self.idents[out]}, {{{grads}}}")
        return "\n".join(lines)

    def _call(self):
        lines = ["# the values the graph was recorded with"]
        for ident, a in self.arguments:
            if a.size <= fmt.SMALL:
                lines.append(f"{ident} = {_array_literal(a)}")
            else:
                lines.append(f"{ident} = inputs[{ident!r}]  # {a.dtype} {tuple(a.shape)}")
        arguments = ", ".join(ident for ident, _ in self.arguments)
        lines.append(f"{self.idents[self.graph.output]}, grads = {self.function}({arguments})")
        return "\n".join(lines)

    def _evaluate(self, statements):
        """Runs each statement on the recorded inputs and returns its value as a comment."""
        import math

        import numpy as np

        namespace = {"np": np, "math": math}
        for h in self.helpers:
            exec(HELPERS[h], namespace)  # fixed helper source
        for ident, a in self.arguments:
            namespace[ident] = a[()] if a.ndim == 0 else a
        comments = []
        with np.errstate(all="ignore"):
            for target, expr in statements:
                try:
                    exec(f"{target} = {expr}", namespace)  # our own generated code
                except Exception as e:  # a bug in a rule: say which line
                    raise RuntimeError(f"flat_code: internal error evaluating `{target} = {expr}`: {e}") from e
                comments.append(fmt.one_line(np.asarray(namespace[target]), self.digits))
        return comments


def number_literal(v):
    """A 0-dim constant as code, in the fewest digits its dtype needs (`0.01`, not
    `0.009999999776482582`, for a float32 0.01)."""
    import numpy as np

    from backprop.viz.rules import literal

    a = fmt.to_numpy(v.tensor)
    if a.dtype.kind == "f":
        x = a.item()
        if np.isfinite(x):
            text = str(a[()])  # NumPy prints the shortest repr that round-trips in the dtype
            return f"({text})" if x < 0 or text.startswith("-") else text
    return literal(a.item())


def _element_literal(x, np):
    if isinstance(x, (bool, np.bool_)):
        return str(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    if np.isnan(x):
        return "np.nan"
    if np.isinf(x):
        return "np.inf" if x > 0 else "-np.inf"
    return str(x)


def _array_literal(a):
    """`np.float32(2.0)` or `np.array([[1.0, 2.0]], dtype=np.float32)`, exactly the recorded values."""
    import numpy as np

    dtype = "bool_" if a.dtype == np.bool_ else a.dtype.name
    if a.ndim == 0:
        return f"np.{dtype}({_element_literal(a[()], np)})"

    def nested(x):
        if x.ndim == 1:
            return "[" + ", ".join(_element_literal(e, np) for e in x) + "]"
        return "[" + ", ".join(nested(r) for r in x) + "]"

    return f"np.array({nested(a)}, dtype=np.{dtype})"
