//! Elementwise kernels: unary maps, broadcasting binary maps, `where`, and in-place updates.

use super::strided::Walk;
use super::SendPtr;
use crate::error::{dtype_err, Result};
use crate::kinds::{unsupported_dtype, BinaryKind, BinaryMap, UnaryKind, UnaryMap};
use crate::tensor::{contiguous_strides, numel, DType, Element, IntoStorageVec, Layout, Tensor};
use crate::with_dtype;
use rayon::prelude::*;

// A rayon iterator over 16k-element chunks, not `for_chunks`' caller-inclusive parts: for
// these one-pass kernels it measured faster at 2 threads (a 1.6 MB multiply 24 vs 55 us).
const CHUNK: usize = 1 << 14;

/// `out[i] = f(a[i])`, as a fresh contiguous tensor.
pub fn map1<T: Element, U: IntoStorageVec>(a: &Tensor, f: impl Fn(T) -> U + Sync + Send) -> Result<Tensor> {
    let xs = a.cpu_storage("map")?.as_slice::<T>();
    let l = a.layout();
    let n = l.numel();
    if n == 1 {
        return Ok(one_element(f(xs[l.offset()]), l.shape()));
    }
    let fill = |out: &mut [std::mem::MaybeUninit<U>]| {
        if l.is_contiguous() {
            let xs = &xs[l.offset()..l.offset() + n];
            if super::parallel(n) {
                out.par_chunks_mut(CHUNK).zip(xs.par_chunks(CHUNK)).for_each(|(o, x)| write_each(o, x, &f));
            } else {
                write_each(out, xs, &f);
            }
        } else {
            let w = Walk::new(l.shape(), [&contiguous_strides(l.shape()), l.strides()], [0, l.offset()]);
            let p = SendPtr(out.as_mut_ptr() as *mut U);
            w.par_for_each_run(|[o, i], len, [so, si]| {
                for k in 0..len {
                    // SAFETY: runs of a fresh contiguous output are disjoint and in bounds.
                    unsafe { p.get().add(o + k * so).write(f(xs[i + k * si])) };
                }
            });
        }
    };
    // SAFETY: `fill` writes every element of the fresh output once, on either branch.
    let out = unsafe { crate::alloc::buffer::written::<U>(n, l.shape(), "elementwise", fill)? };
    Tensor::from_vec(out, l.shape())
}

/// `out[i] = f(a[i], b[i])` with both operands broadcast to `shape`.
pub fn map2<T: Element, U: IntoStorageVec>(
    a: &Tensor,
    b: &Tensor,
    shape: &[usize],
    f: impl Fn(T, T) -> U + Sync + Send,
) -> Result<Tensor> {
    let xa = a.cpu_storage("map")?.as_slice::<T>();
    let xb = b.cpu_storage("map")?.as_slice::<T>();
    if numel(shape) == 1 {
        // The scalar path: no layouts to walk, no heap allocation for the result.
        return Ok(one_element(f(xa[a.layout().offset()], xb[b.layout().offset()]), shape));
    }
    let la = a.layout().expand(shape, "broadcast")?;
    let lb = b.layout().expand(shape, "broadcast")?;
    let n = numel(shape);
    let contiguous = la.is_contiguous() && lb.is_contiguous() && !has_zero_stride(&la) && !has_zero_stride(&lb);
    let fill = |out: &mut [std::mem::MaybeUninit<U>]| {
        if contiguous {
            let xa = &xa[la.offset()..la.offset() + n];
            let xb = &xb[lb.offset()..lb.offset() + n];
            if super::parallel(n) {
                out.par_chunks_mut(CHUNK).zip(xa.par_chunks(CHUNK).zip(xb.par_chunks(CHUNK))).for_each(|(o, (a, b))| zip2(o, a, b, &f));
            } else {
                zip2(out, xa, xb, &f);
            }
            return;
        }
        let w = Walk::new(shape, [&contiguous_strides(shape), la.strides(), lb.strides()], [0, la.offset(), lb.offset()]);
        let p = SendPtr(out.as_mut_ptr());
        w.par_for_each_run(|[o, ia, ib], len, [_, sa, sb]| {
            // SAFETY: runs of a fresh contiguous output are disjoint; the innermost output stride is 1.
            let o = unsafe { std::slice::from_raw_parts_mut(p.get().add(o), len) };
            match (sa, sb) {
                (1, 1) => zip2(o, &xa[ia..ia + len], &xb[ib..ib + len], &f),
                (0, 1) => {
                    let x = xa[ia];
                    write_each(o, &xb[ib..ib + len], &|y| f(x, y));
                }
                (1, 0) => {
                    let y = xb[ib];
                    write_each(o, &xa[ia..ia + len], &|x| f(x, y));
                }
                _ => {
                    for (k, o) in o.iter_mut().enumerate() {
                        o.write(f(xa[ia + k * sa], xb[ib + k * sb]));
                    }
                }
            }
        });
    };
    // SAFETY: `fill` writes every element of the fresh output once: the contiguous branch
    // all `n`, the walk's runs the whole contiguous output layout.
    let out = unsafe { crate::alloc::buffer::written::<U>(n, shape, "elementwise", fill)? };
    Tensor::from_vec(out, shape)
}

