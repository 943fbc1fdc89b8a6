//! Linear algebra beyond matmul: solve, inverse, determinants, Cholesky, QR, symmetric
//! eigendecomposition, SVD, and the diagonal/triangle helpers their gradients need.
//!
//! The factorizations are primitives (CPU kernels through `faer`); their vjps are written with
//! differentiable ops (matmul, solve, inverse, elementwise), so `create_graph=True` gives
//! second derivatives. The formulas are PyTorch's (`FunctionsManual.cpp`): Murray (2016) for
//! Cholesky, Walter/Seeger for QR, and the standard eigh/SVD rules with `E_ij = w_j - w_i`.

use super::{
    add, cast, div, expand, grads, matmul, mul, neg, reciprocal, scalar_like, slice, squeeze_dim, sub, transpose,
    unsqueeze, where_, Grads, OpParam, OpParams,
};
use crate::autograd::{record, record_multi, Save, VjpCtx};
use crate::backend;
use crate::error::{shape_err, Error, Result, ShapeDisplay};
use crate::tensor::{broadcast_shapes, normalize_dim, DType, Dims, Layout, Tensor};
use smallvec::smallvec;

pub enum LinalgOp {
    /// `X = A^{-1} B` for `B: [..., n, k]`.
    Solve,
    Inv,
    Det,
    /// `log|det A|` (slogdet's differentiable output).
    LogAbsDet,
    /// The lower factor `L` of `A = L L^T`.
    Cholesky,
    Qr { complete: bool },
    Eigh,
    Svd { full: bool },
    /// The diagonal view of two dims.
    Diagonal { offset: isize, dim1: usize, dim2: usize },
    /// Zeros with the input placed on a diagonal (diagonal's vjp, and `diag_embed`).
    DiagonalScatter { offset: isize, dim1: usize, dim2: usize },
}

fn mt(t: &Tensor) -> Result<Tensor> {
    transpose(t, -2, -1)
}

/// `x[..., None, None]`: a per-matrix scalar broadcast over its matrix.
fn per_matrix(x: &Tensor) -> Result<Tensor> {
    unsqueeze(&unsqueeze(x, -1)?, -1)
}

fn c(like: &Tensor, v: f64) -> Result<Tensor> {
    scalar_like(like, v)
}

/// Promotes integer input to float32 (as PyTorch refuses ints, we refuse too: a clear error).
fn float_matrix(a: &Tensor, op: &str) -> Result<()> {
    if !a.dtype().is_float() {
        return Err(Error::DType(format!(
            "{op}: expected a float tensor, got {}; convert with .float() or .double() first",
            a.dtype().name()
        )));
    }
    if a.ndim() < 2 {
        return Err(shape_err!(
            "{op}: the input must have at least 2 dimensions (a matrix or a batch of matrices), got shape {}",
            ShapeDisplay(a.shape())
        ));
    }
    Ok(())
}

fn square(a: &Tensor, op: &str) -> Result<usize> {
    float_matrix(a, op)?;
    let n = a.shape()[a.ndim() - 1];
    if a.shape()[a.ndim() - 2] != n {
        return Err(shape_err!(
            "{op}: A must be batches of square matrices, but they are {} by {} matrices",
            a.shape()[a.ndim() - 2],
            n
        ));
    }
    Ok(n)
}

// ---- solve and inverse --------------------------------------------------------------------

/// `A X = B` with `B` a matrix `[..., n, k]` and batch dims broadcast (the primitive).
fn solve_matrix(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let lead = broadcast_shapes(&a.shape()[..a.ndim() - 2], &b.shape()[..b.ndim() - 2], "linalg.solve")?;
    let full = |t: &Tensor| -> Result<Tensor> {
        let mut s: Vec<usize> = lead.to_vec();
        s.extend_from_slice(&t.shape()[t.ndim() - 2..]);
        if t.shape() == s.as_slice() {
            Ok(t.clone())
        } else {
            expand(t, &s)
        }
    };
    let (a, b) = (full(a)?, full(b)?);
    let out = backend::linalg_solve(&a, &b)?;
    record(super::Op::Linalg(LinalgOp::Solve), &[&a, &b], &out, |needs| {
        smallvec![if needs[0] || needs[1] { Save::Input(&a) } else { Save::Skip }, if needs[0] { Save::Output(0) } else { Save::Skip }]
    });
    Ok(out)
}

