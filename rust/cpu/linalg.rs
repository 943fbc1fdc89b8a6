//! Dense linear algebra beyond matmul (LU solve, inverse, determinant, Cholesky, QR,
//! symmetric eigendecomposition, SVD) through the `faer` crate, one matrix at a time over the
//! batch dims. Inputs are read as float64 and results rounded to the input's dtype: float32
//! matrices get float64 factorizations, never worse than LAPACK's float32 ones.

use crate::error::{Error, Result};
use crate::tensor::{numel, DType, Tensor};
use faer::linalg::solvers::{DenseSolveCore, Solve};
use faer::{Mat, MatRef, Side};

/// A batch of row-major matrices read from a tensor `[..., rows, cols]`.
struct Batch {
    data: Vec<f64>,
    lead: Vec<usize>,
    rows: usize,
    cols: usize,
}

impl Batch {
    fn read(t: &Tensor, op: &str) -> Result<Batch> {
        let nd = t.ndim();
        if nd < 2 {
            return Err(Error::Shape(format!(
                "{op}: expected a tensor with 2 or more dimensions (a matrix or a batch of matrices), got shape {:?}",
                t.shape()
            )));
        }
        if !t.dtype().is_float() {
            return Err(Error::DType(format!(
                "{op}: expected a float tensor, got {}; convert with .float() or .double() first",
                t.dtype().name()
            )));
        }
        let data = match t.dtype() {
            DType::F64 => t.to_vec::<f64>()?,
            _ => t.to_vec::<f32>()?.into_iter().map(f64::from).collect(),
        };
        Ok(Batch { data, lead: t.shape()[..nd - 2].to_vec(), rows: t.shape()[nd - 2], cols: t.shape()[nd - 1] })
    }

    fn count(&self) -> usize {
        numel(&self.lead)
    }

    fn matrix(&self, b: usize) -> MatRef<'_, f64> {
        let size = self.rows * self.cols;
        MatRef::from_row_major_slice(&self.data[b * size..(b + 1) * size], self.rows, self.cols)
    }
}

/// Results assembled matrix by matrix into a tensor of the input's float dtype.
struct Output {
    data: Vec<f64>,
    shape: Vec<usize>,
}

impl Output {
    fn new(lead: &[usize], tail: &[usize]) -> Output {
        let shape: Vec<usize> = lead.iter().chain(tail).copied().collect();
        Output { data: Vec::with_capacity(numel(&shape)), shape }
    }

    fn push_matrix(&mut self, m: MatRef<'_, f64>) {
        for i in 0..m.nrows() {
            for j in 0..m.ncols() {
                self.data.push(m[(i, j)]);
            }
        }
    }

    fn finish(self, dtype: DType) -> Result<Tensor> {
        match dtype {
            DType::F64 => Tensor::from_vec(self.data, &self.shape),
            _ => Tensor::from_vec(self.data.into_iter().map(|v| v as f32).collect::<Vec<f32>>(), &self.shape),
        }
    }
}

fn square(b: &Batch, op: &str) -> Result<()> {
    if b.rows != b.cols {
        return Err(Error::Shape(format!(
            "{op}: A must be batches of square matrices, but they are {} by {} matrices",
            b.rows, b.cols
        )));
    }
    Ok(())
}

fn singular(op: &str) -> Error {
    Error::LinAlg(format!("{op}: The solver failed because the input matrix is singular."))
}

/// Whether the LU factor `u` has an exact zero on its diagonal (the matrix is singular).
fn has_zero_pivot(u: MatRef<'_, f64>) -> bool {
    (0..u.nrows().min(u.ncols())).any(|i| u[(i, i)] == 0.0)
}

/// `A X = B` for square `A: [..., n, n]` and `B: [..., n, k]` with equal batch dims.
pub fn solve(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let op = "linalg.solve";
    let ma = Batch::read(a, op)?;
    square(&ma, op)?;
    let mb = Batch::read(b, op)?;
    let mut out = Output::new(&mb.lead, &[mb.rows, mb.cols]);
    for i in 0..ma.count() {
        let lu = ma.matrix(i).partial_piv_lu();
        if has_zero_pivot(lu.U()) {
            return Err(singular(op));
        }
        out.push_matrix(lu.solve(mb.matrix(i)).as_ref());
    }
    out.finish(a.dtype())
}

