//! Broadcasting binary ops. Gradients here are the lecture's gate patterns: add distributes,
//! mul swaps, max routes. Un-broadcasting is left to the engine.

use super::{grads, Grads};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend::{self, BinaryKind, UnaryKind};
use crate::error::{autograd_err, Result};
use crate::tensor::{broadcast_shapes, result_type, DType, Float, PromotionInput, Tensor};
use smallvec::smallvec;

pub struct BinaryOp {
    kind: BinaryKind,
}

fn priority(t: &Tensor) -> u8 {
    if t.is_wrapped_number() {
        0
    } else if t.ndim() == 0 {
        1
    } else {
        2
    }
}

/// PyTorch's result dtype for `a op b`.
pub fn promote_types(a: &Tensor, b: &Tensor) -> DType {
    result_type(&[
        PromotionInput { dtype: a.dtype(), priority: priority(a) },
        PromotionInput { dtype: b.dtype(), priority: priority(b) },
    ])
}

/// The dtype `kind` computes in, given the promoted dtype of its operands.
fn compute_dtype(kind: BinaryKind, promoted: DType) -> DType {
    match kind {
        BinaryKind::Div if !promoted.is_float() => DType::F32,
        BinaryKind::And | BinaryKind::Or | BinaryKind::Xor => DType::Bool,
        _ => promoted,
    }
}

pub fn binary_op(kind: BinaryKind, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = if a.dtype() == b.dtype() && kind != BinaryKind::Div && !matches!(kind, BinaryKind::And | BinaryKind::Or | BinaryKind::Xor) {
        a.dtype()
    } else {
        compute_dtype(kind, promote_types(a, b))
    };
    let shape = if a.shape() == b.shape() { a.dims() } else { broadcast_shapes(a.shape(), b.shape(), kind.name())? };
    let (a_cast, b_cast);
    let a = if a.dtype() != dtype {
        a_cast = super::cast(a, dtype)?;
        &a_cast
    } else {
        a
    };
    let b = if b.dtype() != dtype {
        b_cast = super::cast(b, dtype)?;
        &b_cast
    } else {
        b
    };
    let out = backend::binary(kind, a, b, &shape)?;
    if !kind.returns_bool() {
        record(super::Op::Binary(BinaryOp { kind }), &[a, b], &out, |needs| match kind {
            BinaryKind::Add | BinaryKind::Sub => smallvec![],
            BinaryKind::Mul => smallvec![
                if needs[1] { Save::Input(a) } else { Save::Skip },
                if needs[0] { Save::Input(b) } else { Save::Skip },
            ],
            BinaryKind::Div => smallvec![if needs[1] { Save::Input(a) } else { Save::Skip }, Save::Input(b)],
            BinaryKind::Pow => smallvec![Save::Input(a), Save::Input(b), if needs[1] { Save::Output(0) } else { Save::Skip }],
            _ => smallvec![Save::Input(a), Save::Input(b)],
        });
    }
    Ok(out)
}

impl BinaryOp {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        match self.kind {
            BinaryKind::Add => grads(ctx, [&|| Ok(g.clone()), &|| Ok(g.clone())]),
            BinaryKind::Sub => grads(ctx, [&|| Ok(g.clone()), &|| neg(g)]),
            // mul swaps: each input's gradient is the upstream gradient times the other input.
            BinaryKind::Mul => grads(ctx, [&|| mul(g, ctx.saved(1)?), &|| mul(g, ctx.saved(0)?)]),
            BinaryKind::Div => {
                let b = ctx.saved(1)?;
                grads(ctx, [&|| div(g, b), &|| neg(&div(&mul(g, ctx.saved(0)?)?, &mul(b, b)?)?)])
            }
            BinaryKind::Pow => {
                let (a, b) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [
                    &|| {
                        let bm1 = sub(b, &scalar_like(b, 1.0)?)?;
                        let local = mul(b, &pow(a, &bm1)?)?;
                        // 0 ** 0 has derivative 0 in the base direction, not 0 * inf.
                        let zero_exp = eq(b, &scalar_like(b, 0.0)?)?;
                        mul(g, &where_(&zero_exp, &scalar_like(&local, 0.0)?, &local)?)
                    },
                    &|| {
                        let out = ctx.saved(2)?;
                        let local = mul(out, &super::unary_op(UnaryKind::Log, a)?)?;
                        // d/db a**b at a == 0 with b >= 0 is 0 (PyTorch's convention).
                        let mask = logical_and(&eq(a, &scalar_like(a, 0.0)?)?, &ge(b, &scalar_like(b, 0.0)?)?)?;
                        mul(g, &where_(&mask, &scalar_like(&local, 0.0)?, &local)?)
                    },
                ])
            }
            // max routes the gradient to the larger input; ties split it evenly.
            BinaryKind::Maximum | BinaryKind::Minimum => {
                let (a, b) = (ctx.saved(0)?, ctx.saved(1)?);
                let (wins_a, wins_b) =
                    if self.kind == BinaryKind::Maximum { (gt(a, b)?, lt(a, b)?) } else { (lt(a, b)?, gt(a, b)?) };
                let tie = eq(a, b)?;
                let half = mul(g, &scalar_like(g, 0.5)?)?;
                let zero = scalar_like(g, 0.0)?;
                grads(ctx, [
                    &|| where_(&wins_a, g, &where_(&tie, &half, &zero)?),
                    &|| where_(&wins_b, g, &where_(&tie, &half, &zero)?),
                ])
            }
            BinaryKind::Remainder => {
                let (a, b) = (ctx.saved(0)?, ctx.saved(1)?);
                grads(ctx, [&|| Ok(g.clone()), &|| neg(&mul(g, &floor_divide(a, b)?)?)])
            }
            BinaryKind::FloorDiv => Err(autograd_err!(
                "floor_divide is not differentiable (its derivative is zero almost everywhere and undefined at the steps)"
            )),
            k => Err(autograd_err!("{} has no gradient", k.name())),
        }
    }
}

