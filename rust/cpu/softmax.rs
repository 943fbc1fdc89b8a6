//! Softmax and log-softmax along the last dimension, one row at a time (max-shifted).

use crate::error::{dtype_err, Result};
use crate::tensor::{DType, Float, IntoStorageVec, Tensor};
use rayon::prelude::*;

pub fn softmax_last(a: &Tensor, log: bool) -> Result<Tensor> {
    match a.dtype() {
        DType::F32 => typed::<f32>(a, log),
        DType::F64 => typed::<f64>(a, log),
        other => Err(dtype_err!("softmax: expected a float tensor, got {}", other.name())),
    }
}

fn typed<T: Float + IntoStorageVec>(a: &Tensor, log: bool) -> Result<Tensor> {
    let a = if a.is_contiguous() { a.clone() } else { super::copy::cast(a, a.dtype())? };
    let n = a.numel();
    let cols = a.shape().last().copied().unwrap_or(1);
    let xs = &a.cpu_storage("softmax")?.as_slice::<T>()[a.layout().offset()..a.layout().offset() + n];
    let mut out = crate::alloc::buffer::zeroed::<T>(n, a.shape(), "softmax")?;
    if cols == 0 {
        return Tensor::from_vec(out, a.shape());
    }
    let row = |x: &[T], o: &mut [T]| {
        let m = x.iter().fold(T::NEG_INFINITY, |m, &v| if v > m || v.is_nan() { v } else { m });
        let m = if m == T::NEG_INFINITY { T::ZERO } else { m };
        let mut s = T::ZERO;
        for (o, &v) in o.iter_mut().zip(x) {
            let e = (v - m).exp();
            *o = e;
            s = s + e;
        }
        if log {
            let ls = s.ln() + m;
            for (o, &v) in o.iter_mut().zip(x) {
                *o = v - ls;
            }
        } else {
            let inv = T::ONE / s;
            for o in o.iter_mut() {
                *o = *o * inv;
            }
        }
    };
    if super::parallel(n) {
        out.par_chunks_mut(cols).zip(xs.par_chunks(cols)).for_each(|(o, x)| row(x, o));
    } else {
        out.chunks_mut(cols).zip(xs.chunks(cols)).for_each(|(o, x)| row(x, o));
    }
    Tensor::from_vec(out, a.shape())
}
