//! Reductions: sum, mean, max/min (over everything, over several dims, or along a dim with
//! indices), argmax, logsumexp, var/std, norm, all/any. Their vjps broadcast the gradient back
//! (sum), or route it (max).
//!
//! Dims follow PyTorch: `None` and an empty list both mean every dim.

use super::{
    abs, cast, div, eq, exp, expand, gather, grads, ints, log, logical_not, mul, ne, pow_scalar, reshape, scalar_like, sign,
    sqrt, sub, unsqueeze, where_, Grads, OpParam, OpParams,
};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend::{self, ReduceKind};
use crate::error::{value_err, Result};
use crate::tensor::{normalize_dim, DType, Dims, Tensor};
use smallvec::{smallvec, SmallVec};

pub enum ReduceOp {
    Sum { axes: Dims, keepdim: bool },
    /// The mean: one node (PyTorch's `MeanBackward`), the gradient `g / count` broadcast back.
    Mean { axes: Dims, keepdim: bool },
    /// max/min over all elements: ties share the gradient evenly.
    Extremum { kind: ReduceKind },
    /// The p-norm for finite p other than 0 and 1 (those are composites); the gradient is 0
    /// where the norm is 0, as in PyTorch.
    Norm { p: f64, axes: Dims, keepdim: bool },
    /// The number of non-zeros (`norm(p=0)`): a gradient of zeros.
    CountNonzero,
    /// The standard deviation; the gradient is 0 where it is 0 (a constant input), as in PyTorch.
    Std { axes: Dims, correction: f64, keepdim: bool },
    /// The product along `dim` (of the flattened input when None); the gradient is the
    /// product of the other elements, exact where some are 0.
    Prod { dim: Option<usize>, keepdim: bool },
}

/// Normalises `dims` (None or empty: all) into sorted unique axes.
pub fn reduce_axes(t: &Tensor, dims: Option<&[isize]>, op: &str) -> Result<Dims> {
    let mut axes: Dims = match dims {
        None | Some([]) => (0..t.ndim()).collect(),
        Some(d) => d.iter().map(|&d| normalize_dim(d, t.ndim(), op)).collect::<Result<_>>()?,
    };
    axes.sort_unstable();
    let before = axes.len();
    axes.dedup();
    if axes.len() != before {
        return Err(value_err!("{op}: a dimension appears more than once in {:?}", dims.unwrap_or(&[])));
    }
    if t.ndim() == 0 {
        axes.clear();
    }
    Ok(axes)
}

pub fn sum(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    let axes = reduce_axes(a, dims, "sum")?;
    // Sums of bool and int count in int64, as in PyTorch.
    let a = if a.dtype() == DType::Bool { super::cast(a, DType::I64)? } else { a.clone() };
    let out = backend::reduce(ReduceKind::Sum, &a, &axes, keepdim)?;
    record(super::Op::Reduce(ReduceOp::Sum { axes, keepdim }), &[&a], &out, |_| smallvec![]);
    Ok(out)
}

/// `sum(dtype=...)`: the input is cast to `dtype` first, then summed (PyTorch's order: the
/// int64 sum of [1.5, 2.7] is 3, not 4).
pub fn sum_as(a: &Tensor, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    match dtype {
        Some(d) if d != a.dtype() => sum(&cast(a, d)?, dims, keepdim),
        _ => sum(a, dims, keepdim),
    }
}

pub fn mean(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return Err(crate::error::dtype_err!(
            "mean: expected a float tensor, got {}; convert it with .float() first",
            a.dtype().name()
        ));
    }
    let axes = reduce_axes(a, dims, "mean")?;
    let s = sum(&a.detach(), dims, keepdim)?;
    let out = div(&s, &scalar_like(&s, reduced_count(a.shape(), &axes) as f64)?)?;
    record(super::Op::Reduce(ReduceOp::Mean { axes, keepdim }), &[a], &out, |_| smallvec![]);
    Ok(out)
}

/// How many elements of a `shape` tensor each output element of a reduction over `axes` takes
/// (0 for an empty input: its mean is NaN, as in PyTorch).
fn reduced_count(shape: &[usize], axes: &[usize]) -> usize {
    axes.iter().map(|&d| shape[d]).product()
}

