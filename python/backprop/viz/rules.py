"""Derivative rules in the lecture's flat-code style: for each op, its forward as a NumPy
expression and, per input, its vjp (downstream = f(upstream)), and for elementwise ops the
local derivative itself. The elementwise rules are read from the engine's op table
(`rust/ops/table.rs`, through `_core._op_table()`), where each row's NumPy text sits beside
the Rust derivative it describes; the structural ops (sum, matmul, reshape, indexing, ...)
are written here, following their vjps in `rust/ops/*.rs`."""

import math
import re

from backprop import _core


class Ctx:
    """What a rule reads: code expressions of the op's inputs (`xs`; `a`, `b`, `c` in
    templates), its output (`out`) and upstream gradient (`g`), shapes, dtypes, and the op's
    parameters as Python values (tensor parameters replaced by the names of the variables
    holding them)."""

    __slots__ = ("xs", "out", "g", "in_shapes", "out_shape", "in_dtypes", "out_dtype", "params")

    def __init__(self, xs, out, g, in_shapes, out_shape, in_dtypes, out_dtype, params) -> None:
        self.xs, self.out, self.g = xs, out, g
        self.in_shapes, self.out_shape = in_shapes, out_shape
        self.in_dtypes, self.out_dtype = in_dtypes, out_dtype
        self.params = params

    def fields(self):
        f = {"out": self.out, "g": self.g}
        f.update(zip("abc", self.xs))
        f.update((k, literal(v)) for k, v in self.params.items())
        return f


def literal(v):
    """A parameter as code: names stay names, numbers become literals (negative ones in
    parentheses, so they can stand anywhere in an expression)."""
    if isinstance(v, str):
        return v
    if isinstance(v, (bool, tuple)):
        return repr(v)
    if isinstance(v, int):
        return f"({v})" if v < 0 else str(v)
    v = float(v)
    if math.isnan(v):
        return "np.nan"
    if v in (float("inf"), float("-inf")):
        return "np.inf" if v > 0 else "(-np.inf)"
    return f"({v!r})" if v < 0 or (v == 0 and str(v).startswith("-")) else repr(v)


class Rule:
    """`forward(ctx)`, `vjps[i](ctx)` and `locals[i](ctx)` (the local derivative, for
    elementwise ops only) return code; `helpers` are the
    helper functions the code calls; `broadcasts`: inputs broadcast to the output's shape, so
    their gradients are summed back (what the engine's `sum_to` does)."""

    __slots__ = ("forward", "vjps", "locals", "helpers", "broadcasts")

    def __init__(self, forward, vjps, local_grads=None, helpers=(), broadcasts=True) -> None:
        self.forward = _code(forward)
        self.vjps = [_code(v) for v in vjps]
        self.locals = [_code(v) for v in local_grads] if local_grads else None
        self.helpers = tuple(helpers)
        self.broadcasts = broadcasts

    def natural_shape(self, ctx, i):
        """The shape of `vjps[i]`'s result before it is summed down to input `i`'s shape."""
        return tuple(ctx.out_shape) if self.broadcasts else tuple(ctx.in_shapes[i])


class _Matmul(Rule):
    def natural_shape(self, ctx, i):
        return tuple(ctx.out_shape[:-2]) + tuple(ctx.in_shapes[i][-2:])


class _Linear(Rule):
    def natural_shape(self, ctx, i):
        return tuple(ctx.out_shape) if i == 2 else tuple(ctx.in_shapes[i])


def _code(template):
    if template is None or callable(template):
        return template
    return lambda ctx: template.format_map(ctx.fields())


def _unary(forward, vjp, local, helpers=()):
    return Rule(forward, [vjp], [local], helpers)


def _t(x, ndim):
    """The transpose of the last two dims, as code."""
    return f"{x}.T" if ndim == 2 else f"np.swapaxes({x}, -1, -2)"


def _axis(axes):
    return str(axes[0]) if len(axes) == 1 else str(tuple(axes))


def _sum_forward(ctx):
    axes, keep, ndim = ctx.params["dim"], ctx.params["keepdim"], len(ctx.in_shapes[0])
    if not keep and len(axes) == ndim:
        return f"np.sum({ctx.xs[0]})"
    return f"np.sum({ctx.xs[0]}, axis={_axis(axes)}{', keepdims=True' if keep else ''})"


