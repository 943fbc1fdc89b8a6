//! Indexing: `__getitem__` (ints, slices, None, Ellipsis, integer and bool tensors), `gather`,
//! `index_select` and `__setitem__`. Basic indexing produces views; advanced indexing
//! computes flat offsets into the (viewed) source and gathers, with scatter-add as the vjp.

use super::{grads, Grads, OpParam, OpParams};
use crate::autograd::{is_grad_enabled, record, Save, VjpCtx};
use crate::backend;
use crate::error::{index_err, shape_err, Error, Result, ShapeDisplay};
use crate::alloc::buffer;
use crate::tensor::{broadcast_shapes, checked_numel, contiguous_strides, normalize_dim, numel, DType, Dims, Tensor};
use smallvec::smallvec;

/// One entry of an indexing key.
#[derive(Clone)]
pub enum IndexItem {
    Int(isize),
    Slice { start: Option<isize>, stop: Option<isize>, step: isize },
    NewAxis,
    Ellipsis,
    /// An int64 (indices) or bool (mask) tensor.
    Tensor(Tensor),
}

pub enum IndexOp {
    /// `out = src.flat[offsets]`.
    Take { offsets: Tensor },
    /// The vjp of `Take`: zeros of the source shape, gradients added at `offsets`.
    Scatter { offsets: Tensor },
    /// `out = old` with `out.flat[offsets] = values` (inputs: old, values).
    Put { offsets: Tensor },
    /// `scatter_reduce` by product or extremum (inputs: self, values; saves both and the output).
    ScatterReduce { offsets: Tensor, reduce: super::scatter::ScatterReduce, include_self: bool },
}

/// Flat-offset gather, recorded.
pub fn take(src: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    let out = backend::take(src, offsets)?;
    record(super::Op::Index(IndexOp::Take { offsets: offsets.clone() }), &[src], &out, |_| smallvec![]);
    Ok(out)
}

pub(crate) fn add_at(g: &Tensor, shape: &[usize], offsets: &Tensor) -> Result<Tensor> {
    let out = backend::scatter_add(shape, offsets, g)?;
    record(super::Op::Index(IndexOp::Scatter { offsets: offsets.clone() }), &[g], &out, |_| smallvec![]);
    Ok(out)
}

fn int64_values(t: &Tensor) -> Result<Vec<i64>> {
    match t.dtype() {
        DType::I64 => backend::to_vec::<i64>(t),
        DType::I32 => backend::to_vec::<i64>(&backend::cast(t, DType::I64)?),
        DType::Bool => Err(shape_err!("internal: masks are converted before offsets are computed")),
        other => Err(index_err!(
            "tensors used as indices must be int64, int32 or bool tensors, got {}; convert with .long()",
            other.name()
        )),
    }
}

/// Checks and wraps (negative) indices along a dimension of size `n`.
fn wrap_index(i: i64, n: usize, dim: usize) -> Result<i64> {
    let j = if i < 0 { i + n as i64 } else { i };
    if j < 0 || j >= n as i64 {
        return Err(index_err!("index {i} is out of bounds for dimension {dim} with size {n}"));
    }
    Ok(j)
}

/// Refuses masks that are not bool tensors (PyTorch's rule for masked_fill and friends).
pub fn check_bool_mask(mask: &Tensor, op: &str) -> Result<()> {
    if mask.dtype() != DType::Bool {
        return Err(crate::error::dtype_err!(
            "{op}: only supports boolean masks, but got a mask of dtype {}; build it with a comparison or .bool()",
            mask.dtype().name()
        ));
    }
    Ok(())
}

/// Checks a gather/scatter index (no wrapping of negatives, as in PyTorch) along a dimension of size `n`.
fn strict_index(i: i64, n: usize, dim: usize, op: &str) -> Result<i64> {
    if i < 0 || i >= n as i64 {
        return Err(index_err!("{op}: index {i} is out of bounds for dimension {dim} with size {n}"));
    }
    Ok(i)
}

/// The positions of true elements of a mask, one int64 tensor per mask dimension.
pub fn nonzero_columns(mask: &Tensor) -> Result<Vec<Tensor>> {
    let m = backend::to_vec::<bool>(mask)?;
    let shape = mask.shape();
    let strides = contiguous_strides(shape);
    let hits: Vec<usize> = m.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i).collect();
    (0..shape.len())
        .map(|d| {
            let col: Vec<i64> = hits.iter().map(|&i| ((i / strides[d]) % shape[d]) as i64).collect();
            let n = col.len();
            Tensor::from_vec(col, &[n])
        })
        .collect()
}

