//! Element types and the promotion rules between them (PyTorch's: bool < int64 < float32 < float64,
//! with dimensioned tensors winning over 0-dim ones and Python numbers of the same category).

use std::fmt::Debug;

/// Every element type a tensor can have. Kernels compute in the four "compute dtypes"
/// (bool, int64, float32, float64); the others are storage dtypes whose values the backend
/// widens to their compute dtype around a kernel and narrows back (`DType::compute`).
#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash, PartialOrd, Ord)]
pub enum DType {
    Bool,
    U8,
    I8,
    I16,
    I32,
    I64,
    F16,
    BF16,
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
    /// Every dtype, in promotion order within each category.
    pub const ALL: [DType; 10] =
        [DType::Bool, DType::U8, DType::I8, DType::I16, DType::I32, DType::I64, DType::F16, DType::BF16, DType::F32, DType::F64];

    pub const fn size(self) -> usize {
        match self {
            DType::Bool | DType::U8 | DType::I8 => 1,
            DType::I16 | DType::F16 | DType::BF16 => 2,
            DType::I32 | DType::F32 => 4,
            DType::I64 | DType::F64 => 8,
        }
    }

    pub const fn is_float(self) -> bool {
        matches!(self, DType::F16 | DType::BF16 | DType::F32 | DType::F64)
    }

    /// True for the integer dtypes (bool excluded).
    pub const fn is_int(self) -> bool {
        matches!(self, DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64)
    }

    pub const fn is_signed(self) -> bool {
        !matches!(self, DType::Bool | DType::U8)
    }

    pub const fn name(self) -> &'static str {
        match self {
            DType::Bool => "bool",
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::I16 => "int16",
            DType::I32 => "int32",
            DType::I64 => "int64",
            DType::F16 => "float16",
            DType::BF16 => "bfloat16",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }

    pub const fn category(self) -> Category {
        match self {
            DType::Bool => Category::Bool,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 | DType::I64 => Category::Int,
            DType::F16 | DType::BF16 | DType::F32 | DType::F64 => Category::Float,
        }
    }

    /// The dtype an op with float semantics (exp, mean, division...) computes in: a float
    /// dtype keeps itself, everything else becomes the default float32.
    pub const fn to_float(self) -> DType {
        if self.is_float() {
            self
        } else {
            DType::F32
        }
    }

    /// The dtype CPU kernels compute this dtype in: half types in float32 (as PyTorch's CPU
    /// kernels do), the narrow integers in int64 (results narrowed back wrap, as in PyTorch).
    pub const fn compute(self) -> DType {
        match self {
            DType::F16 | DType::BF16 => DType::F32,
            DType::U8 | DType::I8 | DType::I16 | DType::I32 => DType::I64,
            other => other,
        }
    }

    /// True for a dtype kernels never see: the backend widens it to `compute()` first.
    pub const fn is_storage_only(self) -> bool {
        !matches!(self, DType::Bool | DType::I64 | DType::F32 | DType::F64)
    }

    /// The default dtype of a category (what a Python number of that kind becomes).
    pub const fn default_for(category: Category) -> DType {
        match category {
            Category::Bool => DType::Bool,
            Category::Int => DType::I64,
            Category::Float => DType::F32,
        }
    }

    /// Every dtype by its name (`"float16"`), as `name()` gives it.
    pub fn from_name(name: &str) -> Option<DType> {
        DType::ALL.into_iter().find(|d| d.name() == name)
    }
}

/// PyTorch's `promote_types`: the smallest dtype both `a` and `b` convert to without losing
/// their category (uint8 with int8 is int16; float16 with bfloat16 is float32).
pub const fn promote_types(a: DType, b: DType) -> DType {
    use DType::*;
    let (ca, cb) = (a.category() as u8, b.category() as u8);
    if ca != cb {
        return if ca > cb { a } else { b };
    }
    match (a, b) {
        (F16, BF16) | (BF16, F16) => F32,
        // uint8 with a signed type: the smallest signed type that holds both ranges.
        (U8, I8) | (I8, U8) => I16,
        (U8, other) | (other, U8) if !matches!(other, U8) => other,
        _ => {
            if a.size() >= b.size() {
                a
            } else {
                b
            }
        }
    }
}

