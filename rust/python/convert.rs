//! Python values in and out: dtype and device objects, shapes, dims, nested sequences and
//! numbers to tensors, tensors to nested lists.

use super::tensor::PyTensor;
use crate::ops;
use crate::tensor::{numel, DType, Device, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt, PyList, PySequence, PyString, PyTuple};
use pyo3::IntoPyObjectExt;

/// `backprop.float32` and friends.
#[pyclass(name = "dtype", module = "backprop", frozen, eq, hash)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDType {
    pub dtype: DType,
}

#[pymethods]
impl PyDType {
    fn __repr__(&self) -> String {
        format!("backprop.{}", self.dtype.name())
    }
    fn __str__(&self) -> String {
        self.__repr__()
    }
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dtype.is_float()
    }
    #[getter]
    fn itemsize(&self) -> usize {
        self.dtype.size()
    }
    /// The NumPy name of this dtype (`np.dtype(x.dtype.name)`).
    #[getter]
    fn name(&self) -> &'static str {
        self.dtype.name()
    }
    fn __reduce__(&self) -> (String, ()) {
        (self.dtype.name().to_string(), ())
    }
}

/// `backprop.device("cpu")`, `backprop.device("gpu")` (`"cuda"` is accepted as the GPU).
#[pyclass(name = "device", module = "backprop", frozen, hash, eq)]
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct PyDevice {
    pub device: Device,
}

#[pymethods]
impl PyDevice {
    #[new]
    fn new(spec: &Bound<'_, PyAny>) -> PyResult<PyDevice> {
        Ok(PyDevice { device: parse_device(spec)? })
    }
    #[getter]
    fn r#type(&self) -> &'static str {
        self.device.name()
    }
    fn __repr__(&self) -> String {
        format!("device(type='{}')", self.device.name())
    }
    fn __str__(&self) -> &'static str {
        self.device.name()
    }
}

pub fn parse_dtype(obj: &Bound<'_, PyAny>) -> PyResult<DType> {
    if let Ok(d) = obj.cast::<PyDType>() {
        return Ok(d.get().dtype);
    }
    let name: String = if let Ok(s) = obj.cast::<PyString>() {
        s.to_string()
    } else if obj.is(obj.py().get_type::<PyBool>()) {
        "bool".into()
    } else if obj.is(obj.py().get_type::<PyInt>()) {
        "int64".into()
    } else if obj.is(obj.py().get_type::<PyFloat>()) {
        "float32".into()
    } else {
        // NumPy dtypes and scalar types (np.float32, np.dtype('int64')).
        let np = obj.py().import("numpy")?;
        np.call_method1("dtype", (obj,)).and_then(|d| d.getattr("name")).and_then(|n| n.extract()).map_err(|_| {
            PyTypeError::new_err(format!("expected a dtype such as backprop.float32, got {}", describe(obj)))
        })?
    };
    numpy_name_to_dtype(&name)
        .ok_or_else(|| PyTypeError::new_err(format!("unsupported dtype '{name}': backprop has float32, float64, int64 and bool")))
}

/// Maps NumPy dtype names onto ours (narrower ints widen to int64, float16 to float32).
pub fn numpy_name_to_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "float32" | "float" | "float16" => DType::F32,
        "float64" | "double" => DType::F64,
        "int64" | "long" | "int" | "int32" | "int16" | "int8" | "uint8" | "uint16" | "uint32" => DType::I64,
        "bool" => DType::Bool,
        _ => return None,
    })
}

pub fn opt_dtype(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<DType>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => parse_dtype(o).map(Some),
    }
}

pub fn parse_device(obj: &Bound<'_, PyAny>) -> PyResult<Device> {
    if let Ok(d) = obj.cast::<PyDevice>() {
        return Ok(d.get().device);
    }
    let s: String = obj
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("expected a device ('cpu' or 'gpu'), got {}", describe(obj))))?;
    let base = s.split(':').next().unwrap_or("");
    match base {
        "cpu" => Ok(Device::Cpu),
        "gpu" | "cuda" | "wgpu" => Ok(Device::Gpu),
        _ => Err(PyValueError::new_err(format!("unknown device '{s}': expected 'cpu' or 'gpu'"))),
    }
}