/// A one-element tensor of `shape` (all dims 1) with its value stored inline.
#[inline]
fn one_element<U: Element>(v: U, shape: &[usize]) -> Tensor {
    Tensor::from_storage(crate::tensor::Storage::Cpu(crate::tensor::CpuStorage::inline(v)), shape)
}

// The contiguous loops below run through `isa::vectorized`: compiled for the baseline, an
// f32 add moved 4 lanes at a time and ran at a third of NumPy's speed on one core.
#[inline(always)]
fn zip2<T: Copy, U>(o: &mut [std::mem::MaybeUninit<U>], a: &[T], b: &[T], f: &impl Fn(T, T) -> U) {
    super::isa::vectorized(|| {
        o.iter_mut().zip(a.iter().zip(b)).for_each(|(o, (&x, &y))| {
            o.write(f(x, y));
        })
    });
}

#[inline(always)]
fn write_each<T: Copy, U>(o: &mut [std::mem::MaybeUninit<U>], a: &[T], f: &impl Fn(T) -> U) {
    super::isa::vectorized(|| {
        o.iter_mut().zip(a).for_each(|(o, &x)| {
            o.write(f(x));
        })
    });
}

#[inline(always)]
fn update_zip<T: Copy>(d: &mut [T], s: &[T], f: &impl Fn(T, T) -> T) {
    super::isa::vectorized(|| d.iter_mut().zip(s).for_each(|(d, &s)| *d = f(*d, s)));
}

fn has_zero_stride(l: &Layout) -> bool {
    l.shape().iter().zip(l.strides()).any(|(&d, &s)| d > 1 && s == 0)
}

/// Runs a table kind's function over one tensor (the visitor `UnaryKind::with_*_fn` calls).
struct Map1<'a>(&'a Tensor);

impl<T: Element + IntoStorageVec> UnaryMap<T> for Map1<'_> {
    type Out = Option<Result<Tensor>>;
    fn run<F: Fn(T) -> T + Send + Sync + Copy>(self, f: F) -> Self::Out {
        Some(map1(self.0, f))
    }
    fn run_pred<F: Fn(T) -> bool + Send + Sync + Copy>(self, f: F) -> Self::Out {
        Some(map1(self.0, f))
    }
    fn unsupported(self) -> Self::Out {
        None
    }
}

pub fn unary(kind: UnaryKind, a: &Tensor) -> Result<Tensor> {
    let m = Map1(a);
    let done = match a.dtype() {
        DType::F32 => kind.with_float_fn::<f32, _>(m),
        DType::F64 => kind.with_float_fn::<f64, _>(m),
        DType::I64 => kind.with_int_fn(m),
        DType::Bool => kind.with_bool_fn(m),
        _ => None, // storage dtypes: the backend widens them before calling
    };
    done.unwrap_or_else(|| Err(unsupported_dtype(kind.name(), kind.class(), a.dtype())))
}

/// `dst = f(dst)` in place for a contiguous float `dst`; `None` where the kind or the layout
/// has no in-place kernel here (the caller computes a fresh result and copies it in).
pub fn unary_inplace(kind: UnaryKind, dst: &Tensor) -> Option<Result<()>> {
    if !dst.is_contiguous() {
        return None;
    }
    match dst.dtype() {
        DType::F32 => kind.with_float_fn::<f32, _>(InplaceMap1(dst)),
        DType::F64 => kind.with_float_fn::<f64, _>(InplaceMap1(dst)),
        _ => None,
    }
}

