//! Module-level functions: factories, seeding, joins, and the functional NN ops.

use super::autograd::tensor_list;
use super::convert::{count_arg, describe, opt_device, opt_dtype, parse_shape, tensor_from_py};
use super::random::gen_arg;
use super::tensor::{ok, PyTensor, TResult};
use crate::ops;
use crate::tensor::{DType, Device, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyFloat, PyTuple};

/// A factory's result: a new Python tensor, remembered as its leaf's owner when it requires
/// grad (see `leaf_owner`).
type Made = PyResult<Py<PyTensor>>;

fn finish(py: Python<'_>, t: Tensor, requires_grad: bool) -> Made {
    if requires_grad {
        t.set_requires_grad(true)?;
    }
    let obj = Bound::new(py, PyTensor::wrap(t))?;
    if requires_grad {
        super::leaf_owner::name_new_owner(&obj);
    }
    Ok(obj.unbind())
}

/// `backprop.tensor(data, dtype=None, device=None, requires_grad=False)`: a new tensor (a copy).
#[pyfunction]
#[pyo3(signature = (data, *, dtype = None, device = None, requires_grad = false))]
pub fn tensor(py: Python<'_>, data: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    // The scalar fast path (lecture circuits create many of these).
    // Exactly a float: NumPy's float64 scalar is a subclass and keeps its dtype.
    if let Ok(f) = data.cast_exact::<PyFloat>() {
        if dtype.is_none() && device.is_none() && super::defaults::device() == Device::Cpu {
            return finish(py, Tensor::scalar(f.value(), super::defaults::float_dtype()), requires_grad);
        }
    }
    let t = tensor_from_py(data, opt_dtype(dtype)?, opt_device(device)?)?;
    finish(py, t, requires_grad)
}

macro_rules! filled {
    ($name:ident, $value:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (*size, dtype = None, device = None, requires_grad = false))]
        pub fn $name(py: Python<'_>, size: &Bound<'_, PyTuple>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
            let shape = parse_shape(size)?;
            let t = ops::full(&shape, $value, opt_dtype(dtype)?.unwrap_or_else(super::defaults::float_dtype), opt_device(device)?)?;
            finish(py, t, requires_grad)
        }
    };
}
filled!(zeros, 0.0, "A tensor of zeros.");
filled!(ones, 1.0, "A tensor of ones.");
filled!(empty, 0.0, "An uninitialised tensor (zero-filled here).");

fn scalar_dtype(v: &Bound<'_, PyAny>) -> DType {
    if v.is_instance_of::<PyBool>() {
        DType::Bool
    } else if v.extract::<i64>().is_ok() && !v.is_instance_of::<PyFloat>() {
        DType::I64
    } else {
        super::defaults::float_dtype()
    }
}

/// A tensor of shape `size` filled with `fill_value` (its dtype follows the value unless `dtype` is given).
///
/// Args:
///     size: a sequence of ints.
///     fill_value: a number.
///     dtype: the element type.
///     device: "cpu" (default) or "gpu".
///     requires_grad: record operations for autograd.
#[pyfunction]
#[pyo3(signature = (size, fill_value, *, dtype = None, device = None, requires_grad = false))]
pub fn full(py: Python<'_>, size: &Bound<'_, PyAny>, fill_value: &Bound<'_, PyAny>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let shape = super::convert::shape_from_seq(size)?;
    let d = opt_dtype(dtype)?.unwrap_or_else(|| scalar_dtype(fill_value));
    finish(py, ops::full(&shape, fill_value.extract()?, d, opt_device(device)?)?, requires_grad)
}

fn like_args(t: &PyTensor, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>) -> PyResult<(DType, Device)> {
    let d = opt_dtype(dtype)?.unwrap_or(t.t.dtype());
    let dev = match device {
        Some(x) if !x.is_none() => super::convert::parse_device(x)?,
        _ => t.t.device(),
    };
    Ok((d, dev))
}

