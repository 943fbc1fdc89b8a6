//! Moving tensors between host and GPU. Uploads are recorded in stream order (no sync);
//! a download is a sync point: it submits the pending batch and waits for it.

use super::context::gpu;
use super::kernels::{elementwise, gpu_storage};
use super::storage::{check_dtype, GpuStorage, WORD};
use crate::error::{Error, Result};
use crate::tensor::{DType, Storage, Tensor, BF16, F16};

/// A GPU copy of the CPU tensor `t` (row-major, contiguous).
pub fn to_gpu(t: &Tensor) -> Result<Tensor> {
    check_dtype(t.dtype(), "to(\"gpu\")")?;
    let g = gpu()?;
    let n = t.numel();
    let words: Vec<u32>;
    let mut bounds = None;
    let bytes: &[u8] = match t.dtype() {
        DType::F32 if t.is_contiguous() => {
            let off = t.layout().offset();
            bytemuck::cast_slice(&t.cpu_storage("to(\"gpu\")")?.as_slice::<f32>()[off..off + n])
        }
        DType::F32 => {
            words = t.to_vec::<f32>()?.into_iter().map(f32::to_bits).collect();
            bytemuck::cast_slice(&words)
        }
        DType::I64 => {
            let values = t.to_vec::<i64>()?;
            bounds = values.iter().fold(None, |b: Option<(i64, i64)>, &v| Some(b.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v)))));
            words = values
                .into_iter()
                .map(|v| {
                    i32::try_from(v).map(|x| x as u32).map_err(|_| {
                        Error::Value(format!(
                            "to(\"gpu\"): the int64 value {v} does not fit the GPU's 32-bit integers \
                             (int64 tensors are carried as int32 on the GPU); keep this tensor on the CPU"
                        ))
                    })
                })
                .collect::<Result<_>>()?;
            bytemuck::cast_slice(&words)
        }
        DType::I32 => {
            words = t.to_vec::<i32>()?.into_iter().map(|v| v as u32).collect();
            bytemuck::cast_slice(&words)
        }
        // Half types travel as float32 words (exact: every half value is a float32).
        DType::F16 => {
            words = t.to_vec::<F16>()?.into_iter().map(|v| v.to_f32().to_bits()).collect();
            bytemuck::cast_slice(&words)
        }
        DType::BF16 => {
            words = t.to_vec::<BF16>()?.into_iter().map(|v| v.to_f32().to_bits()).collect();
            bytemuck::cast_slice(&words)
        }
        DType::Bool => {
            words = t.to_vec::<bool>()?.into_iter().map(u32::from).collect();
            bytemuck::cast_slice(&words)
        }
        other => return Err(crate::error::dtype_err!("to(\"gpu\"): {} cannot live on the GPU", other.name())),
    };
    let out = GpuStorage::alloc(g, t.dtype(), n)?.with_bounds(bounds);
    g.recorder.lock().upload(g, bytes, out.buffer(), 0)?;
    Ok(Tensor::from_storage(Storage::Gpu(out), t.shape()))
}

/// Bounds on the values of the GPU int64 tensor `t` known without reading it back: those its
/// storage was created with, if nothing has written into it in place since.
pub fn known_bounds(t: &Tensor) -> Option<(i64, i64)> {
    let shared = t.storage();
    match &shared.storage {
        Storage::Gpu(s) if s.dtype() == DType::I64 && shared.version() == 0 => s.creation_bounds(),
        _ => None,
    }
}

/// A CPU copy of the GPU tensor `t`; waits for the work that produces it.
pub fn to_cpu(t: &Tensor) -> Result<Tensor> {
    let t = if t.is_contiguous() { t.clone() } else { elementwise::cast(t, t.dtype())? };
    let g = gpu()?;
    let s = gpu_storage(&t, "cpu()")?;
    let n = t.numel();
    let bytes = g.recorder.lock().read(g, s.buffer(), t.layout().offset() as u64 * WORD, n as u64 * WORD)?;
    let words: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
    match t.dtype() {
        DType::F32 => Tensor::from_vec(words.into_iter().map(f32::from_bits).collect::<Vec<_>>(), t.shape()),
        DType::I64 => Tensor::from_vec(words.into_iter().map(|w| w as i32 as i64).collect::<Vec<_>>(), t.shape()),
        DType::I32 => Tensor::from_vec(words.into_iter().map(|w| w as i32).collect::<Vec<_>>(), t.shape()),
        DType::F16 => Tensor::from_vec(words.into_iter().map(|w| F16::from_f32(f32::from_bits(w))).collect::<Vec<_>>(), t.shape()),
        DType::BF16 => Tensor::from_vec(words.into_iter().map(|w| BF16::from_f32(f32::from_bits(w))).collect::<Vec<_>>(), t.shape()),
        DType::Bool => Tensor::from_vec(words.into_iter().map(|w| w != 0).collect::<Vec<_>>(), t.shape()),
        other => Err(crate::error::dtype_err!("cpu(): a GPU tensor cannot hold {}", other.name())),
    }
}
