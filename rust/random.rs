//! The global random generator (xoshiro256++), seeded by `manual_seed` or from the clock.

use crate::alloc::buffer;
use crate::error::Result;
use parking_lot::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

#[derive(Clone)]
pub struct Rng {
    s: [u64; 4],
}

fn splitmix64(x: &mut u64) -> u64 {
    *x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = *x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Rng {
    pub fn seeded(seed: u64) -> Rng {
        let mut x = seed;
        Rng { s: [splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x), splitmix64(&mut x)] }
    }

    #[inline]
    pub fn next_u64(&mut self) -> u64 {
        let s = &mut self.s;
        let result = s[0].wrapping_add(s[3]).rotate_left(23).wrapping_add(s[0]);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        result
    }

    /// Uniform in [0, 1) with 53 bits.
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 * (1.0 / (1u64 << 53) as f64)
    }

    /// Two uniforms in [0, 1) with 24 bits each, from one draw.
    #[inline]
    pub fn next_f32_pair(&mut self) -> (f32, f32) {
        let r = self.next_u64();
        let scale = 1.0 / (1u32 << 24) as f32;
        (((r >> 40) as u32) as f32 * scale, (((r >> 8) & 0xFF_FFFF) as u32) as f32 * scale)
    }

    /// Standard normal pairs by Box-Muller.
    #[inline]
    pub fn next_normal_pair(&mut self) -> (f64, f64) {
        let u1 = 1.0 - self.next_f64(); // (0, 1]
        let u2 = self.next_f64();
        let r = (-2.0 * u1.ln()).sqrt();
        let t = 2.0 * std::f64::consts::PI * u2;
        (r * t.cos(), r * t.sin())
    }

    /// Uniform integer in [low, high) without modulo bias (Lemire's method).
    #[inline]
    pub fn next_below(&mut self, range: u64) -> u64 {
        let mut m = (self.next_u64() as u128) * (range as u128);
        let mut l = m as u64;
        if l < range {
            let t = range.wrapping_neg() % range;
            while l < t {
                m = (self.next_u64() as u128) * (range as u128);
                l = m as u64;
            }
        }
        (m >> 64) as u64
    }
}

static GLOBAL: Mutex<Option<Rng>> = Mutex::new(None);

fn clock_seed() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0x5EED)
}

/// Runs `f` with the global generator.
pub fn with_rng<R>(f: impl FnOnce(&mut Rng) -> R) -> R {
    let mut g = GLOBAL.lock();
    f(g.get_or_insert_with(|| Rng::seeded(clock_seed())))
}

pub fn manual_seed(seed: u64) {
    *GLOBAL.lock() = Some(Rng::seeded(seed));
}

/// Room for `n` draws (one spare: pairs are generated two at a time), fallibly.
fn draws<T>(n: usize, op: &str) -> Result<Vec<T>> {
    buffer::with_capacity(n.saturating_add(1), &[n], op)
}

pub fn uniform_f32(n: usize, low: f32, high: f32) -> Result<Vec<f32>> {
    let mut v = draws(n, "rand")?;
    with_rng(|r| {
        while v.len() < n {
            let (a, b) = r.next_f32_pair();
            v.push(low + (high - low) * a);
            v.push(low + (high - low) * b);
        }
    });
    v.truncate(n);
    Ok(v)
}

