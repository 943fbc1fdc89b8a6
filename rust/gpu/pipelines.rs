//! WGSL sources (embedded with `include_str!`) and the compute-pipeline cache, keyed by
//! (shader, entry point, override constants). A shader may start with `//!include FILE`
//! lines naming library files of `shaders/` whose text is prepended (the shader tests in
//! Python resolve them the same way).
//!
//! Bind group layouts are explicit: binding 0 is always the kernel's parameter uniform,
//! bindings 1.. the storage buffers the entry point lists.

use super::context::Gpu;
use crate::error::{Error, Result};
use std::collections::HashMap;

const SOURCES: &[(&str, &str)] = &[
    ("strided.wgsl", include_str!("../../shaders/strided.wgsl")),
    ("math.wgsl", include_str!("../../shaders/math.wgsl")),
    ("unary.wgsl", include_str!("../../shaders/unary.wgsl")),
    ("binary.wgsl", include_str!("../../shaders/binary.wgsl")),
    ("where.wgsl", include_str!("../../shaders/where.wgsl")),
    ("fill.wgsl", include_str!("../../shaders/fill.wgsl")),
    ("reduce.wgsl", include_str!("../../shaders/reduce.wgsl")),
    ("arg_reduce.wgsl", include_str!("../../shaders/arg_reduce.wgsl")),
    ("softmax.wgsl", include_str!("../../shaders/softmax.wgsl")),
    ("gather.wgsl", include_str!("../../shaders/gather.wgsl")),
    ("scatter.wgsl", include_str!("../../shaders/scatter.wgsl")),
    ("matmul_params.wgsl", include_str!("../../shaders/matmul_params.wgsl")),
    ("matmul.wgsl", include_str!("../../shaders/matmul.wgsl")),
    ("matmul_naive.wgsl", include_str!("../../shaders/matmul_naive.wgsl")),
    ("random.wgsl", include_str!("../../shaders/random.wgsl")),
    ("optim.wgsl", include_str!("../../shaders/optim.wgsl")),
    ("norm.wgsl", include_str!("../../shaders/norm.wgsl")),
    ("scan.wgsl", include_str!("../../shaders/scan.wgsl")),
    ("sort.wgsl", include_str!("../../shaders/sort.wgsl")),
];

/// How an entry point uses one storage binding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    ReadWrite,
}

/// An entry point and its storage bindings (numbered from 1, in order).
pub struct Entry {
    pub file: &'static str,
    pub name: &'static str,
    pub storage: &'static [Access],
}

/// A ready pipeline and the layout its bind groups must follow.
#[derive(Clone)]
pub struct Kernel {
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

#[derive(Default)]
pub struct PipelineCache {
    modules: HashMap<&'static str, wgpu::ShaderModule>,
    layouts: HashMap<(&'static str, &'static str), (wgpu::BindGroupLayout, wgpu::PipelineLayout)>,
    kernels: HashMap<KernelKey, Kernel>,
}

/// (shader, entry point, override values in the caller's order): hashed without formatting.
#[derive(Hash, PartialEq, Eq)]
struct KernelKey {
    file: &'static str,
    entry: &'static str,
    constants: smallvec::SmallVec<[(&'static str, u64); 8]>,
}

fn raw_source(file: &str) -> Result<&'static str> {
    SOURCES
        .iter()
        .find(|(n, _)| *n == file)
        .map(|(_, s)| *s)
        .or_else(|| crate::kinds::generated_wgsl(file)) // the op table's libraries
        .ok_or_else(|| Error::Device(format!("no shader named {file}")))
}

/// The shader's text with its `//!include` files prepended.
pub fn source(file: &str) -> Result<String> {
    let text = raw_source(file)?;
    let mut out = String::new();
    for line in text.lines() {
        if let Some(lib) = line.strip_prefix("//!include ") {
            out.push_str(&source(lib.trim())?);
            out.push('\n');
        }
    }
    out.push_str(text);
    Ok(out)
}

/// Shaders whose every index the host validated (windows cover all the kernel touches, tile
/// edges are guarded by the BOUNDS override): compiled without injected bounds checks, so
/// register tiles and shared-memory reads stay clamp-free in the hot loop.
const HOST_VALIDATED: &[&str] = &["matmul.wgsl", "matmul_naive.wgsl"];

/// Runtime checks for one shader. Loop bounding (a counter wgpu would add to every loop,
/// which can stop drivers from unrolling) is off everywhere: all loops here are finite.
fn runtime_checks(file: &str) -> wgpu::ShaderRuntimeChecks {
    let mut checks = wgpu::ShaderRuntimeChecks::checked();
    checks.force_loop_bounding = false;
    checks.bounds_checks = !HOST_VALIDATED.contains(&file);
    checks
}

/// Names of all shader files (for tests).
pub fn shader_files() -> impl Iterator<Item = &'static str> {
    SOURCES.iter().map(|(n, _)| *n)
}

/// Runs `f` inside a validation error scope and turns a captured error into `Error::Device`.
fn validated<T>(gpu: &Gpu, what: &str, f: impl FnOnce() -> T) -> Result<T> {
    let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::Validation);
    let out = f();
    match pollster::block_on(scope.pop()) {
        None => Ok(out),
        Some(e) => Err(Error::Device(format!("{what}: the GPU rejected a shader (a bug in backprop, please report it): {e}"))),
    }
}