/// `sum_to(g, shape)`: sums a broadcast gradient back down to `shape` (the engine's
/// un-broadcasting, done in this one place).
pub fn sum_to(g: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if g.shape() == shape {
        return Ok(g.clone());
    }
    let lead = g.ndim().checked_sub(shape.len()).ok_or_else(|| value_err!("sum_to: cannot sum {:?} to more dims {:?}", g.shape(), shape))?;
    let mut axes: SmallVec<[isize; 4]> = (0..lead as isize).collect();
    for (i, &d) in shape.iter().enumerate() {
        let gd = g.shape()[lead + i];
        if d == 1 && gd != 1 {
            axes.push((lead + i) as isize);
        } else if d != gd {
            return Err(value_err!("sum_to: shape {:?} does not broadcast to {:?}", shape, g.shape()));
        }
    }
    let s = sum(g, Some(&axes), true)?;
    reshape(&s, shape)
}

/// max/min over every element (a 0-dim result).
pub fn extremum_all(kind: ReduceKind, a: &Tensor) -> Result<Tensor> {
    let axes: Dims = (0..a.ndim()).collect();
    if a.numel() == 0 {
        return Err(value_err!("{}: the tensor is empty; there is no {} of zero elements", kind.name(), kind.name()));
    }
    let out = backend::reduce(kind, a, &axes, false)?;
    record(super::Op::Reduce(ReduceOp::Extremum { kind }), &[a], &out, |_| smallvec![Save::Input(a), Save::Output(0)]);
    Ok(out)
}

/// `max(dim)`/`min(dim)`: values and int64 indices. Values are a gather at the indices, so
/// the gradient is routed to the winning element ("max routes").
pub fn extremum_dim(kind: ReduceKind, a: &Tensor, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let d = normalize_dim(dim, a.ndim(), kind.name())?;
    let idx = backend::arg_reduce(kind, a, d, true)?;
    let values = gather(a, dim, &idx)?;
    if keepdim || a.ndim() == 0 {
        Ok((values, idx))
    } else {
        Ok((super::squeeze_dim(&values, dim)?, super::squeeze_dim(&idx, dim)?))
    }
}

pub fn argmax(a: &Tensor, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
    arg_extremum(ReduceKind::Max, a, dim, keepdim)
}

pub fn argmin(a: &Tensor, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
    arg_extremum(ReduceKind::Min, a, dim, keepdim)
}

fn arg_extremum(kind: ReduceKind, a: &Tensor, dim: Option<isize>, keepdim: bool) -> Result<Tensor> {
    match dim {
        Some(d) => backend::arg_reduce(kind, a, normalize_dim(d, a.ndim(), "argmax")?, keepdim),
        None => {
            let flat = reshape(a, &[a.numel()])?;
            let i = backend::arg_reduce(kind, &flat, 0, false)?;
            if keepdim {
                reshape(&i, &vec![1; a.ndim()])
            } else {
                Ok(i)
            }
        }
    }
}

/// `log(sum(exp(a)))` along `dims`, shifted by the (constant) max for stability.
pub fn logsumexp(a: &Tensor, dims: &[isize], keepdim: bool) -> Result<Tensor> {
    let axes = reduce_axes(a, Some(dims), "logsumexp")?;
    let m = backend::reduce(ReduceKind::Max, &a.detach(), &axes, true)?;
    let finite = super::where_(&super::isfinite(&m)?, &m, &scalar_like(&m, 0.0)?)?;
    let s = sum(&exp(&sub(a, &finite)?)?, Some(dims), true)?;
    let out = super::add(&log(&s)?, &finite)?;
    if keepdim {
        Ok(out)
    } else {
        let shape: Dims = a.shape().iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect();
        reshape(&out, &shape)
    }
}

fn check_float(a: &Tensor, op: &str) -> Result<()> {
    if !a.dtype().is_float() {
        return Err(crate::error::dtype_err!("{op}: expected a float tensor, got {}; convert it with .float() first", a.dtype().name()));
    }
    Ok(())
}

/// Variance with Bessel's `correction` (1 by default, as in PyTorch).
pub fn var(a: &Tensor, dims: Option<&[isize]>, correction: f64, keepdim: bool) -> Result<Tensor> {
    check_float(a, "var")?;
    let axes = reduce_axes(a, dims, "var")?;
    let n = reduced_count(a.shape(), &axes);
    let mu = mean(a, dims, true)?;
    let d = sub(a, &mu)?;
    let ss = sum(&mul(&d, &d)?, dims, keepdim)?;
    div(&ss, &scalar_like(&ss, (n as f64 - correction).max(0.0))?)
}