struct InplaceMap1<'a>(&'a Tensor);

impl<T: Element> UnaryMap<T> for InplaceMap1<'_> {
    type Out = Option<Result<()>>;
    fn run<F: Fn(T) -> T + Send + Sync + Copy>(self, f: F) -> Self::Out {
        let dst = self.0;
        let n = dst.numel();
        let storage = match dst.cpu_storage("in-place op") {
            Ok(s) => s,
            Err(e) => return Some(Err(e)),
        };
        // SAFETY: in-place ops hold the only access to dst's elements (storage contract).
        let d = unsafe { &mut storage.as_mut_slice::<T>()[dst.layout().offset()..dst.layout().offset() + n] };
        update_each(d, |x| f(x));
        Some(Ok(()))
    }
    fn run_pred<F: Fn(T) -> bool + Send + Sync + Copy>(self, _f: F) -> Self::Out {
        None // a predicate's result is bool, not the destination's dtype
    }
    fn unsupported(self) -> Self::Out {
        None
    }
}

/// `x = f(x)` for every element of a contiguous run, in parallel chunks when it is large.
#[inline(always)]
fn update_each<T: Element>(d: &mut [T], f: impl Fn(T) -> T + Sync + Send) {
    let each = |d: &mut [T]| super::isa::vectorized(|| d.iter_mut().for_each(|x| *x = f(*x)));
    if super::parallel(d.len()) {
        d.par_chunks_mut(CHUNK).for_each(each);
    } else {
        each(d);
    }
}

/// Runs a table kind's function over two tensors broadcast to `shape`.
struct Map2<'a>(&'a Tensor, &'a Tensor, &'a [usize]);

impl<T: Element + IntoStorageVec> BinaryMap<T> for Map2<'_> {
    type Out = Option<Result<Tensor>>;
    fn run<F: Fn(T, T) -> T + Send + Sync + Copy>(self, f: F) -> Self::Out {
        Some(map2(self.0, self.1, self.2, f))
    }
    fn run_compare<F: Fn(T, T) -> bool + Send + Sync + Copy>(self, f: F) -> Self::Out {
        Some(map2(self.0, self.1, self.2, f))
    }
    fn unsupported(self) -> Self::Out {
        None
    }
}

pub fn binary(kind: BinaryKind, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    use BinaryKind::*;
    let dtype = a.dtype();
    if a.dtype() != b.dtype() {
        return Err(dtype_err!("{}: expected operands of one dtype, got {} and {}", kind.name(), a.dtype().name(), b.dtype().name()));
    }
    let m = Map2(a, b, shape);
    let done = match dtype {
        DType::F32 => kind.with_float_fn::<f32, _>(m),
        DType::F64 => kind.with_float_fn::<f64, _>(m),
        DType::I64 => {
            if kind.divides_ints() && b.to_vec::<i64>()?.contains(&0) {
                return Err(crate::error::Error::ZeroDivision(format!("{}: integer division by zero", kind.name())));
            }
            kind.with_int_fn(m)
        }
        // Arithmetic on bools: + and max are "or", * and min are "and" (PyTorch's rules).
        DType::Bool => match kind {
            Add | Maximum => Some(map2(a, b, shape, |x: bool, y: bool| x | y)),
            Mul | Minimum => Some(map2(a, b, shape, |x: bool, y: bool| x & y)),
            _ => kind.with_bool_fn(m),
        },
        _ => None, // storage dtypes: the backend widens them before calling
    };
    done.unwrap_or_else(|| Err(unsupported_dtype(kind.name(), kind.class(), dtype)))
}

/// `out[i] = cond[i] ? a[i] : b[i]`, all broadcast to `shape`.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    crate::with_compute_dtype!(a.dtype(), T => where_typed::<T>(cond, a, b, shape), other => Err(dtype_err!("where: {} is widened by the backend first", other.name())))
}

/// Branch-free `c ? a : b` on the bits. `where`'s condition is data (relu's vjp is
/// where(x > 0, g, 0)), so a branch on it would mispredict about half the time.
trait BitSelect: Copy {
    fn select(c: bool, a: Self, b: Self) -> Self;
}

impl BitSelect for f32 {
    #[inline(always)]
    fn select(c: bool, a: f32, b: f32) -> f32 {
        let m = (c as u32).wrapping_neg();
        f32::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
    }
}

