//! The arithmetic variants' bindings: `add`/`sub` with `alpha`, `div` with `rounding_mode`,
//! `rsub`, `lerp`, `addcmul`/`addcdiv` with `value`, `float_power`, `ldexp`,
//! `positive` and PyTorch's aliases (`absolute`, `arccos`, `fix`, ...), the shift operators, the
//! in-place operators (`&=`, `<<=`, `//=`, ...) and the in-place forms whose arguments the op
//! table cannot describe (`clamp_`, `pow_`, `div_`, `lerp_`, `masked_fill_`, ...).

use super::convert::{describe, operand};
use super::tensor::{ok, PyTensor, TResult};
use crate::kinds::{BinaryKind, UnaryKind};
use crate::ops;
use crate::tensor::{DType, Tensor};
use pyo3::exceptions::{PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyFloat;

fn arg(obj: &Bound<'_, PyAny>, like: &Tensor, what: &str) -> PyResult<Tensor> {
    operand(obj, like)?.ok_or_else(|| PyTypeError::new_err(format!("{what}: expected a tensor or a number, got {}", describe(obj))))
}

/// `alpha` (default 1) as PyTorch takes it: a float alpha with integer tensors is refused.
fn alpha_of(alpha: Option<&Bound<'_, PyAny>>, a: &Tensor, b: &Tensor, op: &str) -> PyResult<f64> {
    let Some(alpha) = alpha else { return Ok(1.0) };
    if alpha.is_instance_of::<PyFloat>() && !ops::promote_types(a, b).is_float() {
        return Err(PyRuntimeError::new_err(format!(
            "{op}: for integral input tensors, argument alpha must not be a floating point number (got {alpha}); \
             convert the tensors with .float() or pass an int"
        )));
    }
    alpha.extract::<f64>()
}

fn this<'py>(slf: &Bound<'py, PyTensor>) -> Bound<'py, PyTensor> {
    slf.clone()
}

/// `pow_` with a Python-number exponent keeps an integer tensor's dtype only for exponents
/// that keep the values integral.
fn pow_scalar_(t: &Tensor, p: f64) -> PyResult<()> {
    if !t.dtype().is_float() && (p < 0.0 || p.fract() != 0.0) {
        return Err(crate::error::dtype_err!(
            "pow_: result type float32 can't be cast to the desired output type {} (exponent {p}); convert with .float() first",
            t.dtype().name()
        )
        .into());
    }
    Ok(ops::unary_(UnaryKind::PowScalar { exponent: p }, t)?)
}

fn is_number(obj: &Bound<'_, PyAny>) -> bool {
    obj.cast::<PyTensor>().is_err() && obj.extract::<f64>().is_ok()
}

/// Clamp bounds that are Python numbers (or absent); tensor bounds take the general path.
fn clamp_kind(min: Option<f64>, max: Option<f64>, op: &str) -> PyResult<UnaryKind> {
    if min.is_none() && max.is_none() {
        return Err(PyValueError::new_err(format!("{op}: at least one of min and max must be given")));
    }
    Ok(UnaryKind::Clamp { min: min.unwrap_or(f64::NEG_INFINITY), max: max.unwrap_or(f64::INFINITY) })
}

