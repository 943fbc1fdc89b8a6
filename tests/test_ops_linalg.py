"""matmul for 1-D, 2-D and batched operands with broadcast batch dims; linear."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import backprop as bp
from conftest import assert_close, check_backward, on


@st.composite
def matmul_shapes(draw):
    m, k, n = (draw(st.integers(1, 5)) for _ in range(3))
    kind = draw(st.sampled_from(["2d", "1d-2d", "2d-1d", "1d-1d", "batched"]))
    if kind == "2d":
        return (m, k), (k, n)
    if kind == "1d-2d":
        return (k,), (k, n)
    if kind == "2d-1d":
        return (m, k), (k,)
    if kind == "1d-1d":
        return (k,), (k,)
    ba = draw(st.lists(st.integers(1, 3), max_size=2))
    bb = [d if draw(st.booleans()) else 1 for d in ba][draw(st.integers(0, len(ba))):]
    return (*ba, m, k), (*bb, k, n)


@given(shapes=matmul_shapes(), data=st.data())
def test_matmul_matches_numpy(shapes, data, device):
    rng = np.random.default_rng(data.draw(st.integers(0, 1000)))
    a, b = rng.standard_normal(shapes[0]), rng.standard_normal(shapes[1])
    x, y = on(device, a), on(device, b)
    assert_close(x @ y, a @ b, rtol=1e-4, atol=1e-5)
    assert_close(bp.matmul(x, y), np.matmul(a, b), rtol=1e-4, atol=1e-5)
    check_backward(lambda p, q: p @ q, [a, b], device=device)


def test_transposed_operands_are_read_in_place():
    rng = np.random.default_rng(3)
    a, b = rng.standard_normal((4, 3)), rng.standard_normal((5, 4))
    x, y = bp.tensor(a), bp.tensor(b)
    assert_close(x.T @ y.T, a.T @ b.T, rtol=1e-5)
    check_backward(lambda p, q: p.T @ q.T, [a, b])


def test_lecture_matmul_example():
    x = bp.tensor([[2.0, 1.0, -3.0], [-3.0, 4.0, 2.0]], requires_grad=True)
    w = bp.tensor([[3.0, 2.0, 1.0, -1.0], [2.0, 1.0, 3.0, 2.0], [3.0, 2.0, 1.0, -2.0]], requires_grad=True)
    y = x @ w
    assert y.tolist() == [[-1.0, -1.0, 2.0, 6.0], [5.0, 2.0, 11.0, 7.0]]
    dy = bp.tensor([[2.0, 3.0, -3.0, 9.0], [-8.0, 1.0, 4.0, 6.0]])
    y.backward(dy)
    assert x.grad.tolist() == (dy.numpy() @ w.detach().numpy().T).tolist()
    assert x.grad[0, 0].item() == 0.0  # dL/dx_11 = 3*2 + 2*3 + 1*(-3) + (-1)*9
    assert w.grad.tolist() == (x.detach().numpy().T @ dy.numpy()).tolist()


@pytest.mark.parametrize("bias", [True, False])
def test_linear_is_x_wt_plus_b(bias, device):
    rng = np.random.default_rng(0)
    a, w, b = rng.standard_normal((5, 3)), rng.standard_normal((4, 3)), rng.standard_normal(4)
    x, wt, bt = on(device, a), on(device, w), on(device, b)
    out = bp.nn.functional.linear(x, wt, bt if bias else None)
    assert_close(out, a @ w.T + (b if bias else 0), rtol=1e-5, atol=1e-5)
    x3 = on(device, rng.standard_normal((2, 5, 3)))
    assert tuple(bp.nn.functional.linear(x3, wt, bt).shape) == (2, 5, 4)
    if bias:
        check_backward(lambda p, q, r: bp.nn.functional.linear(p, q, r), [a, w, b], device=device)
    else:
        check_backward(lambda p, q: bp.nn.functional.linear(p, q), [a, w], device=device)


@pytest.mark.parametrize("n", [1, 17, 64, 130])
def test_larger_matmuls(n, device):
    rng = np.random.default_rng(n)
    a = rng.standard_normal((n, 2 * n + 1)).astype(np.float32)
    b = rng.standard_normal((2 * n + 1, n + 3)).astype(np.float32)
    assert_close(on(device, a) @ on(device, b), a @ b, rtol=1e-4, atol=1e-3)


def test_int_matmul_and_errors():
    assert (bp.tensor([[1, 2], [3, 4]]) @ bp.tensor([[1], [1]])).tolist() == [[3], [7]]
    with pytest.raises(bp.ShapeError, match="inner dimensions"):
        bp.zeros(2, 3) @ bp.zeros(2, 3)
    with pytest.raises(bp.ShapeError, match="at least 1 dimension"):
        bp.tensor(1.0) @ bp.zeros(2)
    with pytest.raises(bp.ShapeError, match="lengths"):
        bp.zeros(3) @ bp.zeros(4)
    with pytest.raises(bp.ShapeError, match="broadcast"):
        bp.zeros(2, 2, 3) @ bp.zeros(3, 3, 2)
    with pytest.raises(bp.DTypeError, match="linear"):
        bp.nn.functional.linear(bp.zeros(2, 3, dtype=bp.float64), bp.zeros(4, 3))
