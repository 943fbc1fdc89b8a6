//! CPU runtime settings: the thread count (`set_num_threads`, like PyTorch's) and the
//! instruction-set level of the CPU kernels (`set_cpu_kernels`, for measuring the kernels
//! another machine class gets).

use crate::backend::cpu_runtime;
use pyo3::exceptions::{PyRuntimeError, PyRuntimeWarning, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyInt};

/// Sets the number of threads the CPU kernels use, like `torch.set_num_threads`.
///
/// At start the count is `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS`, else the number of
/// cores. All kernels share one pool; a count above the pool's size (the larger of the
/// cores and the count at start) uses the whole pool.
///
/// Args:
///     num (int): a positive number of threads.
///
/// Raises:
///     RuntimeError: when ``num`` is not a positive integer (PyTorch's error).
#[pyfunction]
pub fn set_num_threads(num: &Bound<'_, PyAny>) -> PyResult<()> {
    if !num.is_instance_of::<PyInt>() || num.is_instance_of::<PyBool>() {
        let kind = num.get_type().name()?;
        return Err(PyRuntimeError::new_err(format!("set_num_threads expects an int, but got {kind}")));
    }
    match num.extract::<i64>() {
        Ok(n) if n > 0 => {
            cpu_runtime::set_num_threads(n as usize);
            Ok(())
        }
        _ => Err(PyRuntimeError::new_err("set_num_threads expects a positive integer")),
    }
}

/// The number of threads the CPU kernels use (see ``set_num_threads``).
///
/// Returns:
///     int: the thread count in force.
#[pyfunction]
pub fn get_num_threads() -> usize {
    cpu_runtime::num_threads()
}

/// Forces the instruction-set level of the CPU kernels (matmul, optimizer updates).
///
/// The level at start comes from the ``BACKPROP_CPU_KERNELS`` environment variable, else
/// ``auto``. Forcing a lower level lets one machine measure the kernels a machine without
/// AVX-512 (``avx2``) or without run-time detection (``baseline``: SSE2 on x86-64, NEON on
/// aarch64) runs.
///
/// Args:
///     level (str): ``"auto"`` (the widest this CPU has), ``"avx512"``, ``"avx2"`` or
///         ``"baseline"``.
///
/// Returns:
///     str: the level now in force.
///
/// Raises:
///     ValueError: for an unknown level, or one this CPU cannot run.
#[pyfunction]
pub fn set_cpu_kernels(level: &str) -> PyResult<&'static str> {
    cpu_runtime::set_cpu_kernels(level).map_err(|why| PyValueError::new_err(format!("set_cpu_kernels: {why}")))
}

/// The instruction-set level the CPU kernels run on now.
///
/// Returns:
///     str: ``"avx512"``, ``"avx2"`` or ``"baseline"``.
#[pyfunction]
pub fn get_cpu_kernels() -> &'static str {
    cpu_runtime::cpu_kernels()
}

/// The widest instruction-set level this CPU supports (what ``"auto"`` picks).
///
/// Returns:
///     str: ``"avx512"``, ``"avx2"`` or ``"baseline"``.
#[pyfunction]
pub fn get_cpu_capability() -> &'static str {
    cpu_runtime::cpu_capability()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    if let Some(problem) = cpu_runtime::init() {
        let py = m.py();
        let msg = std::ffi::CString::new(problem).unwrap_or_default();
        PyErr::warn(py, &py.get_type::<PyRuntimeWarning>(), &msg, 1)?;
    }
    m.add_function(wrap_pyfunction!(set_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(get_num_threads, m)?)?;
    m.add_function(wrap_pyfunction!(set_cpu_kernels, m)?)?;
    m.add_function(wrap_pyfunction!(get_cpu_kernels, m)?)?;
    m.add_function(wrap_pyfunction!(get_cpu_capability, m)?)?;
    Ok(())
}
