//! Random tensors on the CPU, drawn from a generator of `crate::random`.
//!
//! float32 dropout masks come from the GPU's counter-based Philox4x32-10
//! (`shaders/random.wgsl`), keyed by one draw from the generator: element `i` depends only
//! on the key and `i`, so the mask is made by every thread at once, in vector registers, and
//! is the same mask, bit for bit, on the CPU and on the GPU for the same seed. A sequential
//! generator made one mask element after another on the calling thread (about 6% of a
//! batch-1024 training step, while the other cores waited).

use super::SendPtr;
use crate::alloc::buffer;
use crate::backend::Distribution;
use crate::error::{dtype_err, Result};
use crate::random::{self, Generator};
use crate::tensor::{DType, Tensor};

/// Philox counters per block, two per 64-bit lane: two AVX-512 registers per Philox word,
/// two independent dependency chains, and the state of all ten rounds stays in registers
/// (with four, the compiler kept it on the stack).
const LANES: usize = 32;
const PAIRS: usize = LANES / 2;
/// Elements per block (four words per counter).
const BLOCK: usize = 4 * LANES;

/// Two 32-bit lanes of `x` (low half, high half) times `m`: the high words and the low
/// words of both 64-bit products, packed the same way. Written on 64-bit lanes so each
/// product is one widening 32x32 multiply (`vpmuludq`) per lane pair; on 32-bit lanes the
/// compiler widened every lane first and narrowed every result after.
#[inline(always)]
fn mulhilo(m: u64, x: u64) -> (u64, u64) {
    let even = (x & 0xFFFF_FFFF) * m;
    let odd = (x >> 32) * m;
    ((even >> 32) | (odd & 0xFFFF_FFFF_0000_0000), (even & 0xFFFF_FFFF) | (odd << 32))
}

/// Philox4x32-10 of `LANES` counters at once (word `w` of counters `2j` and `2j + 1` in the
/// low and high halves of `c[w][j]`) under `key`, as the shader computes each counter.
#[inline(always)]
fn philox(mut c: [[u64; PAIRS]; 4], key: [u32; 2]) -> [[u64; PAIRS]; 4] {
    let both = |k: u32| k as u64 | (k as u64) << 32;
    let mut k = key;
    for _ in 0..10 {
        let (k0, k1) = (both(k[0]), both(k[1]));
        for j in 0..PAIRS {
            let (hi0, lo0) = mulhilo(0xD251_1F53, c[0][j]);
            let (hi1, lo1) = mulhilo(0xCD9E_8D57, c[2][j]);
            let (c1, c3) = (c[1][j], c[3][j]);
            c[0][j] = hi1 ^ c1 ^ k0;
            c[1][j] = lo1;
            c[2][j] = hi0 ^ c3 ^ k1;
            c[3][j] = lo0;
        }
        k = [k[0].wrapping_add(0x9E37_79B9), k[1].wrapping_add(0xBB67_AE85)];
    }
    c
}

/// Mask elements `[start, start + out.len())` (`start` a multiple of 4): `scale` where
/// the element's uniform (the top 24 bits of its Philox word: the shader's `unit`) is below
/// `keep`, else 0. Compared as integers: `bits / 2^24 < keep` exactly when
/// `bits < ceil(keep * 2^24)`.
///
/// With `product = Some((x, y))` (slices as long as `out`) it also writes `y = x * mask`
/// while the block of the mask is still in registers: dropout in one pass.
#[inline(always)]
fn mask_run(out: &mut [f32], start: usize, key: [u32; 2], keep: f32, scale: f32, mut product: Option<(&[f32], &mut [f32])>) {
    let limit = (keep as f64 * (1u64 << 24) as f64).ceil().min(u32::MAX as f64) as u32;
    for (b, chunk) in out.chunks_mut(BLOCK).enumerate() {
        // Counters wrap at 2^32 (4 * 2^32 elements), as the shader's u32 counter does.
        let first = ((start / 4) as u32).wrapping_add((b * LANES) as u32);
        let mut counters = [[0u64; PAIRS]; 4];
        for (j, x) in counters[0].iter_mut().enumerate() {
            let t = first.wrapping_add(2 * j as u32);
            *x = t as u64 | (t.wrapping_add(1) as u64) << 32;
        }
        let words = philox(counters, key);
        let mut v = [0f32; BLOCK];
        for j in 0..PAIRS {
            for (w, word) in words.iter().enumerate() {
                let (even, odd) = (word[j] as u32, (word[j] >> 32) as u32);
                v[8 * j + w] = if (even >> 8) < limit { scale } else { 0.0 };
                v[8 * j + 4 + w] = if (odd >> 8) < limit { scale } else { 0.0 };
            }
        }
        match <&mut [f32; BLOCK]>::try_from(&mut *chunk) {
            Ok(whole) => *whole = v, // a fixed-size copy: vector stores, not a memcpy call
            Err(_) => chunk.copy_from_slice(&v[..chunk.len()]),
        }
        if let Some((x, y)) = product.as_mut() {
            let lo = b * BLOCK;
            let len = chunk.len();
            y[lo..lo + len].iter_mut().zip(&x[lo..lo + len]).zip(&v).for_each(|((y, &x), &m)| *y = x * m);
        }
    }
}