#[pymethods]
impl PyTensor {
    /// `self + alpha * other`; `alpha` (keyword, default 1) must be an int for integer tensors.
    #[pyo3(signature = (other, *, alpha = None))]
    fn add(&self, other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> TResult {
        let o = arg(other, &self.t, "add")?;
        let alpha = alpha_of(alpha, &self.t, &o, "add")?;
        ok(ops::add_scaled(BinaryKind::Add, &self.t, &o, alpha))
    }

    /// `self - alpha * other` (bool tensors are refused, as PyTorch: use `^` or logical_xor).
    #[pyo3(signature = (other, *, alpha = None))]
    fn sub(&self, other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> TResult {
        let o = arg(other, &self.t, "sub")?;
        let alpha = alpha_of(alpha, &self.t, &o, "sub")?;
        ok(ops::add_scaled(BinaryKind::Sub, &self.t, &o, alpha))
    }

    /// Alias of `sub`.
    #[pyo3(signature = (other, *, alpha = None))]
    fn subtract(&self, other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> TResult {
        self.sub(other, alpha)
    }

    /// `self / other`: true division (`rounding_mode=None`, ints give float32), or rounded
    /// toward zero (`"trunc"`) or down (`"floor"`), which keep integer dtypes.
    #[pyo3(signature = (other, *, rounding_mode = None))]
    fn div(&self, other: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> TResult {
        let o = arg(other, &self.t, "div")?;
        ok(ops::div_rounding(&self.t, &o, rounding_mode))
    }

    /// Alias of `div`.
    #[pyo3(signature = (other, *, rounding_mode = None))]
    fn divide(&self, other: &Bound<'_, PyAny>, rounding_mode: Option<&str>) -> TResult {
        self.div(other, rounding_mode)
    }

    /// `div` with `rounding_mode=None`: always a float result.
    fn true_divide(&self, other: &Bound<'_, PyAny>) -> TResult {
        self.div(other, None)
    }

    /// `self + weight * (end - self)`; `weight` is a number or a tensor of self's dtype.
    fn lerp(&self, end: &Bound<'_, PyAny>, weight: &Bound<'_, PyAny>) -> TResult {
        let e = arg(end, &self.t, "lerp")?;
        let w = arg(weight, &self.t, "lerp")?;
        ok(ops::lerp(&self.t, &e, &w))
    }

    /// `self + value * tensor1 * tensor2`.
    #[pyo3(signature = (tensor1, tensor2, *, value = 1.0))]
    fn addcmul(&self, tensor1: &Bound<'_, PyAny>, tensor2: &Bound<'_, PyAny>, value: f64) -> TResult {
        let (a, b) = (arg(tensor1, &self.t, "addcmul")?, arg(tensor2, &self.t, "addcmul")?);
        ok(ops::addcmul(&self.t, &a, &b, value))
    }

    /// `self + value * tensor1 / tensor2`.
    #[pyo3(signature = (tensor1, tensor2, *, value = 1.0))]
    fn addcdiv(&self, tensor1: &Bound<'_, PyAny>, tensor2: &Bound<'_, PyAny>, value: f64) -> TResult {
        let (a, b) = (arg(tensor1, &self.t, "addcdiv")?, arg(tensor2, &self.t, "addcdiv")?);
        ok(ops::addcdiv(&self.t, &a, &b, value))
    }

    /// `self ** exponent` in float64 (the result is float64).
    fn float_power(&self, exponent: &Bound<'_, PyAny>) -> TResult {
        let e = arg(exponent, &self.t, "float_power")?;
        ok(ops::float_power(&self.t, &e))
    }

    /// `self * 2 ** other`.
    fn ldexp(&self, other: &Bound<'_, PyAny>) -> TResult {
        let o = arg(other, &self.t, "ldexp")?;
        ok(ops::ldexp(&self.t, &o))
    }

    /// The tensor itself (`+x`); bool tensors are refused, as PyTorch.
    fn positive(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        if slf.get().t.dtype() == DType::Bool {
            return Err(PyTypeError::new_err("positive: the `+` operator on a bool tensor is not supported"));
        }
        Ok(slf.clone().unbind())
    }

    /// Alias of `abs`.
    fn absolute(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Abs, &self.t))
    }

    /// Alias of `trunc`.
    fn fix(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Trunc, &self.t))
    }

