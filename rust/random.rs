//! Random generators (xoshiro256++): the global one, seeded by `manual_seed` or from the
//! clock, and private ones (`backprop.Generator`). A `Generator` is a shared handle: clones
//! draw from one stream, as PyTorch's generator objects do. The samplers here fill host
//! buffers; the GPU draws a Philox key from the same generator instead.

use crate::alloc::buffer;
use crate::error::{value_err, Result};
use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// The seed of a new `Generator()`, PyTorch's `default_rng_seed_val`.
pub const DEFAULT_SEED: u64 = 67280421310721;

/// How many 64-bit words `Generator::state` holds: the four of xoshiro, then the initial seed.
pub const STATE_WORDS: usize = 5;

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

struct State {
    rng: Rng,
    initial_seed: u64,
}

/// A random stream: a shared handle, so every clone draws from (and advances) the same state.
#[derive(Clone)]
pub struct Generator(Arc<Mutex<State>>);

/// A seed nobody chose: the clock mixed with a process-wide counter, so two seeds taken in
/// the same nanosecond still differ.
pub fn nondeterministic_seed() -> u64 {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0x5EED);
    let mut x = nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    // One more splitmix round keeps the low (fast-changing) clock bits from showing through;
    // a 63-bit value matches what PyTorch's `seed()` hands out.
    splitmix64(&mut x) >> 1
}

impl Generator {
    pub fn new(seed: u64) -> Generator {
        Generator(Arc::new(Mutex::new(State { rng: Rng::seeded(seed), initial_seed: seed })))
    }

    /// Restarts the stream from `seed`.
    pub fn manual_seed(&self, seed: u64) {
        *self.0.lock() = State { rng: Rng::seeded(seed), initial_seed: seed };
    }

    /// Reseeds from a nondeterministic seed and returns it.
    pub fn seed(&self) -> u64 {
        let s = nondeterministic_seed();
        self.manual_seed(s);
        s
    }

    pub fn initial_seed(&self) -> u64 {
        self.0.lock().initial_seed
    }

    /// The whole state: restoring it with `set_state` replays the same numbers.
    pub fn state(&self) -> [u64; STATE_WORDS] {
        let st = self.0.lock();
        let [a, b, c, d] = st.rng.s;
        [a, b, c, d, st.initial_seed]
    }

    pub fn set_state(&self, words: &[u64]) -> Result<()> {
        let [a, b, c, d, seed] = <[u64; STATE_WORDS]>::try_from(words).map_err(|_| {
            value_err!("set_state: expected a state of {STATE_WORDS} words (as get_state returns), got {}", words.len())
        })?;
        if [a, b, c, d] == [0; 4] {
            return Err(value_err!("set_state: an all-zero xoshiro state is invalid (the generator would only produce zeros)"));
        }
        *self.0.lock() = State { rng: Rng { s: [a, b, c, d] }, initial_seed: seed };
        Ok(())
    }

    /// Runs `f` with the stream's generator (locked for the duration).
    pub fn with<R>(&self, f: impl FnOnce(&mut Rng) -> R) -> R {
        f(&mut self.0.lock().rng)
    }
}

/// The default generator, seeded nondeterministically at first use (as PyTorch's is).
pub fn global() -> &'static Generator {
    static GLOBAL: OnceLock<Generator> = OnceLock::new();
    GLOBAL.get_or_init(|| Generator::new(nondeterministic_seed()))
}

pub fn manual_seed(seed: u64) {
    global().manual_seed(seed);
}

/// Room for `n` draws (one spare: pairs are generated two at a time), fallibly.
fn draws<T>(n: usize, op: &str) -> Result<Vec<T>> {
    buffer::with_capacity(n.saturating_add(1), &[n], op)
}

pub fn uniform_f32(g: &Generator, n: usize, low: f32, high: f32) -> Result<Vec<f32>> {
    let mut v = draws(n, "rand")?;
    g.with(|r| {
        while v.len() < n {
            let (a, b) = r.next_f32_pair();
            v.push(low + (high - low) * a);
            v.push(low + (high - low) * b);
        }
    });
    v.truncate(n);
    Ok(v)
}

