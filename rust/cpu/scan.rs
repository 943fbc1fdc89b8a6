//! Scans (running sums, products, max/min with indices, logaddexp) along one dim of a
//! contiguous tensor viewed as `[outer, n, inner]`. Each work unit is one outer index and a
//! block of inner positions, walked along `n`; neighbouring inner positions are neighbouring
//! words, so a block scans as a vector. float32 accumulates in float64, as PyTorch's CPU
//! kernels do.

use super::{run_parts, SendPtr};
use crate::alloc::buffer;
use crate::error::{dtype_err, Result};
use crate::kinds::ScanKind;
use crate::tensor::{DType, Element, IntoStorageVec, Tensor};
use crate::with_numeric_dtype;

/// Inner positions one work unit scans together.
const BLOCK: usize = 256;

/// Element math of a scan, with the accumulator type (float64 for float32).
trait ScanElem: Element + IntoStorageVec {
    type Acc: Copy + Send + Sync;
    fn zero() -> Self::Acc;
    fn one() -> Self::Acc;
    fn lowest() -> Self::Acc;
    fn acc(self) -> Self::Acc;
    fn add(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn mul(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn logaddexp(a: Self::Acc, b: Self::Acc) -> Self::Acc;
    fn finish(a: Self::Acc) -> Self;
    fn nan(self) -> bool;
}

macro_rules! float_elem {
    ($t:ty) => {
        impl ScanElem for $t {
            type Acc = f64;
            fn zero() -> f64 {
                0.0
            }
            fn one() -> f64 {
                1.0
            }
            fn lowest() -> f64 {
                f64::NEG_INFINITY
            }
            #[inline(always)]
            fn acc(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn add(a: f64, b: f64) -> f64 {
                a + b
            }
            #[inline(always)]
            fn mul(a: f64, b: f64) -> f64 {
                a * b
            }
            #[inline(always)]
            fn logaddexp(a: f64, b: f64) -> f64 {
                let (hi, lo) = if a > b { (a, b) } else { (b, a) };
                if hi == f64::NEG_INFINITY || hi == f64::INFINITY {
                    // -inf with -inf stays -inf, and inf absorbs everything (no inf - inf).
                    return if a.is_nan() || b.is_nan() { f64::NAN } else { hi };
                }
                hi + (lo - hi).exp().ln_1p()
            }
            #[inline(always)]
            fn finish(a: f64) -> $t {
                a as $t
            }
            #[inline(always)]
            fn nan(self) -> bool {
                self.is_nan()
            }
        }
    };
}
float_elem!(f32);
float_elem!(f64);

impl ScanElem for i64 {
    type Acc = i64;
    fn zero() -> i64 {
        0
    }
    fn one() -> i64 {
        1
    }
    fn lowest() -> i64 {
        i64::MIN
    }
    #[inline(always)]
    fn acc(self) -> i64 {
        self
    }
    #[inline(always)]
    fn add(a: i64, b: i64) -> i64 {
        a.wrapping_add(b)
    }
    #[inline(always)]
    fn mul(a: i64, b: i64) -> i64 {
        a.wrapping_mul(b)
    }
    fn logaddexp(_: i64, _: i64) -> i64 {
        unreachable!("logcumsumexp runs on float tensors only")
    }
    fn finish(a: i64) -> i64 {
        a
    }
    fn nan(self) -> bool {
        false
    }
}

/// The scan of `kind` along `dim` of `a`, in `a`'s dtype and shape (contiguous), from the
/// last element backwards when `reverse`; with int64 indices for max/min.
pub fn scan(kind: ScanKind, a: &Tensor, dim: usize, reverse: bool) -> Result<(Tensor, Option<Tensor>)> {
    if kind == ScanKind::LogSumExp && !a.dtype().is_float() {
        return Err(dtype_err!("logcumsumexp: expected a float tensor, got {}", a.dtype().name()));
    }
    with_numeric_dtype!(a.dtype(), T => scan_typed::<T>(kind, a, dim, reverse),
        bool => Err(dtype_err!("{}: convert bool tensors with .long() first", kind.name())))
}

/// `out[j] = f(out[j - 1], row[j])` from `init` (from the end when `reverse`).
#[inline(always)]
fn scan_row<T: ScanElem>(row: &[T], out: &mut [T], init: T::Acc, reverse: bool, f: impl Fn(T::Acc, T::Acc) -> T::Acc) {
    let mut acc = init;
    if reverse {
        for (y, &x) in out.iter_mut().zip(row).rev() {
            acc = f(acc, x.acc());
            *y = T::finish(acc);
        }
    } else {
        for (y, &x) in out.iter_mut().zip(row) {
            acc = f(acc, x.acc());
            *y = T::finish(acc);
        }
    }
}

fn scan_typed<T: ScanElem>(kind: ScanKind, a: &Tensor, dim: usize, reverse: bool) -> Result<(Tensor, Option<Tensor>)> {
    let a = if a.is_contiguous() { a.clone() } else { super::copy::cast(a, a.dtype())? };
    let shape = a.shape().to_vec();
    let total = a.numel();
    let xs = &a.cpu_storage(kind.name())?.as_slice::<T>()[a.layout().offset()..][..total];
    let (n, inner) = if shape.is_empty() { (1, 1) } else { (shape[dim], shape[dim + 1..].iter().product()) };
    let outer = if n * inner == 0 { 0 } else { total / (n * inner) };
    let mut ys: Vec<T> = buffer::zeroed(total, &shape, kind.name())?;
    let mut idx: Vec<i64> = if kind.has_indices() { buffer::zeroed(total, &shape, kind.name())? } else { Vec::new() };
    let blocks = inner.div_ceil(BLOCK);
    let units = outer * blocks;
    let (yp, ip) = (SendPtr(ys.as_mut_ptr()), SendPtr(idx.as_mut_ptr()));
    let unit = |u: usize| {
        let (o, b) = (u / blocks, u % blocks);
        let (lo, hi) = (b * BLOCK, ((b + 1) * BLOCK).min(inner));
        let w = hi - lo;
        let mut acc = [T::zero(); BLOCK];
        let mut at = [0i64; BLOCK];
        let init = match kind {
            ScanKind::Sum => T::zero(),
            ScanKind::Prod => T::one(),
            ScanKind::LogSumExp => T::lowest(),
            ScanKind::Max | ScanKind::Min => T::zero(),
        };
        if inner == 1 && !kind.has_indices() {
            // One contiguous row: a plain running loop (the common `cumsum(-1)` case).
            let row = &xs[o * n..(o + 1) * n];
            // SAFETY: unit u alone writes row o.
            let out = unsafe { std::slice::from_raw_parts_mut(yp.get().add(o * n), n) };
            match kind {
                ScanKind::Sum => scan_row(row, out, init, reverse, T::add),
                ScanKind::Prod => scan_row(row, out, init, reverse, T::mul),
                _ => scan_row(row, out, init, reverse, T::logaddexp),
            }
            return;
        }
        acc[..w].fill(init);
        for step in 0..n {
            let j = if reverse { n - 1 - step } else { step };
            let base = (o * n + j) * inner + lo;
            let row = &xs[base..base + w];
            // SAFETY: unit u alone writes positions [base, base + w) of every j for its (o, block).
            let out = unsafe { std::slice::from_raw_parts_mut(yp.get().add(base), w) };
            match kind {
                ScanKind::Sum => {
                    for k in 0..w {
                        acc[k] = T::add(acc[k], row[k].acc());
                        out[k] = T::finish(acc[k]);
                    }
                }
                ScanKind::Prod => {
                    for k in 0..w {
                        acc[k] = T::mul(acc[k], row[k].acc());
                        out[k] = T::finish(acc[k]);
                    }
                }
                ScanKind::LogSumExp => {
                    for k in 0..w {
                        acc[k] = T::logaddexp(acc[k], row[k].acc());
                        out[k] = T::finish(acc[k]);
                    }
                }
                ScanKind::Max | ScanKind::Min => {
                    // SAFETY: as `out`, for the index buffer.
                    let out_i = unsafe { std::slice::from_raw_parts_mut(ip.get().add(base), w) };
                    let want_max = kind == ScanKind::Max;
                    for k in 0..w {
                        let x = row[k];
                        // The running value is out's previous entry; NaN and ties take the
                        // latest index (PyTorch's `>=` / `<=`); a NaN sticks, since
                        // nothing compares `>=` to it.
                        let prev = T::finish(acc[k]);
                        let take = step == 0 || x.nan() || if want_max { x >= prev } else { x <= prev };
                        if take {
                            acc[k] = x.acc();
                            at[k] = j as i64;
                        }
                        out[k] = T::finish(acc[k]);
                        out_i[k] = at[k];
                    }
                }
            }
        }
    };
    if super::parallel(total) && units > 1 {
        run_parts(units, unit);
    } else {
        (0..units).for_each(unit);
    }
    let values = Tensor::from_vec(ys, &shape)?;
    let indices = if kind.has_indices() { Some(Tensor::from_vec(idx, &shape)?) } else { None };
    debug_assert!(T::DTYPE != DType::Bool);
    Ok((values, indices))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f32>, s: &[usize]) -> Tensor {
        Tensor::from_vec(v, s).unwrap()
    }

    #[test]
    fn cumsum_along_each_dim_and_reversed() {
        let a = t((1..=6).map(|x| x as f32).collect(), &[2, 3]);
        let (s, _) = scan(ScanKind::Sum, &a, 1, false).unwrap();
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![1., 3., 6., 4., 9., 15.]);
        let (s, _) = scan(ScanKind::Sum, &a, 0, false).unwrap();
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![1., 2., 3., 5., 7., 9.]);
        let (s, _) = scan(ScanKind::Sum, &a, 1, true).unwrap();
        assert_eq!(s.to_vec::<f32>().unwrap(), vec![6., 5., 3., 15., 11., 6.]);
    }

    #[test]
    fn cummax_takes_latest_ties_and_sticks_at_nan() {
        let a = t(vec![1., 1., f32::NAN, 0., f32::NAN, 5.], &[6]);
        let (v, i) = scan(ScanKind::Max, &a, 0, false).unwrap();
        let v = v.to_vec::<f32>().unwrap();
        assert_eq!(&v[..2], &[1., 1.]);
        assert!(v[2..].iter().all(|x| x.is_nan()));
        assert_eq!(i.unwrap().to_vec::<i64>().unwrap(), vec![0, 1, 2, 2, 4, 4]);
    }

    #[test]
    fn logcumsumexp_keeps_tiny_and_huge_terms() {
        let a = t(vec![-1000., 0., 1000.], &[3]);
        let (v, _) = scan(ScanKind::LogSumExp, &a, 0, false).unwrap();
        let v = v.to_vec::<f32>().unwrap();
        assert_eq!(v[0], -1000.);
        assert!((v[1] - 0.).abs() < 1e-6 && (v[2] - 1000.).abs() < 1e-3);
    }
}
