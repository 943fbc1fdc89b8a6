//! Element types and the promotion rules between them (PyTorch's: bool < int64 < float32 < float64,
//! with dimensioned tensors winning over 0-dim ones and Python numbers of the same category).

use std::fmt::Debug;

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    I64,
    F32,
    F64,
}

/// The kind of a value, used by type promotion: a float tensor stays float32 when combined
/// with a Python int, an int tensor becomes float32 when combined with a Python float.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
pub enum Category {
    Bool,
    Int,
    Float,
}

impl DType {
    pub const fn size(self) -> usize {
        match self {
            DType::Bool => 1,
            DType::I64 | DType::F64 => 8,
            DType::F32 => 4,
        }
    }

    pub const fn is_float(self) -> bool {
        matches!(self, DType::F32 | DType::F64)
    }

    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::I64 => "int64",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    pub const fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::I64 => Category::Int,
            DType::F32 | DType::F64 => Category::Float,
        }
    }

    /// The dtype an op with float semantics (exp, mean, division...) computes in.
    pub const fn to_float(self) -> DType {
        match self {
            DType::F64 => DType::F64,
            _ => DType::F32,
        }
    }

    /// The default dtype of a category (what a Python number of that kind becomes).
    pub const fn default_for(category: Category) -> DType {
        match category {
            Category::Bool => DType::Bool,
            Category::Int => DType::I64,
            Category::Float => DType::F32,
        }
    }
}

/// The operands of type promotion: a dtype and how strongly it votes.
#[derive(Clone, Copy, Debug)]
pub struct PromotionInput {
    pub dtype: DType,
    /// 2: a tensor with dimensions, 1: a 0-dim tensor, 0: a Python number.
    pub priority: u8,
}

/// PyTorch's `result_type`: dimensioned tensors decide, unless a 0-dim tensor or a Python
/// number brings a higher category (an int tensor times 2.5 is float32; a float32 tensor times
/// a 0-dim float64 tensor stays float32).
pub fn result_type(inputs: &[PromotionInput]) -> DType {
    let mut tiers: [Option<DType>; 3] = [None, None, None];
    for input in inputs {
        let dtype = if input.priority == 0 { DType::default_for(input.dtype.category()) } else { input.dtype };
        let tier = &mut tiers[input.priority.min(2) as usize];
        *tier = Some(tier.map_or(dtype, |d| d.max(dtype)));
    }
    let [wrapped, zero_dim, dimensioned] = tiers;
    combine_categories(dimensioned, combine_categories(zero_dim, wrapped)).unwrap_or(DType::F32)
}

/// `higher` (the stronger tier) keeps its dtype unless `lower` brings a higher category.
fn combine_categories(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (Some(h), _) if h.is_float() => Some(h),
        (Some(h), Some(l)) if h == DType::Bool || l.is_float() => Some(h.max(l)),
        (Some(h), _) => Some(h),
        (None, l) => l,
    }
}

mod sealed {
    /// Implemented exactly for the element types below; not nameable outside this module.
    pub trait Sealed {}
    impl Sealed for f32 {}
    impl Sealed for f64 {}
    impl Sealed for i64 {}
    impl Sealed for bool {}
}

/// A Rust type that can live in a tensor.
///
/// Sealed: storage hands out `&[T]` over raw memory after checking only `T::DTYPE` against the
/// storage's dtype, so `DTYPE` must tell the truth about `T`'s size, alignment and valid bit
/// patterns. That holds for the four types implemented here and cannot be promised for others.
pub trait Element: sealed::Sealed + Copy + Send + Sync + Debug + PartialOrd + Default + bytemuck::Zeroable + 'static {
    const DTYPE: DType;
    fn to_f64(self) -> f64;
    fn from_f64(v: f64) -> Self;
    fn to_i64(self) -> i64;
    fn from_i64(v: i64) -> Self;
    fn from_bool(v: bool) -> Self;
    fn is_nonzero(self) -> bool;
    /// Addition (wrapping for int64, logical or for bool).
    fn elem_add(self, other: Self) -> Self;
}

macro_rules! impl_element_num {
    ($t:ty, $dt:expr, $add:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn elem_add(self, other: Self) -> Self {
                $add(self, other)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                v as $t
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                if v {
                    1 as $t
                } else {
                    0 as $t
                }
            }
            #[inline(always)]
            fn is_nonzero(self) -> bool {
                self != (0 as $t)
            }
        }
    };
}
impl_element_num!(f32, DType::F32, |a: f32, b: f32| a + b);
impl_element_num!(f64, DType::F64, |a: f64, b: f64| a + b);
impl_element_num!(i64, DType::I64, i64::wrapping_add);

impl Element for bool {
    const DTYPE: DType = DType::Bool;
    #[inline(always)]
    fn to_f64(self) -> f64 {
        self as u8 as f64
    }
    #[inline(always)]
    fn from_f64(v: f64) -> Self {
        v != 0.0
    }
    #[inline(always)]
    fn to_i64(self) -> i64 {
        self as i64
    }
    #[inline(always)]
    fn from_i64(v: i64) -> Self {
        v != 0
    }
    #[inline(always)]
    fn from_bool(v: bool) -> Self {
        v
    }
    #[inline(always)]
    fn is_nonzero(self) -> bool {
        self
    }
    #[inline(always)]
    fn elem_add(self, other: Self) -> Self {
        self | other
    }
}

/// A float element: the math the kernels need, for f32 and f64.
pub trait Float: Element + num_like::FloatOps {}
impl Float for f32 {}
impl Float for f64 {}

