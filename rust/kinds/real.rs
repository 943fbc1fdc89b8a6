//! `Real`: the float math the op table's CPU expressions use, for f32 and f64, with
//! PyTorch's conventions where the C library and PyTorch differ (Python's `%` and `//`,
//! clamp with NaN bounds).

use crate::tensor::Float;
use std::ops::Rem;

pub trait Real: Float + Rem<Output = Self> {
    fn tan(self) -> Self;
    fn asin(self) -> Self;
    fn acos(self) -> Self;
    fn atan(self) -> Self;
    fn atan2(self, other: Self) -> Self;
    fn sinh(self) -> Self;
    fn cosh(self) -> Self;
    fn asinh(self) -> Self;
    fn acosh(self) -> Self;
    fn atanh(self) -> Self;
    fn exp2(self) -> Self;
    /// 1 - erf(x), without the cancellation for large x.
    fn erfc(self) -> Self;
    /// The inverse of erf (computed in f64).
    fn erfinv(self) -> Self;
    fn hypot(self, other: Self) -> Self;
    fn copysign(self, sign: Self) -> Self;
    /// The next representable value after `self` toward `other` (C's nextafter).
    fn next_after(self, other: Self) -> Self;
    /// ln(1 + x), exact near 0 where the addition would round.
    fn ln_1p(self) -> Self;
    fn log2(self) -> Self;
    fn log10(self) -> Self;
    fn floor(self) -> Self;
    fn ceil(self) -> Self;
    /// Half to even, as PyTorch's `round`.
    fn round_ties_even(self) -> Self;
    fn trunc(self) -> Self;

    #[inline(always)]
    fn sigmoid(self) -> Self {
        if self >= Self::ZERO {
            Self::ONE / (Self::ONE + (-self).exp())
        } else {
            let e = self.exp();
            e / (Self::ONE + e)
        }
    }

    /// log(exp(x) + exp(y)): the larger operand plus log1p of the other's share; equal
    /// infinities return themselves (inf - inf would be NaN).
    #[inline(always)]
    fn logaddexp(self, y: Self) -> Self {
        let (m, d) = self.max_and_gap(y);
        if m.is_nan() || (self == y && (m == Self::INFINITY || m == Self::NEG_INFINITY)) {
            return m;
        }
        m + (-d).exp().ln_1p()
    }

    /// log2(2^x + 2^y), as `logaddexp` in base 2.
    #[inline(always)]
    fn logaddexp2(self, y: Self) -> Self {
        let (m, d) = self.max_and_gap(y);
        if m.is_nan() || (self == y && (m == Self::INFINITY || m == Self::NEG_INFINITY)) {
            return m;
        }
        m + (-d).exp2().ln_1p() / Self::from_f64c(std::f64::consts::LN_2)
    }

    /// The larger of two numbers and their distance (NaN if either is NaN).
    #[inline(always)]
    fn max_and_gap(self, y: Self) -> (Self, Self) {
        if self.is_nan() || y.is_nan() {
            return (self + y, self + y);
        }
        if self > y {
            (self, self - y)
        } else {
            (y, y - self)
        }
    }

    /// `lo` below `lo`, `hi` above `hi`, NaN stays NaN.
    #[inline(always)]
    fn hardtanh(self, lo: Self, hi: Self) -> Self {
        if self < lo {
            lo
        } else if self > hi {
            hi
        } else {
            self
        }
    }

    /// PyTorch's clamp: `min` first, then `max` (so min > max gives max); a NaN bound gives NaN.
    #[inline(always)]
    fn clamp_keep_nan(self, lo: Self, hi: Self) -> Self {
        if lo.is_nan() || hi.is_nan() {
            return lo + hi;
        }
        let y = if self < lo { lo } else { self };
        if y > hi {
            hi
        } else {
            y
        }
    }

    #[inline(always)]
    fn pow_scalar(self, p: Self) -> Self {
        let c = Self::from_f64c;
        if p == c(2.0) {
            self * self
        } else if p == c(3.0) {
            self * self * self
        } else if p == c(1.0) {
            self
        } else if p == c(0.5) {
            self.sqrt()
        } else if p == c(-1.0) {
            Self::ONE / self
        } else {
            self.powf(p)
        }
    }

    /// Python's `%`: C's fmod moved into the divisor's sign (`5 % inf` is 5, `-5 % inf` is inf).
    #[inline(always)]
    fn python_mod(self, d: Self) -> Self {
        let m = self % d;
        if m != Self::ZERO && ((d < Self::ZERO) != (m < Self::ZERO)) {
            m + d
        } else {
            m
        }
    }

