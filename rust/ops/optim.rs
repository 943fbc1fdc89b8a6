//! Optimizer steps over a parameter group: checks, then one fused kernel per parameter.
//! Updates are in place and outside autograd (as under `no_grad`), and bump the version of
//! every tensor they write, so a graph that saved a parameter before the step fails loudly
//! instead of differentiating stale values.

pub use crate::backend::AdamOptions;
use crate::backend::{self, AdamHyper, AdamMoments, Rule, RuleStep, SgdHyper};
use crate::error::{dtype_err, shape_err, value_err, Error, Result, ShapeDisplay};
use crate::tensor::{DType, Tensor};
use smallvec::SmallVec;

/// The state tensors of one parameter for Adam.
pub struct AdamSlot<'a> {
    pub exp_avg: &'a Tensor,
    pub exp_avg_sq: &'a Tensor,
    pub max_exp_avg_sq: Option<&'a Tensor>,
    /// A one-element float tensor counting this parameter's steps (PyTorch's `state['step']`).
    pub step: &'a Tensor,
}

/// Checks `param` (a float, contiguous tensor) and returns its gradient in a form the kernels
/// can read: contiguous and not overlapping anything they write.
fn checked_grad(op: &str, i: usize, param: &Tensor, grad: &Tensor, state: &[(&str, &Tensor)]) -> Result<Tensor> {
    if !param.dtype().is_float() {
        return Err(dtype_err!("{op}: parameter {i} is {}; only float tensors can be optimized", param.dtype().name()));
    }
    if !param.is_contiguous() {
        return Err(value_err!(
            "{op}: parameter {i} (shape {}) is a non-contiguous view; optimize a contiguous tensor (make the parameter from t.contiguous())",
            ShapeDisplay(param.shape())
        ));
    }
    if grad.shape() != param.shape() || grad.dtype() != param.dtype() {
        return Err(shape_err!(
            "{op}: the gradient of parameter {i} is {} {}, but the parameter is {} {}",
            grad.dtype().name(),
            ShapeDisplay(grad.shape()),
            param.dtype().name(),
            ShapeDisplay(param.shape())
        ));
    }
    for (k, (name, s)) in state.iter().enumerate() {
        if s.shape() != param.shape() || s.dtype() != param.dtype() || !s.is_contiguous() {
            return Err(shape_err!(
                "{op}: state '{name}' of parameter {i} is {} {} ({}contiguous), but the parameter is {} {}; \
                 was the optimizer state loaded for different parameters?",
                s.dtype().name(),
                ShapeDisplay(s.shape()),
                if s.is_contiguous() { "" } else { "non-" },
                param.dtype().name(),
                ShapeDisplay(param.shape())
            ));
        }
        let overlaps = s.shares_storage(param) || state[..k].iter().any(|(_, o)| s.shares_storage(o));
        if overlaps {
            return Err(value_err!("{op}: state '{name}' of parameter {i} shares memory with the parameter or its other state"));
        }
    }
    let aliased = grad.shares_storage(param) || state.iter().any(|(_, s)| grad.shares_storage(s));
    if aliased || !grad.is_contiguous() {
        backend::cast(grad, grad.dtype())
    } else {
        Ok(grad.clone())
    }
}

fn check_lengths(op: &str, params: usize, others: &[(&str, usize)]) -> Result<()> {
    for (name, n) in others {
        if *n != params {
            return Err(value_err!("{op}: got {params} parameters but {n} {name}; pass one per parameter"));
        }
    }
    Ok(())
}

/// One SGD step for every parameter. `momentum_buffers[i]` is `None` before a parameter's
/// first step with momentum; the buffer is created then (as a copy of the direction, like
/// PyTorch) and returned in place of the `None`. Everything is checked before anything is
/// written, so a bad argument leaves every parameter as it was.
pub fn sgd_step(params: &[Tensor], grads: &[Tensor], momentum_buffers: &mut [Option<Tensor>], hp: SgdHyper) -> Result<()> {
    check_lengths("sgd", params.len(), &[("gradients", grads.len()), ("momentum buffers", momentum_buffers.len())])?;
    if hp.nesterov && (hp.momentum <= 0.0 || hp.dampening != 0.0) {
        return Err(value_err!("sgd: Nesterov momentum requires a momentum and zero dampening"));
    }
    let with_momentum = hp.momentum != 0.0;
    let mut checked = Vec::with_capacity(params.len());
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        let buf = momentum_buffers[i].as_ref().filter(|_| with_momentum);
        let state: Vec<(&str, &Tensor)> = buf.iter().map(|b| ("momentum_buffer", *b)).collect();
        checked.push(checked_grad("sgd", i, p, g, &state)?);
    }
    for (i, (p, g)) in params.iter().zip(&checked).enumerate() {
        let first_step = with_momentum && momentum_buffers[i].is_none();
        if first_step {
            momentum_buffers[i] = Some(backend::full(p.shape(), 0.0, p.dtype(), p.device())?);
        }
        let buf = momentum_buffers[i].as_ref().filter(|_| with_momentum);
        backend::sgd_update(p, g, buf, &SgdHyper { first_step, ..hp })?;
        p.storage().bump_version();
        if let Some(b) = buf {
            b.storage().bump_version();
        }
    }
    Ok(())
}