macro_rules! filled_like {
    ($name:ident, $value:expr, $doc:literal) => {
        #[doc = $doc]
        #[pyfunction]
        #[pyo3(signature = (input, *, dtype = None, device = None, requires_grad = false))]
        pub fn $name(py: Python<'_>, input: &PyTensor, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
            let (d, dev) = like_args(input, dtype, device)?;
            finish(py, ops::full(input.t.shape(), $value, d, dev)?, requires_grad)
        }
    };
}
filled_like!(zeros_like, 0.0, "A tensor of zeros of `input`'s shape (and dtype and device, unless given).");
filled_like!(ones_like, 1.0, "A tensor of ones of `input`'s shape (and dtype and device, unless given).");
filled_like!(empty_like, 0.0, "An uninitialised tensor of `input`'s shape (and dtype and device, unless given); zero-filled here.");

/// A tensor of `input`'s shape (and dtype and device, unless given) filled with `fill_value`.
#[pyfunction]
#[pyo3(signature = (input, fill_value, *, dtype = None, device = None, requires_grad = false))]
pub fn full_like(py: Python<'_>, input: &PyTensor, fill_value: f64, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let (d, dev) = like_args(input, dtype, device)?;
    finish(py, ops::full(input.t.shape(), fill_value, d, dev)?, requires_grad)
}

/// `rand(*size, generator=None, dtype=None, device=None, requires_grad=False)`: samples
/// uniform in [0, 1), drawn from `generator` (the global generator by default).
#[pyfunction]
#[pyo3(signature = (*size, generator = None, dtype = None, device = None, requires_grad = false))]
pub fn rand(py: Python<'_>, size: &Bound<'_, PyTuple>, generator: Option<&Bound<'_, PyAny>>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let dev = opt_device(device)?;
    let t = ops::rand_uniform(&parse_shape(size)?, 0.0, 1.0, opt_dtype(dtype)?.unwrap_or_else(super::defaults::float_dtype), dev, &gen_arg(generator, dev, "rand")?)?;
    finish(py, t, requires_grad)
}

/// `randn(*size, generator=None, dtype=None, device=None, requires_grad=False)`: standard
/// normal samples, drawn from `generator` (the global generator by default).
#[pyfunction]
#[pyo3(signature = (*size, generator = None, dtype = None, device = None, requires_grad = false))]
pub fn randn(py: Python<'_>, size: &Bound<'_, PyTuple>, generator: Option<&Bound<'_, PyAny>>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let dev = opt_device(device)?;
    let t = ops::rand_normal(&parse_shape(size)?, 0.0, 1.0, opt_dtype(dtype)?.unwrap_or_else(super::defaults::float_dtype), dev, &gen_arg(generator, dev, "randn")?)?;
    finish(py, t, requires_grad)
}

/// `rand_like(input, *, generator=None, dtype=None, device=None, requires_grad=False)`:
/// uniform samples in [0, 1) of `input`'s shape (and dtype and device unless given).
#[pyfunction]
#[pyo3(signature = (input, *, generator = None, dtype = None, device = None, requires_grad = false))]
pub fn rand_like(py: Python<'_>, input: &PyTensor, generator: Option<&Bound<'_, PyAny>>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let (d, dev) = like_args(input, dtype, device)?;
    finish(py, ops::rand_uniform(input.t.shape(), 0.0, 1.0, d, dev, &gen_arg(generator, dev, "rand_like")?)?, requires_grad)
}

/// `randn_like(input, *, generator=None, dtype=None, device=None, requires_grad=False)`:
/// standard normal samples of `input`'s shape (and dtype and device unless given).
#[pyfunction]
#[pyo3(signature = (input, *, generator = None, dtype = None, device = None, requires_grad = false))]
pub fn randn_like(py: Python<'_>, input: &PyTensor, generator: Option<&Bound<'_, PyAny>>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let (d, dev) = like_args(input, dtype, device)?;
    finish(py, ops::rand_normal(input.t.shape(), 0.0, 1.0, d, dev, &gen_arg(generator, dev, "randn_like")?)?, requires_grad)
}

