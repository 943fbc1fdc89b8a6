//! Movement ops. Most are views (new layouts over the same storage, O(1)); their vjps move
//! the gradient back through the inverse view.

use super::{grads, ints, Grads, OpParam, OpParams};
use crate::autograd::{record, VjpCtx};
use crate::backend;
use crate::error::{index_err, shape_err, value_err, Result, ShapeDisplay};
use crate::tensor::{checked_add, checked_numel, normalize_dim, DType, Dims, Layout, Tensor};
use smallvec::smallvec;

pub enum ShapeOp {
    Reshape,
    Permute { perm: Dims },
    Expand,
    Slice { dim: usize, start: usize, step: usize },
    Select { dim: usize, index: usize },
    /// The vjp of a slice: zeros of the input's shape with the gradient placed in the slice.
    SliceScatter { dim: usize, start: usize, step: usize, full: Dims },
    Cat { dim: usize, sizes: Dims },
    Cast,
    Clone,
    /// A copy to another device; the gradient moves back.
    ToDevice,
}

/// Wraps `layout` over `a`'s storage as a recorded view.
fn view_op(a: &Tensor, layout: Layout, op: ShapeOp) -> Result<Tensor> {
    let out = a.with_layout(layout)?;
    record(super::Op::Shape(op), &[a], &out, |_| smallvec![]);
    if out.requires_grad() {
        out.mark_view_of_differentiable();
    }
    Ok(out)
}

fn check_numel(a: &Tensor, shape: &[usize], op: &str) -> Result<()> {
    if checked_numel(shape, op)? != a.numel() {
        return Err(shape_err!(
            "{op}: shape {} is invalid for a tensor of {} elements (shape {})",
            ShapeDisplay(shape),
            a.numel(),
            ShapeDisplay(a.shape())
        ));
    }
    Ok(())
}

/// Resolves one `-1` in a requested shape.
pub fn infer_shape(requested: &[isize], n: usize, op: &str) -> Result<Dims> {
    let unknown: Vec<usize> = requested.iter().enumerate().filter(|(_, &d)| d == -1).map(|(i, _)| i).collect();
    if unknown.len() > 1 {
        return Err(shape_err!("{op}: only one dimension can be inferred (-1), got {:?}", requested));
    }
    if let Some(&d) = requested.iter().find(|&&d| d < -1) {
        return Err(shape_err!("{op}: invalid dimension size {d} in {:?}", requested));
    }
    let mut shape: Dims = requested.iter().map(|&d| d.max(0) as usize).collect();
    let known = checked_numel(&requested.iter().filter(|&&d| d >= 0).map(|&d| d as usize).collect::<Dims>(), op)?;
    if let Some(&i) = unknown.first() {
        if known == 0 || n % known != 0 {
            return Err(shape_err!("{op}: shape {:?} is invalid for a tensor of {n} elements", requested));
        }
        shape[i] = n / known;
    }
    Ok(shape)
}

/// A view with `a`'s own layout: what no-op reshapes, expands and full slices return, a new
/// tensor as in PyTorch (never `a` itself, whose grad and requires_grad flag would be shared).
fn same_view(a: &Tensor, op: ShapeOp) -> Result<Tensor> {
    view_op(a, a.layout().clone(), op)
}

pub fn reshape(a: &Tensor, shape: &[usize]) -> Result<Tensor> {
    check_numel(a, shape, "reshape")?;
    if a.shape() == shape {
        return same_view(a, ShapeOp::Reshape);
    }
    match a.layout().reshape_view(shape) {
        Some(l) => view_op(a, l, ShapeOp::Reshape),
        None => {
            let c = contiguous(a)?;
            view_op(&c, Layout::contiguous(shape), ShapeOp::Reshape)
        }
    }
}

/// Like `reshape`, but never copies: errors when the strides do not allow a view.
pub fn view(a: &Tensor, shape: &[usize]) -> Result<Tensor> {
    check_numel(a, shape, "view")?;
    match a.layout().reshape_view(shape) {
        Some(l) => view_op(a, l, ShapeOp::Reshape),
        None => Err(shape_err!(
            "view: shape {} is not compatible with the input's size and strides (shape {}, strides {:?}): \
             at least one dimension spans across two contiguous subspaces. Use .reshape(...) instead",
            ShapeDisplay(shape),
            ShapeDisplay(a.shape()),
            a.layout().strides()
        )),
    }
}