impl BinaryOp {
    /// `vjp` on plain numbers, for graphs of one-element tensors: the same arithmetic in the
    /// same dtype and order, so results match the tensor formulas bit for bit. `None` for kinds
    /// without a scalar form (or a missing saved value): the tensor engine handles those.
    pub(crate) fn scalar_vjp<T: Float>(&self, g: T, saved: &[Option<T>], needs: [bool; 2]) -> Option<[Option<T>; 2]> {
        let s = |i: usize| saved.get(i).copied().flatten();
        let both = |fa: &dyn Fn() -> Option<T>, fb: &dyn Fn() -> Option<T>| -> Option<[Option<T>; 2]> {
            Some([if needs[0] { Some(fa()?) } else { None }, if needs[1] { Some(fb()?) } else { None }])
        };
        match self.kind {
            BinaryKind::Add => both(&|| Some(g), &|| Some(g)),
            BinaryKind::Sub => both(&|| Some(g), &|| Some(-g)),
            BinaryKind::Mul => both(&|| Some(g * s(1)?), &|| Some(g * s(0)?)),
            BinaryKind::Div => both(&|| Some(g / s(1)?), &|| {
                let b = s(1)?;
                Some(-((g * s(0)?) / (b * b)))
            }),
            BinaryKind::Maximum | BinaryKind::Minimum => {
                let (a, b) = (s(0)?, s(1)?);
                let (wins_a, wins_b) = if self.kind == BinaryKind::Maximum { (a > b, a < b) } else { (a < b, a > b) };
                let routed = |wins: bool| Some(if wins { g } else if a == b { g * T::from_f64c(0.5) } else { T::ZERO });
                both(&|| routed(wins_a), &|| routed(wins_b))
            }
            _ => None,
        }
    }
}

/// A Python-number-like 0-dim tensor on `like`'s device, in `like`'s dtype if it is float.
pub fn scalar_like(like: &Tensor, value: f64) -> Result<Tensor> {
    let dtype = if like.dtype().is_float() {
        like.dtype()
    } else if value.fract() == 0.0 {
        DType::I64
    } else {
        DType::F32
    };
    backend::wrapped_number(value, dtype, like.device())
}

macro_rules! binary_fns {
    ($($name:ident => $kind:ident),* $(,)?) => {
        $(
            pub fn $name(a: &Tensor, b: &Tensor) -> Result<Tensor> {
                binary_op(BinaryKind::$kind, a, b)
            }
        )*
    };
}

binary_fns!(
    add => Add, sub => Sub, mul => Mul, div => Div, pow => Pow,
    maximum => Maximum, minimum => Minimum, floor_divide => FloorDiv, remainder => Remainder,
    eq => Eq, ne => Ne, lt => Lt, le => Le, gt => Gt, ge => Ge,
    logical_and => And, logical_or => Or, logical_xor => Xor,
);

pub fn neg(a: &Tensor) -> Result<Tensor> {
    super::unary_op(UnaryKind::Neg, a)
}

/// `cond ? a : b` with broadcasting; differentiable in `a` and `b`.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let cond = if cond.dtype() != DType::Bool { super::cast(cond, DType::Bool)? } else { cond.clone() };
    let dtype = promote_types(a, b);
    let a = if a.dtype() != dtype { super::cast(a, dtype)? } else { a.clone() };
    let b = if b.dtype() != dtype { super::cast(b, dtype)? } else { b.clone() };
    let shape = broadcast_shapes(&broadcast_shapes(cond.shape(), a.shape(), "where")?, b.shape(), "where")?;
    let out = backend::where_(&cond, &a, &b, &shape)?;
    record(super::Op::Where, &[&a, &b], &out, |_| smallvec![Save::Other(cond.clone())]);
    Ok(out)
}

/// `where`'s vjp: the gradient goes to whichever branch each element took.
pub(crate) fn where_vjp(ctx: &VjpCtx) -> Result<Grads> {
    let cond = ctx.saved(0)?;
    let g = ctx.grad();
    let zero = scalar_like(g, 0.0)?;
    grads(ctx, [&|| where_(cond, g, &zero), &|| where_(cond, &zero, g)])
}
