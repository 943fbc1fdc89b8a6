//! Device dispatch of the scans and the sort (kernels in `cpu::scan`/`cpu::sort` and
//! `gpu::kernels::scan`/`sort`).

use super::{widen, Narrow, ScanKind};
use crate::cpu;
use crate::error::Result;
use crate::gpu::kernels as gpu;
use crate::tensor::{Device, Tensor};

/// The running `kind` along `dim` (backwards when `reverse`), with indices for max/min.
/// Storage dtypes run in their compute dtype; the values come back in the input's dtype, the
/// indices stay int64.
pub fn scan(kind: ScanKind, a: &Tensor, dim: usize, reverse: bool) -> Result<(Tensor, Option<Tensor>)> {
    let narrow = Narrow::of(a.dtype());
    let a = widen(a)?;
    let (values, indices) = match a.device() {
        Device::Cpu => cpu::scan::scan(kind, &a, dim, reverse),
        Device::Gpu => gpu::scan::scan(kind, &a, dim, reverse),
    }?;
    Ok((narrow.apply(values)?, indices))
}

/// `(values, indices)` sorted along `dim`, stable, NaN largest.
/// Storage dtypes are sorted in their compute dtype (exact: widening is monotonic).
pub fn sort(a: &Tensor, dim: usize, descending: bool) -> Result<(Tensor, Tensor)> {
    let narrow = Narrow::of(a.dtype());
    let a = widen(a)?;
    let (values, indices) = match a.device() {
        Device::Cpu => cpu::sort::sort(&a, dim, descending),
        Device::Gpu => gpu::sort::sort(&a, dim, descending),
    }?;
    Ok((narrow.apply(values)?, indices))
}