pub fn permute(a: &Tensor, dims: &[isize]) -> Result<Tensor> {
    let perm: Dims = dims.iter().map(|&d| normalize_dim(d, a.ndim(), "permute")).collect::<Result<_>>()?;
    let l = a.layout().permute(&perm)?;
    view_op(a, l, ShapeOp::Permute { perm })
}

pub fn transpose(a: &Tensor, d0: isize, d1: isize) -> Result<Tensor> {
    let (x, y) = (normalize_dim(d0, a.ndim(), "transpose")?, normalize_dim(d1, a.ndim(), "transpose")?);
    if a.ndim() == 0 {
        return same_view(a, ShapeOp::Reshape);
    }
    let mut perm: Dims = (0..a.ndim()).collect();
    perm.swap(x, y);
    let l = a.layout().permute(&perm)?;
    view_op(a, l, ShapeOp::Permute { perm })
}

/// `.T`: all dims reversed.
pub fn t_all(a: &Tensor) -> Result<Tensor> {
    let perm: Vec<isize> = (0..a.ndim() as isize).rev().collect();
    permute(a, &perm)
}

/// Broadcasts to `shape` without copying (stride 0 along new and size-1 dims).
pub fn expand(a: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if a.shape() == shape {
        return same_view(a, ShapeOp::Expand);
    }
    let l = a.layout().expand(shape, "expand")?;
    view_op(a, l, ShapeOp::Expand)
}

pub fn unsqueeze(a: &Tensor, dim: isize) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim() + 1, "unsqueeze")?;
    view_op(a, a.layout().unsqueeze(d), ShapeOp::Reshape)
}

pub fn squeeze_dim(a: &Tensor, dim: isize) -> Result<Tensor> {
    if a.ndim() == 0 {
        return Ok(a.clone());
    }
    let d = normalize_dim(dim, a.ndim(), "squeeze")?;
    if a.shape()[d] != 1 {
        return Ok(a.clone());
    }
    view_op(a, a.layout().squeeze_dim(d), ShapeOp::Reshape)
}

pub fn squeeze(a: &Tensor) -> Result<Tensor> {
    let shape: Dims = a.shape().iter().copied().filter(|&d| d != 1).collect();
    if shape.len() == a.ndim() {
        return Ok(a.clone());
    }
    reshape(a, &shape)
}

pub fn flatten(a: &Tensor, start: isize, end: isize) -> Result<Tensor> {
    if a.ndim() == 0 {
        return reshape(a, &[1]);
    }
    let (s, e) = (normalize_dim(start, a.ndim(), "flatten")?, normalize_dim(end, a.ndim(), "flatten")?);
    if s > e {
        return Err(value_err!("flatten: start_dim {start} comes after end_dim {end}"));
    }
    let mut shape: Dims = a.shape()[..s].iter().copied().collect();
    shape.push(a.shape()[s..=e].iter().product());
    shape.extend_from_slice(&a.shape()[e + 1..]);
    reshape(a, &shape)
}

/// Clamps Python-style `start:stop:step` bounds for a dimension of size `n`.
pub fn clamp_slice(start: Option<isize>, stop: Option<isize>, step: isize, n: usize) -> Result<(usize, usize)> {
    if step <= 0 {
        return Err(value_err!("slicing: step must be positive (got {step}); use .flip() for reversed order"));
    }
    let n = n as isize;
    // Saturating: bounds like -2**63 or 2**63-1 must clamp, not wrap.
    let fix = |v: isize| if v < 0 { v.saturating_add(n).max(0) } else { v.min(n) };
    let s = start.map(fix).unwrap_or(0);
    let e = stop.map(fix).unwrap_or(n);
    let len = if e > s { (e - s - 1) / step + 1 } else { 0 };
    Ok((s as usize, len as usize))
}

/// `a[..., start:start+len*step:step, ...]` along `dim`, as a view; every element must lie
/// inside the dimension.
pub fn slice(a: &Tensor, dim: usize, start: usize, len: usize, step: usize) -> Result<Tensor> {
    let layout = a.layout().slice(dim, start, len, step, "slice")?;
    if start == 0 && step == 1 && len == a.shape()[dim] {
        return same_view(a, ShapeOp::Reshape);
    }
    view_op(a, layout, ShapeOp::Slice { dim, start, step })
}

