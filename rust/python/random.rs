//! `backprop.Generator`, the global generator's functions (`seed`, `initial_seed`,
//! `get_rng_state`, `set_rng_state`), the tensor-parameterised samplers (`normal`,
//! `bernoulli`, `poisson`, `multinomial`) and the in-place samplers of `Tensor`
//! (`uniform_`, `normal_`, `bernoulli_`, `exponential_`, `geometric_`, `cauchy_`,
//! `log_normal_`, `random_`). Every sampler takes `generator=`.

use super::convert::{count_arg, describe, opt_device, opt_dtype, parse_device, PyDevice};
use super::tensor::{ok, PyTensor, TResult};
use crate::error::Error;
use crate::ops::{self, InverseCdf};
use crate::random::{self, Generator, STATE_WORDS};
use crate::tensor::{DType, Device, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyFloat, PyInt};

/// A random number generator: `Generator(device='cpu')`. Pass it as `generator=` to any
/// sampler to draw from a private, reproducible stream instead of the global one. A new
/// generator starts from PyTorch's default seed, 67280421310721.
#[pyclass(name = "Generator", module = "backprop", frozen)]
pub struct PyGenerator {
    pub g: Generator,
    device: Device,
    /// The global generator drives sampling on every device.
    is_default: bool,
}

impl PyGenerator {
    pub fn default_generator() -> PyGenerator {
        PyGenerator { g: random::global().clone(), device: Device::Cpu, is_default: true }
    }
}

/// A seed as PyTorch takes it: an int in [-2**63, 2**64); negative ones wrap to u64.
pub fn seed_arg(seed: &Bound<'_, PyAny>, op: &str) -> PyResult<u64> {
    if seed.is_instance_of::<PyFloat>() || !seed.is_instance_of::<PyInt>() && seed.call_method0("__index__").is_err() {
        return Err(PyTypeError::new_err(format!("{op}: the seed must be an int, got {}", describe(seed))));
    }
    if let Ok(v) = seed.extract::<u64>() {
        return Ok(v);
    }
    seed.extract::<i64>().map(|v| v as u64).map_err(|_| {
        PyValueError::new_err(format!("{op}: the seed must be in [-0x8000_0000_0000_0000, 0xffff_ffff_ffff_ffff], got {}", describe(seed)))
    })
}

/// The generator a sampler draws from: `generator=` or, when absent, the global one. A
/// private generator must belong to the device the samples are made on (as in PyTorch).
pub fn gen_arg(generator: Option<&Bound<'_, PyAny>>, device: Device, op: &str) -> PyResult<Generator> {
    let Some(obj) = generator.filter(|g| !g.is_none()) else {
        return Ok(random::global().clone());
    };
    let g = obj
        .cast::<PyGenerator>()
        .map_err(|_| PyTypeError::new_err(format!("{op}: generator must be a backprop.Generator or None, got {}", describe(obj))))?
        .get();
    if !g.is_default && g.device != device {
        return Err(Error::Device(format!(
            "{op}: expected a '{}' device type for generator but found '{}'; make it with Generator(device='{}')",
            device.name(),
            g.device.name(),
            device.name()
        ))
        .into());
    }
    Ok(g.g.clone())
}

fn state_tensor(g: &Generator) -> PyTensor {
    let words = g.state().map(|w| w as i64);
    PyTensor::wrap(Tensor::from_vec(words.to_vec(), &[STATE_WORDS]).expect("a 5-element state"))
}

fn set_state_from(g: &Generator, state: &Bound<'_, PyAny>, op: &str) -> PyResult<()> {
    let t = state
        .cast::<PyTensor>()
        .map_err(|_| PyTypeError::new_err(format!("{op}: expected the int64 state tensor that get_state returns, got {}", describe(state))))?
        .get();
    if t.t.dtype() != DType::I64 || t.t.shape() != [STATE_WORDS] {
        return Err(Error::Value(format!(
            "{op}: expected an int64 tensor of shape ({STATE_WORDS},) as get_state returns, got {} of shape {:?}",
            t.t.dtype().name(),
            t.t.shape()
        ))
        .into());
    }
    let words: Vec<u64> = crate::backend::to_vec::<i64>(&t.t)?.into_iter().map(|w| w as u64).collect();
    Ok(g.set_state(&words)?)
}

