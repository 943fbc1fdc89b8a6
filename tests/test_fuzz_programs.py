"""Random op programs against NumPy: forward values and the gradient of every input.

Each program starts from one to three leaves (float32 or float64; 0-dim, zero-size,
broadcastable, and non-contiguous ones that share a NumPy array's strided memory) and
applies a random sequence of elementwise, broadcasting, reduction, movement, indexing and
matmul ops. The same program runs on a small NumPy reverse-mode interpreter written here
(each op's forward and vjp in float64), which gives the reference value and gradients.

`python -m pytest tests --fuzz-long` runs 10^4+ programs; CI runs a bounded number.
"""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backprop as bp

LONG = os.environ.get("BACKPROP_FUZZ_LONG") == "1"
EXAMPLES = {"cpu": 6000 if LONG else 60, "gpu": 400 if LONG else 12}


class Ref:
    """A value of the NumPy program: the float64 array and how to send a gradient back."""

    def __init__(self, value, parents=(), vjp=None):
        self.value = np.asarray(value, dtype=np.float64)
        self.parents = parents
        self.vjp = vjp  # g -> one gradient per parent
        self.grad = None


def sum_to(g, shape):
    """Un-broadcasts `g` to `shape`."""
    while g.ndim > len(shape):
        g = g.sum(axis=0)
    for d, n in enumerate(shape):
        if n == 1 and g.shape[d] != 1:
            g = g.sum(axis=d, keepdims=True)
    return g


def backprop_ref(out, seed):
    """Reverse-mode over the Ref graph (creation order is a topological order)."""
    order, seen, stack = [], set(), [out]
    while stack:
        r = stack.pop()
        if id(r) in seen:
            continue
        seen.add(id(r))
        order.append(r)
        stack.extend(r.parents)
    order.sort(key=lambda r: r.serial, reverse=True)
    for r in order:
        r.grad = np.zeros_like(r.value)
    out.grad = seed.astype(np.float64)
    for r in order:
        if r.vjp is None:
            continue
        for p, g in zip(r.parents, r.vjp(r.grad)):
            p.grad = p.grad + sum_to(np.asarray(g, dtype=np.float64), p.value.shape)


_serial = [0]


def node(value, parents=(), vjp=None):
    r = Ref(value, parents, vjp)
    _serial[0] += 1
    r.serial = _serial[0]
    return r


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


# Elementwise ops: (name, backprop function, NumPy forward, NumPy derivative given x and y).
UNARY = [
    ("tanh", lambda t: t.tanh(), np.tanh, lambda x, y: 1 - y * y),
    ("sigmoid", lambda t: t.sigmoid(), sigmoid, lambda x, y: y * (1 - y)),
    ("sin", lambda t: t.sin(), np.sin, lambda x, y: np.cos(x)),
    ("cos", lambda t: t.cos(), np.cos, lambda x, y: -np.sin(x)),
    ("neg", lambda t: -t, np.negative, lambda x, y: -np.ones_like(x)),
    ("abs", lambda t: t.abs(), np.abs, lambda x, y: np.sign(x)),
    ("relu", lambda t: t.relu(), lambda x: np.maximum(x, 0), lambda x, y: (x > 0).astype(np.float64)),
    ("square", lambda t: t * t, np.square, lambda x, y: 2 * x),
    ("scale", lambda t: t * 0.5 + 1.0, lambda x: x * 0.5 + 1.0, lambda x, y: np.full_like(x, 0.5)),
    ("logsq", lambda t: (t * t + 1.0).log(), lambda x: np.log1p(x * x), lambda x, y: 2 * x / (x * x + 1)),
    ("sqrtsq", lambda t: (t * t + 1.0).sqrt(), lambda x: np.sqrt(x * x + 1), lambda x, y: x / y),
    ("exp", lambda t: t.exp(), np.exp, lambda x, y: y),
]

