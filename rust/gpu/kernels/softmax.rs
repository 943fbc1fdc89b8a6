//! Softmax and log-softmax along the last dimension: a workgroup per row for long rows, a
//! thread per row for short ones (class scores).

use super::super::context::gpu;
use super::super::launch::{collapse, dispatch, extent, grid, kernel, relative, whole, window, WalkParams, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use super::gpu_storage;
use crate::error::{dtype_err, Error, Result};
use crate::tensor::{DType, Dims, Storage, Tensor};

const PER_GROUP: Entry = Entry { file: "softmax.wgsl", name: "per_workgroup", storage: &[Access::Read, Access::ReadWrite] };
const PER_THREAD: Entry = Entry { file: "softmax.wgsl", name: "per_thread", storage: &[Access::Read, Access::ReadWrite] };

/// Rows at most this long get a thread each.
const SHORT_ROW: usize = 32;

pub fn softmax_last(a: &Tensor, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    if a.dtype() != DType::F32 {
        return Err(dtype_err!("{op}: expected a float tensor, got {}", a.dtype().name()));
    }
    let a = &super::walkable(a, 1)?;
    let g = gpu()?;
    let out = GpuStorage::alloc(g, DType::F32, a.numel())?;
    let l = a.layout();
    let nd = l.ndim();
    let cols = l.shape().last().copied().unwrap_or(1);
    let rows = a.numel().checked_div(cols).unwrap_or(0);
    if rows > 0 {
        let lead = collapse(&l.shape()[..nd - 1], &[&l.strides()[..nd - 1]]);
        let mut dims: Dims = lead.shape.clone();
        dims.push(cols);
        let mut strides: Dims = lead.strides[0].clone();
        strides.push(l.strides()[nd - 1]);
        let zeros = Dims::from_elem(0, dims.len());
        let mut params = WalkParams::new(op, &dims, &[&zeros, &strides])?;
        params.split = lead.shape.len() as u32;
        params.count = u32::try_from(rows).map_err(|_| Error::Device(format!("{op}: too many rows for one GPU launch")))?;
        params.u[0] = cols as u32;
        let (lo, hi) = extent(l.shape(), l.strides(), l.offset());
        let (src, base) = window(g, gpu_storage(a, op)?, lo, hi, op)?;
        params.offsets[1] = relative(l.offset(), base);
        let (dst, _) = whole(g, &out, op)?;
        let constants = [("LOG", log as u32 as f64)];
        let (entry, workgroups) = if cols <= SHORT_ROW { (&PER_THREAD, (rows as u64).div_ceil(WORKGROUP)) } else { (&PER_GROUP, rows as u64) };
        dispatch(g, &kernel(g, entry, &constants)?, &params, &[src, dst], grid(g, workgroups)?)?;
    }
    Ok(Tensor::from_storage(Storage::Gpu(out), a.shape()))
}
