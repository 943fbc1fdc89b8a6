//! Gathers and scatters by flat offsets: the kernels behind advanced indexing, `gather`,
//! `index_select`, and their backward (scatter-add). Offsets are int64 tensors (int32 on the
//! GPU) that the ops layer computed and bounds-checked.

use super::super::context::{gpu, Gpu};
use super::super::launch::{chunks, collapse, dispatch, extent, grid, kernel, relative, window, WalkParams, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use super::elementwise::{cast, fill};
use super::{dtype_code, gpu_storage};
use crate::error::{dtype_err, shape_err, Error, Result, ShapeDisplay};
use crate::tensor::{numel, DType, Dims, Storage, Tensor};
use std::ops::Range;

const GATHER: Entry = Entry { file: "gather.wgsl", name: "main", storage: &[Access::Read, Access::Read, Access::ReadWrite] };
const SCATTER: Entry = Entry { file: "scatter.wgsl", name: "main", storage: &[Access::Read, Access::Read, Access::ReadWrite] };

fn contiguous_offsets(offsets: &Tensor, op: &str) -> Result<Tensor> {
    if offsets.dtype() != DType::I64 {
        return Err(dtype_err!("{op}: offsets must be int64, got {}", offsets.dtype().name()));
    }
    if offsets.is_contiguous() {
        Ok(offsets.clone())
    } else {
        cast(offsets, DType::I64)
    }
}

/// A walk over `t`'s elements in row-major order (operand y), with `count` work items.
fn walk_of(t: &Tensor, op: &str) -> Result<WalkParams> {
    let l = t.layout();
    let c = collapse(l.shape(), &[l.strides()]);
    let zeros = Dims::from_elem(0, c.shape.len());
    WalkParams::new(op, &c.shape, &[&zeros, &c.strides[0]])
}

/// `out[i] = src.flat[offsets[i]]`, shaped like `offsets`.
pub fn take(src: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    let op = "index";
    let offsets = contiguous_offsets(offsets, op)?;
    let src = &super::walkable(src, 0)?;
    let g = gpu()?;
    let n = offsets.numel();
    // Gathered values are values of `src` (offsets were checked), so its bounds hold for them.
    let out = GpuStorage::alloc(g, src.dtype(), n)?.with_bounds(super::super::transfer::known_bounds(src));
    if n > 0 {
        let mut params = walk_of(src, op)?;
        params.u[0] = u32::try_from(src.numel()).map_err(|_| Error::Device(format!("{op}: source too large for the GPU's 32-bit indices")))?;
        let l = src.layout();
        let (lo, hi) = extent(l.shape(), l.strides(), l.offset());
        let (src_b, src_base) = window(g, gpu_storage(src, op)?, lo, hi, op)?;
        params.offsets[1] = relative(l.offset(), src_base);
        let idx = gpu_storage(&offsets, op)?;
        let k = kernel(g, &GATHER, &[])?;
        for (start, end) in chunks(g, n) {
            let (out_b, out_base) = window(g, &out, start, end, op)?;
            let idx_off = offsets.layout().offset();
            let (idx_b, idx_base) = window(g, idx, idx_off + start, idx_off + end, op)?;
            params.offsets[0] = relative(0, out_base);
            params.offsets[2] = relative(idx_off, idx_base);
            params.base = start as u32;
            params.count = (end - start) as u32;
            dispatch(g, &k, &params, &[src_b, idx_b, out_b], grid(g, ((end - start) as u64).div_ceil(WORKGROUP))?)?;
        }
    }
    Ok(Tensor::from_storage(Storage::Gpu(out), offsets.shape()))
}

/// Writes (or with `accumulate` adds) `values` at flat `offsets` of the contiguous elements
/// `range` of `dst`.
fn scatter_into(g: &Gpu, (dst, range): (&GpuStorage, Range<usize>), offsets: &Tensor, values: &Tensor, accumulate: bool, op: &str) -> Result<()> {
    let (dst_offset, dst_len) = (range.start, range.len());
    let offsets = contiguous_offsets(offsets, op)?;
    let values = &super::walkable(values, 0)?;
    let n = offsets.numel();
    if values.numel() != n {
        return Err(shape_err!(
            "{op}: {} values for {n} indices (values shape {}, index shape {})",
            values.numel(),
            ShapeDisplay(values.shape()),
            ShapeDisplay(offsets.shape())
        ));
    }
    if n == 0 {
        return Ok(());
    }
    let mut params = walk_of(values, op)?;
    params.u[0] = u32::try_from(dst_len).map_err(|_| Error::Device(format!("{op}: destination too large for the GPU's 32-bit indices")))?;
    let (dst_b, dst_base) = window(g, dst, dst_offset, dst_offset + dst_len, op)?;
    params.offsets[0] = relative(dst_offset, dst_base);
    let vl = values.layout();
    let (lo, hi) = extent(vl.shape(), vl.strides(), vl.offset());
    let (val_b, val_base) = window(g, gpu_storage(values, op)?, lo, hi, op)?;
    params.offsets[1] = relative(vl.offset(), val_base);
    let idx = gpu_storage(&offsets, op)?;
    let constants = [("ACCUMULATE", accumulate as u32 as f64), ("T", dtype_code(values.dtype())?)];
    let k = kernel(g, &SCATTER, &constants)?;
    for (start, end) in chunks(g, n) {
        let idx_off = offsets.layout().offset();
        let (idx_b, idx_base) = window(g, idx, idx_off + start, idx_off + end, op)?;
        params.offsets[2] = relative(idx_off, idx_base);
        params.base = start as u32;
        params.count = (end - start) as u32;
        dispatch(g, &k, &params, &[val_b, idx_b, dst_b], grid(g, ((end - start) as u64).div_ceil(WORKGROUP))?)?;
    }
    Ok(())
}

/// A zero tensor of `shape` with `values` added at flat `offsets` (repeats accumulate).
pub fn scatter_add(shape: &[usize], offsets: &Tensor, values: &Tensor) -> Result<Tensor> {
    let g = gpu()?;
    let n = numel(shape);
    let out = GpuStorage::alloc(g, values.dtype(), n)?;
    fill(&out, 0)?;
    scatter_into(g, (&out, 0..n), offsets, values, true, "index_backward")?;
    Ok(Tensor::from_storage(Storage::Gpu(out), shape))
}

/// `dst.flat[offsets] = values` (or `+=`), in place on a contiguous `dst`. With repeated
/// offsets and no accumulation, which value lands is unspecified (as in PyTorch on CUDA).
pub fn index_put(dst: &Tensor, offsets: &Tensor, values: &Tensor, accumulate: bool) -> Result<()> {
    let op = "index_put_";
    if !dst.is_contiguous() {
        return Err(Error::Value(format!("{op}: the destination must be contiguous; call .contiguous() first")));
    }
    if values.dtype() != dst.dtype() {
        return Err(dtype_err!("{op}: values are {} but the tensor is {}", values.dtype().name(), dst.dtype().name()));
    }
    // A kernel cannot read and write one buffer: values that alias the destination are copied.
    let values = if values.shares_storage(dst) { cast(values, values.dtype())? } else { values.clone() };
    let g = gpu()?;
    let storage = gpu_storage(dst, op)?;
    let start = dst.layout().offset();
    scatter_into(g, (storage, start..start + dst.numel()), offsets, &values, accumulate, op)
}
