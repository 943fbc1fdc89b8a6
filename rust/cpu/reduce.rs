//! Reductions over any set of axes. Two loop orders: when the reduced elements are the
//! innermost in memory, each output reduces a (contiguous) run; when the kept elements are,
//! rows of the input are accumulated into the output vector (bias gradients, batch sums).

use super::strided::Walk;
use super::SendPtr;
use crate::backend::ReduceKind;
use crate::error::{dtype_err, Result};
use crate::tensor::{contiguous_strides, numel, Dims, Element, IntoStorageVec, Tensor};
use crate::with_numeric_dtype;
use rayon::prelude::*;
use smallvec::SmallVec;

/// The reduction of one kind for one element type, accumulating in `Acc` (float32 sums
/// accumulate in float64, so big batch sums keep float32 accuracy).
trait Reducer<T: Copy>: Sync + Send {
    type Acc: Copy + Send + Sync;
    fn identity(&self) -> Self::Acc;
    fn combine(&self, acc: Self::Acc, x: T) -> Self::Acc;
    fn finish(&self, acc: Self::Acc) -> T;
    /// Reduces a contiguous slice (overridden for sums to use several accumulators).
    #[inline(always)]
    fn slice(&self, acc: Self::Acc, xs: &[T]) -> Self::Acc {
        xs.iter().fold(acc, |a, &x| self.combine(a, x))
    }
}

struct Sum;
struct Prod;
struct Max;
struct Min;

/// Eight independent accumulators: vectorisable, and closer to pairwise accuracy.
macro_rules! lane_sum {
    ($acc:expr, $xs:expr, $zero:expr, $conv:expr) => {{
        let mut lanes = [$zero; 8];
        let chunks = $xs.chunks_exact(8);
        let rest = chunks.remainder();
        for c in chunks {
            for k in 0..8 {
                lanes[k] += $conv(c[k]);
            }
        }
        let mut s = $acc;
        for &r in rest {
            s += $conv(r);
        }
        s + ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    }};
}

macro_rules! impl_sum {
    ($t:ty, $acc:ty) => {
        impl Reducer<$t> for Sum {
            type Acc = $acc;
            #[inline(always)]
            fn identity(&self) -> $acc {
                0 as $acc
            }
            #[inline(always)]
            fn combine(&self, a: $acc, x: $t) -> $acc {
                a + x as $acc
            }
            #[inline(always)]
            fn finish(&self, a: $acc) -> $t {
                a as $t
            }
            #[inline(always)]
            fn slice(&self, acc: $acc, xs: &[$t]) -> $acc {
                lane_sum!(acc, xs, 0 as $acc, |v: $t| v as $acc)
            }
        }
    };
}
impl_sum!(f32, f64);
impl_sum!(f64, f64);

impl Reducer<i64> for Sum {
    type Acc = i64;
    fn identity(&self) -> i64 {
        0
    }
    #[inline(always)]
    fn combine(&self, a: i64, x: i64) -> i64 {
        a.wrapping_add(x)
    }
    fn finish(&self, a: i64) -> i64 {
        a
    }
}

macro_rules! impl_plain {
    ($t:ty, $one:expr, $lowest:expr, $highest:expr, $mul:expr) => {
        impl Reducer<$t> for Prod {
            type Acc = $t;
            fn identity(&self) -> $t {
                $one
            }
            #[inline(always)]
            fn combine(&self, a: $t, x: $t) -> $t {
                $mul(a, x)
            }
            fn finish(&self, a: $t) -> $t {
                a
            }
        }
        impl Reducer<$t> for Max {
            type Acc = $t;
            fn identity(&self) -> $t {
                $lowest
            }
            #[inline(always)]
            #[allow(clippy::eq_op)]
            fn combine(&self, a: $t, x: $t) -> $t {
                // NaN propagates, as in NumPy and PyTorch.
                if x > a || x != x {
                    x
                } else {
                    a
                }
            }
            fn finish(&self, a: $t) -> $t {
                a
            }
        }
        impl Reducer<$t> for Min {
            type Acc = $t;
            fn identity(&self) -> $t {
                $highest
            }
            #[inline(always)]
            #[allow(clippy::eq_op)]
            fn combine(&self, a: $t, x: $t) -> $t {
                if x < a || x != x {
                    x
                } else {
                    a
                }
            }
            fn finish(&self, a: $t) -> $t {
                a
            }
        }
    };
}
impl_plain!(f32, 1.0, f32::NEG_INFINITY, f32::INFINITY, |a: f32, x: f32| a * x);
impl_plain!(f64, 1.0, f64::NEG_INFINITY, f64::INFINITY, |a: f64, x: f64| a * x);
impl_plain!(i64, 1, i64::MIN, i64::MAX, i64::wrapping_mul);

/// Shape of the result and the kept/reduced split of the input's dims.
struct Plan {
    out_shape: Dims,
    kept_shape: Dims,
    kept_strides: Dims,
    red_shape: Dims,
    red_strides: Dims,
}

