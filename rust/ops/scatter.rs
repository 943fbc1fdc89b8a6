//! Writing into positions picked by index tensors or masks, out of place: `scatter` (and
//! `scatter_add`, `scatter_reduce`), `index_add`/`index_copy`/`index_fill`/`index_put`,
//! `masked_scatter`/`masked_select`, and the gathers that use the same offsets (`take`,
//! `take_along_dim`, `nonzero`). Every op turns its indices into flat row-major offsets on the
//! host, then runs the recorded primitives `put` (overwrite), `scatter` (add) and `take`
//! (gather), so gradients and both devices come with them. Only the `prod`, `amax` and `amin`
//! reductions have a kernel of their own (a host loop) and a vjp here.

use super::index::{add_at as scatter_add_at, put, IndexOp};
use super::reorder::offsets_tensor;
use super::{grads, Grads, IndexItem, OpParam, OpParams};
use crate::alloc::buffer;
use crate::autograd::{record, Save, VjpCtx};
use crate::backend;
use crate::error::{dtype_err, index_err, shape_err, value_err, Result, ShapeDisplay};
use crate::tensor::{broadcast_shapes, contiguous_strides, normalize_dim, numel, Category, DType, Dims, Tensor};
use smallvec::smallvec;

/// The index tensor's values as int64 on the host (any integer dtype is accepted, as PyTorch does).
fn index_values(index: &Tensor, op: &str) -> Result<Vec<i64>> {
    if index.dtype().category() != Category::Int {
        return Err(dtype_err!("{op}(): expected an integer (int64) tensor for index, got {}; convert with .long()", index.dtype().name()));
    }
    let i = if index.dtype() == DType::I64 { index.clone() } else { backend::cast(index, DType::I64)? };
    backend::to_vec::<i64>(&i)
}

fn same_dtype(a: &Tensor, src: &Tensor, op: &str) -> Result<()> {
    if a.dtype() != src.dtype() {
        return Err(dtype_err!(
            "{op}(): expected self.dtype to be equal to src.dtype (self is {}, src is {}); convert one with .to()",
            a.dtype().name(),
            src.dtype().name()
        ));
    }
    Ok(())
}

/// For every position of a tensor of shape `pshape` (row-major), the flat offset into a tensor
/// of shape `target` of the same coordinates except along `d`, where `along(p, i_d)` gives the
/// (already checked) coordinate.
fn offsets_along(target: &[usize], d: usize, pshape: &[usize], op: &str, mut along: impl FnMut(usize, usize) -> Result<i64>) -> Result<Vec<i64>> {
    let cs = contiguous_strides(target);
    let ps = contiguous_strides(pshape);
    let n = numel(pshape);
    let mut out = buffer::with_capacity(n, pshape, op)?;
    for p in 0..n {
        let mut off = 0i64;
        let mut id = 0usize;
        for k in 0..pshape.len() {
            let i = (p / ps[k]) % pshape[k];
            if k == d {
                id = i;
            } else {
                off += (i * cs[k]) as i64;
            }
        }
        let stride = cs.get(d).copied().unwrap_or(1) as i64;
        out.push(off + along(p, id)? * stride);
    }
    Ok(out)
}

/// Checks an index along a dim of size `n`; `wrap` lets negatives count from the end.
fn checked(i: i64, n: usize, dim: usize, wrap: bool, op: &str) -> Result<i64> {
    let j = if wrap && i < 0 { i + n as i64 } else { i };
    if j < 0 || j >= n as i64 {
        return Err(index_err!("{op}(): index {i} is out of bounds for dimension {dim} with size {n}"));
    }
    Ok(j)
}

/// What `scatter` writes: a tensor (its leading `index.shape` region) or one value.
pub enum ScatterSrc<'a> {
    Tensor(&'a Tensor),
    Value(f64),
}

/// How `scatter_reduce` combines the values that meet at one position.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ScatterReduce {
    Sum,
    Prod,
    Mean,
    Amax,
    Amin,
}

