//! Counting into bins: `bincount`, `histc`, `histogram`. Each element's bin is computed where
//! the data lives and the counts are a scatter-add; reading the data's range (when the
//! caller gives none) or the largest label is the one sync.

use super::{cast, ge, le, logical_and, scalar_like, sub, where_};
use crate::backend;
use crate::error::{dtype_err, shape_err, value_err, Result};
use crate::tensor::{DType, Tensor};

/// `bincount(x, weights, minlength)`: how often each non-negative int in the 1-D `x` occurs
/// (or the sum of its weights), over `max(x.max() + 1, minlength)` bins.
pub fn bincount(x: &Tensor, weights: Option<&Tensor>, minlength: i64) -> Result<Tensor> {
    if x.ndim() != 1 {
        return Err(shape_err!("bincount: expected a 1-D tensor, got shape {:?}", x.shape()));
    }
    if x.dtype() != DType::I64 && x.dtype() != DType::Bool {
        return Err(dtype_err!("bincount: expected an integer tensor, got {}", x.dtype().name()));
    }
    if minlength < 0 {
        return Err(value_err!("bincount: minlength must be non-negative, got {minlength}"));
    }
    let x = cast(&x.detach(), DType::I64)?;
    if let Some(w) = weights {
        if w.shape() != x.shape() {
            return Err(shape_err!("bincount: weights of shape {:?} do not match the input's {:?}", w.shape(), x.shape()));
        }
    }
    let size = if x.numel() == 0 {
        minlength as usize
    } else {
        let lo = backend::item(&backend::reduce(backend::ReduceKind::Min, &x, &[0], false)?)?;
        if lo < 0.0 {
            return Err(value_err!("bincount: the input must hold non-negative integers, found {lo}"));
        }
        let hi = backend::item(&backend::reduce(backend::ReduceKind::Max, &x, &[0], false)?)?;
        (hi as usize + 1).max(minlength as usize)
    };
    let values = match weights {
        // Integer weights sum in float64, as PyTorch (float32 on the GPU, which has no float64).
        Some(w) if !w.dtype().is_float() => {
            cast(&w.detach(), if w.device() == crate::tensor::Device::Cpu { DType::F64 } else { DType::F32 })?
        }
        Some(w) => w.detach(),
        None => backend::full(x.shape(), 1.0, DType::I64, x.device())?,
    };
    super::bincount_into(&x, &values, size)
}

/// The range `[lo, hi]` of the finite data when the caller gave none (`lo == hi`), widened
/// by one each way when the data is constant (PyTorch's rule).
fn data_range(x: &Tensor, lo: f64, hi: f64, widen: f64) -> Result<(f64, f64)> {
    let (mut lo, mut hi) = (lo, hi);
    if lo == hi && x.numel() > 0 {
        let finite = super::isfinite(x)?;
        let axes: Vec<usize> = (0..x.ndim()).collect();
        let big = scalar_like(x, f64::INFINITY)?;
        lo = backend::item(&backend::reduce(backend::ReduceKind::Min, &where_(&finite, x, &big)?, &axes, false)?)?;
        hi = backend::item(&backend::reduce(backend::ReduceKind::Max, &where_(&finite, x, &super::neg(&big)?)?, &axes, false)?)?;
        if !lo.is_finite() {
            (lo, hi) = (0.0, 0.0);
        }
    }
    if lo == hi {
        lo -= widen;
        hi += widen;
    }
    if !(lo < hi) || !lo.is_finite() || !hi.is_finite() {
        return Err(value_err!("histogram: the range [{lo}, {hi}] must be finite with min < max"));
    }
    Ok((lo, hi))
}

/// Counts (or sums of `weight`) of `x` in `bins` equal bins over `[lo, hi]`; elements outside
/// (and NaN) are left out, `hi` itself falls in the last bin.
fn even_bins(x: &Tensor, bins: usize, lo: f64, hi: f64, weight: Option<&Tensor>) -> Result<Tensor> {
    let x = x.detach();
    let flat = super::reshape(&x, &[x.numel()])?;
    let scaled = super::mul(&super::div(&sub(&flat, &scalar_like(&flat, lo)?)?, &scalar_like(&flat, hi - lo)?)?, &scalar_like(&flat, bins as f64)?)?;
    let bin = super::clamp(&cast(&super::unary_op(backend::UnaryKind::Floor, &scaled)?, DType::I64)?, Some(0.0), Some(bins as f64 - 1.0))?;
    let inside = logical_and(&ge(&flat, &scalar_like(&flat, lo)?)?, &le(&flat, &scalar_like(&flat, hi)?)?)?;
    let w = match weight {
        Some(w) => super::reshape(&cast(&w.detach(), x.dtype())?, &[x.numel()])?,
        None => backend::full(&[x.numel()], 1.0, x.dtype(), x.device())?,
    };
    let w = where_(&inside, &w, &scalar_like(&w, 0.0)?)?;
    let bin = where_(&inside, &bin, &scalar_like(&bin, 0.0)?)?;
    super::bincount_into(&bin, &w, bins)
}

