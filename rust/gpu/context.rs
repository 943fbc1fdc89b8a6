//! The one GPU device of the process, created on first use (importing backprop never touches
//! the GPU). Adapter choice: `BACKPROP_WGPU_ADAPTER` (a substring of the adapter name) or the
//! most capable adapter (discrete > integrated > virtual > software). The device gets the
//! adapter's own limits, not WebGPU's defaults.
//!
//! wgpu reports validation and out-of-memory errors through a callback whose default panics;
//! here they are collected and surfaced as `Error::Device` at the next check, so a wgpu error
//! becomes a Python exception, never a panic.

use super::pipelines::PipelineCache;
use super::pool::BufferPool;
use super::recorder::Recorder;
use crate::error::{Error, Result};
use crate::tensor::{DType, StorageRef};
use std::collections::HashMap;
use parking_lot::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

pub const ADAPTER_ENV: &str = "BACKPROP_WGPU_ADAPTER";

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    pub pool: BufferPool,
    pub recorder: Mutex<Recorder>,
    pub pipelines: Mutex<PipelineCache>,
    /// One-element tensors of wrapped Python numbers, by (bits, dtype).
    pub constants: Mutex<HashMap<(u32, DType), StorageRef>>,
    errors: Arc<Mutex<Vec<String>>>,
    lost: Arc<AtomicBool>,
    /// The largest storage binding kernels use (the device limit, lowered only by tests).
    binding_limit: AtomicU64,
}

static GPU: OnceLock<std::result::Result<Gpu, String>> = OnceLock::new();

/// The device, created on first call; the error says what was searched and how to fix it.
pub fn gpu() -> Result<&'static Gpu> {
    GPU.get_or_init(Gpu::create).as_ref().map_err(|e| Error::Device(e.clone()))
}

/// The device if it was already created (buffers returning to the pool use this).
pub fn existing() -> Option<&'static Gpu> {
    GPU.get().and_then(|g| g.as_ref().ok())
}

pub fn is_available() -> bool {
    gpu().is_ok()
}

/// Whether creating the device was attempted (without attempting it).
pub fn is_initialized() -> bool {
    GPU.get().is_some()
}

fn rank(info: &wgpu::AdapterInfo) -> u8 {
    match info.device_type {
        wgpu::DeviceType::DiscreteGpu => 0,
        wgpu::DeviceType::IntegratedGpu => 1,
        wgpu::DeviceType::VirtualGpu => 2,
        wgpu::DeviceType::Cpu => 3,
        wgpu::DeviceType::Other => 4,
    }
}

/// The backends this build can search, among `backends`, by name.
fn backend_names(backends: wgpu::Backends) -> String {
    let usable = backends & wgpu::Instance::enabled_backend_features();
    let mut names = Vec::new();
    for (b, n) in [(wgpu::Backends::VULKAN, "Vulkan"), (wgpu::Backends::METAL, "Metal"), (wgpu::Backends::DX12, "DX12")] {
        if usable.contains(b) {
            names.push(n);
        }
    }
    if names.is_empty() {
        "no".into()
    } else {
        names.join("/")
    }
}

fn select_adapter(instance: &wgpu::Instance, backends: wgpu::Backends) -> std::result::Result<wgpu::Adapter, String> {
    let mut adapters = pollster::block_on(instance.enumerate_adapters(backends));
    adapters.retain(|a| a.get_downlevel_capabilities().flags.contains(wgpu::DownlevelFlags::COMPUTE_SHADERS));
    if adapters.is_empty() {
        return Err(format!(
            "no GPU adapter found (searched the {} backends{}). Install a Vulkan driver: your GPU vendor's, \
             or Mesa's software driver for testing (`apt-get install mesa-vulkan-drivers libvulkan1` on Debian/Ubuntu); \
             `vulkaninfo --summary` lists what the system sees",
            backend_names(backends),
            if backends == wgpu::Backends::PRIMARY { "" } else { ", as restricted by WGPU_BACKEND" }
        ));
    }
    let names: Vec<String> = adapters.iter().map(|a| format!("'{}' ({:?})", a.get_info().name, a.get_info().backend)).collect();
    if let Ok(wanted) = std::env::var(ADAPTER_ENV) {
        let w = wanted.to_lowercase();
        return adapters.into_iter().find(|a| a.get_info().name.to_lowercase().contains(&w)).ok_or_else(|| {
            format!("{ADAPTER_ENV}='{wanted}' matches none of the GPU adapters found: {}", names.join(", "))
        });
    }
    adapters.sort_by_key(|a| rank(&a.get_info()));
    Ok(adapters.swap_remove(0))
}

