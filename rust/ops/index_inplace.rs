//! In-place forms of the scatter and index ops (`scatter_`, `index_add_`, `masked_scatter_`,
//! ...). Like the other in-place ops they refuse what autograd cannot follow, bump the
//! version counter, and when autograd tracks the result compute it out of place from a copy
//! of the old values and rebase the tensor's history onto the new node.

use super::scatter::{self, ScatterReduce, ScatterSrc};
use crate::autograd::is_grad_enabled;
use crate::backend;
use crate::error::{shape_err, Result, ShapeDisplay};
use crate::tensor::Tensor;

/// Runs the out-of-place `f` and writes its result into `dst`. `inputs` are the other tensors
/// the result depends on (whether autograd must follow the update).
fn write_back(dst: &Tensor, op: &str, inputs: &[&Tensor], f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
    super::check_inplace(dst, op)?;
    super::check_no_internal_overlap(dst, op)?;
    let tracked = is_grad_enabled() && (dst.requires_grad() || inputs.iter().any(|t| t.requires_grad()));
    let new = if tracked { f(&super::clone(dst)?)? } else { f(&dst.detach())? };
    if new.shape() != dst.shape() {
        return Err(shape_err!(
            "{op}: the result of shape {} does not fit the tensor of shape {} written in place; broadcasting cannot grow it",
            ShapeDisplay(new.shape()),
            ShapeDisplay(dst.shape())
        ));
    }
    let new = if new.dtype() != dst.dtype() { backend::cast(&new, dst.dtype())? } else { new };
    backend::copy_into(&dst.detach(), &new)?;
    dst.storage().bump_version();
    if tracked {
        dst.set_grad_fn(new.grad_fn());
    }
    Ok(())
}

pub fn scatter_(a: &Tensor, dim: isize, index: &Tensor, src: ScatterSrc, reduce: Option<&str>) -> Result<()> {
    let others: Vec<&Tensor> = match &src {
        ScatterSrc::Tensor(s) => vec![*s],
        ScatterSrc::Value(_) => vec![],
    };
    write_back(a, "scatter_", &others, |old| scatter::scatter(old, dim, index, src, reduce))
}

pub fn scatter_add_(a: &Tensor, dim: isize, index: &Tensor, src: &Tensor) -> Result<()> {
    write_back(a, "scatter_add_", &[src], |old| scatter::scatter_add(old, dim, index, src))
}

pub fn scatter_reduce_(a: &Tensor, dim: isize, index: &Tensor, src: &Tensor, reduce: ScatterReduce, include_self: bool) -> Result<()> {
    write_back(a, "scatter_reduce_", &[src], |old| scatter::scatter_reduce(old, dim, index, src, reduce, include_self))
}

pub fn index_add_(a: &Tensor, dim: isize, index: &Tensor, source: &Tensor, alpha: f64) -> Result<()> {
    write_back(a, "index_add_", &[source], |old| scatter::index_add(old, dim, index, source, alpha))
}

pub fn index_copy_(a: &Tensor, dim: isize, index: &Tensor, source: &Tensor) -> Result<()> {
    write_back(a, "index_copy_", &[source], |old| scatter::index_copy(old, dim, index, source))
}

pub fn index_fill_(a: &Tensor, dim: isize, index: &Tensor, value: &Tensor) -> Result<()> {
    write_back(a, "index_fill_", &[value], |old| scatter::index_fill(old, dim, index, value))
}

/// `index_put_` with `accumulate=True` (the overwriting form is `__setitem__`'s `index_put_`).
pub fn index_put_accumulate_(a: &Tensor, indices: &[Tensor], values: &Tensor) -> Result<()> {
    write_back(a, "index_put_", &[values], |old| scatter::index_put(old, indices, values, true))
}

pub fn masked_scatter_(a: &Tensor, mask: &Tensor, source: &Tensor) -> Result<()> {
    write_back(a, "masked_scatter_", &[source], |old| scatter::masked_scatter(old, mask, source))
}
