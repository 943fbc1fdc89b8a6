//! Matrix products through the `gemm` crate (f32, f64), with any strides, so transposed
//! operands are read in place. Batch dims broadcast like NumPy's `matmul`.

use crate::error::{dtype_err, shape_err, Result, ShapeDisplay};
use crate::tensor::{broadcast_shapes, numel, DType, Dims, Element, IntoStorageVec, Tensor};
use gemm::Parallelism;
use smallvec::SmallVec;

/// Multiply-adds below which gemm runs on the calling thread.
const GEMM_PARALLEL_FLOPS: usize = 1 << 18;

fn parallelism(m: usize, n: usize, k: usize) -> Parallelism {
    if m * n * k >= GEMM_PARALLEL_FLOPS && rayon::current_num_threads() > 1 {
        Parallelism::Rayon(rayon::current_num_threads())
    } else {
        Parallelism::None
    }
}

/// A 2-D operand: base pointer offset, row stride, column stride (in elements).
#[derive(Clone, Copy)]
struct Mat {
    offset: usize,
    rs: isize,
    cs: isize,
}

/// `dst (m x n, row-major at dst_off) = beta_dst * dst + a @ b`.
///
/// # Safety
/// Pointers and strides must describe valid memory for the given shapes.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    read_dst: bool,
    a: *const T,
    am: Mat,
    b: *const T,
    bm: Mat,
) {
    if m == 0 || n == 0 || k == 0 {
        return; // the destination already holds zeros (or the bias)
    }
    match T::DTYPE {
        DType::F32 | DType::F64 => {
            let one = T::from_f64(1.0);
            gemm::gemm(
                m,
                n,
                k,
                dst,
                1,
                n as isize,
                read_dst,
                a.add(am.offset),
                am.cs,
                am.rs,
                b.add(bm.offset),
                bm.cs,
                bm.rs,
                one,
                one,
                false,
                false,
                false,
                parallelism(m, n, k),
            );
        }
        _ => {
            // int64: a plain triple loop (rare: index arithmetic, tests).
            for i in 0..m {
                for j in 0..n {
                    let mut acc = if read_dst { (*dst.add(i * n + j)).to_i64() } else { 0 };
                    for p in 0..k {
                        let x = (*a.add((am.offset as isize + i as isize * am.rs + p as isize * am.cs) as usize)).to_i64();
                        let y = (*b.add((bm.offset as isize + p as isize * bm.rs + j as isize * bm.cs) as usize)).to_i64();
                        acc = acc.wrapping_add(x.wrapping_mul(y));
                    }
                    *dst.add(i * n + j) = T::from_i64(acc);
                }
            }
        }
    }
}

/// `[..., m, k] @ [..., k, n]` (both at least 2-D; the ops layer handles 1-D operands).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.dtype() != b.dtype() {
        return Err(dtype_err!("matmul: operands must share a dtype, got {} and {}", a.dtype().name(), b.dtype().name()));
    }
    match a.dtype() {
        DType::F32 => matmul_typed::<f32>(a, b),
        DType::F64 => matmul_typed::<f64>(a, b),
        DType::I64 => matmul_typed::<i64>(a, b),
        DType::Bool => Err(dtype_err!("matmul: not defined for bool tensors")),
    }
}

fn matmul_typed<T: Element + IntoStorageVec>(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let (sa, sb) = (a.shape(), b.shape());
    let (na, nb) = (sa.len(), sb.len());
    let (m, k, k2, n) = (sa[na - 2], sa[na - 1], sb[nb - 2], sb[nb - 1]);
    if k != k2 {
        return Err(shape_err!(
            "matmul: shapes {} and {} cannot be multiplied ({m}x{k} and {k2}x{n}): the inner dimensions must match",
            ShapeDisplay(sa),
            ShapeDisplay(sb)
        ));
    }
    let batch = broadcast_shapes(&sa[..na - 2], &sb[..nb - 2], "matmul")?;
    let mut out_shape: Dims = batch.clone();
    out_shape.extend_from_slice(&[m, n]);
    let mut out = vec![T::default(); numel(&out_shape)];
    let la = a.layout().expand(&[&batch[..], &[m, k]].concat(), "matmul")?;
    let lb = b.layout().expand(&[&batch[..], &[k, n]].concat(), "matmul")?;
    let xa = a.cpu_storage("matmul")?.as_slice::<T>();
    let xb = b.cpu_storage("matmul")?.as_slice::<T>();
    let nbatch = numel(&batch);
    let bd = batch.len();
    let mut idx: SmallVec<[usize; 4]> = SmallVec::from_elem(0, bd);
    for bi in 0..nbatch {
        let off = |l: &crate::tensor::Layout| l.offset() + idx.iter().zip(l.strides()).map(|(i, s)| i * s).sum::<usize>();
        let am = Mat { offset: off(&la), rs: la.strides()[bd] as isize, cs: la.strides()[bd + 1] as isize };
        let bm = Mat { offset: off(&lb), rs: lb.strides()[bd] as isize, cs: lb.strides()[bd + 1] as isize };
        // SAFETY: offsets/strides come from validated layouts over these storages; dst is fresh.
        unsafe { gemm_into(m, n, k, out.as_mut_ptr().add(bi * m * n), false, xa.as_ptr(), am, xb.as_ptr(), bm) };
        for d in (0..bd).rev() {
            idx[d] += 1;
            if idx[d] < batch[d] {
                break;
            }
            idx[d] = 0;
        }
    }
    Tensor::from_vec(out, &out_shape)
}

