//! Scans: `cumsum`, `cumprod`, `cummax`, `cummin`, `logcumsumexp` along one dim. Each vjp is
//! another scan run the other way (the gradient of element i collects every later output),
//! written with differentiable ops so higher derivatives follow.

use super::{cast, eq, exp, gather, grads, log, mul, narrow, sub, where_, Grads, OpParam, OpParams};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend::{self, ScanKind};
use crate::error::{dtype_err, Result};
use crate::tensor::{normalize_dim, DType, Tensor};
use smallvec::smallvec;

pub enum ScanOp {
    /// A running sum, product or logaddexp along `dim`, from the end when `reverse`.
    Cum { kind: ScanKind, dim: usize, reverse: bool },
}

/// `dim` of `a` normalised (a 0-dim tensor scans its one element as dim 0).
fn scan_dim(a: &Tensor, dim: isize, op: &str) -> Result<usize> {
    if a.ndim() == 0 {
        normalize_dim(dim, 1, op)?;
        return Ok(0);
    }
    normalize_dim(dim, a.ndim(), op)
}

/// The recorded scan of `kind` (sum, prod or logaddexp) along `dim`.
pub fn scan(kind: ScanKind, a: &Tensor, dim: usize, reverse: bool) -> Result<Tensor> {
    let (out, _) = backend::scan(kind, a, dim, reverse)?;
    let saves = kind != ScanKind::Sum;
    record(super::Op::Scan(ScanOp::Cum { kind, dim, reverse }), &[a], &out, |_| {
        if saves {
            smallvec![Save::Input(a), Save::Output(0)]
        } else {
            smallvec![]
        }
    });
    Ok(out)
}

/// Integer and bool inputs of a sum or product scan count in int64 (PyTorch's rule), unless
/// `dtype` says otherwise.
fn scan_input(a: &Tensor, dtype: Option<DType>) -> Result<Tensor> {
    match dtype {
        Some(d) if d != a.dtype() => cast(a, d),
        Some(_) => Ok(a.clone()),
        None if !a.dtype().is_float() && a.dtype() != DType::I64 => cast(a, DType::I64),
        None => Ok(a.clone()),
    }
}

pub fn cumsum(a: &Tensor, dim: isize, dtype: Option<DType>) -> Result<Tensor> {
    let d = scan_dim(a, dim, "cumsum")?;
    scan(ScanKind::Sum, &scan_input(a, dtype)?, d, false)
}

pub fn cumprod(a: &Tensor, dim: isize, dtype: Option<DType>) -> Result<Tensor> {
    let d = scan_dim(a, dim, "cumprod")?;
    scan(ScanKind::Prod, &scan_input(a, dtype)?, d, false)
}

pub fn logcumsumexp(a: &Tensor, dim: isize) -> Result<Tensor> {
    let d = scan_dim(a, dim, "logcumsumexp")?;
    if !a.dtype().is_float() {
        return Err(dtype_err!("logcumsumexp: expected a float tensor, got {}; convert it with .float() first", a.dtype().name()));
    }
    scan(ScanKind::LogSumExp, a, d, false)
}

/// `cummax`/`cummin`: running values and the indices they came from. The values are a
/// gather at those indices, so the gradient is routed to the element each came from.
pub fn cum_extremum(kind: ScanKind, a: &Tensor, dim: isize) -> Result<(Tensor, Tensor)> {
    let d = scan_dim(a, dim, kind.name())?;
    if a.dtype() == DType::Bool {
        let (v, i) = cum_extremum(kind, &cast(a, DType::I64)?, dim)?;
        return Ok((cast(&v, DType::Bool)?, i));
    }
    let (values, indices) = backend::scan(kind, a, d, false)?;
    let indices = indices.expect("max/min scans yield indices");
    if a.ndim() == 0 || !(a.requires_grad() && crate::autograd::is_grad_enabled()) {
        return Ok((values, indices));
    }
    Ok((gather(a, d as isize, &indices)?, indices))
}

/// A running sum from the end (`g[i] + g[i+1] + ...`): the vjp of `cumsum`.
fn reverse_cumsum(g: &Tensor, dim: usize, reverse: bool) -> Result<Tensor> {
    scan(ScanKind::Sum, g, dim, !reverse)
}

