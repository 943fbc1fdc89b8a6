//! Host side of the GPU kernels, one module per op family. Each takes tensors (reading only
//! their storage and layout) and returns a fresh contiguous tensor, or writes into a
//! destination view; autograd never reaches here.

pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod norm;
pub mod optim;
pub mod random;
pub mod reduce;
pub mod scan;
pub mod softmax;
pub mod sort;

use super::launch::{collapse, View, MAX_DIMS};
use super::storage::GpuStorage;
use crate::error::{Error, Result};
use crate::tensor::{contiguous_strides, DType, Storage, Tensor};

/// The dtype code the shaders' override constants use (`strided.wgsl`: F32, I32, BOOL).
/// int32 and int64 tensors hold the same 32-bit words on the GPU, so converting between them
/// there moves nothing; float16 and bfloat16 tensors hold float32 words (of values rounded to
/// the type), which kernels read as float32: the upcast point has widened them before any
/// kernel computes, and only the cast kernel tells them apart (`cast_code`).
pub fn dtype_code(dtype: DType) -> Result<f64> {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 => Ok(0.0),
        DType::I32 | DType::I64 => Ok(1.0),
        DType::Bool => Ok(2.0),
        other => Err(super::storage::check_dtype(other, "gpu").unwrap_err()),
    }
}

/// The dtype code of `unary.wgsl`'s cast, which rounds into float16 and bfloat16 (F16, BF16).
pub fn cast_code(dtype: DType) -> Result<f64> {
    match dtype {
        DType::F16 => Ok(3.0),
        DType::BF16 => Ok(4.0),
        other => dtype_code(other),
    }
}

/// The GPU memory of a tensor, or a device error naming `op`.
pub fn gpu_storage<'a>(t: &'a Tensor, op: &str) -> Result<&'a GpuStorage> {
    match &t.storage().storage {
        Storage::Gpu(s) => Ok(s),
        _ => Err(Error::Device(format!("{op}: expected a GPU tensor, got one on {}", t.device().name()))),
    }
}

/// `t` read as an operand over `shape` (broadcast with zero strides).
pub fn view_of<'a>(t: &'a Tensor, shape: &[usize], op: &str) -> Result<View<'a>> {
    let l = t.layout().expand(shape, op)?;
    Ok(View { storage: gpu_storage(t, op)?, strides: l.strides().into(), offset: l.offset() })
}

/// A fresh output written row-major over `shape`.
pub fn written_view<'a>(storage: &'a GpuStorage, shape: &[usize]) -> View<'a> {
    View { storage, strides: contiguous_strides(shape), offset: 0 }
}

/// `t`, or a contiguous copy when its view needs more than `MAX_DIMS - extra` dims to walk
/// (a contiguous tensor merges into one).
pub fn walkable(t: &Tensor, extra: usize) -> Result<Tensor> {
    let l = t.layout();
    if collapse(l.shape(), &[l.strides()]).shape.len() + extra > MAX_DIMS {
        elementwise::cast(t, t.dtype())
    } else {
        Ok(t.clone())
    }
}
