//! Sorting and the selections built on it: `sort`, `argsort`, `topk`, `kthvalue`, `median`,
//! `nanmedian`, `mode`, `unique`, `unique_consecutive`. NaN sorts as the largest value and
//! ties keep their order (every sort is stable). Values picked from the sorted tensor carry
//! the sort's gradient: each output's gradient goes back to the element it came from.

use super::{cast, cat, gather, grads, index, narrow, ne, reshape, scalar_like, squeeze_dim, sum, where_, Grads, IndexItem, OpParam, OpParams};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend::{self, ReduceKind, ScanKind};
use crate::error::{index_err, Result};
use crate::tensor::{normalize_dim, DType, Tensor};
use smallvec::smallvec;

pub enum SortOp {
    /// `values = a` permuted along `dim` by the saved indices.
    Sort { dim: usize },
}

/// `(values, indices)` of `a` sorted along `dim`.
pub fn sort(a: &Tensor, dim: isize, descending: bool) -> Result<(Tensor, Tensor)> {
    if a.ndim() == 0 {
        normalize_dim(dim, 1, "sort")?;
        return Ok((super::clone(a)?, backend::full(&[], 0.0, DType::I64, a.device())?));
    }
    let d = normalize_dim(dim, a.ndim(), "sort")?;
    if a.dtype() == DType::Bool {
        let (v, i) = backend::sort(&cast(a, DType::I64)?, d, descending)?;
        return Ok((cast(&v, DType::Bool)?, i));
    }
    let (values, indices) = backend::sort(a, d, descending)?;
    record(super::Op::Sort(SortOp::Sort { dim: d }), &[a], &values, |_| smallvec![Save::Other(indices.clone())]);
    Ok((values, indices))
}

pub fn argsort(a: &Tensor, dim: isize, descending: bool) -> Result<Tensor> {
    Ok(sort(&a.detach(), dim, descending)?.1)
}

/// Size of `dim` (1 for a 0-dim tensor, as PyTorch treats it).
fn dim_len(a: &Tensor, dim: isize, op: &str) -> Result<(usize, usize)> {
    if a.ndim() == 0 {
        normalize_dim(dim, 1, op)?;
        return Ok((0, 1));
    }
    let d = normalize_dim(dim, a.ndim(), op)?;
    Ok((d, a.shape()[d]))
}

/// The `k` largest (or smallest) elements along `dim`, in sorted order.
pub fn topk(a: &Tensor, k: i64, dim: isize, largest: bool) -> Result<(Tensor, Tensor)> {
    let (d, n) = dim_len(a, dim, "topk")?;
    if k < 0 || k as usize > n {
        return Err(index_err!("topk: k = {k} is out of range for a dimension of size {n}; it must be in [0, {n}]"));
    }
    let (v, i) = sort(a, dim, largest)?;
    if a.ndim() == 0 {
        return Ok((v, i));
    }
    Ok((narrow(&v, d as isize, 0, k)?, narrow(&i, d as isize, 0, k)?))
}

/// Picks position `pos` (a tensor of one position per row, keepdim-shaped, or one number)
/// along `dim` of the sorted `a`.
fn pick_sorted(a: &Tensor, d: usize, pos: Picked, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let (v, i) = sort(a, d as isize, false)?;
    if a.ndim() == 0 {
        return Ok((v, i));
    }
    let (v, i) = match pos {
        Picked::At(p) => (narrow(&v, d as isize, p as i64, 1)?, narrow(&i, d as isize, p as i64, 1)?),
        Picked::PerRow(p) => (gather(&v, d as isize, &p)?, gather(&i, d as isize, &p)?),
    };
    if keepdim {
        Ok((v, i))
    } else {
        Ok((squeeze_dim(&v, d as isize)?, squeeze_dim(&i, d as isize)?))
    }
}

enum Picked {
    At(usize),
    PerRow(Tensor),
}

/// The `k`-th smallest element along `dim` (1-based, as PyTorch).
pub fn kthvalue(a: &Tensor, k: i64, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let (d, n) = dim_len(a, dim, "kthvalue")?;
    if k < 1 || k as usize > n {
        return Err(index_err!("kthvalue: k = {k} is out of range for a dimension of size {n}; it must be in [1, {n}]"));
    }
    pick_sorted(a, d, Picked::At(k as usize - 1), keepdim)
}

