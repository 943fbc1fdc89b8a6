//! The kernel vocabulary shared by every device: which elementwise function, which reduction,
//! which random distribution.

use crate::tensor::Tensor;

#[derive(Clone, Copy, Debug, PartialEq)]
pub enum UnaryKind {
    Neg,
    Abs,
    Sign,
    Exp,
    Log,
    Sqrt,
    Rsqrt,
    Reciprocal,
    Sin,
    Cos,
    Tanh,
    Sigmoid,
    Relu,
    LeakyRelu(f64),
    Elu(f64),
    Gelu,
    /// d/dx gelu(x), used by gelu's backward.
    GeluGrad,
    /// x ** p for a constant p.
    PowScalar(f64),
    Clamp(Option<f64>, Option<f64>),
    /// Logical not (bool).
    Not,
    IsNan,
}

impl UnaryKind {
    pub fn name(self) -> &'static str {
        match self {
            UnaryKind::Neg => "neg",
            UnaryKind::Abs => "abs",
            UnaryKind::Sign => "sign",
            UnaryKind::Exp => "exp",
            UnaryKind::Log => "log",
            UnaryKind::Sqrt => "sqrt",
            UnaryKind::Rsqrt => "rsqrt",
            UnaryKind::Reciprocal => "reciprocal",
            UnaryKind::Sin => "sin",
            UnaryKind::Cos => "cos",
            UnaryKind::Tanh => "tanh",
            UnaryKind::Sigmoid => "sigmoid",
            UnaryKind::Relu => "relu",
            UnaryKind::LeakyRelu(_) => "leaky_relu",
            UnaryKind::Elu(_) => "elu",
            UnaryKind::Gelu => "gelu",
            UnaryKind::GeluGrad => "gelu_backward",
            UnaryKind::PowScalar(_) => "pow",
            UnaryKind::Clamp(..) => "clamp",
            UnaryKind::Not => "logical_not",
            UnaryKind::IsNan => "isnan",
        }
    }

    /// Whether the function only makes sense on floats (ints are promoted to float32 first).
    pub fn is_float_only(self) -> bool {
        !matches!(
            self,
            UnaryKind::Neg | UnaryKind::Abs | UnaryKind::Sign | UnaryKind::Relu | UnaryKind::Clamp(..) | UnaryKind::Not | UnaryKind::IsNan
        )
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    Add,
    Sub,
    Mul,
    Div,
    Pow,
    Maximum,
    Minimum,
    FloorDiv,
    Remainder,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    And,
    Or,
    Xor,
}

impl BinaryKind {
    pub fn name(self) -> &'static str {
        match self {
            BinaryKind::Add => "add",
            BinaryKind::Sub => "sub",
            BinaryKind::Mul => "mul",
            BinaryKind::Div => "div",
            BinaryKind::Pow => "pow",
            BinaryKind::Maximum => "maximum",
            BinaryKind::Minimum => "minimum",
            BinaryKind::FloorDiv => "floor_divide",
            BinaryKind::Remainder => "remainder",
            BinaryKind::Eq => "eq",
            BinaryKind::Ne => "ne",
            BinaryKind::Lt => "lt",
            BinaryKind::Le => "le",
            BinaryKind::Gt => "gt",
            BinaryKind::Ge => "ge",
            BinaryKind::And => "logical_and",
            BinaryKind::Or => "logical_or",
            BinaryKind::Xor => "logical_xor",
        }
    }

    /// Comparisons and logical ops return bool.
    pub fn returns_bool(self) -> bool {
        matches!(
            self,
            BinaryKind::Eq
                | BinaryKind::Ne
                | BinaryKind::Lt
                | BinaryKind::Le
                | BinaryKind::Gt
                | BinaryKind::Ge
                | BinaryKind::And
                | BinaryKind::Or
                | BinaryKind::Xor
        )
    }
}

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
