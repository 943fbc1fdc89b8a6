//! Scans along one dim on the GPU (`shaders/scan.wgsl`): one thread per (outer, inner) row of
//! the contiguous input walks its elements in order. Simple and exact in its order of
//! operations; a long single row runs on one thread (a workgroup-parallel scan would be the
//! next step if such rows matter).

use super::super::context::gpu;
use super::super::launch::{dispatch, grid, kernel, relative, whole, window, WalkParams, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use super::{dtype_code, gpu_storage};
use crate::error::{dtype_err, Error, Result};
use crate::kinds::ScanKind;
use crate::tensor::{DType, Storage, Tensor};

const SCAN: Entry = Entry { file: "scan.wgsl", name: "scan", storage: &[Access::Read, Access::ReadWrite] };
const ARG_SCAN: Entry = Entry { file: "scan.wgsl", name: "arg_scan", storage: &[Access::Read, Access::ReadWrite, Access::ReadWrite] };

fn kind_code(kind: ScanKind) -> f64 {
    match kind {
        ScanKind::Sum => 0.0,
        ScanKind::Prod => 1.0,
        ScanKind::Max => 2.0,
        ScanKind::Min => 3.0,
        ScanKind::LogSumExp => 4.0,
    }
}

pub fn scan(kind: ScanKind, a: &Tensor, dim: usize, reverse: bool) -> Result<(Tensor, Option<Tensor>)> {
    let name = kind.name();
    if a.dtype() == DType::Bool {
        return Err(dtype_err!("{name}: convert bool tensors with .long() first"));
    }
    if kind == ScanKind::LogSumExp && !a.dtype().is_float() {
        return Err(dtype_err!("logcumsumexp: expected a float tensor, got {}", a.dtype().name()));
    }
    let g = gpu()?;
    let a = if a.is_contiguous() { a.clone() } else { super::elementwise::cast(a, a.dtype())? };
    let shape = a.shape().to_vec();
    let total = a.numel();
    let (n, inner) = if shape.is_empty() { (1, 1) } else { (shape[dim], shape[dim + 1..].iter().product::<usize>()) };
    let values = GpuStorage::alloc(g, a.dtype(), total)?;
    let indices = if kind.has_indices() {
        Some(GpuStorage::alloc(g, DType::I64, total)?.with_bounds(Some((0, n.saturating_sub(1) as i64))))
    } else {
        None
    };
    if total > 0 {
        let rows = total / n;
        let mut params = WalkParams::new(name, &[], &[])?;
        params.u = [n as u32, inner as u32, reverse as u32, 0];
        params.count = u32::try_from(rows).map_err(|_| Error::Device(format!("{name}: too many rows for one GPU launch")))?;
        u32::try_from(total).map_err(|_| Error::Device(format!("{name}: GPU kernels index with 32-bit integers; {total} elements is too many")))?;
        let offset = a.layout().offset();
        let (src_b, base) = window(g, gpu_storage(&a, name)?, offset, offset + total, name)?;
        params.offsets[1] = relative(offset, base);
        let constants = [("KIND", kind_code(kind)), ("T", dtype_code(a.dtype())?)];
        let workgroups = grid(g, (rows as u64).div_ceil(WORKGROUP))?;
        match &indices {
            Some(ix) => {
                let bindings = [src_b, whole(g, &values, name)?.0, whole(g, ix, name)?.0];
                dispatch(g, &kernel(g, &ARG_SCAN, &constants)?, &params, &bindings, workgroups)?;
            }
            None => {
                let bindings = [src_b, whole(g, &values, name)?.0];
                dispatch(g, &kernel(g, &SCAN, &constants)?, &params, &bindings, workgroups)?;
            }
        }
    }
    let values = Tensor::from_storage(Storage::Gpu(values), &shape);
    Ok((values, indices.map(|ix| Tensor::from_storage(Storage::Gpu(ix), &shape))))
}
