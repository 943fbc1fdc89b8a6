//! Row normalisation on the GPU (`shaders/norm.wgsl`): a workgroup per row of a contiguous
//! `[rows, cols]` tensor, statistics in one pass and the gradient in one pass. Launches cover
//! as many whole rows as fit the binding limit.

use super::super::context::{gpu, Gpu};
use super::super::launch::{dispatch, grid, kernel, relative, window};
use super::super::pipelines::{Access, Entry};
use super::super::recorder::Binding;
use super::super::storage::{GpuStorage, WORD};
use super::gpu_storage;
use crate::error::{dtype_err, Error, Result};
use crate::tensor::{DType, Storage, Tensor};
use bytemuck::{Pod, Zeroable};
use smallvec::SmallVec;

use Access::{Read, ReadWrite};

const FORWARD: Entry = Entry { file: "norm.wgsl", name: "forward", storage: &[Read, ReadWrite, ReadWrite] };
const BACKWARD: Entry = Entry { file: "norm.wgsl", name: "backward", storage: &[Read, Read, Read, ReadWrite] };

/// The `Norm` uniform of `norm.wgsl`, byte for byte.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct NormParams {
    offsets: [u32; 4],
    dims: [u32; 4],
    f: [f32; 4],
}

const _: () = assert!(std::mem::size_of::<NormParams>() == 48);

fn contiguous_f32(t: &Tensor, op: &str) -> Result<Tensor> {
    if t.dtype() != DType::F32 {
        return Err(dtype_err!("{op}: GPU tensors are float32, got {}", t.dtype().name()));
    }
    if t.is_contiguous() {
        Ok(t.clone())
    } else {
        super::elementwise::cast(t, DType::F32)
    }
}

/// Whole rows per launch so that every bound window stays under the binding limit.
fn rows_per_launch(g: &Gpu, cols: usize, op: &str) -> Result<usize> {
    let fit = ((g.binding_limit() / WORD) as usize).saturating_sub(128);
    if cols > fit {
        return Err(Error::Device(format!("{op}: rows of {cols} elements exceed the GPU's storage binding limit")));
    }
    Ok((fit / cols.max(1)).clamp(1, u32::MAX as usize))
}

/// One bound operand: its memory, the element where its data starts, and whether it holds
/// one element per row (rstd) rather than `cols`.
struct Operand<'a> {
    storage: &'a GpuStorage,
    offset: usize,
    per_row: bool,
}

fn operand<'a>(t: &'a Tensor, per_row: bool, op: &str) -> Result<Operand<'a>> {
    Ok(Operand { storage: gpu_storage(t, op)?, offset: t.layout().offset(), per_row })
}

fn fresh(storage: &GpuStorage, per_row: bool) -> Operand<'_> {
    Operand { storage, offset: 0, per_row }
}

/// Launches `entry` over `rows` rows of `cols` elements.
fn launch(op: &str, entry: &Entry, operands: &[Operand<'_>], rows: usize, cols: usize, eps: f32) -> Result<()> {
    if rows == 0 || cols == 0 {
        return Ok(());
    }
    let g = gpu()?;
    let k = kernel(g, entry, &[])?;
    let step = rows_per_launch(g, cols, op)?;
    for start in (0..rows).step_by(step) {
        let end = (start + step).min(rows);
        let mut params = NormParams::zeroed();
        let mut bindings: SmallVec<[Binding<'_>; 4]> = SmallVec::new();
        for (slot, o) in operands.iter().enumerate() {
            let (lo, hi) = if o.per_row { (start, end) } else { (start * cols, end * cols) };
            let (b, base) = window(g, o.storage, o.offset + lo, o.offset + hi, op)?;
            params.offsets[slot] = relative(o.offset + lo, base);
            bindings.push(b);
        }
        params.dims = [(end - start) as u32, cols as u32, 0, 0];
        params.f[0] = eps;
        dispatch(g, &k, &params, &bindings, grid(g, (end - start) as u64)?)?;
    }
    Ok(())
}

/// `(y, rstd)` of each row of `x` `[rows, cols]` (see `cpu::norm::norm_rows`).
pub fn norm_rows(x: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    let op = "norm";
    let x = contiguous_f32(x, op)?;
    let (rows, cols) = (x.shape()[0], x.shape()[1]);
    let g = gpu()?;
    let y = GpuStorage::alloc(g, DType::F32, x.numel())?;
    let rstd = GpuStorage::alloc(g, DType::F32, rows)?;
    launch(op, &FORWARD, &[operand(&x, false, op)?, fresh(&y, false), fresh(&rstd, true)], rows, cols, eps as f32)?;
    Ok((Tensor::from_storage(Storage::Gpu(y), x.shape()), Tensor::from_storage(Storage::Gpu(rstd), &[rows])))
}

/// dx of `norm_rows` from the upstream gradient, its output `y` and `rstd`.
pub fn norm_rows_backward(grad: &Tensor, y: &Tensor, rstd: &Tensor) -> Result<Tensor> {
    let op = "norm backward";
    let (gr, y, rstd) = (contiguous_f32(grad, op)?, contiguous_f32(y, op)?, contiguous_f32(rstd, op)?);
    let (rows, cols) = (y.shape()[0], y.shape()[1]);
    let g = gpu()?;
    let dx = GpuStorage::alloc(g, DType::F32, y.numel())?;
    let operands = [operand(&gr, false, op)?, operand(&y, false, op)?, operand(&rstd, true, op)?, fresh(&dx, false)];
    launch(op, &BACKWARD, &operands, rows, cols, 0.0)?;
    Ok(Tensor::from_storage(Storage::Gpu(dx), y.shape()))
}
