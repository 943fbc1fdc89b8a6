//! Device dispatch of the scans and the sort (kernels in `cpu::scan`/`cpu::sort` and
//! `gpu::kernels::scan`/`sort`).

use super::ScanKind;
use crate::cpu;
use crate::error::Result;
use crate::gpu::kernels as gpu;
use crate::tensor::{Device, Tensor};

/// The running `kind` along `dim` (backwards when `reverse`), with indices for max/min.
pub fn scan(kind: ScanKind, a: &Tensor, dim: usize, reverse: bool) -> Result<(Tensor, Option<Tensor>)> {
    match a.device() {
        Device::Cpu => cpu::scan::scan(kind, a, dim, reverse),
        Device::Gpu => gpu::scan::scan(kind, a, dim, reverse),
    }
}

/// `(values, indices)` sorted along `dim`, stable, NaN largest.
pub fn sort(a: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    match a.device() {
        Device::Cpu => cpu::sort::sort(a, dim, descending),
        Device::Gpu => gpu::sort::sort(a, dim, descending),
    }
}
