//! Random sampling: the factories (`rand`, `randn`, `randint`, `randperm`), the in-place
//! samplers' distributions (exponential, Cauchy, log-normal, geometric, integers) and the
//! tensor-parameterised ones (`normal`, `bernoulli`, `poisson`, `multinomial`). Every function
//! takes the generator it draws from. Uniform and normal samples are generated on the
//! tensor's device; the others are drawn on the host from the same generator and moved, so a
//! seed gives the same numbers on either device. Samples carry no gradient.

use super::creation::place;
use crate::autograd::GradModeGuard;
use crate::backend::{self, Distribution};
use crate::error::{dtype_err, value_err, Result, ShapeDisplay};
use crate::random::{self, Generator};
use crate::tensor::{broadcast_shapes, checked_numel, DType, Device, Tensor};

fn check_float(dtype: DType, op: &str) -> Result<()> {
    if !dtype.is_float() {
        return Err(dtype_err!("{op}: expected a float dtype, got {}", dtype.name()));
    }
    Ok(())
}

/// Uniform samples in [low, high), generated on `device`.
pub fn rand_uniform(shape: &[usize], low: f64, high: f64, dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    check_float(dtype, "rand")?;
    checked_numel(shape, "rand")?;
    backend::random(shape, Distribution::Uniform { low, high }, dtype, device, gen)
}

/// Normal samples, generated on `device`.
pub fn rand_normal(shape: &[usize], mean: f64, std: f64, dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    check_float(dtype, "randn")?;
    checked_numel(shape, "randn")?;
    if std < 0.0 || std.is_nan() {
        return Err(value_err!("normal: expects std >= 0.0, but found std {std}"));
    }
    backend::random(shape, Distribution::Normal { mean, std }, dtype, device, gen)
}

/// Integers uniform in `low..high`, as int64.
pub fn randint(low: i64, high: i64, shape: &[usize], device: Device, gen: &Generator) -> Result<Tensor> {
    if high <= low {
        return Err(value_err!("randint: low ({low}) must be smaller than high ({high}), e.g. randint(0, 10, (3,))"));
    }
    place(Tensor::from_vec(random::randint(gen, checked_numel(shape, "randint")?, low, high)?, shape)?, device)
}

/// Integers uniform in `low..high` as `dtype`: `randint_like` and `Tensor.random_`.
pub fn randint_as(low: i64, high: i64, shape: &[usize], dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    if high <= low {
        return Err(value_err!("random_: expects 'from' ({low}) to be less than 'to' ({high})"));
    }
    let t = Tensor::from_vec(random::randint(gen, checked_numel(shape, "randint")?, low, high)?, shape)?;
    place(backend::cast(&t, dtype)?, device)
}

pub fn randperm(n: usize, device: Device, gen: &Generator) -> Result<Tensor> {
    checked_numel(&[n], "randperm")?;
    place(Tensor::from_vec(random::permutation(gen, n)?, &[n])?, device)
}

/// Host samples (float64) as a `dtype` tensor of `shape` on `device`.
fn from_host(values: Vec<f64>, shape: &[usize], dtype: DType, device: Device) -> Result<Tensor> {
    place(backend::cast(&Tensor::from_vec(values, shape)?, dtype)?, device)
}

/// The elements of `t` on the host as float64, for samplers parameterised by a tensor.
fn host_values(t: &Tensor) -> Result<Vec<f64>> {
    backend::to_vec::<f64>(&backend::cast(&backend::to_cpu(t)?, DType::F64)?)
}

/// The distributions of the in-place samplers that draw one uniform per element.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum InverseCdf {
    /// Rate `lambd` > 0: -ln(1 - u) / lambd.
    Exponential { lambd: f64 },
    /// median + sigma * tan(pi (u - 1/2)).
    Cauchy { median: f64, sigma: f64 },
    /// Trials to the first success, p in (0, 1): ceil(ln(1 - u) / ln(1 - p)), at least 1.
    Geometric { p: f64 },
}

/// Samples of an inverse-CDF distribution as `dtype` on `device`.
pub fn sample_inverse_cdf(shape: &[usize], dist: InverseCdf, dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    let n = checked_numel(shape, "random")?;
    let values = match dist {
        InverseCdf::Exponential { lambd } => {
            if !(lambd > 0.0) {
                return Err(value_err!("exponential_: expects lambda > 0.0, but found lambda={lambd}"));
            }
            check_float(dtype, "exponential_")?;
            random::from_uniform(gen, n, "exponential_", |u| -(-u).ln_1p() / lambd)?
        }
        InverseCdf::Cauchy { median, sigma } => {
            if !(sigma > 0.0) {
                return Err(value_err!("cauchy_: expects sigma > 0.0, but found sigma={sigma}"));
            }
            check_float(dtype, "cauchy_")?;
            random::from_uniform(gen, n, "cauchy_", |u| median + sigma * (std::f64::consts::PI * (u - 0.5)).tan())?
        }
        InverseCdf::Geometric { p } => {
            if !(p > 0.0 && p < 1.0) {
                return Err(value_err!("geometric_: expects p to be in (0, 1), but got p={p}"));
            }
            if dtype == DType::Bool {
                return Err(dtype_err!("geometric_: not implemented for bool tensors"));
            }
            let denom = (-p).ln_1p();
            random::from_uniform(gen, n, "geometric_", |u| ((-u).ln_1p() / denom).ceil().max(1.0))?
        }
    };
    from_host(values, shape, dtype, device)
}