# Broadcasting binary ops: (name, backprop, NumPy forward, (da, db) given a, b, y).
BINARY = [
    ("add", lambda a, b: a + b, np.add, lambda a, b, y: (np.ones_like(y), np.ones_like(y))),
    ("sub", lambda a, b: a - b, np.subtract, lambda a, b, y: (np.ones_like(y), -np.ones_like(y))),
    ("mul", lambda a, b: a * b, np.multiply, lambda a, b, y: (b * np.ones_like(y), a * np.ones_like(y))),
    (
        "safediv",
        lambda a, b: a / (b * b + 1.0),
        lambda a, b: a / (b * b + 1),
        lambda a, b, y: (np.ones_like(y) / (b * b + 1), -2 * a * b / (b * b + 1) ** 2 * np.ones_like(y)),
    ),
]


def _unary(rng, x, t):
    choices = [u for u in UNARY if u[0] != "exp" or (x.value.size == 0 or np.abs(x.value).max() < 3)]
    name, f, fwd, der = choices[rng.integers(len(choices))]
    y = fwd(x.value)
    return node(y, (x,), lambda g, x=x.value, y=y: [g * der(x, y)]), f(t)


def _binary(rng, x, t, other):
    o, ot = other
    name, f, fwd, der = BINARY[rng.integers(len(BINARY))]
    if rng.integers(2):
        (x, t), (o, ot) = (o, ot), (x, t)
    y = fwd(x.value, o.value)
    return node(y, (x, o), lambda g, a=x.value, b=o.value, y=y: [g * d for d in der(a, b, y)]), f(t, ot)


def _reduce(rng, x, t):
    if x.value.ndim == 0:
        y = x.value.copy()
        return node(y, (x,), lambda g: [g]), t.sum()
    d = int(rng.integers(x.value.ndim))
    keep = bool(rng.integers(2))
    kind = rng.integers(4)
    shape = x.value.shape
    if kind == 0:
        y = x.value.sum(axis=d, keepdims=keep)
        return node(y, (x,), lambda g: [np.broadcast_to(g if keep else np.expand_dims(g, d), shape)]), t.sum(d, keepdim=keep)
    if kind == 1 and shape[d] > 0:
        y = x.value.mean(axis=d, keepdims=keep)
        n = shape[d]
        return node(y, (x,), lambda g: [np.broadcast_to(g if keep else np.expand_dims(g, d), shape) / n]), t.mean(d, keepdim=keep)
    if kind == 2:
        e = np.exp(x.value - (x.value.max(axis=d, keepdims=True) if x.value.size else 0))
        y = e / e.sum(axis=d, keepdims=True)

        def vjp(g, y=y):
            return [y * (g - (g * y).sum(axis=d, keepdims=True))]

        return node(y, (x,), vjp), t.softmax(d)
    y = x.value.sum()
    return node(y, (x,), lambda g: [np.broadcast_to(g, shape)]), t.sum()


