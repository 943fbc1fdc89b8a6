//! Zero-copy exchange with NumPy (`.numpy()`, `from_numpy`, `__array__`) and DLPack
//! (`__dlpack__`, `__dlpack_device__`) for PyTorch, JAX and NumPy consumers.

use super::convert::{describe, numpy_name_to_dtype};
use super::tensor::PyTensor;
use crate::ops;
use crate::tensor::{CpuStorage, DType, Device, Dims, Layout, Storage, Tensor};
use numpy::npyffi::{self, flags, PY_ARRAY_API};
use numpy::{PyArrayDescrMethods, PyUntypedArray, PyUntypedArrayMethods};
use pyo3::exceptions::{PyBufferError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use std::ffi::{c_void, CStr};

/// The NumPy dtype of `dtype`; bfloat16 has none, and is refused as PyTorch refuses it.
fn np_descr<'py>(py: Python<'py>, dtype: DType) -> PyResult<Bound<'py, numpy::PyArrayDescr>> {
    Ok(match dtype {
        DType::F32 => numpy::dtype::<f32>(py),
        DType::F64 => numpy::dtype::<f64>(py),
        DType::I64 => numpy::dtype::<i64>(py),
        DType::Bool => numpy::dtype::<bool>(py),
        DType::I32 => numpy::dtype::<i32>(py),
        DType::I16 => numpy::dtype::<i16>(py),
        DType::I8 => numpy::dtype::<i8>(py),
        DType::U8 => numpy::dtype::<u8>(py),
        DType::F16 => numpy::PyArrayDescr::new(py, "float16")?,
        DType::BF16 => {
            return Err(PyTypeError::new_err(
                "Got unsupported ScalarType BFloat16: NumPy has no bfloat16; convert with .float() first",
            ))
        }
    })
}

/// A NumPy array viewing `t`'s memory; `base` keeps the storage alive.
fn numpy_view<'py>(py: Python<'py>, t: &Tensor, base: Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let storage = t.cpu_storage("numpy")?;
    let item = t.dtype().size();
    let mut dims: Vec<npyffi::npy_intp> = t.shape().iter().map(|&d| d as npyffi::npy_intp).collect();
    let mut strides: Vec<npyffi::npy_intp> = t.layout().strides().iter().map(|&s| (s * item) as npyffi::npy_intp).collect();
    // SAFETY: NumPy gets a view, not a copy, so its contract is ours to keep:
    // - `data` plus the byte strides reaches exactly the elements of `t`'s layout, which lies
    //   inside the storage (`Tensor::with_layout` checked it), so NumPy never reads or writes
    //   outside the allocation; `dims`/`strides` are only read during the call.
    // - `base` (the tensor, or a holder of a CPU copy) becomes the array's base object, so the
    //   storage lives as long as the array and any view of it.
    // - The memory is aligned for the dtype (engine allocations and shared NumPy memory are)
    //   and holds valid values of it; bool storage holds only 0 and 1 (engine-written: shared
    //   NumPy memory is never bool), which NumPy reads as its bool.
    // - NumPy may write through the array (WRITEABLE): that is the same aliasing as an
    //   in-place op, and happens with the GIL held (the contract in `tensor::storage`).
    // - `from_owned_ptr`/`into_ptr` keep the reference counts balanced: the new array's one
    //   reference goes to `arr`; `PyArray_SetBaseObject` steals the reference `into_ptr` gives
    //   up, also when it fails.
    unsafe {
        let data = storage.as_ptr().add(t.layout().offset() * item) as *mut c_void;
        let descr = np_descr(py, t.dtype())?;
        let arr = PY_ARRAY_API.PyArray_NewFromDescr(
            py,
            npyffi::get_type_object(py, npyffi::NpyTypes::PyArray_Type),
            descr.into_dtype_ptr(),
            dims.len() as i32,
            dims.as_mut_ptr(),
            strides.as_mut_ptr(),
            data,
            flags::NPY_ARRAY_WRITEABLE | flags::NPY_ARRAY_ALIGNED,
            std::ptr::null_mut(),
        );
        if arr.is_null() {
            return Err(PyErr::fetch(py));
        }
        let arr = Bound::from_owned_ptr(py, arr);
        if PY_ARRAY_API.PyArray_SetBaseObject(py, arr.as_ptr() as *mut npyffi::PyArrayObject, base.into_ptr()) < 0 {
            return Err(PyErr::fetch(py));
        }
        Ok(arr)
    }
}

