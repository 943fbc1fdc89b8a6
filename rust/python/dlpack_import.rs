//! `from_dlpack`: a tensor over the memory of any DLPack producer on the CPU (PyTorch, JAX,
//! NumPy, CuPy's host arrays), read from the capsule itself, so every dtype the engine has
//! arrives as itself (bfloat16 included, which a detour through NumPy cannot carry) and
//! without a copy where the memory allows sharing.

use super::interop::{DLManagedTensor, DLManagedTensorVersioned, DLTensor, DLTENSOR_NAME, DLTENSOR_VERSIONED_NAME, K_DL_CPU};
use super::tensor::PyTensor;
use crate::tensor::{CpuStorage, DType, Dims, Layout, Storage, Tensor};
use pyo3::exceptions::{PyBufferError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyCapsule;
use std::ffi::CStr;

const USED_NAME: &CStr = c"used_dltensor";
const USED_VERSIONED_NAME: &CStr = c"used_dltensor_versioned";
/// `DLManagedTensorVersioned.flags`: the producer forbids writes.
const FLAG_READ_ONLY: u64 = 1;
const K_DL_CUDA_HOST: i32 = 3;

/// Who must be told when the engine is done with the memory: the producer's deleter.
enum Managed {
    Legacy(*mut DLManagedTensor),
    Versioned(*mut DLManagedTensorVersioned),
}

// SAFETY: DLPack requires the deleter to be callable from any thread; the pointer is only
// used to call it, once, in `drop`.
unsafe impl Send for Managed {}
unsafe impl Sync for Managed {}

impl Drop for Managed {
    fn drop(&mut self) {
        // SAFETY: the consumer (this) calls the deleter exactly once, when done.
        unsafe {
            match *self {
                Managed::Legacy(m) => {
                    if let Some(d) = (*m).deleter {
                        d(m)
                    }
                }
                Managed::Versioned(m) => {
                    if let Some(d) = (*m).deleter {
                        d(m)
                    }
                }
            }
        }
    }
}

/// from_dlpack(obj) -> Tensor: a tensor sharing memory with any DLPack producer on the CPU
/// (PyTorch, JAX, NumPy), or with a DLPack capsule.
///
/// Every backprop dtype arrives as itself, bfloat16 included. Memory is shared (writes show
/// on both sides) unless the producer marks it read-only, it is misaligned, or it is bool;
/// then it is copied. Negative strides and non-CPU memory are refused.
///
/// Example:
///     >>> import numpy as np
///     >>> a = np.arange(3.0)
///     >>> t = bp.from_dlpack(a)
///     >>> t[0] = 7.0
///     >>> float(a[0])
///     7.0
#[pyfunction]
pub fn from_dlpack(obj: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let capsule = if obj.is_instance_of::<PyCapsule>() {
        obj.clone()
    } else if obj.hasattr("__dlpack__")? {
        if obj.hasattr("__dlpack_device__")? {
            let (kind, _): (i32, i32) = obj.call_method0("__dlpack_device__")?.extract()?;
            if kind != K_DL_CPU && kind != K_DL_CUDA_HOST {
                return Err(PyBufferError::new_err(format!(
                    "from_dlpack: the producer's memory is on DLPack device type {kind}, not the CPU; move it to the CPU first (e.g. .cpu())"
                )));
            }
        }
        let kwargs = pyo3::types::PyDict::new(obj.py());
        kwargs.set_item("max_version", (1, 0))?;
        match obj.call_method("__dlpack__", (), Some(&kwargs)) {
            Ok(c) => c,
            Err(e) if e.is_instance_of::<PyTypeError>(obj.py()) => obj.call_method0("__dlpack__")?, // producers before DLPack 1.0
            Err(e) => return Err(e),
        }
    } else {
        return Err(PyTypeError::new_err(format!(
            "from_dlpack: expected an object with __dlpack__ (a PyTorch, JAX or NumPy array) or a DLPack capsule, got {}",
            super::convert::describe(obj)
        )));
    };
    let capsule = capsule.cast_into::<PyCapsule>().map_err(|_| PyTypeError::new_err("from_dlpack: __dlpack__ did not return a capsule"))?;
    let raw = capsule.as_ptr();
    // SAFETY: `raw` is a live capsule; a valid name tells which struct its pointer is (the
    // producer made it so), and renaming it marks it consumed, so its destructor leaves the
    // struct to us; from here `managed` owns it and calls its deleter exactly once.
    let (managed, dl, read_only) = unsafe {
        if pyo3::ffi::PyCapsule_IsValid(raw, DLTENSOR_VERSIONED_NAME.as_ptr()) == 1 {
            let m = pyo3::ffi::PyCapsule_GetPointer(raw, DLTENSOR_VERSIONED_NAME.as_ptr()) as *mut DLManagedTensorVersioned;
            if (*m).version.major > 1 {
                return Err(PyBufferError::new_err(format!("from_dlpack: DLPack {}.x capsules are not understood (this reads 1.x)", (*m).version.major)));
            }
            pyo3::ffi::PyCapsule_SetName(raw, USED_VERSIONED_NAME.as_ptr());
            (Managed::Versioned(m), &(*m).dl_tensor as *const DLTensor, (*m).flags & FLAG_READ_ONLY != 0)
        } else if pyo3::ffi::PyCapsule_IsValid(raw, DLTENSOR_NAME.as_ptr()) == 1 {
            let m = pyo3::ffi::PyCapsule_GetPointer(raw, DLTENSOR_NAME.as_ptr()) as *mut DLManagedTensor;
            pyo3::ffi::PyCapsule_SetName(raw, USED_NAME.as_ptr());
            (Managed::Legacy(m), &(*m).dl_tensor as *const DLTensor, false)
        } else {
            pyo3::ffi::PyErr_Clear();
            return Err(PyBufferError::new_err("from_dlpack: the capsule is not an unconsumed DLPack tensor (each capsule can be read once)"));
        }
    };
    // SAFETY: the struct stays valid until `managed` calls the deleter.
    let t = unsafe { tensor_of(&*dl, managed, read_only) }?;
    Ok(PyTensor::wrap(t))
}

/// # Safety
/// `dl` is the producer's live description of its memory, valid while `managed` lives.
unsafe fn tensor_of(dl: &DLTensor, managed: Managed, read_only: bool) -> PyResult<Tensor> {
    if dl.device.device_type != K_DL_CPU && dl.device.device_type != K_DL_CUDA_HOST {
        return Err(PyBufferError::new_err(format!("from_dlpack: memory on DLPack device type {} is not on the CPU", dl.device.device_type)));
    }
    let (code, bits, lanes) = (dl.dtype.code, dl.dtype.bits, dl.dtype.lanes);
    let dtype = match (code, bits, lanes) {
        (2, 16, 1) => DType::F16,
        (2, 32, 1) => DType::F32,
        (2, 64, 1) => DType::F64,
        (4, 16, 1) => DType::BF16,
        (0, 8, 1) => DType::I8,
        (0, 16, 1) => DType::I16,
        (0, 32, 1) => DType::I32,
        (0, 64, 1) => DType::I64,
        (1, 8, 1) => DType::U8,
        (6, 8, 1) => DType::Bool,
        _ => {
            return Err(PyTypeError::new_err(format!(
                "from_dlpack: DLPack dtype (code {code}, {bits} bits, {lanes} lanes) has no backprop dtype; backprop has {}",
                super::convert::DTYPE_NAMES
            )))
        }
    };
    let ndim = usize::try_from(dl.ndim).map_err(|_| PyBufferError::new_err("from_dlpack: negative ndim"))?;
    let shape_in: &[i64] = if ndim == 0 { &[] } else { std::slice::from_raw_parts(dl.shape, ndim) };
    let mut shape = Dims::new();
    for &d in shape_in {
        shape.push(usize::try_from(d).map_err(|_| PyBufferError::new_err(format!("from_dlpack: negative dimension {d}")))?);
    }
    let strides: Dims = if dl.strides.is_null() || ndim == 0 {
        crate::tensor::contiguous_strides(&shape)
    } else {
        let s = std::slice::from_raw_parts(dl.strides, ndim);
        if let Some(&bad) = s.iter().find(|&&x| x < 0) {
            return Err(PyBufferError::new_err(format!(
                "from_dlpack: negative strides ({bad}) cannot be shared; make the producer's array contiguous first"
            )));
        }
        s.iter().map(|&x| x as usize).collect()
    };
    let layout = Layout::new(shape, strides, 0);
    let len = layout.checked_extent().ok_or_else(|| PyBufferError::new_err("from_dlpack: the shape and strides overflow"))?;
    let ptr = (dl.data as *mut u8).wrapping_add(dl.byte_offset as usize);
    let item = dtype.size();
    if len == 0 {
        return Ok(Tensor::from_storage(Storage::Cpu(CpuStorage::zeros(dtype, 0)), layout.shape()));
    }
    let shareable = !read_only && dtype != DType::Bool && (ptr as usize) % item == 0;
    if shareable {
        // SAFETY: the producer promises `len` initialised elements of the dtype from `ptr`
        // (its layout's extent) that stay valid until the deleter, which `managed` calls when
        // the storage drops; aligned (checked); writable (not flagged read-only); every bit
        // pattern is a valid value of these dtypes (bool is copied instead).
        let storage = CpuStorage::from_foreign(ptr, len, dtype, Box::new(managed));
        return Ok(Tensor::from_storage(Storage::Cpu(storage), &[len]).with_layout(layout)?);
    }
    // Copied: read-only or misaligned memory, or bool bytes (any byte may sit there).
    let bytes = len.checked_mul(item).ok_or_else(|| PyBufferError::new_err("from_dlpack: the tensor's size in bytes overflows"))?;
    let src = ptr as *const u8;
    let storage = crate::with_dtype!(dtype, T => {
        let fill = |out: &mut [std::mem::MaybeUninit<T>]| {
            let dst = out.as_mut_ptr() as *mut u8;
            // SAFETY: the producer's `bytes` bytes from `src` are readable; `dst` is the fresh
            // buffer of `len` elements, `bytes` bytes, not overlapping them.
            unsafe {
                if dtype == DType::Bool {
                    (0..len).for_each(|i| *dst.add(i) = (*src.add(i) != 0) as u8);
                } else {
                    std::ptr::copy_nonoverlapping(src, dst, bytes);
                }
            }
        };
        // SAFETY: `fill` writes all `bytes` bytes of the `len` elements, bool ones as 0 or 1.
        CpuStorage::from_vec(crate::alloc::buffer::written::<T>(len, layout.shape(), "from_dlpack", fill)?)
    });
    drop(managed);
    Ok(Tensor::from_storage(Storage::Cpu(storage), &[len]).with_layout(layout)?)
}
