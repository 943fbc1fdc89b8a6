//! Random tensors generated on the GPU with the counter-based Philox4x32-10 generator of
//! `shaders/random.wgsl`. Each call draws a fresh 64-bit key from the given generator, so
//! seeding it makes GPU sampling reproducible and successive calls independent. The stream
//! differs from the CPU's for the same seed (Philox here, xoshiro there), except for float32
//! dropout masks, which the CPU makes with this Philox too: the same mask on both.

use super::super::context::gpu;
use super::super::launch::{chunks, dispatch, grid, kernel, relative, window, WalkParams, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use crate::backend::Distribution;
use crate::error::{dtype_err, Result};
use crate::tensor::{numel, DType, Storage, Tensor};
use bytemuck::Zeroable;

const RANDOM: Entry = Entry { file: "random.wgsl", name: "main", storage: &[Access::ReadWrite] };

pub fn sample(shape: &[usize], dist: Distribution, dtype: DType, gen: &crate::random::Generator) -> Result<Tensor> {
    if dtype != DType::F32 {
        return Err(dtype_err!("random sampling on the GPU produces float32, asked for {}", dtype.name()));
    }
    let g = gpu()?;
    let n = numel(shape);
    let out = GpuStorage::alloc(g, DType::F32, n)?;
    let key = gen.with(|r| r.next_u64());
    let (mode, f0, f1) = match dist {
        Distribution::Uniform { low, high } => (0.0, low, high),
        Distribution::Normal { mean, std } => (1.0, mean, std),
        Distribution::Bernoulli { keep, scale } => (2.0, keep, scale),
    };
    let mut params = WalkParams::zeroed();
    params.u = [key as u32, (key >> 32) as u32, 0, 0];
    params.f = [f0 as f32, f1 as f32, 0.0, 0.0];
    let k = kernel(g, &RANDOM, &[("MODE", mode)])?;
    for (start, end) in chunks(g, n) {
        let (b, base) = window(g, &out, start, end, "random")?;
        params.offsets[0] = relative(0, base);
        params.base = start as u32;
        params.count = (end - start) as u32;
        let threads = ((end - start) as u64).div_ceil(4);
        dispatch(g, &k, &params, &[b], grid(g, threads.div_ceil(WORKGROUP))?)?;
    }
    Ok(Tensor::from_storage(Storage::Gpu(out), shape))
}