/// Copies any array-like into a new CPU tensor of the array's dtype.
pub fn tensor_from_array_copy(obj: &Bound<'_, PyAny>) -> PyResult<Tensor> {
    let py = obj.py();
    let np = py.import("numpy")?;
    let arr = np.call_method1("asarray", (obj,))?;
    let name: String = arr.getattr("dtype")?.getattr("name")?.extract()?;
    let dtype = numpy_name_to_dtype(&name).ok_or_else(|| {
        PyTypeError::new_err(format!(
            "cannot convert an array of dtype {name} to a tensor: backprop has {}; convert the array with .astype() first",
            super::convert::DTYPE_NAMES
        ))
    })?;
    // shape first: ascontiguousarray turns 0-d arrays into 1-d ones
    let shape: Vec<usize> = arr.getattr("shape")?.extract()?;
    let arr = np.call_method1("ascontiguousarray", (arr, dtype.name()))?;
    let arr = arr.cast::<PyUntypedArray>()?;
    let n = arr.len();
    // SAFETY: `arr` is a live ndarray (checked by the cast), so its struct may be read.
    let ptr = unsafe { (*arr.as_array_ptr()).fields.data } as *const u8;
    Ok(match dtype {
        // SAFETY: a C-contiguous array of exactly this dtype and length; NumPy bools are
        // bytes read as such (any nonzero byte is true), never reinterpreted as Rust bools.
        DType::Bool => Tensor::from_vec(unsafe { copy_elements::<u8>(ptr, n) }.into_iter().map(|b| b != 0).collect(), &shape)?,
        // SAFETY: as above; every bit pattern is a valid value of the other element types.
        other => crate::with_dtype!(other, T => Tensor::from_vec(unsafe { copy_elements::<T>(ptr, n) }, &shape)?),
    })
}

/// The `n` elements at `ptr`, which need not be aligned (arrays over byte buffers, such as a
/// file's contents read with `np.frombuffer` at any offset, are not).
///
/// # Safety
/// `ptr` must point to `n` initialised elements of `T`.
unsafe fn copy_elements<T: Copy>(ptr: *const u8, n: usize) -> Vec<T> {
    let mut out = Vec::<T>::with_capacity(n);
    if n > 0 {
        std::ptr::copy_nonoverlapping(ptr, out.as_mut_ptr() as *mut u8, n * std::mem::size_of::<T>());
        out.set_len(n);
    }
    out
}