/// One Adam/AdamW step for every parameter; each parameter's step counter is incremented.
/// Everything is checked before anything is written.
pub fn adam_step(params: &[Tensor], grads: &[Tensor], slots: &[AdamSlot], opts: AdamOptions) -> Result<()> {
    check_lengths("adam", params.len(), &[("gradients", grads.len()), ("state entries", slots.len())])?;
    if !(0.0..1.0).contains(&opts.beta1) || !(0.0..1.0).contains(&opts.beta2) {
        return Err(value_err!("adam: betas must be in [0, 1), got ({}, {})", opts.beta1, opts.beta2));
    }
    let mut checked = Vec::with_capacity(params.len());
    for (i, ((p, g), s)) in params.iter().zip(grads).zip(slots).enumerate() {
        let mut state = vec![("exp_avg", s.exp_avg), ("exp_avg_sq", s.exp_avg_sq)];
        match (opts.amsgrad, s.max_exp_avg_sq) {
            (true, Some(v)) => state.push(("max_exp_avg_sq", v)),
            (true, None) => return Err(value_err!("adam: amsgrad needs a max_exp_avg_sq state for parameter {i}")),
            (false, _) => {}
        }
        let g = checked_grad("adam", i, p, g, &state)?;
        if s.step.numel() != 1 || !s.step.dtype().is_float() {
            return Err(Error::Value(format!("adam: the step of parameter {i} must be a one-element float tensor")));
        }
        checked.push((g, backend::item(s.step)? + 1.0));
    }
    for ((p, s), (g, t)) in params.iter().zip(slots).zip(checked) {
        let hp = AdamHyper::at_step(opts, t);
        let vmax = if opts.amsgrad { s.max_exp_avg_sq } else { None };
        let moments = AdamMoments { exp_avg: s.exp_avg, exp_avg_sq: s.exp_avg_sq, max_exp_avg_sq: vmax };
        backend::adam_update(p, &g, &moments, &hp)?;
        backend::copy_into(s.step, &Tensor::scalar(t, s.step.dtype()))?;
        for written in [p, s.exp_avg, s.exp_avg_sq, s.step].into_iter().chain(vmax) {
            written.storage().bump_version();
        }
    }
    Ok(())
}

/// The optimizers whose update is a `backend::Rule`, with the hyperparameters of one group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleOptimizer {
    pub lr: f64,
    pub weight_decay: f64,
    pub maximize: bool,
    pub algorithm: Algorithm,
}

/// PyTorch's optimizer of each name, with its own hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Algorithm {
    RmsProp { alpha: f64, eps: f64, momentum: f64, centered: bool },
    Adagrad { lr_decay: f64, eps: f64 },
    Adadelta { rho: f64, eps: f64 },
    Adamax { beta1: f64, beta2: f64, eps: f64 },
    NAdam { beta1: f64, beta2: f64, eps: f64, momentum_decay: f64, decoupled: bool },
    RAdam { beta1: f64, beta2: f64, eps: f64, decoupled: bool },
    Asgd { lambd: f64, alpha: f64, t0: f64 },
    Rprop { eta_minus: f64, eta_plus: f64, step_min: f64, step_max: f64 },
}

/// `v` as a tensor of `dtype` would hold it (PyTorch keeps these scalars in float32 tensors).
fn rounded(v: f64, dtype: DType) -> f64 {
    if dtype == DType::F32 {
        f64::from(v as f32)
    } else {
        v
    }
}

