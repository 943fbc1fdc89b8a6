//! The GPU backend: WGSL compute shaders (`shaders/*.wgsl`) run through `wgpu`, so one code
//! path drives Vulkan, Metal and DX12 GPUs, and Mesa's lavapipe in CI.
//!
//! - `context`: the lazily created device (adapter choice, limits, error capture).
//! - `storage`, `pool`: tensor memory (one 32-bit word per element) and buffer reuse.
//! - `recorder`: one command encoder, submitted only at sync points.
//! - `pipelines`: shader sources and the pipeline cache.
//! - `launch`: kernel parameters, binding windows, folded grids.
//! - `kernels`: the host side of each op family; `transfer`: host <-> GPU copies.

mod context;
pub mod kernels;
mod launch;
mod pipelines;
mod pool;
mod recorder;
mod storage;
mod transfer;

pub use context::{allow_software_adapter, gpu, is_available, is_initialized};
pub use pipelines::{shader_files, source as shader_source};
pub use storage::GpuStorage;
pub use transfer::{known_bounds, to_cpu, to_gpu};

use crate::error::Result;

/// Submits all recorded GPU work and waits for it to finish.
pub fn synchronize() -> Result<()> {
    match context::existing() {
        Some(g) => g.recorder.lock().synchronize(g),
        None => Ok(()),
    }
}

/// Frees the buffers the pool keeps for reuse.
pub fn empty_cache() -> Result<()> {
    if let Some(g) = context::existing() {
        g.recorder.lock().synchronize(g)?;
        g.pool.empty_cache();
    }
    Ok(())
}

/// Counters for tests and diagnostics.
pub struct Stats {
    /// Submissions to the GPU queue so far.
    pub submits: u64,
    /// Commands (kernel launches and copies) recorded so far.
    pub commands: u64,
    /// Commands recorded and not yet submitted.
    pub pending: usize,
    /// Bytes of live buffers and of buffers cached for reuse.
    pub live_bytes: u64,
    pub cached_bytes: u64,
}

pub fn stats() -> Result<Stats> {
    let g = gpu()?;
    let r = g.recorder.lock();
    let (live_bytes, cached_bytes) = g.pool.stats();
    Ok(Stats { submits: r.submits(), commands: r.recorded(), pending: r.pending(), live_bytes, cached_bytes })
}

#[cfg(test)]
mod tests {
    use crate::backend::{self, BinaryKind, ReduceKind};
    use crate::tensor::{Device, Tensor};

    /// GPU tests share one device and its counters: they run one at a time.
    static SERIAL: parking_lot::Mutex<()> = parking_lot::Mutex::new(());

    /// These run only where a GPU adapter exists (lavapipe in CI); elsewhere they print why.
    fn device_or_skip() -> Option<parking_lot::MutexGuard<'static, ()>> {
        match super::gpu() {
            Ok(_) => Some(SERIAL.lock()),
            Err(e) => {
                eprintln!("skipping: {e}");
                None
            }
        }
    }

    #[test]
    fn ops_batch_until_a_read_back() {
        let Some(_serial) = device_or_skip() else { return };
        let a = backend::to_device(&Tensor::from_vec((0..1000).map(|i| i as f32).collect(), &[1000]).unwrap(), Device::Gpu).unwrap();
        super::synchronize().unwrap();
        let before = super::stats().unwrap();
        let mut x = a.clone();
        for _ in 0..10 {
            x = backend::binary(BinaryKind::Add, &x, &a, &[1000]).unwrap();
        }
        let s = backend::reduce(ReduceKind::Sum, &x, &[0], false).unwrap();
        let mid = super::stats().unwrap();
        assert_eq!(mid.submits, before.submits, "nothing submitted before the read-back");
        assert!(mid.pending >= 11);
        assert_eq!(s.item().unwrap(), 11.0 * 999.0 * 1000.0 / 2.0);
        assert_eq!(super::stats().unwrap().submits, before.submits + 1);
    }

    #[test]
    fn float64_never_reaches_the_gpu() {
        let Some(_serial) = device_or_skip() else { return };
        let t = Tensor::from_vec(vec![1.0f64], &[1]).unwrap();
        let e = backend::to_device(&t, Device::Gpu).unwrap_err().to_string();
        assert!(e.contains("float64") && e.contains(".float()"), "{e}");
    }
}