/// `randint(high, size)` or `randint(low, high, size)`, with `generator=`, `dtype=` (int64
/// by default), `device=`: integers uniform in [low, high).
#[pyfunction]
#[pyo3(signature = (*args, size = None, generator = None, dtype = None, device = None, requires_grad = false))]
pub fn randint(py: Python<'_>, 
    args: &Bound<'_, PyTuple>,
    size: Option<&Bound<'_, PyAny>>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> Made {
    let mut nums: Vec<i64> = Vec::new();
    let mut shape: Option<Vec<usize>> = size.map(super::convert::shape_from_seq).transpose()?;
    for a in args.iter() {
        match a.extract::<i64>() {
            Ok(v) if shape.is_none() || nums.len() < 2 => nums.push(v),
            _ => shape = Some(super::convert::shape_from_seq(&a)?),
        }
    }
    let shape = shape.ok_or_else(|| PyTypeError::new_err("randint: missing the size argument, e.g. randint(0, 10, (3,))"))?;
    let (low, high) = match nums.as_slice() {
        [h] => (0, *h),
        [l, h] => (*l, *h),
        _ => return Err(PyTypeError::new_err("randint: expected randint(high, size) or randint(low, high, size)")),
    };
    let dev = opt_device(device)?;
    let g = gen_arg(generator, dev, "randint")?;
    let t = match opt_dtype(dtype)? {
        Some(d) if d != DType::I64 => ops::randint_as(low, high, &shape, d, dev, &g)?,
        _ => ops::randint(low, high, &shape, dev, &g)?,
    };
    finish(py, t, requires_grad)
}