fn mask_run_dispatch(out: &mut [f32], start: usize, key: [u32; 2], keep: f32, scale: f32, product: Option<(&[f32], &mut [f32])>) {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512(out: &mut [f32], start: usize, key: [u32; 2], keep: f32, scale: f32, product: Option<(&[f32], &mut [f32])>) {
            mask_run(out, start, key, keep, scale, product)
        }
        #[target_feature(enable = "avx2")]
        unsafe fn avx2(out: &mut [f32], start: usize, key: [u32; 2], keep: f32, scale: f32, product: Option<(&[f32], &mut [f32])>) {
            mask_run(out, start, key, keep, scale, product)
        }
        match super::isa::active() {
            // SAFETY: the CPU has the features each function is compiled for.
            super::isa::Isa::Avx512 => return unsafe { avx512(out, start, key, keep, scale, product) },
            super::isa::Isa::Avx2 => return unsafe { avx2(out, start, key, keep, scale, product) },
            super::isa::Isa::Baseline => {}
        }
    }
    mask_run(out, start, key, keep, scale, product)
}

/// The key of one mask: one draw from `gen`.
fn mask_key(gen: &Generator) -> [u32; 2] {
    let key = gen.with(|r| r.next_u64());
    [key as u32, (key >> 32) as u32]
}

/// A float32 dropout mask of `n` elements keyed by one draw from `gen` (module docs).
pub fn dropout_mask_f32(gen: &Generator, n: usize, keep: f32, scale: f32) -> Result<Vec<f32>> {
    let key = mask_key(gen);
    let mut out = buffer::with_capacity::<f32>(n, &[n], "dropout")?;
    let dst = SendPtr(out.as_mut_ptr());
    // Parts start at multiples of 64 elements, so at whole Philox counters.
    super::for_chunks(n, |start, len| {
        // SAFETY: the parts write disjoint ranges of the buffer's capacity of n elements.
        let part = unsafe { std::slice::from_raw_parts_mut(dst.get().add(start), len) };
        mask_run_dispatch(part, start, key, keep, scale, None);
    });
    // SAFETY: the parts wrote all n elements.
    unsafe { out.set_len(n) };
    Ok(out)
}

/// Dropout of the float32 elements `x` in one pass: `(x * mask, mask)`, the mask the one
/// `dropout_mask_f32` draws from `gen` (so the same numbers as the mask and a product made
/// apart), without writing the mask out and reading it back for the product.
pub fn dropout_f32(gen: &Generator, x: &[f32], keep: f32, scale: f32) -> Result<(Vec<f32>, Vec<f32>)> {
    let n = x.len();
    let key = mask_key(gen);
    let mut mask = buffer::with_capacity::<f32>(n, &[n], "dropout")?;
    let mut out = buffer::with_capacity::<f32>(n, &[n], "dropout")?;
    let (m, y) = (SendPtr(mask.as_mut_ptr()), SendPtr(out.as_mut_ptr()));
    super::for_chunks(n, |start, len| {
        // SAFETY: the parts write disjoint ranges of the two buffers' capacities of n elements.
        let (mpart, ypart) = unsafe { (std::slice::from_raw_parts_mut(m.get().add(start), len), std::slice::from_raw_parts_mut(y.get().add(start), len)) };
        mask_run_dispatch(mpart, start, key, keep, scale, Some((&x[start..start + len], ypart)));
    });
    // SAFETY: the parts wrote all n elements of both.
    unsafe {
        mask.set_len(n);
        out.set_len(n);
    }
    Ok((out, mask))
}

/// `(x * mask, mask)` for a contiguous float32 `x`: `dropout_f32` on its elements.
pub fn dropout(x: &Tensor, keep: f64, scale: f64, gen: &Generator) -> Result<(Tensor, Tensor)> {
    let n = x.numel();
    let xs = &x.cpu_storage("dropout")?.as_slice::<f32>()[x.layout().offset()..x.layout().offset() + n];
    let (out, mask) = dropout_f32(gen, xs, keep as f32, scale as f32)?;
    Ok((Tensor::from_vec(out, x.shape())?, Tensor::from_vec(mask, x.shape())?))
}

