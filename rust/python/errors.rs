//! Engine errors as Python exceptions: ShapeError and DTypeError are ValueErrors and
//! RuntimeErrors, DeviceError is a RuntimeError, graph misuse is a RuntimeError, bad indices
//! IndexErrors, integer division by zero a ZeroDivisionError that is also a RuntimeError.
//!
//! PyTorch raises RuntimeError for shape and dtype mismatches (and for integer division by
//! zero), so a ported `except RuntimeError` must catch ours; DESIGN.md's ValueError base stays
//! for code written against backprop. A class with two bases cannot come from
//! `create_exception!`, so those are made with `type(name, bases, namespace)` on first use.

use crate::error::Error;
use pyo3::exceptions::{PyIndexError, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError, PyZeroDivisionError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyTuple, PyType};

/// An exception class of module `backprop` with the given builtin bases, made once.
struct TwoBaseError {
    cell: PyOnceLock<Py<PyType>>,
    name: &'static str,
    doc: &'static str,
    bases: fn(Python<'_>) -> [Bound<'_, PyType>; 2],
}

impl TwoBaseError {
    fn get<'py>(&'static self, py: Python<'py>) -> &'py Bound<'py, PyType> {
        self.cell
            .get_or_init(py, || {
                let namespace = PyDict::new(py);
                let made = (|| -> PyResult<Py<PyType>> {
                    namespace.set_item("__module__", "backprop")?;
                    namespace.set_item("__doc__", self.doc)?;
                    let bases = PyTuple::new(py, (self.bases)(py))?;
                    Ok(py.get_type::<PyType>().call1((self.name, bases, namespace))?.cast_into::<PyType>()?.unbind())
                })();
                made.expect("builtin exception bases with one layout always combine")
            })
            .bind(py)
    }

    fn new_err(&'static self, message: String) -> PyErr {
        Python::attach(|py| PyErr::from_type(self.get(py).clone(), message))
    }
}

static SHAPE_ERROR: TwoBaseError = TwoBaseError {
    cell: PyOnceLock::new(),
    name: "ShapeError",
    doc: "Tensor shapes that do not fit together (a ValueError and, as in PyTorch, a RuntimeError).",
    bases: |py| [py.get_type::<PyValueError>(), py.get_type::<PyRuntimeError>()],
};
static DTYPE_ERROR: TwoBaseError = TwoBaseError {
    cell: PyOnceLock::new(),
    name: "DTypeError",
    doc: "A dtype an operation cannot take (a ValueError and, as in PyTorch, a RuntimeError).",
    bases: |py| [py.get_type::<PyValueError>(), py.get_type::<PyRuntimeError>()],
};
static ZERO_DIVISION_ERROR: TwoBaseError = TwoBaseError {
    cell: PyOnceLock::new(),
    name: "ZeroDivisionError",
    doc: "Integer division or remainder by zero (a ZeroDivisionError and, as in PyTorch, a RuntimeError).",
    bases: |py| [py.get_type::<PyZeroDivisionError>(), py.get_type::<PyRuntimeError>()],
};

pyo3::create_exception!(backprop, DeviceError, PyRuntimeError, "Tensors on different or unavailable devices.");
pyo3::create_exception!(backprop, LinAlgError, PyRuntimeError, "A matrix a factorization cannot take (singular, not positive-definite, no convergence).");

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Shape(m) => SHAPE_ERROR.new_err(m),
            Error::DType(m) => DTYPE_ERROR.new_err(m),
            Error::ZeroDivision(m) => ZERO_DIVISION_ERROR.new_err(m),
            Error::Device(m) => DeviceError::new_err(m),
            Error::Autograd(m) => PyRuntimeError::new_err(m),
            Error::Index(m) => PyIndexError::new_err(m),
            Error::Value(m) => PyValueError::new_err(m),
            Error::Type(m) => PyTypeError::new_err(m),
            Error::Memory(m) => PyMemoryError::new_err(m),
            Error::LinAlg(m) => LinAlgError::new_err(m),
            Error::Foreign(inner) => match inner.downcast::<PyErr>() {
                Ok(py_err) => *py_err,
                Err(other) => PyRuntimeError::new_err(other.to_string()),
            },
        }
    }
}

/// A Python exception raised inside a callback (hook, custom Function) travelling through the engine.
pub fn foreign(e: PyErr) -> Error {
    Error::Foreign(Box::new(e))
}

pub fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    let py = m.py();
    m.add("ShapeError", SHAPE_ERROR.get(py))?;
    m.add("DTypeError", DTYPE_ERROR.get(py))?;
    m.add("ZeroDivisionError", ZERO_DIVISION_ERROR.get(py))?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("LinAlgError", py.get_type::<LinAlgError>())?;
    Ok(())
}
