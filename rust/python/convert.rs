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
    /// True for floating-point dtypes.
    #[getter]
    fn is_floating_point(&self) -> bool {
        self.dtype.is_float()
    }
    /// The size of one element in bytes.
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
    /// The device kind: `"cpu"` or `"gpu"`.
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
    numpy_name_to_dtype(&name).ok_or_else(|| PyTypeError::new_err(format!("unsupported dtype '{name}': backprop has {DTYPE_NAMES}")))
}

/// The dtypes backprop has, for error messages.
pub const DTYPE_NAMES: &str = "bool, uint8, int8, int16, int32, int64, float16, bfloat16, float32 and float64";

/// Maps dtype names (NumPy's, and PyTorch's aliases such as "half" and "long") onto ours;
/// every dtype keeps its width (a name we lack, such as uint16, is `None`, never widened).
pub fn numpy_name_to_dtype(name: &str) -> Option<DType> {
    Some(match name {
        "float" => DType::F32,
        "double" => DType::F64,
        "half" => DType::F16,
        "long" => DType::I64,
        // NumPy's meaning of the string ("int" is int64 there); `backprop.int` is int32.
        "int" => DType::I64,
        "short" => DType::I16,
        _ => return DType::from_name(name),
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
        None => Ok(super::defaults::device()),
        Some(o) if o.is_none() => Ok(super::defaults::device()),
        Some(o) => parse_device(o),
    }
}

pub fn describe(obj: &Bound<'_, PyAny>) -> String {
    let ty = obj.get_type().name().map(|n| n.to_string()).unwrap_or_else(|_| "?".into());
    let r = obj.repr().map(|r| r.to_string()).unwrap_or_default();
    let r = truncate_chars(&r, 40);
    format!("{r} ({ty})")
}

/// At most `max` characters of `s` (cut on a character boundary), with "..." when cut.
pub fn truncate_chars(s: &str, max: usize) -> String {
    match s.char_indices().nth(max) {
        Some((cut, _)) => format!("{}...", &s[..cut]),
        None => s.to_string(),
    }
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
    if obj.is_instance_of::<PyInt>() {
        return to_dims(&[size_int(obj, obj)?]);
    }
    let not_a_shape = || PyTypeError::new_err(format!("expected a shape (a tuple of ints), got {}", describe(obj)));
    if obj.is_instance_of::<PyString>() {
        return Err(not_a_shape());
    }
    let seq = obj.cast::<PySequence>().map_err(|_| not_a_shape())?;
    let mut v = Vec::with_capacity(seq.len().unwrap_or(0));
    for item in seq.try_iter()? {
        let item = item?;
        if !item.is_instance_of::<PyInt>() && !item.hasattr("__index__")? {
            return Err(not_a_shape());
        }
        v.push(size_int(&item, obj)?);
    }
    to_dims(&v)
}

/// One size of a shape: an int that fits in 64 bits (a ValueError naming the shape otherwise).
fn size_int(item: &Bound<'_, PyAny>, shape: &Bound<'_, PyAny>) -> PyResult<i64> {
    item.extract::<i64>().map_err(|_| {
        PyValueError::new_err(format!("size {} in shape {} does not fit in a 64-bit size", truncate_chars(&item.to_string(), 40), describe(shape)))
    })
}

/// A count argument (`eye(n)`, `randperm(n)`, `linspace(steps=)`): negative is a ValueError
/// naming the op, not an OverflowError from unsigned conversion.
pub fn count_arg(v: i64, what: &str, op: &str) -> PyResult<usize> {
    usize::try_from(v).map_err(|_| PyValueError::new_err(format!("{op}: {what} must be non-negative, got {v}")))
}

fn to_dims(v: &[i64]) -> PyResult<Vec<usize>> {
    v.iter()
        .map(|&d| {
            if d < 0 {
                Err(PyValueError::new_err(format!("trying to create a tensor with negative dimension {d}: {v:?}; sizes must be >= 0")))
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
    // Before the number cases: NumPy scalars (np.float64 is a float subclass) keep their dtype.
    if data.hasattr("__array__")? && !data.is_instance_of::<PyList>() && !data.is_instance_of::<PyTuple>() {
        let t = super::interop::tensor_from_array_copy(data)?;
        return Ok(match dtype {
            Some(d) if d != t.dtype() => crate::backend::cast(&t, d)?,
            _ => t,
        });
    }
    if let Ok(f) = data.cast::<PyFloat>() {
        return Ok(Tensor::scalar(f.value(), dtype.unwrap_or(super::defaults::float_dtype())));
    }
    if data.is_instance_of::<PyBool>() {
        let b: bool = data.extract()?;
        return Ok(Tensor::scalar(b as u8 as f64, dtype.unwrap_or(DType::Bool)));
    }
    if let Ok(i) = data.cast::<PyInt>() {
        return Ok(match (i.extract::<i64>(), dtype) {
            (Ok(v), None | Some(DType::I64)) => Tensor::from_vec(vec![v], &[])?,
            (_, Some(d)) if d.is_float() => Tensor::scalar(i.extract::<f64>()?, d),
            (Ok(v), Some(d)) => Tensor::scalar(v as f64, d),
            (Err(_), _) => return Err(int_overflow(data)),
        });
    }
    let seq = data.cast::<PySequence>().map_err(|_| {
        PyTypeError::new_err(format!("tensor: could not convert {} to a tensor; expected a number, a (nested) list or an array", describe(data)))
    })?;
    let shape = probe_shape(seq.as_any())?;
    let n = crate::tensor::checked_numel(&shape, "tensor")?;
    let mut flat = Flat::Bool(crate::alloc::buffer::with_capacity(n, &shape, "tensor")?);
    let mut saw = Seen::default();
    collect(seq.as_any(), &shape, &mut flat, &mut saw)?;
    let t = match flat {
        Flat::Bool(v) => Tensor::from_vec(v, &shape)?,
        Flat::Int(v) => Tensor::from_vec(v, &shape)?,
        Flat::Float(_) if saw.big_int && !saw.float && !dtype.is_some_and(|d| d.is_float()) => return Err(int_overflow(data)),
        Flat::Float(v) => {
            let inferred = if saw.float64 { DType::F64 } else { super::defaults::float_dtype() };
            crate::backend::cast(&Tensor::from_vec(v, &shape)?, dtype.unwrap_or(inferred).to_float())?
        }
    };
    Ok(match dtype {
        Some(d) if d != t.dtype() => crate::backend::cast(&t, d)?,
        _ => t,
    })
}

fn int_overflow(data: &Bound<'_, PyAny>) -> PyErr {
    PyValueError::new_err(format!(
        "tensor: overflow when unpacking an integer of {}: int64 holds values in [-2**63, 2**63 - 1]; pass dtype=backprop.float64 for a float tensor",
        describe(data)
    ))
}

/// What the elements told about the dtype beyond bool < int < float.
#[derive(Default)]
struct Seen {
    /// A NumPy float64 scalar: the result is float64, as in PyTorch.
    float64: bool,
    /// An int outside int64: only a float result may hold it (carried as a float meanwhile).
    big_int: bool,
    /// A float element (not counting big ints): the result is a float tensor anyway.
    float: bool,
    /// The value being pushed is a big int.
    pending_big: bool,
}

/// A number, a 0-dim tensor, or a NumPy scalar / 0-dim array (anything with `ndim == 0`).
fn is_scalar(obj: &Bound<'_, PyAny>) -> bool {
    if obj.is_instance_of::<PyFloat>() || obj.is_instance_of::<PyInt>() {
        return true;
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        return t.get().t.ndim() == 0;
    }
    if obj.is_instance_of::<PyString>() || obj.is_instance_of::<PyList>() || obj.is_instance_of::<PyTuple>() {
        return false;
    }
    match obj.getattr("ndim").and_then(|d| d.extract::<usize>()) {
        Ok(ndim) => ndim == 0,
        Err(_) => obj.cast::<PySequence>().is_err() && (obj.hasattr("__float__").unwrap_or(false) || obj.hasattr("__index__").unwrap_or(false)),
    }
}

/// The shape of a nested sequence, read along its first elements (iteratively: the nesting
/// may be deeper than any stack). A sequence that contains itself is refused.
fn probe_shape(root: &Bound<'_, PyAny>) -> PyResult<Vec<usize>> {
    let mut shape = Vec::new();
    let mut path: Vec<usize> = Vec::new();
    let mut obj = root.clone();
    loop {
        if is_scalar(&obj) {
            return Ok(shape);
        }
        if let Ok(t) = obj.cast::<PyTensor>() {
            shape.extend_from_slice(t.get().t.shape());
            return Ok(shape);
        }
        if obj.is_instance_of::<PyString>() {
            return Err(PyTypeError::new_err(format!("tensor: could not convert {} to a number", describe(&obj))));
        }
        let seq = obj
            .cast::<PySequence>()
            .map_err(|_| PyTypeError::new_err(format!("tensor: could not convert {} to a number", describe(&obj))))?;
        let id = obj.as_ptr() as usize;
        if path.contains(&id) {
            return Err(PyValueError::new_err(format!("tensor: the nested sequence contains itself at depth {}; it has no finite shape", shape.len())));
        }
        path.push(id);
        let len = seq.len()?;
        shape.push(len);
        if len == 0 {
            return Ok(shape);
        }
        obj = seq.get_item(0)?;
    }
}

/// Gathers the elements depth-first with an explicit stack of (sequence, next index).
fn collect(root: &Bound<'_, PyAny>, shape: &[usize], out: &mut Flat, saw: &mut Seen) -> PyResult<()> {
    let mut stack: Vec<(Bound<'_, PyAny>, usize)> = Vec::new();
    let mut next = Some(root.clone());
    loop {
        if let Some(obj) = next.take() {
            let depth = stack.len();
            if depth == shape.len() {
                push_number(&obj, out, saw)?;
            } else if let Ok(t) = obj.cast::<PyTensor>() {
                let t = &t.get().t;
                if t.shape() != &shape[depth..] {
                    return Err(PyValueError::new_err(format!(
                        "tensor: expected a tensor of shape {:?} at depth {depth}, got {:?}",
                        &shape[depth..],
                        t.shape()
                    )));
                }
                match t.dtype() {
                    DType::Bool => crate::backend::to_vec::<bool>(t)?.into_iter().for_each(|x| push_value(out, Value::Bool(x))),
                    d if d.is_int() => crate::backend::to_vec::<i64>(&crate::backend::cast(t, DType::I64)?)?
                        .into_iter()
                        .for_each(|x| push_value(out, Value::Int(x))),
                    d => {
                        saw.float64 |= d == DType::F64;
                        saw.float = true;
                        for x in crate::backend::cast(t, DType::F64)?.to_vec::<f64>()? {
                            push_value(out, Value::Float(x));
                        }
                    }
                }
            } else {
                let seq = obj.cast::<PySequence>().map_err(|_| {
                    PyValueError::new_err(format!("tensor: expected a sequence of length {} at dim {depth}, got {}", shape[depth], describe(&obj)))
                })?;
                let len = seq.len()?;
                if len != shape[depth] {
                    return Err(PyValueError::new_err(format!(
                        "tensor: ragged nested sequence: expected a sequence of length {} at dim {depth} (got {len})",
                        shape[depth]
                    )));
                }
                stack.push((obj, 0));
            }
        }
        let depth = stack.len();
        let Some((seq, i)) = stack.last_mut() else { return Ok(()) };
        if *i < shape[depth - 1] {
            next = Some(seq.get_item(*i)?);
            *i += 1;
        } else {
            stack.pop();
        }
    }
}

enum Value {
    Bool(bool),
    Int(i64),
    Float(f64),
}

fn push_number(obj: &Bound<'_, PyAny>, out: &mut Flat, saw: &mut Seen) -> PyResult<()> {
    let v = if obj.is_instance_of::<PyBool>() {
        Value::Bool(obj.extract()?)
    } else if let Ok(i) = obj.cast::<PyInt>() {
        match i.extract::<i64>() {
            Ok(v) => Value::Int(v),
            Err(_) => {
                (saw.big_int, saw.pending_big) = (true, true);
                Value::Float(i.extract::<f64>()?)
            }
        }
    } else if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t.get().t;
        match t.dtype() {
            DType::Bool => Value::Bool(crate::backend::item(t)? != 0.0),
            d if d.is_int() => Value::Int(crate::backend::to_vec::<i64>(&crate::backend::cast(t, DType::I64)?)?[0]),
            d => {
                saw.float64 |= d == DType::F64;
                Value::Float(crate::backend::item(t)?)
            }
        }
    } else if let Ok(f) = obj.cast_exact::<PyFloat>() {
        Value::Float(f.value())
    } else if let Some(v) = numpy_scalar(obj, saw)? {
        v
    } else if let Ok(f) = obj.cast::<PyFloat>() {
        Value::Float(f.value())
    } else if let Ok(i) = obj.extract::<i64>() {
        Value::Int(i)
    } else if let Ok(f) = obj.extract::<f64>() {
        Value::Float(f)
    } else {
        return Err(PyTypeError::new_err(format!("tensor: could not convert {} to a number", describe(obj))));
    };
    if matches!(v, Value::Float(_)) && !std::mem::take(&mut saw.pending_big) {
        saw.float = true;
    }
    push_value(out, v);
    Ok(())
}

/// A NumPy scalar (or 0-dim array) by its dtype's kind: bool, integer or float.
fn numpy_scalar(obj: &Bound<'_, PyAny>, saw: &mut Seen) -> PyResult<Option<Value>> {
    let Ok(kind) = obj.getattr("dtype").and_then(|d| d.getattr("kind")).and_then(|k| k.extract::<String>()) else {
        return Ok(None);
    };
    Ok(Some(match kind.as_str() {
        "b" => Value::Bool(obj.call_method0("__bool__")?.extract()?),
        "i" | "u" => match obj.call_method0("__int__")?.extract::<i64>() {
            Ok(v) => Value::Int(v),
            Err(_) => {
                (saw.big_int, saw.pending_big) = (true, true);
                Value::Float(obj.call_method0("__float__")?.extract()?)
            }
        },
        "f" => {
            saw.float64 |= obj.getattr("dtype")?.getattr("itemsize")?.extract::<usize>()? >= 8;
            Value::Float(obj.call_method0("__float__")?.extract()?)
        }
        _ => return Ok(None),
    }))
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
            let mut w: Vec<i64> = Vec::with_capacity(b.capacity());
            w.extend(b.iter().map(|&y| y as i64));
            w.push(x);
            *out = Flat::Int(w);
        }
        (Flat::Bool(b), Value::Float(x)) => {
            let mut w: Vec<f64> = Vec::with_capacity(b.capacity());
            w.extend(b.iter().map(|&y| y as u8 as f64));
            w.push(x);
            *out = Flat::Float(w);
        }
        (Flat::Int(b), Value::Float(x)) => {
            let mut w: Vec<f64> = Vec::with_capacity(b.capacity());
            w.extend(b.iter().map(|&y| y as f64));
            w.push(x);
            *out = Flat::Float(w);
        }
    }
}

/// Nested Python lists (or a number for 0-dim tensors), built bottom-up one dimension at a
/// time: no recursion, so any number of dimensions works.
pub fn to_pylist<'py>(py: Python<'py>, t: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    let t = crate::backend::to_cpu(t)?;
    // Storage dtypes in their compute dtype: exact (half values are float32 values), and what
    // Python numbers are made from anyway.
    let t = if t.dtype().is_storage_only() { crate::backend::cast(&t, t.dtype().compute())? } else { t };
    let mut level: Vec<Bound<'py, PyAny>> = crate::with_compute_dtype!(t.dtype(), T => {
        t.to_vec::<T>()?.into_iter().map(|x| x.into_bound_py_any(py)).collect::<PyResult<_>>()?
    }, other => unreachable!("{} was widened above", other.name()));
    let shape = t.shape();
    if shape.is_empty() {
        return Ok(level.pop().expect("a 0-dim tensor has one element"));
    }
    for (k, &d) in shape.iter().enumerate().rev() {
        // Lists of size `d` from this level; the dims above `k` say how many.
        let groups = numel(&shape[..k]);
        let mut items = level.into_iter();
        let mut upper = Vec::with_capacity(groups);
        for _ in 0..groups {
            upper.push(PyList::new(py, items.by_ref().take(d))?.into_any());
        }
        level = upper;
    }
    Ok(level.pop().expect("the outermost level is one list"))
}