impl BitSelect for f64 {
    #[inline(always)]
    fn select(c: bool, a: f64, b: f64) -> f64 {
        let m = (c as u64).wrapping_neg();
        f64::from_bits((a.to_bits() & m) | (b.to_bits() & !m))
    }
}

impl BitSelect for i64 {
    #[inline(always)]
    fn select(c: bool, a: i64, b: i64) -> i64 {
        let m = (c as i64).wrapping_neg();
        (a & m) | (b & !m)
    }
}

impl BitSelect for bool {
    #[inline(always)]
    fn select(c: bool, a: bool, b: bool) -> bool {
        (c & a) | (!c & b)
    }
}

fn where_typed<T: IntoStorageVec + BitSelect>(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let xc = cond.cpu_storage("where")?.as_slice::<bool>();
    let xa = a.cpu_storage("where")?.as_slice::<T>();
    let xb = b.cpu_storage("where")?.as_slice::<T>();
    let lc = cond.layout().expand(shape, "where")?;
    let la = a.layout().expand(shape, "where")?;
    let lb = b.layout().expand(shape, "where")?;
    let w = Walk::new(
        shape,
        [&contiguous_strides(shape), lc.strides(), la.strides(), lb.strides()],
        [0, lc.offset(), la.offset(), lb.offset()],
    );
    let fill = |out: &mut [std::mem::MaybeUninit<T>]| {
        let p = SendPtr(out.as_mut_ptr());
        w.par_for_each_run(|[o, ic, ia, ib], len, [so, sc, sa, sb]| {
            // Contiguous runs, a branch possibly a scalar (relu's vjp: where(y > 0, g, 0)),
            // get vectorised loops over slices; anything else takes the strided loop.
            if so == 1 && sc == 1 && sa <= 1 && sb <= 1 {
                // SAFETY: disjoint runs of a fresh output; inner stride 1.
                let o = unsafe { std::slice::from_raw_parts_mut(p.get().add(o), len) };
                let c = &xc[ic..ic + len];
                let pick = T::select;
                super::isa::vectorized(|| match (sa, sb) {
                    (1, 1) => {
                        let (a, b) = (&xa[ia..ia + len], &xb[ib..ib + len]);
                        o.iter_mut().zip(c.iter().zip(a.iter().zip(b))).for_each(|(o, (&c, (&a, &b)))| {
                            o.write(pick(c, a, b));
                        });
                    }
                    (1, 0) => {
                        let (a, b) = (&xa[ia..ia + len], xb[ib]);
                        o.iter_mut().zip(c.iter().zip(a)).for_each(|(o, (&c, &a))| {
                            o.write(pick(c, a, b));
                        });
                    }
                    (0, 1) => {
                        let (a, b) = (xa[ia], &xb[ib..ib + len]);
                        o.iter_mut().zip(c.iter().zip(b)).for_each(|(o, (&c, &b))| {
                            o.write(pick(c, a, b));
                        });
                    }
                    _ => {
                        let (a, b) = (xa[ia], xb[ib]);
                        o.iter_mut().zip(c).for_each(|(o, &c)| {
                            o.write(pick(c, a, b));
                        });
                    }
                });
                return;
            }
            for k in 0..len {
                let v = if xc[ic + k * sc] { xa[ia + k * sa] } else { xb[ib + k * sb] };
                // SAFETY: disjoint runs of a fresh output.
                unsafe { (*p.get().add(o + k * so)).write(v) };
            }
        });
    };
    // SAFETY: the walk's runs cover the whole contiguous output, each element once.
    let out = unsafe { crate::alloc::buffer::written::<T>(numel(shape), shape, "where", fill)? };
    Tensor::from_vec(out, shape)
}

/// `dst op= src` in place, `src` broadcast to `dst` and of the same dtype. The caller
/// guarantees `src` does not overlap `dst` (see `ops::inplace`).
pub fn binary_inplace(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    with_dtype!(dst.dtype(), T => inplace_typed::<T>(kind, dst, src))
}