def _movement(rng, x, t):
    v = x.value
    shape = v.shape
    kind = int(rng.integers(8))
    if kind == 0 and v.ndim >= 2:
        d0, d1 = (int(a) for a in rng.choice(v.ndim, 2, replace=False))
        return node(np.swapaxes(v, d0, d1), (x,), lambda g: [np.swapaxes(g, d0, d1)]), t.transpose(d0, d1)
    if kind == 1 and v.ndim >= 1:
        perm = [int(p) for p in rng.permutation(v.ndim)]
        inv = np.argsort(perm)
        return node(np.transpose(v, perm), (x,), lambda g: [np.transpose(g, inv)]), t.permute(*perm)
    if kind == 2:
        new = (-1,) if v.ndim != 1 else (1, -1)
        y = v.reshape(new)
        return node(y, (x,), lambda g: [g.reshape(shape)]), t.reshape(*new)
    if kind == 3:
        d = int(rng.integers(v.ndim + 1))
        return node(np.expand_dims(v, d), (x,), lambda g: [g.reshape(shape)]), t.unsqueeze(d)
    if kind == 4 and v.ndim >= 1:
        d = int(rng.integers(v.ndim))
        n = shape[d]
        start = int(rng.integers(n + 1))
        step = int(rng.integers(1, 3))
        stop = int(rng.integers(start, n + 1))
        key = (slice(None),) * d + (slice(start, stop, step),)

        def vjp(g):
            full = np.zeros(shape)
            full[key] = g
            return [full]

        return node(v[key], (x,), vjp), t[key]
    if kind == 5 and 1 in shape:
        target = tuple(int(rng.integers(1, 4)) if n == 1 else n for n in shape)
        return node(np.broadcast_to(v, target).copy(), (x,), lambda g: [g]), t.expand(*target)
    if kind == 6 and v.ndim >= 1 and shape[0] > 0:
        idx = rng.integers(shape[0], size=int(rng.integers(0, 5)))

        def vjp(g):
            full = np.zeros(shape)
            np.add.at(full, idx, g)
            return [full]

        return node(v[idx], (x,), vjp), t[bp.tensor(idx.astype(np.int64), device=t.device)]
    if kind == 7 and v.ndim >= 1:
        d = int(rng.integers(v.ndim))
        y = np.concatenate([v, v], axis=d)
        n = shape[d]
        return node(y, (x,), lambda g: [np.take(g, range(n), axis=d) + np.take(g, range(n, 2 * n), axis=d)]), bp.cat([t, t], d)
    y = v.copy()
    return node(y, (x,), lambda g: [g]), t.clone()


def _matmul(rng, x, t, make_leaf):
    if x.value.ndim != 2:
        return None
    k = x.value.shape[1]
    b, bt = make_leaf((k, int(rng.integers(0, 4))))
    y = x.value @ b.value
    return node(y, (x, b), lambda g, a=x.value, bv=b.value: [g @ bv.T, a.T @ g]), t @ bt


def random_shape(rng, ndim):
    # Mostly small sizes, with a good share of 1s (broadcasting) and some 0s (zero-size).
    return tuple(int(rng.choice([0, 1, 1, 2, 3, 4], p=[0.06, 0.24, 0.1, 0.25, 0.2, 0.15])) for _ in range(ndim))


class Program:
    def __init__(self, seed, dtype, device):
        self.rng = np.random.default_rng(seed)
        self.dtype = dtype
        self.np_dtype = np.float32 if dtype == bp.float32 else np.float64
        self.device = device
        self.leaves = []  # (Ref, backprop leaf)

    def make_leaf(self, shape):
        rng = self.rng
        data = rng.uniform(-2, 2, size=shape).astype(self.np_dtype)
        layout = rng.integers(3) if len(shape) >= 1 else 0
        if layout == 1:
            # Non-contiguous: every other element of a wider array, shared with NumPy.
            wide = np.empty(shape[:-1] + (2 * shape[-1],), dtype=self.np_dtype)
            wide[..., ::2] = data
            leaf = bp.from_numpy(wide[..., ::2])
        elif layout == 2 and len(shape) >= 2:
            # Non-contiguous: a transposed array.
            leaf = bp.from_numpy(np.ascontiguousarray(np.swapaxes(data, 0, 1)).swapaxes(0, 1))
        else:
            leaf = bp.tensor(data, dtype=self.dtype)
        leaf.requires_grad_()
        ref = node(data.astype(np.float64))
        self.leaves.append((ref, leaf))
        t = leaf if self.device == "cpu" else leaf.to(self.device)
        return ref, t

    def run(self):
        rng = self.rng
        values = [self.make_leaf(random_shape(rng, int(rng.integers(0, 4)))) for _ in range(int(rng.integers(1, 4)))]
        log = []
        for _ in range(int(rng.integers(1, 7))):
            # Mostly a chain through the latest value, sometimes a branch from an earlier one.
            x, t = values[-1] if rng.random() < 0.6 else values[int(rng.integers(len(values)))]
            kind = int(rng.integers(5))
            if kind == 0:
                out = _unary(rng, x, t)
            elif kind == 1:
                other = self._broadcastable(x.value.shape)
                out = _binary(rng, x, t, other)
            elif kind == 2:
                out = _reduce(rng, x, t)
            elif kind == 3:
                out = _movement(rng, x, t)
            else:
                out = _matmul(rng, x, t, self.make_leaf) or _unary(rng, x, t)
            log.append(out[1].shape)
            values.append(out)
        return values[-1], log

    def _broadcastable(self, shape):
        """A new leaf whose shape broadcasts against `shape` (dropped or size-1 dims)."""
        rng = self.rng
        lead = int(rng.integers(0, len(shape) + 1))
        other = tuple(1 if rng.integers(3) == 0 else n for n in shape[lead:])
        if rng.integers(4) == 0:
            other = (int(rng.integers(1, 3)),) + tuple(shape)  # a new leading dim
        return self.make_leaf(other)