/// `torch.linalg.solve(A, B, left=True)`: `B` is a batch of vectors when it is 1-D or has
/// `A`'s shape without its last dim; `left=False` solves `X A = B`.
pub fn linalg_solve(a: &Tensor, b: &Tensor, left: bool) -> Result<Tensor> {
    let n = square(a, "linalg.solve")?;
    float_matrix_or_vector(b)?;
    if a.dtype() != b.dtype() {
        return Err(Error::DType(format!(
            "linalg.solve: expected A and B to have the same dtype, but found A of type {} and B of type {} instead",
            a.dtype().name(),
            b.dtype().name()
        )));
    }
    let vector = b.ndim() == 1 || (b.ndim() == a.ndim() - 1 && b.shape() == &a.shape()[..a.ndim() - 1]);
    if !left {
        if vector {
            return Err(shape_err!("linalg.solve: vector B is only supported with left=True"));
        }
        return mt(&linalg_solve(&mt(a)?, &mt(b)?, true)?);
    }
    let rows = if vector { b.shape()[b.ndim() - 1] } else { b.shape()[b.ndim() - 2] };
    if rows != n {
        return Err(shape_err!(
            "linalg.solve: incompatible shapes of A and B for the equation AX = B ({} and {})",
            ShapeDisplay(a.shape()),
            ShapeDisplay(b.shape())
        ));
    }
    if vector {
        squeeze_dim(&solve_matrix(a, &unsqueeze(b, -1)?)?, -1)
    } else {
        solve_matrix(a, b)
    }
}

fn float_matrix_or_vector(b: &Tensor) -> Result<()> {
    if b.ndim() == 0 {
        return Err(shape_err!("linalg.solve: B must have at least 1 dimension, got a 0-d tensor"));
    }
    if !b.dtype().is_float() {
        return Err(Error::DType(format!("linalg.solve: expected a float B, got {}", b.dtype().name())));
    }
    Ok(())
}

pub fn linalg_inv(a: &Tensor) -> Result<Tensor> {
    square(a, "linalg.inv")?;
    let out = backend::linalg_inv(a)?;
    record(super::Op::Linalg(LinalgOp::Inv), &[a], &out, |_| smallvec![Save::Output(0)]);
    Ok(out)
}

// ---- determinants -------------------------------------------------------------------------

pub fn linalg_det(a: &Tensor) -> Result<Tensor> {
    square(a, "linalg.det")?;
    let out = backend::linalg_det(a)?;
    record(super::Op::Linalg(LinalgOp::Det), &[a], &out, |_| smallvec![Save::Input(a), Save::Output(0)]);
    Ok(out)
}

/// `(sign, log|det|)`; only the second is differentiable (the sign is locally constant).
pub fn linalg_slogdet(a: &Tensor) -> Result<(Tensor, Tensor)> {
    square(a, "linalg.slogdet")?;
    let (sign, logabs) = backend::linalg_slogdet(a)?;
    record(super::Op::Linalg(LinalgOp::LogAbsDet), &[a], &logabs, |_| smallvec![Save::Input(a)]);
    Ok((sign, logabs))
}

/// `log det A`: NaN for a negative determinant and -inf for a singular matrix, as PyTorch.
pub fn logdet(a: &Tensor) -> Result<Tensor> {
    let (sign, logabs) = linalg_slogdet(a)?;
    // log(sign) is 0, -inf or NaN; adding it keeps logabs's gradient and PyTorch's values.
    add(&logabs, &super::log(&sign)?)
}

/// `A^{-T}` for a determinant's gradient, with a message that names the op when `A` is singular.
fn inverse_transpose_for(a: &Tensor, op: &str) -> Result<Tensor> {
    linalg_inv(a).and_then(|i| mt(&i)).map_err(|e| match e {
        Error::LinAlg(_) => Error::LinAlg(format!(
            "{op} backward: the input matrix is singular; the gradient at a singular matrix (the adjugate) is not implemented"
        )),
        e => e,
    })
}

// ---- factorizations -----------------------------------------------------------------------