/// Standard deviation: `sqrt(var)`, one node whose gradient is 0 at a constant input (where
/// the chain rule through `sqrt` would give 0 / 0).
pub fn std(a: &Tensor, dims: Option<&[isize]>, correction: f64, keepdim: bool) -> Result<Tensor> {
    check_float(a, "std")?;
    let axes = reduce_axes(a, dims, "std")?;
    let out = sqrt(&var(&a.detach(), dims, correction, keepdim)?)?;
    record(super::Op::Reduce(ReduceOp::Std { axes, correction, keepdim }), &[a], &out, |_| smallvec![Save::Input(a), Save::Output(0)]);
    Ok(out)
}

/// `all`: whether every element (along `dims`) is non-zero, as bool.
pub fn all(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    let zeros = cast(&logical_not(&cast(a, DType::Bool)?)?, DType::I64)?;
    let s = sum(&zeros, dims, keepdim)?;
    eq(&s, &scalar_like(&s, 0.0)?)
}

/// `any`: whether some element (along `dims`) is non-zero, as bool.
pub fn any(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    let nonzeros = cast(&cast(a, DType::Bool)?, DType::I64)?;
    let s = sum(&nonzeros, dims, keepdim)?;
    super::gt(&s, &scalar_like(&s, 0.0)?)
}

/// `amax`/`amin`: max/min over several dims (all when `dims` is None); the gradient is spread
/// evenly over ties (PyTorch's amax rule).
pub fn extremum_dims(kind: ReduceKind, t: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    if dims.is_none() && !keepdim {
        return extremum_all(kind, t);
    }
    let axes = reduce_axes(t, dims, kind.name())?;
    let all_dims: Vec<isize> = axes.iter().map(|&d| d as isize).collect();
    let m = backend::reduce(kind, &t.detach(), &axes, true)?;
    let hits = cast(&eq(t, &m)?, t.dtype())?;
    let count = sum(&hits, Some(&all_dims), true)?;
    let picked = div(&sum(&mul(t, &hits)?, Some(&all_dims), true)?, &count)?;
    if keepdim {
        Ok(picked)
    } else {
        reshape(&picked, &kept_shape(t.shape(), &axes))
    }
}

/// `shape` without the reduced `axes`.
fn kept_shape(shape: &[usize], axes: &[usize]) -> Dims {
    shape.iter().enumerate().filter(|(i, _)| !axes.contains(i)).map(|(_, &d)| d).collect()
}

/// Vector p-norm over `dims` (all when None), PyTorch's `Tensor.norm`: p = 2 by default (the
/// Frobenius norm of a matrix), 0 (the count of non-zeros), 1, inf, -inf, or any other p
/// (`sum(|x|^p)^(1/p)`). The gradient at an all-zero input is 0.
pub fn norm(a: &Tensor, p: f64, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    check_float(a, "norm")?;
    if p.is_nan() {
        return Err(value_err!("norm: the order p must be a number, got nan"));
    }
    if p == 1.0 {
        return sum(&abs(a)?, dims, keepdim);
    }
    if p.is_infinite() {
        let kind = if p > 0.0 { ReduceKind::Max } else { ReduceKind::Min };
        return extremum_dims(kind, &abs(a)?, dims, keepdim);
    }
    let axes = reduce_axes(a, dims, "norm")?;
    let x = a.detach();
    if p == 0.0 {
        let out = sum(&cast(&ne(&x, &scalar_like(&x, 0.0)?)?, a.dtype())?, dims, keepdim)?;
        record(super::Op::Reduce(ReduceOp::CountNonzero), &[a], &out, |_| smallvec![]);
        return Ok(out);
    }
    let out = if p == 2.0 {
        sqrt(&sum(&mul(&x, &x)?, dims, keepdim)?)?
    } else {
        pow_scalar(&sum(&pow_scalar(&abs(&x)?, p)?, dims, keepdim)?, 1.0 / p)?
    };
    record(super::Op::Reduce(ReduceOp::Norm { p, axes, keepdim }), &[a], &out, |_| smallvec![Save::Input(a), Save::Output(0)]);
    Ok(out)
}

/// A reduction's output (or its gradient) with the reduced axes back as size-1 dims, so it
/// broadcasts against the input.
fn unreduce(t: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let mut t = t.clone();
    if !keepdim {
        for &a in axes {
            t = unsqueeze(&t, a as isize)?;
        }
    }
    Ok(t)
}

