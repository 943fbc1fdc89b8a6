//! The fused optimizer steps behind `backprop.optim`: one call updates a whole parameter group.
//! Gradients are read from the parameters' `.grad`; the Python layer passes only parameters
//! that have one, with their state tensors in the same order.

use super::autograd::tensor_list;
use super::convert::describe;
use super::tensor::PyTensor;
use crate::backend::SgdHyper;
use crate::ops::{self, AdamOptions, AdamSlot, Algorithm, RuleOptimizer};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

/// The gradients of `params`, or an error naming the first parameter without one.
fn grads_of(params: &[Tensor], op: &str) -> PyResult<Vec<Tensor>> {
    params
        .iter()
        .enumerate()
        .map(|(i, p)| {
            p.grad().ok_or_else(|| PyValueError::new_err(format!("{op}: parameter {i} has no gradient; pass only parameters whose .grad is set")))
        })
        .collect()
}

/// A sequence whose entries are tensors or None.
fn optional_tensor_list(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Option<Tensor>>> {
    obj.try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected a sequence of tensors or None, got {}", describe(obj))))?
        .map(|o| {
            let o = o?;
            if o.is_none() {
                return Ok(None);
            }
            o.cast::<PyTensor>()
                .map(|t| Some(t.get().t.clone()))
                .map_err(|_| PyTypeError::new_err(format!("{what}: expected tensors or None, got {}", describe(&o))))
        })
        .collect()
}

/// `sgd_step(params, momentum_buffers, *, lr, ...)`: returns the momentum buffers, with new
/// ones in place of the `None`s of parameters taking their first step with momentum.
#[pyfunction]
#[pyo3(signature = (params, momentum_buffers, *, lr, momentum = 0.0, dampening = 0.0, weight_decay = 0.0, nesterov = false, maximize = false))]
#[allow(clippy::too_many_arguments)]
pub fn sgd_step<'py>(
    py: Python<'py>,
    params: &Bound<'py, PyAny>,
    momentum_buffers: &Bound<'py, PyAny>,
    lr: f64,
    momentum: f64,
    dampening: f64,
    weight_decay: f64,
    nesterov: bool,
    maximize: bool,
) -> PyResult<Bound<'py, PyList>> {
    let params = tensor_list(params, "sgd_step")?;
    let grads = grads_of(&params, "sgd")?;
    let mut bufs = optional_tensor_list(momentum_buffers, "sgd_step")?;
    let hp = SgdHyper { lr, momentum, dampening, weight_decay, nesterov, maximize, first_step: false };
    ops::sgd_step(&params, &grads, &mut bufs, hp)?;
    PyList::new(py, bufs.into_iter().map(|b| b.map(PyTensor::wrap)))
}

/// `adam_step(params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *, lr, ...)`:
/// Adam (AdamW with `decoupled_weight_decay=True`) on every parameter, in place.
#[pyfunction]
#[pyo3(signature = (
    params, exp_avgs, exp_avg_sqs, max_exp_avg_sqs, state_steps, *,
    lr, beta1, beta2, eps, weight_decay = 0.0, amsgrad = false, maximize = false, decoupled_weight_decay = false
))]
#[allow(clippy::too_many_arguments)]
pub fn adam_step(
    params: &Bound<'_, PyAny>,
    exp_avgs: &Bound<'_, PyAny>,
    exp_avg_sqs: &Bound<'_, PyAny>,
    max_exp_avg_sqs: &Bound<'_, PyAny>,
    state_steps: &Bound<'_, PyAny>,
    lr: f64,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    amsgrad: bool,
    maximize: bool,
    decoupled_weight_decay: bool,
) -> PyResult<()> {
    let params = tensor_list(params, "adam_step")?;
    let grads = grads_of(&params, "adam")?;
    let exp_avgs = tensor_list(exp_avgs, "adam_step")?;
    let exp_avg_sqs = tensor_list(exp_avg_sqs, "adam_step")?;
    let steps = tensor_list(state_steps, "adam_step")?;
    let maxes = if max_exp_avg_sqs.is_none() { vec![None; params.len()] } else { optional_tensor_list(max_exp_avg_sqs, "adam_step")? };
    let n = params.len();
    for (name, len) in [("exp_avgs", exp_avgs.len()), ("exp_avg_sqs", exp_avg_sqs.len()), ("state_steps", steps.len()), ("max_exp_avg_sqs", maxes.len())] {
        if len != n {
            return Err(PyValueError::new_err(format!("adam_step: got {n} parameters but {len} {name}; pass one per parameter")));
        }
    }
    let slots: Vec<AdamSlot> = (0..n)
        .map(|i| AdamSlot { exp_avg: &exp_avgs[i], exp_avg_sq: &exp_avg_sqs[i], max_exp_avg_sq: maxes[i].as_ref(), step: &steps[i] })
        .collect();
    let opts = AdamOptions { lr, beta1, beta2, eps, weight_decay, decoupled: decoupled_weight_decay, amsgrad, maximize };
    Ok(ops::adam_step(&params, &grads, &slots, opts)?)
}

