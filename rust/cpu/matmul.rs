//! Matrix products through the `gemm` crate (f32, f64), with any strides, so transposed
//! operands are read in place. Batch dims broadcast like NumPy's `matmul`.

use super::SendPtr;
use crate::backend::MatmulShape;
use crate::error::{dtype_err, Result};
use super::isa::{self, Isa};
use crate::tensor::{numel, DType, Element, Float, IntoStorageVec, Tensor};
use gemm::Parallelism;
use smallvec::SmallVec;

/// Multiply-adds below which a product stays on the calling thread. Handing work to the
/// thread pool and waiting for it costs two thread wake-ups (tens of microseconds on a busy
/// machine), about what 4M multiply-adds take on one core.
const GEMM_PARALLEL_FLOPS: usize = 1 << 22;

/// Output columns (or rows) below which a block is not worth a thread of its own (64 keeps
/// the column-major path's blocks at its minimum width).
const GEMM_MIN_BLOCK: usize = 64;

/// A 2-D operand: base pointer offset, row stride, column stride (in elements).
#[derive(Clone, Copy)]
struct Mat {
    offset: usize,
    rs: isize,
    cs: isize,
}

/// `dst (m x n, row-major) = (dst if read_dst) + a @ b`.
///
/// Large products are split into blocks of output columns (or rows), each an independent
/// single-threaded gemm call claimed by whichever thread is free: every block packs its own
/// share of the operands, in parallel, and the whole product costs one fork-join.
///
/// # Safety
/// Pointers and strides must describe valid memory for the given shapes.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_into<T: Element>(m: usize, n: usize, k: usize, dst: *mut T, read_dst: bool, a: *const T, am: Mat, b: *const T, bm: Mat) {
    if m == 0 || n == 0 || k == 0 {
        return; // the destination already holds zeros (or the bias)
    }
    let threads = super::threads::num_threads();
    // Each destination element costs about as much as DST_COST multiply-adds besides its
    // products (written, and read when accumulating): a rank-10 update [512, 10] @ [10, 512]
    // has only 2.6M multiply-adds but writes 1 MB, and it ran on one thread.
    const DST_COST: usize = 16;
    if m * n * (k + DST_COST) < GEMM_PARALLEL_FLOPS || threads < 2 {
        return gemm_tile(m, n, k, dst, n, read_dst, a, am, b, bm);
    }
    let (dst, a, b) = (SendPtr(dst), SendPtr(a as *mut T), SendPtr(b as *mut T));
    let by_cols = n >= m;
    let len = if by_cols { n } else { m };
    // Small products get two blocks per thread, so a worker that wakes late (tens of us,
    // comparable to a block) has its share taken by the others; large ones get one, since
    // each block repacks the operand it shares with the others.
    let per_thread = if m * n * k < 8 * GEMM_PARALLEL_FLOPS { 2 } else { 1 };
    let blocks = (per_thread * threads).min(len / GEMM_MIN_BLOCK).max(1);
    super::run_parts(blocks, |i| {
        let (start, end) = (i * len / blocks, (i + 1) * len / blocks);
        // SAFETY: blocks write disjoint column (or row) ranges of dst.
        unsafe {
            if by_cols {
                let bm = Mat { offset: (bm.offset as isize + start as isize * bm.cs) as usize, ..bm };
                gemm_tile(m, end - start, k, dst.get().add(start), n, read_dst, a.get(), am, b.get(), bm);
            } else {
                let am = Mat { offset: (am.offset as isize + start as isize * am.rs) as usize, ..am };
                gemm_tile(end - start, n, k, dst.get().add(start * n), n, read_dst, a.get(), am, b.get(), bm);
            }
        }
    });
}