pub fn opt_device(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Device> {
    match obj {
        None => Ok(Device::Cpu),
        Some(o) if o.is_none() => Ok(Device::Cpu),
        Some(o) => parse_device(o),
    }
}

pub fn describe(obj: &Bound<'_, PyAny>) -> String {
    let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    let r = obj.repr().map(|r| r.to_string()).unwrap_or_default();
    let r = if r.len() > 40 { format!("{}...", &r[..40]) } else { r };
    format!("{r} ({ty})")
}

/// A size from `f(2, 3)`, `f((2, 3))` or `f([2, 3])`.
pub fn parse_shape(args: &Bound<'_, PyTuple>) -> PyResult<Vec<usize>> {
    if args.len() == 1 {
        let a = args.get_item(0)?;
        if !a.is_instance_of::<PyInt>() {
            return shape_from_seq(&a);
        }
    }
    shape_from_seq(args.as_any())
}

pub fn shape_from_seq(obj: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    if let Ok(i) = obj.extract::<i64>() {
        return to_dims(&[i]);
    }
    let v: Vec<i64> = obj
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("expected a shape (a tuple of ints), got {}", describe(obj))))?;
    to_dims(&v)
}

fn to_dims(v: &[i64]) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&d| {
            if d < 0 {
                Err(PyValueError::new_err(format!("negative dimension {d} in shape {v:?}")))
            } else {
                Ok(d as usize)
            }
        })
        .collect()
}

/// A shape that may hold one -1 (reshape/view), from varargs or a sequence.
pub fn parse_shape_signed(args: &Bound<'_, PyTuple>) -> PyResult<Vec<isize>> {
    let obj = if args.len() == 1 && !args.get_item(0)?.is_instance_of::<PyInt>() { args.get_item(0)? } else { args.clone().into_any() };
    obj.extract::<Vec<isize>>()
        .map_err(|_| PyTypeError::new_err(format!("expected a shape (ints, one may be -1), got {}", describe(&obj))))
}

/// `dim=None`, `dim=1` or `dim=(0, 1)`.
pub fn parse_dims(obj: Option<&Bound<'_, PyAny>>) -> PyResult<Option<Vec<isize>>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => {
            if let Ok(d) = o.extract::<isize>() {
                Ok(Some(vec![d]))
            } else {
                o.extract::<Vec<isize>>()
                    .map(Some)
                    .map_err(|_| PyTypeError::new_err(format!("expected a dim (int or tuple of ints), got {}", describe(o))))
            }
        }
    }
}

/// Python numbers become "wrapped" 0-dim tensors that lose type promotion to real tensors;
/// other operands (tensors, arrays, lists) convert normally. `None` means "not an operand".
pub fn operand(obj: &Bound<'_, PyAny>, like: &Tensor) -> PyResult<Option<Tensor>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(Some(t.get().t.clone()));
    }
    let float_like = like.dtype().is_float();
    let (value, dtype) = if let Ok(f) = obj.cast::<PyFloat>() {
        (f.value(), if float_like { like.dtype() } else { DType::F32 })
    } else if obj.is_instance_of::<PyBool>() {
        let b: bool = obj.extract()?;
        (b as u8 as f64, if float_like { like.dtype() } else { DType::Bool })
    } else if let Ok(i) = obj.cast::<PyInt>() {
        let v: i64 = i.extract()?;
        (v as f64, if float_like { like.dtype() } else { DType::I64 })
    } else if is_convertible(obj) {
        return Ok(Some(tensor_from_py(obj, None, like.device())?));
    } else {
        return Ok(None);
    };
    Ok(Some(crate::backend::wrapped_number(value, dtype, like.device())?))
}

fn is_convertible(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() || obj.hasattr("__array__").unwrap_or(false)
}

/// Data of a nested sequence, gathered depth-first.
enum Flat {
    Bool(Vec<bool>),
    Int(Vec<i64>),
    Float(Vec<f64>),
}