impl RuleOptimizer {
    pub fn name(&self) -> &'static str {
        match self.algorithm {
            Algorithm::RmsProp { .. } => "rmsprop",
            Algorithm::Adagrad { .. } => "adagrad",
            Algorithm::Adadelta { .. } => "adadelta",
            Algorithm::Adamax { .. } => "adamax",
            Algorithm::NAdam { .. } => "nadam",
            Algorithm::RAdam { .. } => "radam",
            Algorithm::Asgd { .. } => "asgd",
            Algorithm::Rprop { .. } => "rprop",
        }
    }

    /// The state tensors of one parameter, in the order the kernels take them (PyTorch's keys).
    pub fn state_names(&self) -> SmallVec<[&'static str; 3]> {
        let names: &[&'static str] = match self.algorithm {
            Algorithm::RmsProp { momentum, centered, .. } => {
                let mut v = SmallVec::from_slice(&["square_avg"]);
                if centered {
                    v.push("grad_avg");
                }
                if momentum != 0.0 {
                    v.push("momentum_buffer");
                }
                return v;
            }
            Algorithm::Adagrad { .. } => &["sum"],
            Algorithm::Adadelta { .. } => &["square_avg", "acc_delta"],
            Algorithm::Adamax { .. } => &["exp_avg", "exp_inf"],
            Algorithm::NAdam { .. } | Algorithm::RAdam { .. } => &["exp_avg", "exp_avg_sq"],
            Algorithm::Asgd { .. } => &["ax"],
            Algorithm::Rprop { .. } => &["prev", "step_size"],
        };
        SmallVec::from_slice(names)
    }

    /// The one-element state of one parameter the step reads and advances, `step` first.
    pub fn scalar_names(&self) -> &'static [&'static str] {
        match self.algorithm {
            Algorithm::NAdam { .. } => &["step", "mu_product"],
            Algorithm::Asgd { .. } => &["step", "eta", "mu"],
            _ => &["step"],
        }
    }

    /// The rule of one parameter's next step, from its scalar state (`scalar_names`, as
    /// stored, in `dtype`), and that state after the step.
    pub fn plan(&self, scalars: &[f64], dtype: DType) -> (RuleStep, SmallVec<[f64; 3]>) {
        let (lr, wd) = (self.lr, self.weight_decay);
        let t = scalars[0] + 1.0;
        let mut after = SmallVec::from_slice(&[t]);
        // NAdam and RAdam decay the parameter directly when decoupled, else through the gradient.
        let decay = |decoupled: bool| if decoupled { (1.0 - lr * wd, 0.0) } else { (1.0, wd) };
        let mut l2 = wd;
        let rule = match self.algorithm {
            Algorithm::RmsProp { alpha, eps, momentum, centered } => Rule::RmsProp { lr, alpha, eps, momentum, centered },
            Algorithm::Adagrad { lr_decay, eps } => Rule::Adagrad { clr: lr / (1.0 + (t - 1.0) * lr_decay), eps },
            Algorithm::Adadelta { rho, eps } => Rule::Adadelta { lr, rho, eps },
            Algorithm::Adamax { beta1, beta2, eps } => Rule::Adamax { clr: lr / (1.0 - beta1.powf(t)), beta1, beta2, eps },
            Algorithm::NAdam { beta1, beta2, eps, momentum_decay, decoupled } => {
                let (shrink, coupled) = decay(decoupled);
                l2 = coupled;
                let mu = beta1 * (1.0 - 0.5 * 0.96f64.powf(t * momentum_decay));
                let mu_next = beta1 * (1.0 - 0.5 * 0.96f64.powf((t + 1.0) * momentum_decay));
                let mu_product = rounded(rounded(scalars[1], dtype) * rounded(mu, dtype), dtype);
                after.push(mu_product);
                let grad_step = lr * (1.0 - mu) / (1.0 - mu_product);
                let avg_step = lr * mu_next / (1.0 - mu_product * mu_next);
                Rule::NAdam { shrink, beta1, beta2, bias_correction2: 1.0 - beta2.powf(t), eps, grad_step, avg_step }
            }
            Algorithm::RAdam { beta1, beta2, eps, decoupled } => {
                let (shrink, coupled) = decay(decoupled);
                l2 = coupled;
                let bias_correction2 = 1.0 - beta2.powf(t);
                let rho_inf = 2.0 / (1.0 - beta2) - 1.0;
                let rho_t = rho_inf - 2.0 * t * beta2.powf(t) / bias_correction2;
                let rectified = (rho_t > 5.0).then(|| {
                    let rect = ((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t)).sqrt();
                    (bias_correction2.sqrt(), rect)
                });
                Rule::RAdam { shrink, lr, beta1, beta2, eps, bias_correction1: 1.0 - beta1.powf(t), rectified }
            }
            Algorithm::Asgd { lambd, alpha, t0 } => {
                let (eta, mu) = (scalars[1], scalars[2]);
                after.push(rounded(lr / (1.0 + lambd * lr * t).powf(alpha), dtype));
                after.push(rounded(1.0 / (t - t0).max(1.0), dtype));
                Rule::Asgd { shrink: 1.0 - lambd * eta, eta, mu: (mu != 1.0).then_some(mu) }
            }
            Algorithm::Rprop { eta_minus, eta_plus, step_min, step_max } => {
                l2 = 0.0;
                Rule::Rprop { eta_minus, eta_plus, step_min, step_max }
            }
        };
        (RuleStep { rule, maximize: self.maximize, l2 }, after)
    }
}