pub mod num_like {
    use std::ops::{Add, Div, Mul, Neg, Sub};

    /// The float operations kernels use, implemented for f32 and f64 by delegation.
    pub trait FloatOps:
        Copy + Add<Output = Self> + Sub<Output = Self> + Mul<Output = Self> + Div<Output = Self> + Neg<Output = Self>
    {
        const ZERO: Self;
        const ONE: Self;
        const NEG_INFINITY: Self;
        const INFINITY: Self;
        fn exp(self) -> Self;
        /// `exp(x) - 1`, exact near 0 where the subtraction would cancel.
        fn exp_m1(self) -> Self;
        fn ln(self) -> Self;
        fn sqrt(self) -> Self;
        fn tanh(self) -> Self;
        fn sin(self) -> Self;
        fn cos(self) -> Self;
        fn abs(self) -> Self;
        fn powf(self, e: Self) -> Self;
        fn erf(self) -> Self;
        fn max(self, o: Self) -> Self;
        fn min(self, o: Self) -> Self;
        fn is_nan(self) -> bool;
        fn from_f64c(v: f64) -> Self;
    }

    macro_rules! impl_float_ops {
        ($t:ty, $erf:path) => {
            impl FloatOps for $t {
                const ZERO: Self = 0.0;
                const ONE: Self = 1.0;
                const NEG_INFINITY: Self = <$t>::NEG_INFINITY;
                const INFINITY: Self = <$t>::INFINITY;
                #[inline(always)]
                fn exp(self) -> Self {
                    <$t>::exp(self)
                }
                #[inline(always)]
                fn exp_m1(self) -> Self {
                    <$t>::exp_m1(self)
                }
                #[inline(always)]
                fn ln(self) -> Self {
                    <$t>::ln(self)
                }
                #[inline(always)]
                fn sqrt(self) -> Self {
                    <$t>::sqrt(self)
                }
                #[inline(always)]
                fn tanh(self) -> Self {
                    <$t>::tanh(self)
                }
                #[inline(always)]
                fn sin(self) -> Self {
                    <$t>::sin(self)
                }
                #[inline(always)]
                fn cos(self) -> Self {
                    <$t>::cos(self)
                }
                #[inline(always)]
                fn abs(self) -> Self {
                    <$t>::abs(self)
                }
                #[inline(always)]
                fn powf(self, e: Self) -> Self {
                    <$t>::powf(self, e)
                }
                #[inline(always)]
                fn erf(self) -> Self {
                    $erf(self)
                }
                #[inline(always)]
                fn max(self, o: Self) -> Self {
                    <$t>::max(self, o)
                }
                #[inline(always)]
                fn min(self, o: Self) -> Self {
                    <$t>::min(self, o)
                }
                #[inline(always)]
                fn is_nan(self) -> bool {
                    <$t>::is_nan(self)
                }
                #[inline(always)]
                fn from_f64c(v: f64) -> Self {
                    v as $t
                }
            }
        };
    }
    impl_float_ops!(f32, libm::erff);
    impl_float_ops!(f64, libm::erf);
}

/// Runs `$body` with `$T` bound to the Rust type of `$dtype`.
#[macro_export]
macro_rules! with_dtype {
    ($dtype:expr, $T:ident => $body:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::Bool => {
                type $T = bool;
                $body
            }
        }
    };
}

/// Runs `$body` with `$T` bound to f32 or f64; `$other` handles the integer dtypes.
#[macro_export]
macro_rules! with_float_dtype {
    ($dtype:expr, $T:ident => $body:expr, $other:pat => $else:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $other => $else,
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(dtype: DType, priority: u8) -> PromotionInput {
        PromotionInput { dtype, priority }
    }

    #[test]
    fn promotion_follows_pytorch() {
        assert_eq!(result_type(&[t(DType::F32, 2), t(DType::F64, 2)]), DType::F64);
        assert_eq!(result_type(&[t(DType::I64, 2), t(DType::F32, 2)]), DType::F32);
        // float32 tensor with a 0-dim float64 tensor stays float32
        assert_eq!(result_type(&[t(DType::F32, 2), t(DType::F64, 1)]), DType::F32);
        // int tensor times a Python float becomes the default float
        assert_eq!(result_type(&[t(DType::I64, 2), t(DType::F64, 0)]), DType::F32);
        // int tensor times a 0-dim float64 tensor becomes float64 (category upgrade keeps the dtype)
        assert_eq!(result_type(&[t(DType::I64, 2), t(DType::F64, 1)]), DType::F64);
        // float64 tensor with a Python int stays float64
        assert_eq!(result_type(&[t(DType::F64, 2), t(DType::I64, 0)]), DType::F64);
        assert_eq!(result_type(&[t(DType::Bool, 2), t(DType::Bool, 2)]), DType::Bool);
        assert_eq!(result_type(&[t(DType::Bool, 2), t(DType::I64, 0)]), DType::I64);
        // two 0-dim tensors promote normally
        assert_eq!(result_type(&[t(DType::F32, 1), t(DType::F64, 1)]), DType::F64);
    }
}

/// Runs `$body` with `$T` bound to f32, f64 or i64; `$bool` handles bool tensors.
#[macro_export]
macro_rules! with_numeric_dtype {
    ($dtype:expr, $T:ident => $body:expr, bool => $else:expr) => {
        match $dtype {
            $crate::tensor::DType::F32 => {
                type $T = f32;
                $body
            }
            $crate::tensor::DType::F64 => {
                type $T = f64;
                $body
            }
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::Bool => $else,
        }
    };
}