/// `t` with its zeros replaced by ones: a denominator that is safe where the numerator is 0 too.
fn nonzero_or_one(t: &Tensor) -> Result<Tensor> {
    where_(&eq(t, &scalar_like(t, 0.0)?)?, &scalar_like(t, 1.0)?, t)
}

impl ReduceOp {
    pub fn name(&self) -> &'static str {
        match self {
            ReduceOp::Sum { .. } => "sum",
            ReduceOp::Mean { .. } => "mean",
            ReduceOp::Extremum { kind } => kind.name(),
            ReduceOp::Norm { .. } | ReduceOp::CountNonzero => "norm",
            ReduceOp::Std { .. } => "std",
            ReduceOp::Prod { .. } => "prod",
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            ReduceOp::Sum { axes, keepdim } | ReduceOp::Mean { axes, keepdim } => {
                vec![("dim", ints(axes)), ("keepdim", OpParam::Bool(*keepdim))]
            }
            ReduceOp::Norm { p, axes, keepdim } => {
                vec![("p", OpParam::Float(*p)), ("dim", ints(axes)), ("keepdim", OpParam::Bool(*keepdim))]
            }
            ReduceOp::CountNonzero => vec![("p", OpParam::Float(0.0))],
            ReduceOp::Std { axes, correction, keepdim } => {
                vec![("dim", ints(axes)), ("correction", OpParam::Float(*correction)), ("keepdim", OpParam::Bool(*keepdim))]
            }
            ReduceOp::Prod { dim, keepdim } => {
                let mut p = vec![("keepdim", OpParam::Bool(*keepdim))];
                if let Some(d) = dim {
                    p.insert(0, ("dim", OpParam::Int(*d as i64)));
                }
                p
            }
            ReduceOp::Extremum { .. } => OpParams::new(),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        let in_shape = &ctx.inputs[0].shape;
        match self {
            // The sum's local gradient is 1 everywhere: broadcast the upstream gradient back.
            ReduceOp::Sum { axes, keepdim } => grads(ctx, [&|| expand(&unreduce(g, axes, *keepdim)?, in_shape)]),
            ReduceOp::Mean { axes, keepdim } => grads(ctx, [&|| {
                let share = div(g, &scalar_like(g, reduced_count(in_shape, axes) as f64)?)?;
                expand(&unreduce(&share, axes, *keepdim)?, in_shape)
            }]),
            ReduceOp::Extremum { .. } => {
                let (a, out) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| {
                    let hits = super::cast(&eq(a, out)?, g.dtype())?;
                    let count = sum(&hits, None, false)?;
                    mul(&hits, &div(g, &count)?)
                }])
            }
            // d|x|_p / dx = sgn(x) |x|^(p-1) / |x|_p^(p-1), and 0 where the norm is 0, as in
            // PyTorch. For p > 0 a zero norm means every x is 0, so sgn(x) = 0 gives that 0
            // once the zeros in the powers are replaced (no 0 / 0, no 0 * inf).
            ReduceOp::Norm { p, axes, keepdim } => {
                let (x, out) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| {
                    let g = unreduce(g, axes, *keepdim)?;
                    let norm = unreduce(out, axes, *keepdim)?;
                    let safe_norm = nonzero_or_one(&norm)?;
                    if *p == 2.0 {
                        return div(&mul(&g, x)?, &safe_norm);
                    }
                    let scaled = pow_scalar(&nonzero_or_one(&abs(x)?)?, p - 1.0)?;
                    let grad = div(&mul(&mul(&g, &sign(x)?)?, &scaled)?, &pow_scalar(&safe_norm, p - 1.0)?)?;
                    if *p > 0.0 {
                        return Ok(grad);
                    }
                    // p < 0: one zero element makes the norm 0 while the others are not.
                    where_(&eq(&norm, &scalar_like(&norm, 0.0)?)?, &scalar_like(&grad, 0.0)?, &grad)
                }])
            }
            ReduceOp::CountNonzero => grads(ctx, [&|| backend::full(in_shape, 0.0, ctx.inputs[0].dtype, ctx.inputs[0].device)]),
            // d std / dx = (x - mean) / ((n - correction) std); 0 where std is 0 (then x - mean is 0).
            ReduceOp::Std { axes, correction, keepdim } => {
                let (x, out) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| {
                    let n: usize = axes.iter().map(|&d| in_shape[d]).product();
                    let dims: Vec<isize> = axes.iter().map(|&d| d as isize).collect();
                    let centred = sub(x, &mean(x, Some(&dims), true)?)?;
                    let out = nonzero_or_one(&unreduce(out, axes, *keepdim)?)?;
                    let denominator = mul(&out, &scalar_like(&out, (n as f64 - correction).max(0.0))?)?;
                    mul(&unreduce(g, axes, *keepdim)?, &div(&centred, &denominator)?)
                }])
            }
            ReduceOp::Prod { dim, keepdim } => {
                let x = ctx.saved(0)?;
                grads(ctx, [&|| match dim {
                    Some(d) => super::prod_backward(&unreduce(g, &[*d], *keepdim)?, x, *d),
                    None => {
                        let flat = reshape(x, &[x.numel()])?;
                        reshape(&super::prod_backward(&reshape(g, &[1])?, &flat, 0)?, in_shape)
                    }
                }])
            }
        }
    }
}