pub fn sample(shape: &[usize], dist: Distribution, dtype: DType, gen: &Generator) -> Result<Tensor> {
    if !dtype.is_float() {
        return Err(dtype_err!("random sampling: expected a float dtype, got {}", dtype.name()));
    }
    let n = crate::tensor::checked_numel(shape, "random")?;
    let uniform = |low: f64, high: f64| -> Result<Tensor> {
        match dtype {
            DType::F32 => Tensor::from_vec(random::uniform_f32(gen, n, low as f32, high as f32)?, shape),
            _ => Tensor::from_vec(random::uniform_f64(gen, n, low, high)?, shape),
        }
    };
    match dist {
        Distribution::Uniform { low, high } => uniform(low, high),
        Distribution::Normal { mean, std } => {
            let t = Tensor::from_vec(random::normal_f64(gen, n, mean, std)?, shape)?;
            super::copy::cast(&t, dtype)
        }
        Distribution::Bernoulli { keep, scale } => match dtype {
            DType::F32 => Tensor::from_vec(dropout_mask_f32(gen, n, keep as f32, scale as f32)?, shape),
            _ => Tensor::from_vec(random::dropout_mask_f64(gen, n, keep, scale)?, shape),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Random123's known answers for Philox4x32-10 (its `kat_vectors`).
    #[test]
    fn philox_gives_the_reference_words() {
        let cases = [
            ([0u32; 4], [0u32; 2], [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8]),
            ([u32::MAX; 4], [u32::MAX; 2], [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd]),
            (
                [0x243f_6a88, 0x85a3_08d3, 0x1319_8a2e, 0x0370_7344],
                [0xa409_3822, 0x299f_31d0],
                [0xd16c_fe09, 0x94fd_cceb, 0x5001_e420, 0x2412_6ea1],
            ),
        ];
        for (counter, key, expected) in cases {
            let c = counter.map(|w| [w as u64 | (w as u64) << 32; PAIRS]);
            let out = philox(c, key);
            for j in 0..PAIRS {
                for half in [0, 32] {
                    assert_eq!(out.map(|w| (w[j] >> half) as u32), expected);
                }
            }
        }
    }

    #[test]
    fn masks_do_not_depend_on_how_the_work_is_split() {
        let g = Generator::new(5);
        let n = 3 * crate::cpu::PARALLEL_THRESHOLD + 17;
        let whole = dropout_mask_f32(&g, n, 0.6, 2.5).unwrap();
        g.manual_seed(5);
        let key = g.with(|r| r.next_u64());
        let key = [key as u32, (key >> 32) as u32];
        let mut pieces = vec![0f32; n];
        for (i, piece) in pieces.chunks_mut(7 * BLOCK + 4).enumerate() {
            mask_run(piece, i * (7 * BLOCK + 4), key, 0.6, 2.5, None);
        }
        assert_eq!(whole, pieces);
        assert!(whole.iter().all(|&m| m == 0.0 || m == 2.5));
        let kept = whole.iter().filter(|&&m| m != 0.0).count() as f64 / n as f64;
        assert!((kept - 0.6).abs() < 0.01, "kept {kept}");
        assert!(dropout_mask_f32(&g, 0, 0.5, 2.0).unwrap().is_empty());
        assert_ne!(dropout_mask_f32(&g, 64, 0.5, 2.0).unwrap(), dropout_mask_f32(&g, 64, 0.5, 2.0).unwrap());
    }

    #[test]
    fn one_pass_dropout_is_the_mask_and_the_product_made_apart() {
        let g = Generator::new(9);
        for n in [0, 1, 130, 3 * crate::cpu::PARALLEL_THRESHOLD + 17] {
            let x: Vec<f32> = (0..n).map(|i| if i % 97 == 5 { f32::NAN } else { (i as f32 * 0.37).sin() * 3.0 }).collect();
            g.manual_seed(3);
            let (y, mask) = dropout_f32(&g, &x, 0.6, 2.5).unwrap();
            g.manual_seed(3);
            assert_eq!(mask, dropout_mask_f32(&g, n, 0.6, 2.5).unwrap());
            let apart: Vec<u32> = x.iter().zip(&mask).map(|(x, m)| (x * m).to_bits()).collect();
            assert_eq!(y.iter().map(|v| v.to_bits()).collect::<Vec<_>>(), apart);
        }
    }
}