pub fn linalg_cholesky(a: &Tensor, upper: bool) -> Result<Tensor> {
    square(a, "linalg.cholesky")?;
    let l = backend::linalg_cholesky(a)?;
    record(super::Op::Linalg(LinalgOp::Cholesky), &[a], &l, |_| smallvec![Save::Output(0)]);
    if upper {
        mt(&l)
    } else {
        Ok(l)
    }
}

/// `mode`: "reduced", "complete" or "r" (Q empty).
pub fn linalg_qr(a: &Tensor, mode: &str) -> Result<(Tensor, Tensor)> {
    float_matrix(a, "linalg.qr")?;
    let complete = match mode {
        "reduced" | "r" => false,
        "complete" => true,
        other => {
            return Err(Error::Value(format!(
                "linalg.qr: qr received unrecognized mode '{other}' but expected one of 'reduced' (default), 'r', or 'complete'"
            )))
        }
    };
    let (q, r) = backend::linalg_qr(a, complete)?;
    record_multi(super::Op::Linalg(LinalgOp::Qr { complete }), &[a], &[&q, &r], |_| smallvec![Save::Output(0), Save::Output(1)]);
    if mode == "r" {
        let empty = backend::full(&[0], 0.0, a.dtype(), a.device())?;
        return Ok((empty, r));
    }
    Ok((q, r))
}

pub fn linalg_eigh(a: &Tensor, uplo: &str) -> Result<(Tensor, Tensor)> {
    square(a, "linalg.eigh")?;
    let upper = match uplo {
        "L" | "l" => false,
        "U" | "u" => true,
        other => return Err(Error::Value(format!("linalg.eigh: Expected UPLO argument to be 'L' or 'U', but got {other}"))),
    };
    let (w, v) = backend::linalg_eigh(a, upper)?;
    record_multi(super::Op::Linalg(LinalgOp::Eigh), &[a], &[&w, &v], |_| smallvec![Save::Output(0), Save::Output(1)]);
    Ok((w, v))
}

pub fn linalg_svd(a: &Tensor, full_matrices: bool) -> Result<(Tensor, Tensor, Tensor)> {
    float_matrix(a, "linalg.svd")?;
    let (u, s, vh) = backend::linalg_svd(a, full_matrices)?;
    record_multi(super::Op::Linalg(LinalgOp::Svd { full: full_matrices }), &[a], &[&u, &s, &vh], |_| {
        smallvec![Save::Output(0), Save::Output(1), Save::Output(2)]
    });
    Ok((u, s, vh))
}

// ---- diagonals and triangles ----------------------------------------------------------------

/// The layout of `diagonal(offset, dim1, dim2)` over `l`: both dims removed, the diagonal
/// appended last with the sum of their strides.
fn diagonal_layout(l: &Layout, offset: isize, d1: usize, d2: usize) -> Layout {
    let (n1, n2) = (l.shape()[d1] as isize, l.shape()[d2] as isize);
    let len = if offset >= 0 { n1.min(n2 - offset) } else { (n1 + offset).min(n2) }.max(0) as usize;
    let (s1, s2) = (l.strides()[d1], l.strides()[d2]);
    let start = if len == 0 {
        l.offset()
    } else if offset >= 0 {
        l.offset() + offset as usize * s2
    } else {
        l.offset() + (-offset) as usize * s1
    };
    let mut shape = Dims::new();
    let mut strides = Dims::new();
    for k in 0..l.ndim() {
        if k != d1 && k != d2 {
            shape.push(l.shape()[k]);
            strides.push(l.strides()[k]);
        }
    }
    shape.push(len);
    strides.push(s1 + s2);
    Layout::new(shape, strides, start)
}

fn diagonal_dims(ndim: usize, dim1: isize, dim2: isize, op: &str) -> Result<(usize, usize)> {
    if ndim < 2 {
        return Err(shape_err!("{op}: expected a tensor with at least 2 dimensions, got {ndim}"));
    }
    let (d1, d2) = (normalize_dim(dim1, ndim, op)?, normalize_dim(dim2, ndim, op)?);
    if d1 == d2 {
        return Err(shape_err!("{op}: diagonal dimensions cannot be identical {dim1}, {dim2}"));
    }
    Ok((d1, d2))
}

/// `torch.diagonal(a, offset, dim1, dim2)`: a view.
pub fn diagonal(a: &Tensor, offset: isize, dim1: isize, dim2: isize) -> Result<Tensor> {
    let (d1, d2) = diagonal_dims(a.ndim(), dim1, dim2, "diagonal")?;
    diagonal_view(a, offset, d1, d2)
}