impl ScatterReduce {
    pub fn parse(s: &str) -> Result<ScatterReduce> {
        Ok(match s {
            "sum" => ScatterReduce::Sum,
            "prod" => ScatterReduce::Prod,
            "mean" => ScatterReduce::Mean,
            "amax" => ScatterReduce::Amax,
            "amin" => ScatterReduce::Amin,
            _ => return Err(value_err!("scatter_reduce(): reduce argument must be either sum, prod, mean, amax or amin, got {s}")),
        })
    }
}

/// Flat offsets into `a` for `scatter`/`gather`-style `index` along `d`, after PyTorch's shape
/// checks (`src_shape`: the source's shape, which must cover the index).
fn scatter_offsets(a: &Tensor, d: usize, index: &Tensor, src_shape: Option<&[usize]>, op: &str) -> Result<Tensor> {
    backend::same_device(op, &[a, index])?;
    if index.ndim() != a.ndim() && !(index.numel() == 0 && index.ndim() <= 1) {
        return Err(shape_err!(
            "{op}(): index tensor must have the same number of dimensions as self tensor (index is {}-D of shape {}, self is {}-D of shape {})",
            index.ndim(),
            ShapeDisplay(index.shape()),
            a.ndim(),
            ShapeDisplay(a.shape())
        ));
    }
    if let Some(s) = src_shape {
        if s.len() != index.ndim() && index.numel() > 0 {
            return Err(shape_err!("{op}(): index tensor must have the same number of dimensions as src tensor (index {}, src {})", ShapeDisplay(index.shape()), ShapeDisplay(s)));
        }
    }
    let ishape = index.shape();
    let fits = (0..ishape.len()).all(|k| {
        (k == d || a.shape().get(k).is_some_and(|&n| ishape[k] <= n)) && src_shape.is_none_or(|s| s.get(k).is_some_and(|&n| ishape[k] <= n))
    });
    if !fits && index.numel() > 0 {
        return Err(shape_err!(
            "{op}(): size does not match at dimension {d}: expected index {} to be no larger than self {} apart from dimension {d}{}",
            ShapeDisplay(ishape),
            ShapeDisplay(a.shape()),
            src_shape.map(|s| format!(" and no larger than src {}", ShapeDisplay(s))).unwrap_or_default()
        ));
    }
    let vals = index_values(index, op)?;
    let n = a.shape().get(d).copied().unwrap_or(1);
    let offsets = offsets_along(a.shape(), d, ishape, op, |p, _| checked(vals[p], n, d, false, op))?;
    offsets_tensor(offsets, ishape, a.device())
}

/// `src[:i0, :i1, ...]`: the leading region of `src` that an index of `shape` reads.
fn leading_region(src: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let mut v = src.clone();
    for (k, &s) in shape.iter().enumerate() {
        if v.shape()[k] != s {
            v = super::slice(&v, k, 0, s, 1)?;
        }
    }
    Ok(v)
}

/// The values `scatter` writes, shaped like `index`.
fn scatter_values(a: &Tensor, index: &Tensor, src: &ScatterSrc, op: &str) -> Result<Tensor> {
    match src {
        ScatterSrc::Tensor(s) => {
            same_dtype(a, s, op)?;
            backend::same_device(op, &[a, s])?;
            if index.numel() == 0 {
                return super::full(index.shape(), 0.0, a.dtype(), a.device());
            }
            leading_region(s, index.shape())
        }
        ScatterSrc::Value(v) => super::full(index.shape(), *v, a.dtype(), a.device()),
    }
}

fn src_shape<'a>(src: &'a ScatterSrc) -> Option<&'a [usize]> {
    match src {
        ScatterSrc::Tensor(s) => Some(s.shape()),
        ScatterSrc::Value(_) => None,
    }
}

/// `torch.scatter`: `a` with `out[i][index[i][j]] = src[i][j]` (dim 1; any dim, any rank).
/// `reduce` ("add", "multiply") combines with the existing values instead.
pub fn scatter(a: &Tensor, dim: isize, index: &Tensor, src: ScatterSrc, reduce: Option<&str>) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "scatter")?;
    let offsets = scatter_offsets(a, d, index, src_shape(&src), "scatter")?;
    let values = scatter_values(a, index, &src, "scatter")?;
    match reduce {
        None => put(a, &offsets, &values),
        Some("add") => reduce_at(a, &offsets, &values, ScatterReduce::Sum, true),
        Some("multiply") => reduce_at(a, &offsets, &values, ScatterReduce::Prod, true),
        Some(other) => Err(value_err!("scatter(): reduce argument must be either add or multiply, got {other:?}")),
    }
}

