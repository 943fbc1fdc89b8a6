//! Command batching. Every kernel launch and copy is recorded into one command encoder (in
//! one open compute pass while launches follow each other) and submitted only at a sync
//! point: a read-back (`.item()`, `.numpy()`, `.tolist()`, `.cpu()`), an explicit
//! `synchronize()`, or when the batch grows past `FLUSH_COMMANDS` commands or
//! `FLUSH_UPLOAD_BYTES` bytes of staged uploads. Never one submit per op.
//!
//! Kernel parameters and small uploads are appended to a host-side arena and written to its
//! GPU buffer with `queue.write_buffer` just before the submit, which WebGPU orders before the
//! submitted commands and after all earlier submissions. Large uploads go through their own
//! mapped staging buffer and a copy in the encoder, so they too stay in stream order.

use super::context::Gpu;
use super::pool::{BufferKind, PooledBuffer};
use crate::error::{Error, Result};
use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Commands after which the batch is submitted without waiting.
const FLUSH_COMMANDS: usize = 128;
/// Staged upload bytes after which the batch is submitted without waiting.
const FLUSH_UPLOAD_BYTES: u64 = 64 << 20;
/// Submissions the host may run ahead of the GPU before it waits for the oldest.
const MAX_IN_FLIGHT: usize = 3;
/// Size of one arena chunk (kernel parameters and small uploads).
const ARENA_CHUNK: u64 = 256 << 10;
/// Uploads up to this size are staged in the arena.
const SMALL_UPLOAD: usize = 16 << 10;
/// Alignment of one kernel's parameters in the arena (the largest uniform offset alignment
/// WebGPU allows a device to demand).
const PARAM_ALIGN: usize = 256;

/// A storage buffer range bound to a kernel.
#[derive(Clone, Copy)]
pub struct Binding<'a> {
    pub buffer: &'a wgpu::Buffer,
    pub offset: u64,
    pub size: u64,
}

struct ArenaChunk {
    buffer: PooledBuffer,
    bytes: Vec<u8>,
}