/// One step of `opt` for every parameter: `states[i]` are parameter i's state tensors
/// (`opt.state_names()`), `scalars[i]` its one-element state (`opt.scalar_names()`), both
/// updated in place. Everything is checked before anything is written.
pub fn rule_step(opt: &RuleOptimizer, params: &[Tensor], grads: &[Tensor], states: &[Vec<Tensor>], scalars: &[Vec<Tensor>]) -> Result<()> {
    let op = opt.name();
    check_lengths(op, params.len(), &[("gradients", grads.len()), ("state lists", states.len()), ("scalar state lists", scalars.len())])?;
    let (state_names, scalar_names) = (opt.state_names(), opt.scalar_names());
    let mut plans = Vec::with_capacity(params.len());
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if states[i].len() != state_names.len() || scalars[i].len() != scalar_names.len() {
            return Err(value_err!(
                "{op}: parameter {i} has {} state tensors and {} scalars, but this configuration needs {:?} and {:?}",
                states[i].len(),
                scalars[i].len(),
                state_names.as_slice(),
                scalar_names
            ));
        }
        let named: Vec<(&str, &Tensor)> = state_names.iter().copied().zip(&states[i]).collect();
        let g = checked_grad(op, i, p, g, &named)?;
        let mut values: SmallVec<[f64; 3]> = SmallVec::new();
        for (name, s) in scalar_names.iter().zip(&scalars[i]) {
            if s.numel() != 1 || !s.dtype().is_float() {
                return Err(value_err!("{op}: state '{name}' of parameter {i} must be a one-element float tensor, got {} {}", s.dtype().name(), ShapeDisplay(s.shape())));
            }
            values.push(backend::item(s)?);
        }
        let dtype = scalars[i][0].dtype();
        plans.push((g, opt.plan(&values, dtype)));
    }
    for (i, (p, (g, (rule, after)))) in params.iter().zip(plans).enumerate() {
        let state: SmallVec<[&Tensor; 3]> = states[i].iter().collect();
        backend::rule_update(p, &g, &state, &rule)?;
        for (s, v) in scalars[i].iter().zip(after) {
            backend::copy_into(s, &Tensor::scalar(v, s.dtype()))?;
            s.storage().bump_version();
        }
        for written in std::iter::once(p).chain(state.iter().copied()) {
            written.storage().bump_version();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f32>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    #[test]
    fn adam_step_counts_steps_and_bumps_versions() {
        let p = t(vec![1.0, 2.0]);
        let (m, v, step) = (t(vec![0.0; 2]), t(vec![0.0; 2]), Tensor::scalar(0.0, crate::DType::F32));
        let opts = AdamOptions { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: true, amsgrad: false, maximize: false };
        let slot = AdamSlot { exp_avg: &m, exp_avg_sq: &v, max_exp_avg_sq: None, step: &step };
        let before = p.version();
        for _ in 0..3 {
            adam_step(&[p.clone()], &[t(vec![1.0, -1.0])], &[AdamSlot { ..slot }], opts).unwrap();
        }
        assert_eq!(step.item().unwrap(), 3.0);
        assert_eq!(p.version(), before + 3);
        // A constant gradient moves each weight by lr per step, against the gradient's sign.
        let got = p.to_vec::<f32>().unwrap();
        assert!((got[0] - 0.7).abs() < 1e-5 && (got[1] - 2.3).abs() < 1e-5, "{got:?}");
    }

    #[test]
    fn mismatched_state_is_an_error_not_a_crash() {
        let p = t(vec![1.0, 2.0]);
        let (m, v, step) = (t(vec![0.0; 3]), t(vec![0.0; 2]), Tensor::scalar(0.0, crate::DType::F32));
        let opts = AdamOptions { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, amsgrad: false, maximize: false };
        let slot = AdamSlot { exp_avg: &m, exp_avg_sq: &v, max_exp_avg_sq: None, step: &step };
        let good_p = t(vec![5.0, 6.0]);
        let (gm, gv, gstep) = (t(vec![0.0; 2]), t(vec![0.0; 2]), Tensor::scalar(0.0, crate::DType::F32));
        let good = AdamSlot { exp_avg: &gm, exp_avg_sq: &gv, max_exp_avg_sq: None, step: &gstep };
        let err = adam_step(&[good_p.clone(), p.clone()], &[t(vec![1.0, 1.0]), t(vec![1.0, 1.0])], &[good, slot], opts).unwrap_err().to_string();
        assert!(err.contains("exp_avg") && err.contains("[3]") && err.contains("parameter 1"), "{err}");
        // Nothing was written: the valid first parameter and its step are untouched.
        assert_eq!(good_p.to_vec::<f32>().unwrap(), vec![5.0, 6.0]);
        assert_eq!(gstep.item().unwrap(), 0.0);
    }
}