#[pymethods]
impl PyGenerator {
    #[new]
    #[pyo3(signature = (device = None))]
    fn py_new(device: Option<&Bound<'_, PyAny>>) -> PyResult<PyGenerator> {
        let device = match device {
            Some(d) if !d.is_none() => parse_device(d)?,
            _ => Device::Cpu,
        };
        Ok(PyGenerator { g: Generator::new(random::DEFAULT_SEED), device, is_default: false })
    }

    /// Restarts the stream from `seed` (an int); returns the generator.
    fn manual_seed<'py>(slf: &Bound<'py, Self>, seed: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        slf.get().g.manual_seed(seed_arg(seed, "manual_seed")?);
        Ok(slf.clone())
    }

    /// Reseeds from a nondeterministic seed (the clock) and returns that seed.
    fn seed(&self) -> u64 {
        self.g.seed()
    }

    /// The seed the stream started from (`manual_seed`'s, or the nondeterministic one).
    fn initial_seed(&self) -> u64 {
        self.g.initial_seed()
    }

    /// The generator's state as an int64 tensor of 5 words (the xoshiro256++ state, then the
    /// initial seed); `set_state` with it replays the same numbers. (PyTorch's is a uint8
    /// tensor of its own layout; states do not move between the two libraries.)
    fn get_state(&self) -> PyTensor {
        state_tensor(&self.g)
    }

    /// Restores a state that `get_state` returned; returns the generator.
    fn set_state<'py>(slf: &Bound<'py, Self>, new_state: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        set_state_from(&slf.get().g, new_state, "set_state")?;
        Ok(slf.clone())
    }

    /// The device the generator's samples are made on.
    #[getter]
    fn device(&self) -> PyDevice {
        PyDevice { device: self.device }
    }

    fn __repr__(&self) -> String {
        format!("<backprop.Generator device='{}' initial_seed={}>", self.device.name(), self.g.initial_seed())
    }
}

/// `seed()`: reseeds the global generator nondeterministically and returns the seed.
#[pyfunction]
fn seed() -> u64 {
    random::global().seed()
}

/// `initial_seed()`: the seed the global generator started from.
#[pyfunction]
fn initial_seed() -> u64 {
    random::global().initial_seed()
}

/// `get_rng_state()`: the global generator's state (an int64 tensor; see `Generator.get_state`).
#[pyfunction]
fn get_rng_state() -> PyTensor {
    state_tensor(random::global())
}

/// `set_rng_state(new_state)`: restores the global generator from `get_rng_state()`'s tensor.
#[pyfunction]
fn set_rng_state(new_state: &Bound<'_, PyAny>) -> PyResult<()> {
    set_state_from(random::global(), new_state, "set_rng_state")
}

/// A number or a tensor argument of `normal`, as a tensor (numbers become 0-dim float64
/// tensors that take the other argument's dtype).
enum Param {
    Number(f64),
    Tensor(Tensor),
}

fn param(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Param> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(Param::Tensor(t.get().t.clone()));
    }
    obj.extract::<f64>()
        .map(Param::Number)
        .map_err(|_| PyTypeError::new_err(format!("normal: {what} must be a tensor or a number, got {}", describe(obj))))
}