/// A list (one per parameter) of lists of tensors.
fn nested_tensor_lists(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Vec<Tensor>>> {
    obj.try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected a list of lists of tensors, got {}", describe(obj))))?
        .map(|inner| tensor_list(&inner?, what))
        .collect()
}

/// The hyperparameters of a `rule_step` call, read from its dict by name.
struct Hyper<'a, 'py>(&'a Bound<'py, PyDict>, &'a str);

impl Hyper<'_, '_> {
    fn get(&self, key: &str) -> PyResult<Bound<'_, PyAny>> {
        self.0.get_item(key)?.ok_or_else(|| PyValueError::new_err(format!("{}: missing hyperparameter '{key}'", self.1)))
    }
    fn f(&self, key: &str) -> PyResult<f64> {
        let v = self.get(key)?;
        v.extract::<f64>().map_err(|_| PyTypeError::new_err(format!("{}: hyperparameter '{key}' must be a number, got {}", self.1, describe(&v))))
    }
    fn b(&self, key: &str) -> PyResult<bool> {
        let v = self.get(key)?;
        v.extract::<bool>().map_err(|_| PyTypeError::new_err(format!("{}: hyperparameter '{key}' must be a bool, got {}", self.1, describe(&v))))
    }
}

/// `rule_step(kind, params, states, scalars, hyper)`: one step of the optimizer `kind`
/// ("rmsprop", "adagrad", "adadelta", "adamax", "nadam", "radam", "asgd", "rprop") for every
/// parameter, in place. `states[i]` lists parameter i's state tensors and `scalars[i]` its
/// one-element state in the order `ops::RuleOptimizer` names them; `hyper` holds the group's
/// hyperparameters under PyTorch's names (`betas` and friends split into `beta1`/`beta2`...).
#[pyfunction]
pub fn rule_step(kind: &str, params: &Bound<'_, PyAny>, states: &Bound<'_, PyAny>, scalars: &Bound<'_, PyAny>, hyper: &Bound<'_, PyDict>) -> PyResult<()> {
    let h = Hyper(hyper, kind);
    let algorithm = match kind {
        "rmsprop" => Algorithm::RmsProp { alpha: h.f("alpha")?, eps: h.f("eps")?, momentum: h.f("momentum")?, centered: h.b("centered")? },
        "adagrad" => Algorithm::Adagrad { lr_decay: h.f("lr_decay")?, eps: h.f("eps")? },
        "adadelta" => Algorithm::Adadelta { rho: h.f("rho")?, eps: h.f("eps")? },
        "adamax" => Algorithm::Adamax { beta1: h.f("beta1")?, beta2: h.f("beta2")?, eps: h.f("eps")? },
        "nadam" => Algorithm::NAdam {
            beta1: h.f("beta1")?,
            beta2: h.f("beta2")?,
            eps: h.f("eps")?,
            momentum_decay: h.f("momentum_decay")?,
            decoupled: h.b("decoupled_weight_decay")?,
        },
        "radam" => Algorithm::RAdam { beta1: h.f("beta1")?, beta2: h.f("beta2")?, eps: h.f("eps")?, decoupled: h.b("decoupled_weight_decay")? },
        "asgd" => Algorithm::Asgd { lambd: h.f("lambd")?, alpha: h.f("alpha")?, t0: h.f("t0")? },
        "rprop" => Algorithm::Rprop { eta_minus: h.f("eta_minus")?, eta_plus: h.f("eta_plus")?, step_min: h.f("step_min")?, step_max: h.f("step_max")? },
        other => {
            return Err(PyValueError::new_err(format!(
                "rule_step: unknown optimizer '{other}'; expected rmsprop, adagrad, adadelta, adamax, nadam, radam, asgd or rprop"
            )))
        }
    };
    let weight_decay = if hyper.contains("weight_decay")? { h.f("weight_decay")? } else { 0.0 };
    let opt = RuleOptimizer { lr: h.f("lr")?, weight_decay, maximize: h.b("maximize")?, algorithm };
    let params = tensor_list(params, kind)?;
    let grads = grads_of(&params, kind)?;
    let states = nested_tensor_lists(states, kind)?;
    let scalars = nested_tensor_lists(scalars, kind)?;
    Ok(ops::rule_step(&opt, &params, &grads, &states, &scalars)?)
}