def _sum_vjp(ctx):
    # The sum's local gradient is 1 everywhere: the upstream gradient is copied back.
    axes, keep, ndim = ctx.params["dim"], ctx.params["keepdim"], len(ctx.in_shapes[0])
    if keep or len(axes) == ndim:
        return f"{ctx.g} * np.ones_like({ctx.xs[0]})"
    return f"np.expand_dims({ctx.g}, {_axis(axes)}) * np.ones_like({ctx.xs[0]})"


def _mean_forward(ctx):
    return _sum_forward(ctx).replace("np.sum(", "np.mean(", 1)


def _mean_vjp(ctx):
    # Each input element's share of the mean is 1/count of it.
    count = math.prod(ctx.in_shapes[0][d] for d in ctx.params["dim"])
    return f"{_sum_vjp(ctx)} / {count}"


def _pow_scalar_local(ctx):
    p, a = ctx.params["exponent"], ctx.xs[0]
    if p == 2:
        return f"2.0 * {a}"
    return f"{literal(p)} * {a} ** {literal(p - 1)}"


def _pow_scalar_vjp(ctx):
    return f"{ctx.g} * {_pow_scalar_local(ctx)}"


def _clamp_inside(ctx):
    a, p = ctx.xs[0], ctx.params
    tests = [f"({a} > {literal(p['min'])})"] if "min" in p else []
    tests += [f"({a} < {literal(p['max'])})"] if "max" in p else []
    return " & ".join(tests) if tests else f"({a} == {a})"


def _clamp_forward(ctx):
    p = ctx.params
    return f"np.clip({ctx.xs[0]}, {literal(p['min']) if 'min' in p else None}, {literal(p['max']) if 'max' in p else None})"


def _index(ctx, dim, item):
    return "[" + ", ".join([":"] * dim + [item]) + "]"


def _slice_item(start, length, step):
    stop = start + (length - 1) * step + 1 if length else start
    return f"{start}:{stop}" + (f":{step}" if step != 1 else "")


def _slice(ctx):
    p = ctx.params
    return _index(ctx, p["dim"], _slice_item(p["start"], ctx.out_shape[p["dim"]], p["step"]))


def _scatter_slice(ctx):
    p = ctx.params
    return _index(ctx, p["dim"], _slice_item(p["start"], ctx.in_shapes[0][p["dim"]], p["step"]))


def _select(ctx):
    return _index(ctx, ctx.params["dim"], str(ctx.params["index"]))


def _cat_vjp(i):
    def vjp(ctx):
        dim = ctx.params["dim"]
        start = sum(s[dim] for s in ctx.in_shapes[:i])
        return f"{ctx.g}" + _index(ctx, dim, f"{start}:{start + ctx.in_shapes[i][dim]}")

    return vjp


def _permute_vjp(ctx):
    perm = ctx.params["dims"]
    inverse = [0] * len(perm)
    for i, p in enumerate(perm):
        inverse[p] = i
    return f"np.transpose({ctx.g}, {tuple(inverse)})"


def _helpers_of(*templates):
    """The helper functions (below) a template calls."""
    text = " ".join(t for t in templates if isinstance(t, str))
    return [h for h in ("sigmoid", "gelu", "erf", "erfinv") if re.search(rf"\b{h}(_grad)?\(", text)]


def _times_upstream(local):
    """`{g} * local`, parenthesised when the local derivative is a sum or difference."""
    depth, prev = 0, ""
    for k, ch in enumerate(local):
        if ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif depth == 0 and ch in "+-" and (prev.isalnum() or prev in ")]}._"):
            if not (prev == "e" and k >= 2 and local[k - 2].isdigit()):  # not an exponent like 1e-5
                return f"{{g}} * ({local})"
        if not ch.isspace():
            prev = ch
    return f"{{g}} * {local}"


def _table_rule(op):
    """A rule from a row of the op table: NumPy forward, local derivatives, vjps."""
    n = op["arity"]
    forward, local_grads = op["numpy"][0], list(op["numpy"][1 : 1 + n])
    vjps = list(op["numpy"][1 + n : 1 + 2 * n]) or [_times_upstream(d) for d in local_grads]
    return Rule(forward, vjps, local_grads, _helpers_of(forward, *local_grads, *vjps))