/// Whether `a @ b` is faster computed column-major and transposed into place.
///
/// gemm's microkernel runs down columns, so for a row-major destination it swaps the
/// operands, and a `b` stored transposed (a weight `[out, in]` in `x @ w.T`) becomes the
/// operand it must repack on every call. With few rows (a small batch) that repacking of the
/// whole weight costs more than the product itself saves; a column-major destination lets
/// gemm read the weight in place and repack only the small `a`, and transposing the
/// `m x n` result back is cheap. (Measured: about 1.3-1.8x faster for m <= 128, slower from
/// m = 256 on.)
fn prefers_column_major(m: usize, n: usize, bm: Mat) -> bool {
    bm.rs == 1 && bm.cs != 1 && m <= 128 && n >= 64
}

/// One single-threaded product into a row-major destination of row stride `dst_rs`.
///
/// # Safety
/// As `gemm_into`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_tile<T: Element>(m: usize, n: usize, k: usize, dst: *mut T, dst_rs: usize, read_dst: bool, a: *const T, am: Mat, b: *const T, bm: Mat) {
    // `a @ w.T` with few columns: both operands contiguous along k (see `narrow`).
    if T::DTYPE == DType::F32 && n <= super::narrow::MAX_N && am.cs == 1 && bm.rs == 1 && am.rs >= 0 && bm.cs >= 0 {
        let (a, w) = (a.add(am.offset) as *const f32, b.add(bm.offset) as *const f32);
        if super::narrow::product(m, n, k, a, am.rs as usize, w, bm.cs as usize, dst as *mut f32, dst_rs, read_dst) {
            return;
        }
    }
    if !prefers_column_major(m, n, bm) || !matches!(T::DTYPE, DType::F32 | DType::F64) {
        return gemm_raw(m, n, k, dst, 1, dst_rs as isize, read_dst, a, am, b, bm);
    }
    let mut scratch: Vec<T> = Vec::with_capacity(m * n); // column-major m x n
    gemm_raw(m, n, k, scratch.as_mut_ptr(), m as isize, 1, false, a, am, b, bm);
    // SAFETY: with read_dst false and k > 0, gemm wrote all m * n elements.
    scratch.set_len(m * n);
    // Transpose into place in 16 x 16 tiles, so both sides of each tile stay in L1.
    const TILE: usize = 16;
    for i0 in (0..m).step_by(TILE) {
        for j0 in (0..n).step_by(TILE) {
            for i in i0..(i0 + TILE).min(m) {
                let row = dst.add(i * dst_rs);
                for j in j0..(j0 + TILE).min(n) {
                    let v = *scratch.get_unchecked(j * m + i);
                    *row.add(j) = if read_dst { (*row.add(j)).elem_add(v) } else { v };
                }
            }
        }
    }
}

/// `dst = (dst if read_dst) + a @ b` for any destination strides, on the calling thread.
///
/// Floats run the `gemm` crate's kernels of the instruction-set level in force
/// (`isa::active`). On x86-64 the level's kernels are called by name (the crate's own entry
/// point would pick the widest by itself), so a forced level runs exactly what a machine of
/// that class runs; `baseline` there is the portable kernel below, compiled for SSE2. Elsewhere
/// the crate's entry point runs (NEON on aarch64, the baseline of that target).
///
/// # Safety
/// As `gemm_into`.
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_raw<T: Element>(
    m: usize,
    n: usize,
    k: usize,
    dst: *mut T,
    dst_cs: isize,
    dst_rs: isize,
    read_dst: bool,
    a: *const T,
    am: Mat,
    b: *const T,
    bm: Mat,
) {
    if !matches!(T::DTYPE, DType::F32 | DType::F64) {
        return int_gemm(m, n, k, dst, dst_cs, dst_rs, read_dst, a, am, b, bm);
    }
    let (a, b) = (a.add(am.offset), b.add(bm.offset));
    #[cfg(target_arch = "x86_64")]
    {
        // gemm's microkernel writes down columns. Its entry point (`gemm::gemm`) computes a
        // row-major product as the column-major transposed one, `c.T = b.T @ a.T`, before it
        // dispatches; calling the level's kernels directly must do the same, or every
        // row-major product runs in the slow orientation (measured: 85 against 140 GFLOP/s at
        // f32 1024 on AVX2).
        if dst_cs.abs() < dst_rs.abs() {
            let (at, bt) = (Mat { offset: 0, rs: am.cs, cs: am.rs }, Mat { offset: 0, rs: bm.cs, cs: bm.rs });
            return gemm_level(n, m, k, dst, dst_rs, dst_cs, read_dst, b, bt, a, at);
        }
        gemm_level(m, n, k, dst, dst_cs, dst_rs, read_dst, a, Mat { offset: 0, ..am }, b, Mat { offset: 0, ..bm })
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let one = T::from_f64(1.0);
        gemm::gemm(m, n, k, dst, dst_cs, dst_rs, read_dst, a, am.cs, am.rs, b, bm.cs, bm.rs, one, one, false, false, false, Parallelism::None);
    }
}