/// A float64 dropout mask: `scale` where a draw of `uniform_f64` falls below `keep`, else 0.
/// (float32 masks are counter-based, made in parallel: `cpu::random`.)
pub fn dropout_mask_f64(g: &Generator, n: usize, keep: f64, scale: f64) -> Result<Vec<f64>> {
    let mut v = draws(n, "dropout")?;
    g.with(|r| v.extend((0..n).map(|_| if r.next_f64() < keep { scale } else { 0.0 })));
    Ok(v)
}

pub fn uniform_f64(g: &Generator, n: usize, low: f64, high: f64) -> Result<Vec<f64>> {
    let mut v = draws(n, "rand")?;
    g.with(|r| v.extend((0..n).map(|_| low + (high - low) * r.next_f64())));
    Ok(v)
}

pub fn normal_f64(g: &Generator, n: usize, mean: f64, std: f64) -> Result<Vec<f64>> {
    let mut v = draws(n, "randn")?;
    g.with(|r| {
        while v.len() < n {
            let (a, b) = r.next_normal_pair();
            v.push(mean + std * a);
            v.push(mean + std * b);
        }
    });
    v.truncate(n);
    Ok(v)
}

/// `f(u)` for `n` uniforms `u` in [0, 1): the inverse-CDF samplers (exponential, Cauchy,
/// geometric) in one place.
pub fn from_uniform(g: &Generator, n: usize, op: &str, f: impl Fn(f64) -> f64) -> Result<Vec<f64>> {
    let mut v = draws(n, op)?;
    g.with(|r| v.extend((0..n).map(|_| f(r.next_f64()))));
    Ok(v)
}

/// One Bernoulli draw per probability: 1 with probability `p`, else 0.
pub fn bernoulli(g: &Generator, probs: &[f64]) -> Result<Vec<f64>> {
    let mut v = draws(probs.len(), "bernoulli")?;
    g.with(|r| v.extend(probs.iter().map(|&p| (r.next_f64() < p) as u8 as f64)));
    Ok(v)
}

/// `n` integers uniform in `low..high` (`low < high`; the whole int64 range works).
pub fn randint(g: &Generator, n: usize, low: i64, high: i64) -> Result<Vec<i64>> {
    let range = high.wrapping_sub(low) as u64;
    let mut v = draws(n, "randint")?;
    g.with(|r| v.extend((0..n).map(|_| low.wrapping_add(r.next_below(range) as i64))));
    Ok(v)
}

/// A random permutation of 0..n (Fisher-Yates).
pub fn permutation(g: &Generator, n: usize) -> Result<Vec<i64>> {
    let mut v = draws(n, "randperm")?;
    v.extend(0..n as i64);
    g.with(|r| {
        for i in (1..n).rev() {
            let j = r.next_below(i as u64 + 1) as usize;
            v.swap(i, j);
        }
    });
    Ok(v)
}

/// ln Γ(x) for x >= 1 (Stirling's series after shifting x to 7 or more), as NumPy's
/// Poisson sampler uses it.
fn ln_gamma(x: f64) -> f64 {
    const A: [f64; 10] = [
        8.333333333333333e-02,
        -2.777777777777778e-03,
        7.936507936507937e-04,
        -5.952380952380952e-04,
        8.417508417508418e-04,
        -1.917526917526918e-03,
        6.410256410256410e-03,
        -2.955065359477124e-02,
        1.796443723688307e-01,
        -1.39243221690590e+00,
    ];
    if x == 1.0 || x == 2.0 {
        return 0.0;
    }
    let shift = if x < 7.0 { (7.0 - x.floor()) as i32 } else { 0 };
    let x0 = x + shift as f64;
    let x2 = 1.0 / (x0 * x0);
    let mut gl0 = A[9];
    for k in (0..9).rev() {
        gl0 = gl0 * x2 + A[k];
    }
    let mut gl = gl0 / x0 + 0.5 * (2.0 * std::f64::consts::PI).ln() + (x0 - 0.5) * x0.ln() - x0;
    let mut xs = x0;
    for _ in 0..shift {
        xs -= 1.0;
        gl -= xs.ln();
    }
    gl
}

