//! `backprop.Tensor`: the Python face of an engine tensor. Core protocol methods live here;
//! arithmetic, indexing, autograd and interop methods live in sibling files.

use super::tensor_slot::TensorSlot;
use super::convert::{describe, opt_device, opt_dtype, parse_device, parse_dtype, tensor_from_py, to_pylist, PyDType, PyDevice};
use crate::error::Error;
use crate::ops;
use crate::tensor::{DType, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

/// A multi-dimensional array on the CPU or the GPU that records the operations applied to it
/// when it (or an input) requires grad, so that `backward()` can compute gradients.
///
/// Create one with `backprop.tensor(data)`, `zeros`, `randn`, ... or `Tensor(data)`. Operators
/// (`+ - * / // % ** @`, comparisons, `& | ^ ~`) broadcast as in NumPy and PyTorch.
#[pyclass(name = "Tensor", module = "backprop", subclass, weakref, frozen)]
pub struct PyTensor {
    pub t: TensorSlot,
}

impl PyTensor {
    #[inline]
    pub fn wrap(t: Tensor) -> PyTensor {
        PyTensor { t: TensorSlot::new(t) }
    }
}

impl Drop for PyTensor {
    fn drop(&mut self) {
        super::leaf_owner::forget(self);
    }
}

impl From<Tensor> for PyTensor {
    fn from(t: Tensor) -> PyTensor {
        PyTensor::wrap(t)
    }
}

pub type TResult = PyResult<PyTensor>;

/// See `_data_moves`.
static DATA_MOVES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

/// How many times a tensor took other data over (another device, dtype or shape assigned to
/// `.data`, as `Module.to()` does): optimizers compare it between steps.
#[pyfunction]
pub fn _data_moves() -> u64 {
    DATA_MOVES.load(std::sync::atomic::Ordering::Relaxed)
}

pub fn ok(t: crate::Result<Tensor>) -> TResult {
    Ok(PyTensor::wrap(t?))
}

/// A copy of `t`'s whole storage (once per storage and memo), viewed with `t`'s layout.
fn deep_copy(py: Python<'_>, t: &Tensor, memo: Option<&Bound<'_, PyDict>>) -> PyResult<Tensor> {
    let _guard = crate::autograd::GradModeGuard::new(false);
    let key = ("backprop.storage", crate::tensor::StorageRef::as_ptr(t.storage()) as usize);
    let cached = match memo {
        Some(m) => match m.get_item(key)? {
            Some(b) => Some(b.cast::<PyTensor>()?.get().t.clone()),
            None => None,
        },
        None => None,
    };
    let base = match cached {
        Some(b) => b,
        None => {
            let whole = t.with_layout(crate::tensor::Layout::contiguous(&[t.storage().storage.len()]))?;
            let b = crate::backend::cast(&whole, t.dtype())?;
            if let Some(m) = memo {
                m.set_item(key, Bound::new(py, PyTensor::wrap(b.clone()))?)?;
            }
            b
        }
    };
    Ok(base.with_layout(t.layout().clone())?)
}

#[pymethods]
impl PyTensor {
    /// `Tensor(data)`: a float32 tensor from data; from another tensor, a new handle that shares
    /// its storage (what `nn.Parameter(t)` relies on).
    #[new]
    #[pyo3(signature = (data = None, *, dtype = None, device = None, requires_grad = false))]
    fn py_new(
        data: Option<&Bound<'_, PyAny>>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        requires_grad: bool,
    ) -> PyResult<PyTensor> {
        let dtype = opt_dtype(dtype)?;
        let t = match data {
            None => Tensor::from_vec(Vec::<f32>::new(), &[0])?,
            Some(d) => match d.cast::<PyTensor>() {
                Ok(src) => {
                    let t = src.get().t.detach();
                    match dtype {
                        Some(dt) if dt != t.dtype() => ops::cast(&t, dt)?,
                        _ => t,
                    }
                }
                Err(_) => tensor_from_py(d, Some(dtype.unwrap_or_else(super::defaults::float_dtype)), opt_device(device)?)?,
            },
        };
        let t = match device {
            Some(dev) if !dev.is_none() => ops::to_device(&t, parse_device(dev)?)?,
            _ => t,
        };
        if requires_grad {
            t.set_requires_grad(true)?;
        }
        Ok(PyTensor::wrap(t))
    }

    /// The size of each dimension, as a tuple of ints.
    #[getter]
    fn shape<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::tensor_names::size_of(py, self.t.shape())
    }

    /// The number of dimensions (0 for a scalar tensor).
    #[getter]
    fn ndim(&self) -> usize {
        self.t.ndim()
    }

    /// The element type (`backprop.float32`, `float64`, `int64`, `bool`, ...).
    #[getter]
    fn dtype(&self) -> PyDType {
        PyDType { dtype: self.t.dtype() }
    }

    /// The device holding the data: `device(type='cpu')` or `device(type='gpu')`.
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice { device: self.t.device() }
    }

    /// True when the tensor lives on the GPU (PyTorch's name; backprop's GPU is any wgpu adapter).
    #[getter]
    fn is_cuda(&self) -> bool {
        self.t.device() == crate::tensor::Device::Gpu
    }

    /// Whether autograd records operations on this tensor (settable on leaves).
    #[getter]
    fn get_requires_grad(&self) -> bool {
        self.t.requires_grad()
    }

    #[setter]
    fn set_requires_grad(slf: &Bound<'_, Self>, value: bool) -> PyResult<()> {
        super::leaf_owner::set_requires_grad(slf, value)
    }

    /// The gradient accumulated by `backward()` (leaves, and non-leaves after `retain_grad()`), or None.
    #[getter]
    fn get_grad(&self) -> Option<PyTensor> {
        self.t.grad().map(PyTensor::wrap)
    }

    #[setter]
    fn set_grad(&self, value: Option<&Bound<'_, PyAny>>) -> PyResult<()> {
        let g = match value {
            None => None,
            Some(v) if v.is_none() => None,
            Some(v) => {
                let g = v
                    .cast::<PyTensor>()
                    .map_err(|_| PyTypeError::new_err(format!("assigned grad must be a Tensor or None, got {}", describe(v))))?
                    .get()
                    .t
                    .clone();
                if g.shape() != self.t.shape() || g.dtype() != self.t.dtype() || g.device() != self.t.device() {
                    return Err(Error::Shape(format!(
                        "assigned grad has {} {:?} on {}, but the tensor is {} {:?} on {}",
                        g.dtype().name(),
                        g.shape(),
                        g.device().name(),
                        self.t.dtype().name(),
                        self.t.shape(),
                        self.t.device().name()
                    ))
                    .into());
                }
                Some(g)
            }
        };
        self.t.set_grad(g);
        Ok(())
    }

    /// True for tensors not produced by a recorded operation (user-created, or with requires_grad False).
    #[getter]
    fn is_leaf(&self) -> bool {
        self.t.is_leaf()
    }

    /// The same data without autograd history.
    #[getter]
    fn get_data(&self) -> PyTensor {
        PyTensor::wrap(self.t.detach())
    }

    /// `t.data = other`: this tensor now holds `other`'s values, bypassing autograd. With the
    /// same shape, dtype and device they are copied in; otherwise this tensor takes `other`'s
    /// data over (shares it, as in PyTorch) and stays the same object with the same
    /// requires_grad, grad and hooks: how `Module.to()` moves a parameter.
    #[setter]
    fn set_data(&self, value: &Bound<'_, PyTensor>) -> PyResult<()> {
        let src = &value.get().t;
        if src.shares_storage(&self.t) && src.layout() == self.t.layout() && src.dtype() == self.t.dtype() {
            return Ok(());
        }
        if src.shape() == self.t.shape() && src.dtype() == self.t.dtype() && src.device() == self.t.device() {
            let _guard = crate::autograd::GradModeGuard::new(false);
            return Ok(ops::copy_(&self.t.detach(), src)?);
        }
        let rebound = self.t.rebound_to(src)?;
        super::leaf_owner::hand_over(&self.t, &rebound);
        self.t.replace(rebound);
        DATA_MOVES.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// `size()` is the shape as a tuple; `size(dim)` is the length of one dimension (negative dims count from the end).
    #[pyo3(signature = (dim = None))]
    fn size<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => super::tensor_names::size_of(py, self.t.shape()),
            Some(d) => {
                let d = crate::tensor::normalize_dim(d, self.t.ndim(), "size")?;
                Ok(self.t.shape()[d].into_pyobject(py)?.into_any())
            }
        }
    }

    /// `stride()` is each dimension's step in elements; `stride(dim)` is one of them.
    #[pyo3(signature = (dim = None))]
    fn stride<'py>(&self, py: Python<'py>, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(PyTuple::new(py, self.t.layout().strides())?.into_any()),
            Some(d) => {
                let d = crate::tensor::normalize_dim(d, self.t.ndim(), "stride")?;
                Ok(self.t.layout().strides()[d].into_pyobject(py)?.into_any())
            }
        }
    }

    /// The index of this view's first element within its storage.
    fn storage_offset(&self) -> usize {
        self.t.layout().offset()
    }

    /// Address of this tensor's first element (CPU tensors; GPU memory has no host address).
    fn data_ptr(&self) -> PyResult<usize> {
        let storage = self.t.cpu_storage("data_ptr")?;
        Ok(storage.as_ptr() as usize + self.t.layout().offset() * self.t.dtype().size())
    }

    /// The number of dimensions (same as `ndim`).
    fn dim(&self) -> usize {
        self.t.ndim()
    }

    /// The number of elements (the product of the shape).
    fn numel(&self) -> usize {
        self.t.numel()
    }

    /// The number of elements (same as `numel()`).
    fn nelement(&self) -> usize {
        self.t.numel()
    }

    /// The size of one element in bytes.
    fn element_size(&self) -> usize {
        self.t.dtype().size()
    }

    /// True when the elements are laid out row-major without gaps.
    fn is_contiguous(&self) -> bool {
        self.t.is_contiguous()
    }

    /// True for floating-point dtypes.
    fn is_floating_point(&self) -> bool {
        self.t.dtype().is_float()
    }

    /// The value of a one-element tensor as a Python number.
    fn item<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        if self.t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "item: only one-element tensors can be converted to Python numbers, this one has shape {:?}",
                self.t.shape()
            )));
        }
        to_pylist(py, &ops::reshape(&self.t.detach(), &[])?)
    }

    /// The values as (nested) Python lists of numbers; a 0-d tensor gives a number.
    fn tolist<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        to_pylist(py, &self.t)
    }

    fn __float__(&self) -> PyResult<f64> {
        Ok(crate::backend::item(&self.t)?)
    }

    fn __int__(&self) -> PyResult<i64> {
        Ok(crate::backend::item(&self.t)? as i64)
    }

    fn __index__(&self) -> PyResult<i64> {
        if !self.t.dtype().is_int() || self.t.numel() != 1 {
            return Err(PyTypeError::new_err("only one-element integer tensors can be used as an index"));
        }
        Ok(crate::backend::item(&self.t)? as i64)
    }

    fn __bool__(&self) -> PyResult<bool> {
        if self.t.numel() != 1 {
            return Err(PyValueError::new_err(format!(
                "the truth value of a tensor with {} elements is ambiguous; use .any() or .all()",
                self.t.numel()
            )));
        }
        Ok(crate::backend::item(&self.t)? != 0.0)
    }

    fn __len__(&self) -> PyResult<usize> {
        if self.t.ndim() == 0 {
            return Err(PyTypeError::new_err("len() of a 0-d tensor"));
        }
        Ok(self.t.shape()[0])
    }

    fn __iter__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let t = &slf.get().t;
        if t.ndim() == 0 {
            return Err(PyTypeError::new_err("iteration over a 0-d tensor"));
        }
        let rows: Vec<PyTensor> = (0..t.shape()[0] as isize).map(|i| ok(ops::select(t, 0, i))).collect::<PyResult<_>>()?;
        pyo3::types::PyList::new(slf.py(), rows)?.try_iter().map(|i| i.into_any())
    }

    fn __hash__(slf: &Bound<'_, Self>) -> isize {
        slf.as_ptr() as isize
    }

    fn __repr__(slf: &Bound<'_, Self>) -> PyResult<String> {
        let py = slf.py();
        py.import("backprop._repr")?.call_method1("tensor_repr", (slf,))?.extract()
    }

    fn __format__(slf: &Bound<'_, Self>, spec: &str) -> PyResult<String> {
        let t = &slf.get().t;
        if t.numel() == 1 && !spec.is_empty() {
            let item = slf.get().item(slf.py())?;
            return item.call_method1("__format__", (spec,))?.extract();
        }
        Self::__repr__(slf)
    }

    fn __reduce__<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("backprop._repr")?.call_method1("tensor_reduce", (slf,))
    }

    /// `copy.copy(t)`: as in PyTorch, a new leaf sharing `t`'s memory, with its
    /// requires_grad flag and without its gradient.
    fn __copy__(&self) -> PyResult<PyTensor> {
        let c = self.t.detach();
        if self.t.requires_grad() {
            c.set_requires_grad(true)?;
        }
        Ok(PyTensor::wrap(c))
    }

    /// `copy.deepcopy(t)`: new memory, the requires_grad flag and a copy of `.grad` kept; views
    /// of one storage copied in one deepcopy call share their new storage (the memo maps each
    /// storage to its copy). Only leaves can be deep-copied, as in PyTorch.
    #[pyo3(signature = (memo = None))]
    fn __deepcopy__(&self, py: Python<'_>, memo: Option<&Bound<'_, PyDict>>) -> PyResult<PyTensor> {
        if !self.t.is_leaf() {
            return Err(pyo3::exceptions::PyRuntimeError::new_err(
                "only tensors created explicitly by the user (graph leaves) support the deepcopy protocol; \
                 deep-copy t.detach() (or a leaf) instead",
            ));
        }
        let c = deep_copy(py, &self.t, memo)?;
        if self.t.requires_grad() {
            c.set_requires_grad(true)?;
        }
        if let Some(g) = self.t.grad() {
            c.set_grad(Some(deep_copy(py, &g, memo)?));
        }
        Ok(PyTensor::wrap(c))
    }

    /// `.to(device)`, `.to(dtype)`, `.to(other)`, `.to(device, dtype)`, keywords too.
    #[pyo3(signature = (*args, dtype = None, device = None, copy = false, non_blocking = false))]
    fn to(
        slf: &Bound<'_, Self>,
        args: &Bound<'_, PyTuple>,
        dtype: Option<&Bound<'_, PyAny>>,
        device: Option<&Bound<'_, PyAny>>,
        copy: bool,
        non_blocking: bool,
    ) -> PyResult<PyTensor> {
        let _ = non_blocking;
        let mut want_dtype = opt_dtype(dtype)?;
        let mut want_device = match device {
            Some(d) if !d.is_none() => Some(parse_device(d)?),
            _ => None,
        };
        for a in args.iter() {
            if let Ok(other) = a.cast::<PyTensor>() {
                want_dtype = Some(other.get().t.dtype());
                want_device = Some(other.get().t.device());
            } else if a.cast::<PyDType>().is_ok() {
                want_dtype = Some(parse_dtype(&a)?);
            } else if a.cast::<PyDevice>().is_ok() || a.extract::<String>().is_ok_and(|s| parse_device_str_ok(&s)) {
                want_device = Some(parse_device(&a)?);
            } else if a.extract::<String>().is_ok_and(|s| super::convert::numpy_name_to_dtype(&s).is_none()) {
                // Neither a dtype nor a known device name: say so as a device error.
                want_device = Some(parse_device(&a)?);
            } else {
                want_dtype = Some(parse_dtype(&a)?);
            }
        }
        let mut t = slf.get().t.clone();
        // Convert on the CPU side of a move, so `x.to("gpu", float32)` works for float64 `x`.
        let to_gpu = want_device == Some(crate::tensor::Device::Gpu) && t.device() != crate::tensor::Device::Gpu;
        if let (true, Some(dt)) = (to_gpu, want_dtype) {
            t = ops::cast(&t, dt)?;
        }
        if let Some(d) = want_device {
            t = ops::to_device(&t, d)?;
        }
        if let Some(dt) = want_dtype {
            t = ops::cast(&t, dt)?;
        }
        if copy && t.same_handle(&slf.get().t) {
            t = ops::clone(&t)?;
        }
        Ok(PyTensor::wrap(t))
    }

    /// A copy on the CPU (the tensor itself when it is there already); differentiable.
    fn cpu(&self) -> TResult {
        ok(ops::to_device(&self.t, crate::tensor::Device::Cpu))
    }

    /// A copy on the GPU (the tensor itself when it is there already); differentiable.
    ///
    /// Args:
    ///     device: accepted for PyTorch compatibility (there is one GPU device).
    #[pyo3(signature = (device = None))]
    fn gpu(&self, device: Option<&Bound<'_, PyAny>>) -> TResult {
        let _ = device;
        ok(ops::to_device(&self.t, crate::tensor::Device::Gpu))
    }

    /// PyTorch's name for `gpu()`: a copy on the GPU.
    #[pyo3(signature = (device = None))]
    fn cuda(&self, device: Option<&Bound<'_, PyAny>>) -> TResult {
        self.gpu(device)
    }

    /// A float32 copy (the tensor itself when it is float32 already).
    fn float(&self) -> TResult {
        ok(ops::cast(&self.t, DType::F32))
    }
    /// A float64 copy (the tensor itself when it is float64 already).
    fn double(&self) -> TResult {
        ok(ops::cast(&self.t, DType::F64))
    }
    /// An int64 copy (the tensor itself when it is int64 already).
    fn long(&self) -> TResult {
        ok(ops::cast(&self.t, DType::I64))
    }
    /// An integer copy (PyTorch's `int()`).
    fn int(&self) -> TResult {
        ok(ops::cast(&self.t, DType::I32))
    }
    /// A bool copy: True where an element is non-zero.
    fn bool(&self) -> TResult {
        ok(ops::cast(&self.t, DType::Bool))
    }
    /// A copy cast to `other`'s dtype.
    fn type_as(&self, other: &PyTensor) -> TResult {
        ok(ops::cast(&self.t, other.t.dtype()))
    }
}

fn parse_device_str_ok(s: &str) -> bool {
    matches!(s.split(':').next().unwrap_or(""), "cpu" | "gpu" | "cuda" | "wgpu")
}