/// The x86-64 kernels of the level in force, for a destination that is column-major or
/// close to it (`gemm_raw` orients it); operand offsets are already applied.
///
/// # Safety
/// As `gemm_into`.
#[cfg(target_arch = "x86_64")]
#[allow(clippy::too_many_arguments)]
unsafe fn gemm_level<T: Element>(m: usize, n: usize, k: usize, dst: *mut T, dst_cs: isize, dst_rs: isize, read_dst: bool, a: *const T, am: Mat, b: *const T, bm: Mat) {
    if let Some((padded, rs)) = unaliased_copy(m, n, k, a, am) {
        let am = Mat { offset: 0, rs, cs: 1 };
        return gemm_level(m, n, k, dst, dst_cs, dst_rs, read_dst, padded.as_ptr(), am, b, bm);
    }
    {
        use gemm_common::gemm::gemm_basic_generic as generic;
        use gemm_common::simd::{MixedSimd, V3, V4};
        use gemm_f32::microkernel::{avx512f::f32 as s16, fma::f32 as s8};
        use gemm_f64::microkernel::{avx512f::f64 as d8, fma::f64 as d4};
        let p = Parallelism::None;
        let fma32 = |x: f32, y: f32, z: f32| x * y + z;
        let fma64 = |x: f64, y: f64, z: f64| x * y + z;
        let (d32, a32, b32) = (dst as *mut f32, a as *const f32, b as *const f32);
        let (d64, a64, b64) = (dst as *mut f64, a as *const f64, b as *const f64);
        let f32_ = T::DTYPE == DType::F32;
        // The type parameters are those the crate's own dispatch instantiates for the level
        // (`gemm_common::gemm_def!`): N lanes per vector, MR = MR_DIV_N * N rows per tile. A
        // level whose vector type the CPU lacks (not expected: `isa` checked) runs portably.
        macro_rules! level {
            ($simd:ty, $t:ty, $k:ident, $n:literal, $d:expr, $a:expr, $b:expr, $fma:expr) => {
                match <$simd as MixedSimd<$t, $t, $t, $t>>::try_new() {
                    Some(simd) => generic::<_, $t, $n, { $k::MR_DIV_N * $n }, { $k::NR }, { $k::MR_DIV_N }, { $k::H_M }, { $k::H_N }>(
                        simd, m, n, k, $d, dst_cs, dst_rs, read_dst, $a, am.cs, am.rs, $b, bm.cs, bm.rs, 1.0, 1.0, false, false, false, $fma, &$k::UKR, &$k::H_UKR,
                        false, p,
                    ),
                    None => portable_gemm::<$t>(m, n, k, $d, dst_cs, dst_rs, read_dst, $a, am, $b, bm),
                }
            };
        }
        match isa::active() {
            Isa::Avx512 if f32_ => level!(V4, f32, s16, 16, d32, a32, b32, fma32),
            Isa::Avx512 => level!(V4, f64, d8, 8, d64, a64, b64, fma64),
            Isa::Avx2 if f32_ => level!(V3, f32, s8, 8, d32, a32, b32, fma32),
            Isa::Avx2 => level!(V3, f64, d4, 4, d64, a64, b64, fma64),
            Isa::Baseline if f32_ => portable_gemm::<f32>(m, n, k, d32, dst_cs, dst_rs, read_dst, a32, am, b32, bm),
            Isa::Baseline => portable_gemm::<f64>(m, n, k, d64, dst_cs, dst_rs, read_dst, a64, am, b64, bm),
        }
    }
}

