//! The process-wide defaults that factories honour: the float dtype of Python floats and of
//! `zeros`/`rand`/..., and the device of a tensor created without `device=`
//! (`set_default_dtype`, `set_default_device`).

use super::convert::{parse_device, parse_dtype, PyDType, PyDevice};
use crate::tensor::{DType, Device};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use std::sync::atomic::{AtomicBool, Ordering};

static FLOAT64: AtomicBool = AtomicBool::new(false);
static ON_GPU: AtomicBool = AtomicBool::new(false);

/// The dtype of a float created without `dtype=`: float32 unless `set_default_dtype` changed it.
#[inline]
pub fn float_dtype() -> DType {
    if FLOAT64.load(Ordering::Relaxed) {
        DType::F64
    } else {
        DType::F32
    }
}

/// The device of a tensor created without `device=`: the CPU unless `set_default_device` changed it.
#[inline]
pub fn device() -> Device {
    if ON_GPU.load(Ordering::Relaxed) {
        Device::Gpu
    } else {
        Device::Cpu
    }
}

/// `set_default_dtype(d)`: the dtype of floats created without `dtype=` (float32 or float64).
#[pyfunction]
pub fn set_default_dtype(d: &Bound<'_, PyAny>) -> PyResult<()> {
    match parse_dtype(d)? {
        DType::F32 => FLOAT64.store(false, Ordering::Relaxed),
        DType::F64 => FLOAT64.store(true, Ordering::Relaxed),
        other => {
            return Err(PyTypeError::new_err(format!(
                "set_default_dtype: only floating-point types are supported as the default type, got {}",
                other.name()
            )))
        }
    }
    Ok(())
}

/// `get_default_dtype()`: the dtype of floats created without `dtype=`.
#[pyfunction]
pub fn get_default_dtype() -> PyDType {
    PyDType { dtype: float_dtype() }
}

/// `set_default_device(device)`: where tensors created without `device=` go ('cpu', 'gpu' or
/// None for the CPU).
#[pyfunction]
pub fn set_default_device(device: &Bound<'_, PyAny>) -> PyResult<()> {
    let d = if device.is_none() { Device::Cpu } else { parse_device(device)? };
    ON_GPU.store(d == Device::Gpu, Ordering::Relaxed);
    Ok(())
}

/// `get_default_device()`: where tensors created without `device=` go.
#[pyfunction]
pub fn get_default_device() -> PyDevice {
    PyDevice { device: device() }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(set_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_dtype, m)?)?;
    m.add_function(wrap_pyfunction!(set_default_device, m)?)?;
    m.add_function(wrap_pyfunction!(get_default_device, m)?)?;
    Ok(())
}