/// `torch.scatter_add`: `a` with `src` added at the scattered positions (repeats accumulate).
pub fn scatter_add(a: &Tensor, dim: isize, index: &Tensor, src: &Tensor) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "scatter_add")?;
    let offsets = scatter_offsets(a, d, index, Some(src.shape()), "scatter_add")?;
    let values = scatter_values(a, index, &ScatterSrc::Tensor(src), "scatter_add")?;
    reduce_at(a, &offsets, &values, ScatterReduce::Sum, true)
}

/// `torch.scatter_reduce`: the values meeting at each scattered position combined by `reduce`,
/// with the original value included when `include_self`.
pub fn scatter_reduce(a: &Tensor, dim: isize, index: &Tensor, src: &Tensor, reduce: ScatterReduce, include_self: bool) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "scatter_reduce")?;
    let offsets = scatter_offsets(a, d, index, Some(src.shape()), "scatter_reduce")?;
    let values = scatter_values(a, index, &ScatterSrc::Tensor(src), "scatter_reduce")?;
    reduce_at(a, &offsets, &values, reduce, include_self)
}

/// How many values land on each position of `a` (a constant of `a`'s dtype class).
fn hit_counts(a: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    let ones = backend::full(offsets.shape(), 1.0, a.dtype().to_float(), a.device())?;
    backend::scatter_add(a.shape(), offsets, &ones)
}

/// `a` combined with `values` at flat `offsets` by `reduce`.
fn reduce_at(a: &Tensor, offsets: &Tensor, values: &Tensor, reduce: ScatterReduce, include_self: bool) -> Result<Tensor> {
    match reduce {
        ScatterReduce::Sum | ScatterReduce::Mean => {
            let base = if include_self {
                a.clone()
            } else {
                let hit = super::gt(&hit_counts(a, offsets)?, &super::scalar_like(a, 0.0)?)?;
                super::where_(&hit, &super::scalar_like(a, 0.0)?, a)?
            };
            let values = super::contiguous(values)?;
            let sum = super::add(&base, &scatter_add_at(&values, a.shape(), offsets)?)?;
            if reduce == ScatterReduce::Sum {
                return Ok(sum);
            }
            let mut count = hit_counts(a, offsets)?;
            let one = super::scalar_like(&count, 1.0)?;
            if include_self {
                count = super::add(&count, &one)?;
            }
            let count = super::maximum(&count, &one)?;
            if a.dtype().is_float() {
                super::div(&sum, &count)
            } else {
                super::cast(&super::floor_divide(&sum, &count)?, a.dtype())
            }
        }
        ScatterReduce::Prod | ScatterReduce::Amax | ScatterReduce::Amin => {
            let out = reduce_on_host(a, offsets, values, reduce, include_self)?;
            let op = IndexOp::ScatterReduce { offsets: offsets.clone(), reduce, include_self };
            record(super::Op::Index(op), &[a, values], &out, |_| smallvec![Save::Input(a), Save::Input(values), Save::Output(0)]);
            Ok(out)
        }
    }
}