pub fn inv(a: &Tensor) -> Result<Tensor> {
    let op = "linalg.inv";
    let m = Batch::read(a, op)?;
    square(&m, op)?;
    let mut out = Output::new(&m.lead, &[m.rows, m.cols]);
    for i in 0..m.count() {
        let lu = m.matrix(i).partial_piv_lu();
        if has_zero_pivot(lu.U()) {
            return Err(singular(op));
        }
        out.push_matrix(lu.inverse().as_ref());
    }
    out.finish(a.dtype())
}

/// The parity of a permutation given as a forward index array: +1 or -1.
fn permutation_sign(forward: &[usize]) -> f64 {
    let mut seen = vec![false; forward.len()];
    let mut sign = 1.0;
    for start in 0..forward.len() {
        let (mut i, mut len) = (start, 0);
        while !seen[i] {
            seen[i] = true;
            i = forward[i];
            len += 1;
        }
        if len > 0 && len % 2 == 0 {
            sign = -sign;
        }
    }
    sign
}

/// `(sign, log|det|)` per matrix, from one LU factorization each (no overflow for large
/// determinants). A singular matrix gives `(0, -inf)`, as PyTorch.
pub fn slogdet(a: &Tensor, op: &str) -> Result<(Tensor, Tensor)> {
    let m = Batch::read(a, op)?;
    square(&m, op)?;
    let mut sign = Output::new(&m.lead, &[]);
    let mut logabs = Output::new(&m.lead, &[]);
    for i in 0..m.count() {
        if m.rows == 0 {
            sign.data.push(1.0);
            logabs.data.push(0.0);
            continue;
        }
        let lu = m.matrix(i).partial_piv_lu();
        let (forward, _) = lu.P().arrays();
        let mut s = permutation_sign(forward);
        let mut l = 0.0;
        for k in 0..m.rows {
            let u = lu.U()[(k, k)];
            // f64::signum(0.0) is 1: a zero pivot is handled on its own.
            s = if u == 0.0 { 0.0 } else { s * u.signum() };
            l += u.abs().ln();
        }
        sign.data.push(s);
        logabs.data.push(l);
    }
    Ok((sign.finish(a.dtype())?, logabs.finish(a.dtype())?))
}

/// The determinant, `sign * exp(log|det|)`.
pub fn det(a: &Tensor) -> Result<Tensor> {
    let op = "linalg.det";
    let m = Batch::read(a, op)?;
    square(&m, op)?;
    let mut out = Output::new(&m.lead, &[]);
    for i in 0..m.count() {
        out.data.push(if m.rows == 0 { 1.0 } else { m.matrix(i).determinant() });
    }
    out.finish(a.dtype())
}

/// The lower Cholesky factor of each (symmetric positive-definite) matrix; only the lower
/// triangle is read, as LAPACK's `potrf` with UPLO='L'.
pub fn cholesky(a: &Tensor) -> Result<Tensor> {
    let op = "linalg.cholesky";
    let m = Batch::read(a, op)?;
    square(&m, op)?;
    let mut out = Output::new(&m.lead, &[m.rows, m.cols]);
    for i in 0..m.count() {
        let llt = m.matrix(i).llt(Side::Lower).map_err(|e| {
            let faer::linalg::cholesky::llt::factor::LltError::NonPositivePivot { index } = e;
            Error::LinAlg(format!(
                "{op}: The factorization could not be completed because the input is not positive-definite \
                 (the leading minor of order {} is not positive-definite).",
                index + 1
            ))
        })?;
        out.push_matrix(llt.L());
    }
    out.finish(a.dtype())
}

/// `A = Q R`: `complete` gives `Q: [m, m], R: [m, n]`, otherwise `Q: [m, k], R: [k, n]`
/// with `k = min(m, n)`.
pub fn qr(a: &Tensor, complete: bool) -> Result<(Tensor, Tensor)> {
    let m = Batch::read(a, "linalg.qr")?;
    let k = m.rows.min(m.cols);
    let qcols = if complete { m.rows } else { k };
    let mut q = Output::new(&m.lead, &[m.rows, qcols]);
    let mut r = Output::new(&m.lead, &[qcols, m.cols]);
    for i in 0..m.count() {
        let f = m.matrix(i).qr();
        if complete {
            q.push_matrix(f.compute_Q().as_ref());
            // faer's R has min(m, n) rows; the complete R is padded with zero rows to m.
            r.push_matrix(f.thin_R());
            r.data.extend(std::iter::repeat_n(0.0, (m.rows - k) * m.cols));
        } else {
            q.push_matrix(f.compute_thin_Q().as_ref());
            r.push_matrix(f.thin_R());
        }
    }
    Ok((q.finish(a.dtype())?, r.finish(a.dtype())?))
}