/// The size of dimension `dim` of `a`, for ops that pick along one dimension and so cannot
/// take a 0-dim tensor (PyTorch's rule for select, narrow, unbind, split, chunk).
pub fn picked_dim(a: &Tensor, dim: isize, op: &str) -> Result<(usize, usize)> {
    if a.ndim() == 0 {
        return Err(index_err!("{op}() cannot be applied to a 0-dim tensor; reshape it to 1-D first"));
    }
    let d = normalize_dim(dim, a.ndim(), op)?;
    Ok((d, a.shape()[d]))
}

/// `a.narrow(dim, start, length)`: `length` elements from `start` (negative counts from the end).
pub fn narrow(a: &Tensor, dim: isize, start: i64, length: i64) -> Result<Tensor> {
    let (d, n) = picked_dim(a, dim, "narrow")?;
    if length < 0 {
        return Err(value_err!("narrow: length must be non-negative, got {length}"));
    }
    let s = if start < 0 { start.saturating_add(n as i64) } else { start };
    if s < 0 || s > n as i64 || (s as u64).saturating_add(length as u64) > n as u64 {
        return Err(index_err!(
            "narrow: start ({start}) + length ({length}) exceeds dimension size ({n}) of dimension {d} (shape {})",
            ShapeDisplay(a.shape())
        ));
    }
    slice(a, d, s as usize, length as usize, 1)
}

/// `a.unbind(dim)`: the slices along `dim`, each without that dimension.
pub fn unbind(a: &Tensor, dim: isize) -> Result<Vec<Tensor>> {
    let (d, n) = picked_dim(a, dim, "unbind")?;
    (0..n as isize).map(|i| select(a, d as isize, i)).collect()
}

/// `a[..., index, ...]` along `dim` (negative indices count from the end), as a view.
pub fn select(a: &Tensor, dim: isize, index: isize) -> Result<Tensor> {
    let (d, _) = picked_dim(a, dim, "select")?;
    let i = a.layout().check_index(d, index, "index")?;
    view_op(a, a.layout().select(d, i), ShapeOp::Select { dim: d, index: i })
}

/// Zeros of `full` shape with `g` written at `[start::step]` along `dim` (a slice's vjp).
fn slice_scatter(g: &Tensor, full: &[usize], dim: usize, start: usize, step: usize) -> Result<Tensor> {
    let out = backend::full(full, 0.0, g.dtype(), g.device())?;
    let region = out.with_layout(out.layout().slice(dim, start, g.shape()[dim], step, "slice_backward")?)?;
    backend::copy_into(&region, g)?;
    record(super::Op::Shape(ShapeOp::SliceScatter { dim, start, step, full: Dims::from_slice(full) }), &[g], &out, |_| smallvec![]);
    Ok(out)
}

pub fn cat(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
    let first = tensors.first().ok_or_else(|| value_err!("cat: expected a non-empty list of tensors"))?;
    let d = normalize_dim(dim, first.ndim(), "cat")?;
    if first.ndim() == 0 {
        return Err(shape_err!("cat: zero-dimensional tensors cannot be concatenated; use stack"));
    }
    let dtype = tensors.iter().map(|t| t.dtype()).reduce(crate::tensor::promote_types).unwrap_or(DType::F32);
    for (i, t) in tensors.iter().enumerate() {
        let ok = t.ndim() == first.ndim() && (0..t.ndim()).all(|k| k == d || t.shape()[k] == first.shape()[k]);
        if !ok {
            return Err(shape_err!(
                "cat: tensor {i} has shape {} but tensor 0 has shape {}; all dimensions except {d} must match",
                ShapeDisplay(t.shape()),
                ShapeDisplay(first.shape())
            ));
        }
    }
    let total = tensors.iter().try_fold(0usize, |acc, t| checked_add(acc, t.shape()[d], "cat"))?;
    let mut out_shape = first.dims();
    out_shape[d] = total;
    checked_numel(&out_shape, "cat")?;
    let cast: Vec<Tensor> = tensors.iter().map(|t| if t.dtype() != dtype { cast(t, dtype) } else { Ok(t.clone()) }).collect::<Result<_>>()?;
    let refs: Vec<&Tensor> = cast.iter().collect();
    let out = backend::cat(&refs, d)?;
    let sizes = cast.iter().map(|t| t.shape()[d]).collect();
    record(super::Op::Shape(ShapeOp::Cat { dim: d, sizes }), &refs, &out, |_| smallvec![]);
    Ok(out)
}