/// The `prod`/`amax`/`amin` reductions, computed on the host in float64 (or int64) and moved
/// back to `a`'s device and dtype. NaN wins `amax` and `amin`, as in PyTorch.
fn reduce_on_host(a: &Tensor, offsets: &Tensor, values: &Tensor, reduce: ScatterReduce, include_self: bool) -> Result<Tensor> {
    let offs = backend::to_vec::<i64>(offsets)?;
    let n = a.numel();
    let mut touched = buffer::zeroed::<bool>(n, a.shape(), "scatter_reduce")?;
    fn run<T: Copy>(out: &mut [T], vals: &[T], offs: &[i64], touched: &mut [bool], include_self: bool, f: impl Fn(T, T) -> T) -> Result<()> {
        for (&o, &v) in offs.iter().zip(vals) {
            let o = usize::try_from(o).ok().filter(|&o| o < out.len()).ok_or_else(|| index_err!("scatter_reduce(): offset {o} out of range"))?;
            if !include_self && !touched[o] {
                touched[o] = true;
                out[o] = v;
            } else {
                out[o] = f(out[o], v);
            }
        }
        Ok(())
    }
    let result = if a.dtype().is_float() {
        let mut out = backend::to_vec::<f64>(&backend::cast(&backend::to_cpu(a)?, DType::F64)?)?;
        let vals = backend::to_vec::<f64>(&backend::cast(&backend::to_cpu(values)?, DType::F64)?)?;
        let nan_max = |x: f64, y: f64| if x.is_nan() || y.is_nan() { f64::NAN } else { x.max(y) };
        let nan_min = |x: f64, y: f64| if x.is_nan() || y.is_nan() { f64::NAN } else { x.min(y) };
        match reduce {
            ScatterReduce::Amax => run(&mut out, &vals, &offs, &mut touched, include_self, nan_max)?,
            ScatterReduce::Amin => run(&mut out, &vals, &offs, &mut touched, include_self, nan_min)?,
            _ => run(&mut out, &vals, &offs, &mut touched, include_self, |x, y| x * y)?,
        }
        Tensor::from_vec(out, a.shape())?
    } else {
        let mut out = backend::to_vec::<i64>(&backend::cast(&backend::to_cpu(a)?, DType::I64)?)?;
        let vals = backend::to_vec::<i64>(&backend::cast(&backend::to_cpu(values)?, DType::I64)?)?;
        match reduce {
            ScatterReduce::Amax => run(&mut out, &vals, &offs, &mut touched, include_self, i64::max)?,
            ScatterReduce::Amin => run(&mut out, &vals, &offs, &mut touched, include_self, i64::min)?,
            _ => run(&mut out, &vals, &offs, &mut touched, include_self, i64::wrapping_mul)?,
        }
        Tensor::from_vec(out, a.shape())?
    };
    let result = backend::cast(&result, a.dtype())?;
    if result.device() != a.device() {
        backend::to_device(&result, a.device())
    } else {
        Ok(result)
    }
}

/// The vjp of the `prod`/`amax`/`amin` scatter reductions (inputs: self, values), as PyTorch's:
/// the extrema share the gradient evenly among the elements equal to the result; the product's
/// gradient is the product of the others (computed without the zero when exactly one is zero).
pub(crate) fn scatter_reduce_vjp(ctx: &VjpCtx, offsets: &Tensor, reduce: ScatterReduce, include_self: bool) -> Result<Grads> {
    let g = ctx.grad();
    let (a, src, out) = (ctx.saved(0)?, ctx.saved(1)?, ctx.saved(2)?);
    let zero = super::scalar_like(g, 0.0)?;
    let one = super::scalar_like(g, 1.0)?;
    let hit = super::gt(&hit_counts(a, offsets)?, &super::scalar_like(a, 0.0)?)?;
    match reduce {
        ScatterReduce::Amax | ScatterReduce::Amin => {
            let mut self_wins = super::eq(a, out)?;
            if !include_self {
                self_wins = super::logical_and(&self_wins, &super::logical_not(&hit)?)?;
            }
            let src_wins = super::eq(src, &super::take(out, offsets)?)?;
            let count = super::add(&super::cast(&self_wins, g.dtype())?, &scatter_add_at(&super::cast(&src_wins, g.dtype())?, a.shape(), offsets)?)?;
            let share = super::div(g, &count)?;
            grads(ctx, [&|| super::where_(&self_wins, &share, &zero), &|| super::where_(&src_wins, &super::take(&share, offsets)?, &zero)])
        }
        _ => {
            let self_grad = || -> Result<Tensor> {
                if !include_self {
                    return super::where_(&hit, &zero, g);
                }
                let masked = super::where_(&super::eq(a, &zero)?, &one, a)?;
                let others = reduce_on_host(&masked, offsets, src, ScatterReduce::Prod, true)?;
                super::div(&super::mul(g, &others)?, &masked)
            };
            let src_grad = || -> Result<Tensor> {
                let src_zero = super::eq(src, &zero)?;
                let zeros_there = super::take(&scatter_add_at(&super::cast(&src_zero, g.dtype())?, a.shape(), offsets)?, offsets)?;
                let single = super::logical_and(&src_zero, &super::eq(&zeros_there, &one)?)?;
                let masked_src = super::where_(&single, &one, src)?;
                let without = reduce_on_host(a, offsets, &masked_src, ScatterReduce::Prod, include_self)?;
                let plain = super::div(&super::take(&super::mul(g, out)?, offsets)?, &super::where_(&src_zero, &one, src)?)?;
                super::where_(&single, &super::take(&super::mul(g, &without)?, offsets)?, &plain)
            };
            grads(ctx, [&self_grad, &src_grad])
        }
    }
}

