//! Dtype queries and conversions as PyTorch has them: `finfo`, `iinfo`, `promote_types`,
//! `can_cast`, `result_type`, and the `Tensor.half()` family of casts.

use super::convert::{describe, parse_dtype, PyDType};
use super::tensor::{ok, PyTensor, TResult};
use crate::ops;
use crate::tensor::{DType, PromotionInput};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyInt};

/// `backprop.finfo(dtype=backprop.float32)`: the numerical limits of a floating-point dtype,
/// as `torch.finfo`.
///
/// Attributes: `bits` (width), `eps` (the gap between 1.0 and the next value), `max` and `min`
/// (the largest finite values), `tiny` and `smallest_normal` (the smallest positive normal
/// value), `resolution` (10 ** -precision, the decimal precision) and `dtype` (its name).
#[pyclass(name = "finfo", module = "backprop", frozen)]
pub struct PyFinfo {
    /// The width of the type in bits.
    #[pyo3(get)]
    bits: usize,
    /// The gap between 1.0 and the next representable value.
    #[pyo3(get)]
    eps: f64,
    /// The largest finite value.
    #[pyo3(get)]
    max: f64,
    /// The most negative finite value (`-max`).
    #[pyo3(get)]
    min: f64,
    /// The smallest positive normal value (same as `smallest_normal`).
    #[pyo3(get)]
    tiny: f64,
    /// The smallest positive normal value.
    #[pyo3(get)]
    smallest_normal: f64,
    /// The decimal resolution, `10 ** -precision`.
    #[pyo3(get)]
    resolution: f64,
    /// The dtype's name, for example `'float32'`.
    #[pyo3(get)]
    dtype: String,
}

#[pymethods]
impl PyFinfo {
    #[new]
    #[pyo3(signature = (dtype = None))]
    fn new(dtype: Option<&Bound<'_, PyAny>>) -> PyResult<PyFinfo> {
        let d = match dtype {
            Some(d) if !d.is_none() => parse_dtype(d)?,
            _ => DType::F32,
        };
        // (eps, max, smallest normal, decimal digits of precision)
        let (eps, max, normal, digits) = match d {
            DType::F16 => (half::f16::EPSILON.to_f64(), half::f16::MAX.to_f64(), half::f16::MIN_POSITIVE.to_f64(), 3),
            DType::BF16 => (half::bf16::EPSILON.to_f64(), half::bf16::MAX.to_f64(), half::bf16::MIN_POSITIVE.to_f64(), 2),
            DType::F32 => (f32::EPSILON as f64, f32::MAX as f64, f32::MIN_POSITIVE as f64, 6),
            DType::F64 => (f64::EPSILON, f64::MAX, f64::MIN_POSITIVE, 15),
            other => {
                return Err(PyTypeError::new_err(format!(
                    "finfo: requires a floating point dtype, got {}; use backprop.iinfo for integer dtypes",
                    other.name()
                )))
            }
        };
        Ok(PyFinfo {
            bits: d.size() * 8,
            eps,
            max,
            min: -max,
            tiny: normal,
            smallest_normal: normal,
            resolution: 10f64.powi(-digits),
            dtype: d.name().to_string(),
        })
    }

    fn __repr__(&self) -> String {
        format!(
            "finfo(resolution={}, min={:e}, max={:e}, eps={:e}, smallest_normal={:e}, tiny={:e}, dtype={})",
            self.resolution, self.min, self.max, self.eps, self.smallest_normal, self.tiny, self.dtype
        )
    }
}

/// `backprop.iinfo(dtype)`: the limits of an integer dtype, as `torch.iinfo`.
///
/// Attributes: `bits` (width), `min` and `max` (the smallest and largest values) and `dtype`
/// (its name).
#[pyclass(name = "iinfo", module = "backprop", frozen)]
pub struct PyIinfo {
    /// The width of the type in bits.
    #[pyo3(get)]
    bits: usize,
    /// The smallest value.
    #[pyo3(get)]
    min: i64,
    /// The largest value.
    #[pyo3(get)]
    max: i64,
    /// The dtype's name, for example `'int64'`.
    #[pyo3(get)]
    dtype: String,
}

#[pymethods]
impl PyIinfo {
    #[new]
    fn new(dtype: &Bound<'_, PyAny>) -> PyResult<PyIinfo> {
        let d = parse_dtype(dtype)?;
        let (min, max) = match d {
            DType::U8 => (0, u8::MAX as i64),
            DType::I8 => (i8::MIN as i64, i8::MAX as i64),
            DType::I16 => (i16::MIN as i64, i16::MAX as i64),
            DType::I32 => (i32::MIN as i64, i32::MAX as i64),
            DType::I64 => (i64::MIN, i64::MAX),
            other => {
                return Err(PyTypeError::new_err(format!(
                    "iinfo: requires an integer dtype, got {}; use backprop.finfo for floating point dtypes",
                    other.name()
                )))
            }
        };
        Ok(PyIinfo { bits: d.size() * 8, min, max, dtype: d.name().to_string() })
    }

    fn __repr__(&self) -> String {
        format!("iinfo(min={}, max={}, dtype={})", self.min, self.max, self.dtype)
    }
}

