//! float32 products with few output columns, `a @ w.T` with `w` a `[n, k]` weight of at most
//! `MAX_N` rows (a classifier's last layer: `[batch, 512] @ [10, 512].T`), as dot products.
//!
//! gemm's microkernel spans 16 or more output columns per tile (after its row-major swap, the
//! tile's long side lies along `n`), so with `n = 10` most of every tile is padding: about half
//! the FMA throughput is lost. Here both operands are read along `k`, where they are
//! contiguous, and every vector lane does useful work: a register block of `R` rows of `a` by
//! `C` rows of `w` keeps `R * C` vector accumulators, each reduced to one number at the end.

/// The most output columns this kernel takes. Measured, one thread, `[512, 512] @ [n, 512].T`,
/// GFLOP/s here against gemm's: n = 8: 102 / 53, 12: 102 / 78, 14: 101 / 90, 16: 101 / 106
/// (AVX-512; AVX2: 83 / 60, 98 / 79, 92 / 92, 94 / 107). From 15 on gemm's tiles are full
/// enough.
pub const MAX_N: usize = 14;

/// `dst[i, j] (+)= sum_p a[i * a_rs + p] * w[j * w_rs + p]` for `i < m`, `j < n`, `p < k`,
/// with the instruction-set level in force; false (nothing written) when this kernel does not
/// serve the level (baseline) or the shape.
///
/// # Safety
/// `a` must hold `m` rows of `k` at stride `a_rs`, `w` `n` rows of `k` at stride `w_rs`, and
/// `dst` `m` rows of `n` at stride `dst_rs`, none overlapping `dst`.
#[allow(clippy::too_many_arguments)]
pub unsafe fn product(m: usize, n: usize, k: usize, a: *const f32, a_rs: usize, w: *const f32, w_rs: usize, dst: *mut f32, dst_rs: usize, read_dst: bool) -> bool {
    if n == 0 || n > MAX_N || k < 16 {
        return false;
    }
    let p = Operands { k, a, a_rs, w, w_rs, dst, dst_rs, read_dst };
    #[cfg(target_arch = "x86_64")]
    match super::isa::active() {
        super::isa::Isa::Avx512 => {
            x86::avx512(m, n, &p);
            return true;
        }
        super::isa::Isa::Avx2 => {
            x86::avx2(m, n, &p);
            return true;
        }
        super::isa::Isa::Baseline => {}
    }
    let _ = (m, p);
    false
}

struct Operands {
    k: usize,
    a: *const f32,
    a_rs: usize,
    w: *const f32,
    w_rs: usize,
    dst: *mut f32,
    dst_rs: usize,
    read_dst: bool,
}

/// Splits `n` columns into chunks of at most `max` (as even as may be, so that `n = 10` is two
/// chunks of 5, not 8 and 2) and hands each `(first column, width)` to `f`.
fn column_chunks(n: usize, max: usize, mut f: impl FnMut(usize, usize)) {
    let chunks = n.div_ceil(max);
    let mut j = 0;
    for c in 0..chunks {
        let width = (n - j) / (chunks - c);
        f(j, width);
        j += width;
    }
}

#[cfg(target_arch = "x86_64")]
// The r and c loops index several register arrays at once (x[r], acc[r][c]); over const
// bounds they unroll into straight-line code either way.
#[allow(clippy::needless_range_loop)]
mod x86 {
    use super::{column_chunks, Operands};
    use std::arch::x86_64::*;

