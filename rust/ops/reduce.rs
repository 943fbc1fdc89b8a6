//! Reductions: sum, mean, max/min (over everything, or along a dim with indices), argmax,
//! logsumexp, var/std. Their vjps broadcast the gradient back (sum), or route it (max).

use super::{div, eq, exp, expand, gather, grads, ints, log, mul, reshape, scalar_like, sub, unsqueeze, Grads, OpParam, OpParams};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend::{self, ReduceKind};
use crate::error::{value_err, Result};
use crate::tensor::{normalize_dim, DType, Dims, Tensor};
use smallvec::{smallvec, SmallVec};

pub enum ReduceOp {
    Sum { axes: Dims, keepdim: bool },
    /// max/min over all elements: ties share the gradient evenly.
    Extremum { kind: ReduceKind },
}

/// Normalises `dims` (None: all) into sorted unique axes.
pub fn reduce_axes(t: &Tensor, dims: Option<&[isize]>, op: &str) -> Result<Dims> {
    let mut axes: Dims = match dims {
        None => (0..t.ndim()).collect(),
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

pub fn mean(a: &Tensor, dims: Option<&[isize]>, keepdim: bool) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return Err(crate::error::dtype_err!(
            "mean: expected a float tensor, got {}; convert it with .float() first",
            a.dtype().name()
        ));
    }
    let axes = reduce_axes(a, dims, "mean")?;
    let count: usize = axes.iter().map(|&d| a.shape()[d]).product();
    let s = sum(a, dims, keepdim)?;
    div(&s, &scalar_like(&s, count as f64)?)
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

/// Variance with Bessel's `correction` (1 by default, as in PyTorch).
pub fn var(a: &Tensor, dims: Option<&[isize]>, correction: f64, keepdim: bool) -> Result<Tensor> {
    let axes = reduce_axes(a, dims, "var")?;
    let n: usize = axes.iter().map(|&d| a.shape()[d]).product();
    let mu = mean(a, dims, true)?;
    let d = sub(a, &mu)?;
    let ss = sum(&mul(&d, &d)?, dims, keepdim)?;
    div(&ss, &scalar_like(&ss, (n as f64 - correction).max(0.0))?)
}

impl ReduceOp {
    pub fn name(&self) -> &'static str {
        match self {
            ReduceOp::Sum { .. } => "sum",
            ReduceOp::Extremum { kind } => kind.name(),
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            ReduceOp::Sum { axes, keepdim } => vec![("dim", ints(axes)), ("keepdim", OpParam::Bool(*keepdim))],
            ReduceOp::Extremum { .. } => OpParams::new(),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        let in_shape = &ctx.inputs[0].shape;
        match self {
            // The sum's local gradient is 1 everywhere: broadcast the upstream gradient back.
            ReduceOp::Sum { axes, keepdim } => grads(ctx, [&|| {
                let mut g = g.clone();
                if !keepdim {
                    for &a in axes.iter() {
                        g = unsqueeze(&g, a as isize)?;
                    }
                }
                expand(&g, in_shape)
            }]),
            ReduceOp::Extremum { .. } => {
                let (a, out) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| {
                    let hits = super::cast(&eq(a, out)?, g.dtype())?;
                    let count = sum(&hits, None, false)?;
                    mul(&hits, &div(g, &count)?)
                }])
            }
        }
    }
}