/// Per row of `dim`: the number of NaNs (keepdim-shaped, int64), or None for non-float data.
fn nan_counts(a: &Tensor, d: usize) -> Result<Option<Tensor>> {
    if !a.dtype().is_float() {
        return Ok(None);
    }
    let nans = cast(&super::isnan(&a.detach())?, DType::I64)?;
    Ok(Some(sum(&nans, Some(&[d as isize]), true)?))
}

/// `median(dim)`: the lower of the two middle values (PyTorch's rule), or NaN (and the first
/// NaN's index) where the row holds one; `ignore_nan` gives `nanmedian`, the median of the
/// rest.
pub fn median_dim(a: &Tensor, dim: isize, keepdim: bool, ignore_nan: bool) -> Result<(Tensor, Tensor)> {
    let op = if ignore_nan { "nanmedian" } else { "median" };
    let (d, n) = dim_len(a, dim, op)?;
    if n == 0 {
        return Err(index_err!("{op}: cannot take the {op} of an empty dimension (dimension {d} of shape {:?})", a.shape()));
    }
    let middle = (n - 1) / 2;
    let pos = match (a.ndim(), nan_counts(a, d)?) {
        (0, _) | (_, None) => Picked::At(middle),
        (_, Some(nans)) => {
            let len = scalar_like(&nans, n as f64)?;
            let pos = if ignore_nan {
                // (n - nans - 1) // 2, and 0 when every element is NaN.
                let rest = super::sub(&super::sub(&len, &nans)?, &scalar_like(&nans, 1.0)?)?;
                super::maximum(&super::floor_divide(&rest, &scalar_like(&nans, 2.0)?)?, &scalar_like(&nans, 0.0)?)?
            } else {
                let has_nan = super::gt(&nans, &scalar_like(&nans, 0.0)?)?;
                where_(&has_nan, &super::sub(&len, &nans)?, &scalar_like(&nans, middle as f64)?)?
            };
            Picked::PerRow(pos)
        }
    };
    pick_sorted(a, d, pos, keepdim)
}

/// `median()` over every element: a 0-dim value (NaN for an empty float tensor, as PyTorch).
pub fn median_all(a: &Tensor, ignore_nan: bool) -> Result<Tensor> {
    if a.numel() == 0 {
        if a.dtype().is_float() {
            return backend::full(&[], f64::NAN, a.dtype(), a.device());
        }
        return Err(index_err!("median: cannot take the median of an empty {} tensor", a.dtype().name()));
    }
    let flat = reshape(a, &[a.numel()])?;
    Ok(median_dim(&flat, 0, false, ignore_nan)?.0)
}

/// Marks where a new run of equal values starts along `d` (the first element always does).
fn run_starts(s: &Tensor, d: usize) -> Result<Tensor> {
    let n = s.shape()[d] as i64;
    let head = narrow(s, d as isize, 0, n - 1)?;
    let tail = narrow(s, d as isize, 1, n - 1)?;
    let changes = ne(&tail, &head)?;
    let mut first_shape = s.dims();
    first_shape[d] = 1;
    let first = backend::full(&first_shape, 1.0, DType::Bool, s.device())?;
    cat(&[first, changes], d as isize)
}

