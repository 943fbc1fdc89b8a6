"""`backprop.linalg`: PyTorch's `torch.linalg` names over the engine's factorizations.

Factorizations (solve, inv, det, slogdet, cholesky, qr, eigh, svd) run on the CPU through the
`faer` crate and are differentiable, second derivatives included. Norms are built from them
and from the elementwise and reduction ops. Results with several parts are named tuples with
PyTorch's field names (`Q, R = linalg.qr(A)`; `linalg.eigh(A).eigenvalues`).

>>> import backprop as bp
>>> A = bp.tensor([[4.0, 1.0], [1.0, 3.0]])
>>> bp.linalg.solve(A, bp.tensor([1.0, 2.0]))
tensor([0.0909, 0.6364])
"""

import math
from collections import namedtuple

from backprop import _core
from backprop._core import LinAlgError

__all__ = [
    "LinAlgError", "solve", "inv", "det", "slogdet", "cholesky", "qr", "eigh", "eigvalsh", "svd", "svdvals",
    "vector_norm", "matrix_norm", "norm", "matmul", "diagonal", "cross", "vecdot", "matrix_power", "multi_dot",
]

SlogdetResult = namedtuple("SlogdetResult", ["sign", "logabsdet"])
QRResult = namedtuple("QRResult", ["Q", "R"])
EighResult = namedtuple("EighResult", ["eigenvalues", "eigenvectors"])
SVDResult = namedtuple("SVDResult", ["U", "S", "Vh"])


def solve(A, B, *, left=True):
    """The solution `X` of `A X = B` (`X A = B` with `left=False`) for square `A: [..., n, n]`;
    `B` is `[..., n, k]`, or a batch of vectors `[..., n]`. Batch dims broadcast. A singular `A`
    raises `LinAlgError`."""
    return _core.linalg_solve(A, B, left=left)


def inv(A):
    """The inverse of each square matrix of `A: [..., n, n]` (`LinAlgError` if singular)."""
    return _core.linalg_inv(A)


def det(A):
    """The determinant of each square matrix of `A`."""
    return _core.linalg_det(A)


def slogdet(A):
    """`(sign, logabsdet)` of each determinant, without overflow; `(0, -inf)` when singular.
    Only `logabsdet` is differentiable."""
    return SlogdetResult(*_core.linalg_slogdet(A))


def cholesky(A, *, upper=False):
    """The Cholesky factor `L` (lower; `L^T` with `upper=True`) of each symmetric
    positive-definite matrix, reading its lower triangle. `LinAlgError` names the first leading
    minor that is not positive-definite."""
    return _core.linalg_cholesky(A, upper=upper)


def qr(A, mode="reduced"):
    """`A = Q R` with orthonormal columns in `Q` and upper-triangular `R`. `mode`: "reduced"
    (`Q: [m, k]`, `k = min(m, n)`), "complete" (`Q: [m, m]`) or "r" (an empty `Q`)."""
    return QRResult(*_core.linalg_qr(A, mode))


def eigh(A, UPLO="L"):
    """Eigenvalues (ascending) and eigenvectors (columns) of each symmetric matrix, reading the
    triangle `UPLO` names. The gradient assumes distinct eigenvalues, as PyTorch's."""
    return EighResult(*_core.linalg_eigh(A, UPLO))


def eigvalsh(A, UPLO="L"):
    """The eigenvalues of each symmetric matrix, ascending."""
    return _core.linalg_eigh(A, UPLO)[0]


def svd(A, full_matrices=True):
    """`A = U diag(S) Vh`, singular values descending. Gradients are those of the reduced
    factorization (the extra columns of full `U`/`Vh` are not determined by `A`)."""
    return SVDResult(*_core.linalg_svd(A, full_matrices))


def svdvals(A):
    """The singular values of each matrix, descending."""
    return _core.linalg_svd(A, False)[1]


def _dims(dim, ndim):
    if dim is None:
        return None
    if isinstance(dim, int):
        return (dim,)
    return tuple(dim)


def vector_norm(x, ord=2, dim=None, keepdim=False, *, dtype=None):  # noqa: A002 (PyTorch's name)
    """`(sum |x|^ord)^(1/ord)` over `dim` (all elements when None); `ord` may be `inf`
    (largest |x|), `-inf` (smallest) or 0 (count of non-zeros)."""
    if dtype is not None:
        x = x.to(dtype)
    if not x.is_floating_point():
        raise _core.DTypeError(
            f"linalg.vector_norm: Expected a floating point tensor as input. Got {x.dtype}; convert with .float()"
        )
    dims = _dims(dim, x.ndim)
    if isinstance(ord, str):
        raise ValueError(f"linalg.vector_norm: ord must be a number, got {ord!r}; use linalg.matrix_norm for 'fro'/'nuc'")
    ord = float(ord)  # noqa: A001
    if ord == math.inf:
        return x.abs().amax(dim=dims, keepdim=keepdim) if x.numel() else _empty_norm(x, dims, keepdim, "inf")
    if ord == -math.inf:
        return x.abs().amin(dim=dims, keepdim=keepdim) if x.numel() else _empty_norm(x, dims, keepdim, "-inf")
    if ord == 0:
        return (x != 0).to(x.dtype).sum(dim=dims, keepdim=keepdim)
    if ord > 0:
        return x.norm(p=ord, dim=list(dims) if dims else None, keepdim=keepdim)
    return (x.abs() ** ord).sum(dim=dims, keepdim=keepdim) ** (1.0 / ord)