/// Keeps a NumPy array alive for as long as a tensor uses its memory.
struct ArrayOwner(#[allow(dead_code)] Py<PyAny>);

/// `backprop.from_numpy(a)`: a tensor sharing `a`'s memory (a copy only when `a`'s dtype,
/// alignment, strides or writability do not allow sharing).
#[pyfunction]
pub fn from_numpy(arr: &Bound<'_, PyAny>) -> PyResult<PyTensor> {
    let a = arr.cast::<PyUntypedArray>().map_err(|_| PyTypeError::new_err(format!("from_numpy: expected a numpy.ndarray, got {}", describe(arr))))?;
    let name: String = a.dtype().getattr("name")?.extract()?;
    // bool arrays are copied, not shared: NumPy lets a bool array hold any byte (a uint8 array
    // viewed as bool), and a Rust bool other than 0 or 1 is undefined behaviour.
    let dtype = numpy_name_to_dtype(&name).filter(|&d| d != DType::Bool);
    let item = dtype.map(|d| d.size()).unwrap_or(1);
    // SAFETY: `a` is a live ndarray (checked by the cast), so its struct may be read.
    let writeable = unsafe { (*a.as_array_ptr()).fields.flags } & flags::NPY_ARRAY_WRITEABLE != 0;
    let shareable = dtype.is_some()
        && a.is_aligned()
        && writeable
        && a.strides().iter().all(|&s| s >= 0 && s as usize % item == 0)
        // `None` is NumPy's "not applicable" ('|'): one-byte dtypes have no byte order.
        && a.dtype().is_native_byteorder().unwrap_or(true);
    if !shareable {
        return Ok(PyTensor::wrap(tensor_from_array_copy(arr)?));
    }
    let dtype = dtype.unwrap();
    let shape: Dims = a.shape().iter().copied().collect();
    let strides: Dims = a.strides().iter().map(|&s| s as usize / item).collect();
    let layout = Layout::new(shape, strides, 0);
    let len = layout
        .checked_extent()
        .ok_or_else(|| PyValueError::new_err(format!("from_numpy: the array's shape and strides overflow ({:?}, {:?})", a.shape(), a.strides())))?;
    // SAFETY: the storage borrows the array's memory, so it must hold what `CpuStorage`
    // assumes of memory it owns:
    // - `len` elements of `dtype` from `ptr`: the layout's extent, and the array's non-negative,
    //   element-multiple strides (checked above) reach no further than its own buffer;
    // - aligned (checked), native byte order (checked), initialised values of the dtype (every
    //   bit pattern is a valid float or integer of every dtype; bool arrays are never shared);
    // - writeable (checked), since in-place ops write through it; NumPy and the engine then
    //   alias it like two views of one tensor, both under the GIL;
    // - alive as long as the storage: `ArrayOwner` holds a reference to the array, released
    //   when the storage drops (pyo3 defers the decref if that happens without the GIL).
    let storage = unsafe {
        let ptr = (*a.as_array_ptr()).fields.data as *mut u8;
        CpuStorage::from_foreign(ptr, len, dtype, Box::new(ArrayOwner(arr.clone().unbind())))
    };
    let base = Tensor::from_storage(Storage::Cpu(storage), &[len]);
    Ok(PyTensor::wrap(base.with_layout(layout)?))
}

fn check_no_grad(t: &Tensor, what: &str) -> PyResult<()> {
    if t.requires_grad() {
        return Err(PyRuntimeError::new_err(format!(
            "can't call {what} on a tensor that requires grad; use tensor.detach().{what} instead"
        )));
    }
    Ok(())
}

#[pymethods]
impl PyTensor {
    /// A NumPy array sharing this tensor's memory (CPU tensors only).
    #[pyo3(signature = (*, force = false))]
    fn numpy<'py>(slf: &Bound<'py, Self>, force: bool) -> PyResult<Bound<'py, PyAny>> {
        let t = &slf.get().t;
        if force {
            let c = ops::to_device(&t.detach(), Device::Cpu)?;
            return numpy_view(slf.py(), &c, Bound::new(slf.py(), PyTensor::wrap(c.clone()))?.into_any());
        }
        check_no_grad(t, "numpy()")?;
        if t.device() != Device::Cpu {
            return Err(PyTypeError::new_err(format!(
                "can't convert a {} tensor to numpy; use tensor.cpu() to copy it to host memory first",
                t.device().name()
            )));
        }
        numpy_view(slf.py(), t, slf.clone().into_any())
    }

    /// The values as a NumPy array (CPU tensors without grad share memory; see `numpy()`).
    #[pyo3(signature = (dtype = None, copy = None))]
    fn __array__<'py>(slf: &Bound<'py, Self>, dtype: Option<&Bound<'py, PyAny>>, copy: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let t = ops::to_device(&slf.get().t.detach(), Device::Cpu)?;
        let holder = Bound::new(py, PyTensor::wrap(t.clone()))?;
        let mut arr = numpy_view(py, &t, holder.into_any())?;
        if let Some(d) = dtype {
            if !d.is_none() {
                arr = arr.call_method1("astype", (d,))?;
            }
        }
        if copy == Some(true) {
            arr = arr.call_method0("copy")?;
        }
        Ok(arr)
    }

    /// The DLPack capsule of a CPU tensor, for zero-copy exchange (`np.from_dlpack`, `torch.from_dlpack`).
    #[pyo3(signature = (*, stream = None, max_version = None, dl_device = None, copy = None))]
    fn __dlpack__<'py>(
        slf: &Bound<'py, Self>,
        stream: Option<&Bound<'py, PyAny>>,
        max_version: Option<&Bound<'py, PyTuple>>,
        dl_device: Option<&Bound<'py, PyAny>>,
        copy: Option<bool>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let _ = (stream, dl_device);
        let t = &slf.get().t;
        check_no_grad(t, "__dlpack__()")?;
        if t.device() != Device::Cpu {
            return Err(PyBufferError::new_err("DLPack export of GPU tensors is not supported; call .cpu() first"));
        }
        let t = if copy == Some(true) { ops::clone(&t.detach())? } else { t.detach() };
        // Consumers that speak DLPack >= 1.0 get the versioned capsule (writable arrays).
        let versioned = match max_version {
            Some(v) => v.get_item(0)?.extract::<u32>()? >= 1,
            None => false,
        };
        dlpack_capsule(slf.py(), t, versioned)
    }

    /// `(device type, device id)` as DLPack numbers.
    fn __dlpack_device__(&self) -> (i32, i32) {
        (K_DL_CPU, 0)
    }
}