/// `a[key]`.
pub fn index(a: &Tensor, key: &[IndexItem]) -> Result<Tensor> {
    let (view, advanced) = apply_basic(a, key)?;
    if advanced.is_empty() {
        return Ok(view);
    }
    let (offsets, _) = advanced_offsets(&view, &advanced)?;
    take(&view, &offsets)
}

/// Applies ints, slices, None and Ellipsis as views; returns the view and the advanced
/// (tensor) indices with the view dimension each applies to.
fn apply_basic(a: &Tensor, key: &[IndexItem]) -> Result<(Tensor, Vec<(usize, Tensor)>)> {
    // Masks become one int64 index per mask dimension, after their shape is checked
    // against the dimensions they cover (found by counting what the key consumes before them).
    let consumed_by = |it: &IndexItem| match it {
        IndexItem::NewAxis | IndexItem::Ellipsis => 0,
        IndexItem::Tensor(t) if t.dtype() == DType::Bool => t.ndim(),
        _ => 1,
    };
    let total: usize = key.iter().map(consumed_by).sum();
    let mut items: Vec<IndexItem> = Vec::with_capacity(key.len());
    let mut dim = 0usize;
    for it in key {
        match it {
            IndexItem::Tensor(t) if t.dtype() == DType::Bool => {
                let covered = a.shape().get(dim..dim + t.ndim());
                if covered != Some(t.shape()) {
                    return Err(index_err!(
                        "the shape of the mask {} at index {dim} does not match the shape of the indexed tensor {} at index {dim}",
                        ShapeDisplay(t.shape()),
                        ShapeDisplay(a.shape())
                    ));
                }
                items.extend(nonzero_columns(t)?.into_iter().map(IndexItem::Tensor));
            }
            // int32 indices are accepted as PyTorch accepts them, read as int64.
            IndexItem::Tensor(t) if t.dtype() == DType::I32 => items.push(IndexItem::Tensor(backend::cast(t, DType::I64)?)),
            IndexItem::Tensor(t) if t.dtype() != DType::I64 => {
                return Err(index_err!(
                    "tensors used as indices must be int64, int32 or bool tensors, got {}; convert with .long()",
                    t.dtype().name()
                ))
            }
            other => items.push(other.clone()),
        }
        dim += match it {
            IndexItem::Ellipsis => a.ndim().saturating_sub(total),
            other => consumed_by(other),
        };
    }
    let consumed = items.iter().filter(|i| !matches!(i, IndexItem::NewAxis | IndexItem::Ellipsis)).count();
    if items.iter().filter(|i| matches!(i, IndexItem::Ellipsis)).count() > 1 {
        return Err(index_err!("an index can only have a single ellipsis ('...')"));
    }
    if consumed > a.ndim() {
        return Err(index_err!("too many indices for tensor of dimension {} (got {consumed})", a.ndim()));
    }
    let mut v = a.clone();
    let mut d = 0usize; // current dimension of v
    let mut advanced: Vec<(usize, Tensor)> = Vec::new();
    for it in &items {
        match it {
            IndexItem::Int(i) => {
                v = super::select(&v, d as isize, *i)?;
            }
            IndexItem::Slice { start, stop, step } => {
                let (s, len) = super::clamp_slice(*start, *stop, *step, v.shape()[d])?;
                v = super::slice(&v, d, s, len, *step as usize)?;
                d += 1;
            }
            IndexItem::NewAxis => {
                v = super::unsqueeze(&v, d as isize)?;
                d += 1;
            }
            IndexItem::Ellipsis => d += a.ndim() - consumed,
            IndexItem::Tensor(t) => {
                advanced.push((d, t.clone()));
                d += 1;
            }
        }
    }
    Ok((v, advanced))
}

