"""The recorded graph behind a tensor, as the lecture draws it: ops (the gates) in forward
order, and the values on their edges (leaves, constants and op outputs) with their forward
values and gradients. `draw`, `flat_code` and `gradient_table` all read this one model, so a
picture, its code and its table use the same names."""

import functools
import gc
from collections.abc import Mapping

LEAF = "leaf"  # a tensor created by the user that requires grad
CONSTANT = "constant"  # an input that does not require grad: a number in an expression, or data
OUTPUT = "output"  # an op's output


class Value:
    """A tensor on the graph's edges."""

    __slots__ = ("kind", "name", "tensor", "grad", "shape", "dtype", "producer", "output_nr", "consumers")

    def __init__(self, kind, shape, dtype, tensor=None, grad=None, producer=None, output_nr=0) -> None:
        self.kind = kind
        self.name = None
        self.tensor = tensor  # the forward value (a backprop Tensor), when the graph kept it
        self.grad = grad  # dL/d(this value): the total over all its consumers
        self.shape = tuple(shape)
        self.dtype = dtype
        self.producer = producer  # the Op that computed it (outputs only)
        self.output_nr = output_nr
        self.consumers = []  # (Op, input index) pairs

    @property
    def numel(self):
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def is_number(self):
        """A 0-dim constant with a known value, like the `1` in `1 / x`: the slides write it
        into the gate (`+1`, `*-1`), and flat code writes it inline."""
        return self.kind == CONSTANT and self.shape == () and self.tensor is not None

    def __repr__(self):
        return f"<Value {self.name} {self.kind} {self.shape}>"


class Op:
    """One recorded op application: a gate of the lecture's graphs."""

    __slots__ = ("node", "name", "seq", "params", "inputs", "outputs", "upstream", "downstream", "saved")

    def __init__(self, node) -> None:
        self.node = node
        self.name = node.op  # `mul`, `sigmoid`, `matmul`, or a custom Function's class name
        self.seq = node.sequence_nr
        self.params = node.op_params
        self.inputs = []  # one Value per input of the op, constants included
        values = node.output_values
        grads = node.output_grads
        self.outputs = [
            Value(OUTPUT, shape, dtype, values[nr] if values else None, grads[nr] if grads else None, self, nr)
            for nr, (shape, dtype, _device) in enumerate(node.output_metadata)
        ]
        self.upstream = grads  # per output: the gradient that arrived in the last backward
        self.downstream = node.input_grads  # per input: the gradient this op sent back

    @property
    def output(self):
        return self.outputs[0]

    def __repr__(self):
        return f"<Op {self.name} #{self.seq}>"


class Graph:
    """The ops that produced `output`, in forward (creation) order, and the values between."""

    __slots__ = ("ops", "leaves", "constants", "output")

    def __init__(self, ops, leaves, constants, output) -> None:
        self.ops = ops
        self.leaves = leaves
        self.constants = constants
        self.output = output

    def values(self):
        """Every value, inputs first, then op outputs in forward order."""
        yield from self.leaves
        yield from self.constants
        for op in self.ops:
            yield from op.outputs

    def __len__(self):
        return len(self.ops)


def no_graph_error(output, caller):
    """The exception for a tensor that was not computed by recorded ops."""
    from backprop import Tensor

    if not isinstance(output, Tensor):
        return TypeError(f"{caller}: expected a backprop Tensor, got {type(output).__name__}")
    if output.requires_grad:
        return ValueError(
            f"{caller}: this tensor is a leaf (made by you, not computed by an op), so it has no graph; "
            f"pass a tensor computed from it, e.g. y = x * 2"
        )
    return ValueError(
        f"{caller}: this tensor has no graph: nothing in its computation requires grad (or it was computed "
        f"under no_grad()). Create the inputs with requires_grad=True, e.g. "
        f"x = bp.tensor(2.0, requires_grad=True), and compute the output from them"
    )


def _walk(root):
    """Every node reachable from `root` with its `next_functions`, without recursion."""
    from backprop._core import Node

    node_type = Node  # every grad_fn class (MulBackward0, ...) subclasses it
    edges = {root: root.next_functions}
    stack = [root]
    while stack:
        for fn, _ in edges[stack.pop()]:
            if isinstance(fn, node_type) and fn not in edges:
                edges[fn] = fn.next_functions
                stack.append(fn)
    return edges, node_type


