//! Binding of the fused row normalisation (`backprop.nn.functional`'s batch and layer norm).

use super::tensor::{ok, PyTensor, TResult};
use crate::ops;
use pyo3::prelude::*;

/// Each row of a 2-D tensor shifted to mean 0 and scaled to variance 1 (biased), by one fused
/// kernel forward and one backward.
#[pyfunction]
#[pyo3(signature = (input, eps = 1e-5))]
pub fn norm_rows(input: &PyTensor, eps: f64) -> TResult {
    ok(ops::norm_rows(&input.t, eps))
}