/// One Poisson draw: multiplication of uniforms for small rates, Hörmann's transformed
/// rejection (PTRS, 1993) from rate 10 on.
fn poisson_one(r: &mut Rng, lam: f64) -> f64 {
    if lam == 0.0 {
        return 0.0;
    }
    if lam < 10.0 {
        let limit = (-lam).exp();
        let mut prod = r.next_f64();
        let mut k = 0.0;
        while prod > limit {
            prod *= r.next_f64();
            k += 1.0;
        }
        return k;
    }
    let slam = lam.sqrt();
    let loglam = lam.ln();
    let b = 0.931 + 2.53 * slam;
    let a = -0.059 + 0.02483 * b;
    let invalpha = 1.1239 + 1.1328 / (b - 3.4);
    let vr = 0.9277 - 3.6224 / (b - 2.0);
    loop {
        let u = r.next_f64() - 0.5;
        let v = r.next_f64();
        let us = 0.5 - u.abs();
        let k = ((2.0 * a / us + b) * u + lam + 0.43).floor();
        if us >= 0.07 && v <= vr {
            return k;
        }
        if k < 0.0 || (us < 0.013 && v > us) {
            continue;
        }
        if (v * invalpha / (a / (us * us) + b)).ln() <= -lam + k * loglam - ln_gamma(k + 1.0) {
            return k;
        }
    }
}

/// One Poisson draw per rate (each rate finite and >= 0, checked by the caller).
pub fn poisson(g: &Generator, rates: &[f64]) -> Result<Vec<f64>> {
    let mut v = draws(rates.len(), "poisson")?;
    g.with(|r| v.extend(rates.iter().map(|&lam| poisson_one(r, lam))));
    Ok(v)
}