pub fn stack(tensors: &[Tensor], dim: isize) -> Result<Tensor> {
    let first = tensors.first().ok_or_else(|| value_err!("stack: expected a non-empty list of tensors"))?;
    for (i, t) in tensors.iter().enumerate() {
        if t.shape() != first.shape() {
            return Err(shape_err!(
                "stack: expects each tensor to be equal size, but got {} at entry 0 and {} at entry {i}",
                ShapeDisplay(first.shape()),
                ShapeDisplay(t.shape())
            ));
        }
    }
    let d = normalize_dim(dim, first.ndim() + 1, "stack")?;
    let parts: Vec<Tensor> = tensors.iter().map(|t| unsqueeze(t, d as isize)).collect::<Result<_>>()?;
    cat(&parts, d as isize)
}

/// A contiguous tensor with the same values (the tensor itself when already contiguous).
pub fn contiguous(a: &Tensor) -> Result<Tensor> {
    if a.is_contiguous() {
        return Ok(a.clone());
    }
    clone(a)
}

/// A fresh contiguous copy, differentiable.
pub fn clone(a: &Tensor) -> Result<Tensor> {
    let out = backend::cast(a, a.dtype())?;
    record(super::Op::Shape(ShapeOp::Clone), &[a], &out, |_| smallvec![]);
    Ok(out)
}

/// Converts to `dtype` (the tensor itself when the dtype already matches).
pub fn cast(a: &Tensor, dtype: DType) -> Result<Tensor> {
    if a.dtype() == dtype {
        return Ok(a.clone());
    }
    let out = backend::cast(a, dtype)?;
    record(super::Op::Shape(ShapeOp::Cast), &[a], &out, |_| smallvec![]);
    Ok(out)
}

impl ShapeOp {
    pub fn name(&self) -> &'static str {
        match self {
            ShapeOp::Reshape => "reshape",
            ShapeOp::Permute { .. } => "permute",
            ShapeOp::Expand => "expand",
            ShapeOp::Slice { .. } => "slice",
            ShapeOp::Select { .. } => "select",
            ShapeOp::SliceScatter { .. } => "slice_backward",
            ShapeOp::Cat { .. } => "cat",
            ShapeOp::Cast => "to",
            ShapeOp::Clone => "clone",
            ShapeOp::ToDevice => "to",
        }
    }

    /// The output shape (in the node's metadata) completes these.
    pub fn params(&self) -> OpParams {
        let int = |v: usize| OpParam::Int(v as i64);
        match self {
            ShapeOp::Permute { perm } => vec![("dims", ints(perm))],
            ShapeOp::Slice { dim, start, step } | ShapeOp::SliceScatter { dim, start, step, .. } => {
                vec![("dim", int(*dim)), ("start", int(*start)), ("step", int(*step))]
            }
            ShapeOp::Select { dim, index } => vec![("dim", int(*dim)), ("index", int(*index))],
            ShapeOp::Cat { dim, sizes } => vec![("dim", int(*dim)), ("sizes", ints(sizes))],
            ShapeOp::Reshape | ShapeOp::Expand | ShapeOp::Cast | ShapeOp::Clone | ShapeOp::ToDevice => OpParams::new(),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        let in_shape = &ctx.inputs[0].shape;
        match self {
            ShapeOp::Reshape => grads(ctx, [&|| reshape(g, in_shape)]),
            ShapeOp::Permute { perm } => grads(ctx, [&|| {
                let mut inverse = vec![0isize; perm.len()];
                for (i, &p) in perm.iter().enumerate() {
                    inverse[p] = i as isize;
                }
                permute(g, &inverse)
            }]),
            ShapeOp::Expand | ShapeOp::Cast | ShapeOp::Clone => grads(ctx, [&|| Ok(g.clone())]),
            ShapeOp::ToDevice => grads(ctx, [&|| super::to_device(g, ctx.inputs[0].device)]),
            ShapeOp::Slice { dim, start, step } => grads(ctx, [&|| slice_scatter(g, in_shape, *dim, *start, *step)]),
            ShapeOp::Select { dim, index } => {
                grads(ctx, [&|| slice_scatter(&unsqueeze(g, *dim as isize)?, in_shape, *dim, *index, 1)])
            }
            ShapeOp::SliceScatter { dim, start, step, .. } => {
                grads(ctx, [&|| slice(g, *dim, *start, in_shape[*dim], *step)])
            }
            ShapeOp::Cat { dim, sizes } => {
                let mut out = Grads::new();
                let mut start = 0;
                for (i, &n) in sizes.iter().enumerate() {
                    out.push(if ctx.needs[i] { Some(slice(g, *dim, start, n, 1)?) } else { None });
                    start += n;
                }
                Ok(out)
            }
        }
    }
}