fn plan(a: &Tensor, axes: &[usize], keepdim: bool) -> Plan {
    let l = a.layout();
    let mut p = Plan {
        out_shape: SmallVec::new(),
        kept_shape: SmallVec::new(),
        kept_strides: SmallVec::new(),
        red_shape: SmallVec::new(),
        red_strides: SmallVec::new(),
    };
    for d in 0..l.ndim() {
        if axes.contains(&d) {
            p.red_shape.push(l.shape()[d]);
            p.red_strides.push(l.strides()[d]);
            if keepdim {
                p.out_shape.push(1);
            }
        } else {
            p.kept_shape.push(l.shape()[d]);
            p.kept_strides.push(l.strides()[d]);
            p.out_shape.push(l.shape()[d]);
        }
    }
    p
}

pub fn reduce(kind: ReduceKind, a: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let p = plan(a, axes, keepdim);
    if numel(&p.red_shape) == 0 && matches!(kind, ReduceKind::Max | ReduceKind::Min) && numel(&p.kept_shape) > 0 {
        return Err(crate::error::Error::Value(format!(
            "{}: cannot reduce over an empty dimension (max and min have no identity)",
            kind.name()
        )));
    }
    with_numeric_dtype!(a.dtype(), T => match kind {
        ReduceKind::Sum => run::<T, _>(a, &p, Sum),
        ReduceKind::Prod => run::<T, _>(a, &p, Prod),
        ReduceKind::Max => run::<T, _>(a, &p, Max),
        ReduceKind::Min => run::<T, _>(a, &p, Min),
    }, bool => Err(dtype_err!("{}: convert bool tensors with .long() before reducing", kind.name())))
}

fn run<T: Element + IntoStorageVec, R: Reducer<T>>(a: &Tensor, p: &Plan, r: R) -> Result<Tensor> {
    let xs = a.cpu_storage("reduce")?.as_slice::<T>();
    let n_out = numel(&p.kept_shape);
    let mut acc = crate::alloc::buffer::filled(r.identity(), n_out, &p.kept_shape, "reduce")?;
    let kept_out_strides = contiguous_strides(&p.kept_shape);
    let kept = Walk::new(&p.kept_shape, [&kept_out_strides, &p.kept_strides], [0, a.layout().offset()]);
    let red = Walk::new(&p.red_shape, [&p.red_strides], [0]);
    let red_count = numel(&p.red_shape);
    let min_stride = |shape: &[usize], strides: &[usize]| {
        shape.iter().zip(strides).filter(|(&d, _)| d > 1).map(|(_, &s)| s).min().unwrap_or(usize::MAX)
    };
    let rows_layout = min_stride(&p.kept_shape, &p.kept_strides) < min_stride(&p.red_shape, &p.red_strides);
    let optr = SendPtr(acc.as_mut_ptr());
    if rows_layout && n_out > 1 {
        // Accumulate whole rows: for each reduced position, out[kept] op= x[kept + r].
        let mut red_offsets = Vec::with_capacity(red_count);
        red.for_each_run(|[o], len, [s]| red_offsets.extend((0..len).map(|k| o + k * s)));
        let pieces = if super::parallel(n_out * red_count) { rayon::current_num_threads() } else { 1 };
        let work = split_walk(&kept, pieces);
        work.par_iter().for_each(|w| {
            for &ro in &red_offsets {
                w.for_each_run(|[o, i], len, [so, si]| {
                    if so == 1 && si == 1 {
                        // Contiguous rows (a bias gradient summed over the batch): slices
                        // that cannot alias, so the loop vectorises.
                        // SAFETY: each piece owns a disjoint set of output positions.
                        let d = unsafe { std::slice::from_raw_parts_mut(optr.get().add(o), len) };
                        super::isa::vectorized(|| d.iter_mut().zip(&xs[ro + i..ro + i + len]).for_each(|(d, &x)| *d = r.combine(*d, x)));
                        return;
                    }
                    for k in 0..len {
                        // SAFETY: each piece owns a disjoint set of output positions.
                        unsafe {
                            let d = optr.get().add(o + k * so);
                            *d = r.combine(*d, xs[ro + i + k * si]);
                        }
                    }
                });
            }
        });
    } else {
        // Reduce a run of the input per output element.
        let reduce_one = |base: usize| -> R::Acc {
            let mut acc = r.identity();
            red.for_each_run(|[o], len, [s]| {
                let start = base + o;
                acc = if s == 1 || len == 1 {
                    super::isa::vectorized(|| r.slice(acc, &xs[start..start + len]))
                } else {
                    (0..len).fold(acc, |acc, k| r.combine(acc, xs[start + k * s]))
                };
            });
            acc
        };
        let pieces = if super::parallel(n_out * red_count) && n_out > 1 { rayon::current_num_threads() * 4 } else { 1 };
        split_walk(&kept, pieces).par_iter().for_each(|w| {
            w.for_each_run(|[o, i], len, [so, si]| {
                for k in 0..len {
                    let v = reduce_one(i + k * si);
                    // SAFETY: disjoint output positions per piece.
                    unsafe { *optr.get().add(o + k * so) = v };
                }
            });
        });
    }
    let out: Vec<T> = acc.into_iter().map(|a| r.finish(a)).collect();
    Tensor::from_vec(out, &p.out_shape)
}

