//! The kernel vocabulary shared by dispatch and both kernel sets (a leaf: it imports only
//! `tensor`): which elementwise function (generated from the op table, `ops/table.rs`), which
//! reduction, which random distribution, the optimizer updates' scalars.

mod elementwise;
mod real;
mod scan;
mod wgsl;

pub use elementwise::*;
pub use real::Real;
pub use scan::ScanKind;
pub use wgsl::generated_wgsl;

use crate::tensor::Tensor;

/// SELU's constants (Klambauer et al. 2017), as PyTorch writes them.
pub const SELU_ALPHA: f64 = 1.6732632423543772848170429916717;
pub const SELU_SCALE: f64 = 1.0507009873554804934193349852946;
/// sqrt(2 / pi), of gelu's tanh approximation.
pub const GELU_K: f64 = 0.7978845608028654;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReduceKind {
    Sum,
    Prod,
    Max,
    Min,
}

impl ReduceKind {
    pub fn name(self) -> &'static str {
        match self {
            ReduceKind::Sum => "sum",
            ReduceKind::Prod => "prod",
            ReduceKind::Max => "max",
            ReduceKind::Min => "min",
        }
    }
}

/// What a random factory samples.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Distribution {
    /// Uniform in [low, high).
    Uniform { low: f64, high: f64 },
    /// Normal with this mean and standard deviation.
    Normal { mean: f64, std: f64 },
    /// An inverted-dropout mask: `scale` with probability `keep`, else 0.
    Bernoulli { keep: f64, scale: f64 },
}

/// The scalars of one SGD update of one tensor (PyTorch's `SGD` rule; see `cpu::optim`).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SgdHyper {
    pub lr: f64,
    pub momentum: f64,
    pub dampening: f64,
    pub weight_decay: f64,
    pub nesterov: bool,
    pub maximize: bool,
    /// The momentum buffer is new: it starts as the gradient itself (no dampening).
    pub first_step: bool,
}

/// The hyperparameters of an Adam/AdamW parameter group.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamOptions {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
    /// AdamW: decay the parameter directly instead of adding `weight_decay * p` to the gradient.
    pub decoupled: bool,
    pub amsgrad: bool,
    pub maximize: bool,
}

/// One Adam / AdamW update of one tensor: its group's options at the tensor's own step `t`,
/// with the bias corrections that depend on it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamHyper {
    pub opts: AdamOptions,
    /// `lr / (1 - beta1^t)`.
    pub step_size: f64,
    /// `sqrt(1 - beta2^t)`.
    pub bias_correction2_sqrt: f64,
}

impl AdamHyper {
    pub fn at_step(opts: AdamOptions, t: f64) -> AdamHyper {
        AdamHyper {
            opts,
            step_size: opts.lr / (1.0 - opts.beta1.powf(t)),
            bias_correction2_sqrt: (1.0 - opts.beta2.powf(t)).sqrt(),
        }
    }

    /// The factor on the gradient: -1 when maximizing.
    pub fn sign(&self) -> f64 {
        if self.opts.maximize {
            -1.0
        } else {
            1.0
        }
    }

    /// The factor on the parameter before the update: `1 - lr * wd` for AdamW, exactly 1 otherwise.
    pub fn shrink(&self) -> f64 {
        if self.opts.decoupled {
            1.0 - self.opts.lr * self.opts.weight_decay
        } else {
            1.0
        }
    }

    /// Adam's coupled (L2) decay: `weight_decay * p` is added to the gradient.
    pub fn l2(&self) -> bool {
        self.opts.weight_decay != 0.0 && !self.opts.decoupled
    }
}

/// Adam's running moments of one parameter (and AMSGrad's maximum, when on).
#[derive(Clone, Copy)]
pub struct AdamMoments<'a> {
    pub exp_avg: &'a Tensor,
    pub exp_avg_sq: &'a Tensor,
    pub max_exp_avg_sq: Option<&'a Tensor>,
}