/// `mode(dim)`: the most frequent value along `dim` (the smallest of equally frequent ones)
/// and the index of its last occurrence, as PyTorch. From the stably sorted row: the end of
/// the earliest longest run of equal values.
pub fn mode(a: &Tensor, dim: isize, keepdim: bool) -> Result<(Tensor, Tensor)> {
    let (d, n) = dim_len(a, dim, "mode")?;
    if n == 0 {
        return Err(index_err!("mode: cannot take the mode of an empty dimension"));
    }
    if a.ndim() == 0 {
        return Ok((super::clone(a)?, backend::full(&[], 0.0, DType::I64, a.device())?));
    }
    let (s, order) = sort(&a.detach(), d as isize, false)?;
    let starts = run_starts(&s, d)?;
    let mut pos_shape = vec![1usize; a.ndim()];
    pos_shape[d] = n;
    let pos = reshape(&super::arange(0.0, n as f64, 1.0, DType::I64, a.device())?, &pos_shape)?;
    let start_pos = where_(&starts, &pos, &scalar_like(&pos, 0.0)?)?;
    let (run_start, _) = backend::scan(ScanKind::Max, &start_pos, d, false)?;
    let run_len = super::sub(&pos, &run_start)?;
    let end = backend::arg_reduce(ReduceKind::Max, &run_len, d, true)?;
    let indices = gather(&order, d as isize, &end)?;
    let values = gather(a, d as isize, &indices)?;
    if keepdim {
        Ok((values, indices))
    } else {
        Ok((squeeze_dim(&values, d as isize)?, squeeze_dim(&indices, d as isize)?))
    }
}

/// What `unique` and `unique_consecutive` return besides the values.
pub struct Uniques {
    pub values: Tensor,
    pub inverse: Tensor,
    pub counts: Tensor,
}

/// The distinct values of `a` (flattened), sorted, with each element's position among them
/// and how often each occurs. `consecutive`: only runs of equal neighbours collapse, in
/// their order (`unique_consecutive`).
pub fn unique(a: &Tensor, consecutive: bool) -> Result<Uniques> {
    let a = a.detach();
    let n = a.numel();
    let flat = reshape(&a, &[n])?;
    let long = |v: Vec<i64>, len: usize| Tensor::from_vec(v, &[len]).and_then(|t| super::to_device(&t, a.device()));
    if n == 0 {
        return Ok(Uniques { values: flat, inverse: reshape(&long(vec![], 0)?, a.shape())?, counts: long(vec![], 0)? });
    }
    let (s, order) = if consecutive { (flat.clone(), None) } else {
        let (s, o) = backend::sort(&flat, 0, false)?;
        (s, Some(o))
    };
    let starts = run_starts(&s, 0)?;
    let values = index(&s, &[IndexItem::Tensor(starts.clone())])?;
    let (run_id, _) = backend::scan(ScanKind::Sum, &cast(&starts, DType::I64)?, 0, false)?;
    let run_id = super::sub(&run_id, &scalar_like(&run_id, 1.0)?)?;
    let inverse = match order {
        // The sorted position of each original element is the inverse permutation.
        Some(o) => gather(&run_id, 0, &backend::sort(&o, 0, false)?.1)?,
        None => run_id.clone(),
    };
    let k = values.numel();
    let ones = backend::full(&[n], 1.0, DType::I64, a.device())?;
    let counts = bincount_into(&run_id, &ones, k)?;
    Ok(Uniques { values, inverse: reshape(&inverse, a.shape())?, counts })
}