impl PipelineCache {
    pub fn kernel(&mut self, gpu: &Gpu, entry: &Entry, constants: &[(&'static str, f64)]) -> Result<Kernel> {
        let key = KernelKey { file: entry.file, entry: entry.name, constants: constants.iter().map(|&(k, v)| (k, v.to_bits())).collect() };
        if let Some(k) = self.kernels.get(&key) {
            return Ok(k.clone());
        }
        if !self.modules.contains_key(entry.file) {
            let text = source(entry.file)?;
            let desc = wgpu::ShaderModuleDescriptor { label: Some(entry.file), source: wgpu::ShaderSource::Wgsl(text.into()) };
            let checks = runtime_checks(entry.file);
            // SAFETY: every loop in these shaders is bounded by its parameters, and files
            // compiled without bounds checks index only ranges the host validated.
            let module = validated(gpu, entry.file, || unsafe { gpu.device.create_shader_module_trusted(desc, checks) })?;
            self.modules.insert(entry.file, module);
        }
        let (bgl, pl) = self.layouts.entry((entry.file, entry.name)).or_insert_with(|| layouts(gpu, entry)).clone();
        let module = &self.modules[entry.file];
        let pipeline = validated(gpu, &format!("{}:{}", entry.file, entry.name), || {
            gpu.device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
                label: Some(entry.name),
                layout: Some(&pl),
                module,
                entry_point: Some(entry.name),
                compilation_options: wgpu::PipelineCompilationOptions {
                    constants,
                    // Every kernel writes the workgroup memory it reads.
                    zero_initialize_workgroup_memory: false,
                },
                cache: None,
            })
        })?;
        let k = Kernel { pipeline, layout: bgl };
        self.kernels.insert(key, k.clone());
        Ok(k)
    }
}

fn layouts(gpu: &Gpu, entry: &Entry) -> (wgpu::BindGroupLayout, wgpu::PipelineLayout) {
    let buffer = |binding: u32, ty: wgpu::BufferBindingType| wgpu::BindGroupLayoutEntry {
        binding,
        visibility: wgpu::ShaderStages::COMPUTE,
        ty: wgpu::BindingType::Buffer { ty, has_dynamic_offset: false, min_binding_size: None },
        count: None,
    };
    let mut entries = vec![buffer(0, wgpu::BufferBindingType::Uniform)];
    for (i, a) in entry.storage.iter().enumerate() {
        entries.push(buffer(i as u32 + 1, wgpu::BufferBindingType::Storage { read_only: *a == Access::Read }));
    }
    let bgl = gpu.device.create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor { label: Some(entry.name), entries: &entries });
    let pl = gpu.device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
        label: Some(entry.name),
        bind_group_layouts: &[Some(&bgl)],
        immediate_size: 0,
    });
    (bgl, pl)
}
