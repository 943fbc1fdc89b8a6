//! Factories: filled, ranged and random tensors, and moving between devices.

use crate::autograd::record;
use crate::backend;
use crate::error::{value_err, Result};
use crate::alloc::buffer;
use crate::tensor::{checked_numel, DType, Device, Tensor, MAX_NUMEL};
use smallvec::smallvec;

pub fn full(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Tensor> {
    checked_numel(shape, "full")?;
    backend::full(shape, value, dtype, device)
}

pub fn zeros(shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    checked_numel(shape, "zeros")?;
    backend::full(shape, 0.0, dtype, device)
}

/// A copy of `t` on `device` (`t` itself when already there), differentiable: the gradient
/// is moved back to `t`'s device.
pub fn to_device(t: &Tensor, device: Device) -> Result<Tensor> {
    if t.device() == device {
        return Ok(t.clone());
    }
    let out = backend::to_device(t, device)?;
    record(super::Op::Shape(super::ShapeOp::ToDevice), &[t], &out, |_| smallvec![]);
    Ok(out)
}

pub(super) fn place(t: Tensor, device: Device) -> Result<Tensor> {
    if device == Device::Cpu {
        Ok(t)
    } else {
        backend::to_device(&t, device)
    }
}

/// `start, start+step, ...` below `end` (above, for negative steps).
pub fn arange(start: f64, end: f64, step: f64, dtype: DType, device: Device) -> Result<Tensor> {
    if step == 0.0 || !step.is_finite() || !start.is_finite() || !end.is_finite() {
        return Err(value_err!("arange: step must be finite and non-zero, and the bounds finite (got {start}, {end}, {step})"));
    }
    if (end - start) / step < 0.0 {
        return Err(value_err!("arange: upper bound and step sign are inconsistent ({start} to {end} by {step})"));
    }
    let count = ((end - start) / step).ceil().max(0.0);
    if !(count < MAX_NUMEL as f64) {
        return Err(value_err!("arange: the range {start} to {end} by {step} has {count:e} elements, more than a tensor can hold"));
    }
    let n = count as usize;
    let t = match dtype {
        DType::I64 => Tensor::from_vec(filled_by(n, "arange", |i| (start + i as f64 * step) as i64)?, &[n])?,
        DType::F64 => Tensor::from_vec(filled_by(n, "arange", |i| start + i as f64 * step)?, &[n])?,
        DType::F32 => Tensor::from_vec(filled_by(n, "arange", |i| (start + i as f64 * step) as f32)?, &[n])?,
        DType::Bool => return Err(value_err!("arange: bool is not a valid dtype for a range")),
        // The storage dtypes: the range in their compute dtype, narrowed (integers wrap).
        other => {
            let wide = Tensor::from_vec(filled_by(n, "arange", |i| start + i as f64 * step)?, &[n])?;
            let wide = if other.is_float() { wide } else { backend::cast(&wide, DType::I64)? };
            backend::cast(&wide, other)?
        }
    };
    place(t, device)
}

/// `f(0), ..., f(n - 1)` in a fallibly allocated buffer.
fn filled_by<T>(n: usize, op: &str, f: impl Fn(usize) -> T) -> Result<Vec<T>> {
    let mut v = buffer::with_capacity(n, &[n], op)?;
    v.extend((0..n).map(f));
    Ok(v)
}

pub fn linspace(start: f64, end: f64, steps: usize, dtype: DType, device: Device) -> Result<Tensor> {
    let vals = filled_by(steps, "linspace", |i| if steps == 1 { start } else { start + (end - start) * i as f64 / (steps - 1) as f64 })?;
    let t = Tensor::from_vec(vals, &[steps])?;
    place(backend::cast(&t, dtype)?, device)
}

pub fn eye(n: usize, m: usize, dtype: DType, device: Device) -> Result<Tensor> {
    let total = checked_numel(&[n, m], "eye")?;
    let mut v = buffer::zeroed::<f64>(total, &[n, m], "eye")?;
    for i in 0..n.min(m) {
        v[i * m + i] = 1.0;
    }
    place(backend::cast(&Tensor::from_vec(v, &[n, m])?, dtype)?, device)
}
