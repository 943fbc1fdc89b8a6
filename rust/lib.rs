//! backprop's engine: tensors, the autograd tape, ops and their kernels.
//!
//! Data flows one way: `python` (argument parsing, errors) -> `ops` (shape checks, graph
//! recording) -> `backend` (device dispatch) -> `cpu` or `gpu` kernels. Kernels know nothing about
//! autograd, autograd knows nothing about devices, and only `python` imports pyo3.

pub mod alloc;
pub mod autograd;
pub mod backend;
pub mod cpu;
mod engine_cell;
pub mod error;
pub mod gpu;
pub mod kinds;
pub mod ops;
pub mod python;
pub mod random;
pub mod tensor;

pub use error::{Error, Result};
pub use tensor::{DType, Device, Tensor};

/// Tensors, graph nodes and their small buffers are allocated and freed at a high rate;
/// mimalloc does that several times faster than the system allocator.
#[global_allocator]
static GLOBAL: alloc::MiMalloc = alloc::MiMalloc;
