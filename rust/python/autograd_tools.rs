//! Autograd tools from Python: forward-mode AD's dual level (`autograd.forward_ad`), anomaly
//! mode (`autograd.detect_anomaly`) and saved-tensor hooks (`autograd.graph`). The Python
//! modules of those names wrap these functions into PyTorch's context managers.

use super::convert::describe;
use super::errors::foreign;
use super::tensor::PyTensor;
use crate::autograd::{anomaly, forward, pop_saved_tensor_hooks, push_saved_tensor_hooks, PackedTensor, SavedTensorHooks};
use crate::error::Error;
use crate::tensor::Tensor;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyString;
use std::sync::Arc;

/// Opens the dual level of forward-mode AD; returns its index (0: one level at a time).
#[pyfunction]
pub fn _enter_dual_level() -> PyResult<u64> {
    Ok(forward::enter_dual_level()?)
}

/// Closes the dual level: every tangent is dropped.
#[pyfunction]
pub fn _exit_dual_level() -> PyResult<()> {
    Ok(forward::exit_dual_level()?)
}

/// Whether a dual level is open on this thread.
#[pyfunction]
pub fn _is_dual_level_open() -> bool {
    forward::is_dual_level_open()
}

/// A view of `primal` that carries `tangent` (same shape, dtype and device) in forward AD.
#[pyfunction]
pub fn _make_dual(primal: &PyTensor, tangent: &PyTensor) -> PyResult<PyTensor> {
    Ok(PyTensor::wrap(forward::make_dual(&primal.t, &tangent.t)?))
}

/// The tangent `t` carries at the open dual level, or None.
#[pyfunction]
pub fn _tangent(t: &PyTensor) -> PyResult<Option<PyTensor>> {
    Ok(forward::tangent_of(&t.t)?.map(PyTensor::wrap))
}

/// Turns anomaly mode on or off (`check_nan`: whether backward checks gradients for NaN).
#[pyfunction]
#[pyo3(signature = (enabled, check_nan = true))]
pub fn _set_anomaly_enabled(enabled: bool, check_nan: bool) {
    anomaly::set_anomaly_enabled(enabled, check_nan)
}

/// Whether anomaly mode is on (`autograd.detect_anomaly` / `set_detect_anomaly`).
#[pyfunction]
pub fn is_anomaly_enabled() -> bool {
    anomaly::is_anomaly_enabled()
}

/// Whether anomaly mode checks backward gradients for NaN.
#[pyfunction]
pub fn is_anomaly_check_nan_enabled() -> bool {
    anomaly::is_anomaly_check_nan_enabled()
}

struct PyHooks {
    pack: Py<PyAny>,
    unpack: Py<PyAny>,
}

struct PyPacked {
    packed: Py<PyAny>,
    unpack: Py<PyAny>,
}

impl SavedTensorHooks for PyHooks {
    fn pack(&self, t: &Tensor) -> crate::Result<Box<dyn PackedTensor>> {
        Python::attach(|py| {
            let packed = self.pack.call1(py, (PyTensor::wrap(t.clone()),)).map_err(foreign)?;
            Ok(Box::new(PyPacked { packed, unpack: self.unpack.clone_ref(py) }) as Box<dyn PackedTensor>)
        })
    }
}

impl PackedTensor for PyPacked {
    fn unpack(&self) -> crate::Result<Tensor> {
        Python::attach(|py| {
            let r = self.unpack.call1(py, (self.packed.clone_ref(py),)).map_err(foreign)?;
            let t = r.bind(py).cast::<PyTensor>().map_err(|_| {
                Error::Type(format!("the unpack hook of saved_tensors_hooks must return a Tensor, got {}", describe(r.bind(py))))
            })?;
            Ok(t.get().t.clone())
        })
    }
}

/// Installs `pack_hook(tensor) -> object` and `unpack_hook(object) -> tensor` for what ops
/// save for backward on this thread, until `_pop_saved_tensors_hooks`.
#[pyfunction]
pub fn _push_saved_tensors_hooks(py: Python<'_>, pack_hook: Py<PyAny>, unpack_hook: Py<PyAny>) -> PyResult<()> {
    for (what, f) in [("pack_hook", &pack_hook), ("unpack_hook", &unpack_hook)] {
        if !f.bind(py).is_callable() {
            return Err(PyTypeError::new_err(format!("saved_tensors_hooks: {what} must be callable, got {}", describe(f.bind(py)))));
        }
    }
    push_saved_tensor_hooks(Arc::new(PyHooks { pack: pack_hook, unpack: unpack_hook }));
    Ok(())
}

/// Removes the innermost saved-tensor hooks; False when none were installed.
#[pyfunction]
pub fn _pop_saved_tensors_hooks() -> bool {
    pop_saved_tensor_hooks()
}

/// The Python stack, as `traceback.format_stack()` prints it (anomaly mode's capture).
fn python_stack() -> Option<String> {
    Python::attach(|py| {
        let frames = py.import("traceback").ok()?.call_method0("format_stack").ok()?;
        let text = PyString::new(py, "").call_method1("join", (frames,)).ok()?;
        text.extract::<String>().ok()
    })
}

/// PyTorch's warning before the anomaly error: the node and its forward traceback.
fn report(name: &str, trace: Option<&str>) {
    Python::attach(|py| {
        let message = match trace {
            Some(t) => format!("Error detected in {name}. Traceback of forward call that caused the error:\n{t}"),
            None => format!(
                "Error detected in {name}. No forward pass information available. Enable detect anomaly during forward \
                 pass for more information."
            ),
        };
        // A failing warn (warnings turned into errors) must not hide the anomaly error itself.
        if let Ok(warnings) = py.import("warnings") {
            let _ = warnings.call_method1("warn", (message,));
        }
    })
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    anomaly::install(Box::new(python_stack), Box::new(report));
    m.add_function(wrap_pyfunction!(_enter_dual_level, m)?)?;
    m.add_function(wrap_pyfunction!(_exit_dual_level, m)?)?;
    m.add_function(wrap_pyfunction!(_is_dual_level_open, m)?)?;
    m.add_function(wrap_pyfunction!(_make_dual, m)?)?;
    m.add_function(wrap_pyfunction!(_tangent, m)?)?;
    m.add_function(wrap_pyfunction!(_set_anomaly_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_anomaly_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(is_anomaly_check_nan_enabled, m)?)?;
    m.add_function(wrap_pyfunction!(_push_saved_tensors_hooks, m)?)?;
    m.add_function(wrap_pyfunction!(_pop_saved_tensors_hooks, m)?)?;
    Ok(())
}
