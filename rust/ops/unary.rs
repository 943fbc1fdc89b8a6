//! Elementwise functions of one tensor and their local derivatives.

use super::{grads, mul, neg, scalar_like, where_, Grads, OpParam, OpParams};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend::{self, UnaryKind};
use crate::error::{autograd_err, Result};
use crate::tensor::{DType, Float, Tensor};
use smallvec::smallvec;

pub struct UnaryOp {
    kind: UnaryKind,
}

/// Whether the vjp reads the output (cheaper than recomputing from the input).
fn saves_output(kind: UnaryKind) -> bool {
    matches!(
        kind,
        UnaryKind::Exp | UnaryKind::Sqrt | UnaryKind::Rsqrt | UnaryKind::Reciprocal | UnaryKind::Tanh | UnaryKind::Sigmoid | UnaryKind::Relu | UnaryKind::Elu(_)
    )
}

pub fn unary_op(kind: UnaryKind, a: &Tensor) -> Result<Tensor> {
    let a = if kind.is_float_only() && !a.dtype().is_float() {
        super::cast(a, DType::F32)?
    } else {
        a.clone()
    };
    let out = backend::unary(kind, &a)?;
    record(super::Op::Unary(UnaryOp { kind }), &[&a], &out, |_| {
        if saves_output(kind) {
            smallvec![Save::Output(0)]
        } else {
            smallvec![Save::Input(&a)]
        }
    });
    Ok(out)
}

impl UnaryOp {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn params(&self) -> OpParams {
        match self.kind {
            UnaryKind::LeakyRelu(slope) => vec![("negative_slope", OpParam::Float(slope))],
            UnaryKind::Elu(alpha) => vec![("alpha", OpParam::Float(alpha))],
            UnaryKind::PowScalar(p) => vec![("exponent", OpParam::Float(p))],
            UnaryKind::Clamp(lo, hi) => {
                let bound = |name, b: Option<f64>| b.map(|v| (name, OpParam::Float(v)));
                bound("min", lo).into_iter().chain(bound("max", hi)).collect()
            }
            _ => OpParams::new(),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        use UnaryKind::*;
        let g = ctx.grad();
        let s = ctx.saved(0)?; // the input, or the output for `saves_output` kinds
        let c = |v: f64| scalar_like(g, v);
        // Each arm is the input gradient: upstream times the local derivative.
        let input_grad = || -> Result<Tensor> {
            Ok(match self.kind {
                Neg => neg(g)?,
                Abs => mul(g, &unary_op(Sign, s)?)?,
                Sign => mul(g, &c(0.0)?)?,
                Exp => mul(g, s)?,
                Log => super::div(g, s)?,
                Sqrt => super::div(g, &mul(s, &c(2.0)?)?)?,
                Rsqrt => mul(g, &mul(&super::pow(s, &c(3.0)?)?, &c(-0.5)?)?)?,
                Reciprocal => mul(g, &neg(&mul(s, s)?)?)?,
                Sin => mul(g, &unary_op(Cos, s)?)?,
                Cos => mul(g, &neg(&unary_op(Sin, s)?)?)?,
                Tanh => mul(g, &super::sub(&c(1.0)?, &mul(s, s)?)?)?,
                // sigma' = sigma (1 - sigma), from the output alone
                Sigmoid => mul(g, &mul(s, &super::sub(&c(1.0)?, s)?)?)?,
                Relu => where_(&super::gt(s, &c(0.0)?)?, g, &c(0.0)?)?,
                LeakyRelu(slope) => where_(&super::gt(s, &c(0.0)?)?, g, &mul(g, &c(slope)?)?)?,
                Elu(alpha) => where_(&super::gt(s, &c(0.0)?)?, g, &mul(g, &super::add(s, &c(alpha)?)?)?)?,
                Gelu => mul(g, &unary_op(GeluGrad, s)?)?,
                GeluGrad => {
                    // gelu''(x) = phi(x) (2 - x^2)
                    let x2 = mul(s, s)?;
                    let phi = mul(&unary_op(Exp, &mul(&x2, &c(-0.5)?)?)?, &c(1.0 / (2.0 * std::f64::consts::PI).sqrt())?)?;
                    mul(g, &mul(&phi, &super::sub(&c(2.0)?, &x2)?)?)?
                }
                PowScalar(p) => mul(g, &mul(&c(p)?, &unary_op(PowScalar(p - 1.0), s)?)?)?,
                Clamp(lo, hi) => {
                    let mut inside = super::ge(s, s)?; // all true (false at NaN)
                    if let Some(lo) = lo {
                        inside = super::logical_and(&inside, &super::ge(s, &c(lo)?)?)?;
                    }
                    if let Some(hi) = hi {
                        inside = super::logical_and(&inside, &super::le(s, &c(hi)?)?)?;
                    }
                    where_(&inside, g, &c(0.0)?)?
                }
                Not | IsNan => return Err(autograd_err!("{} has no gradient", self.kind.name())),
            })
        };
        grads(ctx, [&input_grad])
    }
}

impl UnaryOp {
    /// `vjp` on a plain number (see `BinaryOp::scalar_vjp`); `s` is what the op saved.
    pub(crate) fn scalar_vjp<T: Float>(&self, g: T, saved: &[Option<T>], needs: [bool; 2]) -> Option<[Option<T>; 2]> {
        use UnaryKind::*;
        if !needs[0] {
            return Some([None, None]);
        }
        let s = saved.first().copied().flatten()?;
        let c = T::from_f64c;
        let input_grad = match self.kind {
            Neg => -g,
            Exp => g * s,
            Log => g / s,
            Sqrt => g / (s * c(2.0)),
            Reciprocal => g * -(s * s),
            Tanh => g * (c(1.0) - s * s),
            Sigmoid => g * (s * (c(1.0) - s)),
            Relu => if s > T::ZERO { g } else { T::ZERO },
            LeakyRelu(slope) => if s > T::ZERO { g } else { g * c(slope) },
            Elu(alpha) => if s > T::ZERO { g } else { g * (s + c(alpha)) },
            _ => return None,
        };
        Some([Some(input_grad), None])
    }
}

macro_rules! unary_fns {
    ($($name:ident => $kind:ident),* $(,)?) => {
        $(
            pub fn $name(a: &Tensor) -> Result<Tensor> {
                unary_op(UnaryKind::$kind, a)
            }
        )*
    };
}

unary_fns!(
    abs => Abs, sign => Sign, exp => Exp, log => Log, sqrt => Sqrt, rsqrt => Rsqrt,
    reciprocal => Reciprocal, sin => Sin, cos => Cos, tanh => Tanh, sigmoid => Sigmoid,
    relu => Relu, gelu => Gelu, logical_not => Not, isnan => IsNan,
);

pub fn leaky_relu(a: &Tensor, negative_slope: f64) -> Result<Tensor> {
    unary_op(UnaryKind::LeakyRelu(negative_slope), a)
}

pub fn elu(a: &Tensor, alpha: f64) -> Result<Tensor> {
    unary_op(UnaryKind::Elu(alpha), a)
}

pub fn pow_scalar(a: &Tensor, p: f64) -> Result<Tensor> {
    unary_op(UnaryKind::PowScalar(p), a)
}

pub fn clamp(a: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
    unary_op(UnaryKind::Clamp(min, max), a)
}

/// True where `a` is neither infinite nor NaN (`a - a` is 0 exactly there).
pub fn isfinite(a: &Tensor) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return backend::full(a.shape(), 1.0, DType::Bool, a.device());
    }
    let d = super::sub(&a.detach(), &a.detach())?;
    super::eq(&d, &scalar_like(&d, 0.0)?)
}