/// exp of normal samples with this mean and std (std > 0), as `dtype` on `device`.
pub fn log_normal(shape: &[usize], mean: f64, std: f64, dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    if !(std > 0.0) {
        return Err(value_err!("log_normal_: expects std > 0.0, but found std={std}"));
    }
    check_float(dtype, "log_normal_")?;
    let mut v = random::normal_f64(gen, checked_numel(shape, "log_normal_")?, mean, std)?;
    v.iter_mut().for_each(|x| *x = x.exp());
    from_host(v, shape, dtype, device)
}

fn check_probabilities(p: &[f64], op: &str) -> Result<()> {
    match p.iter().find(|&&x| !(0.0..=1.0).contains(&x)) {
        Some(bad) => Err(value_err!("{op}: expects every probability p to satisfy 0 <= p <= 1, got {bad}")),
        None => Ok(()),
    }
}

/// 0/1 samples of `shape` as `dtype`, each 1 with probability `p`.
pub fn bernoulli_scalar(shape: &[usize], p: f64, dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    check_probabilities(&[p], "bernoulli")?;
    let n = checked_numel(shape, "bernoulli")?;
    let v = random::from_uniform(gen, n, "bernoulli", |u| (u < p) as u8 as f64)?;
    from_host(v, shape, dtype, device)
}

/// 0/1 samples, one per element of `probs` (broadcast to `shape`), as `dtype` on `device`.
pub fn bernoulli_tensor(probs: &Tensor, shape: &[usize], dtype: DType, device: Device, gen: &Generator) -> Result<Tensor> {
    if !probs.dtype().is_float() {
        return Err(dtype_err!("bernoulli: the probabilities must be a float tensor, got {}", probs.dtype().name()));
    }
    let probs = if probs.shape() == shape { probs.clone() } else { super::expand(probs, shape)? };
    let p = host_values(&probs)?;
    check_probabilities(&p, "bernoulli")?;
    from_host(random::bernoulli(gen, &p)?, shape, dtype, device)
}

/// One Poisson sample per rate, in the rates' dtype and device.
pub fn poisson(rates: &Tensor, gen: &Generator) -> Result<Tensor> {
    if !rates.dtype().is_float() {
        return Err(dtype_err!("poisson: the rates must be a float tensor, got {}", rates.dtype().name()));
    }
    let lam = host_values(rates)?;
    if let Some(bad) = lam.iter().find(|&&l| !(l >= 0.0 && l.is_finite())) {
        return Err(value_err!("poisson: invalid Poisson rate {bad}, expected every rate to be finite and non-negative"));
    }
    from_host(random::poisson(gen, &lam)?, rates.shape(), rates.dtype(), rates.device())
}

/// `num_samples` category indices (int64) per row of the weights `probs` (1-D or 2-D).
pub fn multinomial(probs: &Tensor, num_samples: usize, replacement: bool, gen: &Generator) -> Result<Tensor> {
    let op = "multinomial";
    if !probs.dtype().is_float() {
        return Err(dtype_err!("{op}: only supports floating-point dtypes for input, got {}", probs.dtype().name()));
    }
    let (rows, cols) = match *probs.shape() {
        [c] => (1, c),
        [r, c] => (r, c),
        _ => return Err(value_err!("{op}: prob_dist must be 1 or 2 dim, got shape {}", ShapeDisplay(probs.shape()))),
    };
    if num_samples == 0 {
        return Err(value_err!("{op}: cannot sample n_sample <= 0 samples"));
    }
    if !replacement && num_samples > cols {
        return Err(value_err!(
            "{op}: cannot sample n_sample > prob_dist.size(-1) samples without replacement ({num_samples} > {cols}); pass replacement=True"
        ));
    }
    if cols == 0 && rows > 0 {
        return Err(value_err!("{op}: the distribution has no categories (shape {})", ShapeDisplay(probs.shape())));
    }
    let p = host_values(probs)?;
    if p.iter().any(|&x| !(x >= 0.0 && x.is_finite())) {
        return Err(value_err!("{op}: probability tensor contains either `inf`, `nan` or element < 0"));
    }
    if let Some(row) = p.chunks_exact(cols.max(1)).position(|row| !(row.iter().sum::<f64>() > 0.0)) {
        return Err(value_err!("{op}: invalid multinomial distribution (sum of probabilities <= 0) in row {row}"));
    }
    let out = random::multinomial(gen, &p, rows, cols, num_samples, replacement)?;
    let shape: &[usize] = if probs.ndim() == 1 { &[num_samples] } else { &[rows, num_samples] };
    place(Tensor::from_vec(out, shape)?, probs.device())
}

/// `normal(mean, std)` with tensors (either may be a 0-dim tensor standing for a number):
/// mean + std * z, broadcast, z standard normal on their device. No gradient flows to
/// `mean` or `std` (PyTorch's is zero).
pub fn normal_tensors(mean: &Tensor, std: &Tensor, gen: &Generator) -> Result<Tensor> {
    if mean.device() != std.device() {
        return Err(crate::error::Error::Device(format!(
            "normal: mean is on {} and std on {}; put both on one device",
            mean.device().name(),
            std.device().name()
        )));
    }
    let dtype = super::promote_types(mean, std);
    let dtype = if dtype.is_float() { dtype } else { DType::F32 };
    let shape = broadcast_shapes(mean.shape(), std.shape(), "normal")?;
    if host_values(std)?.iter().any(|&s| !(s >= 0.0)) {
        return Err(value_err!("normal: expects std >= 0.0, but found a negative (or NaN) std"));
    }
    let _no_grad = GradModeGuard::new(false);
    let z = rand_normal(&shape, 0.0, 1.0, dtype, mean.device(), gen)?;
    let out = super::add(&super::cast(&mean.detach(), dtype)?, &super::mul(&super::cast(&std.detach(), dtype)?, &z)?)?;
    Ok(out)
}
