//! backprop's engine: tensors, the autograd tape, ops and their kernels.
//!
//! Data flows one way: `python` (argument parsing, errors) -> `ops` (shape checks, graph
//! recording) -> `backend` (device dispatch) -> `cpu` or `gpu` kernels. Kernels know nothing about
//! autograd, autograd knows nothing about devices, and only `python` imports pyo3.
//!
//! Nothing is exported to Rust: the crate's one interface is the Python module `python` builds,
//! so every entry point is a `#[pyfunction]`/`#[pymethods]` item in `rust/python`, called with
//! the GIL held (the aliasing contract in `tensor::storage` relies on that). Rust unit tests
//! live inside the crate. `tools/check_layers.py` checks the module order in CI.

mod alloc;
mod autograd;
mod backend;
mod cpu;
mod engine_cell;
mod error;
mod gpu;
mod kinds;
mod ops;
mod python;
mod random;
mod tensor;

use error::Result;
use tensor::{DType, Tensor};

/// Tensors, graph nodes and their small buffers are allocated and freed at a high rate;
/// mimalloc does that several times faster than the system allocator. (Not under Miri, which
/// cannot run its C code.)
#[cfg(not(miri))]
#[global_allocator]
static GLOBAL: alloc::MiMalloc = alloc::MiMalloc;
