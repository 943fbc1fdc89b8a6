//! Engine errors as Python exceptions: ShapeError and DTypeError are ValueErrors,
//! DeviceError is a RuntimeError, graph misuse is a RuntimeError, bad indices IndexErrors.

use crate::error::Error;
use pyo3::exceptions::{PyIndexError, PyMemoryError, PyRuntimeError, PyTypeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(backprop, ShapeError, PyValueError, "Tensor shapes that do not fit together.");
pyo3::create_exception!(backprop, DTypeError, PyValueError, "A dtype an operation cannot take.");
pyo3::create_exception!(backprop, DeviceError, PyRuntimeError, "Tensors on different or unavailable devices.");
pyo3::create_exception!(backprop, LinAlgError, PyRuntimeError, "A matrix a factorization cannot take (singular, not positive-definite, no convergence).");

impl From<Error> for PyErr {
    fn from(e: Error) -> PyErr {
        match e {
            Error::Shape(m) => ShapeError::new_err(m),
            Error::DType(m) => DTypeError::new_err(m),
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
    m.add("ShapeError", py.get_type::<ShapeError>())?;
    m.add("DTypeError", py.get_type::<DTypeError>())?;
    m.add("DeviceError", py.get_type::<DeviceError>())?;
    m.add("LinAlgError", py.get_type::<LinAlgError>())?;
    Ok(())
}