pub struct Recorder {
    encoder: Option<wgpu::CommandEncoder>,
    pass: Option<wgpu::ComputePass<'static>>,
    arena: Vec<ArenaChunk>,
    commands: usize,
    upload_bytes: u64,
    in_flight: VecDeque<wgpu::SubmissionIndex>,
    submits: u64,
    recorded: u64,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder { encoder: None, pass: None, arena: Vec::new(), commands: 0, upload_bytes: 0, in_flight: VecDeque::new(), submits: 0, recorded: 0 }
    }

    /// Submissions made so far (tests check that ops batch instead of submitting).
    pub fn submits(&self) -> u64 {
        self.submits
    }

    /// Commands recorded so far.
    pub fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Commands recorded and not yet submitted.
    pub fn pending(&self) -> usize {
        self.commands
    }

    fn encoder(&mut self, gpu: &Gpu) -> &mut wgpu::CommandEncoder {
        self.pass = None;
        self.encoder.get_or_insert_with(|| gpu.device.create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None }))
    }

    fn pass(&mut self, gpu: &Gpu) -> &mut wgpu::ComputePass<'static> {
        if self.pass.is_none() {
            let pass = self.encoder(gpu).begin_compute_pass(&wgpu::ComputePassDescriptor::default()).forget_lifetime();
            self.pass = Some(pass);
        }
        self.pass.as_mut().expect("pass just opened")
    }

    /// Appends `data` to the arena; returns the chunk index and byte offset.
    fn arena_push(&mut self, gpu: &Gpu, data: &[u8], align: usize) -> Result<(usize, u64)> {
        let fits = |c: &ArenaChunk| c.bytes.len().next_multiple_of(align) + data.len() <= c.buffer.size() as usize;
        if !self.arena.last().is_some_and(fits) {
            let size = ARENA_CHUNK.max(data.len() as u64);
            let buffer = gpu.pool.acquire(gpu, BufferKind::Uniform, size)?;
            self.arena.push(ArenaChunk { buffer, bytes: Vec::with_capacity(size as usize) });
        }
        let idx = self.arena.len() - 1;
        let chunk = &mut self.arena[idx];
        let offset = chunk.bytes.len().next_multiple_of(align);
        chunk.bytes.resize(offset, 0);
        chunk.bytes.extend_from_slice(data);
        Ok((idx, offset as u64))
    }

    /// Records one kernel launch: `params` bound as the uniform at binding 0, `storage` at
    /// bindings 1.., `grid` workgroups.
    pub fn dispatch(
        &mut self,
        gpu: &Gpu,
        pipeline: &wgpu::ComputePipeline,
        layout: &wgpu::BindGroupLayout,
        params: &[u8],
        storage: &[Binding<'_>],
        grid: [u32; 3],
    ) -> Result<()> {
        let align = PARAM_ALIGN.max(gpu.limits.min_uniform_buffer_offset_alignment as usize);
        let (chunk, offset) = self.arena_push(gpu, params, align)?;
        let mut entries = Vec::with_capacity(storage.len() + 1);
        entries.push(wgpu::BindGroupEntry {
            binding: 0,
            resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                buffer: &self.arena[chunk].buffer,
                offset,
                size: wgpu::BufferSize::new(params.len() as u64),
            }),
        });
        for (i, b) in storage.iter().enumerate() {
            entries.push(wgpu::BindGroupEntry {
                binding: i as u32 + 1,
                resource: wgpu::BindingResource::Buffer(wgpu::BufferBinding {
                    buffer: b.buffer,
                    offset: b.offset,
                    size: wgpu::BufferSize::new(b.size),
                }),
            });
        }
        let bind_group = gpu.device.create_bind_group(&wgpu::BindGroupDescriptor { label: None, layout, entries: &entries });
        let pass = self.pass(gpu);
        pass.set_pipeline(pipeline);
        pass.set_bind_group(0, &bind_group, &[]);
        pass.dispatch_workgroups(grid[0], grid[1], grid[2]);
        self.after_command(gpu)
    }

    /// Records a copy of `data` into `dst` at `dst_offset` (bytes; both multiples of 4).
    pub fn upload(&mut self, gpu: &Gpu, data: &[u8], dst: &wgpu::Buffer, dst_offset: u64) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        debug_assert!(data.len() % 4 == 0 && dst_offset % 4 == 0);
        if data.len() <= SMALL_UPLOAD {
            let (chunk, offset) = self.arena_push(gpu, data, 4)?;
            // A second handle (wgpu buffers are reference counted): the encoder is borrowed mutably.
            let src: wgpu::Buffer = (*self.arena[chunk].buffer).clone();
            self.encoder(gpu).copy_buffer_to_buffer(&src, offset, dst, dst_offset, data.len() as u64);
        } else {
            let staging = gpu.device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("backprop upload"),
                size: data.len() as u64,
                usage: wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: true,
            });
            staging
                .slice(..)
                .get_mapped_range_mut()
                .map_err(|e| Error::Device(format!("to(\"gpu\"): could not map an upload buffer: {e}")))?
                .copy_from_slice(data);
            staging.unmap();
            self.encoder(gpu).copy_buffer_to_buffer(&staging, 0, dst, dst_offset, data.len() as u64);
            self.upload_bytes += data.len() as u64;
        }
        self.after_command(gpu)
    }

    /// Records a buffer-to-buffer copy (bytes; multiples of 4).
    pub fn copy(&mut self, gpu: &Gpu, src: &wgpu::Buffer, src_offset: u64, dst: &wgpu::Buffer, dst_offset: u64, len: u64) -> Result<()> {
        if len > 0 {
            self.encoder(gpu).copy_buffer_to_buffer(src, src_offset, dst, dst_offset, len);
        }
        self.after_command(gpu)
    }

    fn after_command(&mut self, gpu: &Gpu) -> Result<()> {
        self.commands += 1;
        self.recorded += 1;
        if self.commands >= FLUSH_COMMANDS || self.upload_bytes >= FLUSH_UPLOAD_BYTES {
            self.flush(gpu)?;
        }
        Ok(())
    }

    /// Submits what was recorded (without waiting for it); returns the submission.
    pub fn flush(&mut self, gpu: &Gpu) -> Result<Option<wgpu::SubmissionIndex>> {
        self.pass = None;
        let Some(encoder) = self.encoder.take() else {
            return Ok(None);
        };
        for chunk in &self.arena {
            gpu.queue.write_buffer(&chunk.buffer, 0, &chunk.bytes);
        }
        let index = gpu.queue.submit([encoder.finish()]);
        self.arena.clear();
        self.commands = 0;
        self.upload_bytes = 0;
        self.submits += 1;
        self.in_flight.push_back(index.clone());
        while self.in_flight.len() > MAX_IN_FLIGHT {
            let oldest = self.in_flight.pop_front().expect("non-empty");
            wait(gpu, Some(oldest))?;
        }
        gpu.device.poll(wgpu::PollType::Poll).ok();
        gpu.check("GPU submit")?;
        Ok(Some(index))
    }

    /// Submits everything and waits until the GPU has finished it.
    pub fn synchronize(&mut self, gpu: &Gpu) -> Result<()> {
        self.flush(gpu)?;
        self.in_flight.clear();
        wait(gpu, None)?;
        gpu.check("synchronize")
    }

    /// Copies `len` bytes at `offset` of `src` back to the host, waiting for all work
    /// recorded before (a sync point).
    pub fn read(&mut self, gpu: &Gpu, src: &wgpu::Buffer, offset: u64, len: u64) -> Result<Vec<u8>> {
        if len == 0 {
            return Ok(Vec::new());
        }
        let staging = gpu.pool.acquire(gpu, BufferKind::Readback, len)?;
        self.encoder(gpu).copy_buffer_to_buffer(src, offset, &staging, 0, len);
        self.commands += 1;
        self.recorded += 1;
        let index = self.flush(gpu)?;
        let done = Arc::new(AtomicBool::new(false));
        let ok = Arc::new(AtomicBool::new(false));
        let (d, o) = (done.clone(), ok.clone());
        staging.slice(0..len).map_async(wgpu::MapMode::Read, move |r| {
            o.store(r.is_ok(), Ordering::SeqCst);
            d.store(true, Ordering::SeqCst);
        });
        wait(gpu, index)?;
        self.in_flight.clear();
        if !done.load(Ordering::SeqCst) {
            wait(gpu, None)?;
        }
        gpu.check("read back from the GPU")?;
        if !ok.load(Ordering::SeqCst) {
            return Err(Error::Device("read back from the GPU: mapping the result buffer failed".into()));
        }
        let bytes = staging
            .slice(0..len)
            .get_mapped_range()
            .map_err(|e| Error::Device(format!("read back from the GPU: {e}")))?
            .to_vec();
        staging.unmap();
        Ok(bytes)
    }
}

fn wait(gpu: &Gpu, index: Option<wgpu::SubmissionIndex>) -> Result<()> {
    gpu.device
        .poll(wgpu::PollType::Wait { submission_index: index, timeout: None })
        .map(|_| ())
        .map_err(|e| Error::Device(format!("waiting for the GPU failed: {e}")))
}