def _empty_norm(x, dims, keepdim, ord):
    raise RuntimeError(f"linalg.vector_norm cannot compute the {ord} norm on an empty tensor because the operation does not have an identity")


def matrix_norm(A, ord="fro", dim=(-2, -1), keepdim=False, *, dtype=None):  # noqa: A002
    """The matrix norm of each matrix over the two `dim`s: "fro", "nuc", 2/-2 (largest/
    smallest singular value), 1/-1 (largest/smallest column sum of |A|), inf/-inf (rows)."""
    if dtype is not None:
        A = A.to(dtype)
    if A.ndim < 2:
        raise _core.ShapeError(f"linalg.matrix_norm: The input tensor A must have at least 2 dimensions, got shape {tuple(A.shape)}")
    d0, d1 = (d % A.ndim for d in dim)
    if d0 == d1:
        raise ValueError(f"linalg.matrix_norm: dims must be different, got {dim}")
    if ord == "fro":
        return vector_norm(A, 2, dim=(d0, d1), keepdim=keepdim)
    if ord in ("nuc", 2, -2):
        # Move the two dims last, reduce over the singular values, then restore keepdim's shape.
        rest = [d for d in range(A.ndim) if d not in (d0, d1)]
        M = A.permute(*rest, d0, d1)
        s = svdvals(M)
        r = s.sum(-1) if ord == "nuc" else (s.amax(-1) if ord == 2 else s.amin(-1))
        if keepdim:
            for d in sorted((d0, d1)):
                r = r.unsqueeze(d)
        return r
    if ord in (1, -1, math.inf, -math.inf):
        summed, other = (d0, d1) if ord in (1, -1) else (d1, d0)
        s = A.abs().sum(dim=summed, keepdim=True)
        r = s.amax(dim=other, keepdim=True) if ord > 0 else s.amin(dim=other, keepdim=True)
        return r if keepdim else r.squeeze(max(d0, d1)).squeeze(min(d0, d1))
    raise ValueError(f"linalg.matrix_norm: Order {ord} not supported; use 'fro', 'nuc', 2, -2, 1, -1, inf or -inf")


def norm(A, ord=None, dim=None, keepdim=False, *, dtype=None):  # noqa: A002
    """`vector_norm` or `matrix_norm`, as PyTorch chooses: a matrix norm when `dim` is a
    2-tuple, or when `dim` is None, `ord` is given and `A` is 2-D; otherwise a vector norm
    (the 2-norm of all elements when both are None)."""
    if isinstance(dim, int):
        dim = (dim,)
    if dim is not None and len(dim) == 2 or (dim is None and ord is not None and A.ndim == 2):
        return matrix_norm(A, "fro" if ord is None else ord, dim=dim if dim is not None else (-2, -1), keepdim=keepdim, dtype=dtype)
    if ord is not None and dim is None and A.ndim != 1:
        raise RuntimeError(f"linalg.norm: If dim is not specified but ord is, the input must be 1D or 2D. Got {A.ndim}D.")
    if isinstance(ord, str):
        raise RuntimeError(f"linalg.norm: ord={ord!r} requires a matrix (2-D input or a 2-tuple dim)")
    return vector_norm(A, 2 if ord is None else ord, dim=dim, keepdim=keepdim, dtype=dtype)


def matmul(input, other):
    """`input @ other` (`torch.linalg.matmul`)."""
    return input @ other


def diagonal(A, *, offset=0, dim1=-2, dim2=-1):
    """The diagonal of each matrix (note the defaults: the last two dims, unlike `torch.diagonal`)."""
    return _core.diagonal(A, offset, dim1, dim2)


def vecdot(x, y, *, dim=-1):
    """`sum(x * y, dim)`, broadcasting."""
    return (x * y).sum(dim=dim)


def cross(input, other, *, dim=-1):
    """The cross product of 3-vectors along `dim` (broadcasting the other dims)."""
    if input.shape[dim] != 3 or other.shape[dim] != 3:
        raise _core.ShapeError(
            f"linalg.cross: inputs dimension {dim} must have length 3. Got {input.shape[dim]} and {other.shape[dim]}"
        )
    a = [input.narrow(dim, i, 1) for i in range(3)]
    b = [other.narrow(dim, i, 1) for i in range(3)]
    return _core.cat([a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0]], dim)


def matrix_power(A, n):
    """`A` multiplied by itself `n` times (repeated squaring); `n < 0` uses the inverse."""
    if not isinstance(n, int):
        raise TypeError(f"linalg.matrix_power: n must be an int, got {type(n).__name__}")
    if A.ndim < 2 or A.shape[-1] != A.shape[-2]:
        raise _core.ShapeError(f"linalg.matrix_power: expected square matrices, got shape {tuple(A.shape)}")
    if n == 0:
        eye = _core.eye(A.shape[-1], dtype=A.dtype, device=A.device)
        return eye.expand(*A.shape) * 1
    if n < 0:
        A, n = inv(A), -n
    result, base = None, A
    while n:
        if n & 1:
            result = base if result is None else result @ base
        n >>= 1
        if n:
            base = base @ base
    return result


def multi_dot(tensors):
    """The product of a chain of matrices (1-D first/last operands are row/column vectors),
    multiplied left to right."""
    tensors = list(tensors)
    if len(tensors) < 2:
        raise RuntimeError(f"multi_dot(): expected at least 2 tensors but got {len(tensors)}")
    out = tensors[0]
    for t in tensors[1:]:
        out = out @ t
    return out
