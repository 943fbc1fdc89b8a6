//! Ops that rearrange or repeat elements: `flip`, `roll`, `rot90`, `repeat`/`tile`,
//! `repeat_interleave`, `movedim`. Each is built from recorded primitives (views, `cat`, the
//! flat-offset gather `take`, `index_select`), so gradients and both devices come with them.

use crate::alloc::buffer;
use crate::error::{shape_err, value_err, Result, ShapeDisplay};
use crate::tensor::{checked_mul, checked_numel, contiguous_strides, normalize_dim, DType, Dims, Tensor};

/// Normalized, distinct dims (PyTorch's rule for flip and roll).
fn distinct_dims(dims: &[isize], ndim: usize, op: &str) -> Result<Vec<usize>> {
    let mut out = Vec::with_capacity(dims.len());
    for &d in dims {
        let n = normalize_dim(d, ndim, op)?;
        if out.contains(&n) {
            return Err(value_err!("{op}: dim {n} appears multiple times in the list of dims"));
        }
        out.push(n);
    }
    Ok(out)
}

/// An int64 tensor of flat offsets on `device`.
pub(crate) fn offsets_tensor(offsets: Vec<i64>, shape: &[usize], device: crate::tensor::Device) -> Result<Tensor> {
    let t = Tensor::from_vec(offsets, shape)?;
    if t.device() != device {
        super::to_device(&t, device)
    } else {
        Ok(t)
    }
}

/// `a` with the order of elements reversed along `dims` (a gather: layouts hold no negative strides).
pub fn flip(a: &Tensor, dims: &[isize]) -> Result<Tensor> {
    let dims = distinct_dims(dims, a.ndim(), "flip")?;
    if a.ndim() == 0 || a.numel() == 0 || dims.iter().all(|&d| a.shape()[d] <= 1) {
        return super::clone(a);
    }
    let shape = a.shape();
    let cs = contiguous_strides(shape);
    let n = a.numel();
    let mut offsets = buffer::with_capacity(n, shape, "flip")?;
    // Odometer over the output's positions, tracking the source offset incrementally.
    let mut idx = vec![0usize; shape.len()];
    let src_of = |k: usize, i: usize| if dims.contains(&k) { shape[k] - 1 - i } else { i };
    let mut off: i64 = (0..shape.len()).map(|k| (src_of(k, 0) * cs[k]) as i64).sum();
    for _ in 0..n {
        offsets.push(off);
        for k in (0..shape.len()).rev() {
            off -= (src_of(k, idx[k]) * cs[k]) as i64;
            idx[k] += 1;
            if idx[k] < shape[k] {
                off += (src_of(k, idx[k]) * cs[k]) as i64;
                break;
            }
            idx[k] = 0;
            off += (src_of(k, 0) * cs[k]) as i64;
        }
    }
    let offsets = offsets_tensor(offsets, shape, a.device())?;
    super::take(a, &offsets)
}

/// `flip` over dim 1 (`fliplr`, at least 2-D) or dim 0 (`flipud`, at least 1-D).
pub fn flip_dim_checked(a: &Tensor, dim: isize, min_ndim: usize, op: &str) -> Result<Tensor> {
    if a.ndim() < min_ndim {
        return Err(shape_err!("{op}: input must be >= {min_ndim}-d, got a tensor of shape {}", ShapeDisplay(a.shape())));
    }
    flip(a, &[dim])
}