pub(crate) fn scatter_reduce_params(offsets: &Tensor, include_self: bool) -> OpParams {
    vec![("offsets", OpParam::Tensor(offsets.clone())), ("include_self", OpParam::Bool(include_self))]
}

pub(crate) fn scatter_reduce_name(reduce: ScatterReduce) -> &'static str {
    match reduce {
        ScatterReduce::Prod => "scatter_reduce_prod",
        ScatterReduce::Amax => "scatter_reduce_amax",
        _ => "scatter_reduce_amin",
    }
}

/// Checks a 1-D (or 0-D) integer index for the `index_*` ops and returns its values.
fn index_list(index: &Tensor, op: &str) -> Result<Vec<i64>> {
    if index.ndim() > 1 {
        return Err(shape_err!("{op}(): index should have dimension 1 or 0 (got {}-D of shape {})", index.ndim(), ShapeDisplay(index.shape())));
    }
    index_values(index, op)
}

/// Offsets into `a` of a region shaped like `a` but with `len(index)` along `d`, whose slice
/// `j` along `d` sits at `index[j]`.
fn index_region_offsets(a: &Tensor, d: usize, index: &[i64], wrap: bool, op: &str) -> Result<(Tensor, Dims)> {
    let mut shape = a.dims();
    if shape.is_empty() {
        shape.push(1);
    }
    let n = shape[d];
    shape[d] = index.len();
    let idx: Vec<i64> = index.iter().map(|&i| checked(i, n, d, wrap, op)).collect::<Result<_>>()?;
    let target: Dims = if a.ndim() == 0 { smallvec![1] } else { a.dims() };
    let offs = offsets_along(&target, d, &shape, op, |_, j| Ok(idx[j]))?;
    if a.ndim() == 0 {
        shape = Dims::new();
        if index.len() != 1 {
            shape.push(index.len());
        }
    }
    Ok((offsets_tensor(offs, &shape, a.device())?, shape))
}

/// Checks `source` against the region `index_add`/`index_copy` write.
fn check_source(a: &Tensor, d: usize, n_index: usize, source: &Tensor, op: &str) -> Result<()> {
    same_dtype(a, source, op)?;
    backend::same_device(op, &[a, source])?;
    let mut want = a.dims();
    if let Some(w) = want.get_mut(d) {
        *w = n_index;
    }
    let ok = source.shape() == want.as_slice() || (a.ndim() == 0 && source.numel() == n_index && source.ndim() <= 1);
    if !ok {
        return Err(shape_err!(
            "{op}(): source of shape {} does not fit: expected shape {} (self's shape {} with the number of indices ({n_index}) along dim {d})",
            ShapeDisplay(source.shape()),
            ShapeDisplay(&want),
            ShapeDisplay(a.shape())
        ));
    }
    Ok(())
}

/// `torch.index_add`: `a` with `alpha * source[..., j, ...]` added at `index[j]` along `dim`.
pub fn index_add(a: &Tensor, dim: isize, index: &Tensor, source: &Tensor, alpha: f64) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "index_add")?;
    let idx = index_list(index, "index_add")?;
    check_source(a, d, idx.len(), source, "index_add")?;
    let (offsets, shape) = index_region_offsets(a, d, &idx, false, "index_add")?;
    let src = super::reshape(source, &shape)?;
    let src = if alpha != 1.0 { super::mul(&src, &super::scalar_like(&src, alpha)?)? } else { src };
    reduce_at(a, &offsets, &src, ScatterReduce::Sum, true)
}