fn inplace_typed<T: Element + IntoStorageVec>(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    use BinaryKind::*;
    if kind.returns_bool() && T::DTYPE != DType::Bool {
        return Err(dtype_err!("{}_: the in-place kernel writes the operands' own dtype; {} returns bool", kind.name(), kind.name()));
    }
    let m = Inplace(dst, src);
    let done = match T::DTYPE {
        DType::F32 => kind.with_float_fn::<f32, _>(m),
        DType::F64 => kind.with_float_fn::<f64, _>(m),
        DType::I64 if kind.class() == crate::kinds::Class::Float => {
            return Err(dtype_err!("{}_: result type float can't be cast to the int64 tensor being updated", kind.name()))
        }
        DType::I64 => {
            if kind.divides_ints() && src.to_vec::<i64>()?.contains(&0) {
                return Err(crate::error::Error::ZeroDivision(format!("{}_: integer division by zero", kind.name())));
            }
            kind.with_int_fn(m)
        }
        DType::Bool => match kind {
            Add | Maximum => Some(apply_inplace(dst, src, |x: bool, y: bool| x | y)),
            Mul | Minimum => Some(apply_inplace(dst, src, |x: bool, y: bool| x & y)),
            _ => kind.with_bool_fn(m),
        },
        _ => None, // storage dtypes are widened by the backend
    };
    done.unwrap_or_else(|| Err(unsupported_dtype(kind.name(), kind.class(), T::DTYPE)))
}

/// Runs a table kind's function in place (`dst = f(dst, src)`).
struct Inplace<'a>(&'a Tensor, &'a Tensor);

impl<T: Element> BinaryMap<T> for Inplace<'_> {
    type Out = Option<Result<()>>;
    fn run<F: Fn(T, T) -> T + Send + Sync + Copy>(self, f: F) -> Self::Out {
        Some(apply_inplace(self.0, self.1, f))
    }
    fn run_compare<F: Fn(T, T) -> bool + Send + Sync + Copy>(self, _f: F) -> Self::Out {
        None
    }
    fn unsupported(self) -> Self::Out {
        None
    }
}

