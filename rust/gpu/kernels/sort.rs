//! Sorting along one dim on the GPU: a bitonic network per row over (key, index) pairs
//! padded to a power of two (`shaders/sort.wgsl`). The index breaks ties, so the result is
//! the stable sort, as on the CPU. Each compare-exchange stage is one launch over every
//! row's pairs: log2(P) (log2(P) + 1) / 2 launches for rows padded to P.

use super::super::context::gpu;
use super::super::launch::{dispatch, grid, kernel, relative, whole, window, WalkParams, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use super::{dtype_code, gpu_storage};
use crate::error::{dtype_err, Error, Result};
use crate::tensor::{DType, Storage, Tensor};

const RW: Access = Access::ReadWrite;
const LOAD: Entry = Entry { file: "sort.wgsl", name: "load_pairs", storage: &[RW, RW, Access::Read] };
const MERGE: Entry = Entry { file: "sort.wgsl", name: "merge_pairs", storage: &[RW, RW] };
const STORE: Entry = Entry { file: "sort.wgsl", name: "store_sorted", storage: &[RW, RW, Access::Read, RW, RW] };

fn launches(count: usize, op: &str) -> Result<u32> {
    u32::try_from(count).map_err(|_| Error::Device(format!("{op}: {count} sort slots are more than one GPU launch indexes (2^32)")))
}

/// `(values, indices)` of `a` sorted along `dim` (stable; NaN largest), contiguous.
pub fn sort(a: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    if a.dtype() == DType::Bool {
        return Err(dtype_err!("sort: convert bool tensors with .long() first"));
    }
    let g = gpu()?;
    let a = if a.is_contiguous() { a.clone() } else { super::elementwise::cast(a, a.dtype())? };
    let shape = a.shape().to_vec();
    let total = a.numel();
    let (n, inner) = if shape.is_empty() { (1, 1) } else { (shape[dim], shape[dim + 1..].iter().product::<usize>()) };
    let values = GpuStorage::alloc(g, a.dtype(), total)?;
    let indices = GpuStorage::alloc(g, DType::I64, total)?.with_bounds(Some((0, n.saturating_sub(1) as i64)));
    if total == 0 {
        return Ok((Tensor::from_storage(Storage::Gpu(values), &shape), Tensor::from_storage(Storage::Gpu(indices), &shape)));
    }
    let rows = total / n;
    let slots_per_row = n.next_power_of_two();
    let slots = rows.checked_mul(slots_per_row).ok_or_else(|| Error::Device("sort: too many elements for the GPU".into()))?;
    let count = launches(slots, "sort")?;
    let keys = GpuStorage::alloc(g, DType::I64, slots)?;
    let slot_index = GpuStorage::alloc(g, DType::I64, slots)?;
    let mut params = WalkParams::new("sort", &[], &[])?;
    params.u = [n as u32, inner as u32, slots_per_row as u32, 0];
    let offset = a.layout().offset();
    let (src_b, base) = window(g, gpu_storage(&a, "sort")?, offset, offset + total, "sort")?;
    params.offsets[1] = relative(offset, base);
    let constants = [("T", dtype_code(a.dtype())?), ("DESC", if descending { 1.0 } else { 0.0 })];

    params.count = count;
    let k_load = kernel(g, &LOAD, &constants)?;
    dispatch(g, &k_load, &params, &[whole(g, &keys, "sort")?.0, whole(g, &slot_index, "sort")?.0, src_b.clone()], grid(g, (slots as u64).div_ceil(WORKGROUP))?)?;

    let k_merge = kernel(g, &MERGE, &[])?;
    params.count = count / 2;
    let pair_grid = grid(g, ((slots / 2) as u64).div_ceil(WORKGROUP))?;
    let mut k = 2usize;
    while k <= slots_per_row {
        let mut j = k / 2;
        while j >= 1 {
            params.u[3] = k as u32;
            params.base = j as u32;
            dispatch(g, &k_merge, &params, &[whole(g, &keys, "sort")?.0, whole(g, &slot_index, "sort")?.0], pair_grid)?;
            j /= 2;
        }
        k *= 2;
    }

    params.count = launches(total, "sort")?;
    let k_store = kernel(g, &STORE, &constants)?;
    let bindings = [
        whole(g, &keys, "sort")?.0,
        whole(g, &slot_index, "sort")?.0,
        src_b,
        whole(g, &values, "sort")?.0,
        whole(g, &indices, "sort")?.0,
    ];
    dispatch(g, &k_store, &params, &bindings, grid(g, (total as u64).div_ceil(WORKGROUP))?)?;
    Ok((Tensor::from_storage(Storage::Gpu(values), &shape), Tensor::from_storage(Storage::Gpu(indices), &shape)))
}
