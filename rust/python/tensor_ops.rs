//! Tensor arithmetic, math, reductions and reshaping methods. Module-level functions of the
//! same name (`backprop.exp`, ...) are these methods, bound in `backprop/__init__.py`.

use super::convert::{describe, operand, parse_dims, parse_shape_signed, shape_from_seq};
use super::tensor::{ok, PyTensor, TResult};
use crate::backend::{BinaryKind, ReduceKind};
use crate::ops::{self, Reduction};
use crate::tensor::{normalize_dim, DType, Tensor};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

/// Binary op with a Python operand; `NotImplemented` for operands we cannot convert.
fn binary<'py>(
    py: Python<'py>,
    this: &Tensor,
    other: &Bound<'py, PyAny>,
    f: impl FnOnce(&Tensor, &Tensor) -> crate::Result<Tensor>,
    reflected: bool,
) -> PyResult<Bound<'py, PyAny>> {
    // Tensor operands are borrowed (no handle clone on the hot path).
    if let Ok(t) = other.cast::<PyTensor>() {
        let o = &t.get().t;
        let r = if reflected { f(o, this)? } else { f(this, o)? };
        return Ok(Bound::new(py, PyTensor::wrap(r))?.into_any());
    }
    match operand(other, this)? {
        Some(o) => {
            let t = if reflected { f(&o, this)? } else { f(this, &o)? };
            Ok(Bound::new(py, PyTensor::wrap(t))?.into_any())
        }
        None => Ok(py.NotImplemented().into_bound(py)),
    }
}

fn tensor_arg(obj: &Bound<'_, PyAny>, like: &Tensor, what: &str) -> PyResult<Tensor> {
    operand(obj, like)?.ok_or_else(|| PyTypeError::new_err(format!("{what}: expected a tensor or a number, got {}", describe(obj))))
}

fn inplace<'py>(slf: &Bound<'py, PyTensor>, other: &Bound<'py, PyAny>, kind: BinaryKind) -> PyResult<Bound<'py, PyTensor>> {
    let t = &slf.get().t;
    let o = tensor_arg(other, t, kind.name())?;
    ops::binary_(kind, t, &o)?;
    Ok(slf.clone())
}

