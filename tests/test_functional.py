"""autograd.functional: jacobian, vjp, jvp, hvp, hessian against closed forms."""

import numpy as np

import backprop as bp
from backprop.autograd import functional as AF
from conftest import assert_close


def test_jacobian_of_elementwise_relu_is_diagonal():
    x = bp.tensor([1.0, -2.0, 3.0, -1.0])
    J = AF.jacobian(bp.relu, x)
    assert tuple(J.shape) == (4, 4)
    assert_close(J, np.diag([1.0, 0.0, 1.0, 0.0]))


def test_jacobian_of_matmul_has_block_structure():
    w = bp.tensor(np.arange(6.0).reshape(2, 3))
    x = bp.tensor(np.ones((4, 2)))
    J = AF.jacobian(lambda t: t @ w, x)
    assert tuple(J.shape) == (4, 3, 4, 2)
    # output row i depends only on input row i: dy[i, j]/dx[k, l] = (i == k) * w[l, j]
    want = np.einsum("ik,lj->ijkl", np.eye(4), np.arange(6.0).reshape(2, 3))
    assert_close(J, want)


def test_jacobian_with_several_inputs_and_outputs():
    a, b = bp.tensor([1.0, 2.0]), bp.tensor([3.0, 4.0])
    (ja, jb), (ka, kb) = AF.jacobian(lambda p, q: (p * q, (p + q).sum()), (a, b))
    assert_close(ja, np.diag([3.0, 4.0]))
    assert_close(jb, np.diag([1.0, 2.0]))
    assert_close(ka, [1.0, 1.0])
    assert_close(kb, [1.0, 1.0])


def test_vjp_and_jvp():
    x = bp.tensor([1.0, 2.0, 3.0], dtype=bp.float64)
    out, g = AF.vjp(lambda t: t**2, x, bp.tensor([1.0, 0.5, 2.0], dtype=bp.float64))
    assert_close(out, [1.0, 4.0, 9.0])
    assert_close(g, [2.0, 2.0, 12.0])
    out, jv = AF.jvp(lambda t: t**2, x, bp.tensor([1.0, 1.0, 0.0], dtype=bp.float64))
    assert_close(jv, [2.0, 4.0, 0.0])


def test_hessian_and_hvp():
    def f(t):
        return (t[0] ** 2) * t[1] + t[1] ** 3

    x = bp.tensor([1.0, 2.0], dtype=bp.float64)
    H = AF.hessian(f, x)
    assert_close(H, [[2 * 2.0, 2 * 1.0], [2 * 1.0, 6 * 2.0]])
    _, hv = AF.hvp(f, x, bp.tensor([1.0, 0.0], dtype=bp.float64))
    assert_close(hv, [4.0, 2.0])