/// `torch.roll`: elements shifted along `dims` with wrap-around; with no dims, over the flattened tensor.
pub fn roll(a: &Tensor, shifts: &[i64], dims: &[isize]) -> Result<Tensor> {
    if dims.is_empty() {
        if shifts.len() != 1 {
            return Err(value_err!("roll: shifts and dimensions must align (shifts: {}, dims: 0); without dims give one shift", shifts.len()));
        }
        let flat = super::reshape(a, &[a.numel()])?;
        let rolled = roll(&flat, shifts, &[0])?;
        return super::reshape(&rolled, a.shape());
    }
    if shifts.len() != dims.len() {
        return Err(value_err!("roll: shifts and dimensions must align. shifts: {}, dims: {}", shifts.len(), dims.len()));
    }
    let mut out = a.clone();
    let mut moved = false;
    for (&s, &d) in shifts.iter().zip(dims) {
        let d = normalize_dim(d, a.ndim(), "roll")?;
        let n = a.shape().get(d).copied().unwrap_or(1);
        if n == 0 {
            continue;
        }
        let k = s.rem_euclid(n as i64) as usize;
        if k == 0 {
            continue;
        }
        // The last k elements come first.
        let tail = super::slice(&out, d, n - k, k, 1)?;
        let head = super::slice(&out, d, 0, n - k, 1)?;
        out = super::cat(&[tail, head], d as isize)?;
        moved = true;
    }
    if moved {
        Ok(out)
    } else {
        super::clone(a)
    }
}

/// `torch.rot90`: rotation by 90 degrees `k` times in the plane of `dims` (from the first towards the second).
pub fn rot90(a: &Tensor, k: i64, dims: &[isize]) -> Result<Tensor> {
    if dims.len() != 2 {
        return Err(value_err!("rot90: expected total rotation dims == 2, but got dims = {}", dims.len()));
    }
    if a.ndim() < 2 {
        return Err(shape_err!("rot90: expected total dims >= 2, but got total dims = {}", a.ndim()));
    }
    let (d0, d1) = (normalize_dim(dims[0], a.ndim(), "rot90")?, normalize_dim(dims[1], a.ndim(), "rot90")?);
    if d0 == d1 {
        return Err(value_err!("rot90: expected rotation dims to be different, but got dim0 = {d0} and dim1 = {d1}"));
    }
    let (d0, d1) = (d0 as isize, d1 as isize);
    match k.rem_euclid(4) {
        1 => super::transpose(&flip(a, &[d1])?, d0, d1),
        2 => flip(a, &[d0, d1]),
        3 => super::transpose(&flip(a, &[d0])?, d0, d1),
        _ => super::clone(a),
    }
}

/// `Tensor.repeat(*sizes)`: the tensor tiled `sizes[i]` times along each dim (leading new dims
/// for extra sizes). An expand of interleaved size-1 dims and a reshape: its gradient sums the copies.
pub fn repeat(a: &Tensor, sizes: &[isize]) -> Result<Tensor> {
    if sizes.len() < a.ndim() {
        return Err(shape_err!(
            "repeat: number of dimensions of repeat dims ({}) can not be smaller than number of dimensions of tensor ({}, shape {})",
            sizes.len(),
            a.ndim(),
            ShapeDisplay(a.shape())
        ));
    }
    if let Some(&r) = sizes.iter().find(|&&r| r < 0) {
        return Err(value_err!("repeat: repeats must be non-negative, got {r} in {sizes:?}"));
    }
    let lead = sizes.len() - a.ndim();
    let padded: Dims = std::iter::repeat_n(1, lead).chain(a.shape().iter().copied()).collect();
    let mut split: Dims = Dims::new();
    let mut wide: Dims = Dims::new();
    let mut out_shape: Dims = Dims::new();
    for (&s, &r) in padded.iter().zip(sizes) {
        split.extend([1, s]);
        wide.extend([r as usize, s]);
        out_shape.push(checked_mul(r as usize, s, "repeat")?);
    }
    checked_numel(&out_shape, "repeat")?;
    let v = super::reshape(a, &split)?;
    let e = super::expand(&v, &wide)?;
    super::reshape(&e, &out_shape)
}

/// `torch.tile`: `repeat` with missing leading sizes taken as 1.
pub fn tile(a: &Tensor, dims: &[isize]) -> Result<Tensor> {
    let mut sizes: Vec<isize> = vec![1; a.ndim().saturating_sub(dims.len())];
    sizes.extend_from_slice(dims);
    repeat(a, &sizes)
}