/// PyTorch's `can_cast` (the same-kind rule): a cast may not lower the category (float to
/// int, int to bool); within a category any cast is allowed.
pub const fn can_cast(from: DType, to: DType) -> bool {
    from.category() as u8 <= to.category() as u8
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
        *tier = Some(tier.map_or(dtype, |d| promote_types(d, dtype)));
    }
    let [wrapped, zero_dim, dimensioned] = tiers;
    combine_categories(dimensioned, combine_categories(zero_dim, wrapped)).unwrap_or(DType::F32)
}

/// `higher` (the stronger tier) keeps its dtype unless `lower` brings a higher category.
fn combine_categories(higher: Option<DType>, lower: Option<DType>) -> Option<DType> {
    match (higher, lower) {
        (Some(h), _) if h.is_float() => Some(h),
        (Some(h), Some(l)) if l.category() > h.category() => Some(promote_types(h, l)),
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
    impl Sealed for u8 {}
    impl Sealed for i8 {}
    impl Sealed for i16 {}
    impl Sealed for i32 {}
    impl Sealed for super::F16 {}
    impl Sealed for super::BF16 {}
}

/// A Rust type that can live in a tensor.
///
/// Sealed: storage hands out `&[T]` over raw memory after checking only `T::DTYPE` against the
/// storage's dtype, so `DTYPE` must tell the truth about `T`'s size, alignment and valid bit
/// patterns. That holds for the types implemented here and cannot be promised for others.
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

/// The narrow integers: a value from a wider type is truncated to int64 and then wraps (as
/// PyTorch's casts do: `300` as uint8 is 44), never saturates.
macro_rules! impl_element_narrow_int {
    ($t:ty, $dt:expr) => {
        impl Element for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn elem_add(self, other: Self) -> Self {
                self.wrapping_add(other)
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self as f64
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                v as i64 as $t
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
                v as $t
            }
            #[inline(always)]
            fn is_nonzero(self) -> bool {
                self != 0
            }
        }
    };
}
impl_element_narrow_int!(u8, DType::U8);
impl_element_narrow_int!(i8, DType::I8);
impl_element_narrow_int!(i16, DType::I16);
impl_element_narrow_int!(i32, DType::I32);

/// A float16 element: the `half` crate's type, wrapped so that it can be `Zeroable` here
/// (all-zero bits are +0.0) without enabling that crate's bytemuck feature.
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
#[repr(transparent)]
pub struct F16(pub half::f16);

/// A bfloat16 element (see `F16`).
#[derive(Clone, Copy, Debug, Default, PartialEq, PartialOrd)]
#[repr(transparent)]
pub struct BF16(pub half::bf16);

// SAFETY: both wrap a 16-bit float whose all-zero bit pattern is +0.0.
unsafe impl bytemuck::Zeroable for F16 {}
unsafe impl bytemuck::Zeroable for BF16 {}

/// `v` as float32 rounded to odd: truncated toward zero, with the last bit set when that was
/// inexact. Rounding that to any format with at least two fewer significand bits (float16,
/// bfloat16) rounds `v` correctly to nearest even, which rounding through float32 to nearest
/// would not always do (double rounding).
fn f32_rounded_to_odd(v: f64) -> f32 {
    let r = v as f32;
    if !r.is_finite() || r as f64 == v {
        return r;
    }
    let mut bits = r.to_bits();
    if (r as f64).abs() > v.abs() {
        bits -= 1; // one step toward zero: same sign, smaller magnitude
    }
    f32::from_bits(bits | 1)
}

/// The half types: conversions round to nearest even; arithmetic on them happens in float32
/// after the backend widens them, so `elem_add` is only a fallback.
macro_rules! impl_element_half {
    ($t:ident, $inner:ty, $dt:expr) => {
        impl $t {
            #[inline(always)]
            pub fn to_f32(self) -> f32 {
                self.0.to_f32()
            }
            #[inline(always)]
            pub fn from_f32(v: f32) -> Self {
                $t(<$inner>::from_f32(v))
            }
        }
        impl Element for $t {
            const DTYPE: DType = $dt;
            #[inline(always)]
            fn elem_add(self, other: Self) -> Self {
                Self::from_f32(self.to_f32() + other.to_f32())
            }
            #[inline(always)]
            fn to_f64(self) -> f64 {
                self.0.to_f64()
            }
            #[inline(always)]
            fn from_f64(v: f64) -> Self {
                // Not `<$inner>::from_f64`: half 2.7 drops the low 32 bits of the float64
                // before rounding, so 1750.500244 (just above a tie) became 1750, not 1751.
                Self::from_f32(f32_rounded_to_odd(v))
            }
            #[inline(always)]
            fn to_i64(self) -> i64 {
                self.0.to_f32() as i64
            }
            #[inline(always)]
            fn from_i64(v: i64) -> Self {
                $t(<$inner>::from_f64(v as f64))
            }
            #[inline(always)]
            fn from_bool(v: bool) -> Self {
                $t(if v { <$inner>::ONE } else { <$inner>::ZERO })
            }
            #[inline(always)]
            fn is_nonzero(self) -> bool {
                self.0.to_f32() != 0.0
            }
        }
    };
}
impl_element_half!(F16, half::f16, DType::F16);
impl_element_half!(BF16, half::bf16, DType::BF16);

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