/// Row strides (in bytes) that are multiples of this put the rows of an operand into a few
/// L1 sets (64 sets of 64-byte lines: a 2 KB stride reaches only 2 of them).
const ALIASING_STRIDE: usize = 1024;

/// A copy of a row-major left operand whose row stride aliases in L1, with rows one cache
/// line longer than a multiple of `ALIASING_STRIDE`, and that stride; `None` when no copy is
/// needed (or memory for one is not at hand: the product then runs on the original).
///
/// gemm packs such an operand by gathering one element from each of 64 consecutive rows per
/// step; at an aliasing stride (the `[512, 512]` weight of `x @ w.T`, seen by gemm as
/// row-major after `gemm_raw`'s swap) those rows evict each other before each line's 16
/// elements are used. Measured, one thread, f32 `[256, 512] @ [512, 512].T`: 1.03 ms, against
/// 0.87 ms with a 528-element stride; copying the rows (contiguous reads) costs about a third
/// of the difference.
///
/// # Safety
/// `a` with `am` must describe a valid `m x k` operand.
#[cfg(target_arch = "x86_64")]
unsafe fn unaliased_copy<T: Element>(m: usize, n: usize, k: usize, a: *const T, am: Mat) -> Option<(Vec<T>, isize)> {
    let size = std::mem::size_of::<T>();
    let aliases = am.cs == 1 && am.rs > 0 && (am.rs as usize * size) % ALIASING_STRIDE == 0;
    if !aliases || m < 32 || k < 32 || n < 32 {
        return None;
    }
    let rs = ((k * size).div_ceil(ALIASING_STRIDE) * ALIASING_STRIDE + 64) / size;
    let mut padded: Vec<T> = Vec::new();
    padded.try_reserve_exact(m.checked_mul(rs)?).ok()?;
    for i in 0..m {
        let dst = padded.as_mut_ptr().add(i * rs);
        std::ptr::copy_nonoverlapping(a.add(i * am.rs as usize), dst, k);
        // The padding is never read (gemm reads k columns); set it so the Vec is initialised.
        std::ptr::write_bytes(dst.add(k), 0, rs - k);
    }
    padded.set_len(m * rs);
    Some((padded, rs as isize))
}

/// int64: a plain triple loop (rare: index arithmetic, tests).
///
/// # Safety
/// As `gemm_into`.
#[allow(clippy::too_many_arguments)]
unsafe fn int_gemm<T: Element>(m: usize, n: usize, k: usize, dst: *mut T, dst_cs: isize, dst_rs: isize, read_dst: bool, a: *const T, am: Mat, b: *const T, bm: Mat) {
    for i in 0..m {
        for j in 0..n {
            let d = dst.offset(i as isize * dst_rs + j as isize * dst_cs);
            let mut acc = if read_dst { (*d).to_i64() } else { 0 };
            for p in 0..k {
                let x = (*a.add((am.offset as isize + i as isize * am.rs + p as isize * am.cs) as usize)).to_i64();
                let y = (*b.add((bm.offset as isize + p as isize * bm.rs + j as isize * bm.cs) as usize)).to_i64();
                acc = acc.wrapping_add(x.wrapping_mul(y));
            }
            *d = T::from_i64(acc);
        }
    }
}

/// Rows and columns of the portable kernel's register tile, and its depth block.
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
const PORTABLE_MR: usize = 4;
const PORTABLE_NR: usize = 8;
const PORTABLE_KC: usize = 256;