/// Converts `data` (number, nested sequence, NumPy array, tensor) into a new tensor.
pub fn tensor_from_py(data: &Bound<'_, PyAny>, dtype: Option<DType>, device: Device) -> PyResult<Tensor> {
    let t = tensor_from_py_cpu(data, dtype)?;
    Ok(ops::to_device(&t, device)?)
}

fn tensor_from_py_cpu(data: &Bound<'_, PyAny>, dtype: Option<DType>) -> PyResult<Tensor> {
    if let Ok(t) = data.cast::<PyTensor>() {
        let src = &t.get().t;
        let d = dtype.unwrap_or(src.dtype());
        return Ok(crate::backend::cast(&crate::backend::to_cpu(src)?, d)?);
    }
    if let Ok(f) = data.cast::<PyFloat>() {
        return Ok(Tensor::scalar(f.value(), dtype.unwrap_or(DType::F32)));
    }
    if data.is_instance_of::<PyBool>() {
        let b: bool = data.extract()?;
        return Ok(Tensor::scalar(b as u8 as f64, dtype.unwrap_or(DType::Bool)));
    }
    if let Ok(i) = data.cast::<PyInt>() {
        let v: i64 = i.extract().map_err(|_| PyValueError::new_err(format!("integer {} does not fit in int64", describe(data))))?;
        return Ok(match dtype.unwrap_or(DType::I64) {
            DType::I64 => Tensor::from_vec(vec![v], &[])?,
            d => Tensor::scalar(v as f64, d),
        });
    }
    if data.hasattr("__array__")? && !data.is_instance_of::<PyList>() && !data.is_instance_of::<PyTuple>() {
        let t = super::interop::tensor_from_array_copy(data)?;
        return Ok(match dtype {
            Some(d) if d != t.dtype() => crate::backend::cast(&t, d)?,
            _ => t,
        });
    }
    let seq = data.cast::<PySequence>().map_err(|_| {
        PyTypeError::new_err(format!("tensor: could not convert {} to a tensor; expected a number, a (nested) list or an array", describe(data)))
    })?;
    let mut shape = Vec::new();
    probe_shape(seq.as_any(), &mut shape)?;
    let n = numel(&shape);
    let mut flat = Flat::Bool(Vec::with_capacity(n));
    collect(seq.as_any(), &shape, 0, &mut flat)?;
    let t = match flat {
        Flat::Bool(v) => Tensor::from_vec(v, &shape)?,
        Flat::Int(v) => Tensor::from_vec(v, &shape)?,
        Flat::Float(v) => crate::backend::cast(&Tensor::from_vec(v, &shape)?, dtype.unwrap_or(DType::F32).to_float())?,
    };
    Ok(match dtype {
        Some(d) if d != t.dtype() => crate::backend::cast(&t, d)?,
        _ => t,
    })
}

fn is_scalar(obj: &Bound<'_, PyAny>) -> bool {
    obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>() || obj.cast::<PyTensor>().map(|t| t.get().t.ndim() == 0).unwrap_or(false)
}

fn probe_shape(obj: &Bound<'_, PyAny>, shape: &mut Vec<usize>) -> PyResult<()> {
    if is_scalar(obj) {
        return Ok(());
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        shape.extend_from_slice(t.get().t.shape());
        return Ok(());
    }
    if obj.is_instance_of::<PyString>() {
        return Err(PyTypeError::new_err(format!("tensor: could not convert {} to a number", describe(obj))));
    }
    let seq = obj
        .cast::<PySequence>()
        .map_err(|_| PyTypeError::new_err(format!("tensor: could not convert {} to a number", describe(obj))))?;
    let len = seq.len()?;
    shape.push(len);
    if len > 0 {
        probe_shape(&seq.get_item(0)?, shape)?;
    }
    Ok(())
}

