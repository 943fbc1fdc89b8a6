"""What a picture of a large graph shows: repeated chains of ops collapse into one node
(`tanh x 5000`), and when that is not enough, only the `max_nodes` nodes nearest the output
are drawn and the rest become one `... N more` node. Pictures of 10,000-node graphs stay
readable and render in seconds; the caption says what was summarised."""

from backprop.viz.graph import OUTPUT, without_gc

MIN_CHAIN = 3  # shorter runs of ops are drawn as they are
MAX_PERIOD = 8  # longest repeating pattern recognised in a chain (`(mul, add) x 2500`)


class Unit:
    """One node of the picture: an op, a chain of ops, a leaf or a constant."""

    __slots__ = ("id", "kind", "ops", "value")

    def __init__(self, id, kind, ops=(), value=None) -> None:
        self.id = id
        self.kind = kind  # "op", "chain", "leaf" or "constant"
        self.ops = list(ops)  # for "op" and "chain": in forward order
        self.value = value  # for "leaf" and "constant"

    @property
    def head(self):
        """The op whose inputs are the unit's inputs."""
        return self.ops[0]

    @property
    def tail(self):
        """The op whose output is the unit's output."""
        return self.ops[-1]


class Plan:
    """The units to draw, the unit of each op and input value, and what was left out."""

    @without_gc
    def __init__(self, graph, max_nodes) -> None:
        self.graph = graph
        self.notes = []
        self.hidden_ops = 0
        self.hidden_inputs = 0
        self.unit_of = {}
        units = self._units(collapse=False)
        if max_nodes is not None and len(units) > max_nodes:
            units = self._units(collapse=True)
            collapsed = sum(len(u.ops) for u in units if u.kind == "chain")
            if collapsed:
                chains = sum(1 for u in units if u.kind == "chain")
                self.notes.append(f"{collapsed:,} ops in {chains:,} chain(s) of repeated ops are drawn as one node each")
            if len(units) > max_nodes:
                units = self._nearest(units, max_nodes)
        self.units = units
        self.visible = {u.id for u in units}

    def _units(self, collapse):
        self.unit_of = {}
        units = []
        chains = _chains(self.graph) if collapse else {}
        for op in self.graph.ops:
            chain = chains.get(op)
            if chain is not None and op is not chain[0]:
                self.unit_of[op] = self.unit_of[chain[0]]
                continue
            u = Unit(f"chain{op.seq}", "chain", chain) if chain else Unit(f"op{op.seq}", "op", [op])
            self.unit_of[op] = u
            units.append(u)
        for k, v in enumerate(self.graph.leaves):
            u = self.unit_of[v] = Unit(f"leaf{k}", "leaf", value=v)
            units.append(u)
        for k, v in enumerate(c for c in self.graph.constants if not c.is_number):
            u = self.unit_of[v] = Unit(f"const{k}", "constant", value=v)
            units.append(u)
        return units

    def producer(self, v):
        """The unit that feeds value `v` into the picture."""
        return self.unit_of[v.producer] if v.kind == OUTPUT else self.unit_of[v]

    def inputs(self, unit):
        """(value, input index) pairs drawn as edges into an op or chain unit."""
        return [(v, i) for i, v in enumerate(unit.head.inputs) if not v.is_number]

    def _nearest(self, units, max_nodes):
        """The `max_nodes` units nearest the output (breadth first, against the edges)."""
        root = self.unit_of[self.graph.output.producer]
        kept = {root.id: root}
        frontier = [root]
        while frontier and len(kept) < max_nodes:
            following = []
            for u in frontier:
                if u.kind not in ("op", "chain"):
                    continue
                for v, _ in self.inputs(u):
                    p = self.producer(v)
                    if p.id not in kept and len(kept) < max_nodes:
                        kept[p.id] = p
                        following.append(p)
            frontier = following
        order = {u.id: k for k, u in enumerate(units)}
        visible = sorted(kept.values(), key=lambda u: order[u.id])
        self.hidden_ops = sum(len(u.ops) for u in units if u.id not in kept)
        self.hidden_inputs = sum(1 for u in units if u.id not in kept and u.kind in ("leaf", "constant"))
        total = len(self.graph.ops)
        self.notes.append(
            f"{self.hidden_ops:,} of {total:,} ops (and {self.hidden_inputs:,} inputs) farther from the output are "
            f"hidden behind the '\u2026 more nodes' node: only the {max_nodes} nodes nearest the output are drawn"
        )
        return visible

    @property
    def summarised(self):
        return bool(self.notes)


def _chains(graph):
    """Maximal runs of ops where each op's only drawn input is the previous op's output and
    that output has no other consumer: {op: the run's ops} for runs of MIN_CHAIN or more."""
    head_of = {}
    members = {}
    for op in graph.ops:
        drawn = [v for v in op.inputs if not v.is_number]
        prev = drawn[0].producer if len(drawn) == 1 and drawn[0].kind == OUTPUT else None
        if prev is not None and len(prev.outputs) == 1 and len(drawn[0].consumers) == 1:
            head = head_of[prev]
        else:
            head = op
        head_of[op] = head
        members.setdefault(head, []).append(op)
    return {op: run for run in members.values() if len(run) >= MIN_CHAIN for op in run}


def chain_label(ops):
    """`tanh x 5000`, `(mul, add) x 2500`, or `5000 ops: exp ... sigmoid`."""
    names = [op.name for op in ops]
    n = len(names)
    for period in range(1, min(MAX_PERIOD, n // 2) + 1):
        if all(names[i] == names[i % period] for i in range(n)):
            pattern = names[0] if period == 1 else "(" + ", ".join(names[:period]) + ")"
            repeats = n / period
            count = f"{repeats:,.0f}" if repeats.is_integer() else f"{repeats:,.1f}"
            return f"{pattern} \u00d7 {count}"
    return f"{n:,} ops: {names[0]} \u2026 {names[-1]}"