/// `normal(mean, std, size=None, *, generator=None, dtype=None, device=None,
/// requires_grad=False)`: normal samples. With tensors (mean, std or both) the result has
/// their broadcast shape, one sample per pair; with two numbers `size` is required. No
/// gradient flows to tensor arguments.
#[pyfunction]
#[pyo3(signature = (mean = None, std = None, size = None, *, generator = None, dtype = None, device = None, requires_grad = false))]
#[allow(clippy::too_many_arguments)]
fn normal(
    mean: Option<&Bound<'_, PyAny>>,
    std: Option<&Bound<'_, PyAny>>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> TResult {
    let mean = match mean {
        Some(m) => param(m, "mean")?,
        None => Param::Number(0.0),
    };
    let std = match std {
        Some(s) => param(s, "std")?,
        None => Param::Number(1.0),
    };
    let size = size.filter(|s| !s.is_none());
    let t = match (mean, std) {
        (Param::Number(m), Param::Number(s)) => {
            let size = size.ok_or_else(|| {
                PyTypeError::new_err("normal: with a number mean and std, pass size=..., e.g. normal(0.0, 1.0, size=(3,)); or pass a tensor mean or std")
            })?;
            let shape = super::convert::shape_from_seq(size)?;
            let dev = opt_device(device)?;
            let d = opt_dtype(dtype)?.unwrap_or_else(super::defaults::float_dtype);
            ops::rand_normal(&shape, m, s, d, dev, &gen_arg(generator, dev, "normal")?)?
        }
        (m, s) => {
            if size.is_some() {
                return Err(PyTypeError::new_err("normal: size= goes only with a number mean and std; with tensors the shape is theirs"));
            }
            let like = match (&m, &s) {
                (Param::Tensor(t), _) | (_, Param::Tensor(t)) => t.clone(),
                _ => unreachable!("one argument is a tensor"),
            };
            let as_tensor = |p: Param| -> PyResult<Tensor> {
                Ok(match p {
                    Param::Tensor(t) => t,
                    Param::Number(v) => crate::backend::wrapped_number(v, if like.dtype().is_float() { like.dtype() } else { super::defaults::float_dtype() }, like.device())?,
                })
            };
            let (m, s) = (as_tensor(m)?, as_tensor(s)?);
            ops::normal_tensors(&m, &s, &gen_arg(generator, like.device(), "normal")?)?
        }
    };
    if requires_grad {
        t.set_requires_grad(true)?;
    }
    Ok(PyTensor::wrap(t))
}

/// `bernoulli(input, p=None, *, generator=None)`: 0/1 samples of `input`'s shape and dtype,
/// each 1 with the probability in `input` (or with `p` for every element when given).
#[pyfunction]
#[pyo3(signature = (input, p = None, *, generator = None))]
fn bernoulli(input: &PyTensor, p: Option<f64>, generator: Option<&Bound<'_, PyAny>>) -> TResult {
    let t = &input.t;
    let g = gen_arg(generator, t.device(), "bernoulli")?;
    if !t.dtype().is_float() {
        return Err(Error::DType(format!("bernoulli: expected a float input (the probabilities), got {}", t.dtype().name())).into());
    }
    ok(match p {
        Some(p) => ops::bernoulli_scalar(t.shape(), p, t.dtype(), t.device(), &g),
        None => ops::bernoulli_tensor(t, t.shape(), t.dtype(), t.device(), &g),
    })
}

/// `poisson(input, generator=None)`: one Poisson sample per rate in `input` (float, >= 0).
#[pyfunction]
#[pyo3(signature = (input, generator = None))]
fn poisson(input: &PyTensor, generator: Option<&Bound<'_, PyAny>>) -> TResult {
    ok(ops::poisson(&input.t, &gen_arg(generator, input.t.device(), "poisson")?))
}

/// `multinomial(input, num_samples, replacement=False, *, generator=None)`: category
/// indices (int64) drawn with probabilities proportional to the weights in each row of
/// `input` (1-D or 2-D, non-negative, finite, positive sum).
#[pyfunction]
#[pyo3(signature = (input, num_samples, replacement = false, *, generator = None))]
fn multinomial(input: &PyTensor, num_samples: i64, replacement: bool, generator: Option<&Bound<'_, PyAny>>) -> TResult {
    if num_samples <= 0 {
        return Err(PyValueError::new_err(format!("multinomial: cannot sample n_sample <= 0 samples (got {num_samples})")));
    }
    let n = count_arg(num_samples, "num_samples", "multinomial")?;
    ok(ops::multinomial(&input.t, n, replacement, &gen_arg(generator, input.t.device(), "multinomial")?))
}

