//! PyTorch's arithmetic variants, composed from the op table's rows: add/sub with `alpha`, div
//! with a rounding mode, rsub, lerp, addcmul/addcdiv, float_power, ldexp, and their in-place
//! forms (through `inplace::update_`). Their gradients are those of the composition.

use super::{binary_op, cast, promote_types, scalar_like, unary_op, update_, where_};
use crate::backend;
use crate::error::{dtype_err, value_err, Result};
use crate::kinds::{BinaryKind, UnaryKind};
use crate::tensor::{DType, Tensor};

/// `b * alpha` (`b` itself when alpha is 1); a bool `b` stays bool (alpha != 0 keeps it).
pub fn scale(b: &Tensor, alpha: f64) -> Result<Tensor> {
    if alpha == 1.0 {
        return Ok(b.clone());
    }
    if b.dtype() == DType::Bool {
        let keep = backend::wrapped_number(if alpha != 0.0 { 1.0 } else { 0.0 }, DType::Bool, b.device())?;
        return binary_op(BinaryKind::Mul, b, &keep);
    }
    binary_op(BinaryKind::Mul, b, &scalar_like(b, alpha)?)
}

/// `a + alpha * b` (`kind` Add) or `a - alpha * b` (Sub).
pub fn add_scaled(kind: BinaryKind, a: &Tensor, b: &Tensor, alpha: f64) -> Result<Tensor> {
    binary_op(kind, a, &scale(b, alpha)?)
}

/// `rsub(input, other, alpha)`: `other - alpha * input`.
pub fn rsub(input: &Tensor, other: &Tensor, alpha: f64) -> Result<Tensor> {
    add_scaled(BinaryKind::Sub, other, input, alpha)
}

/// The table row of `div(rounding_mode=...)`: true division, or the quotient rounded toward
/// zero (`"trunc"`) or down (`"floor"`).
pub fn division_kind(rounding_mode: Option<&str>) -> Result<BinaryKind> {
    match rounding_mode {
        None => Ok(BinaryKind::Div),
        Some("trunc") => Ok(BinaryKind::DivTrunc),
        Some("floor") => Ok(BinaryKind::DivFloor),
        Some(m) => Err(value_err!("div expected rounding_mode to be one of None, 'trunc', or 'floor' but found {m:?}")),
    }
}

pub fn div_rounding(a: &Tensor, b: &Tensor, rounding_mode: Option<&str>) -> Result<Tensor> {
    binary_op(division_kind(rounding_mode)?, a, b)
}

/// `start + weight * (end - start)`, in PyTorch's two halves (from `end` for weights of at
/// least 0.5, so `weight == 1` gives `end` exactly). Start, end and a tensor weight share one
/// float dtype; a Python-number weight is a wrapped number.
pub fn lerp(start: &Tensor, end: &Tensor, weight: &Tensor) -> Result<Tensor> {
    if !start.dtype().is_float() {
        return Err(dtype_err!("lerp: expected floating-point tensors, got {}; convert with .float() first", start.dtype().name()));
    }
    for (what, t) in [("end", end), ("weight", weight)] {
        if t.dtype() != start.dtype() && !(what == "weight" && t.is_wrapped_number()) {
            return Err(dtype_err!("lerp: expected dtype {} for `{what}` but got dtype {}", start.dtype().name(), t.dtype().name()));
        }
    }
    let d = binary_op(BinaryKind::Sub, end, start)?;
    let low = |w: &Tensor| binary_op(BinaryKind::Add, start, &binary_op(BinaryKind::Mul, w, &d)?);
    let high = |w: &Tensor| {
        let one_minus = binary_op(BinaryKind::Sub, &scalar_like(w, 1.0)?, w)?;
        binary_op(BinaryKind::Sub, end, &binary_op(BinaryKind::Mul, &d, &one_minus)?)
    };
    if weight.is_wrapped_number() {
        // one branch for a Python number: no where node in the graph
        return if backend::item(weight)?.abs() < 0.5 { low(weight) } else { high(weight) };
    }
    let small = binary_op(BinaryKind::Lt, &unary_op(UnaryKind::Abs, &weight.detach())?, &scalar_like(weight, 0.5)?)?;
    where_(&small, &low(weight)?, &high(weight)?)
}