/// Applies `dst[i] = f(dst[i], src[i])` over `dst`'s layout.
pub fn apply_inplace<T: Element>(dst: &Tensor, src: &Tensor, f: impl Fn(T, T) -> T + Sync + Send) -> Result<()> {
    let ld = dst.layout();
    let ls = src.layout().expand(ld.shape(), "in-place op")?;
    let xs = src.cpu_storage("in-place op")?.as_slice::<T>();
    // SAFETY: in-place ops hold the only access to dst's elements (storage contract).
    let xd = unsafe { dst.cpu_storage("in-place op")?.as_mut_slice::<T>() };
    if ld.is_contiguous() && ls.is_contiguous() && !has_zero_stride(&ls) {
        let n = ld.numel();
        let d = &mut xd[ld.offset()..ld.offset() + n];
        let s = &xs[ls.offset()..ls.offset() + n];
        if super::parallel(n) {
            d.par_chunks_mut(CHUNK).zip(s.par_chunks(CHUNK)).for_each(|(d, s)| update_zip(d, s, &f));
        } else {
            update_zip(d, s, &f);
        }
        return Ok(());
    }
    if ld.is_contiguous() && ls.strides().iter().all(|&s| s == 0) {
        // One value for every element (`t.mul_(lr)`, `t.div_(world)`): the strided walk below
        // would index it per element and not vectorise (3x slower than the fresh-output op).
        let n = ld.numel();
        if n == 0 {
            return Ok(());
        }
        let v = xs[ls.offset()];
        update_each(&mut xd[ld.offset()..ld.offset() + n], |x| f(x, v));
        return Ok(());
    }
    let w = Walk::new(ld.shape(), [ld.strides(), ls.strides()], [ld.offset(), ls.offset()]);
    let p = SendPtr(xd.as_mut_ptr());
    // A destination view with stride-0 dims would be written from several runs: keep it serial.
    let run = |[o, i]: [usize; 2], len: usize, [so, si]: [usize; 2]| {
        for k in 0..len {
            // SAFETY: positions come from dst's own layout.
            unsafe {
                let d = p.get().add(o + k * so);
                *d = f(*d, xs[i + k * si]);
            }
        }
    };
    if has_zero_stride(ld) {
        w.for_each_run(run);
    } else {
        w.par_for_each_run(run);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f32>, s: &[usize]) -> Tensor {
        Tensor::from_vec(v, s).unwrap()
    }

    #[test]
    fn broadcast_add_matches_manual() {
        let a = t(vec![1., 2., 3.], &[3, 1]);
        let b = t(vec![10., 20.], &[2]);
        let c = binary(BinaryKind::Add, &a, &b, &[3, 2]).unwrap();
        assert_eq!(c.to_vec::<f32>().unwrap(), vec![11., 21., 12., 22., 13., 23.]);
    }

    #[test]
    fn transposed_input_is_read_in_logical_order() {
        let a = t(vec![1., 2., 3., 4., 5., 6.], &[2, 3]);
        let at = a.with_layout(a.layout().transpose(0, 1)).unwrap();
        let e = unary(UnaryKind::Neg, &at).unwrap();
        assert_eq!(e.to_vec::<f32>().unwrap(), vec![-1., -4., -2., -5., -3., -6.]);
    }

    #[test]
    fn large_parallel_map_is_exact() {
        let n = 200_000;
        let a = t((0..n).map(|i| i as f32).collect(), &[n]);
        let b = binary(BinaryKind::Mul, &a, &t(vec![2.0], &[]), &[n]).unwrap();
        let v = b.to_vec::<f32>().unwrap();
        assert!(v.iter().enumerate().all(|(i, &x)| x == 2.0 * i as f32));
    }

    #[test]
    fn sigmoid_is_stable_for_large_inputs() {
        let a = t(vec![-1000., 0., 1000.], &[3]);
        let s = unary(UnaryKind::Sigmoid, &a).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(s, vec![0., 0.5, 1.]);
    }

    #[test]
    fn where_picks_per_element_with_scalars_and_broadcasts() {
        let c = Tensor::from_vec(vec![true, false, true, false, false, true], &[2, 3]).unwrap();
        let a = t(vec![1., 2., 3., 4., 5., 6.], &[2, 3]);
        let b = t(vec![-1., -2., -3., -4., -5., -6.], &[2, 3]);
        let zero = t(vec![0.], &[]);
        let row = t(vec![10., 20., 30.], &[3]);
        let pick = |x: &Tensor, y: &Tensor| where_(&c, x, y, &[2, 3]).unwrap().to_vec::<f32>().unwrap();
        assert_eq!(pick(&a, &b), vec![1., -2., 3., -4., -5., 6.]);
        assert_eq!(pick(&a, &zero), vec![1., 0., 3., 0., 0., 6.]);
        assert_eq!(pick(&zero, &b), vec![0., -2., 0., -4., -5., 0.]);
        assert_eq!(pick(&row, &zero), vec![10., 0., 30., 0., 0., 30.]);
        let at = a.with_layout(a.layout().clone()).unwrap();
        assert_eq!(pick(&zero, &t(vec![7.], &[])), vec![0., 7., 0., 7., 7., 0.]);
        assert_eq!(pick(&at, &a), vec![1., 2., 3., 4., 5., 6.]);
    }

    #[test]
    fn in_place_with_one_value_updates_exactly_the_destination_view() {
        // a contiguous window of a larger storage, by a 0-d value and by a [1, 1] one
        let base = t((0..12).map(|i| i as f32).collect(), &[12]);
        let window = base.with_layout(crate::tensor::Layout::new([2, 3].into_iter().collect(), [3, 1].into_iter().collect(), 3)).unwrap();
        binary_inplace(BinaryKind::Mul, &window, &t(vec![10.0], &[])).unwrap();
        binary_inplace(BinaryKind::Add, &window, &t(vec![0.5], &[1, 1])).unwrap();
        let want: Vec<f32> = (0..12).map(|i| if (3..9).contains(&i) { i as f32 * 10.0 + 0.5 } else { i as f32 }).collect();
        assert_eq!(base.to_vec::<f32>().unwrap(), want);
        let empty = t(vec![], &[0, 3]);
        binary_inplace(BinaryKind::Div, &empty, &t(vec![2.0], &[])).unwrap();
    }

    #[test]
    fn int_floor_division_rounds_down() {
        let a = Tensor::from_vec(vec![7i64, -7, 7, -7], &[4]).unwrap();
        let b = Tensor::from_vec(vec![2i64, 2, -2, -2], &[4]).unwrap();
        assert_eq!(binary(BinaryKind::FloorDiv, &a, &b, &[4]).unwrap().to_vec::<i64>().unwrap(), vec![3, -4, -4, 3]);
        assert_eq!(binary(BinaryKind::Remainder, &a, &b, &[4]).unwrap().to_vec::<i64>().unwrap(), vec![1, 1, -1, -1]);
    }
}
