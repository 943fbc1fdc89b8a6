//! Launching kernels: the `Walk` parameters shared by strided kernels (mirroring
//! `shaders/strided.wgsl`), binding windows, folded grids, and the elementwise launcher that
//! chunks work so no binding exceeds the device's storage-binding limit.

use super::context::Gpu;
use super::pipelines::{Entry, Kernel};
use super::recorder::Binding;
use super::storage::{GpuStorage, WORD};
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::Dims;
use bytemuck::{Pod, Zeroable};
use smallvec::SmallVec;

/// Dims a strided kernel can walk (after merging dims whose strides allow it).
pub const MAX_DIMS: usize = 8;
/// Operands one walk describes.
pub const MAX_OPERANDS: usize = 4;
/// Threads per workgroup of the 1-D kernels.
pub const WORKGROUP: u64 = 256;

/// The `Walk` uniform of `strided.wgsl`, byte for byte.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Debug)]
pub struct WalkParams {
    pub shape: [u32; MAX_DIMS],
    /// `strides[d][k]`: operand k's stride along dim d.
    pub strides: [[u32; MAX_OPERANDS]; MAX_DIMS],
    pub offsets: [u32; MAX_OPERANDS],
    pub ndim: u32,
    pub split: u32,
    pub count: u32,
    pub base: u32,
    pub u: [u32; 4],
    pub f: [f32; 4],
}

/// One operand of a walk: its strides over the iteration shape (0 where broadcast) and the
/// storage offset of its first element.
#[derive(Clone)]
pub struct View<'a> {
    pub storage: &'a GpuStorage,
    pub strides: Dims,
    pub offset: usize,
}

/// An iteration shape with each operand's strides, size-1 dims dropped and neighbouring
/// dims merged wherever every operand's strides allow (as the CPU's `Walk`).
#[derive(Clone, Debug)]
pub struct Collapsed {
    pub shape: Dims,
    pub strides: Vec<Dims>,
}

pub fn collapse(shape: &[usize], strides: &[&[usize]]) -> Collapsed {
    let mut out = Collapsed { shape: Dims::new(), strides: vec![Dims::new(); strides.len()] };
    for d in 0..shape.len() {
        if shape[d] == 1 {
            continue;
        }
        let merge = !out.shape.is_empty()
            && strides.iter().zip(&out.strides).all(|(s, o)| o[o.len() - 1] == s[d] * shape[d]);
        if merge {
            let last = out.shape.len() - 1;
            out.shape[last] *= shape[d];
            for (o, s) in out.strides.iter_mut().zip(strides) {
                o[last] = s[d];
            }
        } else {
            out.shape.push(shape[d]);
            for (o, s) in out.strides.iter_mut().zip(strides) {
                o.push(s[d]);
            }
        }
    }
    out
}

fn to_u32(v: usize, what: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| {
        Error::Device(format!("{what}: GPU kernels index with 32-bit integers; {v} elements is too many (split the tensor)"))
    })
}

impl WalkParams {
    /// Parameters for `dims` (outer dims first) with each operand's strides; `op` names the
    /// caller in errors.
    pub fn new(op: &str, dims: &[usize], strides: &[&[usize]]) -> Result<WalkParams> {
        if dims.len() > MAX_DIMS {
            return Err(Error::Device(format!(
                "{op}: this GPU kernel walks at most {MAX_DIMS} dimensions after merging contiguous ones, this view needs {} \
                 (shape {}); call .contiguous() first (elementwise copies handle any number of dimensions)",
                dims.len(),
                ShapeDisplay(dims)
            )));
        }
        let mut p = WalkParams::zeroed();
        p.ndim = dims.len() as u32;
        for (d, &n) in dims.iter().enumerate() {
            p.shape[d] = to_u32(n, op)?;
            for (k, s) in strides.iter().enumerate() {
                p.strides[d][k] = to_u32(s[d], op)?;
            }
        }
        Ok(p)
    }
}

/// A folded grid for `workgroups` workgroups: x up to the device's per-dimension limit, y as
/// needed (kernels compute `wid.x + wid.y * nwg.x`).
pub fn grid(gpu: &Gpu, workgroups: u64) -> Result<[u32; 3]> {
    let max = gpu.limits.max_compute_workgroups_per_dimension.max(1) as u64;
    let x = workgroups.clamp(1, max);
    let y = workgroups.div_ceil(x).max(1);
    if y > max {
        return Err(Error::Device(format!("a GPU launch of {workgroups} workgroups exceeds the device's {max} x {max} grid")));
    }
    Ok([x as u32, y as u32, 1])
}

