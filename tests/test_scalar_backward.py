"""Backward through graphs of one-element tensors takes a path of its own (plain numbers, no
gradient tensors: rust/autograd/scalar_backward.rs). It must give exactly what the general
engine gives: the same `.grad` bits, the same gradients kept for graph pictures, the same
errors. A no-op hook on the root sends the same graph through the general engine."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backprop as bp
import backprop.nn.functional as F

UNARY = {
    "neg": lambda a: -a,
    "exp": lambda a: bp.exp(a * 0.5),
    "log": lambda a: bp.log(a * a + 0.25),
    "sqrt": lambda a: bp.sqrt(a * a + 0.25),
    "reciprocal": lambda a: bp.reciprocal(a * a + 0.5),
    "tanh": bp.tanh,
    "sigmoid": bp.sigmoid,
    "relu": bp.relu,
    "leaky_relu": lambda a: F.leaky_relu(a, 0.1),
    "elu": lambda a: F.elu(a, 0.7),
    "rsub": lambda a: 1 - a,
    "rdiv": lambda a: 1 / (a * a + 1),
    "scale": lambda a: a * 0.3,
    # rows of the op table whose vjps the scalar path now runs (one formula, two evaluations)
    "sin": bp.sin,
    "abs": bp.abs,
    "atan": bp.atan,
    "asinh": bp.asinh,
    "erf": bp.erf,
    "square": bp.square,
    "log1p": lambda a: bp.log1p(a * a),
    "softplus": lambda a: F.softplus(a, beta=1.5, threshold=2.0),
    "silu": F.silu,
    "mish": F.mish,
    "hardswish": F.hardswish,
    "logsigmoid": F.logsigmoid,
}
BINARY = {
    "add": lambda a, b: a + b,
    "sub": lambda a, b: a - b,
    "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 0.5),
    "maximum": bp.maximum,
    "minimum": bp.minimum,
    "atan2": lambda a, b: bp.atan2(a, b * b + 0.5),
    "fmod": lambda a, b: bp.fmod(a, b * b + 0.5),
}

step = st.one_of(
    st.tuples(st.sampled_from(sorted(UNARY)), st.integers(0, 50)),
    st.tuples(st.sampled_from(sorted(BINARY)), st.integers(0, 50), st.integers(0, 50)),
)
value = st.sampled_from([-2.0, -1.5, -0.5, 0.0, 0.25, 1.0, 3.0]) | st.floats(-3, 3, width=32)


def build(values, program, dtype):
    leaves = [bp.tensor(v, dtype=dtype, requires_grad=True) for v in values]
    pool = list(leaves)
    for op, *args in program:
        operands = [pool[i % len(pool)] for i in args]
        pool.append(UNARY[op](*operands) if op in UNARY else BINARY[op](*operands))
    # A root that uses every leaf, so each gets a gradient ("the copy gate adds").
    root = pool[-1]
    for leaf in leaves:
        root = root + leaf * 0.5
    return leaves, root


def bits(t):
    return None if t is None else t.numpy().tobytes()


def kept(node):
    return [(bits(g) if g is not None else None) for g in (node.output_grads or ())], [
        (bits(g) if g is not None else None) for g in (node.input_grads or ())
    ]


def run(values, program, dtype, general, existing_grad=None, retain_graph=None):
    leaves, root = build(values, program, dtype)
    if existing_grad is not None:
        for leaf in leaves:
            leaf.grad = bp.tensor(existing_grad, dtype=dtype)
    if general:
        root.register_hook(lambda g: None)  # a hook on the root: the general engine runs
    root.backward(retain_graph=retain_graph)
    return leaves, root


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(value, min_size=1, max_size=4),
    program=st.lists(step, min_size=1, max_size=12),
    dtype=st.sampled_from([bp.float32, bp.float64]),
    existing=st.sampled_from([None, 0.75]),
)
def test_scalar_path_matches_the_general_engine_bit_for_bit(values, program, dtype, existing):
    fast, fast_root = run(values, program, dtype, general=False, existing_grad=existing)
    slow, slow_root = run(values, program, dtype, general=True, existing_grad=existing)
    assert [bits(x.grad) for x in fast] == [bits(x.grad) for x in slow]
    assert all(x.grad.dtype == dtype and x.grad.shape == () for x in fast)
    # What graph pictures show: every node's upstream and downstream gradients.
    a, b = fast_root.grad_fn, slow_root.grad_fn
    while a is not None:
        assert kept(a) == kept(b)
        nexts = [(fa, fb) for (fa, _), (fb, _) in zip(a.next_functions, b.next_functions) if fa is not None and fa.name() != "AccumulateGrad"]
        a, b = nexts[0] if nexts else (None, None)


def test_lecture_circuit_values_and_kept_gradients():
    x, y, z = (bp.tensor(v, requires_grad=True) for v in (-2.0, 5.0, -4.0))
    q = x + y
    f = q * z
    f.backward()
    assert (x.grad.item(), y.grad.item(), z.grad.item()) == (-4.0, -4.0, 3.0)
    assert f.grad_fn.output_grads[0].item() == 1.0
    assert [g.item() for g in f.grad_fn.input_grads] == [-4.0, 3.0]
    assert [g.item() for g in q.grad_fn.input_grads] == [-4.0, -4.0]


def test_a_leaf_used_twice_and_an_existing_grad_accumulate_in_order():
    x = bp.tensor(3.0, requires_grad=True)
    x.grad = bp.tensor(0.5)
    kept_handle = x.grad
    (x * x + x).backward()
    assert x.grad.item() == 0.5 + 7.0
    assert x.grad is kept_handle or x.grad.item() == kept_handle.item()  # updated in place


def test_second_backward_without_retain_graph_still_fails_clearly():
    x = bp.tensor(3.0, requires_grad=True)
    y = bp.exp(x) * x
    y.backward()
    with pytest.raises(RuntimeError, match="second time"):
        y.backward()
    # Nodes that saved nothing can run again, as in PyTorch.
    s = x + 1.0
    s.backward()
    s.backward()
    assert x.grad.item() == pytest.approx(math.exp(3.0) * 4 + 2, rel=1e-6)


def test_retain_graph_keeps_saved_values_for_a_second_pass():
    def twice(general):
        x = bp.tensor(2.0, dtype=bp.float64, requires_grad=True)
        y = bp.tanh(x) * x
        if general:
            y.register_hook(lambda g: None)
        y.backward(retain_graph=True)
        first = x.grad.item()
        y.backward()
        return first, x.grad.item()

    first, second = twice(general=False)
    assert second == pytest.approx(2 * first, rel=1e-15)
    assert (first, second) == twice(general=True)


def test_stale_saved_value_is_reported_by_the_engine():
    x = bp.tensor(2.0, requires_grad=True)
    a = x * 1.0
    y = a * a
    with bp.no_grad():
        a.add_(1.0)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_explicit_gradient_and_shapes_of_one_element():
    x = bp.tensor([[2.0]], requires_grad=True)
    y = (x * x).reshape(1)  # a reshape: the general engine handles it
    y.backward(bp.tensor([3.0]))
    assert x.grad.shape == (1, 1) and x.grad.item() == 12.0
    w = bp.tensor([1.5], requires_grad=True)
    (w * w).backward(bp.tensor([2.0]))
    assert w.grad.shape == (1,) and w.grad.item() == 6.0
    with pytest.raises(ValueError, match="shape"):
        (w * w).backward(bp.tensor(2.0))


def test_mixed_dtypes_and_ints_go_through_the_general_engine_with_the_same_results():
    a = bp.tensor(1.5, dtype=bp.float64, requires_grad=True)
    b = bp.tensor(2.0, requires_grad=True)  # float32
    (a * b + b).backward()
    assert a.grad.dtype == bp.float64 and b.grad.dtype == bp.float32
    assert (a.grad.item(), b.grad.item()) == (2.0, 2.5)
    c = bp.tensor(3.0, requires_grad=True)
    (c * 2).backward()  # an int Python number: a wrapped number, float32 result
    assert c.grad.item() == 2.0


def test_nan_inputs_route_like_the_tensor_formulas():
    x = bp.tensor(float("nan"), requires_grad=True)
    y = bp.tensor(1.0, requires_grad=True)
    bp.maximum(x, y).backward()
    assert x.grad.item() == 0.0 and y.grad.item() == 0.0
    z = bp.tensor(float("nan"), requires_grad=True)
    bp.relu(z).backward()
    assert z.grad.item() == 0.0


def test_hooks_on_leaves_still_run():
    seen = []
    x = bp.tensor(2.0, requires_grad=True)
    x.register_hook(lambda g: seen.append(g.item()) or g * 10)
    (x * 3).backward()
    assert seen == [3.0] and x.grad.item() == 30.0


def test_large_scalar_graph_falls_back_and_agrees():
    x = bp.tensor(0.5, dtype=bp.float64, requires_grad=True)
    y = x
    for _ in range(400):  # more nodes than the scalar path takes
        y = y * 1.001 + 0.0
    y.backward()
    np.testing.assert_allclose(x.grad.item(), 1.001**400, rtol=1e-12)
