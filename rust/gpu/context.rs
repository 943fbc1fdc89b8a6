//! The one GPU device of the process, created on first use (importing backprop never touches
//! the GPU). Adapter choice: `BACKPROP_WGPU_ADAPTER` (a substring of the adapter name, software
//! adapters included) or the most capable hardware adapter (discrete > integrated > virtual).
//! A software adapter (Mesa's llvmpipe/lavapipe: the CPU pretending to be a GPU, slower than
//! the CPU backend) is used only when asked for, by name or with `allow_software_adapter`; a
//! machine whose only adapter is a software one has no GPU otherwise. The device gets the
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

static GPU: OnceLock<Gpu> = OnceLock::new();
/// Why creating the device failed, kept so probing is not repeated; cleared when the choice
/// rules change (`allow_software_adapter`). Held while creating, so only one thread creates.
static FAILURE: Mutex<Option<String>> = Mutex::new(None);
static ALLOW_SOFTWARE: AtomicBool = AtomicBool::new(false);

/// The device, created on first call; the error says what was searched and how to fix it.
pub fn gpu() -> Result<&'static Gpu> {
    if let Some(g) = GPU.get() {
        return Ok(g);
    }
    let mut failure = FAILURE.lock();
    if let Some(g) = GPU.get() {
        return Ok(g); // created by another thread while this one waited
    }
    if let Some(e) = failure.as_ref() {
        return Err(Error::Device(e.clone()));
    }
    match Gpu::create() {
        Ok(g) => Ok(GPU.get_or_init(|| g)),
        Err(e) => {
            *failure = Some(e.clone());
            Err(Error::Device(e))
        }
    }
}

/// The device if it was already created (buffers returning to the pool use this).
pub fn existing() -> Option<&'static Gpu> {
    GPU.get()
}

pub fn is_available() -> bool {
    gpu().is_ok()
}

/// Whether creating the device was attempted (without attempting it).
pub fn is_initialized() -> bool {
    GPU.get().is_some() || FAILURE.lock().is_some()
}

/// Lets the default choice fall back to a software adapter when no hardware one exists (test
/// suites on machines without a GPU). Must come before the device is created; afterwards it is
/// an error if it would change the choice. Returns the previous setting.
pub fn allow_software_adapter(allow: bool) -> Result<bool> {
    let mut failure = FAILURE.lock();
    let prev = ALLOW_SOFTWARE.swap(allow, Ordering::SeqCst);
    if let Some(g) = GPU.get() {
        if g.info.device_type == wgpu::DeviceType::Cpu && !allow && std::env::var(ADAPTER_ENV).is_err() {
            ALLOW_SOFTWARE.store(prev, Ordering::SeqCst);
            return Err(Error::Device(format!(
                "the GPU device already runs on the software adapter '{}'; disallow software adapters before the first GPU use",
                g.info.name
            )));
        }
        return Ok(prev);
    }
    if prev != allow {
        *failure = None; // probe again under the new rule
    }
    Ok(prev)
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
    if !ALLOW_SOFTWARE.load(Ordering::SeqCst) {
        adapters.retain(|a| a.get_info().device_type != wgpu::DeviceType::Cpu);
        if adapters.is_empty() {
            return Err(format!(
                "no hardware GPU adapter found, only the software adapter {} (the CPU running Vulkan, slower than \
                 backprop's CPU backend). It is used only when asked for: set {ADAPTER_ENV}=llvmpipe, or call \
                 backprop.gpu.use_software_adapter() before the first GPU use",
                names.join(", ")
            ));
        }
    }
    adapters.sort_by_key(|a| rank(&a.get_info()));
    Ok(adapters.swap_remove(0))
}

/// Keeps Mesa's device-select Vulkan layer out of probing. That implicit layer only reorders
/// adapters (this module ranks them itself), and on a machine without a desktop session it
/// prints "XDG_RUNTIME_DIR is invalid or not set" to stderr once per adapter while looking
/// for a Wayland compositor. Its documented off switch, `NODEVICE_SELECT=1`, is set while the
/// Vulkan instance is created and its adapters enumerated, unless the user configured the
/// layer (`NODEVICE_SELECT` or `MESA_VK_DEVICE_SELECT` set); then it is left alone.
struct QuietDeviceSelect(bool);

const DEVICE_SELECT_OFF: &str = "NODEVICE_SELECT";

impl QuietDeviceSelect {
    fn enter() -> QuietDeviceSelect {
        let configured = std::env::var_os(DEVICE_SELECT_OFF).is_some() || std::env::var_os("MESA_VK_DEVICE_SELECT").is_some();
        if !configured {
            // Environment writes race with reads on other threads; this runs once per probe,
            // under the GIL and the device lock, before any thread of the Vulkan loader exists.
            std::env::set_var(DEVICE_SELECT_OFF, "1");
        }
        QuietDeviceSelect(!configured)
    }
}

impl Drop for QuietDeviceSelect {
    fn drop(&mut self) {
        if self.0 {
            std::env::remove_var(DEVICE_SELECT_OFF);
        }
    }
}

impl Gpu {
    fn create() -> std::result::Result<Gpu, String> {
        let backends = wgpu::Backends::from_env().unwrap_or(wgpu::Backends::PRIMARY);
        let mut desc = wgpu::InstanceDescriptor::new_without_display_handle();
        desc.backends = backends;
        // Backend validation layers only when asked for (WGPU_VALIDATION=1): they are slow.
        desc.flags = wgpu::InstanceFlags::empty().with_env();
        desc.backend_options = desc.backend_options.with_env();
        let quiet = QuietDeviceSelect::enter();
        let instance = wgpu::Instance::new(desc);
        let adapter = select_adapter(&instance, backends);
        drop(quiet);
        let adapter = adapter?;
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
