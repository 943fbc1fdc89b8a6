//! Comparisons and value cleanup: `isclose`, `allclose`, `equal`, `isinf`, `isposinf`,
//! `isneginf`, `nan_to_num`, and `clamp` with tensor bounds, each a composite of elementwise
//! ops (so gradients follow from theirs).

use super::{abs, add, eq, le, logical_and, logical_or, mul, scalar_like, sub, where_};
use crate::backend;
use crate::error::{value_err, Result};
use crate::tensor::{DType, Tensor};

/// `|a - b| <= atol + rtol * |b|` elementwise (broadcast), or both equal (infinities
/// included), or both NaN when `equal_nan`.
pub fn isclose(a: &Tensor, b: &Tensor, rtol: f64, atol: f64, equal_nan: bool) -> Result<Tensor> {
    if rtol < 0.0 || atol < 0.0 {
        return Err(value_err!("isclose: rtol and atol must be non-negative, got rtol={rtol} and atol={atol}"));
    }
    let (a, b) = (a.detach(), b.detach());
    let same = eq(&a, &b)?;
    if !a.dtype().is_float() && !b.dtype().is_float() && rtol == 0.0 && atol == 0.0 {
        return Ok(same);
    }
    let error = abs(&sub(&a, &b)?)?;
    let allowed = add(&scalar_like(&error, atol)?, &mul(&scalar_like(&error, rtol)?, &abs(&b)?)?)?;
    let close = logical_and(&super::isfinite(&error)?, &le(&error, &allowed)?)?;
    let mut out = logical_or(&same, &close)?;
    if equal_nan {
        out = logical_or(&out, &logical_and(&isnan_any(&a)?, &isnan_any(&b)?)?)?;
    }
    Ok(out)
}

fn isnan_any(t: &Tensor) -> Result<Tensor> {
    if t.dtype().is_float() {
        super::isnan(t)
    } else {
        backend::full(t.shape(), 0.0, DType::Bool, t.device())
    }
}

/// Whether every element of `a` and `b` is close (`isclose`; shapes broadcast).
pub fn allclose(a: &Tensor, b: &Tensor, rtol: f64, atol: f64, equal_nan: bool) -> Result<bool> {
    let close = isclose(a, b, rtol, atol, equal_nan)?;
    Ok(backend::item(&super::all(&close, None, false)?)? != 0.0)
}

/// Whether `a` and `b` have the same shape and the same values (NaN is never equal).
pub fn equal(a: &Tensor, b: &Tensor) -> Result<bool> {
    backend::same_device("equal", &[a, b])?;
    if a.shape() != b.shape() {
        return Ok(false);
    }
    if a.numel() == 0 {
        return Ok(true);
    }
    Ok(backend::item(&super::all(&eq(&a.detach(), &b.detach())?, None, false)?)? != 0.0)
}

/// `a == value` for float `a`; all false for integer and bool tensors (they hold no infinity).
fn equals_infinity(a: &Tensor, value: f64) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return backend::full(a.shape(), 0.0, DType::Bool, a.device());
    }
    let a = a.detach();
    eq(&a, &scalar_like(&a, value)?)
}

pub fn isinf(a: &Tensor) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return equals_infinity(a, f64::INFINITY);
    }
    equals_infinity(&abs(&a.detach())?, f64::INFINITY)
}

pub fn isposinf(a: &Tensor) -> Result<Tensor> {
    equals_infinity(a, f64::INFINITY)
}

pub fn isneginf(a: &Tensor) -> Result<Tensor> {
    equals_infinity(a, f64::NEG_INFINITY)
}

/// NaN, +inf and -inf replaced by `nan`, `posinf` and `neginf` (by default 0 and the
/// dtype's largest and lowest finite values); the gradient passes where `a` is finite.
pub fn nan_to_num(a: &Tensor, nan: Option<f64>, posinf: Option<f64>, neginf: Option<f64>) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return super::clone(a);
    }
    let big = if a.dtype() == DType::F32 { f32::MAX as f64 } else { f64::MAX };
    let fill = |v: f64| scalar_like(a, v);
    let out = where_(&super::isnan(&a.detach())?, &fill(nan.unwrap_or(0.0))?, a)?;
    let out = where_(&isposinf(a)?, &fill(posinf.unwrap_or(big))?, &out)?;
    where_(&isneginf(a)?, &fill(neginf.unwrap_or(-big))?, &out)
}

/// `clamp` with tensor (or mixed) bounds: `minimum(maximum(a, min), max)`, broadcast; with
/// PyTorch's gradients (to `a` inside the bounds, to a bound where it wins, split at ties).
pub fn clamp_tensor(a: &Tensor, min: Option<&Tensor>, max: Option<&Tensor>) -> Result<Tensor> {
    if min.is_none() && max.is_none() {
        return Err(value_err!("clamp: at least one of min and max must be given"));
    }
    let mut out = a.clone();
    if let Some(lo) = min {
        out = super::maximum(&out, lo)?;
    }
    if let Some(hi) = max {
        out = super::minimum(&out, hi)?;
    }
    Ok(out)
}