/// A portable blocked product (`a`, `b` point at element `[0, 0]`): `b` is packed in panels of `PORTABLE_NR` columns and `a` in
/// strips of `PORTABLE_MR` rows, both contiguous along the depth, and a `4 x 8` tile of
/// accumulators is kept in registers, in plain array code the compiler vectorises for the
/// target's baseline (SSE2). It is the `baseline` level on x86-64: what a CPU without AVX2
/// gets, and the row a benchmark prints for it.
///
/// # Safety
/// As `gemm_into`.
#[allow(clippy::too_many_arguments)]
#[cfg_attr(not(target_arch = "x86_64"), allow(dead_code))]
unsafe fn portable_gemm<T: Float>(m: usize, n: usize, k: usize, dst: *mut T, dst_cs: isize, dst_rs: isize, read_dst: bool, a: *const T, am: Mat, b: *const T, bm: Mat) {
    const MR: usize = PORTABLE_MR;
    const NR: usize = PORTABLE_NR;
    let at = |i: usize, p: usize| *a.offset(i as isize * am.rs + p as isize * am.cs);
    let bt = |p: usize, j: usize| *b.offset(p as isize * bm.rs + j as isize * bm.cs);
    let panels = n.div_ceil(NR);
    let mut packed_b = vec![T::ZERO; panels * NR * PORTABLE_KC.min(k)];
    let mut packed_a = vec![T::ZERO; MR * PORTABLE_KC.min(k)];
    for p0 in (0..k).step_by(PORTABLE_KC) {
        let kc = PORTABLE_KC.min(k - p0);
        for jp in 0..panels {
            let panel = &mut packed_b[jp * NR * kc..(jp + 1) * NR * kc];
            for p in 0..kc {
                for jj in 0..NR {
                    let j = jp * NR + jj;
                    panel[p * NR + jj] = if j < n { bt(p0 + p, j) } else { T::ZERO };
                }
            }
        }
        let accumulate = read_dst || p0 > 0;
        for i0 in (0..m).step_by(MR) {
            let rows = MR.min(m - i0);
            for p in 0..kc {
                for ii in 0..MR {
                    packed_a[p * MR + ii] = if ii < rows { at(i0 + ii, p0 + p) } else { T::ZERO };
                }
            }
            for jp in 0..panels {
                let panel = &packed_b[jp * NR * kc..(jp + 1) * NR * kc];
                let mut acc = [[T::ZERO; NR]; MR];
                for (av, bv) in packed_a[..MR * kc].chunks_exact(MR).zip(panel.chunks_exact(NR)) {
                    for ii in 0..MR {
                        for jj in 0..NR {
                            acc[ii][jj] = acc[ii][jj] + av[ii] * bv[jj];
                        }
                    }
                }
                for (ii, row) in acc.iter().enumerate().take(rows) {
                    for (jj, &v) in row.iter().enumerate().take(NR.min(n - jp * NR)) {
                        let d = dst.offset((i0 + ii) as isize * dst_rs + (jp * NR + jj) as isize * dst_cs);
                        *d = if accumulate { *d + v } else { v };
                    }
                }
            }
        }
    }
}

/// `[..., m, k] @ [..., k, n]` (both at least 2-D; the ops layer handles 1-D operands).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let shape = MatmulShape::of(a, b)?;
    match a.dtype() {
        DType::F32 => matmul_typed::<f32>(a, b, shape),
        DType::F64 => matmul_typed::<f64>(a, b, shape),
        DType::I64 => matmul_typed::<i64>(a, b, shape),
        other => Err(crate::error::dtype_err!("matmul: not defined for {} tensors", other.name())),
    }
}