    /// Python's `//` as PyTorch computes it (`div_floor_floating`): from fmod, so the quotient
    /// agrees with `%`, and exact where `floor(a / b)` would round.
    #[inline(always)]
    fn floor_div(self, d: Self) -> Self {
        if d == Self::ZERO {
            return self / d;
        }
        let m = self % d;
        let mut div = (self - m) / d;
        if m != Self::ZERO && ((d < Self::ZERO) != (m < Self::ZERO)) {
            div = div - Self::ONE;
        }
        if div == Self::ZERO {
            // the sign of the true quotient
            return if Self::ONE / (self / d) < Self::ZERO { -Self::ZERO } else { Self::ZERO };
        }
        let f = div.floor();
        if div - f > Self::from_f64c(0.5) {
            f + Self::ONE
        } else {
            f
        }
    }
}

macro_rules! impl_real {
    ($t:ty, $erfc:path, $nextafter:path) => {
        impl Real for $t {
            #[inline(always)]
            fn tan(self) -> Self {
                <$t>::tan(self)
            }
            #[inline(always)]
            fn asin(self) -> Self {
                <$t>::asin(self)
            }
            #[inline(always)]
            fn acos(self) -> Self {
                <$t>::acos(self)
            }
            #[inline(always)]
            fn atan(self) -> Self {
                <$t>::atan(self)
            }
            #[inline(always)]
            fn atan2(self, other: Self) -> Self {
                <$t>::atan2(self, other)
            }
            #[inline(always)]
            fn sinh(self) -> Self {
                <$t>::sinh(self)
            }
            #[inline(always)]
            fn cosh(self) -> Self {
                <$t>::cosh(self)
            }
            #[inline(always)]
            fn asinh(self) -> Self {
                <$t>::asinh(self)
            }
            #[inline(always)]
            fn atanh(self) -> Self {
                <$t>::atanh(self)
            }
            #[inline(always)]
            fn acosh(self) -> Self {
                <$t>::acosh(self)
            }
            #[inline(always)]
            fn exp2(self) -> Self {
                <$t>::exp2(self)
            }
            #[inline(always)]
            fn erfc(self) -> Self {
                $erfc(self)
            }
            #[inline(always)]
            fn erfinv(self) -> Self {
                erfinv_f64(self as f64) as $t
            }
            #[inline(always)]
            fn hypot(self, other: Self) -> Self {
                <$t>::hypot(self, other)
            }
            #[inline(always)]
            fn copysign(self, sign: Self) -> Self {
                <$t>::copysign(self, sign)
            }
            #[inline(always)]
            fn next_after(self, other: Self) -> Self {
                $nextafter(self, other)
            }
            #[inline(always)]
            fn ln_1p(self) -> Self {
                <$t>::ln_1p(self)
            }
            #[inline(always)]
            fn log2(self) -> Self {
                <$t>::log2(self)
            }
            #[inline(always)]
            fn log10(self) -> Self {
                <$t>::log10(self)
            }
            #[inline(always)]
            fn floor(self) -> Self {
                <$t>::floor(self)
            }
            #[inline(always)]
            fn ceil(self) -> Self {
                <$t>::ceil(self)
            }
            #[inline(always)]
            fn round_ties_even(self) -> Self {
                <$t>::round_ties_even(self)
            }
            #[inline(always)]
            fn trunc(self) -> Self {
                <$t>::trunc(self)
            }
        }
    };
}
impl_real!(f32, libm::erfcf, libm::nextafterf);
impl_real!(f64, libm::erfc, libm::nextafter);

/// erf^-1: Giles' approximation ("Approximating the erfinv function", 2010) refined by two
/// Newton steps on erf, or on erfc near +-1 where 1 - |x| is exact and erf has no digits left.
pub fn erfinv_f64(x: f64) -> f64 {
    if x.is_nan() || x.abs() > 1.0 {
        return f64::NAN;
    }
    if x.abs() == 1.0 {
        return x * f64::INFINITY;
    }
    let w = -((1.0 - x) * (1.0 + x)).ln();
    let p = if w < 5.0 {
        let w = w - 2.5;
        [3.43273939e-07, -3.5233877e-06, -4.39150654e-06, 0.00021858087, -0.00125372503, -0.00417768164, 0.246640727, 1.50140941]
            .iter()
            .fold(2.81022636e-08, |p, c| c + p * w)
    } else {
        let w = w.sqrt() - 3.0;
        [0.000100950558, 0.00134934322, -0.00367342844, 0.00573950773, -0.0076224613, 0.00943887047, 1.00167406, 2.83297682]
            .iter()
            .fold(-0.000200214257, |p, c| c + p * w)
    };
    let mut y = p * x;
    let (a, sign) = (x.abs(), x.signum());
    // Newton on erf (or on erfc in the tails, where 1 - |x| is exact). The float32-grade start
    // is far off beyond |x| ~ 1 - 1e-8 (its polynomial extrapolates there), so iterate to
    // convergence rather than a fixed two steps; near the root each step doubles the digits.
    for _ in 0..12 {
        let err = if a < 0.5 { libm::erf(y) - x } else { sign * ((1.0 - a) - libm::erfc(y.abs())) };
        let step = err / (std::f64::consts::FRAC_2_SQRT_PI * (-y * y).exp());
        y -= step;
        if step.abs() <= f64::EPSILON * y.abs() {
            break;
        }
    }
    y
}