fn diagonal_view(a: &Tensor, offset: isize, d1: usize, d2: usize) -> Result<Tensor> {
    let out = a.with_layout(diagonal_layout(a.layout(), offset, d1, d2))?;
    record(super::Op::Linalg(LinalgOp::Diagonal { offset, dim1: d1, dim2: d2 }), &[a], &out, |_| smallvec![]);
    if out.requires_grad() {
        out.mark_view_of_differentiable();
    }
    Ok(out)
}

/// Zeros of shape `full` with `g` (its last dim the diagonal) written on the diagonal.
fn diagonal_scatter(g: &Tensor, full: &[usize], offset: isize, d1: usize, d2: usize) -> Result<Tensor> {
    let out = backend::full(full, 0.0, g.dtype(), g.device())?;
    let region = out.with_layout(diagonal_layout(out.layout(), offset, d1, d2))?;
    if region.shape() != g.shape() {
        return Err(shape_err!(
            "diag_embed: internal shape mismatch {} vs {}",
            ShapeDisplay(region.shape()),
            ShapeDisplay(g.shape())
        ));
    }
    backend::copy_into(&region, g)?;
    record(super::Op::Linalg(LinalgOp::DiagonalScatter { offset, dim1: d1, dim2: d2 }), &[g], &out, |_| smallvec![]);
    Ok(out)
}

/// `torch.diag_embed(a, offset, dim1, dim2)`: the last dim of `a` placed on a diagonal of two
/// new dims.
pub fn diag_embed(a: &Tensor, offset: isize, dim1: isize, dim2: isize) -> Result<Tensor> {
    if a.ndim() == 0 {
        return Err(shape_err!("diag_embed: expected a tensor with at least 1 dimension, got a 0-d tensor"));
    }
    let nd = a.ndim() + 1;
    let (d1, d2) = diagonal_dims(nd, dim1, dim2, "diag_embed")?;
    let n = a.shape()[a.ndim() - 1] + offset.unsigned_abs();
    let mut full = Vec::with_capacity(nd);
    let mut rest = a.shape()[..a.ndim() - 1].iter();
    for k in 0..nd {
        full.push(if k == d1 || k == d2 { n } else { *rest.next().unwrap_or(&1) });
    }
    diagonal_scatter(a, &full, offset, d1, d2)
}

/// A `[rows, cols]` bool mask: true where `col - row <= k` (`lower`) or `>= k` (upper).
fn triangle_mask(rows: usize, cols: usize, k: isize, lower: bool, like: &Tensor) -> Result<Tensor> {
    let mut m = Vec::with_capacity(rows.checked_mul(cols).ok_or_else(|| shape_err!("tril: matrix too large"))?);
    for i in 0..rows as isize {
        for j in 0..cols as isize {
            m.push(if lower { j - i <= k } else { j - i >= k });
        }
    }
    let mask = Tensor::from_vec(m, &[rows, cols])?;
    super::to_device(&mask, like.device())
}

fn triangle(a: &Tensor, k: isize, lower: bool) -> Result<Tensor> {
    let op = if lower { "tril" } else { "triu" };
    if a.ndim() < 2 {
        return Err(shape_err!("{op}: input tensor must have at least 2 dimensions, got shape {}", ShapeDisplay(a.shape())));
    }
    let (rows, cols) = (a.shape()[a.ndim() - 2], a.shape()[a.ndim() - 1]);
    let mask = triangle_mask(rows, cols, k, lower, a)?;
    let zero = if a.dtype() == DType::Bool { cast(&c(a, 0.0)?, DType::Bool)? } else { c(a, 0.0)? };
    where_(&mask, a, &zero)
}

pub fn tril(a: &Tensor, k: isize) -> Result<Tensor> {
    triangle(a, k, true)
}

pub fn triu(a: &Tensor, k: isize) -> Result<Tensor> {
    triangle(a, k, false)
}

/// Ones on the last two dims' main diagonal, shaped `[n, n]`, on `like`'s device and dtype.
fn eye_like(n: usize, like: &Tensor) -> Result<Tensor> {
    diag_embed(&backend::full(&[n], 1.0, like.dtype(), like.device())?, 0, -2, -1)
}