// ---- DLPack: the versioned (1.x) capsule when the consumer asks for it, else the legacy one

pub(super) const K_DL_CPU: i32 = 1;

#[repr(C)]
pub(super) struct DLDevice {
    pub(super) device_type: i32,
    pub(super) device_id: i32,
}

#[repr(C)]
pub(super) struct DLDataType {
    pub(super) code: u8,
    pub(super) bits: u8,
    pub(super) lanes: u16,
}

#[repr(C)]
pub(super) struct DLTensor {
    pub(super) data: *mut c_void,
    pub(super) device: DLDevice,
    pub(super) ndim: i32,
    pub(super) dtype: DLDataType,
    pub(super) shape: *mut i64,
    pub(super) strides: *mut i64,
    pub(super) byte_offset: u64,
}

#[repr(C)]
pub(super) struct DLManagedTensor {
    pub(super) dl_tensor: DLTensor,
    pub(super) manager_ctx: *mut c_void,
    pub(super) deleter: Option<unsafe extern "C" fn(*mut DLManagedTensor)>,
}

#[repr(C)]
pub(super) struct DLPackVersion {
    pub(super) major: u32,
    pub(super) minor: u32,
}

#[repr(C)]
pub(super) struct DLManagedTensorVersioned {
    pub(super) version: DLPackVersion,
    pub(super) manager_ctx: *mut c_void,
    pub(super) deleter: Option<unsafe extern "C" fn(*mut DLManagedTensorVersioned)>,
    pub(super) flags: u64,
    pub(super) dl_tensor: DLTensor,
}

/// What the capsule owns: the tensor (keeping its storage alive) and the shape/stride arrays.
struct Exported {
    _tensor: Tensor,
    shape: Vec<i64>,
    strides: Vec<i64>,
}

/// DLPack's deleter of a legacy capsule's tensor: frees the struct and what it owns.
///
/// # Safety
/// `m` is null or a pointer `dlpack_capsule` made with `Box::into_raw` (with `manager_ctx` an
/// `Exported` made the same way), and this is the only call for it: DLPack lets exactly one
/// party call the deleter, the consumer once it is done, or `capsule_destructor` when no
/// consumer took the capsule. The consumer may call it from any thread and without the GIL;
/// that is sound because dropping `Exported` touches only its own detached tensor handle (no
/// autograd state shared with other handles) and atomically counted storage, whose CPU memory
/// is freed by Rust (a NumPy owner's decref is deferred by pyo3 when the GIL is not held).
unsafe extern "C" fn dl_deleter(m: *mut DLManagedTensor) {
    if m.is_null() {
        return;
    }
    // SAFETY: per the contract above, both boxes are ours and released exactly once.
    unsafe {
        let m = Box::from_raw(m);
        drop(Box::from_raw(m.manager_ctx as *mut Exported));
    }
}

/// DLPack's deleter of a versioned (1.x) capsule's tensor.
///
/// # Safety
/// As for `dl_deleter`, with a `DLManagedTensorVersioned`.
unsafe extern "C" fn dl_deleter_versioned(m: *mut DLManagedTensorVersioned) {
    if m.is_null() {
        return;
    }
    // SAFETY: per the contract of `dl_deleter`, both boxes are ours and released exactly once.
    unsafe {
        let m = Box::from_raw(m);
        drop(Box::from_raw(m.manager_ctx as *mut Exported));
    }
}

pub(super) const DLTENSOR_NAME: &CStr = c"dltensor";
pub(super) const DLTENSOR_VERSIONED_NAME: &CStr = c"dltensor_versioned";