/// Flat offsets into `view` (logically contiguous) for the advanced indices, shaped like
/// the result, plus the result shape.
fn advanced_offsets(view: &Tensor, advanced: &[(usize, Tensor)]) -> Result<(Tensor, Dims)> {
    let vshape = view.shape();
    let cs = contiguous_strides(vshape);
    let mut bshape: Dims = Dims::new();
    for (_, t) in advanced {
        bshape = broadcast_shapes(&bshape, t.shape(), "index")
            .map_err(|_| index_err!("shape mismatch: indexing tensors could not be broadcast together"))?;
    }
    let adv_dims: Vec<usize> = advanced.iter().map(|(d, _)| *d).collect();
    let adjacent = adv_dims.windows(2).all(|w| w[1] == w[0] + 1);
    let rest: Vec<usize> = (0..vshape.len()).filter(|d| !adv_dims.contains(d)).collect();
    // Result layout: [before..., B..., after...] when adjacent, else [B..., rest...].
    let insert_at = if adjacent { rest.iter().filter(|&&d| d < adv_dims[0]).count() } else { 0 };
    let mut out_shape: Dims = Dims::new();
    out_shape.extend(rest[..insert_at].iter().map(|&d| vshape[d]));
    out_shape.extend_from_slice(&bshape);
    out_shape.extend(rest[insert_at..].iter().map(|&d| vshape[d]));

    // Per-advanced-index contribution, broadcast over B.
    let nb = numel(&bshape);
    let mut adv_contrib = buffer::zeroed::<i64>(nb, &bshape, "index")?;
    let bstrides = contiguous_strides(&bshape);
    for (d, t) in advanced {
        let vals = int64_values(t)?;
        let tl = t.layout().expand(&bshape, "index")?;
        let tstrides: Vec<usize> = {
            // strides of t (contiguous copy) broadcast to bshape
            let lead = bshape.len() - t.ndim();
            let own = contiguous_strides(t.shape());
            (0..bshape.len()).map(|k| if k < lead || tl.strides()[k] == 0 { 0 } else { own[k - lead] }).collect()
        };
        for (p, c) in adv_contrib.iter_mut().enumerate() {
            let mut rem = p;
            let mut src = 0;
            for k in 0..bshape.len() {
                let i = rem / bstrides[k];
                rem %= bstrides[k];
                src += i * tstrides[k];
            }
            *c += wrap_index(vals[src], vshape[*d], *d)? * cs[*d] as i64;
        }
    }
    // Combine with the plain dims.
    let n = checked_numel(&out_shape, "index")?;
    let mut offsets = buffer::with_capacity(n, &out_shape, "index")?;
    let before: Vec<usize> = rest[..insert_at].to_vec();
    let after: Vec<usize> = rest[insert_at..].to_vec();
    let n_before: usize = before.iter().map(|&d| vshape[d]).product();
    let n_after: usize = after.iter().map(|&d| vshape[d]).product();
    let plain = |dims: &[usize], mut flat: usize| -> i64 {
        let mut off = 0i64;
        for &d in dims.iter().rev() {
            off += ((flat % vshape[d]) * cs[d]) as i64;
            flat /= vshape[d];
        }
        off
    };
    for i in 0..n_before {
        let ob = plain(&before, i);
        for &c in &adv_contrib {
            for j in 0..n_after {
                offsets.push(ob + c + plain(&after, j));
            }
        }
    }
    let offsets = Tensor::from_vec(offsets, &out_shape)?;
    let offsets = if view.device() != offsets.device() { super::to_device(&offsets, view.device())? } else { offsets };
    Ok((offsets, out_shape))
}

/// PyTorch's `gather`: `out[i][j] = a[i][index[i][j]]` for dim 1 (any dim, any rank).
pub fn gather(a: &Tensor, dim: isize, index: &Tensor) -> Result<Tensor> {
    backend::same_device("gather", &[a, index])?;
    let d = normalize_dim(dim, a.ndim(), "gather")?;
    if index.ndim() != a.ndim() && !(a.ndim() == 0 && index.ndim() <= 1) {
        return Err(shape_err!(
            "gather: index has {} dimensions but the input has {}; they must match",
            index.ndim(),
            a.ndim()
        ));
    }
    for k in 0..index.ndim() {
        if k != d && index.shape()[k] > a.shape()[k] {
            return Err(shape_err!(
                "gather: index shape {} is larger than input shape {} in dimension {k}",
                ShapeDisplay(index.shape()),
                ShapeDisplay(a.shape())
            ));
        }
    }
    let cs = contiguous_strides(a.shape());
    let ishape = index.shape();
    let istr = contiguous_strides(ishape);
    if let Some(offsets) = gather_offsets_on_device(a, d, index, &cs, &istr)? {
        return take(a, &offsets);
    }
    let vals = int64_values(index)?;
    let offsets = if ishape.is_empty() {
        vec![strict_index(vals[0], a.numel().max(1), 0, "gather")?]
    } else {
        let base = offsets_beside_dim(ishape, &istr, &cs, d)?;
        vals.iter().zip(base).map(|(&v, b)| Ok(b + strict_index(v, a.shape()[d], d, "gather")? * cs[d] as i64)).collect::<Result<Vec<_>>>()?
    };
    let offsets = Tensor::from_vec(offsets, ishape)?;
    let offsets = if a.device() != offsets.device() { super::to_device(&offsets, a.device())? } else { offsets };
    take(a, &offsets)
}