fn collect(obj: &Bound<'_, PyAny>, shape: &[usize], depth: usize, out: &mut Flat) -> PyResult<()> {
    if depth == shape.len() {
        return push_number(obj, out);
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t.get().t;
        if t.shape() != &shape[depth..] {
            return Err(PyValueError::new_err(format!("tensor: expected a tensor of shape {:?} at depth {depth}, got {:?}", &shape[depth..], t.shape())));
        }
        let v = crate::backend::to_vec::<f64>(&crate::backend::cast(t, DType::F64)?)?;
        for x in v {
            push_value(out, Value::Float(x));
        }
        return Ok(());
    }
    let seq = obj
        .cast::<PySequence>()
        .map_err(|_| PyValueError::new_err(format!("tensor: expected a sequence of length {} at dim {depth}, got {}", shape[depth], describe(obj))))?;
    let len = seq.len()?;
    if len != shape[depth] {
        return Err(PyValueError::new_err(format!(
            "tensor: ragged nested sequence: expected a sequence of length {} at dim {depth} (got {len})",
            shape[depth]
        )));
    }
    for i in 0..len {
        collect(&seq.get_item(i)?, shape, depth + 1, out)?;
    }
    Ok(())
}

enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
}

fn push_number(obj: &Bound<'_, PyAny>, out: &mut Flat) -> PyResult<()> {
    let v = if let Ok(f) = obj.cast::<PyFloat>() {
        Value::Float(f.value())
    } else if obj.is_instance_of::<PyBool>() {
        Value::Bool(obj.extract()?)
    } else if let Ok(i) = obj.extract::<i64>() {
        Value::Int(i)
    } else if let Ok(t) = obj.cast::<PyTensor>() {
        Value::Float(crate::backend::item(&t.get().t)?)
    } else if let Ok(f) = obj.extract::<f64>() {
        Value::Float(f)
    } else {
        return Err(PyTypeError::new_err(format!("tensor: could not convert {} to a number", describe(obj))));
    };
    push_value(out, v);
    Ok(())
}

/// Appends a value, widening the collected dtype (bool < int < float) when needed.
fn push_value(out: &mut Flat, v: Value) {
    match (&mut *out, v) {
        (Flat::Bool(b), Value::Bool(x)) => b.push(x),
        (Flat::Int(b), Value::Int(x)) => b.push(x),
        (Flat::Int(b), Value::Bool(x)) => b.push(x as i64),
        (Flat::Float(b), Value::Float(x)) => b.push(x),
        (Flat::Float(b), Value::Int(x)) => b.push(x as f64),
        (Flat::Float(b), Value::Bool(x)) => b.push(x as u8 as f64),
        (Flat::Bool(b), Value::Int(x)) => {
            let mut w: Vec<i64> = b.iter().map(|&y| y as i64).collect();
            w.push(x);
            *out = Flat::Int(w);
        }
        (Flat::Bool(b), Value::Float(x)) => {
            let mut w: Vec<f64> = b.iter().map(|&y| y as u8 as f64).collect();
            w.push(x);
            *out = Flat::Float(w);
        }
        (Flat::Int(b), Value::Float(x)) => {
            let mut w: Vec<f64> = b.iter().map(|&y| y as f64).collect();
            w.push(x);
            *out = Flat::Float(w);
        }
    }
}

/// Nested Python lists (or a number for 0-dim tensors).
pub fn to_pylist<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let t = crate::backend::to_cpu(t)?;
    crate::with_dtype!(t.dtype(), T => {
        let v = t.to_vec::<T>()?;
        nest(py, &v, t.shape())
    })
}

fn nest<'py, T>(py: Python<'py>, v: &[T], shape: &[usize]) -> PyResult<Bound<'py, PyAny>>
where
    T: Copy + for<'a> IntoPyObject<'a>,
{
    if shape.is_empty() {
        return v[0].into_bound_py_any(py);
    }
    let step = if shape[0] == 0 { 0 } else { v.len() / shape[0] };
    let items: Vec<Bound<'py, PyAny>> = (0..shape[0]).map(|i| nest(py, &v[i * step..(i + 1) * step], &shape[1..])).collect::<PyResult<_>>()?;
    Ok(PyList::new(py, items)?.into_any())
}