def _from_table():
    unary, binary = {}, {}
    for op in _core._op_table():
        if op["class"] in ("compare", "logic", "bits", "integer", "pred") or op["name"] in ("floor_divide", "logical_not"):
            continue  # no gradient flows through these
        if op["arity"] == 1:
            unary["pow_scalar" if op["name"] == "pow" else op["name"]] = _table_rule(op)
        else:
            binary[op["name"]] = _table_rule(op)
    return unary, binary


_TABLE_UNARY, _TABLE_BINARY = _from_table()

ELEMENTWISE_BINARY = {
    **_TABLE_BINARY,
    "where": Rule(
        "np.where({condition}, {a}, {b})",
        ["np.where({condition}, {g}, 0.0)", "np.where({condition}, 0.0, {g})"],
        ["np.where({condition}, 1.0, 0.0)", "np.where({condition}, 0.0, 1.0)"],
    ),
}

ELEMENTWISE_UNARY = {
    **_TABLE_UNARY,
    # Parameters that may be absent (clamp) or read better simplified (x ** 2) keep their
    # own formatting; the formulas are the table's.
    "clamp": _unary(
        _clamp_forward,
        lambda c: f"{c.g} * ({_clamp_inside(c)})",
        lambda c: f"1.0 * ({_clamp_inside(c)})",
    ),
    "pow_scalar": _unary("{a} ** {exponent}", _pow_scalar_vjp, _pow_scalar_local),
    "to": _unary(
        lambda c: f"np.asarray({c.xs[0]}, dtype=np.{c.out_dtype})",
        lambda c: f"np.asarray({c.g}, dtype=np.{c.in_dtypes[0]})",
        "1.0",
    ),
    "clone": _unary("np.copy({a})", "{g}", "1.0"),
}

STRUCTURAL = {
    "sum": Rule(_sum_forward, [_sum_vjp], broadcasts=False),
    "mean": Rule(_mean_forward, [_mean_vjp], broadcasts=False),
    "max": Rule("np.max({a})", ["{g} * ({a} == {out}) / np.sum({a} == {out})"], broadcasts=False),
    "min": Rule("np.min({a})", ["{g} * ({a} == {out}) / np.sum({a} == {out})"], broadcasts=False),
    "matmul": _Matmul(
        "{a} @ {b}",
        [lambda c: f"{c.g} @ {_t(c.xs[1], len(c.in_shapes[1]))}", lambda c: f"{_t(c.xs[0], len(c.in_shapes[0]))} @ {c.g}"],
    ),
    "reshape": Rule(lambda c: f"np.reshape({c.xs[0]}, {tuple(c.out_shape)})", [lambda c: f"np.reshape({c.g}, {tuple(c.in_shapes[0])})"], broadcasts=False),
    "expand": Rule(
        lambda c: f"np.broadcast_to({c.xs[0]}, {tuple(c.out_shape)})",
        [lambda c: f"unbroadcast({c.g}, {tuple(c.in_shapes[0])})"],
        helpers=["unbroadcast"],
        broadcasts=False,
    ),
    "permute": Rule("np.transpose({a}, {dims})", [_permute_vjp], broadcasts=False),
    "slice": Rule(
        lambda c: c.xs[0] + _slice(c),
        [lambda c: f"scatter_into({c.g}, {tuple(c.in_shapes[0])}, np.s_{_slice(c)})"],
        helpers=["scatter_into"],
        broadcasts=False,
    ),
    "select": Rule(
        lambda c: c.xs[0] + _select(c),
        [lambda c: f"scatter_into({c.g}, {tuple(c.in_shapes[0])}, np.s_{_select(c)})"],
        helpers=["scatter_into"],
        broadcasts=False,
    ),
    "slice_backward": Rule(
        lambda c: f"scatter_into({c.xs[0]}, {tuple(c.out_shape)}, np.s_{_scatter_slice(c)})",
        [lambda c: c.g + _scatter_slice(c)],
        helpers=["scatter_into"],
        broadcasts=False,
    ),
    "index": Rule(
        "np.reshape({a}, -1)[{offsets}]",
        [lambda c: f"scatter_add({c.g}, {tuple(c.in_shapes[0])}, {c.params['offsets']})"],
        helpers=["scatter_add"],
        broadcasts=False,
    ),
    "index_backward": Rule(
        lambda c: f"scatter_add({c.xs[0]}, {tuple(c.out_shape)}, {c.params['offsets']})",
        ["np.reshape({g}, -1)[{offsets}]"],
        helpers=["scatter_add"],
        broadcasts=False,
    ),
    "index_put": Rule(
        "put({a}, {offsets}, {b})",
        ["put({g}, {offsets}, 0.0)", "np.reshape({g}, -1)[{offsets}]"],
        helpers=["put"],
        broadcasts=False,
    ),
    "softmax": Rule(
        "softmax({a}, axis={dim})",
        ["{out} * ({g} - np.sum({g} * {out}, axis={dim}, keepdims=True))"],
        helpers=["softmax"],
        broadcasts=False,
    ),
    "log_softmax": Rule(
        "log_softmax({a}, axis={dim})",
        ["{g} - np.exp({out}) * np.sum({g}, axis={dim}, keepdims=True)"],
        helpers=["log_softmax"],
        broadcasts=False,
    ),
}