// ---- vjps ---------------------------------------------------------------------------------

impl LinalgOp {
    pub fn name(&self) -> &'static str {
        match self {
            LinalgOp::Solve => "linalg_solve",
            LinalgOp::Inv => "linalg_inv",
            LinalgOp::Det => "linalg_det",
            LinalgOp::LogAbsDet => "linalg_slogdet",
            LinalgOp::Cholesky => "linalg_cholesky",
            LinalgOp::Qr { .. } => "linalg_qr",
            LinalgOp::Eigh => "linalg_eigh",
            LinalgOp::Svd { .. } => "linalg_svd",
            LinalgOp::Diagonal { .. } => "diagonal",
            LinalgOp::DiagonalScatter { .. } => "diagonal_backward",
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            LinalgOp::Diagonal { offset, dim1, dim2 } | LinalgOp::DiagonalScatter { offset, dim1, dim2 } => vec![
                ("offset", OpParam::Int(*offset as i64)),
                ("dim1", OpParam::Int(*dim1 as i64)),
                ("dim2", OpParam::Int(*dim2 as i64)),
            ],
            LinalgOp::Qr { complete } => vec![("complete", OpParam::Bool(*complete))],
            LinalgOp::Svd { full } => vec![("full_matrices", OpParam::Bool(*full))],
            _ => OpParams::new(),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        match self {
            LinalgOp::Solve => {
                // X = A^{-1} B:  gB = A^{-T} g,  gA = -gB X^T.
                let a = ctx.saved(0)?;
                let gb = solve_matrix(&mt(a)?, g)?;
                grads(ctx, [&|| neg(&matmul(&gb, &mt(ctx.saved(1)?)?)?), &|| Ok(gb.clone())])
            }
            LinalgOp::Inv => {
                let yt = mt(ctx.saved(0)?)?;
                grads(ctx, [&|| neg(&matmul(&matmul(&yt, g)?, &yt)?)])
            }
            LinalgOp::Det => {
                let (a, d) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| mul(&per_matrix(&mul(g, d)?)?, &inverse_transpose_for(a, "linalg.det")?)])
            }
            LinalgOp::LogAbsDet => {
                let a = ctx.saved(0)?;
                grads(ctx, [&|| mul(&per_matrix(g)?, &inverse_transpose_for(a, "linalg.slogdet")?)])
            }
            LinalgOp::Cholesky => grads(ctx, [&|| cholesky_vjp(ctx.saved(0)?, g)]),
            LinalgOp::Qr { complete } => grads(ctx, [&|| qr_vjp(ctx, *complete)]),
            LinalgOp::Eigh => grads(ctx, [&|| eigh_vjp(ctx)]),
            LinalgOp::Svd { full } => grads(ctx, [&|| svd_vjp(ctx, *full)]),
            LinalgOp::Diagonal { offset, dim1, dim2 } => {
                grads(ctx, [&|| diagonal_scatter(g, &ctx.inputs[0].shape, *offset, *dim1, *dim2)])
            }
            LinalgOp::DiagonalScatter { offset, dim1, dim2 } => grads(ctx, [&|| diagonal_view(g, *offset, *dim1, *dim2)]),
        }
    }
}

/// Murray (2016), as PyTorch: `gA = L^{-T} Phi(L^T gL) L^{-1}` with the symmetric `Phi`.
fn cholesky_vjp(l: &Tensor, gl: &Tensor) -> Result<Tensor> {
    let t = tril(&matmul(&mt(l)?, gl)?, 0)?;
    let m = mul(&add(&t, &mt(&tril(&t, -1)?)?)?, &c(&t, 0.5)?)?;
    let linv = linalg_inv(l)?;
    matmul(&matmul(&mt(&linv)?, &m)?, &linv)
}