/// Runs `$body` with `$T` bound to the Rust type of `$dtype` (every dtype: for kernels that
/// only move elements, such as copies, gathers and concatenation).
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
            $crate::tensor::DType::I32 => {
                type $T = i32;
                $body
            }
            $crate::tensor::DType::I16 => {
                type $T = i16;
                $body
            }
            $crate::tensor::DType::I8 => {
                type $T = i8;
                $body
            }
            $crate::tensor::DType::U8 => {
                type $T = u8;
                $body
            }
            $crate::tensor::DType::F16 => {
                type $T = $crate::tensor::F16;
                $body
            }
            $crate::tensor::DType::BF16 => {
                type $T = $crate::tensor::BF16;
                $body
            }
        }
    };
}

/// Runs `$body` with `$T` bound to the Rust type of a compute dtype (bool, int64, float32,
/// float64); `$other` handles the storage dtypes, which the backend widens before any kernel
/// that computes runs (`backend::upcast`), so a kernel needs no code for them.
#[macro_export]
macro_rules! with_compute_dtype {
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
            $crate::tensor::DType::I64 => {
                type $T = i64;
                $body
            }
            $crate::tensor::DType::Bool => {
                type $T = bool;
                $body
            }
            $other => $else,
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

    #[test]
    fn float64_to_half_rounds_once_to_nearest_even() {
        // Just above a tie: NumPy gives -1751 and -1352; a tie goes to even.
        assert_eq!(F16::from_f64(-1750.500244140625).to_f32(), -1751.0);
        assert_eq!(F16::from_f64(1750.5).to_f32(), 1750.0);
        assert_eq!(F16::from_f64(1751.5).to_f32(), 1752.0);
        assert_eq!(BF16::from_f64(-1348.0009765625).to_f32(), -1352.0);
        assert_eq!(BF16::from_f64(1348.0).to_f32(), 1344.0);
        assert_eq!(F16::from_f64(65520.0).to_f32(), f32::INFINITY);
        assert_eq!(F16::from_f64(1e-300).to_f32().to_bits(), 0);
        assert!(F16::from_f64(f64::NAN).to_f32().is_nan());
    }

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

    #[test]
    fn storage_dtypes_promote_and_convert_as_pytorch() {
        use DType::*;
        assert_eq!(promote_types(U8, I8), I16);
        assert_eq!(promote_types(U8, I32), I32);
        assert_eq!(promote_types(F16, BF16), F32);
        assert_eq!(promote_types(I64, F16), F16);
        assert_eq!(promote_types(Bool, U8), U8);
        // an int8 tensor with a 0-dim float64 tensor takes the float64
        assert_eq!(result_type(&[t(I8, 2), t(F64, 1)]), F64);
        assert_eq!(result_type(&[t(F16, 2), t(F64, 0)]), F16);
        assert_eq!(result_type(&[t(U8, 2), t(I64, 0)]), U8);
        assert!(can_cast(I64, U8) && can_cast(F64, F16) && !can_cast(F32, I32) && !can_cast(I8, Bool));
        assert_eq!(<u8 as Element>::from_i64(300), 44);
        assert_eq!(<i8 as Element>::from_f64(300.0), 44);
        assert_eq!(<super::F16 as Element>::from_f64(70000.0).to_f64(), f64::INFINITY);
        assert_eq!(<super::BF16 as Element>::from_f64(3.14159).to_f64(), 3.140625);
        assert!(DType::ALL.iter().all(|d| d.compute().compute() == d.compute() && !d.compute().is_storage_only()));
    }
}

/// Runs `$body` with `$T` bound to f32, f64 or i64; `$bool` handles bool tensors (and the
/// storage dtypes, which the backend widens before a kernel runs).
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
            _ => $else,
        }
    };
}