/// A window of `storage` covering elements `[lo, hi)`: the binding and the element index
/// the binding starts at (offsets passed to the kernel are relative to it).
pub fn window<'a>(gpu: &Gpu, storage: &'a GpuStorage, lo: usize, hi: usize, op: &str) -> Result<(Binding<'a>, usize)> {
    let align = gpu.storage_alignment();
    let buffer = storage.buffer();
    let start = (lo as u64 * WORD) / align * align;
    let end = ((hi.max(lo + 1) as u64) * WORD).next_multiple_of(16).min(buffer.size());
    let size = end - start;
    if size > gpu.binding_limit() {
        return Err(Error::Device(format!(
            "{op}: this GPU kernel would bind {} of one tensor at once, more than the device's storage binding limit of {} \
             (contiguous elementwise work is split to fit, but this kernel, or a transposed view of a tensor this large, \
             needs it whole); split the tensor into smaller pieces first, e.g. with .chunk() or .split()",
            human_bytes(size),
            human_bytes(gpu.binding_limit())
        )));
    }
    Ok((Binding { buffer, offset: start, size }, (start / WORD) as usize))
}

/// The whole of a storage as one window.
pub fn whole<'a>(gpu: &Gpu, storage: &'a GpuStorage, op: &str) -> Result<(Binding<'a>, usize)> {
    window(gpu, storage, 0, storage.len(), op)
}

/// Storage elements a view touches over `[start, end)` of the collapsed iteration: exact
/// when offsets grow with the iteration index (contiguous data, slices), the whole extent
/// otherwise (transposes, broadcasts).
fn touched(shape: &[usize], strides: &[usize], offset: usize, start: usize, end: usize) -> (usize, usize) {
    if strides.iter().all(|&s| s == 0) {
        return (offset, offset + 1);
    }
    let mut inner = 0; // extent of the dims inside d
    let mut monotone = true;
    for d in (0..shape.len()).rev() {
        monotone &= strides[d] > inner;
        inner += (shape[d] - 1) * strides[d];
    }
    if !monotone {
        return (offset, offset + inner + 1);
    }
    let at = |mut flat: usize| {
        let mut off = offset;
        for d in (0..shape.len()).rev() {
            off += (flat % shape[d]) * strides[d];
            flat /= shape[d];
        }
        off
    };
    (at(start), at(end - 1) + 1)
}