impl Gpu {
    fn create() -> std::result::Result<Gpu, String> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        // Backend validation layers only when asked for (WGPU_VALIDATION=1): they are slow.
        desc.flags = wgpu::InstanceFlags::empty().with_env();
        desc.backend_options = desc.backend_options.with_env();
        let instance = wgpu::Instance::new(desc);
        let adapter = select_adapter(&instance, backends)?;
        let info = adapter.get_info();
        let limits = adapter.limits();
        let (device, queue) = pollster::block_on(adapter.request_device(&wgpu::DeviceDescriptor {
            label: Some("backprop"),
            required_features: wgpu::Features::empty(),
            required_limits: limits.clone(),
            experimental_features: wgpu::ExperimentalFeatures::disabled(),
            memory_hints: wgpu::MemoryHints::Performance,
            trace: wgpu::Trace::Off,
        }))
        .map_err(|e| format!("the GPU adapter '{}' refused to create a device: {e}", info.name))?;
        let errors: Arc<Mutex<Vec<String>>> = Arc::default();
        let sink = errors.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| sink.lock().push(e.to_string())));
        let lost = Arc::new(AtomicBool::new(false));
        let lost_flag = lost.clone();
        device.set_device_lost_callback(move |_, _| lost_flag.store(true, Ordering::SeqCst));
        let binding_limit = AtomicU64::new(limits.max_storage_buffer_binding_size.min(limits.max_buffer_size));
        Ok(Gpu {
            recorder: Mutex::new(Recorder::new()),
            pool: BufferPool::new(),
            pipelines: Mutex::new(PipelineCache::default()),
            constants: Mutex::default(),
            device,
            queue,
            info,
            limits,
            errors,
            lost,
            binding_limit,
        })
    }

    /// Turns wgpu errors collected since the last check into an `Error::Device`.
    pub fn check(&self, context: &str) -> Result<()> {
        if self.lost.load(Ordering::SeqCst) {
            return Err(Error::Device(format!(
                "{context}: the GPU device was lost (driver reset or crash); restart the process to use the GPU again"
            )));
        }
        let mut errs = self.errors.lock();
        if errs.is_empty() {
            return Ok(());
        }
        let msg = errs.join("; ");
        errs.clear();
        Err(Error::Device(format!("{context}: the GPU reported an error (a bug in backprop, please report it): {msg}")))
    }

    /// Largest storage binding, in bytes.
    pub fn binding_limit(&self) -> u64 {
        self.binding_limit.load(Ordering::Relaxed)
    }

    /// Lowers the binding limit kernels plan with (so tests exercise chunking on small data);
    /// `None` restores the device limit. Returns the limit now in force.
    pub fn set_binding_limit(&self, bytes: Option<u64>) -> u64 {
        let device_limit = self.limits.max_storage_buffer_binding_size.min(self.limits.max_buffer_size);
        let v = bytes.map(|b| b.clamp(1024, device_limit)).unwrap_or(device_limit);
        self.binding_limit.store(v, Ordering::Relaxed);
        v
    }

    /// Alignment of storage binding offsets, in bytes: the device's, and at least 16 so a
    /// window always starts on a vec4 boundary.
    pub fn storage_alignment(&self) -> u64 {
        self.limits.min_storage_buffer_offset_alignment.max(16) as u64
    }
}