/// `input + value * t1 * t2`. With integer tensors `value` is truncated, as PyTorch's.
pub fn addcmul(input: &Tensor, t1: &Tensor, t2: &Tensor, value: f64) -> Result<Tensor> {
    let product = binary_op(BinaryKind::Mul, t1, t2)?;
    let integral = !promote_types(input, &product).is_float();
    binary_op(BinaryKind::Add, input, &scale(&product, if integral { value.trunc() } else { value })?)
}

/// `input + value * t1 / t2` (true division; integer t1 and t2 are refused, as PyTorch).
pub fn addcdiv(input: &Tensor, t1: &Tensor, t2: &Tensor, value: f64) -> Result<Tensor> {
    if !t1.dtype().is_float() && !t2.dtype().is_float() {
        return Err(dtype_err!(
            "addcdiv: integer division with addcdiv is no longer supported (tensor1 {} / tensor2 {}); \
             for true division convert one of them to float, for floor division use \
             input + value * floor_divide(tensor1, tensor2)",
            t1.dtype().name(),
            t2.dtype().name()
        ));
    }
    binary_op(BinaryKind::Add, input, &scale(&binary_op(BinaryKind::Div, t1, t2)?, value)?)
}

/// `input ** exponent` computed in float64 (the result is float64, as PyTorch's).
pub fn float_power(input: &Tensor, exponent: &Tensor) -> Result<Tensor> {
    binary_op(BinaryKind::Pow, &cast(input, DType::F64)?, &cast(exponent, DType::F64)?)
}

/// `input * 2 ** other`.
pub fn ldexp(input: &Tensor, other: &Tensor) -> Result<Tensor> {
    binary_op(BinaryKind::Mul, input, &unary_op(UnaryKind::Exp2, other)?)
}

pub fn lerp_(start: &Tensor, end: &Tensor, weight: &Tensor) -> Result<()> {
    update_(start, "lerp_", &[end, weight], |s| lerp(s, end, weight))
}

pub fn addcmul_(input: &Tensor, t1: &Tensor, t2: &Tensor, value: f64) -> Result<()> {
    update_(input, "addcmul_", &[t1, t2], |s| addcmul(s, t1, t2, value))
}

pub fn addcdiv_(input: &Tensor, t1: &Tensor, t2: &Tensor, value: f64) -> Result<()> {
    update_(input, "addcdiv_", &[t1, t2], |s| addcdiv(s, t1, t2, value))
}

pub fn ldexp_(input: &Tensor, other: &Tensor) -> Result<()> {
    update_(input, "ldexp_", &[other], |s| ldexp(s, other))
}

/// `float_power_` keeps the tensor's dtype, so only a float64 tensor can take it (PyTorch).
pub fn float_power_(input: &Tensor, exponent: &Tensor) -> Result<()> {
    if input.dtype() != DType::F64 {
        return Err(dtype_err!(
            "float_power_: the base given to float_power_ has dtype {} but the operation's result requires dtype float64; \
             use .double() first or the out-of-place float_power",
            input.dtype().name()
        ));
    }
    update_(input, "float_power_", &[exponent], |s| float_power(s, exponent))
}

/// `masked_fill_(mask, value)`: `value` (a 0-dim tensor or number) where `mask` holds.
pub fn masked_fill_(input: &Tensor, mask: &Tensor, value: &Tensor) -> Result<()> {
    super::check_bool_mask(mask, "masked_fill_")?;
    if value.ndim() != 0 {
        return Err(value_err!(
            "masked_fill_ only supports a 0-dimensional value tensor, but got tensor with {} dimension(s)",
            value.ndim()
        ));
    }
    update_(input, "masked_fill_", &[value], |s| where_(mask, value, s))
}