/// Pieces of a walk along its outer dimension (or the walk itself when `pieces == 1`).
fn split_walk<const N: usize>(w: &Walk<N>, pieces: usize) -> Vec<Walk<N>> {
    if pieces <= 1 || w.shape.is_empty() {
        return vec![w.clone()];
    }
    w.split(pieces)
}

/// Index of the max/min along `axis` (first occurrence; NaN wins, as in PyTorch).
pub fn arg_reduce(kind: ReduceKind, a: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    if a.ndim() > 0 && a.shape()[axis] == 0 {
        return Err(crate::error::Error::Value(format!(
            "arg{}: cannot take the arg{} of an empty dimension",
            kind.name(),
            kind.name()
        )));
    }
    with_numeric_dtype!(a.dtype(), T => arg_typed::<T>(kind, a, axis, keepdim),
        bool => Err(dtype_err!("arg{}: convert bool tensors with .long() first", kind.name())))
}

#[allow(clippy::eq_op)]
fn arg_typed<T: Element>(kind: ReduceKind, a: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    let xs = a.cpu_storage("argmax")?.as_slice::<T>();
    let axes: &[usize] = if a.ndim() == 0 { &[] } else { std::slice::from_ref(&axis) };
    let p = plan(a, axes, keepdim);
    let (len, stride) = if a.ndim() == 0 { (1, 0) } else { (a.shape()[axis], a.layout().strides()[axis]) };
    let want_max = kind == ReduceKind::Max;
    let n_out = numel(&p.kept_shape);
    let mut out = crate::alloc::buffer::zeroed::<i64>(n_out, &p.kept_shape, "argmax")?;
    let kept = Walk::new(&p.kept_shape, [&contiguous_strides(&p.kept_shape), &p.kept_strides], [0, a.layout().offset()]);
    kept.for_each_run(|[o, i], run, [so, si]| {
        for k in 0..run {
            let base = i + k * si;
            let mut best = xs[base];
            let mut best_i = 0usize;
            if best == best {
                for j in 1..len {
                    let x = xs[base + j * stride];
                    if x != x {
                        best_i = j;
                        break;
                    }
                    if (want_max && x > best) || (!want_max && x < best) {
                        best = x;
                        best_i = j;
                    }
                }
            }
            out[o + k * so] = best_i as i64;
        }
    });
    Tensor::from_vec(out, &p.out_shape)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f32>, s: &[usize]) -> Tensor {
        Tensor::from_vec(v, s).unwrap()
    }

    #[test]
    fn sums_over_rows_and_columns() {
        let a = t((0..6).map(|x| x as f32).collect(), &[2, 3]);
        assert_eq!(reduce(ReduceKind::Sum, &a, &[0], false).unwrap().to_vec::<f32>().unwrap(), vec![3., 5., 7.]);
        assert_eq!(reduce(ReduceKind::Sum, &a, &[1], true).unwrap().to_vec::<f32>().unwrap(), vec![3., 12.]);
        assert_eq!(reduce(ReduceKind::Sum, &a, &[0, 1], false).unwrap().to_vec::<f32>().unwrap(), vec![15.]);
        assert_eq!(reduce(ReduceKind::Max, &a, &[0], false).unwrap().to_vec::<f32>().unwrap(), vec![3., 4., 5.]);
    }

    #[test]
    fn large_column_sums_are_exact_for_integers() {
        let (r, c) = (3000, 17);
        let a = t((0..r * c).map(|i| (i % c) as f32).collect(), &[r, c]);
        let s = reduce(ReduceKind::Sum, &a, &[0], false).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(s, (0..c).map(|j| (j * r) as f32).collect::<Vec<_>>());
        let s1 = reduce(ReduceKind::Sum, &a, &[1], false).unwrap().to_vec::<f32>().unwrap();
        assert!(s1.iter().all(|&x| x == (c * (c - 1) / 2) as f32));
    }

    #[test]
    fn argmax_takes_first_of_ties_and_nan() {
        let a = t(vec![1., 3., 3., 0., f32::NAN, 2.], &[2, 3]);
        assert_eq!(arg_reduce(ReduceKind::Max, &a, 1, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 1]);
        assert_eq!(arg_reduce(ReduceKind::Min, &a, 0, false).unwrap().to_vec::<i64>().unwrap(), vec![1, 1, 1]);
    }

    #[test]
    fn max_propagates_nan_and_rejects_empty() {
        let a = t(vec![1., f32::NAN, 2.], &[3]);
        assert!(reduce(ReduceKind::Max, &a, &[0], false).unwrap().to_vec::<f32>().unwrap()[0].is_nan());
        let e = t(vec![], &[0, 2]);
        assert!(reduce(ReduceKind::Max, &e, &[0], false).is_err());
        assert_eq!(reduce(ReduceKind::Sum, &e, &[0], false).unwrap().to_vec::<f32>().unwrap(), vec![0., 0.]);
    }
}