    /// Alias of `acos`.
    fn arccos(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Acos, &self.t))
    }
    /// Alias of `asin`.
    fn arcsin(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Asin, &self.t))
    }
    /// Alias of `atan`.
    fn arctan(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Atan, &self.t))
    }
    /// Alias of `acosh`.
    fn arccosh(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Acosh, &self.t))
    }
    /// Alias of `asinh`.
    fn arcsinh(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Asinh, &self.t))
    }
    /// Alias of `atanh`.
    fn arctanh(&self) -> TResult {
        ok(ops::unary_op(UnaryKind::Atanh, &self.t))
    }
    /// Alias of `atan2`.
    fn arctan2(&self, other: &Bound<'_, PyAny>) -> TResult {
        let o = arg(other, &self.t, "arctan2")?;
        ok(ops::binary_op(BinaryKind::Atan2, &self.t, &o))
    }

    /// How many times the tensor's storage was written in place (PyTorch's `_version`): the
    /// number autograd compares to catch saved tensors modified after they were saved.
    #[getter(_version)]
    fn version_counter(&self) -> u64 {
        self.t.version()
    }

    // ---- in-place forms written by hand ----------------------------------------------------

    /// In-place `div`, with the same `rounding_mode`; true division needs a float tensor.
    #[pyo3(signature = (other, *, rounding_mode = None))]
    fn div_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, rounding_mode: Option<&str>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::binary_(ops::division_kind(rounding_mode)?, t, &arg(other, t, "div_")?)?;
        Ok(this(slf))
    }
    /// Alias of `div_`.
    #[pyo3(signature = (other, *, rounding_mode = None))]
    fn divide_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, rounding_mode: Option<&str>) -> PyResult<Bound<'py, Self>> {
        Self::div_(slf, other, rounding_mode)
    }
    /// In-place true division.
    fn true_divide_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        Self::div_(slf, other, None)
    }
    /// Alias of `mul_`.
    fn multiply_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::binary_(BinaryKind::Mul, t, &arg(other, t, "multiply_")?)?;
        Ok(this(slf))
    }
    /// Alias of `sub_`.
    #[pyo3(signature = (other, *, alpha = None))]
    fn subtract_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, alpha: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let o = arg(other, t, "subtract_")?;
        let alpha = alpha_of(alpha, t, &o, "subtract_")?;
        ops::binary_(BinaryKind::Sub, t, &ops::scale(&o, alpha)?)?;
        Ok(this(slf))
    }

    /// In-place `self ** exponent` (a number or a tensor).
    fn pow_<'py>(slf: &Bound<'py, Self>, exponent: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        if is_number(exponent) {
            pow_scalar_(t, exponent.extract()?)?;
        } else {
            ops::binary_(BinaryKind::Pow, t, &arg(exponent, t, "pow_")?)?;
        }
        Ok(this(slf))
    }

    /// In-place `clamp` with number or tensor bounds (either may be None, not both).
    #[pyo3(signature = (min = None, max = None))]
    fn clamp_<'py>(slf: &Bound<'py, Self>, min: Option<&Bound<'py, PyAny>>, max: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let numbers = min.is_none_or(is_number) && max.is_none_or(is_number);
        if numbers {
            let (lo, hi) = (min.map(|v| v.extract()).transpose()?, max.map(|v| v.extract()).transpose()?);
            ops::unary_(clamp_kind(lo, hi, "clamp_")?, t)?;
            return Ok(this(slf));
        }
        let lo = min.map(|v| arg(v, t, "clamp_")).transpose()?;
        let hi = max.map(|v| arg(v, t, "clamp_")).transpose()?;
        let operands: Vec<&Tensor> = lo.iter().chain(hi.iter()).collect();
        ops::update_(t, "clamp_", &operands, |s| {
            let s = match &lo {
                Some(l) => ops::maximum(s, l)?,
                None => s.clone(),
            };
            match &hi {
                Some(h) => ops::minimum(&s, h),
                None => Ok(s),
            }
        })?;
        Ok(this(slf))
    }
    /// Alias of `clamp_`.
    #[pyo3(signature = (min = None, max = None))]
    fn clip_<'py>(slf: &Bound<'py, Self>, min: Option<&Bound<'py, PyAny>>, max: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, Self>> {
        Self::clamp_(slf, min, max)
    }
    /// In-place `clamp(min=min)`.
    fn clamp_min_<'py>(slf: &Bound<'py, Self>, min: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        Self::clamp_(slf, Some(min), None)
    }
    /// In-place `clamp(max=max)`.
    fn clamp_max_<'py>(slf: &Bound<'py, Self>, max: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        Self::clamp_(slf, None, Some(max))
    }

    /// In-place `lerp`.
    fn lerp_<'py>(slf: &Bound<'py, Self>, end: &Bound<'py, PyAny>, weight: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::lerp_(t, &arg(end, t, "lerp_")?, &arg(weight, t, "lerp_")?)?;
        Ok(this(slf))
    }
    /// In-place `addcmul`.
    #[pyo3(signature = (tensor1, tensor2, *, value = 1.0))]
    fn addcmul_<'py>(slf: &Bound<'py, Self>, tensor1: &Bound<'py, PyAny>, tensor2: &Bound<'py, PyAny>, value: f64) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::addcmul_(t, &arg(tensor1, t, "addcmul_")?, &arg(tensor2, t, "addcmul_")?, value)?;
        Ok(this(slf))
    }
    /// In-place `addcdiv`.
    #[pyo3(signature = (tensor1, tensor2, *, value = 1.0))]
    fn addcdiv_<'py>(slf: &Bound<'py, Self>, tensor1: &Bound<'py, PyAny>, tensor2: &Bound<'py, PyAny>, value: f64) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::addcdiv_(t, &arg(tensor1, t, "addcdiv_")?, &arg(tensor2, t, "addcdiv_")?, value)?;
        Ok(this(slf))
    }
    /// In-place `float_power` (the tensor must be float64).
    fn float_power_<'py>(slf: &Bound<'py, Self>, exponent: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::float_power_(t, &arg(exponent, t, "float_power_")?)?;
        Ok(this(slf))
    }
    /// In-place `ldexp`.
    fn ldexp_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::ldexp_(t, &arg(other, t, "ldexp_")?)?;
        Ok(this(slf))
    }
    /// In-place `masked_fill`: `value` (a number or 0-dim tensor) where the bool `mask` holds.
    fn masked_fill_<'py>(slf: &Bound<'py, Self>, mask: &PyTensor, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::masked_fill_(t, &mask.t, &arg(value, t, "masked_fill_")?)?;
        Ok(this(slf))
    }
    /// Alias of `abs_`.
    fn absolute_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Abs, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `neg_`.
    fn negative_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Neg, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `trunc_`.
    fn fix_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Trunc, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `acos_`.
    fn arccos_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Acos, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `asin_`.
    fn arcsin_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Asin, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `atan_`.
    fn arctan_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Atan, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `acosh_`.
    fn arccosh_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Acosh, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `asinh_`.
    fn arcsinh_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Asinh, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `atanh_`.
    fn arctanh_<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, Self>> {
        ops::unary_(UnaryKind::Atanh, &slf.get().t)?;
        Ok(this(slf))
    }
    /// Alias of `atan2_`.
    fn arctan2_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        ops::binary_(BinaryKind::Atan2, t, &arg(other, t, "arctan2_")?)?;
        Ok(this(slf))
    }

    // ---- operators -------------------------------------------------------------------------

    fn __lshift__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        shift(other.py(), &self.t, other, BinaryKind::Shl, false)
    }
    fn __rlshift__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        shift(other.py(), &self.t, other, BinaryKind::Shl, true)
    }
    fn __rshift__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        shift(other.py(), &self.t, other, BinaryKind::Shr, false)
    }
    fn __rrshift__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        shift(other.py(), &self.t, other, BinaryKind::Shr, true)
    }

    fn __iand__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::BitAnd)
    }
    fn __ior__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::BitOr)
    }
    fn __ixor__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::BitXor)
    }
    fn __ilshift__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::Shl)
    }
    fn __irshift__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::Shr)
    }
    fn __ifloordiv__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::FloorDiv)
    }
    fn __imod__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace_operator(slf, other, BinaryKind::Remainder)
    }
    fn __ipow__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, modulo: Option<&Bound<'py, PyAny>>) -> PyResult<()> {
        let _ = modulo;
        Self::pow_(slf, other).map(|_| ())
    }
}