/// `randint_like(input, high)` or `randint_like(input, low, high)`: integers uniform in
/// [low, high) of `input`'s shape, dtype and device (unless given).
#[pyfunction]
#[pyo3(signature = (input, low_or_high, high = None, *, generator = None, dtype = None, device = None, requires_grad = false))]
#[allow(clippy::too_many_arguments)]
pub fn randint_like(py: Python<'_>, 
    input: &PyTensor,
    low_or_high: i64,
    high: Option<i64>,
    generator: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> Made {
    let (low, high) = match high {
        Some(h) => (low_or_high, h),
        None => (0, low_or_high),
    };
    let (d, dev) = like_args(input, dtype, device)?;
    if high <= low {
        return Err(PyValueError::new_err(format!("randint_like: low ({low}) must be smaller than high ({high})")));
    }
    finish(py, ops::randint_as(low, high, input.t.shape(), d, dev, &gen_arg(generator, dev, "randint_like")?)?, requires_grad)
}

/// `randperm(n, *, generator=None, dtype=int64, device=None, requires_grad=False)`: a random
/// permutation of 0..n.
#[pyfunction]
#[pyo3(signature = (n, *, generator = None, dtype = None, device = None, requires_grad = false))]
pub fn randperm(py: Python<'_>, n: i64, generator: Option<&Bound<'_, PyAny>>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let dev = opt_device(device)?;
    let t = ops::randperm(count_arg(n, "n", "randperm")?, dev, &gen_arg(generator, dev, "randperm")?)?;
    let t = match opt_dtype(dtype)? {
        Some(d) if d != DType::I64 => ops::cast(&t, d)?,
        _ => t,
    };
    finish(py, t, requires_grad)
}

/// `arange(end)`, `arange(start, end)`, `arange(start, end, step)`.
#[pyfunction]
#[pyo3(signature = (start, end = None, step = None, *, dtype = None, device = None, requires_grad = false))]
pub fn arange(py: Python<'_>, 
    start: &Bound<'_, PyAny>,
    end: Option<&Bound<'_, PyAny>>,
    step: Option<&Bound<'_, PyAny>>,
    dtype: Option<&Bound<'_, PyAny>>,
    device: Option<&Bound<'_, PyAny>>,
    requires_grad: bool,
) -> Made {
    let all_int = [Some(start), end, step].iter().flatten().all(|v| scalar_dtype(v) == DType::I64);
    let (s, e) = match end {
        Some(e) => (start.extract::<f64>()?, e.extract::<f64>()?),
        None => (0.0, start.extract::<f64>()?),
    };
    let st = step.map(|v| v.extract::<f64>()).transpose()?.unwrap_or(1.0);
    let d = opt_dtype(dtype)?.unwrap_or(if all_int { DType::I64 } else { super::defaults::float_dtype() });
    finish(py, ops::arange(s, e, st, d, opt_device(device)?)?, requires_grad)
}

/// `steps` evenly spaced values from `start` to `end`, both included.
#[pyfunction]
#[pyo3(signature = (start, end, steps, *, dtype = None, device = None, requires_grad = false))]
pub fn linspace(py: Python<'_>, start: f64, end: f64, steps: i64, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    finish(py, ops::linspace(start, end, count_arg(steps, "number of steps", "linspace")?, opt_dtype(dtype)?.unwrap_or_else(super::defaults::float_dtype), opt_device(device)?)?, requires_grad)
}

/// An `n x m` matrix (`m` defaults to `n`) with ones on the diagonal and zeros elsewhere.
#[pyfunction]
#[pyo3(signature = (n, m = None, *, dtype = None, device = None, requires_grad = false))]
pub fn eye(py: Python<'_>, n: i64, m: Option<i64>, dtype: Option<&Bound<'_, PyAny>>, device: Option<&Bound<'_, PyAny>>, requires_grad: bool) -> Made {
    let n = count_arg(n, "n", "eye")?;
    let m = m.map(|m| count_arg(m, "m", "eye")).transpose()?.unwrap_or(n);
    finish(py, ops::eye(n, m, opt_dtype(dtype)?.unwrap_or_else(super::defaults::float_dtype), opt_device(device)?)?, requires_grad)
}

/// `manual_seed(seed)`: restarts the global generator (CPU and GPU sampling) from `seed`
/// and returns it (`backprop.default_generator`).
#[pyfunction]
pub fn manual_seed(seed: &Bound<'_, PyAny>) -> PyResult<super::random::PyGenerator> {
    crate::random::manual_seed(super::random::seed_arg(seed, "manual_seed")?);
    Ok(super::random::PyGenerator::default_generator())
}

/// The tensors joined along the existing dimension `dim` (all other dimensions must match).
#[pyfunction]
#[pyo3(signature = (tensors, dim = 0))]
pub fn cat(tensors: &Bound<'_, PyAny>, dim: isize) -> TResult {
    ok(ops::cat(&tensor_list(tensors, "cat")?, dim))
}

/// The tensors (all of one shape) stacked along a new dimension `dim`.
#[pyfunction]
#[pyo3(signature = (tensors, dim = 0))]
pub fn stack(tensors: &Bound<'_, PyAny>, dim: isize) -> TResult {
    ok(ops::stack(&tensor_list(tensors, "stack")?, dim))
}

/// `where(condition, x, y)`: x where condition holds, else y (either may be a number).
#[pyfunction]
#[pyo3(name = "where")]
pub fn where_(condition: &PyTensor, x: &Bound<'_, PyAny>, y: &Bound<'_, PyAny>) -> TResult {
    let like = x.cast::<PyTensor>().map(|t| t.get().t.clone()).or_else(|_| y.cast::<PyTensor>().map(|t| t.get().t.clone())).unwrap_or_else(|_| condition.t.clone());
    let conv = |o: &Bound<'_, PyAny>| -> PyResult<Tensor> {
        super::convert::operand(o, &like)?.ok_or_else(|| PyTypeError::new_err(format!("where: expected a tensor or a number, got {}", describe(o))))
    };
    ok(ops::where_(&condition.t, &conv(x)?, &conv(y)?))
}

// ---- functional NN ------------------------------------------------------------------------

/// `input @ weight.T + bias`: a fully connected layer, one fused engine call.
///
/// Args:
///     input: `[..., in_features]`.
///     weight: `[out_features, in_features]`.
///     bias: `[out_features]` or None.
#[pyfunction]
#[pyo3(signature = (input, weight, bias = None))]
pub fn linear(input: &PyTensor, weight: &PyTensor, bias: Option<&PyTensor>) -> TResult {
    ok(ops::linear(&input.t, &weight.t, bias.map(|b| &*b.t)))
}

