//! GPU tensor memory. Every element is one 32-bit word: float32 as is, int64 carried as a
//! 32-bit two's-complement integer (WGSL has no portable 64-bit integers), bool as 0 or 1.
//!
//! int64 on the GPU: values are range-checked when they are moved to the GPU (a value outside
//! the int32 range is an error there), and arithmetic inside kernels wraps at 32 bits.
//! Moving back to the CPU sign-extends. float64 cannot live on the GPU.

use super::context::Gpu;
use super::pool::{BufferKind, PooledBuffer};
use crate::error::{dtype_err, Result};
use crate::tensor::DType;

/// Bytes per element of every GPU dtype.
pub const WORD: u64 = 4;

pub struct GpuStorage {
    buffer: PooledBuffer,
    len: usize,
    dtype: DType,
    /// For integer data: bounds on the values it was created with, when known without a
    /// read-back (uploads, gathers from bounded data). Class indices checked against them
    /// need no sync; an in-place write (which bumps the storage's version) voids them.
    bounds: Option<(i64, i64)>,
}

impl GpuStorage {
    /// Fresh storage for `len` elements (contents undefined until a kernel or copy writes them).
    pub fn alloc(gpu: &Gpu, dtype: DType, len: usize) -> Result<GpuStorage> {
        check_dtype(dtype, "to(\"gpu\")")?;
        // Saturating: a length whose byte count overflows is refused by the pool's limit check.
        let buffer = gpu.pool.acquire(gpu, BufferKind::Storage, (len as u64).saturating_mul(WORD))?;
        Ok(GpuStorage { buffer, len, dtype, bounds: None })
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    #[inline]
    pub fn buffer(&self) -> &wgpu::Buffer {
        &self.buffer
    }

    /// This storage, known to hold values in `[lo, hi]` when created.
    pub fn with_bounds(mut self, bounds: Option<(i64, i64)>) -> GpuStorage {
        self.bounds = bounds;
        self
    }

    /// The bounds given at creation (callers check that no in-place write happened since).
    pub fn creation_bounds(&self) -> Option<(i64, i64)> {
        self.bounds
    }
}

/// The dtypes a GPU tensor can have (float32, float16 and bfloat16 held as float32 words of
/// rounded values, int32, int64 carried as int32, bool); the others are refused with the fix,
/// never converted silently.
pub fn check_dtype(dtype: DType, op: &str) -> Result<()> {
    match dtype {
        DType::F32 | DType::F16 | DType::BF16 | DType::I32 | DType::I64 | DType::Bool => Ok(()),
        DType::F64 => Err(dtype_err!(
            "{op}: float64 tensors cannot live on the GPU (WGSL has no portable float64); \
             convert with .float() first, or create the tensor with dtype=backprop.float32"
        )),
        other => Err(dtype_err!(
            "{op}: {} tensors are not supported on the GPU yet (it holds float32, float16, bfloat16, int32, int64 and bool); \
             keep the tensor on the CPU with .to(\"cpu\"), or convert it with .float() or .long() first",
            other.name()
        )),
    }
}
