//! `backprop.linalg` and the diagonal/triangle functions: argument parsing only; the work is
//! in `ops::linalg`.

use super::tensor::{ok, PyTensor, TResult};
use crate::ops;
use pyo3::prelude::*;

type Pair = PyResult<(PyTensor, PyTensor)>;

fn pair(r: crate::Result<(crate::Tensor, crate::Tensor)>) -> Pair {
    let (a, b) = r?;
    Ok((PyTensor::wrap(a), PyTensor::wrap(b)))
}

/// Solves `a @ x = b` (or `x @ a = b` with `left=False`) for square `a`; batched.
#[pyfunction]
#[pyo3(signature = (a, b, *, left = true))]
pub fn linalg_solve(a: &PyTensor, b: &PyTensor, left: bool) -> TResult {
    ok(ops::linalg_solve(&a.t, &b.t, left))
}

/// The inverse of square matrices `a` (batched); LinAlgError when singular.
#[pyfunction]
pub fn linalg_inv(a: &PyTensor) -> TResult {
    ok(ops::linalg_inv(&a.t))
}

/// The determinant of square matrices `a` (batched).
#[pyfunction]
pub fn linalg_det(a: &PyTensor) -> TResult {
    ok(ops::linalg_det(&a.t))
}

/// `(sign, log|det|)` of square matrices `a` (batched): the determinant without overflow.
#[pyfunction]
pub fn linalg_slogdet(a: &PyTensor) -> Pair {
    pair(ops::linalg_slogdet(&a.t))
}

/// The Cholesky factor `L` (`a = L @ L.mT`; `U` with `upper=True`) of symmetric positive-definite `a`.
#[pyfunction]
#[pyo3(signature = (a, *, upper = false))]
pub fn linalg_cholesky(a: &PyTensor, upper: bool) -> TResult {
    ok(ops::linalg_cholesky(&a.t, upper))
}

/// The QR decomposition `(Q, R)` of `a`; `mode` is "reduced", "complete" or "r".
#[pyfunction]
#[pyo3(signature = (a, mode = "reduced"))]
pub fn linalg_qr(a: &PyTensor, mode: &str) -> Pair {
    pair(ops::linalg_qr(&a.t, mode))
}

/// The eigenvalues (ascending) and eigenvectors of symmetric `a`, read from its lower (`uplo="L"`) or upper triangle.
#[pyfunction]
#[pyo3(signature = (a, uplo = "L"))]
pub fn linalg_eigh(a: &PyTensor, uplo: &str) -> Pair {
    pair(ops::linalg_eigh(&a.t, uplo))
}

/// The singular value decomposition `(U, S, Vh)` with `a = U @ diag(S) @ Vh`.
#[pyfunction]
#[pyo3(signature = (a, full_matrices = true))]
pub fn linalg_svd(a: &PyTensor, full_matrices: bool) -> PyResult<(PyTensor, PyTensor, PyTensor)> {
    let (u, s, vh) = ops::linalg_svd(&a.t, full_matrices)?;
    Ok((PyTensor::wrap(u), PyTensor::wrap(s), PyTensor::wrap(vh)))
}

/// A view of the diagonal at `offset` of the matrices in dimensions `dim1`, `dim2`.
#[pyfunction]
#[pyo3(signature = (input, offset = 0, dim1 = 0, dim2 = 1))]
pub fn diagonal(input: &PyTensor, offset: isize, dim1: isize, dim2: isize) -> TResult {
    ok(ops::diagonal(&input.t, offset, dim1, dim2))
}

/// Matrices (in `dim1`, `dim2`) with `input`'s last dimension on their diagonal at `offset`.
#[pyfunction]
#[pyo3(signature = (input, offset = 0, dim1 = -2, dim2 = -1))]
pub fn diag_embed(input: &PyTensor, offset: isize, dim1: isize, dim2: isize) -> TResult {
    ok(ops::diag_embed(&input.t, offset, dim1, dim2))
}

/// A copy with the elements above the `diagonal`-th diagonal zeroed (the lower triangle).
#[pyfunction]
#[pyo3(signature = (input, diagonal = 0))]
pub fn tril(input: &PyTensor, diagonal: isize) -> TResult {
    ok(ops::tril(&input.t, diagonal))
}

/// A copy with the elements below the `diagonal`-th diagonal zeroed (the upper triangle).
#[pyfunction]
#[pyo3(signature = (input, diagonal = 0))]
pub fn triu(input: &PyTensor, diagonal: isize) -> TResult {
    ok(ops::triu(&input.t, diagonal))
}

