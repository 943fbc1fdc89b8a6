"""bp.viz.flat_code: the lecture's flat gradient code, and its round trip: executing the
generated NumPy code reproduces the engine's gradients on random composites."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import backprop as bp
import backprop.nn.functional as F
from backprop.autograd import Function


def lecture_sigmoid():
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    L = bp.sigmoid(w0 * x0 + w1 * x1 + w2)
    return L, {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}


def body(code):
    """The statements of f, without their value comments."""
    lines = code.split("def f(", 1)[1].split("\n    return")[0].splitlines()[1:]
    return [ln.split("#")[0].strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def test_the_slides_flat_code_for_the_sigmoid_neuron():
    L, params = lecture_sigmoid()
    L.backward()
    code = bp.viz.flat_code(L, params=params)
    assert "def f(w0, x0, w1, x1, w2):" in code
    assert body(code) == [
        "s0 = w0 * x0",
        "s1 = w1 * x1",
        "s2 = s0 + s1",
        "s3 = s2 + w2",
        "L = sigmoid(s3)",
        "grad_L = 1.0",
        "grad_s3 = grad_L * (1 - L) * L",
        "grad_s2 = grad_s3",
        "grad_w2 = grad_s3",
        "grad_s0 = grad_s2",
        "grad_s1 = grad_s2",
        "grad_w1 = grad_s1 * x1",
        "grad_x1 = grad_s1 * w1",
        "grad_w0 = grad_s0 * x0",
        "grad_x0 = grad_s0 * w0",
    ]
    # Each line carries its value, two decimals as on the slides.
    assert "L = sigmoid(s3)" in code and code.split("L = sigmoid(s3)")[1].split("\n")[0].strip() == "# 0.73"
    assert code.split("grad_x1 = grad_s1 * w1")[1].split("\n")[0].strip() == "# -0.59"


def test_executing_the_code_reproduces_the_engine_gradients():
    L, params = lecture_sigmoid()
    code = bp.viz.flat_code(L, params=params)
    L.backward()
    namespace = {"inputs": code.inputs}
    exec(code, namespace)
    assert namespace["L"] == pytest.approx(L.item())
    for name, leaf in params.items():
        assert namespace["grads"][name] == pytest.approx(leaf.grad.item(), rel=1e-6), name
    # f is reusable: other inputs, other gradients (d sigmoid(w0 x0)/d w0 at 0 is x0 / 4).
    _, grads = namespace["f"](w0=0.0, x0=2.0, w1=0.0, x1=0.0, w2=0.0)
    assert grads["w0"] == pytest.approx(0.5)


def test_the_simple_circuit_keeps_the_users_names_including_the_output_f():
    x, y, z = (bp.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    code = bp.viz.flat_code(f, params={"x": x, "y": y, "z": z, "q": q, "f": f})
    assert "def forward_backward(x, y, z):" in code  # the output owns the name f
    assert body(code.replace("def forward_backward(", "def f(")) == [
        "q = x + y",
        "f = q * z",
        "grad_f = 1.0",
        "grad_q = grad_f * z",
        "grad_z = grad_f * q",
        "grad_x = grad_q",
        "grad_y = grad_q",
    ]
    assert code.run()["grads"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_the_copy_gate_adds_and_the_upstream_gradient_of_backward_is_used():
    c = bp.tensor([1.0, -2.0], requires_grad=True)
    out = c * c + c
    out.backward(bp.tensor([3.0, 0.5]))
    code = bp.viz.flat_code(out, params={"c": c, "out": out})
    assert "def f(c, grad_out):" in code
    assert "grad_c = grad_c + " in code
    np.testing.assert_allclose(code.run()["grads"]["c"], c.grad.numpy())


def test_matmul_and_broadcasting_bias():
    bp.manual_seed(1)
    x = bp.randn(4, 3)
    w = bp.randn(3, 2, requires_grad=True)
    b = bp.randn(2, requires_grad=True)
    loss = bp.tanh(x @ w + b).sum()
    loss.backward()
    code = bp.viz.flat_code(loss, params={"x": x, "w": w, "b": b})
    assert "grad_w = x.T @ grad_s0" in code and "grad_b = unbroadcast(grad_s1, (2,))" in code
    grads = code.run()["grads"]
    assert set(grads) == {"w", "b"}  # x is data: no gradient
    np.testing.assert_allclose(grads["w"], w.grad.numpy(), rtol=1e-5)
    np.testing.assert_allclose(grads["b"], b.grad.numpy(), rtol=1e-5)


def test_a_small_mlp_with_cross_entropy_round_trips():
    bp.manual_seed(0)
    x = bp.randn(5, 3)
    target = bp.tensor([0, 1, 1, 0, 1])
    w1, b1 = bp.randn(4, 3, requires_grad=True), bp.zeros(4, requires_grad=True)
    w2, b2 = bp.randn(2, 4, requires_grad=True), bp.zeros(2, requires_grad=True)
    params = {"w1": w1, "b1": b1, "w2": w2, "b2": b2}
    with bp.viz.trace():
        scores = F.linear(F.linear(x, w1, b1).relu(), w2, b2)
        loss = F.cross_entropy(scores, target) + 1e-2 * (w1 * w1).sum()
    loss.backward()
    code = bp.viz.flat_code(loss, params=params)
    assert "log_softmax(" in code and "scatter_add(" in code
    grads = code.run()["grads"]
    for name, p in params.items():
        np.testing.assert_allclose(grads[name], p.grad.numpy(), rtol=1e-4, atol=1e-6, err_msg=name)


def test_large_inputs_are_passed_through_the_inputs_dict():
    bp.manual_seed(2)
    w = bp.randn(20, 10, requires_grad=True)
    with bp.viz.trace():
        loss = (w * w).mean()
    code = bp.viz.flat_code(loss, params={"w": w})
    assert 'w = inputs["w"]' in code.replace("'", '"')
    loss.backward()
    np.testing.assert_allclose(code.run()["grads"]["w"], w.grad.numpy(), rtol=1e-6)


def test_missing_values_of_a_large_untraced_graph_say_to_trace():
    w = bp.randn(20, 10, requires_grad=True)
    x = bp.randn(20, 10)
    loss = (w * x).sum()  # x is a 200-element input of an op whose output was not kept
    with pytest.raises(ValueError, match=r"with bp.viz.trace\(\):"):
        bp.viz.flat_code(loss)


class Multiply(Function):
    @staticmethod
    def forward(ctx, x, y):
        return x * y

    @staticmethod
    def backward(ctx, g):
        return g, g


def test_ops_without_a_rule_are_named_in_the_error():
    x = bp.tensor(2.0, requires_grad=True)
    with pytest.raises(NotImplementedError, match="cannot write the op.s. Multiply: .*sigmoid"):
        bp.viz.flat_code(Multiply.apply(x, x) * 2)


def test_where_needs_its_condition_which_backward_frees():
    x = bp.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = bp.where(x > 0, x * 2, x * 3).sum()
    code = bp.viz.flat_code(y, params={"x": x})
    y.backward()
    np.testing.assert_allclose(code.run()["grads"]["x"], x.grad.numpy())
    with pytest.raises(ValueError, match="retain_graph=True"):
        bp.viz.flat_code(y)


def test_tensors_without_a_graph_get_clear_errors():
    with pytest.raises(ValueError, match="no graph"):
        bp.viz.flat_code(bp.ones(3).sum())
    with pytest.raises(ValueError, match="is a leaf"):
        bp.viz.flat_code(bp.ones(3, requires_grad=True))


def test_odd_names_become_identifiers():
    a = bp.tensor(2.0, requires_grad=True)
    b = bp.tensor(3.0, requires_grad=True)
    code = bp.viz.flat_code(a * b, params={"layer 1.weight": a, "class": b})
    assert "def f(layer_1_weight, class_):" in code
    assert code.run()["grads"] == {"layer 1.weight": 3.0, "class": 2.0}


# ---- random composites --------------------------------------------------------------------

SHAPES = [(3, 4), (4,), (3, 1), ()]


def _square(a):
    return a * a + 1.0  # positive: a safe domain for log, sqrt, pow, division


# Each op takes one or two tensors broadcastable to (3, 4) and returns one.
UNARY = {
    "neg": lambda a: -a,
    "exp_tanh": lambda a: bp.exp(bp.tanh(a)),
    "log": lambda a: bp.log(_square(a)),
    "sqrt": lambda a: bp.sqrt(_square(a)),
    "rsqrt": lambda a: bp.rsqrt(_square(a)),
    "reciprocal": lambda a: bp.reciprocal(_square(a)),
    "abs": bp.abs,
    "sin": bp.sin,
    "cos": bp.cos,
    "tanh": bp.tanh,
    "sigmoid": bp.sigmoid,
    "relu": bp.relu,
    "leaky_relu": lambda a: F.leaky_relu(a, 0.1),
    "elu": lambda a: F.elu(a, 0.7),
    "gelu": F.gelu,
    "square": lambda a: a**2,
    "cube": lambda a: a**3,
    "clamp": lambda a: a.clamp(-0.5, 0.8),
    "clamp_min": lambda a: a.clamp(min=0.1),
    "sum_keepdim": lambda a: a.sum(dim=-1, keepdim=True) if a.ndim else a,
    "mean_rows": lambda a: a.mean(dim=0) if a.ndim == 2 else a.mean(),
    "max_all": lambda a: a.max(),
    "softmax": lambda a: bp.softmax(a, -1) if a.ndim else a,
    "log_softmax": lambda a: bp.log_softmax(a, -1) if a.ndim else a,
    "transpose_back": lambda a: a.t().reshape(3, 4) if a.shape == (3, 4) else a,
    "split_and_cat": lambda a: bp.cat([a[..., :1], a[..., 1:]], dim=-1) if a.ndim and a.shape[-1] > 1 else a,
    "select_row": lambda a: a[1] if a.ndim == 2 and a.shape[0] == 3 else a,
    "gather_perm": lambda a: a[..., bp.tensor([3, 0, 1, 2])] if a.ndim and a.shape[-1] == 4 else a,
    "expand": lambda a: a.expand(3, 4),
    "to32_and_back": lambda a: a.float().double() * 1.5,
}

BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / _square(b),
    "pow": lambda a, b: _square(a) ** b,
    "maximum": bp.maximum,
    "minimum": bp.minimum,
    "where": lambda a, b: bp.where(a > b, a, b * 2),
    "matmul": lambda a, b: (a @ bp.ones(4, 4)) * b if a.ndim and a.shape[-1] == 4 else a * b,
    "linear": lambda a, b: F.linear(a, bp.eye(4, dtype=bp.float64) * b.mean() + 0.1, b.mean().expand(4)) if a.shape == (3, 4) else a + b,
}

step = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 99), st.just(0)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 99), st.integers(0, 99)),
)
values = [arrays(np.float64, s, elements=st.floats(-1.5, 1.5, width=64)) for s in SHAPES]


@given(st.tuples(*values), st.lists(step, min_size=1, max_size=7))
def test_flat_code_round_trips_random_composites(leaf_values, steps):
    leaves = [bp.tensor(v, dtype=bp.float64, requires_grad=True) for v in leaf_values]
    pool = list(leaves)
    for name, i, j in steps:
        a, b = pool[i % len(pool)], pool[j % len(pool)]
        pool.append(UNARY[name](a) if name in UNARY else BINARY[name](a, b))
    loss = (pool[-1] * bp.linspace(0.5, 1.5, 4, dtype=bp.float64)).sum()
    names = {f"p{k}": t for k, t in enumerate(leaves)}
    code = bp.viz.flat_code(loss, params=names)  # before backward: `where` still has its condition
    loss.backward()
    namespace = code.run()
    np.testing.assert_allclose(namespace["L"], loss.item(), rtol=1e-9, atol=1e-12)
    for name, t in names.items():
        if t.grad is None:
            assert name not in namespace["grads"]
            continue
        np.testing.assert_allclose(namespace["grads"][name], t.grad.numpy(), rtol=1e-7, atol=1e-10, err_msg=f"{name}\n{code}")


@given(arrays(np.float32, (2, 3), elements=st.floats(-2, 2, width=32)), st.sampled_from(["relu", "sigmoid", "tanh", "gelu", "abs"]))
def test_float32_graphs_round_trip_within_float32_precision(x_value, activation):
    x = bp.tensor(x_value, requires_grad=True)
    w = bp.tensor([[0.5, -1.0], [2.0, 0.25], [-0.75, 1.5]], requires_grad=True)
    loss = UNARY[activation](x @ w).mean()
    loss.backward()
    grads = bp.viz.flat_code(loss, params={"x": x, "w": w}).run()["grads"]
    np.testing.assert_allclose(grads["x"], x.grad.numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(grads["w"], w.grad.numpy(), rtol=1e-5, atol=1e-6)


# Every differentiable row of the op table (rust/ops/table.rs) through flat_code and
# gradient_table: the NumPy text exported from the row reproduces the engine's numbers.
_TABLE_GRAPHS = {
    "softplus": lambda x: F.softplus(x, beta=2.0, threshold=1.0),
    "hardtanh": lambda x: F.hardtanh(x, -0.5, 0.8),
    "celu": lambda x: F.celu(x, 0.7),
    "gelu_tanh": lambda x: F.gelu(x, approximate="tanh"),
    "asin": lambda x: bp.asin(x * 0.3),
    "acos": lambda x: bp.acos(x * 0.3),
    "atanh": lambda x: bp.atanh(x * 0.3),
    "log1p": lambda x: bp.log1p(x * x),
    "log2": lambda x: bp.log2(x * x + 0.5),
    "log10": lambda x: bp.log10(x * x + 0.5),
    "atan2": lambda x: bp.atan2(x, x * x + 0.5),
    "fmod": lambda x: bp.fmod(x * 3, x * x + 0.7),
    "remainder": lambda x: bp.remainder(x * 3, x * x + 0.7),
    "acosh": lambda x: bp.acosh(x * x + 1.5),
    "erfinv": lambda x: bp.erfinv(x * 0.3),
    "hypot": lambda x: bp.hypot(x, x * x + 0.5),
    "logaddexp": lambda x: bp.logaddexp(x, x * x),
    "logaddexp2": lambda x: bp.logaddexp2(x, x * x),
    "xlogy": lambda x: bp.xlogy(x, x * x + 0.5),
    "copysign": lambda x: bp.copysign(x, x * x - 1.0),
    "fmax": lambda x: bp.fmax(x, x * x - 1.0),
    "fmin": lambda x: bp.fmin(x, x * x - 1.0),
    "nextafter": lambda x: bp.nextafter(x, x * x),
}


def _table_ops():
    from backprop import _core

    skip = {"compare", "logic", "bits", "integer", "pred"}
    return sorted(
        op["name"] for op in _core._op_table() if op["class"] not in skip and op["api"] in ("method", "function")
    ) + ["gelu_tanh"]


def _graph(name):
    if name in _TABLE_GRAPHS:
        return _TABLE_GRAPHS[name]
    fn = getattr(F, name, None) if name not in ("round", "floor", "ceil", "trunc", "frac", "square") else None
    return fn or getattr(bp, name)


@pytest.mark.parametrize("name", _table_ops())
def test_every_table_op_round_trips_through_flat_code_and_gradient_table(name):
    x = bp.tensor([0.45, -1.3, 2.2, -0.05], dtype=bp.float64, requires_grad=True)
    loss = (_graph(name)(x) * bp.tensor([1.0, -2.0, 0.5, 3.0], dtype=bp.float64)).sum()
    loss.backward(retain_graph=True)
    code = bp.viz.flat_code(loss, params={"x": x})
    np.testing.assert_allclose(code.run()["grads"]["x"], x.grad.numpy(), rtol=1e-9, atol=1e-12, err_msg=str(code))
    rows = list(bp.viz.gradient_table(loss, params={"x": x}))
    checked = [r for r in rows if r.local is not None and r.summed_to is None]
    assert any(f"= {name.replace('gelu_tanh', 'gelu_tanh')}(" in r.node for r in checked), [r.node for r in rows]
    for r in checked:
        np.testing.assert_allclose(r.local * r.upstream, r.downstream, rtol=1e-9, atol=1e-12, err_msg=r.node)