/// `torch.index_copy`: `a` with `source[..., j, ...]` written at `index[j]` along `dim`.
pub fn index_copy(a: &Tensor, dim: isize, index: &Tensor, source: &Tensor) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "index_copy")?;
    let idx = index_list(index, "index_copy")?;
    check_source(a, d, idx.len(), source, "index_copy")?;
    let (offsets, shape) = index_region_offsets(a, d, &idx, false, "index_copy")?;
    put(a, &offsets, &super::reshape(source, &shape)?)
}

/// `torch.index_fill`: `a` with the slices at `index` along `dim` set to `value` (a 0-d tensor,
/// differentiable; negative indices count from the end).
pub fn index_fill(a: &Tensor, dim: isize, index: &Tensor, value: &Tensor) -> Result<Tensor> {
    let d = normalize_dim(dim, a.ndim(), "index_fill")?;
    if value.ndim() != 0 {
        return Err(value_err!("index_fill(): only supports a 0-dimensional value tensor, but got a tensor with {} dimensions", value.ndim()));
    }
    let idx = index_list(index, "index_fill")?;
    let (offsets, shape) = index_region_offsets(a, d, &idx, true, "index_fill")?;
    let v = super::cast(value, a.dtype())?;
    let v = if v.device() != a.device() { super::to_device(&v, a.device())? } else { v };
    put(a, &offsets, &super::expand(&v, &shape)?)
}

/// `torch.index_put`: `a` with `values` written (or added, `accumulate`) at `a[indices]`.
pub fn index_put(a: &Tensor, indices: &[Tensor], values: &Tensor, accumulate: bool) -> Result<Tensor> {
    let key: Vec<IndexItem> = indices.iter().cloned().map(IndexItem::Tensor).collect();
    let (offsets, shape) = super::index::put_offsets(a, &key)?;
    same_dtype(a, values, "index_put")?;
    let v = super::index::fit_value(values, &shape)?;
    if accumulate {
        reduce_at(a, &offsets, &v, ScatterReduce::Sum, true)
    } else {
        put(a, &offsets, &v)
    }
}

/// The flat positions of the true elements of a bool tensor, in row-major order.
fn true_positions(mask: &Tensor) -> Result<Vec<i64>> {
    let m = backend::to_vec::<bool>(mask)?;
    Ok(m.iter().enumerate().filter(|(_, &b)| b).map(|(i, _)| i as i64).collect())
}

/// `torch.masked_scatter`: `a` (broadcast with `mask`) with the positions where `mask` holds
/// filled, in row-major order, by the leading elements of `source`.
pub fn masked_scatter(a: &Tensor, mask: &Tensor, source: &Tensor) -> Result<Tensor> {
    super::check_bool_mask(mask, "masked_scatter")?;
    same_dtype(a, source, "masked_scatter")?;
    backend::same_device("masked_scatter", &[a, mask, source])?;
    let shape = broadcast_shapes(a.shape(), mask.shape(), "masked_scatter")?;
    let a = super::expand(a, &shape)?;
    let pos = true_positions(&super::expand(mask, &shape)?)?;
    let k = pos.len();
    if source.numel() < k {
        return Err(value_err!(
            "masked_scatter(): number of elements of source ({}) < number of ones in mask ({k})",
            source.numel()
        ));
    }
    let offsets = offsets_tensor(pos, &[k], a.device())?;
    let first = offsets_tensor((0..k as i64).collect(), &[k], a.device())?;
    put(&a, &offsets, &super::take(source, &first)?)
}

