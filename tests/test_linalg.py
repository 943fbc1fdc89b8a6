"""backprop.linalg and the matrix helpers: forward against NumPy, gradients against float64
central differences (second derivatives too), and the error paths."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import backprop as bp
from conftest import check_backward, on, to_np

LA = bp.linalg
rng = np.random.default_rng(0)


def well_conditioned(*shape):
    """Square matrices `[..., n, n]` far from singular: random plus n on the diagonal."""
    n = shape[-1]
    return rng.standard_normal(shape) + n * np.eye(n)


def spd(*shape):
    a = rng.standard_normal(shape)
    return a @ np.swapaxes(a, -1, -2) + shape[-1] * np.eye(shape[-1])


def t64(a, **kw):
    return bp.tensor(np.asarray(a), dtype=bp.float64, **kw)


# ---- forward against NumPy ------------------------------------------------------------------


@pytest.mark.parametrize("dtype,tol", [(bp.float32, 2e-5), (bp.float64, 1e-12)])
def test_factorizations_match_numpy(dtype, tol):
    a = well_conditioned(2, 3, 3)
    b = rng.standard_normal((2, 3, 2))
    s = spd(2, 3, 3)
    A, B, S = (bp.tensor(x, dtype=dtype) for x in (a, b, s))
    np.testing.assert_allclose(to_np(LA.solve(A, B)), np.linalg.solve(a, b), rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(LA.inv(A)), np.linalg.inv(a), rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(LA.det(A)), np.linalg.det(a), rtol=tol)
    sign, logabs = LA.slogdet(A)
    ref = np.linalg.slogdet(a)
    np.testing.assert_array_equal(to_np(sign), ref.sign)
    np.testing.assert_allclose(to_np(logabs), ref.logabsdet, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(LA.cholesky(S)), np.linalg.cholesky(s), rtol=tol, atol=tol)
    np.testing.assert_allclose(to_np(LA.cholesky(S, upper=True)), np.swapaxes(np.linalg.cholesky(s), -1, -2), rtol=tol, atol=tol)
    w, v = LA.eigh(S)
    np.testing.assert_allclose(to_np(w), np.linalg.eigvalsh(s), rtol=tol, atol=tol)
    recon = to_np(v) @ (to_np(w)[..., None] * np.swapaxes(to_np(v), -1, -2))
    np.testing.assert_allclose(recon, s, rtol=10 * tol, atol=10 * tol)
    np.testing.assert_allclose(to_np(LA.eigvalsh(S, UPLO="U")), np.linalg.eigvalsh(s, UPLO="U"), rtol=tol, atol=tol)


@pytest.mark.parametrize("shape", [(4, 3), (3, 4), (2, 3, 3), (5, 1)])
def test_qr_and_svd_reconstruct_and_match_numpy(shape):
    a = rng.standard_normal(shape)
    A = t64(a)
    for mode in ("reduced", "complete"):
        q, r = LA.qr(A, mode=mode)
        qn, rn = np.linalg.qr(a, mode=mode)
        assert q.shape == qn.shape and r.shape == rn.shape
        np.testing.assert_allclose(to_np(q @ r), a, atol=1e-12)
        np.testing.assert_allclose(np.abs(to_np(r)), np.abs(rn), atol=1e-12)  # unique up to signs
        assert np.allclose(np.tril(to_np(r), -1), 0)
    assert LA.qr(A, mode="r").Q.numel() == 0
    for full in (True, False):
        u, s, vh = LA.svd(A, full_matrices=full)
        un, sn, vhn = np.linalg.svd(a, full_matrices=full)
        assert (u.shape, s.shape, vh.shape) == (un.shape, sn.shape, vhn.shape)
        np.testing.assert_allclose(to_np(s), sn, atol=1e-12)
        k = min(shape[-2:])
        np.testing.assert_allclose(to_np(u)[..., :k] * to_np(s)[..., None, :] @ to_np(vh)[..., :k, :], a, atol=1e-12)
    np.testing.assert_allclose(to_np(LA.svdvals(A)), np.linalg.svd(a, compute_uv=False), atol=1e-12)


def test_solve_broadcasts_batches_and_takes_vectors_and_left_false():
    a = well_conditioned(2, 1, 3, 3)
    b = rng.standard_normal((4, 3, 2))
    np.testing.assert_allclose(to_np(LA.solve(t64(a), t64(b))), np.linalg.solve(a, b), atol=1e-12)
    v = rng.standard_normal(3)
    np.testing.assert_allclose(to_np(LA.solve(t64(a[0, 0]), t64(v))), np.linalg.solve(a[0, 0], v), atol=1e-12)
    bl = rng.standard_normal((2, 3))
    x = to_np(LA.solve(t64(a[0, 0]), t64(bl), left=False))
    np.testing.assert_allclose(x @ a[0, 0], bl, atol=1e-12)


def test_singular_and_degenerate_inputs():
    sing = t64([[1.0, 2.0], [2.0, 4.0]])
    sign, logabs = LA.slogdet(sing)
    assert sign.item() == 0.0 and logabs.item() == -math.inf  # PyTorch: (0., -inf)
    assert LA.det(sing).item() == 0.0
    assert bp.logdet(sing).item() == -math.inf
    assert math.isnan(bp.logdet(t64([[0.0, 1.0], [1.0, 0.0]])).item())  # negative determinant
    # Empty matrices: det 1, inverse empty (PyTorch).
    assert LA.det(bp.zeros(0, 0, dtype=bp.float64)).item() == 1.0
    assert LA.inv(bp.zeros(2, 0, 0)).shape == (2, 0, 0)


def test_errors_are_python_exceptions_with_pytorchs_types():
    with pytest.raises(bp.LinAlgError, match="singular"):
        LA.inv(t64([[1.0, 2.0], [2.0, 4.0]]))
    with pytest.raises(RuntimeError, match="singular"):  # LinAlgError is a RuntimeError, as PyTorch's
        LA.solve(t64([[0.0, 0.0], [0.0, 0.0]]), t64([1.0, 1.0]))
    with pytest.raises(bp.LinAlgError, match="leading minor of order 2 is not positive-definite"):
        LA.cholesky(t64([[1.0, 0.0], [0.0, -1.0]]))
    with pytest.raises(bp.ShapeError, match="square"):
        LA.det(bp.ones(2, 3))
    with pytest.raises(bp.ShapeError, match="at least 2 dimensions"):
        LA.inv(bp.ones(3))
    with pytest.raises(bp.DTypeError, match="float"):
        LA.det(bp.ones(2, 2, dtype=bp.int64))
    with pytest.raises(bp.ShapeError, match="incompatible shapes"):
        LA.solve(bp.eye(3), bp.ones(2, 1))
    with pytest.raises(ValueError, match="unrecognized mode"):
        LA.qr(bp.eye(2), mode="full")
    with pytest.raises(ValueError, match="UPLO"):
        LA.eigh(bp.eye(2), UPLO="X")


@pytest.mark.gpu
def test_factorizations_on_the_gpu_are_a_clear_error():
    if not bp.gpu.is_available():
        pytest.skip("no GPU adapter found (install mesa-vulkan-drivers for lavapipe)")
    with pytest.raises(bp.DeviceError, match="CPU only"):
        LA.inv(on("gpu", np.eye(2)))


# ---- gradients against central differences --------------------------------------------------


def test_solve_inv_det_slogdet_gradients():
    a = well_conditioned(2, 3, 3)
    b = rng.standard_normal((2, 3, 2))
    check_backward(LA.solve, [a, b])
    check_backward(lambda x: LA.solve(x, t64(b[0, :, 0])), [a[0]])
    check_backward(LA.inv, [a])
    check_backward(LA.det, [a])
    check_backward(lambda x: LA.slogdet(x).logabsdet, [a])
    check_backward(bp.logdet, [spd(3, 3)])


def test_cholesky_gradient_through_a_symmetric_input():
    x = rng.standard_normal((2, 3, 3))
    sym = lambda m: m @ m.transpose(-1, -2) + 3 * bp.eye(3, dtype=bp.float64)  # noqa: E731
    check_backward(lambda m: LA.cholesky(sym(m)), [x])
    check_backward(lambda m: LA.cholesky(sym(m), upper=True), [x])


def test_qr_gradient_for_tall_and_square_inputs():
    for shape in [(4, 3), (3, 3), (2, 5, 2)]:
        a = rng.standard_normal(shape)
        check_backward(lambda m: LA.qr(m).Q, [a])
        check_backward(lambda m: LA.qr(m).R, [a])
        check_backward(lambda m: (lambda q, r: q.sum() + 2 * r.sum())(*LA.qr(m)), [a])


def test_qr_backward_refuses_what_pytorch_refuses():
    a = t64(rng.standard_normal((4, 2)), requires_grad=True)
    q, r = LA.qr(a, mode="complete")
    with pytest.raises(RuntimeError, match="not differentiable when mode='complete'"):
        q.sum().backward()


def test_eigh_gradient_with_sign_invariant_losses():
    x = rng.standard_normal((2, 3, 3))
    sym = lambda m: m + m.transpose(-1, -2)  # noqa: E731
    check_backward(lambda m: LA.eigvalsh(sym(m)), [x])
    weights = t64(rng.standard_normal((3, 3)))
    # Eigenvectors are defined up to sign: losses of v * v do not depend on it.
    check_backward(lambda m: (LA.eigh(sym(m)).eigenvectors ** 2 * weights).sum(), [x])


def test_eigh_gradient_is_pytorchs_symmetric_one():
    # torch 2.15: x = s (below); ((eigh(x).eigenvectors ** 2) * W).sum().backward(); x.grad
    r = np.random.default_rng(1)
    a = r.standard_normal((3, 3))
    s, w = a + a.T, r.standard_normal((3, 3))
    x = t64(s, requires_grad=True)
    ((LA.eigh(x).eigenvectors ** 2) * t64(w)).sum().backward()
    torch_grad = [
        [0.11984991, 0.06943732, -0.20068094],
        [0.06943732, 0.1879756, -0.10451212],
        [-0.20068094, -0.10451212, -0.30782551],
    ]
    np.testing.assert_allclose(to_np(x.grad), torch_grad, atol=1e-8)


def test_cholesky_svd_qr_gradients_equal_pytorchs():
    # The same seed and losses run through torch 2.15; its gradients written here.
    r = np.random.default_rng(1)
    a = r.standard_normal((3, 3))
    w = r.standard_normal((3, 3))
    q = t64(a @ a.T + 3 * np.eye(3), requires_grad=True)
    LA.cholesky(q).sum().backward()
    np.testing.assert_allclose(
        to_np(q.grad),
        [[0.20649052, 0.21783733, 0.20794043], [0.21783733, 0.17550577, 0.14579657], [0.20794043, 0.14579657, 0.27125931]],
        atol=1e-8,
    )
    x = t64(a, requires_grad=True)
    ((LA.svd(x, full_matrices=False).U ** 2) * t64(w)).sum().backward()
    np.testing.assert_allclose(
        to_np(x.grad),
        [[-0.15402547, 0.07777988, 0.08013985], [0.1773022, -0.21111134, -0.09543964], [-0.03784754, 0.54010884, 0.25629537]],
        atol=1e-8,
    )


def test_svd_gradient_with_sign_invariant_losses():
    for shape in [(4, 3), (3, 4), (3, 3)]:
        a = rng.standard_normal(shape)
        check_backward(LA.svdvals, [a])
        w = t64(rng.standard_normal((shape[0], min(shape))))
        check_backward(lambda m: (LA.svd(m, full_matrices=False).U ** 2 * w).sum() + LA.svdvals(m).sum(), [a])
        wv = t64(rng.standard_normal((min(shape), shape[1])))
        check_backward(lambda m: (LA.svd(m, full_matrices=False).Vh ** 2 * wv).sum(), [a])
        # full_matrices: the gradient is that of the reduced factorization, as PyTorch.
        check_backward(lambda m: (LA.svd(m).S * 3).sum(), [a])


def _second_derivative_check(f, a, eps=1e-5):
    """d/dA <grad f(A), R> by autograd (create_graph) against central differences of grad f."""
    r = rng.standard_normal(a.shape)

    def first(x):
        xt = t64(x, requires_grad=True)
        (g,) = bp.autograd.grad(f(xt), xt, create_graph=True)
        return xt, g

    xt, g = first(a)
    (h,) = bp.autograd.grad((g * t64(r)).sum(), xt)
    numeric = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        p, m = a.copy(), a.copy()
        p[idx] += eps
        m[idx] -= eps
        numeric[idx] = ((to_np(first(p)[1]) - to_np(first(m)[1])) * r).sum() / (2 * eps)
    np.testing.assert_allclose(to_np(h), numeric, rtol=1e-5, atol=1e-7)


def test_second_derivatives_through_create_graph():
    a = well_conditioned(3, 3)
    _second_derivative_check(LA.det, a)
    _second_derivative_check(lambda x: LA.inv(x).sum(), a)
    _second_derivative_check(lambda x: LA.slogdet(x).logabsdet, a)
    _second_derivative_check(lambda x: LA.cholesky(x @ x.transpose(-1, -2)).sum(), a)


# ---- diagonals, triangles, products (CPU and GPU) ----------------------------------------


@given(st.integers(-3, 3), st.sampled_from([(0, 1), (1, 0), (0, 2), (-1, -3)]))
def test_diagonal_is_a_view_matching_numpy(offset, dims):
    a = rng.standard_normal((3, 4, 5))
    got = bp.diagonal(t64(a), offset, *dims)
    np.testing.assert_array_equal(to_np(got), np.diagonal(a, offset, *dims))
    base = bp.zeros(3, 4, 5, dtype=bp.float64)
    view = base.diagonal(offset, *dims)
    if view.numel():
        view.add_(1.0)  # writes through to the base, as a view must
        assert to_np(base).sum() == view.numel()


def test_diag_family_forward_and_backward(device):
    a = rng.standard_normal((3, 4))
    v = rng.standard_normal(3)
    A = on(device, a)
    np.testing.assert_allclose(to_np(bp.tril(A)), np.tril(a), atol=1e-6)
    np.testing.assert_allclose(to_np(A.triu(1)), np.triu(a, 1), atol=1e-6)
    np.testing.assert_allclose(to_np(bp.tril(A, -1)), np.tril(a, -1), atol=1e-6)
    np.testing.assert_allclose(to_np(bp.diag(A, 1)), np.diag(a, 1), atol=1e-6)
    np.testing.assert_allclose(to_np(bp.diag(on(device, v), -1)), np.diag(v, -1), atol=1e-6)
    np.testing.assert_allclose(to_np(bp.trace(A)), np.trace(a), rtol=1e-5)
    emb = bp.diag_embed(on(device, rng.standard_normal((2, 3))), offset=1)
    assert emb.shape == (2, 4, 4)
    if device == "cpu":
        check_backward(lambda x: bp.tril(x, 1), [a])
        check_backward(lambda x: x.diagonal(1), [a])
        check_backward(lambda x: bp.diag_embed(x, -1, 0, 2), [rng.standard_normal((2, 3))])
        check_backward(bp.trace, [a])
        check_backward(lambda x: bp.diag(x), [v])
    else:
        x = bp.tensor(a, dtype=bp.float32, device=device, requires_grad=True)
        (bp.tril(x) * 2).sum().backward()
        np.testing.assert_allclose(to_np(x.grad), 2 * np.tril(np.ones_like(a)), atol=1e-6)


def test_products(device):
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 5))
    m, v, w = rng.standard_normal((3, 4)), rng.standard_normal(4), rng.standard_normal(3)
    tol = dict(rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(to_np(bp.bmm(on(device, a), on(device, b))), a @ b, **tol)
    np.testing.assert_allclose(to_np(bp.mv(on(device, m), on(device, v))), m @ v, **tol)
    np.testing.assert_allclose(to_np(bp.outer(on(device, w), on(device, v))), np.outer(w, v), **tol)
    inp = rng.standard_normal((3, 4))
    np.testing.assert_allclose(
        to_np(bp.addmm(on(device, inp), on(device, m), on(device, rng.standard_normal((4, 4)) * 0 + np.eye(4)), beta=0.5, alpha=2.0)),
        0.5 * inp + 2.0 * m,
        **tol,
    )
    with pytest.raises(bp.ShapeError, match="bmm"):
        bp.bmm(on(device, m), on(device, m))
    with pytest.raises(bp.ShapeError, match="mv"):
        bp.mv(on(device, m), on(device, w))


def test_product_gradients():
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((2, 4, 2))
    check_backward(bp.bmm, [a, b])
    check_backward(bp.mv, [a[0], b[0, :, 0]])
    check_backward(bp.outer, [a[0, 0], b[0, 0]])
    check_backward(lambda i, x, y: bp.addmm(i, x, y, beta=0.3, alpha=-1.5), [rng.standard_normal((3, 2)), a[0], b[0]])
    check_backward(lambda i, x, y: bp.baddbmm(i, x, y, alpha=2.0), [rng.standard_normal((1, 3, 2)), a, b])


EINSUMS = [
    ("ij,jk->ik", [(3, 4), (4, 5)]),
    ("bij,bjk->bik", [(2, 3, 4), (2, 4, 5)]),
    ("ii->i", [(3, 3)]),
    ("ii", [(3, 3)]),
    ("ij->", [(3, 4)]),
    ("i,j", [(3,), (4,)]),
    ("bi,bi->b", [(5, 3), (5, 3)]),
    ("...ij,...jk->...ik", [(2, 1, 3, 4), (5, 4, 2)]),
    ("ij,jk,kl->il", [(2, 3), (3, 4), (4, 2)]),
    ("ijk->kji", [(2, 3, 4)]),
    ("bn,anm,bm->ba", [(2, 3), (4, 3, 5), (2, 5)]),
    ("ij,ij", [(2, 3), (2, 3)]),
]


@pytest.mark.parametrize("eq,shapes", EINSUMS)
def test_einsum_matches_numpy_and_differentiates(eq, shapes):
    arrays = [rng.standard_normal(s) for s in shapes]
    got = bp.einsum(eq, *[t64(a) for a in arrays])
    np.testing.assert_allclose(to_np(got), np.einsum(eq, *arrays), rtol=1e-10, atol=1e-12)
    check_backward(lambda *xs: bp.einsum(eq, *xs), arrays)


def test_einsum_errors():
    with pytest.raises(ValueError, match="operands"):
        bp.einsum("ij,jk->ik", bp.ones(2, 2))
    with pytest.raises(ValueError, match="does not match"):
        bp.einsum("ijk->i", bp.ones(2, 2))
    with pytest.raises(bp.ShapeError, match="cannot be broadcast"):
        bp.einsum("ij,jk->ik", bp.ones(2, 3), bp.ones(4, 2))
    with pytest.raises(ValueError, match="does not appear"):
        bp.einsum("ij->iz", bp.ones(2, 2))


def test_tensordot_kron_cross_cdist():
    a, b = rng.standard_normal((2, 3, 4)), rng.standard_normal((3, 4, 5))
    np.testing.assert_allclose(to_np(bp.tensordot(t64(a), t64(b))), np.tensordot(a, b), atol=1e-12)
    np.testing.assert_allclose(to_np(bp.tensordot(t64(a), t64(b), dims=([1], [0]))), np.tensordot(a, b, axes=([1], [0])), atol=1e-12)
    x, y = rng.standard_normal((2, 3)), rng.standard_normal((3, 2))
    np.testing.assert_allclose(to_np(bp.kron(t64(x), t64(y))), np.kron(x, y), atol=1e-12)
    u, v = rng.standard_normal((4, 3)), rng.standard_normal((4, 3))
    np.testing.assert_allclose(to_np(bp.cross(t64(u), t64(v), dim=1)), np.cross(u, v), atol=1e-12)
    np.testing.assert_allclose(to_np(LA.cross(t64(u), t64(v))), np.cross(u, v), atol=1e-12)
    p, q = rng.standard_normal((5, 3)), rng.standard_normal((4, 3))
    ref = np.sqrt(((p[:, None, :] - q[None, :, :]) ** 2).sum(-1))
    np.testing.assert_allclose(to_np(bp.cdist(t64(p), t64(q))), ref, atol=1e-12)
    ref1 = np.abs(p[:, None, :] - q[None, :, :]).sum(-1)
    np.testing.assert_allclose(to_np(bp.cdist(t64(p), t64(q), p=1)), ref1, atol=1e-12)
    check_backward(bp.tensordot, [a, b])
    check_backward(bp.kron, [x, y])
    check_backward(lambda s, t: bp.cross(s, t, dim=1), [u, v])
    check_backward(bp.cdist, [p, q])


@pytest.mark.parametrize("ord", [2, 1, 3, 0.5, math.inf, -math.inf, 0, -1])
def test_vector_norm_matches_numpy(ord):
    x = rng.standard_normal((3, 4))
    np.testing.assert_allclose(to_np(LA.vector_norm(t64(x), ord)), np.linalg.norm(x.ravel(), ord), rtol=1e-10)
    np.testing.assert_allclose(to_np(LA.vector_norm(t64(x), ord, dim=1)), np.linalg.norm(x, ord, axis=1), rtol=1e-10)
    np.testing.assert_allclose(
        to_np(LA.vector_norm(t64(x), ord, dim=0, keepdim=True)), np.linalg.norm(x, ord, axis=0, keepdims=True), rtol=1e-10
    )


@pytest.mark.parametrize("ord", ["fro", "nuc", 2, -2, 1, -1, math.inf, -math.inf])
def test_matrix_norm_matches_numpy(ord):
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(to_np(LA.matrix_norm(t64(x), ord)), np.linalg.norm(x, ord, axis=(-2, -1)), rtol=1e-10)
    np.testing.assert_allclose(to_np(LA.norm(t64(x[0]), ord)), np.linalg.norm(x[0], ord), rtol=1e-10)
    kept = LA.matrix_norm(t64(x), ord, dim=(0, 2), keepdim=True)
    np.testing.assert_allclose(to_np(kept), np.linalg.norm(x, ord, axis=(0, 2), keepdims=True), rtol=1e-10)
    if ord not in (math.inf, -math.inf, 1, -1):
        check_backward(lambda m: LA.matrix_norm(m, ord), [x])


def test_norm_dispatch_and_matrix_power():
    x = rng.standard_normal((2, 3, 4))
    np.testing.assert_allclose(to_np(LA.norm(t64(x))), np.linalg.norm(x.ravel()), rtol=1e-12)
    np.testing.assert_allclose(to_np(LA.norm(t64(x), dim=(1, 2))), np.linalg.norm(x, axis=(1, 2)), rtol=1e-12)
    with pytest.raises(RuntimeError, match="1D or 2D"):
        LA.norm(t64(x), ord=2)
    m = well_conditioned(3, 3) / 3
    for n in (0, 1, 2, 5, -3):
        np.testing.assert_allclose(to_np(LA.matrix_power(t64(m), n)), np.linalg.matrix_power(m, n), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(to_np(LA.multi_dot([t64(m), t64(m), t64(m)])), m @ m @ m, rtol=1e-12)
