//! Size-bucketed reuse of GPU buffers. A dropped tensor's buffer goes back to a free list of
//! its size class and is handed to the next allocation of that class.
//!
//! Reuse is safe while commands that read the old contents are still pending: all GPU work,
//! uploads included, is recorded in stream order on one queue (see `recorder`), and wgpu puts
//! a barrier between a command that reads a buffer and a later one that writes it.

use super::context::{existing, Gpu};
use crate::error::{Error, Result};
use parking_lot::Mutex;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};

/// What a buffer is for; each kind has its own usage flags and free lists.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub enum BufferKind {
    /// Tensor memory: read and written by kernels, source and target of copies.
    Storage,
    /// Kernel parameters and small uploads (the recorder's arena).
    Uniform,
    /// Host-visible memory that GPU results are copied into and read back from.
    Readback,
}

impl BufferKind {
    fn usage(self) -> wgpu::BufferUsages {
        use wgpu::BufferUsages as U;
        match self {
            BufferKind::Storage => U::STORAGE | U::COPY_SRC | U::COPY_DST,
            BufferKind::Uniform => U::UNIFORM | U::COPY_SRC | U::COPY_DST,
            BufferKind::Readback => U::MAP_READ | U::COPY_DST,
        }
    }
}

/// Rounds a request up to its size class: multiples of 256 bytes up to 4 KiB, then quarter
/// steps between powers of two (at most 25% waste).
pub fn size_class(bytes: u64) -> u64 {
    let b = bytes.max(256);
    if b <= 4096 {
        return b.next_multiple_of(256);
    }
    let p = 63 - (b - 1).leading_zeros();
    b.next_multiple_of(1u64 << (p - 2))
}

/// Bytes the pool keeps cached by default before it starts freeing returned buffers.
const DEFAULT_CACHE_BYTES: u64 = 2 << 30;

pub struct BufferPool {
    free: Mutex<HashMap<(BufferKind, u64), Vec<wgpu::Buffer>>>,
    cached: AtomicU64,
    live: AtomicU64,
    cache_limit: u64,
}

/// A buffer that returns to the pool when dropped.
pub struct PooledBuffer {
    buffer: Option<wgpu::Buffer>,
    kind: BufferKind,
}

impl std::ops::Deref for PooledBuffer {
    type Target = wgpu::Buffer;
    fn deref(&self) -> &wgpu::Buffer {
        self.buffer.as_ref().expect("pooled buffer used after release")
    }
}

impl Drop for PooledBuffer {
    fn drop(&mut self) {
        if let (Some(buffer), Some(gpu)) = (self.buffer.take(), existing()) {
            gpu.pool.release(self.kind, buffer);
        }
    }
}

impl BufferPool {
    pub fn new() -> BufferPool {
        let cache_limit = std::env::var("BACKPROP_WGPU_CACHE_MB")
            .ok()
            .and_then(|v| v.parse::<u64>().ok())
            .map(|mb| mb << 20)
            .unwrap_or(DEFAULT_CACHE_BYTES);
        BufferPool { free: Mutex::default(), cached: AtomicU64::new(0), live: AtomicU64::new(0), cache_limit }
    }

    /// A buffer of at least `bytes` bytes (contents undefined).
    pub fn acquire(&self, gpu: &Gpu, kind: BufferKind, bytes: u64) -> Result<PooledBuffer> {
        // `bytes` first: size_class of a near-u64::MAX request would overflow.
        if bytes > gpu.limits.max_buffer_size || size_class(bytes) > gpu.limits.max_buffer_size {
            return Err(Error::Device(format!(
                "cannot allocate {} MiB on the GPU '{}': its largest buffer is {} MiB",
                bytes >> 20,
                gpu.info.name,
                gpu.limits.max_buffer_size >> 20
            )));
        }
        let class = size_class(bytes);
        let reused = self.free.lock().get_mut(&(kind, class)).and_then(|v| v.pop());
        let buffer = match reused {
            Some(b) => {
                self.cached.fetch_sub(class, Ordering::Relaxed);
                b
            }
            None => match self.create(gpu, kind, class) {
                Ok(b) => b,
                Err(_) => {
                    // Out of memory: give the cached buffers back to the driver and try once more.
                    self.empty_cache();
                    gpu.device.poll(wgpu::PollType::wait_indefinitely()).ok();
                    self.create(gpu, kind, class)?
                }
            },
        };
        self.live.fetch_add(class, Ordering::Relaxed);
        Ok(PooledBuffer { buffer: Some(buffer), kind })
    }

    fn create(&self, gpu: &Gpu, kind: BufferKind, class: u64) -> Result<wgpu::Buffer> {
        let scope = gpu.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let buffer = gpu.device.create_buffer(&wgpu::BufferDescriptor {
            label: None,
            size: class,
            usage: kind.usage(),
            mapped_at_creation: false,
        });
        if let Some(e) = pollster::block_on(scope.pop()) {
            return Err(Error::Device(format!(
                "out of GPU memory allocating {} MiB on '{}' ({e}); free tensors you no longer need, \
                 or call backprop.gpu.empty_cache()",
                class >> 20,
                gpu.info.name
            )));
        }
        Ok(buffer)
    }

    fn release(&self, kind: BufferKind, buffer: wgpu::Buffer) {
        let class = buffer.size();
        self.live.fetch_sub(class, Ordering::Relaxed);
        if self.cached.load(Ordering::Relaxed) + class > self.cache_limit {
            return; // dropped: wgpu frees it once pending work is done
        }
        self.cached.fetch_add(class, Ordering::Relaxed);
        self.free.lock().entry((kind, class)).or_default().push(buffer);
    }

    /// Frees every cached buffer.
    pub fn empty_cache(&self) {
        let mut free = self.free.lock();
        free.clear();
        self.cached.store(0, Ordering::Relaxed);
    }

    /// (bytes held by live buffers, bytes cached for reuse).
    pub fn stats(&self) -> (u64, u64) {
        (self.live.load(Ordering::Relaxed), self.cached.load(Ordering::Relaxed))
    }
}

impl Default for BufferPool {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::size_class;

    #[test]
    fn size_classes_waste_at_most_a_quarter() {
        assert_eq!(size_class(0), 256);
        assert_eq!(size_class(257), 512);
        assert_eq!(size_class(4096), 4096);
        assert_eq!(size_class(4097), 5120);
        for b in [5000u64, 65_537, 1 << 20, (1 << 20) + 1, 3_000_000, 123_456_789] {
            let c = size_class(b);
            assert!(c >= b && (c as f64) <= b as f64 * 1.25 + 256.0, "{b} -> {c}");
            assert_eq!(size_class(c), c, "classes are fixed points");
        }
    }
}
