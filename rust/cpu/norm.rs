//! Row normalisation, the core of batch and layer norm: each row of a 2-D tensor shifted to
//! mean 0 and scaled to variance 1. The statistics take one pass over a row (sums shifted by
//! the row's first element, so a large mean does not cancel the variance away; accumulated in
//! f64), the gradient one more.

use crate::error::{dtype_err, Result};
use crate::tensor::{DType, Float, IntoStorageVec, Tensor};
use rayon::prelude::*;

/// `(y, rstd)`: y = (x - mean) * rstd per row, rstd = 1 / sqrt(var + eps) (biased variance),
/// for `x` of shape `[rows, cols]`; `rstd` has shape `[rows]`.
pub fn norm_rows(x: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    match x.dtype() {
        DType::F32 => forward::<f32>(x, eps),
        DType::F64 => forward::<f64>(x, eps),
        other => Err(dtype_err!("norm: expected a float tensor, got {}", other.name())),
    }
}

/// dx = rstd * (g - mean(g) - y * mean(g * y)) per row: the vjp of `norm_rows` given its
/// output `y` and `rstd`.
pub fn norm_rows_backward(g: &Tensor, y: &Tensor, rstd: &Tensor) -> Result<Tensor> {
    match y.dtype() {
        DType::F32 => backward::<f32>(g, y, rstd),
        DType::F64 => backward::<f64>(g, y, rstd),
        other => Err(dtype_err!("norm backward: expected a float tensor, got {}", other.name())),
    }
}

fn contiguous(t: &Tensor) -> Result<Tensor> {
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        super::copy::cast(t, t.dtype())
    }
}

fn values<'a, T: Float>(t: &'a Tensor, op: &str) -> Result<&'a [T]> {
    let off = t.layout().offset();
    Ok(&t.cpu_storage(op)?.as_slice::<T>()[off..off + t.numel()])
}

/// `(sum of a(x, y), sum of b(a(x, y), y))` over a row pair, in f64: `LANES` independent
/// partial sums, so the additions do not wait on each other and vectorise (one running sum
/// made every element wait for the previous addition: 4 cycles each).
#[inline(always)]
fn lane_sums<T: Float + Into<f64>>(xs: &[T], ys: &[T], a: impl Fn(T, T) -> f64, b: impl Fn(f64, T) -> f64) -> (f64, f64) {
    const LANES: usize = 8;
    let (mut sa, mut sb) = ([0.0f64; LANES], [0.0f64; LANES]);
    let mut xc = xs.chunks_exact(LANES);
    let mut yc = ys.chunks_exact(LANES);
    for (x, y) in (&mut xc).zip(&mut yc) {
        for k in 0..LANES {
            let v = a(x[k], y[k]);
            sa[k] += v;
            sb[k] += b(v, y[k]);
        }
    }
    let (mut ta, mut tb) = (sa.iter().sum::<f64>(), sb.iter().sum::<f64>());
    for (&x, &y) in xc.remainder().iter().zip(yc.remainder()) {
        let v = a(x, y);
        ta += v;
        tb += b(v, y);
    }
    (ta, tb)
}

fn forward<T: Float + IntoStorageVec + Into<f64>>(x: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    let x = contiguous(x)?;
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let xs = values::<T>(&x, "norm")?;
    let mut out = vec![T::ZERO; xs.len()];
    let mut rstds = vec![T::ZERO; rows];
    if cols == 0 {
        return Ok((Tensor::from_vec(out, x.shape())?, Tensor::from_vec(rstds, &[rows])?));
    }
    let row = |(xr, (yr, r)): (&[T], (&mut [T], &mut T))| {
        let shift: f64 = xr[0].into();
        let (s, ss) = lane_sums(xr, xr, |v, _| v.into() - shift, |d, _| d * d);
        let n = cols as f64;
        let mean_d = s / n;
        let var = (ss / n - mean_d * mean_d).max(0.0);
        let rstd = 1.0 / (var + eps).sqrt();
        let mean = shift + mean_d;
        for (o, &v) in yr.iter_mut().zip(xr) {
            *o = T::from_f64c((v.into() - mean) * rstd);
        }
        *r = T::from_f64c(rstd);
    };
    if super::parallel(xs.len()) {
        xs.par_chunks(cols).zip(out.par_chunks_mut(cols).zip(rstds.par_iter_mut())).for_each(row);
    } else {
        xs.chunks(cols).zip(out.chunks_mut(cols).zip(rstds.iter_mut())).for_each(row);
    }
    Ok((Tensor::from_vec(out, x.shape())?, Tensor::from_vec(rstds, &[rows])?))
}

fn backward<T: Float + IntoStorageVec + Into<f64>>(g: &Tensor, y: &Tensor, rstd: &Tensor) -> Result<Tensor> {
    let (g, y, rstd) = (contiguous(g)?, contiguous(y)?, contiguous(rstd)?);
    let cols = y.shape()[1];
    let (gs, ys, rs) = (values::<T>(&g, "norm backward")?, values::<T>(&y, "norm backward")?, values::<T>(&rstd, "norm backward")?);
    let mut out = vec![T::ZERO; ys.len()];
    if cols == 0 {
        return Tensor::from_vec(out, y.shape());
    }
    let row = |((o, (gr, yr)), &r): ((&mut [T], (&[T], &[T])), &T)| {
        let (sg, sgy) = lane_sums(gr, yr, |g, _| g.into(), |g, y| g * y.into());
        let n = cols as f64;
        let (mg, mgy, r): (f64, f64, f64) = (sg / n, sgy / n, r.into());
        for (o, (&gv, &yv)) in o.iter_mut().zip(gr.iter().zip(yr)) {
            *o = T::from_f64c(r * (gv.into() - mg - yv.into() * mgy));
        }
    };
    if super::parallel(ys.len()) {
        out.par_chunks_mut(cols).zip(gs.par_chunks(cols).zip(ys.par_chunks(cols))).zip(rs.par_iter()).for_each(row);
    } else {
        out.chunks_mut(cols).zip(gs.chunks(cols).zip(ys.chunks(cols))).zip(rs.iter()).for_each(row);
    }
    Tensor::from_vec(out, y.shape())
}