/// `A = QR`, `m >= n` (reduced): `M = R gR^T - gQ^T Q`,
/// `gA = (gQ + Q copyltu(M)) R^{-T}`, where `copyltu` mirrors the lower triangle upwards.
fn qr_vjp(ctx: &VjpCtx, complete: bool) -> Result<Tensor> {
    let (q, r) = (ctx.saved(0)?, ctx.saved(1)?);
    let (gq, gr) = (&ctx.grads[0], &ctx.grads[1]);
    let shape = &ctx.inputs[0].shape;
    let (m, n) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    if m < n {
        return Err(Error::Autograd(format!(
            "linalg.qr backward: not implemented for wide matrices (input {} has fewer rows than columns)",
            ShapeDisplay(shape)
        )));
    }
    if complete && m > n {
        return Err(Error::Autograd(
            "linalg.qr backward: The QR decomposition is not differentiable when mode='complete' and nrows > ncols".into(),
        ));
    }
    let mm = sub(&matmul(r, &mt(gr)?)?, &matmul(&mt(gq)?, q)?)?;
    let copyltu = add(&tril(&mm, 0)?, &mt(&tril(&mm, -1)?)?)?;
    let b = add(gq, &matmul(q, &copyltu)?)?;
    matmul(&b, &mt(&linalg_inv(r)?)?)
}

/// `1 / (x_j - x_i)` off the diagonal and 0 on it, for `x: [..., n]`.
fn inverse_gaps(x: &Tensor) -> Result<Tensor> {
    let n = x.shape()[x.ndim() - 1];
    let e = sub(&unsqueeze(x, -2)?, &unsqueeze(x, -1)?)?;
    let eye = eye_like(n, x)?;
    let off = sub(&c(&eye, 1.0)?, &eye)?;
    mul(&reciprocal(&add(&e, &eye)?)?, &off)
}

/// `A = V diag(w) V^T`: `gA = V (diag(gw) + F o skew(V^T gV) / 2) V^T`,
/// `F_ij = 1 / (w_j - w_i)`. Projecting `V^T gV` on the skew-symmetric matrices (the tangent
/// space of the orthogonal group) makes the gradient symmetric, as PyTorch's is.
fn eigh_vjp(ctx: &VjpCtx) -> Result<Tensor> {
    let (w, v) = (ctx.saved(0)?, ctx.saved(1)?);
    let (gw, gv) = (&ctx.grads[0], &ctx.grads[1]);
    let vhgv = matmul(&mt(v)?, gv)?;
    let skew = mul(&sub(&vhgv, &mt(&vhgv)?)?, &c(&vhgv, 0.5)?)?;
    let inner = add(&diag_embed(gw, 0, -2, -1)?, &mul(&inverse_gaps(w)?, &skew)?)?;
    matmul(&matmul(v, &inner)?, &mt(v)?)
}

/// PyTorch's `svd_backward` for real matrices (full matrices narrowed to the `k` singular
/// vectors the result depends on).
fn svd_vjp(ctx: &VjpCtx, full: bool) -> Result<Tensor> {
    let (mut u, s, mut vh) = (ctx.saved(0)?.clone(), ctx.saved(1)?.clone(), ctx.saved(2)?.clone());
    let (mut gu, gs, mut gvh) = (ctx.grads[0].clone(), ctx.grads[1].clone(), ctx.grads[2].clone());
    let shape = &ctx.inputs[0].shape;
    let (m, n) = (shape[shape.len() - 2], shape[shape.len() - 1]);
    let k = m.min(n);
    if full {
        let (ud, vd) = (u.ndim() - 1, vh.ndim() - 2);
        u = slice(&u, ud, 0, k, 1)?;
        gu = slice(&gu, ud, 0, k, 1)?;
        vh = slice(&vh, vd, 0, k, 1)?;
        gvh = slice(&gvh, vd, 0, k, 1)?;
    }
    let skew = |x: &Tensor| -> Result<Tensor> { sub(x, &mt(x)?) };
    let uhgu = matmul(&mt(&u)?, &gu)?;
    let vhgv = matmul(&vh, &mt(&gvh)?)?;
    let f = inverse_gaps(&mul(&s, &s)?)?;
    let s_cols = unsqueeze(&s, -2)?;
    let s_rows = unsqueeze(&s, -1)?;
    let inner = add(
        &add(&mul(&mul(&skew(&uhgu)?, &f)?, &s_cols)?, &mul(&s_rows, &mul(&skew(&vhgv)?, &f)?)?)?,
        &diag_embed(&gs, 0, -2, -1)?,
    )?;
    let mut ga = matmul(&matmul(&u, &inner)?, &vh)?;
    if m > k {
        let proj = sub(&gu, &matmul(&u, &uhgu)?)?;
        ga = add(&ga, &matmul(&div(&proj, &s_cols)?, &vh)?)?;
    }
    if n > k {
        let proj = sub(&gvh, &matmul(&mt(&vhgv)?, &vh)?)?;
        ga = add(&ga, &matmul(&u, &div(&proj, &s_rows)?)?)?;
    }
    Ok(ga)
}