/// A dropout mask in one pass: each element is `scale` where a uniform draw falls below
/// `keep`, else 0. The draws are those of `uniform_f32(n, 0, 1)` (24-bit fractions, two per
/// 64-bit output), compared as integers, so a seed gives the same mask as comparing those
/// uniforms with `keep`.
pub fn dropout_mask_f32(n: usize, keep: f32, scale: f32) -> Result<Vec<f32>> {
    // u < keep for u = bits / 2^24  <=>  bits < keep * 2^24  <=>  bits < ceil(keep * 2^24)
    let limit = (keep as f64 * (1u64 << 24) as f64).ceil() as i32;
    // Two simple passes: draws (the generator state kept in registers), then a branch-free
    // compare-and-scale that vectorises; a branch on a random outcome mispredicts often.
    let mut bits = buffer::zeroed::<i32>(n, &[n], "dropout")?;
    let mut out = draws(n, "dropout")?;
    with_rng(|global| {
        let mut r = global.clone();
        let mut pairs = bits.chunks_exact_mut(2);
        for pair in &mut pairs {
            let bits = r.next_u64();
            pair[0] = (bits >> 40) as i32;
            pair[1] = ((bits >> 8) & 0xFF_FFFF) as i32;
        }
        if let [last] = pairs.into_remainder() {
            *last = (r.next_u64() >> 40) as i32;
        }
        *global = r;
    });
    out.extend(bits.iter().map(|&d| scale * ((d < limit) as i32 as f32)));
    Ok(out)
}

/// `dropout_mask_f32` in double precision (draws of `uniform_f64`).
pub fn dropout_mask_f64(n: usize, keep: f64, scale: f64) -> Result<Vec<f64>> {
    let mut v = draws(n, "dropout")?;
    with_rng(|r| v.extend((0..n).map(|_| if r.next_f64() < keep { scale } else { 0.0 })));
    Ok(v)
}

pub fn uniform_f64(n: usize, low: f64, high: f64) -> Result<Vec<f64>> {
    let mut v = draws(n, "rand")?;
    with_rng(|r| v.extend((0..n).map(|_| low + (high - low) * r.next_f64())));
    Ok(v)
}

pub fn normal_f64(n: usize, mean: f64, std: f64) -> Result<Vec<f64>> {
    let mut v = draws(n, "randn")?;
    with_rng(|r| {
        while v.len() < n {
            let (a, b) = r.next_normal_pair();
            v.push(mean + std * a);
            v.push(mean + std * b);
        }
    });
    v.truncate(n);
    Ok(v)
}

/// `n` integers uniform in `low..high` (`low < high`; the whole int64 range works).
pub fn randint(n: usize, low: i64, high: i64) -> Result<Vec<i64>> {
    let range = high.wrapping_sub(low) as u64;
    let mut v = draws(n, "randint")?;
    with_rng(|r| v.extend((0..n).map(|_| low.wrapping_add(r.next_below(range) as i64))));
    Ok(v)
}

/// A random permutation of 0..n (Fisher-Yates).
pub fn permutation(n: usize) -> Result<Vec<i64>> {
    let mut v = draws(n, "randperm")?;
    v.extend(0..n as i64);
    with_rng(|r| {
        for i in (1..n).rev() {
            let j = r.next_below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    });
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_reproducible_and_ranges_hold() {
        manual_seed(7);
        let a = uniform_f32(1001, -1.0, 1.0).unwrap();
        manual_seed(7);
        let b = uniform_f32(1001, -1.0, 1.0).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| (-1.0..1.0).contains(&x)));
        let ints = randint(10_000, -3, 4).unwrap();
        assert!(ints.iter().all(|&x| (-3..4).contains(&x)));
        assert!((-3..4).all(|k| ints.contains(&k)));
        let n = normal_f64(100_000, 0.0, 1.0).unwrap();
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let var = n.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.len() as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02);
        manual_seed(3);
        let u = uniform_f32(1001, 0.0, 1.0).unwrap();
        manual_seed(3);
        let mask = dropout_mask_f32(1001, 0.6, 2.5).unwrap();
        assert!(u.iter().zip(&mask).all(|(&u, &m)| m == if u < 0.6 { 2.5 } else { 0.0 }));
        let mut p = permutation(100).unwrap();
        let extremes = randint(1000, i64::MIN, i64::MAX).unwrap();
        assert!(extremes.iter().any(|&x| x < 0) && extremes.iter().any(|&x| x > 0));
        assert!(matches!(permutation(1 << 62), Err(crate::error::Error::Memory(_))));
        p.sort();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }
}