def check_program(seed, dtype, device):
    prog = Program(seed, dtype, device)
    (out_ref, out_t), log = prog.run()
    ctx = f"seed={seed} dtype={dtype} device={device} shapes={log}"
    rtol, atol = (2e-3, 2e-4) if dtype == bp.float32 else (1e-9, 1e-11)
    scale = 1.0 + (np.abs(out_ref.value).max() if out_ref.value.size else 0.0)
    got = out_t.detach().cpu().numpy()
    assert got.shape == out_ref.value.shape, ctx
    assert got.dtype == prog.np_dtype, ctx
    np.testing.assert_allclose(got, out_ref.value, rtol=rtol, atol=atol * scale, err_msg=ctx)

    weights = prog.rng.uniform(-1, 1, size=out_ref.value.shape)
    loss = (out_t * bp.tensor(weights.astype(prog.np_dtype), device=out_t.device)).sum()
    loss.backward()
    backprop_ref(out_ref, weights)
    for k, (ref, leaf) in enumerate(prog.leaves):
        if ref.grad is None:  # a leaf the output does not depend on gets no gradient (PyTorch too)
            assert leaf.grad is None, f"{ctx}: unused leaf {k} got a gradient"
            continue
        assert leaf.grad is not None, f"{ctx}: leaf {k} got no gradient"
        g = leaf.grad.numpy()
        assert g.shape == ref.value.shape and g.dtype == prog.np_dtype, ctx
        gscale = 1.0 + (np.abs(ref.grad).max() if ref.grad.size else 0.0)
        np.testing.assert_allclose(g, ref.grad, rtol=rtol, atol=atol * gscale * scale, err_msg=f"{ctx}: leaf {k}")


@pytest.mark.parametrize("dtype", [bp.float32, bp.float64], ids=["f32", "f64"])
@settings(max_examples=EXAMPLES["cpu"], derandomize=not LONG)
@given(seed=st.integers(0, 2**63 - 1))
def test_random_programs_match_numpy(seed, dtype):
    check_program(seed, dtype, "cpu")


@settings(max_examples=EXAMPLES["gpu"], derandomize=not LONG)
@given(seed=st.integers(0, 2**63 - 1))
def test_random_programs_match_numpy_on_gpu(seed, device):
    if device != "gpu":
        pytest.skip("the CPU runs test_random_programs_match_numpy")
    check_program(seed, bp.float32, "gpu")


def test_the_interpreter_rejects_a_wrong_gradient():
    """The reference side can fail: a deliberately wrong vjp is caught by the comparison."""
    x = node(np.array([1.0, 2.0]))
    y = node(x.value * 3, (x,), lambda g: [g * 2])  # wrong: should be 3
    backprop_ref(y, np.ones(2))
    t = bp.tensor([1.0, 2.0], requires_grad=True)
    (t * 3).sum().backward()
    with pytest.raises(AssertionError):
        np.testing.assert_allclose(t.grad.numpy(), x.grad)
