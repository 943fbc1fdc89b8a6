//! The elementwise ops' Python functions and `Tensor` methods, generated from the op table
//! (`ops/table.rs`: rows marked `method` or `function`), and the table itself as data
//! (`_core._op_table()`, `_core._wgsl_library(name)`) for `viz` and the tests.

// The generated functions are named after the table's kinds (`Tan`, `Atan2`).
#![allow(non_snake_case)]

use super::convert::{describe, operand};
use super::tensor::{ok, PyTensor, TResult};
use crate::kinds::{all_ops, generated_wgsl, BinaryKind, UnaryKind};
use crate::ops;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};

fn other_operand(other: &Bound<'_, PyAny>, like: &Tensor, name: &str) -> PyResult<Tensor> {
    operand(other, like)?.ok_or_else(|| PyTypeError::new_err(format!("{name}: expected a tensor or a number, got {}", describe(other))))
}

/// `bp.X(input, params...)` for `method` and `function` rows; `Tensor.X` for `method` rows.
/// Each one's docstring is the row's doc comment.
macro_rules! unary_binding {
    // A parameter declared `p = value => None` (logit's eps) is Python's `p=None`, handed to
    // the kernel as `value`.
    (method, $K:ident, $name:literal, [$p:ident = $d:expr => None], [$(#[doc = $doc:tt])+]) => {
        unary_binding!(function, $K, $name, [$p = $d => None], [$(#[doc = $doc])+]);
        #[pymethods]
        impl PyTensor {
            $(#[doc = $doc])+
            #[allow(non_snake_case)]
            #[pyo3(name = $name, signature = ($p = None))]
            fn $K(&self, $p: Option<f64>) -> TResult {
                ok(ops::unary_op(UnaryKind::$K { $p: $p.unwrap_or($d) }, &self.t))
            }
        }
    };
    (function, $K:ident, $name:literal, [$p:ident = $d:expr => None], [$(#[doc = $doc:tt])+]) => {
        $(#[doc = $doc])+
        #[allow(non_snake_case)]
        #[pyfunction]
        #[pyo3(name = $name, signature = (input, $p = None))]
        fn $K(input: &PyTensor, $p: Option<f64>) -> TResult {
            ok(ops::unary_op(UnaryKind::$K { $p: $p.unwrap_or($d) }, &input.t))
        }
    };
    (method, $K:ident, $name:literal, [$($p:ident = $d:expr),*], [$(#[doc = $doc:tt])+]) => {
        unary_binding!(function, $K, $name, [$($p = $d),*], [$(#[doc = $doc])+]);
        #[pymethods]
        impl PyTensor {
            $(#[doc = $doc])+
            #[allow(non_snake_case)]
            #[pyo3(name = $name, signature = ($($p = $d),*))]
            fn $K(&self, $($p: f64),*) -> TResult {
                ok(ops::unary_op(UnaryKind::$K { $($p),* }, &self.t))
            }
        }
    };
    (function, $K:ident, $name:literal, [$($p:ident = $d:expr),*], [$(#[doc = $doc:tt])+]) => {
        $(#[doc = $doc])+
        #[allow(non_snake_case)]
        #[pyfunction]
        #[pyo3(name = $name, signature = (input, $($p = $d),*))]
        fn $K(input: &PyTensor, $($p: f64),*) -> TResult {
            ok(ops::unary_op(UnaryKind::$K { $($p),* }, &input.t))
        }
    };
    ($api:ident, $K:ident, $name:literal, [$($p:ident = $d:expr $(=> $none:ident)?),*], $docs:tt) => {};
}

/// The in-place form of a row: `Tensor.X_` (not for `function` rows, which are
/// `nn.functional`'s) and `_core.X_(input, params...)`, both returning the tensor itself.
macro_rules! unary_inplace_binding {
    ($api:ident, _, $K:ident, $name:literal, [$($p:ident = $d:expr $(=> $none:ident)?),*]) => {};
    (method, $ip:ident, $K:ident, $name:literal, [$p:ident = $d:expr => None]) => {
        unary_inplace_binding!(@function $ip, $K, $name, [$p = $d => None]);
        #[pymethods]
        impl PyTensor {
            #[doc = concat!("In-place `", $name, "`: overwrites this tensor with ", $name, " of it (version-counted; autograd follows it as the out-of-place op). Returns the tensor.")]
            #[pyo3(signature = ($p = None))]
            fn $ip<'py>(slf: &Bound<'py, Self>, $p: Option<f64>) -> PyResult<Bound<'py, Self>> {
                ops::unary_(UnaryKind::$K { $p: $p.unwrap_or($d) }, &slf.get().t)?;
                Ok(slf.clone())
            }
        }
    };
    (@function $ip:ident, $K:ident, $name:literal, [$p:ident = $d:expr => None]) => {
        #[doc = concat!("In-place `", $name, "(input)`: overwrites `input` with the result and returns it.")]
        #[pyfunction]
        #[pyo3(signature = (input, $p = None))]
        fn $ip<'py>(input: &Bound<'py, PyTensor>, $p: Option<f64>) -> PyResult<Bound<'py, PyTensor>> {
            ops::unary_(UnaryKind::$K { $p: $p.unwrap_or($d) }, &input.get().t)?;
            Ok(input.clone())
        }
    };
    (function, $ip:ident, $K:ident, $name:literal, [$($p:ident = $d:expr),*]) => {
        unary_inplace_binding!(@function $ip, $K, $name, [$($p = $d),*]);
    };
    ($api:ident, $ip:ident, $K:ident, $name:literal, [$($p:ident = $d:expr),*]) => {
        unary_inplace_binding!(@function $ip, $K, $name, [$($p = $d),*]);
        #[pymethods]
        impl PyTensor {
            #[doc = concat!("In-place `", $name, "`: overwrites this tensor with ", $name, " of it (version-counted; autograd follows it as the out-of-place op). Returns the tensor.")]
            #[pyo3(signature = ($($p = $d),*))]
            fn $ip<'py>(slf: &Bound<'py, Self>, $($p: f64),*) -> PyResult<Bound<'py, Self>> {
                ops::unary_(UnaryKind::$K { $($p),* }, &slf.get().t)?;
                Ok(slf.clone())
            }
        }
    };
    (@function $ip:ident, $K:ident, $name:literal, [$($p:ident = $d:expr),*]) => {
        #[doc = concat!("In-place `", $name, "(input)`: overwrites `input` with the result and returns it.")]
        #[pyfunction]
        #[pyo3(signature = (input, $($p = $d),*))]
        fn $ip<'py>(input: &Bound<'py, PyTensor>, $($p: f64),*) -> PyResult<Bound<'py, PyTensor>> {
            ops::unary_(UnaryKind::$K { $($p),* }, &input.get().t)?;
            Ok(input.clone())
        }
    };
}

macro_rules! unary_inplace_register {
    ($m:ident, _) => {};
    ($m:ident, $ip:ident) => { $m.add_function(wrap_pyfunction!($ip, $m)?)?; };
}

/// `Tensor.X_(other)` for binary rows with an in-place form.
macro_rules! binary_inplace_binding {
    (_, $K:ident, $name:literal) => {};
    ($ip:ident, $K:ident, $name:literal) => {
        #[pymethods]
        impl PyTensor {
            #[doc = concat!("In-place `", $name, "(other)`: overwrites this tensor with the result (broadcast to its shape; the result dtype must fit it). Returns the tensor.")]
            fn $ip<'py>(slf: &Bound<'py, Self>, other: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
                let t = &slf.get().t;
                ops::binary_(BinaryKind::$K, t, &other_operand(other, t, concat!($name, "_"))?)?;
                Ok(slf.clone())
            }
        }
    };
}

macro_rules! unary_register {
    ($m:ident, method, $K:ident) => { $m.add_function(wrap_pyfunction!($K, $m)?)?; };
    ($m:ident, function, $K:ident) => { $m.add_function(wrap_pyfunction!($K, $m)?)?; };
    ($m:ident, $api:ident, $K:ident) => {};
}

macro_rules! unary_bindings {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident { $($p:ident = $d:expr $(=> $none:ident)?),* } $name:literal $class:ident $save:ident $api:ident $inplace:tt
        cpu(|$x:ident| $cpu:expr) int($(|$xi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $s:ident| $vjp:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        $(unary_binding!($api, $K, $name, [$($p = $d $(=> $none)?),*], [$(#[doc = $doc])+]);)*
        $(unary_inplace_binding!($api, $inplace, $K, $name, [$($p = $d $(=> $none)?),*]);)*

        fn register_unary(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(unary_register!(m, $api, $K);)*
            $(unary_inplace_register!(m, $inplace);)*
            Ok(())
        }
    };
}

crate::unary_table!(unary_bindings);

/// `bp.X(input, other)` for `method` and `function` rows and `Tensor.X(other)` for `method`
/// rows, with the row's doc comment as docstring.
macro_rules! binary_binding {
    (method, $K:ident, $name:literal, [$(#[doc = $doc:tt])+]) => {
        binary_binding!(function, $K, $name, [$(#[doc = $doc])+]);
        #[pymethods]
        impl PyTensor {
            $(#[doc = $doc])+
            #[allow(non_snake_case)]
            #[pyo3(name = $name)]
            fn $K(&self, other: &Bound<'_, PyAny>) -> TResult {
                ok(ops::binary_op(BinaryKind::$K, &self.t, &other_operand(other, &self.t, $name)?))
            }
        }
    };
    (function, $K:ident, $name:literal, [$(#[doc = $doc:tt])+]) => {
        $(#[doc = $doc])+
        #[allow(non_snake_case)]
        #[pyfunction]
        #[pyo3(name = $name)]
        fn $K(input: &PyTensor, other: &Bound<'_, PyAny>) -> TResult {
            ok(ops::binary_op(BinaryKind::$K, &input.t, &other_operand(other, &input.t, $name)?))
        }
    };
    ($api:ident, $K:ident, $name:literal, $docs:tt) => {};
}

macro_rules! binary_bindings {
    ($(
        $(#[doc = $doc:tt])+
        $K:ident $name:literal $class:ident $api:ident $inplace:tt saves(a: $sa:ident, b: $sb:ident, out: $so:ident)
        cpu(|$x:ident, $y:ident| $cpu:expr) int($(|$xi:ident, $yi:ident| $int:expr)?) wgsl($wgsl:literal) wgsl_int($($wgsl_int:literal)?)
        vjp(|$g:ident, $a:ident, $b:ident, $o:ident| $va:expr, $vb:expr)
        numpy($($np:literal),+ $(,)?);
    )*) => {
        $(binary_binding!($api, $K, $name, [$(#[doc = $doc])+]);)*
        $(binary_inplace_binding!($inplace, $K, $name);)*

        fn register_binary(m: &Bound<'_, PyModule>) -> PyResult<()> {
            $(unary_register!(m, $api, $K);)*
            Ok(())
        }
    };
}

crate::binary_table!(binary_bindings);

/// `gelu(input, approximate="none")`: the erf form, or `"tanh"` for the tanh approximation.
#[pyfunction]
#[pyo3(signature = (input, approximate = "none"))]
fn gelu(input: &PyTensor, approximate: &str) -> TResult {
    let kind = match approximate {
        "none" => UnaryKind::Gelu,
        "tanh" => UnaryKind::GeluTanh,
        other => return Err(PyValueError::new_err(format!("gelu: approximate must be 'none' or 'tanh', got {other:?}"))),
    };
    ok(ops::unary_op(kind, &input.t))
}

/// The op table as data: one dict per row (name, arity, class, api, params with defaults,
/// has_int, GPU code, WGSL expressions, NumPy templates, and the doc: its bindings' docstring).
#[pyfunction]
fn _op_table(py: Python<'_>) -> PyResult<Bound<'_, PyList>> {
    let rows = PyList::empty(py);
    for op in all_ops() {
        let d = PyDict::new(py);
        d.set_item("name", op.name)?;
        d.set_item("arity", op.arity)?;
        d.set_item("class", op.class.name())?;
        d.set_item("api", op.api)?;
        d.set_item("params", op.params.to_vec())?;
        d.set_item("inplace", op.inplace)?;
        d.set_item("has_int", op.has_int)?;
        d.set_item("code", op.code)?;
        d.set_item("wgsl", op.wgsl)?;
        d.set_item("wgsl_int", op.wgsl_int)?;
        d.set_item("numpy", op.numpy.to_vec())?;
        d.set_item("doc", op.doc_text())?;
        rows.append(d)?;
    }
    Ok(rows)
}

/// The text of a WGSL library generated from the op table (`unary_ops.wgsl`, `binary_ops.wgsl`).
#[pyfunction]
fn _wgsl_library(name: &str) -> PyResult<&'static str> {
    generated_wgsl(name).ok_or_else(|| PyValueError::new_err(format!("no generated WGSL library named {name:?}")))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    register_unary(m)?;
    register_binary(m)?;
    m.add_function(wrap_pyfunction!(gelu, m)?)?;
    m.add_function(wrap_pyfunction!(_op_table, m)?)?;
    m.add_function(wrap_pyfunction!(_wgsl_library, m)?)?;
    Ok(())
}