macro_rules! binary_fns {
    ($($(#[doc = $doc:tt])+ $name:ident),* $(,)?) => {
        $(
            $(#[doc = $doc])+
            #[pyfunction]
            pub fn $name(input: &PyTensor, other: &PyTensor) -> TResult {
                ok(ops::$name(&input.t, &other.t))
            }
        )*
    };
}
binary_fns!(
    /// bmm(input, other) -> Tensor: the batched matrix product of input `[b, n, m]` and other
    /// `[b, m, p]`, `[b, n, p]` (no broadcasting: `matmul` broadcasts).
    bmm,
    /// mv(input, other) -> Tensor: the product of the matrix input `[n, m]` and the vector
    /// other `[m]`, `[n]`.
    mv,
    /// outer(input, other) -> Tensor: the outer product of the 1-D tensors input `[n]` and
    /// other `[m]`, `[n, m]` (`ger` is another name for it).
    outer,
);

/// The sum of the diagonal of a matrix.
#[pyfunction]
pub fn trace(input: &PyTensor) -> TResult {
    ok(ops::trace(&input.t))
}

/// A 1-D `input` as a diagonal matrix; a matrix's `diagonal`-th diagonal as a 1-D tensor.
#[pyfunction]
#[pyo3(signature = (input, diagonal = 0))]
pub fn diag(input: &PyTensor, diagonal: isize) -> TResult {
    ok(ops::diag(&input.t, diagonal))
}

/// `beta * input + alpha * (mat1 @ mat2)`.
#[pyfunction]
#[pyo3(signature = (input, mat1, mat2, *, beta = 1.0, alpha = 1.0))]
pub fn addmm(input: &PyTensor, mat1: &PyTensor, mat2: &PyTensor, beta: f64, alpha: f64) -> TResult {
    ok(ops::addmm(&input.t, &mat1.t, &mat2.t, beta, alpha))
}

/// `beta * input + alpha * (mat @ vec)`.
#[pyfunction]
#[pyo3(signature = (input, mat, vec, *, beta = 1.0, alpha = 1.0))]
pub fn addmv(input: &PyTensor, mat: &PyTensor, vec: &PyTensor, beta: f64, alpha: f64) -> TResult {
    ok(ops::addmv(&input.t, &mat.t, &vec.t, beta, alpha))
}

/// `beta * input + alpha * (batch1 @ batch2)` for batches of matrices.
#[pyfunction]
#[pyo3(signature = (input, batch1, batch2, *, beta = 1.0, alpha = 1.0))]
pub fn baddbmm(input: &PyTensor, batch1: &PyTensor, batch2: &PyTensor, beta: f64, alpha: f64) -> TResult {
    ok(ops::baddbmm(&input.t, &batch1.t, &batch2.t, beta, alpha))
}

/// The same functions as tensor methods (`a.det()`, `a.tril(1)`, ...).
#[pymethods]
impl PyTensor {
    /// The determinant (of a batch of square matrices).
    fn det(&self) -> TResult {
        ok(ops::linalg_det(&self.t))
    }
    /// The log of the determinant.
    fn logdet(&self) -> TResult {
        ok(ops::logdet(&self.t))
    }
    /// `(sign, log|det|)` of the determinant.
    fn slogdet(&self) -> Pair {
        pair(ops::linalg_slogdet(&self.t))
    }
    /// The matrix inverse.
    fn inverse(&self) -> TResult {
        ok(ops::linalg_inv(&self.t))
    }
    /// The Cholesky factor (upper with `upper=True`).
    #[pyo3(signature = (upper = false))]
    fn cholesky(&self, upper: bool) -> TResult {
        ok(ops::linalg_cholesky(&self.t, upper))
    }
    /// The lower triangle from the `diagonal`-th diagonal down; the rest zeroed.
    #[pyo3(name = "tril", signature = (diagonal = 0))]
    fn tril_method(&self, diagonal: isize) -> TResult {
        ok(ops::tril(&self.t, diagonal))
    }
    /// The upper triangle from the `diagonal`-th diagonal up; the rest zeroed.
    #[pyo3(name = "triu", signature = (diagonal = 0))]
    fn triu_method(&self, diagonal: isize) -> TResult {
        ok(ops::triu(&self.t, diagonal))
    }
    /// A view of the diagonal at `offset` in dimensions `dim1`, `dim2`.
    #[pyo3(name = "diagonal", signature = (offset = 0, dim1 = 0, dim2 = 1))]
    fn diagonal_method(&self, offset: isize, dim1: isize, dim2: isize) -> TResult {
        ok(ops::diagonal(&self.t, offset, dim1, dim2))
    }
    /// Matrices with the last dimension on their diagonal at `offset`.
    #[pyo3(name = "diag_embed", signature = (offset = 0, dim1 = -2, dim2 = -1))]
    fn diag_embed_method(&self, offset: isize, dim1: isize, dim2: isize) -> TResult {
        ok(ops::diag_embed(&self.t, offset, dim1, dim2))
    }
    /// A 1-D tensor as a diagonal matrix, or a matrix's diagonal as 1-D.
    #[pyo3(name = "diag", signature = (diagonal = 0))]
    fn diag_method(&self, diagonal: isize) -> TResult {
        ok(ops::diag(&self.t, diagonal))
    }
    /// The sum of the diagonal.
    #[pyo3(name = "trace")]
    fn trace_method(&self) -> TResult {
        ok(ops::trace(&self.t))
    }
    /// Batched matrix product of `[B, n, m]` and `[B, m, p]`.
    #[pyo3(name = "bmm")]
    fn bmm_method(&self, other: &PyTensor) -> TResult {
        ok(ops::bmm(&self.t, &other.t))
    }
    /// Matrix-vector product.
    #[pyo3(name = "mv")]
    fn mv_method(&self, other: &PyTensor) -> TResult {
        ok(ops::mv(&self.t, &other.t))
    }
    /// The outer product of two 1-D tensors.
    #[pyo3(name = "outer")]
    fn outer_method(&self, other: &PyTensor) -> TResult {
        ok(ops::outer(&self.t, &other.t))
    }
}
