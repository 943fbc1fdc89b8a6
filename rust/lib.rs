//! backprop's engine: tensors, the autograd tape, ops and their kernels.
//!
//! Data flows one way: `python` (argument parsing, errors) -> `ops` (shape checks, graph
//! recording) -> `backend` (device dispatch) -> `cpu` or `gpu` kernels. Kernels know nothing about
//! autograd, autograd knows nothing about devices, and only `python` imports pyo3.

pub mod autograd;
pub mod backend;
pub mod cpu;
pub mod error;
pub mod gpu;
pub mod ops;
pub mod python;
pub mod random;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{DType, Device, Tensor};