/// `torch.masked_select`: the elements of `a` (broadcast with `mask`) where `mask` holds, 1-D.
pub fn masked_select(a: &Tensor, mask: &Tensor) -> Result<Tensor> {
    super::check_bool_mask(mask, "masked_select")?;
    backend::same_device("masked_select", &[a, mask])?;
    let shape = broadcast_shapes(a.shape(), mask.shape(), "masked_select")?;
    let a = super::expand(a, &shape)?;
    let mask = super::contiguous(&super::expand(mask, &shape)?)?;
    if shape.is_empty() {
        let a1 = super::reshape(&a, &[1])?;
        return super::index(&a1, &[IndexItem::Tensor(super::reshape(&mask, &[1])?)]);
    }
    super::index(&a, &[IndexItem::Tensor(mask)])
}

/// `torch.take`: elements of `a` read as 1-D at `index` (negatives count from the end), shaped like `index`.
pub fn take_flat(a: &Tensor, index: &Tensor) -> Result<Tensor> {
    backend::same_device("take", &[a, index])?;
    let n = a.numel();
    let vals = index_values(index, "take")?;
    let offs: Vec<i64> = vals
        .iter()
        .map(|&i| {
            let j = if i < 0 { i + n as i64 } else { i };
            if j < 0 || j >= n as i64 {
                Err(index_err!("take(): out of range: tried to access index {i} on a tensor of {n} elements"))
            } else {
                Ok(j)
            }
        })
        .collect::<Result<_>>()?;
    super::take(a, &offsets_tensor(offs, index.shape(), a.device())?)
}

/// `torch.take_along_dim`: `gather` after broadcasting `a` and `indices` against each other
/// (except along `dim`); negative indices count from the end. Without a dim, over the flattened tensors.
pub fn take_along_dim(a: &Tensor, indices: &Tensor, dim: Option<isize>) -> Result<Tensor> {
    backend::same_device("take_along_dim", &[a, indices])?;
    let Some(dim) = dim else {
        let flat = super::reshape(indices, &[indices.numel()])?;
        return take_flat(&super::reshape(a, &[a.numel()])?, &flat);
    };
    if a.ndim() != indices.ndim() {
        return Err(shape_err!(
            "take_along_dim(): input and indices should have the same number of dimensions, but got {} dimensions for input, and {} dimensions for indices",
            a.ndim(),
            indices.ndim()
        ));
    }
    let d = normalize_dim(dim, a.ndim(), "take_along_dim")?;
    let mut a_sizes = a.dims();
    let mut i_sizes = indices.dims();
    if d < a_sizes.len() {
        a_sizes[d] = indices.shape()[d];
    }
    let ib = broadcast_shapes(&a_sizes, indices.shape(), "take_along_dim")?;
    if d < i_sizes.len() {
        i_sizes[d] = a.shape()[d];
    }
    let ab = broadcast_shapes(&i_sizes, a.shape(), "take_along_dim")?;
    let a = super::expand(a, &ab)?;
    let indices = super::expand(indices, &ib)?;
    let vals = index_values(&indices, "take_along_dim")?;
    let n = a.shape().get(d).copied().unwrap_or(1);
    let offs = offsets_along(a.shape(), d, indices.shape(), "take_along_dim", |p, _| checked(vals[p], n, d, true, "take_along_dim"))?;
    super::take(&a, &offsets_tensor(offs, indices.shape(), a.device())?)
}

/// `torch.nonzero` with `as_tuple=True`: one int64 tensor of coordinates per dim (a 0-d input counts as 1-D).
pub fn nonzero_tuple(a: &Tensor) -> Result<Vec<Tensor>> {
    let mask = if a.dtype() == DType::Bool { a.clone() } else { super::ne(a, &super::scalar_like(a, 0.0)?)? };
    let mask = if mask.ndim() == 0 { super::reshape(&mask, &[1])? } else { mask };
    super::nonzero_columns(&mask)?.into_iter().map(|c| if c.device() != a.device() { super::to_device(&c, a.device()) } else { Ok(c) }).collect()
}

/// `torch.nonzero` / `torch.argwhere`: the coordinates of the non-zero elements, one row each.
pub fn nonzero(a: &Tensor) -> Result<Tensor> {
    if a.ndim() == 0 {
        let count = nonzero_tuple(a)?[0].numel();
        return super::full(&[count, 0], 0.0, DType::I64, a.device());
    }
    let cols = nonzero_tuple(a)?;
    super::stack(&cols, 1)
}