/// The repeat counts of `repeat_interleave`: one count for every element, or a tensor of them.
pub enum Repeats<'a> {
    Each(i64),
    Tensor(&'a Tensor),
}

/// `torch.repeat_interleave`: each element (or slice along `dim`) repeated in place; without a
/// dim, over the flattened tensor.
pub fn repeat_interleave(a: &Tensor, repeats: Repeats, dim: Option<isize>, output_size: Option<usize>) -> Result<Tensor> {
    let (a, d) = match dim {
        None => (super::reshape(a, &[a.numel()])?, 0usize),
        Some(d) => (a.clone(), normalize_dim(d, a.ndim(), "repeat_interleave")?),
    };
    let n = a.shape().get(d).copied().unwrap_or(1);
    let counts: Vec<i64> = match repeats {
        Repeats::Each(r) => vec![r; n],
        Repeats::Tensor(r) => {
            if r.ndim() > 1 || r.dtype().category() != crate::tensor::Category::Int {
                return Err(value_err!(
                    "repeat_interleave: repeats must be a 0-dim or 1-dim integer tensor, got {} of shape {}",
                    r.dtype().name(),
                    ShapeDisplay(r.shape())
                ));
            }
            let v = crate::backend::to_vec::<i64>(&super::cast(r, DType::I64)?)?;
            if v.len() == 1 {
                vec![v[0]; n]
            } else if v.len() == n {
                v
            } else {
                return Err(shape_err!(
                    "repeat_interleave: repeats must have the same size as input along dim, but got repeats.size(0) = {} and input.size({d}) = {n}",
                    v.len()
                ));
            }
        }
    };
    if counts.iter().any(|&c| c < 0) {
        return Err(value_err!("repeat_interleave: repeats must be non-negative"));
    }
    let total = counts.iter().try_fold(0usize, |acc, &c| crate::tensor::checked_add(acc, c as usize, "repeat_interleave"))?;
    if let Some(want) = output_size {
        if want != total {
            return Err(value_err!("repeat_interleave: output_size ({want}) does not match the sum of repeats ({total})"));
        }
    }
    if a.ndim() == 0 {
        return repeat_interleave(&super::reshape(&a, &[1])?, Repeats::Each(counts[0]), Some(0), None);
    }
    let mut index = buffer::with_capacity(total, &[total], "repeat_interleave")?;
    for (i, &c) in counts.iter().enumerate() {
        index.extend(std::iter::repeat_n(i as i64, c as usize));
    }
    let index = offsets_tensor(index, &[total], a.device())?;
    super::index_select(&a, d as isize, &index)
}

/// `torch.movedim`: dims `source` moved to positions `destination`, the others keeping their order (a view).
pub fn movedim(a: &Tensor, source: &[isize], destination: &[isize]) -> Result<Tensor> {
    if source.len() != destination.len() {
        return Err(value_err!(
            "movedim: Invalid source or destination dims: source ({source:?} dims) should contain the same number of dims as destination ({destination:?} dims)"
        ));
    }
    let nd = a.ndim();
    let norm = |v: &[isize], what: &str| -> Result<Vec<usize>> {
        let out: Vec<usize> = v.iter().map(|&d| normalize_dim(d, nd, "movedim")).collect::<Result<_>>()?;
        for (i, x) in out.iter().enumerate() {
            if out[..i].contains(x) {
                return Err(value_err!("movedim: repeated dim in `{what}` ({v:?})"));
            }
        }
        Ok(out)
    };
    let (src, dst) = (norm(source, "source")?, norm(destination, "destination")?);
    if nd == 0 {
        return super::permute(a, &[]);
    }
    let mut perm: Vec<Option<usize>> = vec![None; nd];
    for (&s, &d) in src.iter().zip(&dst) {
        perm[d] = Some(s);
    }
    let mut rest = (0..nd).filter(|k| !src.contains(k));
    let perm: Vec<isize> = perm.into_iter().map(|p| p.or_else(|| rest.next()).unwrap_or(0) as isize).collect();
    super::permute(a, &perm)
}