/// Python's `//` on int64: rounds down; `i64::MIN // -1` wraps to `i64::MIN` (PyTorch's result).
/// The divisor is never 0 here (callers report that as an error first).
#[inline(always)]
pub fn floor_div_i64(x: i64, y: i64) -> i64 {
    let q = x.wrapping_div(y);
    if x.wrapping_rem(y) != 0 && ((x < 0) != (y < 0)) {
        q - 1
    } else {
        q
    }
}

/// Python's `%` on int64 (the result takes the divisor's sign).
#[inline(always)]
pub fn python_mod_i64(x: i64, y: i64) -> i64 {
    let r = x.wrapping_rem(y);
    if r != 0 && ((r < 0) != (y < 0)) {
        r + y
    } else {
        r
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn python_division_matches_pytorch_at_the_edges() {
        // Values from torch 2.x (torch.remainder / torch.floor_divide / torch.fmod).
        let inf = f32::INFINITY;
        assert_eq!(5.0f32.python_mod(inf), 5.0);
        assert_eq!(5.0f32.python_mod(-inf), -inf);
        assert_eq!((-5.0f32).python_mod(inf), inf);
        assert_eq!((-5.0f32).python_mod(-inf), -5.0);
        assert_eq!(5.0f32.floor_div(inf), 0.0);
        assert_eq!(5.0f32.floor_div(-inf), -1.0);
        assert_eq!((-7.0f32).floor_div(2.0), -4.0);
        assert_eq!(1.0f32.floor_div(0.1), 9.0);
        assert!(0.0f32.floor_div(-3.0).is_sign_negative());
        assert_eq!(floor_div_i64(i64::MIN, -1), i64::MIN);
        assert_eq!(python_mod_i64(i64::MIN, -1), 0);
        assert_eq!((python_mod_i64(-7, 2), python_mod_i64(7, -2)), (1, -1));
    }

    #[test]
    fn erfinv_inverts_erf_to_the_last_digits() {
        for &x in &[0.0, 1e-10, 0.3, -0.5, 0.9, -0.999, 0.999999, 1.0 - 1e-12] {
            let y = erfinv_f64(x);
            let back = if x.abs() < 0.5 { libm::erf(y) } else { x.signum() * (1.0 - libm::erfc(y.abs())) };
            assert!((back - x).abs() <= 4.0 * f64::EPSILON * x.abs().max(1e-300), "{x}: {y} {back}");
        }
        assert_eq!(erfinv_f64(1.0), f64::INFINITY);
        assert_eq!(erfinv_f64(-1.0), f64::NEG_INFINITY);
        assert!(erfinv_f64(1.5).is_nan());
        assert_eq!(0.5f32.erfinv(), 0.47693628f32);
    }

    #[test]
    fn logaddexp_is_stable_and_keeps_equal_infinities() {
        let inf = f64::INFINITY;
        assert_eq!(1000.0f64.logaddexp(1000.0), 1000.0 + std::f64::consts::LN_2);
        assert_eq!(inf.logaddexp(inf), inf);
        assert_eq!((-inf).logaddexp(-inf), -inf);
        assert_eq!(inf.logaddexp(-inf), inf);
        assert!(f64::NAN.logaddexp(1.0).is_nan());
        assert_eq!((-inf).logaddexp2(-inf), -inf);
        assert!((1.0f64.logaddexp2(2.0) - 2.584962500721156).abs() < 1e-15);
    }

    #[test]
    fn clamp_keeps_nan_and_prefers_max() {
        assert!(f32::NAN.clamp_keep_nan(-1.0, 1.0).is_nan());
        assert!(0.0f32.clamp_keep_nan(f32::NAN, 1.0).is_nan());
        assert_eq!(5.0f32.clamp_keep_nan(2.0, 1.0), 1.0);
        assert_eq!((-5.0f32).clamp_keep_nan(2.0, 1.0), 1.0);
    }
}