/// For each position of an index of shape `ishape` (row-major strides `istr`), the flat offset
/// into the gathered tensor (row-major strides `cs`) from every dim but `d`; gather adds
/// `index * cs[d]`.
fn offsets_beside_dim(ishape: &[usize], istr: &[usize], cs: &[usize], d: usize) -> Result<Vec<i64>> {
    let n = numel(ishape);
    let mut out = buffer::with_capacity(n, ishape, "gather")?;
    out.extend((0..n).map(|p| (0..ishape.len()).filter(|&k| k != d).map(|k| ((p / istr[k]) % ishape[k] * cs[k]) as i64).sum::<i64>()));
    Ok(out)
}

/// `gather`'s flat offsets computed where `index` lives, when its values are known to be in
/// range without reading them (a GPU tensor with known bounds): the part of each offset that
/// does not depend on the index is built on the host and uploaded (recorded, no sync), and
/// `index * stride` added on the device. `None` when the bounds are unknown or need wrapping.
fn gather_offsets_on_device(a: &Tensor, d: usize, index: &Tensor, cs: &[usize], istr: &[usize]) -> Result<Option<Tensor>> {
    let ishape = index.shape();
    if ishape.is_empty() || index.dtype() != DType::I64 || index.device() != a.device() {
        return Ok(None);
    }
    match backend::known_int_bounds(index) {
        Some((lo, hi)) if lo >= 0 && (hi as u64) < a.shape()[d] as u64 => {}
        _ => return Ok(None),
    }
    let base = super::to_device(&Tensor::from_vec(offsets_beside_dim(ishape, istr, cs, d)?, ishape)?, a.device())?;
    let stride = backend::full(&[], cs[d] as f64, DType::I64, a.device())?;
    let scaled = backend::binary(backend::BinaryKind::Mul, index, &stride, ishape)?;
    Ok(Some(backend::binary(backend::BinaryKind::Add, &base, &scaled, ishape)?))
}

pub fn index_select(a: &Tensor, dim: isize, indices: &Tensor) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "index_select")?;
    if indices.ndim() > 1 {
        return Err(shape_err!("index_select: index must be 1-D, got shape {}", ShapeDisplay(indices.shape())));
    }
    let mut key: Vec<IndexItem> = (0..d).map(|_| IndexItem::Slice { start: None, stop: None, step: 1 }).collect();
    key.push(IndexItem::Tensor(indices.clone()));
    index(a, &key)
}

/// `a[key] = value`, in place. When autograd tracks `a` (or `value`), `a` gets a new
/// history: the old values with the indexed ones replaced.
pub fn index_put_(a: &Tensor, key: &[IndexItem], value: &Tensor) -> Result<()> {
    super::check_inplace(a, "__setitem__")?;
    super::check_no_internal_overlap(a, "__setitem__")?;
    let tracked = is_grad_enabled() && (a.requires_grad() || value.requires_grad());
    let (view, advanced) = apply_basic(&a.detach(), key)?;
    if !tracked {
        let value = if value.dtype() != a.dtype() { backend::cast(value, a.dtype())? } else { value.clone() };
        if advanced.is_empty() {
            let value = super::ensure_no_overlap(&view, &fit_value(&value.detach(), view.shape())?)?;
            backend::copy_into(&view, &value)?;
        } else {
            let (offsets, out_shape) = advanced_offsets(&view, &advanced)?;
            let vals = super::contiguous(&fit_value(&value.detach(), &out_shape)?)?;
            // offsets index the view; map them to `a` via a gather of the view's own positions.
            let positions = view_positions(&view, a)?;
            let abs = backend::take(&positions, &offsets)?;
            let dst = if a.is_contiguous() { a.clone() } else { return Err(Error::Value("__setitem__ with tensor indices needs a contiguous tensor; call .contiguous() first".into())) };
            backend::index_put(&dst, &abs, &vals, false)?;
        }
        a.storage().bump_version();
        return Ok(());
    }
    // Tracked: compute the new values out of place, then write them back and rebase history.
    let positions = view_positions(&view, a)?;
    let (offsets, out_shape) = if advanced.is_empty() {
        let shape = Dims::from_slice(view.shape());
        (positions, shape)
    } else {
        let (o, s) = advanced_offsets(&view, &advanced)?;
        (backend::take(&positions, &o)?, s)
    };
    let value = if value.dtype() != a.dtype() { super::cast(value, a.dtype())? } else { value.clone() };
    let value = fit_value(&value, &out_shape)?;
    let old = super::clone(a)?;
    let new = put(&old, &offsets, &value)?;
    backend::copy_into(&a.detach(), &new)?;
    a.storage().bump_version();
    a.set_grad_fn(new.grad_fn());
    Ok(())
}