/// Writes `sample` (made for `t`'s shape, dtype and device) into `t`, version-counted.
fn fill_with<'py>(slf: &Bound<'py, PyTensor>, sample: crate::Result<Tensor>) -> PyResult<Bound<'py, PyTensor>> {
    ops::copy_(&slf.get().t, &sample?)?;
    Ok(slf.clone())
}

fn float_only(t: &Tensor, op: &str) -> PyResult<()> {
    if !t.dtype().is_float() {
        return Err(Error::DType(format!("{op}: expects a floating-point tensor, got {}; cast it with .float() first", t.dtype().name())).into());
    }
    Ok(())
}

/// The largest value `random_()` draws for a dtype (PyTorch's: every integer the dtype
/// holds exactly, from 0).
fn random_max(dtype: DType) -> i64 {
    match dtype {
        DType::F32 => 1 << 24,
        DType::F64 => 1 << 53,
        DType::Bool => 1,
        _ => i64::MAX - 1,
    }
}

#[pymethods]
impl PyTensor {
    /// Fills with samples from U(from, to), in place; returns self.
    #[pyo3(name = "uniform_", signature = (from_ = 0.0, to = 1.0, *, generator = None))]
    fn uniform_inplace<'py>(slf: &Bound<'py, Self>, from_: f64, to: f64, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        float_only(t, "uniform_")?;
        if from_ > to {
            return Err(PyValueError::new_err(format!("uniform_: expects to return a [from, to) range, but found from={from_} > to={to}")));
        }
        let g = gen_arg(generator, t.device(), "uniform_")?;
        fill_with(slf, ops::rand_uniform(t.shape(), from_, to, t.dtype(), t.device(), &g))
    }

    /// Fills with samples from N(mean, std^2), in place; returns self.
    #[pyo3(name = "normal_", signature = (mean = 0.0, std = 1.0, *, generator = None))]
    fn normal_inplace<'py>(slf: &Bound<'py, Self>, mean: f64, std: f64, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        float_only(t, "normal_")?;
        let g = gen_arg(generator, t.device(), "normal_")?;
        fill_with(slf, ops::rand_normal(t.shape(), mean, std, t.dtype(), t.device(), &g))
    }

    /// Fills with 0/1 samples, in place: 1 with probability `p` (a number, or a tensor
    /// broadcast to self's shape); returns self.
    #[pyo3(name = "bernoulli_", signature = (p = None, *, generator = None))]
    fn bernoulli_inplace<'py>(slf: &Bound<'py, Self>, p: Option<&Bound<'py, PyAny>>, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let g = gen_arg(generator, t.device(), "bernoulli_")?;
        let sample = match p {
            Some(p) if p.is_instance_of::<PyTensor>() => {
                let probs = &p.cast::<PyTensor>()?.get().t;
                ops::bernoulli_tensor(probs, t.shape(), t.dtype(), t.device(), &g)
            }
            Some(p) if !p.is_none() => {
                let p: f64 = p.extract()?;
                if !(0.0..=1.0).contains(&p) {
                    return Err(PyValueError::new_err(format!("bernoulli_: expects p to be in [0, 1], but got p={p}")));
                }
                ops::bernoulli_scalar(t.shape(), p, t.dtype(), t.device(), &g)
            }
            _ => ops::bernoulli_scalar(t.shape(), 0.5, t.dtype(), t.device(), &g),
        };
        fill_with(slf, sample)
    }

    /// `bernoulli(p=None, *, generator=None)`: a new tensor of 0/1 samples, each 1 with the
    /// probability in self (or with `p` when given).
    #[pyo3(name = "bernoulli", signature = (p = None, *, generator = None))]
    fn bernoulli_method(&self, p: Option<f64>, generator: Option<&Bound<'_, PyAny>>) -> TResult {
        bernoulli(self, p, generator)
    }

    /// `multinomial(num_samples, replacement=False, *, generator=None)`: see `backprop.multinomial`.
    #[pyo3(name = "multinomial", signature = (num_samples, replacement = false, *, generator = None))]
    fn multinomial_method(&self, num_samples: i64, replacement: bool, generator: Option<&Bound<'_, PyAny>>) -> TResult {
        multinomial(self, num_samples, replacement, generator)
    }

    /// Fills with exponential samples of rate `lambd` (density lambd * exp(-lambd x)), in place.
    #[pyo3(signature = (lambd = 1.0, *, generator = None))]
    fn exponential_<'py>(slf: &Bound<'py, Self>, lambd: f64, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        float_only(t, "exponential_")?;
        let g = gen_arg(generator, t.device(), "exponential_")?;
        fill_with(slf, ops::sample_inverse_cdf(t.shape(), InverseCdf::Exponential { lambd }, t.dtype(), t.device(), &g))
    }

    /// Fills with Cauchy samples (location `median`, scale `sigma`), in place.
    #[pyo3(signature = (median = 0.0, sigma = 1.0, *, generator = None))]
    fn cauchy_<'py>(slf: &Bound<'py, Self>, median: f64, sigma: f64, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        float_only(t, "cauchy_")?;
        let g = gen_arg(generator, t.device(), "cauchy_")?;
        fill_with(slf, ops::sample_inverse_cdf(t.shape(), InverseCdf::Cauchy { median, sigma }, t.dtype(), t.device(), &g))
    }

    /// Fills with geometric samples (trials up to and including the first success, each
    /// succeeding with probability `p`), in place.
    #[pyo3(signature = (p, *, generator = None))]
    fn geometric_<'py>(slf: &Bound<'py, Self>, p: f64, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let g = gen_arg(generator, t.device(), "geometric_")?;
        fill_with(slf, ops::sample_inverse_cdf(t.shape(), InverseCdf::Geometric { p }, t.dtype(), t.device(), &g))
    }

    /// Fills with log-normal samples: exp of N(mean, std^2) samples (std > 0), in place.
    #[pyo3(signature = (mean = 1.0, std = 2.0, *, generator = None))]
    fn log_normal_<'py>(slf: &Bound<'py, Self>, mean: f64, std: f64, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let g = gen_arg(generator, t.device(), "log_normal_")?;
        fill_with(slf, ops::log_normal(t.shape(), mean, std, t.dtype(), t.device(), &g))
    }

    /// Fills with integers uniform in [from, to), in place: `random_()` (every integer the
    /// dtype holds exactly, from 0), `random_(to)` or `random_(from, to)`.
    #[pyo3(signature = (from_ = None, to = None, *, generator = None))]
    fn random_<'py>(slf: &Bound<'py, Self>, from_: Option<i64>, to: Option<i64>, generator: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let (low, high) = match (from_, to) {
            (None, None) => (0, random_max(t.dtype()) + 1),
            (Some(to), None) => (0, to),
            (None, Some(to)) => (0, to),
            (Some(from), Some(to)) => (from, to),
        };
        let g = gen_arg(generator, t.device(), "random_")?;
        fill_with(slf, ops::randint_as(low, high, t.shape(), t.dtype(), t.device(), &g))
    }
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyGenerator>()?;
    m.add("default_generator", PyGenerator::default_generator())?;
    m.add_function(wrap_pyfunction!(seed, m)?)?;
    m.add_function(wrap_pyfunction!(initial_seed, m)?)?;
    m.add_function(wrap_pyfunction!(get_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(set_rng_state, m)?)?;
    m.add_function(wrap_pyfunction!(normal, m)?)?;
    m.add_function(wrap_pyfunction!(bernoulli, m)?)?;
    m.add_function(wrap_pyfunction!(poisson, m)?)?;
    m.add_function(wrap_pyfunction!(multinomial, m)?)?;
    m.add_function(wrap_pyfunction!(super::functions::randint_like, m)?)?;
    Ok(())
}