fn inplace_operator(slf: &Bound<'_, PyTensor>, other: &Bound<'_, PyAny>, kind: BinaryKind) -> PyResult<()> {
    let t = &slf.get().t;
    ops::binary_(kind, t, &arg(other, t, kind.name())?)?;
    Ok(())
}

/// `a << b` / `a >> b` with a Python operand; `NotImplemented` for operands we cannot convert.
fn shift<'py>(py: Python<'py>, this: &Tensor, other: &Bound<'py, PyAny>, kind: BinaryKind, reflected: bool) -> PyResult<Bound<'py, PyAny>> {
    let Some(o) = operand(other, this)? else { return Ok(py.NotImplemented().into_bound(py)) };
    let r = if reflected { ops::binary_op(kind, &o, this)? } else { ops::binary_op(kind, this, &o)? };
    Ok(Bound::new(py, PyTensor::wrap(r))?.into_any())
}

/// `rsub(input, other, *, alpha=1)`: `other - alpha * input`.
#[pyfunction]
#[pyo3(signature = (input, other, *, alpha = None))]
fn rsub(input: &PyTensor, other: &Bound<'_, PyAny>, alpha: Option<&Bound<'_, PyAny>>) -> TResult {
    let o = arg(other, &input.t, "rsub")?;
    let alpha = alpha_of(alpha, &input.t, &o, "rsub")?;
    ok(ops::rsub(&input.t, &o, alpha))
}