/// `x @ w.T + bias`, x: [m, k], w: [n, k], bias: [n]. The bias is written first and the
/// product accumulated onto it, so there is no separate broadcast-add pass.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    match x.dtype() {
        DType::F32 => linear_typed::<f32>(x, w, bias),
        DType::F64 => linear_typed::<f64>(x, w, bias),
        other => Err(dtype_err!("linear: expected a float tensor, got {}", other.name())),
    }
}

fn linear_typed<T: Element + IntoStorageVec>(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let (m, k) = (x.shape()[0], x.shape()[1]);
    let n = w.shape()[0];
    let mut out = vec![T::default(); m * n];
    if let Some(b) = bias {
        let bv = b.to_vec::<T>()?;
        for row in out.chunks_exact_mut(n.max(1)) {
            row.copy_from_slice(&bv);
        }
    }
    let (lx, lw) = (x.layout(), w.layout());
    let xm = Mat { offset: lx.offset(), rs: lx.strides()[0] as isize, cs: lx.strides()[1] as isize };
    // w.T as a [k, n] operand: row stride is w's column stride and vice versa.
    let wm = Mat { offset: lw.offset(), rs: lw.strides()[1] as isize, cs: lw.strides()[0] as isize };
    let xs = x.cpu_storage("linear")?.as_slice::<T>();
    let ws = w.cpu_storage("linear")?.as_slice::<T>();
    // SAFETY: validated layouts; fresh destination.
    unsafe { gemm_into(m, n, k, out.as_mut_ptr(), bias.is_some(), xs.as_ptr(), xm, ws.as_ptr(), wm) };
    Tensor::from_vec(out, &[m, n])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>, s: &[usize]) -> Tensor {
        Tensor::from_vec(v, s).unwrap()
    }

    fn naive(a: &[f64], b: &[f64], m: usize, k: usize, n: usize) -> Vec<f64> {
        let mut c = vec![0.0; m * n];
        for i in 0..m {
            for j in 0..n {
                for p in 0..k {
                    c[i * n + j] += a[i * k + p] * b[p * n + j];
                }
            }
        }
        c
    }

    #[test]
    fn matches_naive_product_including_transposed_views() {
        let (m, k, n) = (5, 7, 3);
        let av: Vec<f64> = (0..m * k).map(|i| (i as f64).sin()).collect();
        let bv: Vec<f64> = (0..k * n).map(|i| (i as f64).cos()).collect();
        let want = naive(&av, &bv, m, k, n);
        let c = matmul(&t(av.clone(), &[m, k]), &t(bv.clone(), &[k, n])).unwrap().to_vec::<f64>().unwrap();
        assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));
        // b stored transposed: [n, k] viewed as [k, n]
        let mut bt = vec![0.0; n * k];
        for p in 0..k {
            for j in 0..n {
                bt[j * k + p] = bv[p * n + j];
            }
        }
        let btt = t(bt, &[n, k]);
        let btv = btt.with_layout(btt.layout().transpose(0, 1));
        let c2 = matmul(&t(av, &[m, k]), &btv).unwrap().to_vec::<f64>().unwrap();
        assert!(c2.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));
    }

    #[test]
    fn batch_dims_broadcast() {
        let a = t((0..2 * 2 * 3).map(|i| i as f64).collect(), &[2, 2, 3]);
        let b = t((0..3 * 2).map(|i| i as f64).collect(), &[3, 2]);
        let b3 = b.with_layout(b.layout().expand(&[1, 3, 2], "x").unwrap().reshape_view(&[1, 3, 2]).unwrap());
        let c = matmul(&a, &b3).unwrap();
        assert_eq!(c.shape(), &[2, 2, 2]);
        let v = c.to_vec::<f64>().unwrap();
        assert_eq!(&v[..4], &naive(&(0..6).map(|i| i as f64).collect::<Vec<_>>(), &(0..6).map(|i| i as f64).collect::<Vec<_>>(), 2, 3, 2)[..]);
        assert!(matmul(&t(vec![0.; 6], &[2, 3]), &t(vec![0.; 6], &[2, 3])).is_err());
    }

    #[test]
    fn linear_adds_bias() {
        let x = t(vec![1., 2., 3., 4.], &[2, 2]);
        let w = t(vec![1., 0., 0., 1., 1., 1.], &[3, 2]);
        let b = t(vec![10., 20., 30.], &[3]);
        let y = linear(&x, &w, Some(&b)).unwrap().to_vec::<f64>().unwrap();
        assert_eq!(y, vec![11., 22., 33., 13., 24., 37.]);
    }
}