// `Tensor` methods for the op table's `bound` rows that take no parameters. Each method's
// docstring is its row's doc comment (`ops/table.rs`): `table_unary_method!(Kind, name, f)`
// and `table_binary_method!(Kind, name, f)`, generated from the table, define `Tensor.name`
// (running `f`, the row's op) with it.
macro_rules! table_unary_methods {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident { $($p:ident = $d:expr $(=> $none:ident)?),* } $name:literal $class:ident $save:ident $api:ident $inplace:tt
        cpu(|$x:ident| $cpu:expr) int($(|$xi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $s:ident| $vjp:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        macro_rules! table_unary_method {
            $(($K, $method:ident, $f:path) => {
                #[pymethods]
                impl PyTensor {
                    $(#[doc = $doc])+
                    fn $method(&self) -> TResult {
                        ok($f(&self.t))
                    }
                }
            };)*
        }
    };
}
crate::unary_table!(table_unary_methods);

macro_rules! table_binary_methods {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident $name:literal $class:ident $api:ident $inplace:tt saves(a: $sa:ident, b: $sb:ident, out: $so:ident)
        cpu(|$x:ident, $y:ident| $cpu:expr) int($(|$xi:ident, $yi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $a:ident, $b:ident, $o:ident| $va:expr, $vb:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        macro_rules! table_binary_method {
            $(($K, $method:ident, $f:path) => {
                #[pymethods]
                impl PyTensor {
                    $(#[doc = $doc])+
                    fn $method(&self, other: &Bound<'_, PyAny>) -> TResult {
                        let o = tensor_arg(other, &self.t, stringify!($method))?;
                        ok($f(&self.t, &o))
                    }
                }
            };)*
        }
    };
}
crate::binary_table!(table_binary_methods);

/// `Kind: name => f`: `Tensor.name` runs `f` with the doc comment of the table row `Kind`.
macro_rules! table_methods {
    (unary: $($UK:ident: $uname:ident => $uf:path),* ; binary: $($BK:ident: $bname:ident => $bf:path),* $(,)?) => {
        $(table_unary_method!($UK, $uname, $uf);)*
        $(table_binary_method!($BK, $bname, $bf);)*
    };
}

table_methods!(
    unary: Exp: exp => ops::exp, Log: log => ops::log, Sqrt: sqrt => ops::sqrt, Rsqrt: rsqrt => ops::rsqrt,
    Abs: abs => ops::abs, Neg: neg => ops::neg, Sign: sign => ops::sign, Sin: sin => ops::sin,
    Cos: cos => ops::cos, Tanh: tanh => ops::tanh, Sigmoid: sigmoid => ops::sigmoid, Relu: relu => ops::relu,
    Gelu: gelu => ops::gelu, Reciprocal: reciprocal => ops::reciprocal, Not: logical_not => ops::logical_not,
    IsNan: isnan => ops::isnan;
    binary: Mul: mul => ops::mul, Pow: pow => ops::pow, Maximum: maximum => ops::maximum,
    Minimum: minimum => ops::minimum, Eq: eq => ops::eq, Ne: ne => ops::ne, Lt: lt => ops::lt, Le: le => ops::le,
    Gt: gt => ops::gt, Ge: ge => ops::ge, And: logical_and => ops::logical_and, Or: logical_or => ops::logical_or,
    Xor: logical_xor => ops::logical_xor, FloorDiv: floor_divide => ops::floor_divide,
    Remainder: remainder => ops::remainder,
);

/// Methods that are not table rows (or are aliases of one), each with its doc comment.
macro_rules! unary_methods {
    ($($(#[doc = $doc:tt])+ $name:ident => $f:path),* $(,)?) => {
        #[pymethods]
        impl PyTensor {
            $(
                $(#[doc = $doc])+
                fn $name(&self) -> TResult {
                    ok($f(&self.t))
                }
            )*
        }
    };
}

macro_rules! binary_methods {
    ($($(#[doc = $doc:tt])+ $name:ident => $f:path),* $(,)?) => {
        #[pymethods]
        impl PyTensor {
            $(
                $(#[doc = $doc])+
                fn $name(&self, other: &Bound<'_, PyAny>) -> TResult {
                    let o = tensor_arg(other, &self.t, stringify!($name))?;
                    ok($f(&self.t, &o))
                }
            )*
        }
    };
}

unary_methods!(
    /// Alias of `neg`.
    negative => ops::neg,
    /// isfinite(input) -> Tensor: a bool tensor, True where input is neither infinite nor NaN.
    ///
    /// Integer and bool tensors are finite everywhere. The result has no gradient.
    isfinite => ops::isfinite,
    /// clone(input) -> Tensor: a copy of input with its own memory.
    ///
    /// Differentiable: the gradient flows back to input unchanged.
    clone => ops::clone,
    /// contiguous() -> Tensor: the tensor with its elements in row-major order: this tensor's
    /// data when it already is, else a copy (differentiable, like `clone`).
    contiguous => ops::contiguous,
);

binary_methods!(
    /// matmul(input, other) -> Tensor: the matrix product `input @ other`, with NumPy's rules.
    ///
    /// 1-D operands are vectors (a dot product, or a matrix-vector product); beyond 2
    /// dimensions the leading ones are batch dimensions and broadcast. Both must have at
    /// least one dimension.
    ///
    /// Example:
    ///     >>> bp.matmul(bp.ones(2, 1, 2, 3), bp.ones(4, 3, 5)).shape
    ///     backprop.Size([2, 4, 2, 5])
    matmul => ops::matmul,
    /// mm(input, other) -> Tensor: the product of the matrices input `[n, m]` and other
    /// `[m, p]`, `[n, p]` (no broadcasting: `matmul` takes batches).
    mm => ops::mm,
    /// dot(input, other) -> Tensor: the dot product of two 1-D tensors of one length, as a
    /// 0-D tensor.
    dot => ops::dot,
    /// Alias of `mul`.
    multiply => ops::mul,
);

static MAX_MIN_TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();

/// `(values, indices)` as a namedtuple, like `torch.return_types.max`.
fn values_indices<'py>(py: Python<'py>, values: Tensor, indices: Tensor) -> PyResult<Bound<'py, PyAny>> {
    let ty = MAX_MIN_TYPE.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        Ok(py.import("collections")?.call_method1("namedtuple", ("values_indices", ("values", "indices")))?.unbind())
    })?;
    ty.bind(py).call1((PyTensor::wrap(values), PyTensor::wrap(indices)))
}

#[pymethods]
impl PyTensor {
    fn __add__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::add, false)
    }
    fn __radd__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::add, true)
    }
    fn __sub__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::sub, false)
    }
    fn __rsub__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::sub, true)
    }
    fn __mul__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::mul, false)
    }
    fn __rmul__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::mul, true)
    }
    fn __truediv__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::div, false)
    }
    fn __rtruediv__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::div, true)
    }
    fn __floordiv__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::floor_divide, false)
    }
    fn __rfloordiv__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::floor_divide, true)
    }
    fn __mod__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::remainder, false)
    }
    fn __rmod__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::remainder, true)
    }
    fn __matmul__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::matmul, false)
    }
    fn __rmatmul__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::matmul, true)
    }
    fn __and__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::bitwise_and, false)
    }
    fn __rand__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::bitwise_and, true)
    }
    fn __or__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::bitwise_or, false)
    }
    fn __ror__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::bitwise_or, true)
    }
    fn __xor__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::bitwise_xor, false)
    }
    fn __rxor__<'py>(&self, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
        binary(other.py(), &self.t, other, ops::bitwise_xor, true)
    }

    fn __pow__<'py>(&self, other: &Bound<'py, PyAny>, modulo: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let _ = modulo;
        // A constant Python exponent is a unary op: cheaper, and its vjp needs no log.
        if let Ok(p) = other.extract::<f64>() {
            if other.cast::<PyTensor>().is_err() {
                let t = if self.t.dtype().is_float() || (p >= 0.0 && p.fract() == 0.0) {
                    ops::pow_scalar(&self.t, p)?
                } else {
                    ops::pow_scalar(&ops::cast(&self.t, DType::F32)?, p)?
                };
                return Ok(Bound::new(other.py(), PyTensor::wrap(t))?.into_any());
            }
        }
        binary(other.py(), &self.t, other, ops::pow, false)
    }

    fn __rpow__<'py>(&self, other: &Bound<'py, PyAny>, modulo: Option<&Bound<'py, PyAny>>) -> PyResult<Bound<'py, PyAny>> {
        let _ = modulo;
        binary(other.py(), &self.t, other, ops::pow, true)
    }

    fn __neg__(&self) -> TResult {
        ok(ops::neg(&self.t))
    }
    fn __pos__(slf: &Bound<'_, Self>) -> Py<PyTensor> {
        slf.clone().unbind()
    }
    fn __abs__(&self) -> TResult {
        ok(ops::abs(&self.t))
    }
    fn __invert__(&self) -> TResult {
        ok(ops::bitwise_not(&self.t))
    }

    fn __richcmp__<'py>(&self, other: &Bound<'py, PyAny>, op: pyo3::basic::CompareOp) -> PyResult<Bound<'py, PyAny>> {
        use pyo3::basic::CompareOp::*;
        let f = match op {
            Lt => ops::lt,
            Le => ops::le,
            Eq => ops::eq,
            Ne => ops::ne,
            Gt => ops::gt,
            Ge => ops::ge,
        };
        binary(other.py(), &self.t, other, f, false)
    }

    fn __iadd__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace(slf, other, BinaryKind::Add).map(|_| ())
    }
    fn __isub__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace(slf, other, BinaryKind::Sub).map(|_| ())
    }
    fn __imul__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace(slf, other, BinaryKind::Mul).map(|_| ())
    }
    fn __itruediv__<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<()> {
        inplace(slf, other, BinaryKind::Div).map(|_| ())
    }

    /// In place: `self += alpha * other`; returns self.
    ///
    /// Args:
    ///     other: a tensor (broadcast to self's shape) or a number.
    ///     alpha: multiplies `other` first (default 1).
    #[pyo3(signature = (other, *, alpha = None))]
    fn add_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, alpha: Option<f64>) -> PyResult<Bound<'py, Self>> {
        scaled_inplace(slf, other, alpha, BinaryKind::Add)
    }
    /// In place: `self -= alpha * other`; returns self.
    #[pyo3(signature = (other, *, alpha = None))]
    fn sub_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>, alpha: Option<f64>) -> PyResult<Bound<'py, Self>> {
        scaled_inplace(slf, other, alpha, BinaryKind::Sub)
    }
    /// In place: `self *= other`; returns self.
    fn mul_<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        inplace(slf, other, BinaryKind::Mul)
    }
    /// In place: fills with zeros; returns self.
    fn zero_(slf: &Bound<'_, Self>) -> PyResult<Py<Self>> {
        ops::fill_(&slf.get().t, 0.0)?;
        Ok(slf.clone().unbind())
    }
    /// In place: fills every element with `value`; returns self.
    fn fill_<'py>(slf: &Bound<'py, Self>, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        match value.cast::<PyTensor>() {
            Ok(v) => ops::copy_(t, &v.get().t)?,
            Err(_) => ops::fill_(t, value.extract::<f64>()?)?,
        }
        Ok(slf.clone())
    }
    /// In place: copies `src`'s values (broadcast, cast and moved across devices as needed); returns self.
    #[pyo3(signature = (src, non_blocking = false))]
    fn copy_<'py>(slf: &Bound<'py, Self>, src: &Bound<'py, PyAny>, non_blocking: bool) -> PyResult<Bound<'py, Self>> {
        let _ = non_blocking;
        let t = &slf.get().t;
        let s = tensor_arg(src, t, "copy_")?;
        ops::copy_(t, &s)?;
        Ok(slf.clone())
    }
    /// Each element limited to `[min, max]` (either bound may be None); the gradient is 0 where an element was clipped.
    #[pyo3(signature = (min = None, max = None))]
    fn clamp(&self, min: Option<&Bound<'_, PyAny>>, max: Option<&Bound<'_, PyAny>>) -> TResult {
        super::reductions::clamp_any(&self.t, min, max, "clamp")
    }
    /// Same as `clamp`.
    #[pyo3(signature = (min = None, max = None))]
    fn clip(&self, min: Option<&Bound<'_, PyAny>>, max: Option<&Bound<'_, PyAny>>) -> TResult {
        super::reductions::clamp_any(&self.t, min, max, "clip")
    }
    /// A copy with `value` wherever the bool tensor `mask` (broadcast to self's shape) is True.
    fn masked_fill(&self, mask: &PyTensor, value: &Bound<'_, PyAny>) -> TResult {
        ops::check_bool_mask(&mask.t, "masked_fill")?;
        let v = tensor_arg(value, &self.t, "masked_fill")?;
        ok(ops::where_(&mask.t, &v, &self.t))
    }
    /// `self.where(condition, other)`: self where condition holds, else other.
    #[pyo3(name = "where")]
    fn where_method(&self, condition: &PyTensor, other: &Bound<'_, PyAny>) -> TResult {
        let o = tensor_arg(other, &self.t, "where")?;
        ok(ops::where_(&condition.t, &self.t, &o))
    }

    /// The sum of the elements, over all of them or over `dim`.
    ///
    /// Args:
    ///     dim: an int or a tuple of ints (default: all dimensions).
    ///     keepdim: keep the reduced dimensions with length 1.
    ///     dtype: accumulate and return in this dtype.
    ///     axis: NumPy's name for `dim`.
    ///
    /// Example:
    ///     >>> bp.tensor([[1.0, 2.0], [3.0, 4.0]]).sum(1).tolist()
    ///     [3.0, 7.0]
    #[pyo3(signature = (dim = None, keepdim = false, *, dtype = None, axis = None, keepdims = None))]
    fn sum(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>, axis: Option<&Bound<'_, PyAny>>, keepdims: Option<bool>) -> TResult {
        let dims = parse_dims(dim.or(axis))?;
        ok(ops::sum_as(&self.t, dims.as_deref(), super::reductions::keep(keepdim, keepdims), super::convert::opt_dtype(dtype)?))
    }
    /// The mean of the elements, over all of them or over `dim` (an int or a tuple); `keepdim` keeps length-1 dimensions.
    #[pyo3(signature = (dim = None, keepdim = false, *, axis = None, keepdims = None))]
    fn mean(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, axis: Option<&Bound<'_, PyAny>>, keepdims: Option<bool>) -> TResult {
        ok(ops::mean(&self.t, parse_dims(dim.or(axis))?.as_deref(), super::reductions::keep(keepdim, keepdims)))
    }
    /// The variance over `dim` (default: all elements).
    ///
    /// Args:
    ///     dim: an int or a tuple of ints.
    ///     unbiased: divide by N - 1 (True, the default) or N.
    ///     keepdim: keep the reduced dimensions with length 1.
    ///     correction: divide by N - correction (overrides `unbiased`).
    #[pyo3(signature = (dim = None, unbiased = None, keepdim = false, *, correction = None, keepdims = None))]
    fn var(&self, dim: Option<&Bound<'_, PyAny>>, unbiased: Option<bool>, keepdim: bool, correction: Option<f64>, keepdims: Option<bool>) -> TResult {
        let c = bessel_correction("var", unbiased, correction)?;
        ok(ops::var(&self.t, parse_dims(dim)?.as_deref(), c, super::reductions::keep(keepdim, keepdims)))
    }
    /// The standard deviation over `dim`: the square root of `var` with the same arguments.
    #[pyo3(signature = (dim = None, unbiased = None, keepdim = false, *, correction = None, keepdims = None))]
    fn std(&self, dim: Option<&Bound<'_, PyAny>>, unbiased: Option<bool>, keepdim: bool, correction: Option<f64>, keepdims: Option<bool>) -> TResult {
        let c = bessel_correction("std", unbiased, correction)?;
        ok(ops::std(&self.t, parse_dims(dim)?.as_deref(), c, super::reductions::keep(keepdim, keepdims)))
    }
    /// `log(sum(exp(x)))` over `dim`, computed without overflow; `keepdim` keeps length-1 dimensions.
    #[pyo3(signature = (dim, keepdim = false, *, keepdims = None))]
    fn logsumexp(&self, dim: &Bound<'_, PyAny>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        let dims = parse_dims(Some(dim))?.unwrap_or_default();
        ok(ops::logsumexp(&self.t, &dims, super::reductions::keep(keepdim, keepdims)))
    }
    /// `max()` is the largest element; `max(dim)` is `(values, indices)`; `max(other)` is elementwise.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn max<'py>(&self, py: Python<'py>, dim: Option<&Bound<'py, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        self.extremum(py, ReduceKind::Max, dim, super::reductions::keep(keepdim, keepdims))
    }
    /// `min()` is the smallest element; `min(dim)` is `(values, indices)`; `min(other)` is elementwise.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn min<'py>(&self, py: Python<'py>, dim: Option<&Bound<'py, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        self.extremum(py, ReduceKind::Min, dim, super::reductions::keep(keepdim, keepdims))
    }
    /// The largest values over `dim` (an int or a tuple; default all).
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn amax(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        ok(ops::extremum_dims(ReduceKind::Max, &self.t, parse_dims(dim)?.as_deref(), super::reductions::keep(keepdim, keepdims)))
    }
    /// The smallest values over `dim` (an int or a tuple; default all).
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn amin(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        ok(ops::extremum_dims(ReduceKind::Min, &self.t, parse_dims(dim)?.as_deref(), super::reductions::keep(keepdim, keepdims)))
    }
    /// The index of the largest element (of the flattened tensor, or along `dim`), as int64.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn argmax(&self, dim: Option<isize>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        ok(ops::argmax(&self.t, dim, super::reductions::keep(keepdim, keepdims)))
    }
    /// The index of the smallest element (of the flattened tensor, or along `dim`), as int64.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn argmin(&self, dim: Option<isize>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        ok(ops::argmin(&self.t, dim, super::reductions::keep(keepdim, keepdims)))
    }
    /// True where every element (over `dim`, or all of them) is non-zero; a bool tensor.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn all(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        ok(ops::all(&self.t, parse_dims(dim)?.as_deref(), super::reductions::keep(keepdim, keepdims)))
    }
    /// True where some element (over `dim`, or all of them) is non-zero; a bool tensor.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn any(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        ok(ops::any(&self.t, parse_dims(dim)?.as_deref(), super::reductions::keep(keepdim, keepdims)))
    }
    /// Vector norms: p = 2 (default; "fro" is the same for these), 0, 1, inf, -inf or any p.
    #[pyo3(signature = (p = None, dim = None, keepdim = false, *, keepdims = None))]
    fn norm(&self, p: Option<&Bound<'_, PyAny>>, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, keepdims: Option<bool>) -> TResult {
        let p: f64 = match p {
            None => 2.0,
            Some(v) if v.is_none() => 2.0,
            Some(v) => match v.extract::<String>() {
                Ok(s) if s == "fro" => 2.0,
                Ok(s) => return Err(PyValueError::new_err(format!("norm: unknown norm {s:?}; use a number or \"fro\""))),
                Err(_) => v.extract()?,
            },
        };
        ok(ops::norm(&self.t, p, parse_dims(dim)?.as_deref(), super::reductions::keep(keepdim, keepdims)))
    }

    /// `exp(x) / sum(exp(x))` along `dim` (default the last), computed stably.
    #[pyo3(signature = (dim = -1))]
    fn softmax(&self, dim: isize) -> TResult {
        ok(ops::softmax(&self.t, dim))
    }
    /// `log(softmax(x))` along `dim` (default the last), computed stably.
    #[pyo3(signature = (dim = -1))]
    fn log_softmax(&self, dim: isize) -> TResult {
        ok(ops::log_softmax(&self.t, dim))
    }

    /// A view with another shape over the same memory (one dimension may be -1); fails when the layout does not allow it (use `reshape`).
    ///
    /// Example:
    ///     >>> bp.arange(6).view(2, 3).shape
    ///     backprop.Size([2, 3])
    #[pyo3(signature = (*shape))]
    fn view(&self, shape: &Bound<'_, PyTuple>) -> TResult {
        if shape.len() == 1 {
            if let Ok(dt) = super::convert::parse_dtype(&shape.get_item(0)?) {
                if dt == self.t.dtype() {
                    return Ok(PyTensor::wrap(self.t.clone()));
                }
                return Err(PyTypeError::new_err("view(dtype) reinterpreting bytes is not supported; use .to(dtype)"));
            }
        }
        let s = ops::infer_shape(&parse_shape_signed(shape)?, self.t.numel(), "view")?;
        ok(ops::view(&self.t, &s))
    }
    /// The same elements in another shape (one dimension may be -1): a view when the layout allows, else a copy.
    #[pyo3(signature = (*shape))]
    fn reshape(&self, shape: &Bound<'_, PyTuple>) -> TResult {
        let s = ops::infer_shape(&parse_shape_signed(shape)?, self.t.numel(), "reshape")?;
        ok(ops::reshape(&self.t, &s))
    }
    /// `view(other.shape)`.
    fn view_as(&self, other: &PyTensor) -> TResult {
        ok(ops::view(&self.t, other.t.shape()))
    }
    /// `reshape(other.shape)`.
    fn reshape_as(&self, other: &PyTensor) -> TResult {
        ok(ops::reshape(&self.t, other.t.shape()))
    }
    /// A view with length-1 dimensions repeated to `sizes` (-1 keeps a dimension), without copying.
    #[pyo3(signature = (*sizes))]
    fn expand(&self, sizes: &Bound<'_, PyTuple>) -> TResult {
        let req = parse_shape_signed(sizes)?;
        let lead = req.len().saturating_sub(self.t.ndim());
        let shape: Vec<usize> = req
            .iter()
            .enumerate()
            .map(|(i, &d)| if d == -1 && i >= lead { self.t.shape()[i - lead] } else { d.max(0) as usize })
            .collect();
        ok(ops::expand(&self.t, &shape))
    }
    /// `expand(other.shape)`.
    fn expand_as(&self, other: &PyTensor) -> TResult {
        ok(ops::expand(&self.t, other.t.shape()))
    }
    /// A view broadcast to `shape` (NumPy's broadcasting rules), without copying.
    fn broadcast_to(&self, shape: &Bound<'_, PyAny>) -> TResult {
        ok(ops::expand(&self.t, &shape_from_seq(shape)?))
    }
    /// A view with the dimensions reordered as `dims`.
    #[pyo3(signature = (*dims))]
    fn permute(&self, dims: &Bound<'_, PyTuple>) -> TResult {
        ok(ops::permute(&self.t, &parse_shape_signed(dims)?))
    }
    /// A view with dimensions `dim0` and `dim1` swapped.
    fn transpose(&self, dim0: isize, dim1: isize) -> TResult {
        ok(ops::transpose(&self.t, dim0, dim1))
    }
    /// NumPy's name for `transpose`.
    fn swapaxes(&self, axis0: isize, axis1: isize) -> TResult {
        ok(ops::transpose(&self.t, axis0, axis1))
    }
    /// 2-D transpose (0-D and 1-D tensors are returned as they are).
    fn t(&self) -> TResult {
        if self.t.ndim() > 2 {
            return Err(PyValueError::new_err(format!("t() expects a tensor with <= 2 dimensions, got {}; use .transpose(dim0, dim1)", self.t.ndim())));
        }
        ok(ops::t_all(&self.t))
    }
    /// The dimensions reversed (the transpose of a matrix).
    #[getter(T)]
    fn big_t(&self) -> TResult {
        ok(ops::t_all(&self.t))
    }
    /// The last two dimensions swapped (a batch of matrices transposed).
    #[getter(mT)]
    fn m_t(&self) -> TResult {
        ok(ops::transpose(&self.t, -2, -1))
    }
    /// A view without length-1 dimensions (all of them, or those in `dim`, an int or a tuple).
    #[pyo3(signature = (dim = None))]
    fn squeeze(&self, dim: Option<&Bound<'_, PyAny>>) -> TResult {
        match parse_dims(dim)? {
            None => ok(ops::squeeze(&self.t)),
            Some(dims) => {
                let mut sorted: Vec<usize> =
                    dims.iter().map(|&d| normalize_dim(d, self.t.ndim(), "squeeze")).collect::<crate::Result<_>>()?;
                sorted.sort_unstable_by(|a, b| b.cmp(a));
                let mut t = self.t.clone();
                for d in sorted {
                    t = ops::squeeze_dim(&t, d as isize)?;
                }
                Ok(PyTensor::wrap(t))
            }
        }
    }
    /// A view with a length-1 dimension inserted at `dim`.
    fn unsqueeze(&self, dim: isize) -> TResult {
        ok(ops::unsqueeze(&self.t, dim))
    }
    /// Dimensions `start_dim` to `end_dim` merged into one (a view when the layout allows).
    #[pyo3(signature = (start_dim = 0, end_dim = -1))]
    fn flatten(&self, start_dim: isize, end_dim: isize) -> TResult {
        ok(ops::flatten(&self.t, start_dim, end_dim))
    }
    /// Dimension `dim` split into `sizes` (one may be -1).
    fn unflatten(&self, dim: isize, sizes: &Bound<'_, PyAny>) -> TResult {
        let (d, _) = ops::picked_dim(&self.t, dim, "unflatten")?;
        let req: Vec<isize> = sizes.extract()?;
        let part = ops::infer_shape(&req, self.t.shape()[d], "unflatten")?;
        let mut shape: Vec<usize> = self.t.shape()[..d].to_vec();
        shape.extend_from_slice(&part);
        shape.extend_from_slice(&self.t.shape()[d + 1..]);
        ok(ops::reshape(&self.t, &shape))
    }
    /// A view of `length` elements of dimension `dim`, starting at `start`.
    fn narrow(&self, dim: isize, start: i64, length: i64) -> TResult {
        ok(ops::narrow(&self.t, dim, start, length))
    }
    /// A view of index `index` along `dim`, with that dimension removed.
    fn select(&self, dim: isize, index: isize) -> TResult {
        ok(ops::select(&self.t, dim, index))
    }
    /// The entries at the int64 indices `index` (1-D) along `dim`, copied.
    fn index_select(&self, dim: isize, index: &PyTensor) -> TResult {
        ok(ops::index_select(&self.t, dim, &index.t))
    }
    /// `out[i][j] = self[index[i][j]][j]` for `dim=0` (and likewise for other dims): values picked along `dim` by an int64 tensor of the output's shape.
    fn gather(&self, dim: isize, index: &PyTensor) -> TResult {
        ok(ops::gather(&self.t, dim, &index.t))
    }
    /// Splits into pieces of `split_size` (or of the listed sizes) along `dim`.
    #[pyo3(signature = (split_size_or_sections, dim = 0))]
    fn split<'py>(&self, py: Python<'py>, split_size_or_sections: &Bound<'py, PyAny>, dim: isize) -> PyResult<Bound<'py, PyTuple>> {
        let (d, n) = ops::picked_dim(&self.t, dim, "split")?;
        let sizes: Vec<usize> = match split_size_or_sections.extract::<i64>() {
            Ok(k) if k <= 0 => return Err(PyValueError::new_err(format!("split: split_size must be positive, got {k}"))),
            Ok(k) => (0..n).step_by(k as usize).map(|s| (k as usize).min(n - s)).collect(),
            Err(_) => super::convert::shape_from_seq(split_size_or_sections)?,
        };
        if sizes.iter().sum::<usize>() != n {
            return Err(PyValueError::new_err(format!("split: sizes {sizes:?} do not add up to {n}")));
        }
        let mut start = 0;
        let mut parts = Vec::with_capacity(sizes.len());
        for s in sizes {
            parts.push(PyTensor::wrap(ops::slice(&self.t, d, start, s, 1)?));
            start += s;
        }
        PyTuple::new(py, parts)
    }
    /// `chunks` views along `dim` of equal size (the last may be smaller).
    #[pyo3(signature = (chunks, dim = 0))]
    fn chunk<'py>(&self, py: Python<'py>, chunks: i64, dim: isize) -> PyResult<Bound<'py, PyTuple>> {
        let (_, n) = ops::picked_dim(&self.t, dim, "chunk")?;
        if chunks <= 0 {
            return Err(PyValueError::new_err(format!("chunk: expects `chunks` to be greater than 0, got {chunks}")));
        }
        let size = n.div_ceil(chunks as usize).max(1);
        self.split(py, &size.into_pyobject(py)?.into_any(), dim)
    }
    /// The slices along `dim`, as a tuple of views with that dimension removed.
    #[pyo3(signature = (dim = 0))]
    fn unbind<'py>(&self, py: Python<'py>, dim: isize) -> PyResult<Bound<'py, PyTuple>> {
        PyTuple::new(py, ops::unbind(&self.t, dim)?.into_iter().map(PyTensor::wrap))
    }

    /// `dropout` as a method is not PyTorch's, but `nn.functional` binds these.
    #[pyo3(signature = (p = 0.5, training = true))]
    fn _dropout(&self, p: f64, training: bool) -> TResult {
        ok(ops::dropout(&self.t, p, training))
    }
}