/// `prod(dim)` (over every element when None; a 0-dim result unless `keepdim`). Bool and
/// int inputs multiply in int64, as in PyTorch.
pub fn prod(a: &Tensor, dim: Option<isize>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    let a = match dtype {
        Some(d) if d != a.dtype() => cast(a, d)?,
        Some(_) => a.clone(),
        None if !a.dtype().is_float() && a.dtype() != DType::I64 => cast(a, DType::I64)?,
        None => a.clone(),
    };
    let d = match dim {
        Some(d) if a.ndim() == 0 => {
            normalize_dim(d, 1, "prod")?;
            None
        }
        Some(d) => Some(normalize_dim(d, a.ndim(), "prod")?),
        None => None,
    };
    let axes: Dims = match d {
        Some(d) => smallvec![d],
        None => (0..a.ndim()).collect(),
    };
    let out = backend::reduce(ReduceKind::Prod, &a, &axes, keepdim && (d.is_some() || a.ndim() > 0))?;
    record(super::Op::Reduce(ReduceOp::Prod { dim: d, keepdim }), &[&a], &out, |_| smallvec![Save::Input(&a)]);
    Ok(out)
}

/// The number of non-zero elements along `dims` (all when None), as int64.
pub fn count_nonzero(a: &Tensor, dims: Option<&[isize]>) -> Result<Tensor> {
    let a = a.detach();
    let nonzero = if a.dtype() == DType::Bool { a.clone() } else { ne(&a, &scalar_like(&a, 0.0)?)? };
    sum(&cast(&nonzero, DType::I64)?, dims, false)
}

/// `a` with NaN replaced by 0 (the input of `nansum`/`nanmean`), and whether it had any.
fn nan_as_zero(a: &Tensor) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return Ok(a.clone());
    }
    let nan = super::isnan(&a.detach())?;
    where_(&nan, &scalar_like(a, 0.0)?, a)
}

/// The sum ignoring NaN; the gradient is 0 at the NaNs.
pub fn nansum(a: &Tensor, dims: Option<&[isize]>, keepdim: bool, dtype: Option<DType>) -> Result<Tensor> {
    sum_as(&nan_as_zero(a)?, dims, keepdim, dtype)
}

/// The mean of the non-NaN elements (NaN where there are none).
pub fn nanmean(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    check_float(a, "nanmean")?;
    let kept = logical_not(&super::isnan(&a.detach())?)?;
    let count = sum(&cast(&kept, a.dtype())?, dims, keepdim)?;
    div(&nansum(a, dims, keepdim, None)?, &count)
}

/// `(amin, amax)` along `dims` (all when None).
pub fn aminmax(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<(Tensor, Tensor)> {
    if a.numel() == 0 {
        return Err(value_err!("aminmax: the tensor is empty; there is no min or max of zero elements"));
    }
    if dims.is_none() && keepdim {
        let all: Vec<isize> = (0..a.ndim() as isize).collect();
        return Ok((extremum_dims(ReduceKind::Min, a, Some(&all), true)?, extremum_dims(ReduceKind::Max, a, Some(&all), true)?));
    }
    Ok((extremum_dims(ReduceKind::Min, a, dims, keepdim)?, extremum_dims(ReduceKind::Max, a, dims, keepdim)?))
}