    /// `$name::<R, C>(p, i, j)`: one `R x C` block at rows `i..i + R`, columns `j..j + C`,
    /// in vectors of `$lanes` lanes: full vectors along k, then the tail through a lane mask
    /// (masked-off lanes are not read), then each accumulator reduced to its number.
    macro_rules! dot_block {
        ($name:ident, $feature:literal, $lanes:literal, zero: $zero:expr, load: $load:path, fma: $fma:path,
         tail: |$ptr:ident, $rem:ident| $tail:expr, reduce: |$v:ident| $reduce:expr) => {
            /// # Safety
            /// As `product`, for the block; the target features present.
            #[target_feature(enable = $feature)]
            unsafe fn $name<const R: usize, const C: usize>(p: &Operands, i: usize, j: usize) {
                let mut acc = [[$zero; C]; R];
                let a = |r: usize| p.a.add((i + r) * p.a_rs);
                let w = |c: usize| p.w.add((j + c) * p.w_rs);
                // One k step of `$lanes`, for the full vectors and the tail alike. `load` is one of
                // the two closures below, known here: LLVM inlines it (measured: the same GFLOP/s).
                let step = |q: usize, acc: &mut [[_; C]; R], load: &dyn Fn(*const f32) -> _| {
                    let mut x = [$zero; R];
                    for r in 0..R {
                        x[r] = load(a(r).add(q));
                    }
                    for c in 0..C {
                        let y = load(w(c).add(q));
                        for r in 0..R {
                            acc[r][c] = $fma(x[r], y, acc[r][c]);
                        }
                    }
                };
                let full = p.k / $lanes * $lanes;
                let mut q = 0;
                while q < full {
                    step(q, &mut acc, &|ptr| $load(ptr));
                    q += $lanes;
                }
                if q < p.k {
                    let $rem = p.k - q;
                    step(q, &mut acc, &|$ptr| $tail);
                }
                for r in 0..R {
                    let row = p.dst.add((i + r) * p.dst_rs + j);
                    for c in 0..C {
                        let $v = acc[r][c];
                        let s: f32 = $reduce;
                        *row.add(c) = if p.read_dst { *row.add(c) + s } else { s };
                    }
                }
            }
        };
    }

    dot_block!(block512, "avx512f", 16, zero: _mm512_setzero_ps(), load: _mm512_loadu_ps, fma: _mm512_fmadd_ps,
        tail: |ptr, rem| _mm512_maskz_loadu_ps((1u16 << rem) - 1, ptr),
        reduce: |v| _mm512_reduce_add_ps(v));