impl PyTensor {
    fn extremum<'py>(&self, py: Python<'py>, kind: ReduceKind, dim: Option<&Bound<'py, PyAny>>, keepdim: bool) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(Bound::new(py, PyTensor::wrap(ops::extremum_all(kind, &self.t)?))?.into_any()),
            Some(d) if d.cast::<PyTensor>().is_ok() => {
                let o = d.cast::<PyTensor>()?.get().t.clone();
                let f = if kind == ReduceKind::Max { ops::maximum } else { ops::minimum };
                Ok(Bound::new(py, PyTensor::wrap(f(&self.t, &o)?))?.into_any())
            }
            Some(d) => {
                let dim: isize = d.extract()?;
                let (v, i) = ops::extremum_dim(kind, &self.t, dim, keepdim)?;
                values_indices(py, v, i)
            }
        }
    }
}

fn scaled_inplace<'py>(slf: &Bound<'py, PyTensor>, other: &Bound<'py, PyAny>, alpha: Option<f64>, kind: BinaryKind) -> PyResult<Bound<'py, PyTensor>> {
    let t = &slf.get().t;
    let mut o = tensor_arg(other, t, kind.name())?;
    if let Some(a) = alpha {
        o = ops::mul(&o, &ops::scalar_like(&o, a)?)?;
    }
    ops::binary_(kind, t, &o)?;
    Ok(slf.clone())
}

/// The Bessel correction of `var`/`std`: `unbiased` (True: 1, False: 0) or `correction`, not both
/// (PyTorch refuses the combination with a TypeError).
pub(super) fn bessel_correction(op: &str, unbiased: Option<bool>, correction: Option<f64>) -> PyResult<f64> {
    match (unbiased, correction) {
        (Some(_), Some(_)) => Err(PyTypeError::new_err(format!(
            "{op}: got both unbiased and correction; pass one of them (unbiased=False is correction=0)"
        ))),
        (_, Some(c)) => Ok(c),
        (u, None) => Ok(if u.unwrap_or(true) { 1.0 } else { 0.0 }),
    }
}

pub fn reduction(s: &str) -> PyResult<Reduction> {
    Ok(Reduction::parse(s)?)
}