fn no_convergence(op: &str) -> Error {
    Error::LinAlg(format!("{op}: The algorithm failed to converge because the input matrix is ill-conditioned or has too many repeated values."))
}

/// Eigenvalues (ascending) and orthonormal eigenvectors (as columns) of each symmetric
/// matrix, reading the triangle `upper` names.
pub fn eigh(a: &Tensor, upper: bool) -> Result<(Tensor, Tensor)> {
    let op = "linalg.eigh";
    let m = Batch::read(a, op)?;
    square(&m, op)?;
    let n = m.rows;
    let mut w = Output::new(&m.lead, &[n]);
    let mut v = Output::new(&m.lead, &[n, n]);
    let side = if upper { Side::Upper } else { Side::Lower };
    for i in 0..m.count() {
        if n == 0 {
            continue;
        }
        let e = m.matrix(i).self_adjoint_eigen(side).map_err(|_| no_convergence(op))?;
        let s = e.S().column_vector();
        w.data.extend((0..n).map(|j| s[j]));
        v.push_matrix(e.U());
    }
    Ok((w.finish(a.dtype())?, v.finish(a.dtype())?))
}

/// `A = U diag(S) Vh` with singular values in descending order; `full` gives square `U` and
/// `Vh`, otherwise `U: [m, k]`, `Vh: [k, n]`.
pub fn svd(a: &Tensor, full: bool) -> Result<(Tensor, Tensor, Tensor)> {
    let op = "linalg.svd";
    let m = Batch::read(a, op)?;
    let k = m.rows.min(m.cols);
    let (ucols, vrows) = if full { (m.rows, m.cols) } else { (k, k) };
    let mut u = Output::new(&m.lead, &[m.rows, ucols]);
    let mut s = Output::new(&m.lead, &[k]);
    let mut vh = Output::new(&m.lead, &[vrows, m.cols]);
    for i in 0..m.count() {
        if m.rows == 0 || m.cols == 0 {
            let eye = |n: usize| Mat::<f64>::identity(n, n);
            if full {
                u.push_matrix(eye(m.rows).as_ref());
                vh.push_matrix(eye(m.cols).as_ref());
            }
            continue;
        }
        let f = if full { m.matrix(i).svd() } else { m.matrix(i).thin_svd() }.map_err(|_| no_convergence(op))?;
        u.push_matrix(f.U());
        let d = f.S().column_vector();
        s.data.extend((0..k).map(|j| d[j]));
        vh.push_matrix(f.V().transpose());
    }
    Ok((u.finish(a.dtype())?, s.finish(a.dtype())?, vh.finish(a.dtype())?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>, s: &[usize]) -> Tensor {
        Tensor::from_vec(v, s).unwrap()
    }

    #[test]
    fn permutation_parity_counts_transpositions() {
        assert_eq!(permutation_sign(&[0, 1, 2]), 1.0);
        assert_eq!(permutation_sign(&[1, 0, 2]), -1.0);
        assert_eq!(permutation_sign(&[1, 2, 0]), 1.0);
        assert_eq!(permutation_sign(&[3, 2, 1, 0]), 1.0);
    }

    #[test]
    fn slogdet_and_det_agree_on_a_permuted_matrix() {
        let a = t(vec![0.0, 2.0, 3.0, 1.0], &[2, 2]); // det = -6
        let (s, l) = slogdet(&a, "slogdet").unwrap();
        assert_eq!(s.item().unwrap(), -1.0);
        assert!((l.item().unwrap() - 6f64.ln()).abs() < 1e-14);
        assert!((det(&a).unwrap().item().unwrap() + 6.0).abs() < 1e-12);
    }

    #[test]
    fn singular_and_indefinite_matrices_are_errors_not_panics() {
        let a = t(vec![1.0, 2.0, 2.0, 4.0], &[2, 2]);
        assert!(matches!(inv(&a), Err(Error::LinAlg(_))));
        assert!(matches!(cholesky(&t(vec![1.0, 0.0, 0.0, -1.0], &[2, 2])), Err(Error::LinAlg(_))));
        assert!(matches!(det(&t(vec![1.0, 2.0, 3.0], &[1, 3])), Err(Error::Shape(_))));
    }
}
