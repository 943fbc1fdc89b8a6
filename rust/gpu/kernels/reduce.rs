//! Reductions over any axes (sum, prod, max, min) and arg-max/arg-min along one axis.
//! Work is split so that large reductions use many workgroups: each output's reduced range
//! is cut into parts whose partial results a second launch combines.

use super::super::context::{gpu, Gpu};
use super::super::launch::{collapse, dispatch, extent, grid, kernel, whole, window, WalkParams, MAX_DIMS, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use super::elementwise::{fill, word_of};
use super::{dtype_code, gpu_storage, walkable};
use crate::backend::ReduceKind;
use crate::error::{dtype_err, Error, Result};
use crate::tensor::{numel, DType, Dims, Layout, Storage, Tensor};

const ROWS: Entry = Entry { file: "reduce.wgsl", name: "rows", storage: &[Access::Read, Access::ReadWrite] };
const COLS: Entry = Entry { file: "reduce.wgsl", name: "cols", storage: &[Access::Read, Access::ReadWrite] };
const ARG_THREAD: Entry = Entry { file: "arg_reduce.wgsl", name: "per_thread", storage: &[Access::Read, Access::ReadWrite] };
const ARG_GROUP: Entry = Entry { file: "arg_reduce.wgsl", name: "per_workgroup", storage: &[Access::Read, Access::ReadWrite] };

fn kind_code(kind: ReduceKind) -> f64 {
    match kind {
        ReduceKind::Sum => 0.0,
        ReduceKind::Prod => 1.0,
        ReduceKind::Max => 2.0,
        ReduceKind::Min => 3.0,
    }
}

/// Kept and reduced dims of `a` (each group merged where its strides allow).
struct Split {
    out_shape: Dims,
    kept: Dims,
    kept_strides: Dims,
    red: Dims,
    red_strides: Dims,
}

fn split(a: &Tensor, axes: &[usize], keepdim: bool) -> Split {
    let l = a.layout();
    let (mut ks, mut kst, mut rs, mut rst, mut out) = (Dims::new(), Dims::new(), Dims::new(), Dims::new(), Dims::new());
    for d in 0..l.ndim() {
        if axes.contains(&d) {
            rs.push(l.shape()[d]);
            rst.push(l.strides()[d]);
            if keepdim {
                out.push(1);
            }
        } else {
            ks.push(l.shape()[d]);
            kst.push(l.strides()[d]);
            out.push(l.shape()[d]);
        }
    }
    let k = collapse(&ks, &[&kst]);
    let r = collapse(&rs, &[&rst]);
    Split { out_shape: out, kept: k.shape, kept_strides: k.strides[0].clone(), red: r.shape, red_strides: r.strides[0].clone() }
}

/// The value of a reduction over nothing (max and min have none: callers refuse them).
fn identity(kind: ReduceKind) -> f64 {
    if kind == ReduceKind::Prod {
        1.0
    } else {
        0.0
    }
}

pub fn reduce(kind: ReduceKind, a: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let dtype = a.dtype();
    if dtype == DType::Bool {
        return Err(dtype_err!("{}: convert bool tensors with .long() before reducing", kind.name()));
    }
    let s = split(a, axes, keepdim);
    if s.kept.len() + s.red.len() > MAX_DIMS {
        if !a.is_contiguous() {
            // A contiguous copy merges every run of kept (or reduced) dims into one.
            return reduce(kind, &walkable(a, MAX_DIMS)?, axes, keepdim);
        }
        // Still too many (many alternating axes): reduce the innermost axis first
        // (reductions are associative), which leaves one dim fewer to walk.
        let last = *axes.iter().rev().find(|&&d| a.shape()[d] > 1).expect("a contiguous tensor with many walk dims reduces a dim of size > 1");
        let partial = reduce(kind, a, &[last], true)?;
        return reduce(kind, &partial, axes, keepdim);
    }
    let n_out = numel(&s.kept);
    let r = numel(&s.red);
    let g = gpu()?;
    if r == 0 && matches!(kind, ReduceKind::Max | ReduceKind::Min) && n_out > 0 {
        return Err(Error::Value(format!("{}: cannot reduce over an empty dimension (max and min have no identity)", kind.name())));
    }
    let out = GpuStorage::alloc(g, dtype, n_out)?;
    if n_out == 0 || r == 0 {
        fill(&out, word_of(identity(kind), dtype)?)?;
        return Ok(Tensor::from_storage(Storage::Gpu(out), &s.out_shape));
    }
    let min_stride = |shape: &[usize], strides: &[usize]| {
        shape.iter().zip(strides).filter(|(&n, _)| n > 1).map(|(_, &st)| st).min().unwrap_or(usize::MAX)
    };
    // A thread per output when the kept elements are the adjacent ones (neighbouring threads
    // read neighbouring words), or when each output reduces only a few elements (a
    // workgroup each would leave most of its threads idle).
    let by_cols = n_out >= 64 && (r <= 64 || min_stride(&s.kept, &s.kept_strides) < min_stride(&s.red, &s.red_strides));
    let parts = if by_cols {
        r.div_ceil(64).min(16384usize.div_ceil(n_out)).clamp(1, 1024)
    } else if n_out >= 256 {
        1
    } else {
        r.div_ceil(4096).min((1024 / n_out).max(1)).max(1)
    };
    let per_part = r.div_ceil(parts);
    let parts = r.div_ceil(per_part);
    let mut dims: Dims = s.kept.clone();
    dims.extend_from_slice(&s.red);
    let mut strides: Dims = s.kept_strides.clone();
    strides.extend_from_slice(&s.red_strides);
    let zeros = Dims::from_elem(0, dims.len());
    let mut params = WalkParams::new(kind.name(), &dims, &[&zeros, &strides])?;
    params.split = s.kept.len() as u32;
    let units = n_out * parts;
    params.count = u32::try_from(units).map_err(|_| Error::Device(format!("{}: too many outputs for one GPU launch", kind.name())))?;
    params.u = [r as u32, parts as u32, per_part as u32, n_out as u32];
    let constants = [("KIND", kind_code(kind)), ("T", dtype_code(dtype)?)];
    let (lo, hi) = extent(a.shape(), a.layout().strides(), a.layout().offset());
    let src = gpu_storage(a, kind.name())?;
    let (src_b, src_base) = window(g, src, lo, hi, kind.name())?;
    params.offsets[1] = super::super::launch::relative(a.layout().offset(), src_base);
    let target = if parts == 1 { out } else { GpuStorage::alloc(g, dtype, units)? };
    let (dst_b, _) = whole(g, &target, kind.name())?;
    let (entry, workgroups) = if by_cols { (&COLS, (units as u64).div_ceil(WORKGROUP)) } else { (&ROWS, units as u64) };
    dispatch(g, &kernel(g, entry, &constants)?, &params, &[src_b, dst_b], grid(g, workgroups)?)?;
    if parts == 1 {
        return Ok(Tensor::from_storage(Storage::Gpu(target), &s.out_shape));
    }
    let partials = Tensor::from_storage(Storage::Gpu(target), &[n_out, parts]);
    let combined = reduce(kind, &partials, &[1], false)?;
    combined.with_layout(Layout::contiguous(&s.out_shape))
}

/// Index of the max (or min) along `axis`, as int64 (int32 on the GPU).
pub fn arg_reduce(kind: ReduceKind, a: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    let name = if kind == ReduceKind::Max { "argmax" } else { "argmin" };
    if a.dtype() == DType::Bool {
        return Err(dtype_err!("{name}: convert bool tensors with .long() first"));
    }
    if a.ndim() == 0 {
        return super::elementwise::full(&[], 0.0, DType::I64);
    }
    let len = a.shape()[axis];
    if len == 0 {
        return Err(Error::Value(format!("{name}: cannot take the {name} of an empty dimension")));
    }
    let a = &walkable(a, 1)?;
    let s = split(a, &[axis], keepdim);
    let n_out = numel(&s.kept);
    let g = gpu()?;
    let out = GpuStorage::alloc(g, DType::I64, n_out)?;
    if n_out > 0 {
        launch_arg(g, kind, a, &s, len, &out, name)?;
    }
    Ok(Tensor::from_storage(Storage::Gpu(out), &s.out_shape))
}

fn launch_arg(g: &Gpu, kind: ReduceKind, a: &Tensor, s: &Split, len: usize, out: &GpuStorage, name: &str) -> Result<()> {
    let n_out = numel(&s.kept);
    let l = a.layout();
    let axis_stride = s.red_strides.first().copied().unwrap_or(0);
    let mut dims: Dims = s.kept.clone();
    dims.push(len);
    let mut strides: Dims = s.kept_strides.clone();
    strides.push(axis_stride);
    let zeros = Dims::from_elem(0, dims.len());
    let mut params = WalkParams::new(name, &dims, &[&zeros, &strides])?;
    params.split = s.kept.len() as u32;
    params.count = n_out as u32;
    params.u[0] = len as u32;
    let (lo, hi) = extent(l.shape(), l.strides(), l.offset());
    let (src_b, base) = window(g, gpu_storage(a, name)?, lo, hi, name)?;
    params.offsets[1] = super::super::launch::relative(l.offset(), base);
    let (dst_b, _) = whole(g, out, name)?;
    let constants = [("KIND", kind_code(kind)), ("T", dtype_code(a.dtype())?)];
    let per_group = len > 1024 && n_out < 4096;
    let (entry, workgroups) = if per_group { (&ARG_GROUP, n_out as u64) } else { (&ARG_THREAD, (n_out as u64).div_ceil(WORKGROUP)) };
    dispatch(g, &kernel(g, entry, &constants)?, &params, &[src_b, dst_b], grid(g, workgroups)?)
}