def _param_names(params, caller):
    """`params` (a dict or (name, tensor) pairs such as `model.named_parameters()`) as names
    keyed by tensor identity (leaves, constants) and by (node, output_nr) (computed tensors)."""
    from backprop import Tensor

    by_handle, by_output = {}, {}
    if params is None:
        return by_handle, by_output
    items = params.items() if isinstance(params, Mapping) else params
    try:
        items = list(items)
    except TypeError:
        raise TypeError(f"{caller}: params must be a dict of name -> tensor, got {type(params).__name__}") from None
    for item in items:
        try:
            name, t = item
        except (TypeError, ValueError):
            raise TypeError(f"{caller}: params must be a dict of name -> tensor (or (name, tensor) pairs), got {item!r}") from None
        if not isinstance(name, str) or not name:
            raise TypeError(f"{caller}: params names must be non-empty strings, got {name!r}")
        if not isinstance(t, Tensor):
            raise TypeError(f"{caller}: params[{name!r}] must be a Tensor, got {type(t).__name__}")
        gf = t.grad_fn
        if gf is None:
            by_handle[t._handle_id] = name
        else:
            by_output[(gf, gf.output_nr)] = (name, t)
    return by_handle, by_output


class _Namer:
    """Unique names: the user's first, then `prefix0`, `prefix1`, ... skipping taken ones."""

    def __init__(self, taken) -> None:
        self.taken = set(taken)
        self.counters = {}

    def prefer(self, name):
        """`name` itself if free, else `name0`, `name1`, ..."""
        if name in self.taken:
            return self.auto(name)
        self.taken.add(name)
        return name

    def auto(self, prefix):
        k = self.counters.get(prefix, 0)
        while f"{prefix}{k}" in self.taken:
            k += 1
        self.counters[prefix] = k + 1
        self.taken.add(f"{prefix}{k}")
        return f"{prefix}{k}"


def without_gc(fn):
    """Runs `fn` with the cyclic garbage collector paused: building a picture of a large graph
    allocates many small objects that all stay alive, and collections triggered by them
    would rescan them again and again (4x slower at 50,000 nodes) to free nothing."""

    @functools.wraps(fn)
    def run(*args, **kwargs):
        enabled = gc.isenabled()
        gc.disable()
        try:
            return fn(*args, **kwargs)
        finally:
            if enabled:
                gc.enable()

    return run


@without_gc
def build(output, params=None, output_name=None, caller="draw"):
    """The graph that computed `output`, with every value named: the output `output_name`
    (else its name in `params`, else `L` for a scalar and `out` otherwise), names from
    `params`, then leaves `leaf0`, ...,
    data `const0`, ..., intermediates `s0`, `s1`, ... in forward order, as in the lecture."""
    from backprop import Tensor

    if not isinstance(output, Tensor) or output.grad_fn is None:
        raise no_graph_error(output, caller)
    by_handle, by_output = _param_names(params, caller)
    root = output.grad_fn
    edges, node_type = _walk(root)
    nodes = sorted(edges, key=lambda n: n.sequence_nr)
    op_of = {}
    ops = []
    leaves = {}
    constants = {}
    for n in nodes:
        op = Op(n)
        op_of[n] = op
        ops.append(op)
        kept = n.constant_inputs
        metadata = None
        for i, (fn, nr) in enumerate(edges[n]):
            if isinstance(fn, node_type):
                value = op_of[fn].outputs[nr]
            elif fn is not None:  # AccumulateGrad: a leaf
                value = leaves.get(fn)
                if value is None:
                    t = fn.variable
                    value = leaves[fn] = Value(LEAF, t.shape, t.dtype.name, t, t.grad)
                    value.name = by_handle.get(t._handle_id)
            else:
                c = kept[i] if kept else None
                if c is not None and c._handle_id in constants:
                    value = constants[c._handle_id]
                elif c is not None:
                    value = constants[c._handle_id] = Value(CONSTANT, c.shape, c.dtype.name, c)
                    value.name = by_handle.get(c._handle_id)
                else:  # not kept (a large input outside trace()): only its metadata is known
                    metadata = metadata or n.input_metadata
                    shape, dtype, _ = metadata[i]
                    value = constants[("unknown", n, i)] = Value(CONSTANT, shape, dtype)
            op.inputs.append(value)
            value.consumers.append((op, i))
    for (node, nr), (name, t) in by_output.items():
        op = op_of.get(node)
        if op is not None and nr < len(op.outputs):
            v = op.outputs[nr]
            v.name = name
            if v.tensor is None:
                v.tensor = t.detach()
    out = op_of[root].outputs[root.output_nr]
    if out.tensor is None:
        out.tensor = output.detach()
    graph = Graph(ops, list(leaves.values()), list(constants.values()), out)
    _name_values(graph, output_name)
    return graph


def _name_values(graph, output_name):
    out = graph.output
    if output_name:
        out.name = output_name
    namer = _Namer(v.name for v in graph.values() if v.name)
    if out.name is None:
        out.name = namer.prefer("L" if out.numel == 1 else "out")
    for v in graph.leaves:
        v.name = v.name or namer.auto("leaf")
    for v in graph.constants:
        if v.name is None and not v.is_number:
            v.name = namer.auto("const")
    for op in graph.ops:
        for v in op.outputs:
            v.name = v.name or namer.auto("s")