    dot_block!(block256, "avx2,fma", 8, zero: _mm256_setzero_ps(), load: _mm256_loadu_ps, fma: _mm256_fmadd_ps,
        tail: |ptr, rem| _mm256_maskload_ps(ptr, _mm256_cmpgt_epi32(_mm256_set1_epi32(rem as i32), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7))),
        reduce: |v| {
            // 8 lanes -> 4 -> 2 -> 1
            let h = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps::<1>(v));
            let h = _mm_add_ps(h, _mm_movehl_ps(h, h));
            _mm_cvtss_f32(_mm_add_ss(h, _mm_shuffle_ps::<0b01>(h, h)))
        });

    /// Rows in blocks of `R` (the last rows one at a time), for one column chunk of width `C`.
    macro_rules! rows {
        ($block:ident, $R:literal, $C:literal, $m:expr, $p:expr, $j:expr) => {{
            let mut i = 0;
            while i + $R <= $m {
                $block::<$R, $C>($p, i, $j);
                i += $R;
            }
            while i < $m {
                $block::<1, $C>($p, i, $j);
                i += 1;
            }
        }};
    }

    /// The columns in chunks of at most `$max`, each run by the `$block` of its width (every
    /// width below `$max` listed, so that each has its own monomorphised block).
    macro_rules! by_width {
        ($block:ident, $R:literal, $m:expr, $n:expr, $p:expr, [$($w:literal),*], $max:literal) => {
            column_chunks($n, $max, |j, width| unsafe {
                match width {
                    $($w => rows!($block, $R, $w, $m, $p, j),)*
                    _ => rows!($block, $R, $max, $m, $p, j),
                }
            })
        };
    }

    /// AVX-512: blocks of 3 rows by up to 5 columns. (4 x 6, 24 of the 32 registers, made
    /// LLVM spill accumulators to the stack in the loop: 53 against 90 GFLOP/s.)
    ///
    /// # Safety
    /// As `product`; AVX-512F present (`isa` checked it).
    pub unsafe fn avx512(m: usize, n: usize, p: &Operands) {
        by_width!(block512, 3, m, n, p, [1, 2, 3, 4], 5);
    }

    /// AVX2: blocks of 2 rows by up to 6 columns (12 accumulators of the 16 registers).
    ///
    /// # Safety
    /// As `product`; AVX2 and FMA present (`isa` checked them).
    pub unsafe fn avx2(m: usize, n: usize, p: &Operands) {
        by_width!(block256, 2, m, n, p, [1, 2, 3, 4, 5], 6);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every level this CPU has, against a float64 reference: row blocks and the rows left
    /// over, every column chunking, k with and without a tail, padded strides, accumulation.
    #[test]
    #[cfg_attr(miri, ignore)] // vector intrinsics; the levels are not detected under Miri
    fn every_level_matches_float64_dot_products() {
        use crate::cpu::isa::Isa;
        let levels: Vec<Isa> = [Isa::Avx512, Isa::Avx2].into_iter().filter(|l| l.supported()).collect();
        let value = |i: usize| ((i * 7919 % 2003) as f32 - 1001.0) / 1001.0;
        for (m, n, k) in [(1, 1, 16), (2, 3, 17), (3, 5, 33), (4, 10, 100), (7, 14, 31), (9, 6, 64), (5, 11, 16)] {
            let (a_rs, w_rs, d_rs) = (k + 3, k + 1, n + 2);
            let a: Vec<f32> = (0..m * a_rs).map(value).collect();
            let w: Vec<f32> = (0..n * w_rs).map(|i| value(i + 17)).collect();
            for &level in &levels {
                for read_dst in [false, true] {
                    let mut dst: Vec<f32> = (0..m * d_rs).map(|i| value(i + 5)).collect();
                    let before = dst.clone();
                    let p = Operands { k, a: a.as_ptr(), a_rs, w: w.as_ptr(), w_rs, dst: dst.as_mut_ptr(), dst_rs: d_rs, read_dst };
                    // SAFETY: the buffers hold the shapes and strides given; the level is supported.
                    #[cfg(target_arch = "x86_64")]
                    unsafe {
                        match level {
                            Isa::Avx512 => x86::avx512(m, n, &p),
                            _ => x86::avx2(m, n, &p),
                        }
                    }
                    for i in 0..m {
                        for j in 0..d_rs {
                            let got = dst[i * d_rs + j] as f64;
                            if j >= n {
                                assert_eq!(got, before[i * d_rs + j] as f64, "padding written at {i},{j}");
                                continue;
                            }
                            let dot: f64 = (0..k).map(|q| a[i * a_rs + q] as f64 * w[j * w_rs + q] as f64).sum();
                            let want = dot + if read_dst { before[i * d_rs + j] as f64 } else { 0.0 };
                            assert!((got - want).abs() <= 1e-5 * (1.0 + want.abs()), "{level:?} {m}x{n}x{k} read_dst={read_dst} [{i},{j}]: {got} vs {want}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn column_chunks_are_even_and_cover_every_column() {
        for n in 1..=MAX_N {
            let mut seen = Vec::new();
            column_chunks(n, 6, |j, w| seen.push((j, w)));
            let widths: Vec<usize> = seen.iter().map(|&(_, w)| w).collect();
            assert!(widths.iter().all(|&w| (1..=6).contains(&w)), "{n}: {widths:?}");
            assert!(widths.iter().max().unwrap() - widths.iter().min().unwrap() <= 1, "{n}: {widths:?}");
            let mut next = 0;
            for (j, w) in seen {
                assert_eq!(j, next);
                next += w;
            }
            assert_eq!(next, n);
        }
    }
}
