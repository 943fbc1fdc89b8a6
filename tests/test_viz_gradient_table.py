"""bp.viz.gradient_table: upstream, local and downstream gradient of every op, with the
engine's numbers (downstream = local x upstream)."""

import re

import numpy as np
import pytest

import backprop as bp


def sigmoid_neuron():
    w0, x0, w1, x1, w2 = (bp.tensor(v, requires_grad=True) for v in (2.0, -1.0, -3.0, -2.0, -3.0))
    L = bp.sigmoid(w0 * x0 + w1 * x1 + w2)
    L.backward()
    return L, {"w0": w0, "x0": x0, "w1": w1, "x1": x1, "w2": w2}


def test_rows_follow_the_backward_pass_with_the_slides_numbers():
    L, params = sigmoid_neuron()
    table = bp.viz.gradient_table(L, params=params)
    assert [(r.node, r.input) for r in table] == [
        ("L = sigmoid(s3)", "s3"),
        ("s3 = add(s2, w2)", "s2"),
        ("s3 = add(s2, w2)", "w2"),
        ("s2 = add(s0, s1)", "s0"),
        ("s2 = add(s0, s1)", "s1"),
        ("s1 = mul(w1, x1)", "w1"),
        ("s1 = mul(w1, x1)", "x1"),
        ("s0 = mul(w0, x0)", "w0"),
        ("s0 = mul(w0, x0)", "x0"),
    ]
    first = table[0]
    # [downstream] = [local] * [upstream] = (1 - 0.73) * 0.73 * 1.0 = 0.2
    assert first.upstream == pytest.approx(1.0)
    assert first.local_formula == "(1 - L) * L" and first.local == pytest.approx(0.19661193)
    assert first.downstream == pytest.approx(0.19661193)
    for row in table:  # every scalar row obeys the chain rule
        assert row.downstream == pytest.approx(row.local * row.upstream, rel=1e-6), row
    mul_w1 = table[5]
    assert (mul_w1.local_formula, mul_w1.local.item()) == ("x1", -2.0)  # mul swaps
    assert mul_w1.downstream == pytest.approx(params["w1"].grad.item())


def test_text_and_html_renderings():
    L, params = sigmoid_neuron()
    table = bp.viz.gradient_table(L, params=params)
    text = repr(table)
    lines = text.splitlines()
    assert lines[0].split() == ["node", "input", "upstream", "local", "downstream"]
    assert re.fullmatch(r"L = sigmoid\(s3\) +s3 +1\.00 +\(1 - L\) \* L = 0\.20 +0\.20", lines[2]), lines[2]
    assert "x1 = -2.00" in text and "-0.39" in text
    html = table._repr_html_()
    assert html.startswith("<table>") and html.count("<tr>") == len(table) + 1
    assert "<code>(1 - L) * L = 0.20</code>" in html


def test_matmul_rows_give_the_vjp_instead_of_a_jacobian():
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    y = x @ w
    g = bp.tensor([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    y.backward(g)
    rows = list(bp.viz.gradient_table(y, params={"x": x, "w": w, "y": y}))
    assert [(r.input, r.local, r.local_formula) for r in rows] == [
        ("x", None, "vjp: upstream @ w.T"),
        ("w", None, "vjp: x.T @ upstream"),
    ]
    np.testing.assert_array_equal(rows[0].upstream, g.numpy())
    np.testing.assert_array_equal(rows[0].downstream, x.grad.numpy())
    np.testing.assert_array_equal(rows[1].downstream, w.grad.numpy())


def test_broadcast_inputs_and_fan_out():
    x = bp.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    b = bp.tensor([0.5, -1.0], requires_grad=True)
    y = ((x + b) * x).sum()
    y.backward()
    rows = {(r.node.split(" =")[0], r.input): r for r in bp.viz.gradient_table(y, params={"x": x, "b": b})}
    add_b = rows[("s0", "b")]
    assert add_b.summed_to == (2,) and "summed to (2,)" in repr(bp.viz.gradient_table(y, params={"x": x, "b": b}))
    np.testing.assert_allclose(add_b.downstream, b.grad.numpy())
    # x reaches the graph twice: each row shows its own share; together they are x.grad.
    np.testing.assert_allclose(rows[("s0", "x")].downstream + rows[("s1", "x")].downstream, x.grad.numpy())


def test_custom_functions_show_engine_gradients_without_a_formula():
    from test_gradcheck import GoodCube

    x = bp.tensor(2.0, requires_grad=True)
    y = GoodCube.apply(x)
    y.backward()
    (row,) = bp.viz.gradient_table(y, params={"x": x})
    assert row.local is None and row.local_formula == "(computed by GoodCube.backward)"
    assert row.downstream == pytest.approx(12.0)


def test_clear_errors():
    x = bp.tensor(2.0, requires_grad=True)
    with pytest.raises(ValueError, match=r"call output.backward\(\) first"):
        bp.viz.gradient_table(x * 3)
    big = bp.ones(100, requires_grad=True)
    y = big * 2
    y.backward(bp.ones(100))
    with pytest.raises(ValueError, match=r"bp.viz.trace\(\)"):
        bp.viz.gradient_table(y)
    with pytest.raises(ValueError, match="no graph"):
        bp.viz.gradient_table(bp.ones(2).sum())
