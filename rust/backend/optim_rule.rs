//! The elementwise optimizer rules beyond SGD and Adam (PyTorch's RMSprop, Adagrad, Adadelta,
//! Adamax, NAdam, RAdam, ASGD and Rprop, single-tensor path), as the CPU and GPU kernels both
//! see them: every scalar that depends on the step count (bias corrections, decayed learning
//! rates, NAdam's momentum products) is already worked out in f64 by `ops::optim`, so a
//! kernel only does the per-element arithmetic, in PyTorch's order of operations.

/// One update of one tensor. Every rule first prepares the gradient the same way,
/// `g = (maximize ? -g : g) + l2 * p` (the `+ l2 * p` only when `l2 != 0`), from the parameter
/// as it was before the step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct RuleStep {
    pub rule: Rule,
    pub maximize: bool,
    /// Coupled weight decay, added to the gradient.
    pub l2: f64,
}

/// The per-element rule, with the state tensors it reads and writes listed in order
/// (`RuleStep::state_count` of them; the kernels receive them in this order).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Rule {
    /// State: square_avg, then grad_avg when `centered`, then momentum_buffer when `momentum != 0`.
    RmsProp { lr: f64, alpha: f64, eps: f64, momentum: f64, centered: bool },
    /// State: sum. `clr` is the decayed rate `lr / (1 + (t - 1) * lr_decay)`.
    Adagrad { clr: f64, eps: f64 },
    /// State: square_avg, acc_delta.
    Adadelta { lr: f64, rho: f64, eps: f64 },
    /// State: exp_avg, exp_inf. `clr` is `lr / (1 - beta1^t)`.
    Adamax { clr: f64, beta1: f64, beta2: f64, eps: f64 },
    /// State: exp_avg, exp_avg_sq. `p *= shrink` first (decoupled decay); then
    /// `p -= grad_step * g / denom` and `p -= avg_step * exp_avg / denom`.
    NAdam { shrink: f64, beta1: f64, beta2: f64, bias_correction2: f64, eps: f64, grad_step: f64, avg_step: f64 },
    /// State: exp_avg, exp_avg_sq. `rectified` is `Some((sqrt(1 - beta2^t), rect))` once the
    /// variance is tractable (rho_t > 5), else the step is plain momentum.
    RAdam { shrink: f64, lr: f64, beta1: f64, beta2: f64, eps: f64, bias_correction1: f64, rectified: Option<(f64, f64)> },
    /// State: ax. `p = p * shrink - eta * g`; `ax += (p - ax) * mu`, or `ax = p` when `mu` is None (mu == 1).
    Asgd { shrink: f64, eta: f64, mu: Option<f64> },
    /// State: prev, step_size.
    Rprop { eta_minus: f64, eta_plus: f64, step_min: f64, step_max: f64 },
}

impl RuleStep {
    /// How many state tensors the rule reads and writes.
    pub fn state_count(&self) -> usize {
        match self.rule {
            Rule::RmsProp { momentum, centered, .. } => 1 + usize::from(centered) + usize::from(momentum != 0.0),
            Rule::Adagrad { .. } | Rule::Asgd { .. } => 1,
            Rule::Adadelta { .. } | Rule::Adamax { .. } | Rule::NAdam { .. } | Rule::RAdam { .. } | Rule::Rprop { .. } => 2,
        }
    }

    pub fn name(&self) -> &'static str {
        match self.rule {
            Rule::RmsProp { .. } => "rmsprop",
            Rule::Adagrad { .. } => "adagrad",
            Rule::Adadelta { .. } => "adadelta",
            Rule::Adamax { .. } => "adamax",
            Rule::NAdam { .. } => "nadam",
            Rule::RAdam { .. } => "radam",
            Rule::Asgd { .. } => "asgd",
            Rule::Rprop { .. } => "rprop",
        }
    }
}