/// `x` shifted one place along `dim` (towards the end, or the start when `reverse`), with
/// `fill` entering: the exclusive form of a scan's input.
fn shifted(x: &Tensor, dim: usize, reverse: bool, fill: f64) -> Result<Tensor> {
    let n = x.shape()[dim] as i64;
    let mut edge_shape = x.dims();
    edge_shape[dim] = 1;
    let edge = backend::full(&edge_shape, fill, x.dtype(), x.device())?;
    let body = narrow(x, dim as isize, if reverse { 1 } else { 0 }, n - 1)?;
    let parts = if reverse { [body, edge] } else { [edge, body] };
    super::cat(&parts, dim as isize)
}

/// The gradient of a product along `dim`: each element's gradient is the product of all the
/// others, `exclusive_cumprod * reverse_exclusive_cumprod`, exact with zeros (no division).
/// Also the vjp of `prod(dim)`.
pub fn prod_backward(g: &Tensor, x: &Tensor, dim: usize) -> Result<Tensor> {
    if x.shape()[dim] == 0 {
        return Ok(mul(g, x)?);
    }
    let before = scan(ScanKind::Prod, &shifted(x, dim, false, 1.0)?, dim, false)?;
    let after = scan(ScanKind::Prod, &shifted(x, dim, true, 1.0)?, dim, true)?;
    mul(g, &mul(&before, &after)?)
}

/// The vjp of `cumprod`: `grad_i = sum_{j >= i} g_j prod_{k <= j, k != i} x_k`. Before a row's
/// first zero this is `reverse_cumsum(g * out) / x`; at the first zero, the same sum with that
/// zero replaced by one; after it, 0 (every product holds the zero). Exact with zeros.
fn cumprod_backward(g: &Tensor, x: &Tensor, out: &Tensor, dim: usize, reverse: bool) -> Result<Tensor> {
    let zero = super::scalar_like(x, 0.0)?;
    let one = super::scalar_like(x, 1.0)?;
    let is_zero = eq(x, &zero)?;
    let zeros_so_far = scan(ScanKind::Sum, &cast(&is_zero, DType::I64)?, dim, reverse)?;
    let none_yet = eq(&zeros_so_far, &super::scalar_like(&zeros_so_far, 0.0)?)?;
    let first_zero = super::logical_and(&is_zero, &eq(&zeros_so_far, &super::scalar_like(&zeros_so_far, 1.0)?)?)?;
    let safe_x = where_(&none_yet, x, &one)?;
    let before = super::div(&reverse_cumsum(&mul(g, out)?, dim, reverse)?, &safe_x)?;
    let without_zero = scan(ScanKind::Prod, &where_(&first_zero, &one, x)?, dim, reverse)?;
    let at_zero = reverse_cumsum(&mul(g, &without_zero)?, dim, reverse)?;
    where_(&none_yet, &before, &where_(&first_zero, &at_zero, &zero)?)
}

/// The vjp of `logcumsumexp`: `grad_i = sum_{j >= i} g_j exp(x_i - out_j)`, computed in log
/// space for the positive and the negative parts of `g` (PyTorch's way), so no term overflows.
fn logcumsumexp_backward(g: &Tensor, x: &Tensor, out: &Tensor, dim: usize, reverse: bool) -> Result<Tensor> {
    let zero = super::scalar_like(g, 0.0)?;
    let part = |positive: bool| -> Result<Tensor> {
        let mask = if positive { super::gt(g, &zero)? } else { super::lt(g, &zero)? };
        let magnitude = where_(&mask, &super::abs(g)?, &zero)?;
        let log_g = log(&magnitude)?;
        let s = scan(ScanKind::LogSumExp, &sub(&log_g, out)?, dim, !reverse)?;
        exp(&super::add(&s, x)?)
    };
    sub(&part(true)?, &part(false)?)
}

impl ScanOp {
    pub fn name(&self) -> &'static str {
        match self {
            ScanOp::Cum { kind, .. } => kind.name(),
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            ScanOp::Cum { dim, reverse, .. } => vec![("dim", OpParam::Int(*dim as i64)), ("reverse", OpParam::Bool(*reverse))],
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        match *self {
            ScanOp::Cum { kind: ScanKind::Sum, dim, reverse } => grads(ctx, [&|| reverse_cumsum(g, dim, reverse)]),
            ScanOp::Cum { kind: ScanKind::Prod, dim, reverse } => {
                let (x, out) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| cumprod_backward(g, x, out, dim, reverse)])
            }
            ScanOp::Cum { kind: ScanKind::LogSumExp, dim, reverse } => {
                let (x, out) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| logcumsumexp_backward(g, x, out, dim, reverse)])
            }
            ScanOp::Cum { kind, .. } => Err(crate::error::autograd_err!("{}: its gradient flows through a gather", kind.name())),
        }
    }
}
