//! `backprop._core` functions behind `backprop.gpu`: availability, adapter details,
//! synchronisation and memory counters. None of them creates the device unless asked to.

use crate::gpu;
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// Whether a GPU adapter exists (creates the device on first call).
#[pyfunction]
pub fn _gpu_is_available() -> bool {
    gpu::is_available()
}

/// Lets the GPU fall back to a software adapter (llvmpipe/lavapipe) when no hardware adapter
/// exists; call before the first GPU use. Returns the previous setting.
#[pyfunction]
#[pyo3(signature = (allow = true))]
pub fn _gpu_allow_software_adapter(allow: bool) -> PyResult<bool> {
    Ok(gpu::allow_software_adapter(allow)?)
}

/// Whether the device has been created (importing and CPU work must not create it).
#[pyfunction]
pub fn _gpu_is_initialized() -> bool {
    gpu::is_initialized()
}

/// Why the GPU cannot be used, or None when it can.
#[pyfunction]
pub fn _gpu_unavailable_reason() -> Option<String> {
    gpu::gpu().err().map(|e| e.to_string())
}

/// Name, backend, device type, driver and limits of the adapter in use.
#[pyfunction]
pub fn _gpu_adapter_info(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let g = gpu::gpu()?;
    let d = PyDict::new(py);
    d.set_item("name", &g.info.name)?;
    d.set_item("backend", format!("{:?}", g.info.backend).to_lowercase())?;
    d.set_item("device_type", format!("{:?}", g.info.device_type))?;
    d.set_item("vendor", g.info.vendor)?;
    d.set_item("device", g.info.device)?;
    d.set_item("driver", &g.info.driver)?;
    d.set_item("driver_info", &g.info.driver_info)?;
    let l = &g.limits;
    let limits = PyDict::new(py);
    limits.set_item("max_buffer_size", l.max_buffer_size)?;
    limits.set_item("max_storage_buffer_binding_size", l.max_storage_buffer_binding_size)?;
    limits.set_item("max_uniform_buffer_binding_size", l.max_uniform_buffer_binding_size)?;
    limits.set_item("max_compute_workgroups_per_dimension", l.max_compute_workgroups_per_dimension)?;
    limits.set_item("max_compute_invocations_per_workgroup", l.max_compute_invocations_per_workgroup)?;
    limits.set_item("max_compute_workgroup_storage_size", l.max_compute_workgroup_storage_size)?;
    limits.set_item("max_storage_buffers_per_shader_stage", l.max_storage_buffers_per_shader_stage)?;
    limits.set_item("min_storage_buffer_offset_alignment", l.min_storage_buffer_offset_alignment)?;
    limits.set_item("min_uniform_buffer_offset_alignment", l.min_uniform_buffer_offset_alignment)?;
    d.set_item("limits", limits)?;
    Ok(d)
}

/// Submits all recorded GPU work and waits for it.
#[pyfunction]
pub fn _gpu_synchronize() -> PyResult<()> {
    Ok(gpu::synchronize()?)
}

/// Frees the buffers cached for reuse.
#[pyfunction]
pub fn _gpu_empty_cache() -> PyResult<()> {
    Ok(gpu::empty_cache()?)
}

/// Submission and memory counters.
#[pyfunction]
pub fn _gpu_stats(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let s = gpu::stats()?;
    let d = PyDict::new(py);
    d.set_item("submits", s.submits)?;
    d.set_item("commands", s.commands)?;
    d.set_item("pending_commands", s.pending)?;
    d.set_item("live_bytes", s.live_bytes)?;
    d.set_item("cached_bytes", s.cached_bytes)?;
    Ok(d)
}

/// Lowers the storage-binding size kernels plan with (tests use it to exercise chunking on
/// small tensors); None restores the device's. Returns the limit in force.
#[pyfunction]
#[pyo3(signature = (nbytes = None))]
pub fn _gpu_set_binding_limit(nbytes: Option<u64>) -> PyResult<u64> {
    Ok(gpu::gpu()?.set_binding_limit(nbytes))
}

/// The text of a shader with its includes resolved, and the names of all shaders.
#[pyfunction]
pub fn _gpu_shader_source(name: &str) -> PyResult<String> {
    Ok(gpu::shader_source(name)?)
}

#[pyfunction]
pub fn _gpu_shader_files() -> Vec<&'static str> {
    gpu::shader_files().collect()
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(_gpu_is_available, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_is_initialized, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_allow_software_adapter, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_unavailable_reason, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_adapter_info, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_synchronize, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_empty_cache, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_stats, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_set_binding_limit, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_shader_source, m)?)?;
    m.add_function(wrap_pyfunction!(_gpu_shader_files, m)?)?;
    Ok(())
}