/// Flat offsets into `a` (row-major) of `a[key]` for a key of index tensors and masks, and the
/// shape of the indexed region (`index_put`).
pub(crate) fn put_offsets(a: &Tensor, key: &[IndexItem]) -> Result<(Tensor, Dims)> {
    let (view, advanced) = apply_basic(&a.detach(), key)?;
    if advanced.is_empty() {
        let shape = Dims::from_slice(a.shape());
        let n = a.numel() as i64;
        let t = super::reorder::offsets_tensor((0..n).collect(), &shape, a.device())?;
        return Ok((t, shape));
    }
    advanced_offsets(&view, &advanced)
}

/// `value` broadcast to `out_shape` (PyTorch also drops leading size-1 dims of the value).
pub(crate) fn fit_value(value: &Tensor, out_shape: &[usize]) -> Result<Tensor> {
    let mut vshape: &[usize] = value.shape();
    while vshape.len() > out_shape.len() && vshape[0] == 1 {
        vshape = &vshape[1..];
    }
    let fits = broadcast_shapes(vshape, out_shape, "__setitem__").is_ok_and(|s| s.as_slice() == out_shape);
    if !fits {
        return Err(shape_err!(
            "__setitem__: a value of shape {} cannot be assigned to a region of shape {}",
            ShapeDisplay(value.shape()),
            ShapeDisplay(out_shape)
        ));
    }
    let v = if vshape.len() != value.ndim() { super::reshape(value, vshape)? } else { value.clone() };
    super::expand(&v, out_shape)
}

/// For each element of `view` (row-major), its flat row-major position in `base`.
fn view_positions(view: &Tensor, base: &Tensor) -> Result<Tensor> {
    if !base.is_contiguous() {
        return Err(Error::Value(
            "__setitem__ on a non-contiguous tensor with autograd or tensor indices is not supported; call .contiguous() first".into(),
        ));
    }
    let base_off = base.layout().offset();
    let mut pos = buffer::with_capacity(view.numel(), view.shape(), "__setitem__")?;
    view.layout().for_each_index(|i| pos.push((i - base_off) as i64));
    let t = Tensor::from_vec(pos, view.shape())?;
    if view.device() != t.device() {
        super::to_device(&t, view.device())
    } else {
        Ok(t)
    }
}

pub(crate) fn put(old: &Tensor, offsets: &Tensor, values: &Tensor) -> Result<Tensor> {
    let out = backend::cast(old, old.dtype())?;
    let vals = backend::cast(values, values.dtype())?;
    backend::index_put(&out, offsets, &vals, false)?;
    record(super::Op::Index(IndexOp::Put { offsets: offsets.clone() }), &[old, values], &out, |_| smallvec![Save::Skip]);
    Ok(out)
}

impl IndexOp {
    pub fn name(&self) -> &'static str {
        match self {
            IndexOp::Take { .. } => "index",
            IndexOp::Scatter { .. } => "index_backward",
            IndexOp::Put { .. } => "index_put",
            IndexOp::ScatterReduce { reduce, .. } => super::scatter::scatter_reduce_name(*reduce),
        }
    }

    /// Row-major positions in the source (`Take`, `Scatter`) or in the output (`Put`).
    pub fn params(&self) -> OpParams {
        match self {
            IndexOp::Take { offsets } | IndexOp::Scatter { offsets } | IndexOp::Put { offsets } => {
                vec![("offsets", OpParam::Tensor(offsets.clone()))]
            }
            IndexOp::ScatterReduce { offsets, include_self, .. } => super::scatter::scatter_reduce_params(offsets, *include_self),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        match self {
            IndexOp::Take { offsets } => grads(ctx, [&|| add_at(g, &ctx.inputs[0].shape, offsets)]),
            IndexOp::Scatter { offsets } => grads(ctx, [&|| take(g, offsets)]),
            IndexOp::Put { offsets } => grads(ctx, [
                &|| {
                    let keep = backend::full(g.shape(), 1.0, g.dtype(), g.device())?;
                    let zeros = backend::full(offsets.shape(), 0.0, g.dtype(), g.device())?;
                    backend::index_put(&keep, offsets, &zeros, false)?;
                    super::mul(g, &keep)
                },
                &|| take(g, offsets),
            ]),
            IndexOp::ScatterReduce { offsets, reduce, include_self } => super::scatter::scatter_reduce_vjp(ctx, offsets, *reduce, *include_self),
        }
    }
}