/// `backprop.promote_types(type1, type2)`: the dtype both promote to (`torch.promote_types`:
/// uint8 with int8 is int16, float16 with bfloat16 is float32, an int with a float is the float).
#[pyfunction]
pub fn promote_types(type1: &Bound<'_, PyAny>, type2: &Bound<'_, PyAny>) -> PyResult<PyDType> {
    Ok(PyDType { dtype: crate::tensor::promote_types(parse_dtype(type1)?, parse_dtype(type2)?) })
}

/// `backprop.can_cast(from_, to)`: whether PyTorch's casting rules allow `from_` to become `to`
/// in an op that writes its result into an existing tensor (no float to int, no int to bool).
#[pyfunction]
pub fn can_cast(from_: &Bound<'_, PyAny>, to: &Bound<'_, PyAny>) -> PyResult<bool> {
    Ok(crate::tensor::can_cast(parse_dtype(from_)?, parse_dtype(to)?))
}

/// `backprop.result_type(tensor1, tensor2)`: the dtype an arithmetic op on the two operands
/// (tensors or Python numbers) returns, by PyTorch's rules: tensors with dimensions decide,
/// 0-dim tensors and Python numbers only when they bring a higher category.
#[pyfunction]
pub fn result_type(tensor1: &Bound<'_, PyAny>, tensor2: &Bound<'_, PyAny>) -> PyResult<PyDType> {
    let inputs = [promotion_input(tensor1)?, promotion_input(tensor2)?];
    Ok(PyDType { dtype: crate::tensor::result_type(&inputs) })
}

fn promotion_input(obj: &Bound<'_, PyAny>) -> PyResult<PromotionInput> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        let t = &t.get().t;
        let priority = if t.is_wrapped_number() { 0 } else if t.ndim() == 0 { 1 } else { 2 };
        return Ok(PromotionInput { dtype: t.dtype(), priority });
    }
    let dtype = if obj.is_instance_of::<PyBool>() {
        DType::Bool
    } else if obj.is_instance_of::<PyInt>() {
        DType::I64
    } else if obj.is_instance_of::<PyFloat>() {
        DType::F32
    } else {
        return Err(PyTypeError::new_err(format!("result_type: expected a tensor or a Python number, got {}", describe(obj))));
    };
    Ok(PromotionInput { dtype, priority: 0 })
}

#[pymethods]
impl PyTensor {
    /// A copy in float16 (`self` when it already is float16), as `torch.Tensor.half`.
    fn half(&self) -> TResult {
        ok(ops::cast(&self.t, DType::F16))
    }
    /// A copy in bfloat16 (`self` when it already is bfloat16).
    fn bfloat16(&self) -> TResult {
        ok(ops::cast(&self.t, DType::BF16))
    }
    /// A copy in int16 (`self` when it already is int16).
    fn short(&self) -> TResult {
        ok(ops::cast(&self.t, DType::I16))
    }
    /// A copy in int8 (`self` when it already is int8); PyTorch's name for it is `char`.
    fn char(&self) -> TResult {
        ok(ops::cast(&self.t, DType::I8))
    }
    /// A copy in uint8 (`self` when it already is uint8); values wrap modulo 256.
    fn byte(&self) -> TResult {
        ok(ops::cast(&self.t, DType::U8))
    }
}

/// `t`'s elements reinterpreted bit for bit as `dtype`, which must have the same width (a
/// contiguous CPU copy): how safetensors and `.pt` files carry bfloat16, which NumPy lacks.
#[pyfunction]
pub fn _bitcast(t: &PyTensor, dtype: &Bound<'_, PyAny>) -> TResult {
    let to = parse_dtype(dtype)?;
    let from = t.t.dtype();
    if to.size() != from.size() || to == DType::Bool || from == DType::Bool {
        return Err(pyo3::exceptions::PyValueError::new_err(format!(
            "_bitcast: cannot reinterpret {} as {}: both must be non-bool dtypes of one width",
            from.name(),
            to.name()
        )));
    }
    let src = crate::backend::to_cpu(&t.t.detach())?;
    let src = if src.is_contiguous() { src } else { crate::backend::cast(&src, from)? };
    let n = src.numel();
    let bytes = n * from.size();
    let storage = src.cpu_storage("_bitcast")?;
    let out = crate::with_dtype!(to, D => {
        let mut v: Vec<D> = crate::alloc::buffer::zeroed::<D>(n, src.shape(), "_bitcast")?;
        if n > 0 {
            // SAFETY: `src` is contiguous, so its `n` elements of `from` (the same byte count as
            // `n` of `to`) start at its offset; every bit pattern is a valid value of the
            // non-bool target, and `v` is a separate allocation.
            unsafe {
                let start = storage.as_ptr().add(src.layout().offset() * from.size());
                std::ptr::copy_nonoverlapping(start, v.as_mut_ptr() as *mut u8, bytes);
            }
        }
        crate::tensor::Tensor::from_vec(v, src.shape())?
    });
    Ok(PyTensor::wrap(out))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_bitcast, m)?)?;
    m.add_class::<PyFinfo>()?;
    m.add_class::<PyIinfo>()?;
    m.add_function(wrap_pyfunction!(promote_types, m)?)?;
    m.add_function(wrap_pyfunction!(can_cast, m)?)?;
    m.add_function(wrap_pyfunction!(result_type, m)?)?;
    Ok(())
}