// ---- products and reductions built from the above ---------------------------------------

fn need_dims(t: &Tensor, nd: usize, op: &str, what: &str) -> Result<()> {
    if t.ndim() != nd {
        return Err(shape_err!("{op}: {what} must be a {nd}-D tensor, got shape {}", ShapeDisplay(t.shape())));
    }
    Ok(())
}

/// `torch.bmm`: `[b, n, m] @ [b, m, p]`, no broadcasting.
pub fn bmm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    need_dims(a, 3, "bmm", "batch1")?;
    need_dims(b, 3, "bmm", "batch2")?;
    if a.shape()[0] != b.shape()[0] || a.shape()[2] != b.shape()[1] {
        return Err(shape_err!(
            "bmm: expected batch1 [b, n, m] and batch2 [b, m, p], got {} and {}",
            ShapeDisplay(a.shape()),
            ShapeDisplay(b.shape())
        ));
    }
    matmul(a, b)
}

/// `torch.mv`: matrix `[n, m]` times vector `[m]`.
pub fn mv(a: &Tensor, v: &Tensor) -> Result<Tensor> {
    need_dims(a, 2, "mv", "the matrix")?;
    need_dims(v, 1, "mv", "the vector")?;
    if a.shape()[1] != v.shape()[0] {
        return Err(shape_err!("mv: size mismatch, got matrix {} and vector {}", ShapeDisplay(a.shape()), ShapeDisplay(v.shape())));
    }
    matmul(a, v)
}

/// `torch.outer`: `a[:, None] * b[None, :]` for 1-D `a`, `b`.
pub fn outer(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    need_dims(a, 1, "outer", "input")?;
    need_dims(b, 1, "outer", "vec2")?;
    mul(&unsqueeze(a, 1)?, &unsqueeze(b, 0)?)
}

/// `torch.trace`: the sum of a 2-D tensor's main diagonal.
pub fn trace(a: &Tensor) -> Result<Tensor> {
    need_dims(a, 2, "trace", "input")?;
    super::sum(&diagonal(a, 0, 0, 1)?, None, false)
}

/// `torch.diag`: a 1-D input becomes a matrix with it on diagonal `k`; a 2-D input gives its
/// diagonal `k`.
pub fn diag(a: &Tensor, k: isize) -> Result<Tensor> {
    match a.ndim() {
        1 => diag_embed(a, k, 0, 1),
        2 => diagonal(a, k, 0, 1),
        _ => Err(shape_err!("diag: expected a 1-D or 2-D tensor, got shape {}", ShapeDisplay(a.shape()))),
    }
}

/// `beta * input + alpha * product`, skipping the factors that are 1 (PyTorch ignores `input`
/// entirely when `beta == 0`, NaNs included).
fn scaled_sum(input: &Tensor, product: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    let p = if alpha == 1.0 { product.clone() } else { mul(product, &c(product, alpha)?)? };
    if beta == 0.0 {
        let shape = broadcast_shapes(input.shape(), p.shape(), "addmm")?;
        return if p.shape() == shape.as_slice() { Ok(p) } else { expand(&p, &shape) };
    }
    let i = if beta == 1.0 { input.clone() } else { mul(input, &c(input, beta)?)? };
    add(&i, &p)
}

pub fn addmm(input: &Tensor, m1: &Tensor, m2: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    need_dims(m1, 2, "addmm", "mat1")?;
    need_dims(m2, 2, "addmm", "mat2")?;
    scaled_sum(input, &matmul(m1, m2)?, beta, alpha)
}

pub fn addmv(input: &Tensor, m: &Tensor, v: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    scaled_sum(input, &mv(m, v)?, beta, alpha)
}

pub fn baddbmm(input: &Tensor, b1: &Tensor, b2: &Tensor, beta: f64, alpha: f64) -> Result<Tensor> {
    scaled_sum(input, &bmm(b1, b2)?, beta, alpha)
}
