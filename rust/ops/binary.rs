//! Broadcasting binary ops. Gradients here are the lecture's gate patterns: add distributes,
//! mul swaps, max routes. Un-broadcasting is left to the engine.

use super::arith::{nan_route, no_gradient, route, Arith};
use super::Grads;
use crate::autograd::{record, Save, VjpCtx};
use crate::backend;
use crate::error::Result;
use crate::kinds::{BinaryKind, Class, Real, UnaryKind};
use crate::tensor::{broadcast_shapes, result_type, DType, PromotionInput, Tensor};
use smallvec::{smallvec, SmallVec};

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
    match kind.class() {
        Class::Float if !promoted.is_float() => DType::F32,
        Class::Logic => DType::Bool,
        _ => promoted,
    }
}

/// When a binary op saves one of its slots (inputs a, b, then the output).
#[allow(non_camel_case_types)]
#[derive(Clone, Copy)]
enum When {
    never,
    always,
    for_a,
    for_b,
}

impl When {
    fn holds(self, needs: &[bool]) -> bool {
        match self {
            When::never => false,
            When::always => true,
            When::for_a => needs[0],
            When::for_b => needs[1],
        }
    }
}

macro_rules! binary_vjps {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident $name:literal $class:ident $api:ident $inplace:tt saves(a: $sa:ident, b: $sb:ident, out: $so:ident)
        cpu(|$x:ident, $y:ident| $cpu:expr) int($(|$xi:ident, $yi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $a:ident, $b:ident, $o:ident| $va:expr, $vb:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        impl BinaryKind {
            /// What the vjp reads: inputs a and b, and the output.
            fn saves(self) -> [When; 3] {
                match self { $(BinaryKind::$K => [When::$sa, When::$sb, When::$so]),* }
            }

            /// The gradients of the inputs that `needs`, given the upstream gradient `g` and the
            /// saved slots (`saved(0)` is a, 1 is b, 2 the output): the table's formulas, on
            /// tensors or on plain numbers.
            #[allow(unused_variables, clippy::redundant_closure_call)]
            pub(crate) fn vjp<'s, V: Arith + 's>(
                self,
                g: &V,
                saved: impl Fn(usize) -> Result<&'s V>,
                needs: [bool; 2],
            ) -> Result<[Option<V>; 2]> {
                match self {
                    $(BinaryKind::$K => {
                        let ($g, $a, $b, $o) = (g, || saved(0), || saved(1), || saved(2));
                        Ok([
                            if needs[0] { Some((|| -> Result<V> { $va })()?) } else { None },
                            if needs[1] { Some((|| -> Result<V> { $vb })()?) } else { None },
                        ])
                    })*
                }
            }
        }
    };
}

crate::binary_table!(binary_vjps);

pub fn binary_op(kind: BinaryKind, a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let dtype = compute_dtype(kind, if a.dtype() == b.dtype() { a.dtype() } else { promote_types(a, b) });
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
        record_binary(kind, a, b, &out);
    }
    Ok(out)
}

/// Records `out = kind(a, b)` (operands of the computed dtype) in the graph, saving what
/// the kind's vjp reads; for kernels that make a binary op's result some other way
/// (dropout's product comes out of the kernel that draws its mask).
pub(super) fn record_binary(kind: BinaryKind, a: &Tensor, b: &Tensor, out: &Tensor) {
    record(super::Op::Binary(BinaryOp { kind }), &[a, b], out, |needs| {
        let mut saves = SmallVec::new();
        let slots = kind.saves();
        let Some(last) = slots.iter().rposition(|w| w.holds(needs)) else { return saves };
        for (i, w) in slots[..=last].iter().enumerate() {
            saves.push(match (w.holds(needs), i) {
                (false, _) => Save::Skip,
                (true, 0) => Save::Input(a),
                (true, 1) => Save::Input(b),
                (true, _) => Save::Output(0),
            });
        }
        saves
    });
}

impl BinaryOp {
    pub fn name(&self) -> &'static str {
        self.kind.name()
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let needs = [0, 1].map(|i| ctx.needs.get(i).copied().unwrap_or(false));
        let [ga, gb] = self.kind.vjp(ctx.grad(), |i| ctx.saved(i), needs)?;
        Ok(smallvec![ga, gb])
    }

    /// `vjp` on plain numbers, for graphs of one-element tensors: the same formula in the
    /// same dtype and order, so results match the tensor path bit for bit. `None` when it
    /// fails (a missing saved value, a kind without a gradient): the tensor engine handles those.
    #[inline]
    pub(crate) fn scalar_vjp<T: Real + Arith>(&self, g: T, saved: &[Option<T>], needs: [bool; 2]) -> Option<[Option<T>; 2]> {
        let missing = || crate::error::autograd_err!("missing saved value");
        self.kind.vjp(&g, |i| saved.get(i).and_then(|s| s.as_ref()).ok_or_else(missing), needs).ok()
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
    logical_and => And, logical_or => Or, logical_xor => Xor, bitwise_and => BitAnd, bitwise_or => BitOr,
    bitwise_xor => BitXor,
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
    super::grads(ctx, [&|| where_(cond, g, &zero), &|| where_(cond, &zero, g)])
}