/// The cross-entropy of logits `input` against class indices (int64) or class probabilities `target`.
///
/// Args:
///     input: `[N, C]` (or `[C]`, or `[N, C, d1, ...]`) unnormalised scores.
///     target: `[N]` class indices or `[N, C]` probabilities.
///     weight: a `[C]` weight per class.
///     ignore_index: a target index that contributes nothing.
///     reduction: "mean", "sum" or "none".
///     label_smoothing: the share of probability spread evenly over the classes.
#[pyfunction]
#[pyo3(signature = (input, target, weight = None, ignore_index = -100, reduction = "mean", label_smoothing = 0.0))]
pub fn cross_entropy(input: &PyTensor, target: &PyTensor, weight: Option<&PyTensor>, ignore_index: i64, reduction: &str, label_smoothing: f64) -> TResult {
    ok(ops::cross_entropy(&input.t, &target.t, weight.map(|w| &*w.t), ignore_index, super::tensor_ops::reduction(reduction)?, label_smoothing))
}

/// The negative log-likelihood of log-probabilities `input` `[N, C]` at class indices `target` `[N]`; arguments as `cross_entropy`.
#[pyfunction]
#[pyo3(signature = (input, target, weight = None, ignore_index = -100, reduction = "mean"))]
pub fn nll_loss(input: &PyTensor, target: &PyTensor, weight: Option<&PyTensor>, ignore_index: i64, reduction: &str) -> TResult {
    ok(ops::nll_loss(&input.t, &target.t, weight.map(|w| &*w.t), ignore_index, super::tensor_ops::reduction(reduction)?))
}

/// The mean (or sum, or per-element with "none") squared difference of `input` and `target`.
#[pyfunction]
#[pyo3(signature = (input, target, reduction = "mean"))]
pub fn mse_loss(input: &PyTensor, target: &PyTensor, reduction: &str) -> TResult {
    if input.t.shape() != target.t.shape() {
        return Err(crate::error::Error::Shape(format!(
            "mse_loss: input shape {:?} and target shape {:?} differ; they must match",
            input.t.shape(),
            target.t.shape()
        ))
        .into());
    }
    ok(ops::mse_loss(&input.t, &target.t, super::tensor_ops::reduction(reduction)?))
}

/// The multi-class hinge loss (the SVM loss of the lecture): `sum_j max(0, margin - x[y] + x[j])^p / C` per sample.
///
/// Args:
///     p: 1 or 2.
///     margin: the required gap between the true class's score and the others.
///     weight: a `[C]` weight per class.
///     reduction: "mean", "sum" or "none".
#[pyfunction]
#[pyo3(signature = (input, target, p = 1, margin = 1.0, weight = None, reduction = "mean"))]
pub fn multi_margin_loss(input: &PyTensor, target: &PyTensor, p: u32, margin: f64, weight: Option<&PyTensor>, reduction: &str) -> TResult {
    ok(ops::multi_margin_loss(&input.t, &target.t, p, margin, weight.map(|w| &*w.t), super::tensor_ops::reduction(reduction)?))
}

/// Zeroes each element with probability `p` and scales the rest by `1 / (1 - p)` when `training`; the identity otherwise.
#[pyfunction]
#[pyo3(signature = (input, p = 0.5, training = true))]
pub fn dropout(input: &PyTensor, p: f64, training: bool) -> TResult {
    ok(ops::dropout(&input.t, p, training))
}

/// Softmax along `dim` (required here; `backprop.nn.functional.softmax` infers it as PyTorch does).
#[pyfunction]
#[pyo3(signature = (input, dim = None))]
pub fn softmax(input: &PyTensor, dim: Option<isize>) -> TResult {
    ok(ops::softmax(&input.t, dim.ok_or_else(|| PyValueError::new_err("softmax: pass dim=..., the dimension to normalise over"))?))
}

/// Log-softmax along `dim` (required here; `backprop.nn.functional.log_softmax` infers it as PyTorch does).
#[pyfunction]
#[pyo3(signature = (input, dim = None))]
pub fn log_softmax(input: &PyTensor, dim: Option<isize>) -> TResult {
    ok(ops::log_softmax(&input.t, dim.ok_or_else(|| PyValueError::new_err("log_softmax: pass dim=..., the dimension to normalise over"))?))
}