/// `samples` category indices for each row of `probs` (`rows` x `cols`, weights finite and
/// >= 0 with a positive sum per row, checked by the caller). With replacement: inverse CDF
/// by binary search. Without: the exponential race (the `samples` smallest of E_i / p_i, E_i
/// standard exponential), which draws exactly as sequential sampling without replacement
/// does; categories of weight 0 come last, in index order, as in PyTorch.
pub fn multinomial(g: &Generator, probs: &[f64], rows: usize, cols: usize, samples: usize, replacement: bool) -> Result<Vec<i64>> {
    let total = rows.checked_mul(samples).ok_or_else(|| value_err!("multinomial: {rows} rows x {samples} samples is too many"))?;
    let mut out = buffer::with_capacity::<i64>(total, &[rows, samples], "multinomial")?;
    let mut scratch = buffer::with_capacity::<f64>(cols, &[cols], "multinomial")?;
    let mut order = buffer::with_capacity::<usize>(cols, &[cols], "multinomial")?;
    g.with(|r| {
        for row in probs.chunks_exact(cols) {
            scratch.clear();
            if replacement {
                let mut acc = 0.0;
                scratch.extend(row.iter().map(|&p| {
                    acc += p;
                    acc
                }));
                let sum = acc;
                for _ in 0..samples {
                    let u = r.next_f64() * sum;
                    // The first category whose cumulative weight exceeds u: never one of
                    // weight 0 (its cumulative value equals its predecessor's). Should
                    // rounding put u at the sum, the last category of positive weight.
                    let i = scratch.partition_point(|&c| c <= u);
                    let i = if i < cols { i } else { row.iter().rposition(|&p| p > 0.0).unwrap_or(cols - 1) };
                    out.push(i as i64);
                }
            } else {
                scratch.extend(row.iter().map(|&p| {
                    let e = -(1.0 - r.next_f64()).ln();
                    if p > 0.0 { e / p } else { f64::INFINITY }
                }));
                order.clear();
                order.extend(0..cols);
                order.sort_by(|&a, &b| scratch[a].total_cmp(&scratch[b]).then(a.cmp(&b)));
                out.extend(order[..samples].iter().map(|&i| i as i64));
            }
        }
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeding_is_reproducible_and_ranges_hold() {
        let g = Generator::new(7);
        let a = uniform_f32(&g, 1001, -1.0, 1.0).unwrap();
        g.manual_seed(7);
        let b = uniform_f32(&g, 1001, -1.0, 1.0).unwrap();
        assert_eq!(a, b);
        assert!(a.iter().all(|&x| (-1.0..1.0).contains(&x)));
        let ints = randint(&g, 10_000, -3, 4).unwrap();
        assert!(ints.iter().all(|&x| (-3..4).contains(&x)));
        assert!((-3..4).all(|k| ints.contains(&k)));
        let n = normal_f64(&g, 100_000, 0.0, 1.0).unwrap();
        let mean = n.iter().sum::<f64>() / n.len() as f64;
        let var = n.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / n.len() as f64;
        assert!(mean.abs() < 0.02 && (var - 1.0).abs() < 0.02);
        let mut p = permutation(&g, 100).unwrap();
        let extremes = randint(&g, 1000, i64::MIN, i64::MAX).unwrap();
        assert!(extremes.iter().any(|&x| x < 0) && extremes.iter().any(|&x| x > 0));
        assert!(matches!(permutation(&g, 1 << 62), Err(crate::error::Error::Memory(_))));
        p.sort();
        assert_eq!(p, (0..100).collect::<Vec<_>>());
    }

    #[test]
    fn state_round_trips_and_clones_share_a_stream() {
        let g = Generator::new(11);
        let saved = g.state();
        assert_eq!(saved[4], 11);
        let a = uniform_f64(&g, 5, 0.0, 1.0).unwrap();
        g.set_state(&saved).unwrap();
        assert_eq!(uniform_f64(&g, 5, 0.0, 1.0).unwrap(), a);
        let h = g.clone();
        let next = uniform_f64(&h, 1, 0.0, 1.0).unwrap();
        g.set_state(&saved).unwrap();
        uniform_f64(&g, 5, 0.0, 1.0).unwrap();
        assert_eq!(uniform_f64(&g, 1, 0.0, 1.0).unwrap(), next);
        assert!(g.set_state(&[0; 5]).is_err() && g.set_state(&[1; 4]).is_err());
        assert_ne!(nondeterministic_seed(), nondeterministic_seed());
    }

    #[test]
    fn ln_gamma_matches_factorials() {
        let mut f = 1.0f64;
        for k in 1..30 {
            f *= k as f64;
            assert!((ln_gamma(k as f64 + 1.0) - f.ln()).abs() < 1e-9 * f.ln().max(1.0), "k={k}");
        }
    }

    #[test]
    fn poisson_and_multinomial_moments() {
        let g = Generator::new(5);
        for lam in [0.5, 4.0, 30.0, 1000.0] {
            let v = poisson(&g, &vec![lam; 40_000]).unwrap();
            let mean = v.iter().sum::<f64>() / v.len() as f64;
            let var = v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / v.len() as f64;
            assert!((mean - lam).abs() < 0.05 * lam.sqrt() + 0.02, "lam={lam} mean={mean}");
            assert!((var / lam - 1.0).abs() < 0.06, "lam={lam} var={var}");
        }
        let probs = [0.0, 1.0, 3.0, 0.0];
        let with = multinomial(&g, &probs, 1, 4, 40_000, true).unwrap();
        assert!(with.iter().all(|&i| i == 1 || i == 2));
        let threes = with.iter().filter(|&&i| i == 2).count() as f64 / 40_000.0;
        assert!((threes - 0.75).abs() < 0.01);
        let without = multinomial(&g, &probs, 1, 4, 4, false).unwrap();
        assert_eq!(&without[2..], &[0, 3]);
        let mut firsts = without[..2].to_vec();
        firsts.sort();
        assert_eq!(firsts, [1, 2]);
    }
}
