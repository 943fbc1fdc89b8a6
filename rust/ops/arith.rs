//! `Arith`: the arithmetic the op table's vjps are written in, implemented by `Tensor`
//! (differentiable ops: with `create_graph` the formulas record a graph of their own) and by
//! plain numbers (the scalar backward path). One formula, two evaluations, the same bits: each
//! tensor op on a one-element CPU tensor runs the same float operation the number does.

use super::{binary_op, scalar_like, unary_op, where_};
use crate::error::{autograd_err, Error, Result};
use crate::kinds::{BinaryKind, UnaryKind};
use crate::tensor::Tensor;

pub(crate) trait Arith: Sized + Clone {
    /// A truth value per element (a bool tensor, a bool).
    type Mask;
    /// The constant `v` in `self`'s dtype (and on its device).
    fn num(&self, v: f64) -> Result<Self>;
    /// Zeros shaped like `self`.
    fn zeros(&self) -> Result<Self>;
    fn un(&self, kind: UnaryKind) -> Result<Self>;
    fn bin(&self, kind: BinaryKind, other: &Self) -> Result<Self>;
    /// A comparison (`kind` is Eq, Lt, ...).
    fn test(&self, kind: BinaryKind, other: &Self) -> Result<Self::Mask>;
    fn both(a: &Self::Mask, b: &Self::Mask) -> Result<Self::Mask>;
    /// `mask ? a : b`.
    fn pick(mask: &Self::Mask, a: &Self, b: &Self) -> Result<Self>;

    fn add(&self, o: &Self) -> Result<Self> {
        self.bin(BinaryKind::Add, o)
    }
    fn sub(&self, o: &Self) -> Result<Self> {
        self.bin(BinaryKind::Sub, o)
    }
    fn mul(&self, o: &Self) -> Result<Self> {
        self.bin(BinaryKind::Mul, o)
    }
    fn div(&self, o: &Self) -> Result<Self> {
        self.bin(BinaryKind::Div, o)
    }
    fn neg(&self) -> Result<Self> {
        self.un(UnaryKind::Neg)
    }

    /// `g` where `lo < self < hi` (exclusive, PyTorch's hardtanh convention), else 0.
    fn inside_open(&self, lo: f64, hi: f64, g: &Self) -> Result<Self> {
        let inside = Self::both(&self.test(BinaryKind::Gt, &self.num(lo)?)?, &self.test(BinaryKind::Lt, &self.num(hi)?)?)?;
        Self::pick(&inside, g, &g.num(0.0)?)
    }
}

/// max/min's routing: `g` where `x` wins (`wins` is Gt for max, Lt for min), half of it at ties.
pub(crate) fn route<V: Arith>(g: &V, x: &V, other: &V, wins: BinaryKind) -> Result<V> {
    let half = g.mul(&g.num(0.5)?)?;
    let tie = V::pick(&x.test(BinaryKind::Eq, other)?, &half, &g.num(0.0)?)?;
    V::pick(&x.test(wins, other)?, g, &tie)
}

/// fmax/fmin's routing: like `route`, but a NaN loses. `first` is a's side: where both are
/// NaN, PyTorch gives the whole gradient to a.
pub(crate) fn nan_route<V: Arith>(g: &V, x: &V, other: &V, wins: BinaryKind, first: bool) -> Result<V> {
    let zero = g.num(0.0)?;
    let (x_nan, other_nan) = (x.test(BinaryKind::Ne, x)?, other.test(BinaryKind::Ne, other)?);
    if first {
        V::pick(&other_nan, g, &V::pick(&x_nan, &zero, &route(g, x, other, wins)?)?)
    } else {
        // `x` is b here, `other` is a
        V::pick(&x_nan, &zero, &V::pick(&other_nan, g, &route(g, x, other, wins)?)?)
    }
}

pub(crate) fn no_gradient(name: &str) -> Error {
    if name == "floor_divide" {
        return autograd_err!(
            "floor_divide is not differentiable (its derivative is zero almost everywhere and undefined at the steps)"
        );
    }
    autograd_err!("{name} has no gradient")
}

impl Arith for Tensor {
    type Mask = Tensor;
    fn num(&self, v: f64) -> Result<Tensor> {
        scalar_like(self, v)
    }
    fn zeros(&self) -> Result<Tensor> {
        super::full(self.shape(), 0.0, self.dtype(), self.device())
    }
    fn un(&self, kind: UnaryKind) -> Result<Tensor> {
        unary_op(kind, self)
    }
    fn bin(&self, kind: BinaryKind, other: &Tensor) -> Result<Tensor> {
        binary_op(kind, self, other)
    }
    fn test(&self, kind: BinaryKind, other: &Tensor) -> Result<Tensor> {
        binary_op(kind, self, other)
    }
    fn both(a: &Tensor, b: &Tensor) -> Result<Tensor> {
        binary_op(BinaryKind::And, a, b)
    }
    fn pick(mask: &Tensor, a: &Tensor, b: &Tensor) -> Result<Tensor> {
        where_(mask, a, b)
    }
}

fn no_scalar_form() -> Error {
    autograd_err!("no scalar form")
}

/// Implemented for f32 and f64 (not as a blanket impl over `Real`, which would overlap the
/// `Tensor` one for the coherence checker).
macro_rules! scalar_arith {
    ($($T:ty),*) => {$(
        impl Arith for $T {
            type Mask = bool;
            #[inline(always)]
            fn num(&self, v: f64) -> Result<$T> {
                Ok(v as $T)
            }
            #[inline(always)]
            fn zeros(&self) -> Result<$T> {
                Ok(0.0)
            }
            #[inline(always)]
            fn un(&self, kind: UnaryKind) -> Result<$T> {
                kind.eval(*self).ok_or_else(no_scalar_form)
            }
            #[inline(always)]
            fn bin(&self, kind: BinaryKind, other: &$T) -> Result<$T> {
                match kind {
                    // the common cases without the table's dispatch
                    BinaryKind::Add => Ok(*self + *other),
                    BinaryKind::Sub => Ok(*self - *other),
                    BinaryKind::Mul => Ok(*self * *other),
                    BinaryKind::Div => Ok(*self / *other),
                    _ => kind.eval(*self, *other).ok_or_else(no_scalar_form),
                }
            }
            #[inline(always)]
            fn test(&self, kind: BinaryKind, other: &$T) -> Result<bool> {
                let (x, y) = (*self, *other);
                Ok(match kind {
                    BinaryKind::Eq => x == y,
                    BinaryKind::Ne => x != y,
                    BinaryKind::Lt => x < y,
                    BinaryKind::Le => x <= y,
                    BinaryKind::Gt => x > y,
                    BinaryKind::Ge => x >= y,
                    _ => return Err(no_scalar_form()),
                })
            }
            #[inline(always)]
            fn both(a: &bool, b: &bool) -> Result<bool> {
                Ok(*a && *b)
            }
            #[inline(always)]
            fn pick(mask: &bool, a: &$T, b: &$T) -> Result<$T> {
                Ok(if *mask { *a } else { *b })
            }
        }
    )*};
}
scalar_arith!(f32, f64);