fn matmul_typed<T: Element + IntoStorageVec>(a: &Tensor, b: &Tensor, shape: MatmulShape) -> Result<Tensor> {
    let MatmulShape { m, k, n, batch, a: la, b: lb, out: out_shape } = shape;
    let total = numel(&out_shape);
    // Written in full by gemm (no zero-fill pass) unless k == 0, where the product is zeros.
    let mut out: Vec<T> = if k == 0 {
        crate::alloc::buffer::zeroed(total, &out_shape, "matmul")?
    } else {
        crate::alloc::buffer::with_capacity(total, &out_shape, "matmul")?
    };
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
    // SAFETY: every batch's m x n block was written (or zero-filled above).
    unsafe { out.set_len(total) };
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
    let total = numel(&[m, n]);
    // Every element is written once before gemm runs: the bias rows, or gemm itself (which
    // then writes, not adds) unless k == 0, where the product is zeros. A zero-fill first was
    // a whole extra pass over the output.
    let overwritten = bias.is_none() && k > 0;
    let mut out = if bias.is_none() && k == 0 {
        crate::alloc::buffer::zeroed::<T>(total, &[m, n], "linear")?
    } else {
        crate::alloc::buffer::with_capacity::<T>(total, &[m, n], "linear")?
    };
    if let Some(b) = bias {
        let bv = b.to_vec::<T>()?;
        for _ in 0..m {
            out.extend_from_slice(&bv);
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
    if overwritten {
        // SAFETY: with k > 0 and no bias to add onto, gemm wrote all m * n elements.
        unsafe { out.set_len(total) };
    }
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

    /// The row-major `[k, n]` matrix `b` as a transposed view of its `[n, k]` transpose.
    fn stored_transposed(b: &[f64], k: usize, n: usize) -> Tensor {
        let mut bt = vec![0.0; n * k];
        for p in 0..k {
            for j in 0..n {
                bt[j * k + p] = b[p * n + j];
            }
        }
        let stored = t(bt, &[n, k]);
        stored.with_layout(stored.layout().transpose(0, 1)).unwrap()
    }

    #[test]
    fn matches_naive_product_including_transposed_views() {
        let (m, k, n) = (5, 7, 3);
        let av: Vec<f64> = (0..m * k).map(|i| (i as f64).sin()).collect();
        let bv: Vec<f64> = (0..k * n).map(|i| (i as f64).cos()).collect();
        let want = naive(&av, &bv, m, k, n);
        let c = matmul(&t(av.clone(), &[m, k]), &t(bv.clone(), &[k, n])).unwrap().to_vec::<f64>().unwrap();
        assert!(c.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));
        let c2 = matmul(&t(av, &[m, k]), &stored_transposed(&bv, k, n)).unwrap().to_vec::<f64>().unwrap();
        assert!(c2.iter().zip(&want).all(|(x, y)| (x - y).abs() < 1e-12));
    }

    #[test]
    fn batch_dims_broadcast() {
        let a = t((0..2 * 2 * 3).map(|i| i as f64).collect(), &[2, 2, 3]);
        let b = t((0..3 * 2).map(|i| i as f64).collect(), &[3, 2]);
        let b3 = b.with_layout(b.layout().expand(&[1, 3, 2], "x").unwrap().reshape_view(&[1, 3, 2]).unwrap()).unwrap();
        let c = matmul(&a, &b3).unwrap();
        assert_eq!(c.shape(), &[2, 2, 2]);
        let v = c.to_vec::<f64>().unwrap();
        assert_eq!(&v[..4], &naive(&(0..6).map(|i| i as f64).collect::<Vec<_>>(), &(0..6).map(|i| i as f64).collect::<Vec<_>>(), 2, 3, 2)[..]);
        assert!(matmul(&t(vec![0.; 6], &[2, 3]), &t(vec![0.; 6], &[2, 3])).is_err());
    }

    #[test]
    fn every_gemm_path_matches_the_naive_product() {
        // Small and large, column-major-preferring (b transposed, few rows) and not, serial
        // and split across threads: all must agree with the triple loop.
        // (64x256x300 and 300x100x150 are above GEMM_PARALLEL_FLOPS: split by columns, then
        // by rows; the last two have a transposed b whose 1 KB and 2 KB rows gemm would see as
        // an aliasing row-major left operand: they run on `unaliased_copy`'s copy)
        // Miri (CI runs these tests under it) interprets every multiply-add: small shapes only,
        // which still cover the portable kernel's edge tiles and both orientations.
        let shapes: &[(usize, usize, usize)] = if cfg!(miri) {
            &[(3, 5, 2), (9, 17, 13)]
        } else {
            &[(3, 5, 2), (64, 40, 200), (100, 30, 70), (300, 20, 150), (40, 64, 1000), (64, 256, 300), (300, 100, 150), (200, 128, 160), (200, 256, 96)]
        };
        for &(m, k, n) in shapes {
            let av: Vec<f64> = (0..m * k).map(|i| ((i * 7 % 13) as f64 - 6.0) * 0.25).collect();
            let bv: Vec<f64> = (0..k * n).map(|i| ((i * 5 % 11) as f64 - 5.0) * 0.5).collect();
            let want = naive(&av, &bv, m, k, n);
            let b_view = stored_transposed(&bv, k, n);
            for b in [t(bv.clone(), &[k, n]), b_view.clone()] {
                let c = matmul(&t(av.clone(), &[m, k]), &b).unwrap().to_vec::<f64>().unwrap();
                let worst = c.iter().zip(&want).map(|(x, y)| (x - y).abs()).fold(0.0, f64::max);
                assert!(worst < 1e-9, "{m}x{k}x{n}: max error {worst}");
            }
            let bias = t((0..n).map(|j| j as f64).collect(), &[n]);
            let w = b_view.with_layout(b_view.layout().transpose(0, 1)).unwrap(); // [n, k], contiguous
            let y = linear(&t(av.clone(), &[m, k]), &w, Some(&bias)).unwrap().to_vec::<f64>().unwrap();
            let worst = (0..m * n).map(|i| (y[i] - want[i] - (i % n) as f64).abs()).fold(0.0, f64::max);
            assert!(worst < 1e-9, "linear {m}x{k}x{n}: max error {worst}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn aliasing_left_operands_are_copied_to_a_stride_that_does_not_alias() {
        let (m, k) = (40, 256); // f64 rows of 2 KB
        let a: Vec<f64> = (0..m * k).map(|i| i as f64).collect();
        let am = Mat { offset: 0, rs: k as isize, cs: 1 };
        let (copy, rs) = unsafe { unaliased_copy(m, 64, k, a.as_ptr(), am) }.expect("a 2 KB stride aliases");
        assert_ne!(rs as usize * 8 % ALIASING_STRIDE, 0);
        for i in 0..m {
            assert_eq!(&copy[i * rs as usize..][..k], &a[i * k..][..k]);
        }
        // Strides that spread over the sets, column-major operands and small products are left alone.
        let none = |m: usize, n: usize, k: usize, am: Mat| unsafe { unaliased_copy(m, n, k, a.as_ptr(), am) }.is_none();
        assert!(none(m, 64, 200, Mat { rs: 200, ..am }));
        assert!(none(m, 64, k, Mat { rs: 1, cs: m as isize, ..am }));
        assert!(none(m, 8, k, am));
    }

    #[test]
    fn linear_adds_bias() {
        let x = t(vec![1., 2., 3., 4.], &[2, 2]);
        let w = t(vec![1., 0., 0., 1., 1., 1.], &[3, 2]);
        let b = t(vec![10., 20., 30.], &[3]);
        let y = linear(&x, &w, Some(&b)).unwrap().to_vec::<f64>().unwrap();
        assert_eq!(y, vec![11., 22., 33., 13., 24., 37.]);
        let y = linear(&x, &w, None).unwrap().to_vec::<f64>().unwrap();
        assert_eq!(y, vec![1., 2., 3., 3., 4., 7.]);
        // k == 0: the bias alone, or zeros.
        let (x0, w0) = (t(vec![], &[2, 0]), t(vec![], &[3, 0]));
        assert_eq!(linear(&x0, &w0, Some(&b)).unwrap().to_vec::<f64>().unwrap(), vec![10., 20., 30., 10., 20., 30.]);
        assert_eq!(linear(&x0, &w0, None).unwrap().to_vec::<f64>().unwrap(), vec![0.; 6]);
        // no rows, no outputs
        assert!(linear(&t(vec![], &[0, 2]), &w, Some(&b)).unwrap().to_vec::<f64>().unwrap().is_empty());
    }
}
