//! PyTorch's names on `Tensor` that real scripts use: `shape`/`size()` as a `backprop.Size`,
//! `type()`, the `new_*` factories, `ndimension`, `nbytes`, `itemsize`, `is_cpu`. (`get_device`
//! and the errors for the names PyTorch has and backprop lacks are set from Python, in
//! `backprop/_tensor_names.py`, which says why.)

use super::convert::{parse_device, parse_dtype, parse_shape, shape_from_seq, tensor_from_py};
use super::tensor::{PyTensor, TResult};
use crate::ops;
use crate::tensor::{DType, Device};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyString, PyTuple};

static SIZE_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `shape` as a `backprop.Size` (the tuple subclass of `backprop._size`).
pub fn size_of<'py>(py: Python<'py>, shape: &[usize]) -> PyResult<Bound<'py, PyAny>> {
    let ty = SIZE_TYPE.get_or_try_init(py, || -> PyResult<Py<PyAny>> { Ok(py.import("backprop._size")?.getattr("Size")?.unbind()) })?;
    ty.bind(py).call1((PyTuple::new(py, shape)?,))
}

/// PyTorch's legacy tensor-type names, by dtype.
const TYPE_NAMES: &[(&str, &str)] = &[
    ("FloatTensor", "float32"),
    ("DoubleTensor", "float64"),
    ("HalfTensor", "float16"),
    ("BFloat16Tensor", "bfloat16"),
    ("LongTensor", "int64"),
    ("IntTensor", "int32"),
    ("ShortTensor", "int16"),
    ("CharTensor", "int8"),
    ("ByteTensor", "uint8"),
    ("BoolTensor", "bool"),
];

fn type_name(dtype: DType, device: Device) -> String {
    let class = TYPE_NAMES.iter().find(|(_, d)| *d == dtype.name()).map_or("Tensor", |(c, _)| *c);
    match device {
        Device::Cpu => format!("backprop.{class}"),
        Device::Gpu => format!("backprop.gpu.{class}"),
    }
}

/// A legacy type name ("torch.FloatTensor", "backprop.cuda.LongTensor", ...) as its dtype
/// name and device.
fn parse_type_name(name: &str) -> Option<(&'static str, Device)> {
    let rest = name.strip_prefix("torch.").or_else(|| name.strip_prefix("backprop."))?;
    let (device, class) = match rest.split_once('.') {
        Some(("cuda" | "gpu", class)) => (Device::Gpu, class),
        Some(_) => return None,
        None => (Device::Cpu, rest),
    };
    TYPE_NAMES.iter().find(|(c, _)| *c == class).map(|(_, d)| (*d, device))
}

#[pymethods]
impl PyTensor {
    /// `type()`: the legacy type name ("backprop.FloatTensor", "backprop.gpu.LongTensor").
    /// `type(dtype)`: this tensor cast to `dtype` (self when it already is); the dtype may be
    /// a legacy name, "torch.DoubleTensor" or "backprop.DoubleTensor" (".cuda."/".gpu."
    /// names move it to the GPU too).
    #[pyo3(name = "type", signature = (dtype = None, non_blocking = false))]
    fn type_<'py>(slf: &Bound<'py, Self>, dtype: Option<&Bound<'py, PyAny>>, non_blocking: bool) -> PyResult<Bound<'py, PyAny>> {
        let _ = non_blocking;
        let py = slf.py();
        let t = &slf.get().t;
        let Some(dtype) = dtype.filter(|d| !d.is_none()) else {
            return Ok(PyString::new(py, &type_name(t.dtype(), t.device())).into_any());
        };
        let (target, device) = match dtype.cast::<PyString>() {
            Ok(s) => {
                let s = s.to_str()?;
                let (name, device) =
                    parse_type_name(s).ok_or_else(|| PyValueError::new_err(format!("type: invalid type: '{s}'; expected a dtype or a name such as 'torch.FloatTensor'")))?;
                (parse_dtype(PyString::new(py, name).as_any())?, device)
            }
            Err(_) => (parse_dtype(dtype)?, t.device()),
        };
        if target == t.dtype() && device == t.device() {
            return Ok(slf.clone().into_any());
        }
        let moved = ops::to_device(t, device)?;
        let out = if target == moved.dtype() { moved } else { ops::cast(&moved, target)? };
        Ok(Bound::new(py, PyTensor::wrap(out))?.into_any())
    }