/// `lerp(input, end, weight)`: `input + weight * (end - input)`.
#[pyfunction]
fn lerp(input: &PyTensor, end: &Bound<'_, PyAny>, weight: &Bound<'_, PyAny>) -> TResult {
    input.lerp(end, weight)
}

/// `addcmul(input, tensor1, tensor2, *, value=1)`: `input + value * tensor1 * tensor2`.
#[pyfunction]
#[pyo3(signature = (input, tensor1, tensor2, *, value = 1.0))]
fn addcmul(input: &PyTensor, tensor1: &Bound<'_, PyAny>, tensor2: &Bound<'_, PyAny>, value: f64) -> TResult {
    input.addcmul(tensor1, tensor2, value)
}

/// `addcdiv(input, tensor1, tensor2, *, value=1)`: `input + value * tensor1 / tensor2`.
#[pyfunction]
#[pyo3(signature = (input, tensor1, tensor2, *, value = 1.0))]
fn addcdiv(input: &PyTensor, tensor1: &Bound<'_, PyAny>, tensor2: &Bound<'_, PyAny>, value: f64) -> TResult {
    input.addcdiv(tensor1, tensor2, value)
}

/// `clamp_(input, min=None, max=None)`: in-place `clamp`; returns `input`.
#[pyfunction]
#[pyo3(signature = (input, min = None, max = None))]
fn clamp_<'py>(input: &Bound<'py, PyTensor>, min: Option<&Bound<'py, PyAny>>, max: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyTensor>> {
    PyTensor::clamp_(input, min, max)
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(rsub, m)?)?;
    m.add_function(wrap_pyfunction!(lerp, m)?)?;
    m.add_function(wrap_pyfunction!(addcmul, m)?)?;
    m.add_function(wrap_pyfunction!(addcdiv, m)?)?;
    m.add_function(wrap_pyfunction!(clamp_, m)?)?;
    Ok(())
}