/// `unique(dim=d)` / `unique_consecutive(dim=d)`: the distinct slices of `a` along `d`
/// (sorted lexicographically unless `consecutive`), with each slice's position among them
/// and how often each occurs, as PyTorch. Slices are compared on the host, element by
/// element in row-major order, as int64 for integer dtypes (exact) and float64 for floats;
/// NaN sorts last and never equals anything, so rows holding NaN stay apart (as the
/// flattened `unique`).
pub fn unique_dim(a: &Tensor, dim: isize, consecutive: bool) -> Result<Uniques> {
    let op = if consecutive { "unique_consecutive" } else { "unique" };
    if a.ndim() == 0 {
        return Err(index_err!("{op}: dim={dim} is out of range for a 0-dim tensor (use dim=None)"));
    }
    let d = normalize_dim(dim, a.ndim(), op)?;
    let a = a.detach();
    let n = a.shape()[d];
    if n > 0 && a.numel() == 0 {
        return Err(crate::error::shape_err!(
            "{op}: dimension {d} of shape {:?} is kept but another is 0-sized, so there are no slices to compare (as PyTorch, which refuses it)",
            a.shape()
        ));
    }
    let rows = super::movedim(&a, &[d as isize], &[0])?;
    let width = if n == 0 { 0 } else { rows.numel() / n };
    let long = |v: Vec<i64>| -> Result<Tensor> {
        let len = v.len();
        Tensor::from_vec(v, &[len]).and_then(|t| super::to_device(&t, a.device()))
    };
    let flat = super::to_device(&reshape(&super::contiguous(&rows)?, &[n, width])?, crate::tensor::Device::Cpu)?;
    let (order, same): (Vec<usize>, Vec<bool>) = if a.dtype().is_float() {
        slice_runs(&backend::to_vec::<f64>(&cast(&flat, DType::F64)?)?, n, width, consecutive, |x, y| x.partial_cmp(y).unwrap_or(std::cmp::Ordering::Equal), |x, y| x == y)
    } else {
        slice_runs(&backend::to_vec::<i64>(&cast(&flat, DType::I64)?)?, n, width, consecutive, |x, y| x.cmp(y), |x, y| x == y)
    };
    // order[i]: the slice at sorted position i; same[i]: it equals the one before it.
    let mut inverse = vec![0i64; n];
    let mut firsts = Vec::new();
    let mut counts: Vec<i64> = Vec::new();
    for (i, &row) in order.iter().enumerate() {
        if i == 0 || !same[i] {
            firsts.push(row as i64);
            counts.push(0);
        }
        *counts.last_mut().expect("a run was opened") += 1;
        inverse[row] = firsts.len() as i64 - 1;
    }
    let picked = super::index_select(&rows, 0, &long(firsts)?)?;
    let values = super::movedim(&picked, &[0], &[d as isize])?;
    Ok(Uniques { values: super::contiguous(&values)?, inverse: long(inverse)?, counts: long(counts)? })
}

/// The order of the `n` slices of `width` values in `v` (stable lexicographic sort, or as
/// they are when `consecutive`) and, per position in that order, whether the slice equals
/// the one before it (every element `eq`; NaN never does).
fn slice_runs<T>(
    v: &[T],
    n: usize,
    width: usize,
    consecutive: bool,
    cmp: impl Fn(&T, &T) -> std::cmp::Ordering,
    eq: impl Fn(&T, &T) -> bool,
) -> (Vec<usize>, Vec<bool>) {
    let row = |i: usize| &v[i * width..(i + 1) * width];
    let mut order: Vec<usize> = (0..n).collect();
    if !consecutive {
        // NaN is the largest value; -0.0 equals 0.0 (the first of them in order is kept).
        order.sort_by(|&i, &j| {
            row(i)
                .iter()
                .zip(row(j))
                .map(|(x, y)| match (eq(x, x), eq(y, y)) {
                    (true, true) => cmp(x, y),
                    (a, b) => b.cmp(&a),
                })
                .find(|o| o.is_ne())
                .unwrap_or(std::cmp::Ordering::Equal)
        });
    }
    let same = (0..n).map(|i| i > 0 && row(order[i]).iter().zip(row(order[i - 1])).all(|(x, y)| eq(x, y))).collect();
    (order, same)
}

/// `values` summed into `size` bins at `bins` (int64 positions known to lie in range).
pub fn bincount_into(bins: &Tensor, values: &Tensor, size: usize) -> Result<Tensor> {
    if bins.numel() == 0 {
        return backend::full(&[size], 0.0, values.dtype(), values.device());
    }
    if values.dtype() == DType::I64 && bins.device() != crate::tensor::Device::Cpu {
        // Counting runs in float32 on the GPU (exact below 2^24 per bin).
        let f = backend::scatter_add(&[size], bins, &cast(values, DType::F32)?)?;
        return cast(&f, DType::I64);
    }
    backend::scatter_add(&[size], bins, values)
}

impl SortOp {
    pub fn name(&self) -> &'static str {
        match self {
            SortOp::Sort { .. } => "sort",
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            SortOp::Sort { dim } => vec![("dim", OpParam::Int(*dim as i64))],
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        match *self {
            // values[j] = a[indices[j]]: a's gradient at i is g at the position i went to,
            // the inverse permutation (the indices sorted).
            SortOp::Sort { dim } => {
                let indices = ctx.saved(0)?;
                grads(ctx, [&|| {
                    let (_, inverse) = backend::sort(indices, dim, false)?;
                    gather(g, dim as isize, &inverse)
                }])
            }
        }
    }
}