    /// The number of dimensions (the same as `dim()`).
    fn ndimension(&self) -> usize {
        self.t.ndim()
    }

    /// The bytes the elements take: `numel() * itemsize`.
    #[getter]
    fn nbytes(&self) -> usize {
        self.t.numel() * self.t.dtype().size()
    }

    /// The bytes one element takes (the same as `element_size()`).
    #[getter]
    fn itemsize(&self) -> usize {
        self.t.dtype().size()
    }

    /// Whether the tensor lives in host memory.
    #[getter]
    fn is_cpu(&self) -> bool {
        self.t.device() == Device::Cpu
    }

    /// `new_zeros(*size, dtype=None, device=None, requires_grad=False)`: zeros with this
    /// tensor's dtype and device unless given.
    #[pyo3(signature = (*size, dtype = None, device = None, requires_grad = false))]
    fn new_zeros(&self, size: &Bound<'_, PyTuple>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> TResult {
        self.new_filled(&parse_shape(size)?, 0.0, dtype, device, requires_grad)
    }

    /// `new_ones(*size, dtype=None, device=None, requires_grad=False)`: ones with this
    /// tensor's dtype and device unless given.
    #[pyo3(signature = (*size, dtype = None, device = None, requires_grad = false))]
    fn new_ones(&self, size: &Bound<'_, PyTuple>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> TResult {
        self.new_filled(&parse_shape(size)?, 1.0, dtype, device, requires_grad)
    }

    /// `new_empty(*size, dtype=None, device=None, requires_grad=False)`: an uninitialised
    /// (here zero-filled) tensor with this tensor's dtype and device unless given.
    #[pyo3(signature = (*size, dtype = None, device = None, requires_grad = false))]
    fn new_empty(&self, size: &Bound<'_, PyTuple>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> TResult {
        self.new_filled(&parse_shape(size)?, 0.0, dtype, device, requires_grad)
    }

    /// `new_full(size, fill_value, dtype=None, device=None, requires_grad=False)`: filled
    /// with `fill_value`, with this tensor's dtype and device unless given.
    #[pyo3(signature = (size, fill_value, *, dtype = None, device = None, requires_grad = false))]
    fn new_full(&self, size: &Bound<'_, PyAny>, fill_value: f64, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> TResult {
        self.new_filled(&shape_from_seq(size)?, fill_value, dtype, device, requires_grad)
    }

    /// `new_tensor(data, dtype=None, device=None, requires_grad=False)`: a copy of `data` as
    /// a tensor with this tensor's dtype and device unless given.
    #[pyo3(signature = (data, *, dtype = None, device = None, requires_grad = false))]
    fn new_tensor(&self, data: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> TResult {
        let (d, dev) = self.new_args(dtype, device)?;
        // Always a copy, never a view of the source (as in PyTorch).
        let t = match data.cast::<PyTensor>() {
            Ok(src) => crate::backend::cast(&crate::backend::to_device(&src.get().t.detach(), dev)?, d)?,
            Err(_) => tensor_from_py(data, Some(d), dev)?,
        };
        if requires_grad {
            t.set_requires_grad(true)?;
        }
        Ok(PyTensor::wrap(t))
    }
}

impl PyTensor {
    fn new_args(&self, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>) -> PyResult<(DType, Device)> {
        let d = match dtype {
            Some(d) if !d.is_none() => parse_dtype(d)?,
            _ => self.t.dtype(),
        };
        let dev = match device {
            Some(x) if !x.is_none() => parse_device(x)?,
            _ => self.t.device(),
        };
        Ok((d, dev))
    }

    fn new_filled(&self, shape: &[usize], value: f64, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> TResult {
        let (d, dev) = self.new_args(dtype, device)?;
        let t = ops::full(shape, value, d, dev)?;
        if requires_grad {
            t.set_requires_grad(true)?;
        }
        Ok(PyTensor::wrap(t))
    }
}