pub fn kernel(gpu: &Gpu, entry: &Entry, constants: &[(&'static str, f64)]) -> Result<Kernel> {
    gpu.pipelines.lock().kernel(gpu, entry, constants)
}

/// Records one launch of `kernel` with `params` at binding 0.
pub fn dispatch<P: Pod>(gpu: &Gpu, kernel: &Kernel, params: &P, storage: &[Binding<'_>], grid: [u32; 3]) -> Result<()> {
    gpu.recorder.lock().dispatch(gpu, &kernel.pipeline, &kernel.layout, bytemuck::bytes_of(params), storage, grid)
}

/// A kernel's scalar parameters (`walk.u` and `walk.f`).
#[derive(Clone, Copy, Default)]
pub struct Scalars {
    pub u: [u32; 4],
    pub f: [f32; 4],
}

/// Runs an elementwise kernel over `shape`: one thread per element, operand 0 the one
/// written. Work is split into launches whose windows fit the binding limit.
pub fn elementwise(gpu: &Gpu, op: &str, entry: &Entry, constants: &[(&'static str, f64)], shape: &[usize], views: &[View<'_>], scalars: Scalars) -> Result<()> {
    let n: usize = shape.iter().product();
    if n == 0 {
        return Ok(());
    }
    to_u32(n, op)?;
    let strides: SmallVec<[&[usize]; 4]> = views.iter().map(|v| &v.strides[..]).collect();
    let c = collapse(shape, &strides);
    if c.shape.len() > MAX_DIMS {
        // More dims than a kernel walks: the outer ones become a loop of launches here.
        let lead = c.shape.len() - MAX_DIMS;
        let outer: usize = c.shape[..lead].iter().product();
        for i in 0..outer {
            let (mut rem, mut inner) = (i, views.to_vec());
            for d in (0..lead).rev() {
                let idx = rem % c.shape[d];
                rem /= c.shape[d];
                for (v, st) in inner.iter_mut().zip(&c.strides) {
                    v.offset += idx * st[d];
                }
            }
            for (v, st) in inner.iter_mut().zip(&c.strides) {
                v.strides = st[lead..].into();
            }
            elementwise(gpu, op, entry, constants, &c.shape[lead..], &inner, scalars)?;
        }
        return Ok(());
    }
    let cstrides: SmallVec<[&[usize]; 4]> = c.strides.iter().map(|s| &s[..]).collect();
    let mut params = WalkParams::new(op, &c.shape, &cstrides)?;
    params.u = scalars.u;
    params.f = scalars.f;
    let k = kernel(gpu, entry, constants)?;
    let room = (gpu.binding_limit() / WORD) as usize - 128;
    let mut chunk = chunk_len(gpu);
    let mut start = 0;
    while start < n {
        let end = (start + chunk).min(n);
        let ranges: SmallVec<[(usize, usize); 4]> =
            views.iter().enumerate().map(|(k, v)| touched(&c.shape, &c.strides[k], v.offset, start, end)).collect();
        // Strided views touch more memory per element than contiguous ones: shrink the launch
        // until every window fits (a view that needs its whole extent errors in `window`).
        let widest = ranges.iter().map(|(lo, hi)| hi - lo).max().unwrap_or(0);
        if widest > room && end - start > 64 {
            let fits = ((end - start) as u128 * room as u128 / widest as u128) as usize / 64 * 64;
            chunk = fits.min((end - start) / 2 / 64 * 64).max(64);
            continue;
        }
        let mut bindings: SmallVec<[Binding<'_>; 4]> = SmallVec::new();
        for (k, (v, &(lo, hi))) in views.iter().zip(&ranges).enumerate() {
            let (b, base) = window(gpu, v.storage, lo, hi, op)?;
            params.offsets[k] = relative(v.offset, base);
            bindings.push(b);
        }
        params.base = start as u32;
        params.count = (end - start) as u32;
        // The written operand is bound last in every elementwise shader.
        bindings.rotate_left(1);
        dispatch(gpu, &k, &params, &bindings, grid(gpu, ((end - start) as u64).div_ceil(WORKGROUP))?)?;
        start = end;
    }
    Ok(())
}

/// Work items per launch over contiguous memory: its window stays inside the binding limit
/// (with room for the window's alignment), a multiple of 64 elements.
fn chunk_len(gpu: &Gpu) -> usize {
    ((gpu.binding_limit() / WORD) as usize).saturating_sub(128).max(64) / 64 * 64
}

/// Ranges of `n` work items over contiguous memory, each small enough that its window fits
/// the binding limit (and starting on a multiple of 64 elements).
pub fn chunks(gpu: &Gpu, n: usize) -> impl Iterator<Item = (usize, usize)> {
    let chunk = chunk_len(gpu);
    (0..n).step_by(chunk).map(move |s| (s, (s + chunk).min(n)))
}

/// A kernel's offset for an element at `offset` in a window starting at `base` (wrapping:
/// the kernel adds the work item's index before indexing).
pub fn relative(offset: usize, base: usize) -> u32 {
    (offset as u64).wrapping_sub(base as u64) as u32
}

/// Storage elements spanned by a view: `[offset, offset + extent)`.
pub fn extent(shape: &[usize], strides: &[usize], offset: usize) -> (usize, usize) {
    if shape.contains(&0) {
        return (offset, offset);
    }
    let span: usize = shape.iter().zip(strides).map(|(&n, &s)| (n - 1) * s).sum();
    (offset, offset + span + 1)
}

fn human_bytes(b: u64) -> String {
    if b >= 1 << 20 {
        format!("{:.1} MiB", b as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", b as f64 / 1024.0)
    }
}

// The parameter structs must match their WGSL declarations byte for byte.
const _: () = assert!(std::mem::size_of::<WalkParams>() == 224);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collapse_merges_dims_every_operand_allows() {
        // contiguous [2, 3, 4] and a broadcast row: the row breaks the merge of dim 0 only
        let c = collapse(&[2, 3, 4], &[&[12, 4, 1], &[0, 4, 1]]);
        assert_eq!(c.shape.as_slice(), &[2, 12]);
        assert_eq!(c.strides[0].as_slice(), &[12, 1]);
        assert_eq!(c.strides[1].as_slice(), &[0, 1]);
        // size-1 dims vanish; a transpose stays two dims
        let t = collapse(&[3, 1, 5], &[&[1, 99, 3]]);
        assert_eq!((t.shape.as_slice(), t.strides[0].as_slice()), (&[3usize, 5][..], &[1usize, 3][..]));
    }

    #[test]
    fn touched_ranges_are_exact_for_slices_and_whole_for_transposes() {
        // rows 1.. of a [4, 10] tensor, columns 2..7: strides [10, 1], offset 12
        let (shape, strides) = ([3usize, 5usize], [10usize, 1usize]);
        assert_eq!(touched(&shape, &strides, 12, 0, 15), (12, 12 + 2 * 10 + 4 + 1));
        assert_eq!(touched(&shape, &strides, 12, 5, 10), (22, 27)); // the middle row alone
        // a transposed [5, 3] view of a [3, 5] tensor: any chunk needs the whole extent
        assert_eq!(touched(&[5, 3], &[1, 5], 0, 0, 3), (0, 15));
        // a broadcast scalar
        assert_eq!(touched(&[7], &[0], 4, 0, 7), (4, 5));
    }

    #[test]
    fn walk_params_refuse_too_many_dims() {
        let dims = [2usize; MAX_DIMS + 1];
        let strides = [1usize; MAX_DIMS + 1];
        assert!(WalkParams::new("t", &dims, &[&strides]).is_err());
        let p = WalkParams::new("t", &dims[..3], &[&strides[..3], &[0, 0, 1]]).unwrap();
        assert_eq!((p.ndim, p.shape[2], p.strides[2]), (3, 2, [1, 1, 0, 0]));
    }

    #[test]
    fn bytes_print_in_readable_units() {
        assert_eq!(human_bytes(65536), "64.0 KiB");
        assert_eq!(human_bytes(3 << 20), "3.0 MiB");
    }
}