/// Frees the payload of a capsule nobody consumed (consumers rename it to "used_...").
///
/// # Safety
/// Called by Python, with the GIL held, on a capsule `dlpack_capsule` made. A consumed capsule
/// has another name, so it fails both validity checks and its payload, which now belongs to
/// the consumer, is left alone; an unconsumed one still owns its payload, freed here once.
unsafe extern "C" fn capsule_destructor(capsule: *mut pyo3::ffi::PyObject) {
    // SAFETY: per the contract above; `PyCapsule_GetPointer` with the checked name returns the
    // pointer `PyCapsule_New` got.
    unsafe { destroy_unconsumed(capsule) }
}

unsafe fn destroy_unconsumed(capsule: *mut pyo3::ffi::PyObject) {
    if pyo3::ffi::PyCapsule_IsValid(capsule, DLTENSOR_NAME.as_ptr()) == 1 {
        let m = pyo3::ffi::PyCapsule_GetPointer(capsule, DLTENSOR_NAME.as_ptr()) as *mut DLManagedTensor;
        dl_deleter(m);
    } else if pyo3::ffi::PyCapsule_IsValid(capsule, DLTENSOR_VERSIONED_NAME.as_ptr()) == 1 {
        let m = pyo3::ffi::PyCapsule_GetPointer(capsule, DLTENSOR_VERSIONED_NAME.as_ptr()) as *mut DLManagedTensorVersioned;
        dl_deleter_versioned(m);
    } else {
        pyo3::ffi::PyErr_Clear();
    }
}

fn dlpack_capsule(py: Python<'_>, t: Tensor, versioned: bool) -> PyResult<Bound<'_, PyAny>> {
    let storage = t.cpu_storage("__dlpack__")?;
    let item = t.dtype().size();
    // SAFETY: the offset lies inside the storage (the layout was checked against it).
    let data = unsafe { storage.as_ptr().add(t.layout().offset() * item) } as *mut c_void;
    // DLPack type codes: 0 int, 1 uint, 2 float, 4 bfloat, 6 bool.
    let d = t.dtype();
    let code = match d {
        DType::Bool => 6,
        DType::U8 => 1,
        DType::BF16 => 4,
        _ if d.is_float() => 2,
        _ => 0,
    };
    let bits = (d.size() * 8) as u8;
    let mut ctx = Box::new(Exported {
        shape: t.shape().iter().map(|&d| d as i64).collect(),
        strides: t.layout().strides().iter().map(|&s| s as i64).collect(),
        _tensor: t.clone(),
    });
    let dl_tensor = DLTensor {
        data,
        device: DLDevice { device_type: K_DL_CPU, device_id: 0 },
        ndim: t.ndim() as i32,
        dtype: DLDataType { code, bits, lanes: 1 },
        shape: ctx.shape.as_mut_ptr(),
        strides: ctx.strides.as_mut_ptr(),
        byte_offset: 0,
    };
    let manager_ctx = Box::into_raw(ctx) as *mut c_void;
    let (raw, name): (*mut c_void, &CStr) = if versioned {
        let m = Box::new(DLManagedTensorVersioned {
            version: DLPackVersion { major: 1, minor: 0 },
            manager_ctx,
            deleter: Some(dl_deleter_versioned),
            flags: 0,
            dl_tensor,
        });
        (Box::into_raw(m) as *mut c_void, DLTENSOR_VERSIONED_NAME)
    } else {
        let m = Box::new(DLManagedTensor { dl_tensor, manager_ctx, deleter: Some(dl_deleter) });
        (Box::into_raw(m) as *mut c_void, DLTENSOR_NAME)
    };
    // SAFETY: the capsule takes ownership of `raw`; its destructor frees it unless a consumer
    // took it (then the consumer calls the deleter). `data`, `shape` and `strides` stay valid
    // until the deleter runs: `Exported` owns the shape/stride vectors (never resized) and a
    // handle on the storage. When `PyCapsule_New` fails, nothing else has `raw`, so it is freed
    // here, once.
    unsafe {
        let cap = pyo3::ffi::PyCapsule_New(raw, name.as_ptr(), Some(capsule_destructor));
        if cap.is_null() {
            if versioned {
                dl_deleter_versioned(raw as *mut DLManagedTensorVersioned);
            } else {
                dl_deleter(raw as *mut DLManagedTensor);
            }
            return Err(PyErr::fetch(py));
        }
        Ok(Bound::from_owned_ptr(py, cap))
    }
}