fn check_float(x: &Tensor, op: &str) -> Result<()> {
    if !x.dtype().is_float() {
        return Err(dtype_err!("{op}: expected a float tensor, got {}; convert it with .float() first", x.dtype().name()));
    }
    Ok(())
}

/// `histc(x, bins, min, max)`: a histogram over `[min, max]` (the data's range when both are 0).
pub fn histc(x: &Tensor, bins: i64, min: f64, max: f64) -> Result<Tensor> {
    check_float(x, "histc")?;
    if bins <= 0 {
        return Err(value_err!("histc: bins must be positive, got {bins}"));
    }
    if min > max {
        return Err(value_err!("histc: max must be larger than min, got min={min}, max={max}"));
    }
    let (lo, hi) = data_range(x, min, max, 1.0)?;
    even_bins(x, bins as usize, lo, hi, None)
}

/// How `histogram` is binned: a count of equal bins (over a range) or the edges themselves.
pub enum Bins<'a> {
    Count(i64, Option<(f64, f64)>),
    Edges(&'a Tensor),
}

/// `histogram(x, bins, range, weight, density)`: `(hist, bin_edges)`.
pub fn histogram(x: &Tensor, bins: Bins, weight: Option<&Tensor>, density: bool) -> Result<(Tensor, Tensor)> {
    check_float(x, "histogram")?;
    if let Some(w) = weight {
        if w.shape() != x.shape() {
            return Err(shape_err!("histogram: weight of shape {:?} does not match the input's {:?}", w.shape(), x.shape()));
        }
    }
    let (hist, edges) = match bins {
        Bins::Count(n, range) => {
            if n <= 0 {
                return Err(value_err!("histogram: bins must be positive, got {n}"));
            }
            let (lo, hi) = match range {
                Some((lo, hi)) if lo > hi => return Err(value_err!("histogram: the range max must be >= min, got ({lo}, {hi})")),
                Some((lo, hi)) => data_range(x, lo, hi, 0.5)?,
                None => data_range(x, 0.0, 0.0, 0.5)?,
            };
            let edges = super::linspace(lo, hi, n as usize + 1, x.dtype(), x.device())?;
            (even_bins(x, n as usize, lo, hi, weight)?, edges)
        }
        Bins::Edges(e) => {
            if e.ndim() != 1 || e.numel() < 2 {
                return Err(shape_err!("histogram: bin edges must be a 1-D tensor of at least 2 edges, got shape {:?}", e.shape()));
            }
            let e = cast(&e.detach(), x.dtype())?;
            (edge_bins(x, &e, weight)?, e)
        }
    };
    if !density {
        return Ok((hist, edges));
    }
    let m = edges.numel() as i64;
    let widths = sub(&super::narrow(&edges, 0, 1, m - 1)?, &super::narrow(&edges, 0, 0, m - 1)?)?;
    let total = super::sum(&hist, None, false)?;
    Ok((super::div(&hist, &super::mul(&widths, &total)?)?, edges))
}

/// Counts of `x` between given (increasing) edges: an element's bin is the number of inner
/// edges at or below it; the last edge closes the last bin.
fn edge_bins(x: &Tensor, edges: &Tensor, weight: Option<&Tensor>) -> Result<Tensor> {
    let x = x.detach();
    let n = x.numel();
    let m = edges.numel();
    let flat = super::reshape(&x, &[n, 1])?;
    let inner = super::reshape(&super::narrow(edges, 0, 1, m as i64 - 2)?, &[1, m - 2])?;
    let bin = super::sum(&cast(&ge(&flat, &inner)?, DType::I64)?, Some(&[1]), false)?;
    let first = super::narrow(edges, 0, 0, 1)?;
    let last = super::narrow(edges, 0, m as i64 - 1, 1)?;
    let flat = super::reshape(&x, &[n])?;
    let inside = logical_and(&ge(&flat, &first)?, &le(&flat, &last)?)?;
    let w = match weight {
        Some(w) => super::reshape(&cast(&w.detach(), x.dtype())?, &[n])?,
        None => backend::full(&[n], 1.0, x.dtype(), x.device())?,
    };
    let w = where_(&inside, &w, &scalar_like(&w, 0.0)?)?;
    let bin = where_(&inside, &bin, &scalar_like(&bin, 0.0)?)?;
    super::bincount_into(&bin, &w, m - 1)
}
