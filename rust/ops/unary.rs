//! Elementwise functions of one tensor. Each kind's forward, derivative and saved value are
//! its row of the op table (`table.rs`); this file records them and runs the vjps.

use super::arith::{no_gradient, Arith};
use super::{grads, scalar_like, Grads, OpParam, OpParams};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend;
use crate::error::Result;
use crate::kinds::{BinaryKind, Real, UnaryKind, GELU_K, SELU_ALPHA, SELU_SCALE};
use crate::tensor::{DType, Tensor};
use smallvec::smallvec;

pub struct UnaryOp {
    kind: UnaryKind,
}

pub fn unary_op(kind: UnaryKind, a: &Tensor) -> Result<Tensor> {
    let a = if kind.is_float_only() && !a.dtype().is_float() {
        super::cast(a, DType::F32)?
    } else {
        a.clone()
    };
    let out = backend::unary(kind, &a)?;
    record(super::Op::Unary(UnaryOp { kind }), &[&a], &out, |_| {
        if kind.saves_output() {
            smallvec![Save::Output(0)]
        } else {
            smallvec![Save::Input(&a)]
        }
    });
    Ok(out)
}

macro_rules! unary_vjps {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident { $($p:ident = $d:expr $(=> $none:ident)?),* } $name:literal $class:ident $save:ident $api:ident $inplace:tt
        cpu(|$x:ident| $cpu:expr) int($(|$xi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $s:ident| $vjp:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        impl UnaryKind {
            /// The input gradient given the upstream gradient `g` and the saved value `s` (the
            /// input, or the output for kinds that save it): the table's formula, on tensors or
            /// on plain numbers.
            #[allow(unused_variables, clippy::needless_return)]
            pub(crate) fn vjp<V: Arith>(self, g: &V, s: &V) -> Result<V> {
                match self {
                    $(UnaryKind::$K { $($p),* } => { let ($g, $s) = (g, s); $vjp })*
                }
            }
        }
    };
}

crate::unary_table!(unary_vjps);

impl UnaryOp {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    /// The parameters, except a clamp's infinite (absent) bounds.
    pub fn params(&self) -> OpParams {
        let clamp = matches!(self.kind, UnaryKind::Clamp { .. });
        let absent = |name: &str, v: f64| clamp && ((name == "min" && v == f64::NEG_INFINITY) || (name == "max" && v == f64::INFINITY));
        self.kind.params().into_iter().filter(|&(n, v)| !absent(n, v)).map(|(n, v)| (n, OpParam::Float(v))).collect()
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        grads(ctx, [&|| self.kind.vjp(ctx.grad(), ctx.saved(0)?)])
    }

    /// `vjp` on a plain number (see `BinaryOp::scalar_vjp`); `None` when it fails (the
    /// tensor engine then reports the error).
    #[inline]
    pub(crate) fn scalar_vjp<T: Real + Arith>(&self, g: T, saved: &[Option<T>], needs: [bool; 2]) -> Option<[Option<T>; 2]> {
        if !needs[0] {
            return Some([None, None]);
        }
        let s = saved.first().copied().flatten()?;
        Some([Some(self.kind.vjp(&g, &s).ok()?), None])
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
    relu => Relu, gelu => Gelu, logical_not => Not, isnan => IsNan, bitwise_not => BitwiseNot,
);

pub fn pow_scalar(a: &Tensor, p: f64) -> Result<Tensor> {
    unary_op(UnaryKind::PowScalar { exponent: p }, a)
}

pub fn clamp(a: &Tensor, min: Option<f64>, max: Option<f64>) -> Result<Tensor> {
    unary_op(UnaryKind::Clamp { min: min.unwrap_or(f64::NEG_INFINITY), max: max.unwrap_or(f64::INFINITY) }, a)
}

/// True where `a` is neither infinite nor NaN (`a - a` is 0 exactly there).
pub fn isfinite(a: &Tensor) -> Result<Tensor> {
    if !a.dtype().is_float() {
        return backend::full(a.shape(), 1.0, DType::Bool, a.device());
    }
    let d = super::sub(&a.detach(), &a.detach())?;
    super::eq(&d, &scalar_like(&d, 0.0)?)
}