def _linear_rule(with_bias):
    forward = "{a} @ {b}.T + {c}" if with_bias else "{a} @ {b}.T"
    vjps = ["{g} @ {b}", "{g}.T @ {a}"] + (["{g}"] if with_bias else [])
    return _Linear(forward, vjps)


RULES = {**ELEMENTWISE_BINARY, **ELEMENTWISE_UNARY, **STRUCTURAL}


def rule_for(name, params, n_inputs):
    """The rule for op `name` (None when there is none)."""
    if name == "pow" and "exponent" in params:
        return RULES["pow_scalar"]
    if name == "cat":
        return Rule(
            lambda c: f"np.concatenate([{', '.join(c.xs)}], axis={c.params['dim']})",
            [_cat_vjp(i) for i in range(n_inputs)],
            broadcasts=False,
        )
    if name == "linear":
        return _linear_rule(n_inputs == 3)
    return RULES.get(name)


def supported_ops():
    return sorted(set(RULES) - {"pow_scalar"} | {"cat", "linear"})


HELPERS = {
    "sigmoid": '''def sigmoid(x):
    return 1 / (1 + np.exp(-x))
''',
    "gelu": '''_erf = np.vectorize(math.erf, otypes=[float])


def gelu(x):
    return 0.5 * x * (1 + _erf(x / math.sqrt(2)))


def gelu_grad(x):
    return 0.5 * (1 + _erf(x / math.sqrt(2))) + x * np.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
''',
    "erf": '''erf = np.vectorize(math.erf, otypes=[float])
''',
    "erfinv": '''_erf_of = np.vectorize(math.erf, otypes=[float])


def erfinv(y):
    """erf^-1: Winitzki's approximation refined by Newton steps on erf."""
    y = np.asarray(y, dtype=float)
    ln = np.log((1 - y) * (1 + y))
    t = 2 / (math.pi * 0.147) + ln / 2
    x = np.sign(y) * np.sqrt(np.sqrt(t * t - ln / 0.147) - t)
    for _ in range(4):
        x = x - (_erf_of(x) - y) / (2 / math.sqrt(math.pi) * np.exp(-x * x))
    return x
''',
    "softmax": '''def softmax(x, axis):
    e = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return e / np.sum(e, axis=axis, keepdims=True)
''',
    "log_softmax": '''def log_softmax(x, axis):
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
''',
    "unbroadcast": '''def unbroadcast(grad, shape):
    """Sums a gradient that was broadcast to a larger shape back down to `shape`."""
    grad = np.asarray(grad)
    while grad.ndim > len(shape):
        grad = grad.sum(axis=0)
    for axis, size in enumerate(shape):
        if size == 1 and grad.shape[axis] != 1:
            grad = grad.sum(axis=axis, keepdims=True)
    return grad
''',
    "scatter_into": '''def scatter_into(values, shape, index):
    """Zeros of `shape` with `values` written at `index` (the backward of slicing)."""
    out = np.zeros(shape, dtype=np.result_type(values))
    out[index] = values
    return out
''',
    "scatter_add": '''def scatter_add(values, shape, offsets):
    """Zeros of `shape` with `values` added at the row-major `offsets` (the backward of indexing)."""
    out = np.zeros(math.prod(shape), dtype=np.result_type(values))
    np.add.at(out, np.ravel(offsets), np.ravel(values))
    return out.reshape(shape)
''',
    "put": '''def put(x, offsets, values):
    """A copy of `x` with `values` written at the row-major `offsets`."""
    out = np.array(x, copy=True).reshape(-1)
    out[np.ravel(offsets)] = np.ravel(np.broadcast_to(values, np.shape(offsets)))
    return out.reshape(np.shape(x))
''',
}
