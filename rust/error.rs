//! The one error type of the engine. `python::errors` maps each variant to a Python exception.

use std::fmt;

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Shapes that do not fit together (`ShapeError` in Python: a ValueError and, as PyTorch
    /// raises, a RuntimeError).
    #[error("{0}")]
    Shape(String),
    /// A dtype an op cannot take (`DTypeError`: a ValueError and a RuntimeError).
    #[error("{0}")]
    DType(String),
    /// Tensors on different devices, or a device that cannot be used (RuntimeError subclass `DeviceError`).
    #[error("{0}")]
    Device(String),
    /// Misuse of the autograd graph: backward twice, stale saved tensors, ... (RuntimeError).
    #[error("{0}")]
    Autograd(String),
    /// An index out of range (IndexError).
    #[error("{0}")]
    Index(String),
    /// A bad argument value (ValueError).
    #[error("{0}")]
    Value(String),
    /// Integer division or remainder by zero (a ZeroDivisionError that is also the
    /// RuntimeError PyTorch raises).
    #[error("{0}")]
    ZeroDivision(String),
    /// A matrix a factorization cannot take: singular, not positive-definite, no convergence
    /// (`LinAlgError`, a RuntimeError subclass, as `torch.linalg.LinAlgError`).
    #[error("{0}")]
    LinAlg(String),
    /// A bad argument type (TypeError).
    #[error("{0}")]
    Type(String),
    /// A buffer that could not be allocated (MemoryError).
    #[error("{0}")]
    Memory(String),
    /// An error raised by foreign code called back from the engine (a Python hook or custom
    /// Function); carried through unchanged so Python sees the original exception.
    #[error("{0}")]
    Foreign(Box<dyn std::error::Error + Send + Sync>),
}

/// Formats a shape the way PyTorch prints it: `[2, 3]`.
pub struct ShapeDisplay<'a>(pub &'a [usize]);

impl fmt::Display for ShapeDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{d}")?;
        }
        write!(f, "]")
    }
}

macro_rules! shape_err {
    ($($arg:tt)*) => { $crate::error::Error::Shape(format!($($arg)*)) };
}
macro_rules! dtype_err {
    ($($arg:tt)*) => { $crate::error::Error::DType(format!($($arg)*)) };
}
macro_rules! value_err {
    ($($arg:tt)*) => { $crate::error::Error::Value(format!($($arg)*)) };
}
macro_rules! index_err {
    ($($arg:tt)*) => { $crate::error::Error::Index(format!($($arg)*)) };
}
macro_rules! autograd_err {
    ($($arg:tt)*) => { $crate::error::Error::Autograd(format!($($arg)*)) };
}
pub(crate) use {autograd_err, dtype_err, index_err, shape_err, value_err};
