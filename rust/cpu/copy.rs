//! Copies: contiguous casts, writes into views, fills, concatenation.

use super::elementwise::{apply_inplace, map1};
use super::strided::Walk;
use super::SendPtr;
use crate::error::Result;
use crate::tensor::{contiguous_strides, numel, CpuStorage, DType, Element, IntoStorageVec, Storage, Tensor};
use crate::with_dtype;

/// A contiguous copy converted to `dtype` (a plain copy when the dtype is unchanged).
pub fn cast(a: &Tensor, dtype: DType) -> Result<Tensor> {
    with_dtype!(a.dtype(), S => with_dtype!(dtype, D => cast_typed::<S, D>(a)))
}

fn cast_typed<S: Element, D: IntoStorageVec>(a: &Tensor) -> Result<Tensor> {
    if S::DTYPE == D::DTYPE {
        // SAFETY: equal dtypes mean S and D are the same Rust type.
        return map1(a, |v: S| unsafe { std::mem::transmute_copy::<S, D>(&v) });
    }
    match D::DTYPE {
        DType::Bool => map1(a, |v: S| D::from_bool(v.is_nonzero())),
        d if d.is_int() => map1(a, |v: S| D::from_i64(v.to_i64())),
        _ => map1(a, |v: S| D::from_f64(v.to_f64())),
    }
}

/// Writes `src` into the view `dst` (broadcasting `src`, converting dtype). The caller
/// guarantees that `src` does not overlap `dst`.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    let src = if src.dtype() != dst.dtype() { cast(src, dst.dtype())? } else { src.clone() };
    with_dtype!(dst.dtype(), T => apply_inplace(dst, &src, |_: T, s: T| s))
}

pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
    let n = crate::tensor::checked_numel(shape, "full")?;
    if n == 1 {
        return Ok(Tensor::from_storage(Storage::Cpu(CpuStorage::scalar(value, dtype)), shape));
    }
    with_dtype!(dtype, T => {
        let v = T::from_f64(value);
        let data = if v.is_nonzero() {
            crate::alloc::buffer::filled(v, n, shape, "full")?
        } else {
            crate::alloc::buffer::zeroed::<T>(n, shape, "full")?
        };
        Ok(Tensor::from_storage(Storage::Cpu(CpuStorage::from_vec(data)), shape))
    })
}

/// Concatenates along `dim`; all inputs share dtype and every other dimension.
pub fn cat(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
    with_dtype!(tensors[0].dtype(), T => cat_typed::<T>(tensors, dim))
}

fn cat_typed<T: IntoStorageVec>(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
    let mut shape = tensors[0].dims();
    shape[dim] = tensors.iter().map(|t| t.shape()[dim]).sum();
    let mut out = crate::alloc::buffer::zeroed::<T>(numel(&shape), &shape, "cat")?;
    let out_strides = contiguous_strides(&shape);
    let mut start = 0;
    let p = SendPtr(out.as_mut_ptr());
    for t in tensors {
        let xs = t.cpu_storage("cat")?.as_slice::<T>();
        let l = t.layout();
        let w = Walk::new(l.shape(), [&out_strides[..], l.strides()], [start * out_strides[dim], l.offset()]);
        w.par_for_each_run(|[o, i], len, [so, si]| {
            for k in 0..len {
                // SAFETY: each input fills its own slab of the fresh output.
                unsafe { *p.get().add(o + k * so) = xs[i + k * si] };
            }
        });
        start += t.shape()[dim];
    }
    Tensor::from_vec(out, &shape)
}
