//! In-place ops. They bump the storage's version counter (so stale saved tensors are caught),
//! refuse leaves that require grad (outside `no_grad`), and, when autograd tracks the
//! result, compute out of place and rebase the tensor's history onto the new node.

use crate::autograd::is_grad_enabled;
use crate::backend::{self, BinaryKind};
use crate::error::{autograd_err, dtype_err, Result};
use crate::tensor::Tensor;

/// Refuses in-place ops autograd cannot follow.
pub fn check_inplace(a: &Tensor, op: &str) -> Result<()> {
    crate::autograd::forward::check_inplace(a, op)?;
    if !is_grad_enabled() {
        return Ok(());
    }
    let m = a.meta();
    if m.grad_fn.is_none() && m.requires_grad {
        return Err(autograd_err!(
            "{op}: a leaf tensor that requires grad is being used in an in-place operation; \
             wrap the update in `with backprop.no_grad():` (as optimizers do) or use an out-of-place op"
        ));
    }
    if m.is_view_of_differentiable {
        return Err(autograd_err!(
            "{op}: this tensor is a view of a tensor that requires grad, and modifying it in place would \
             bypass its base's history; use an out-of-place op (or .clone() the view first)"
        ));
    }
    Ok(())
}

/// Whether several elements of `t` share one memory location (a stride-0 dimension of size
/// > 1, as `expand` makes): writing into such a tensor would write each location repeatedly.
pub fn has_internal_overlap(t: &Tensor) -> bool {
    t.shape().iter().zip(t.layout().strides()).any(|(&d, &s)| s == 0 && d > 1)
}

/// Refuses in-place writes into tensors whose elements share memory (PyTorch's rule).
pub fn check_no_internal_overlap(dst: &Tensor, op: &str) -> Result<()> {
    if has_internal_overlap(dst) {
        return Err(crate::error::Error::Value(format!(
            "{op}: unsupported operation: more than one element of the written-to tensor (shape {}, strides {:?}) \
             refers to a single memory location, as after expand(); call .clone() on it before the in-place operation",
            crate::error::ShapeDisplay(dst.shape()),
            dst.layout().strides()
        )));
    }
    Ok(())
}

/// `src`, copied when it shares memory with `dst` (so the kernel never reads what it wrote).
pub fn ensure_no_overlap(dst: &Tensor, src: &Tensor) -> Result<Tensor> {
    if dst.shares_storage(src) {
        backend::cast(src, src.dtype())
    } else {
        Ok(src.clone())
    }
}

/// `dst op= src` (`add_`, `sub_`, `mul_`, `div_`).
pub fn binary_(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    let op = kind.name();
    check_inplace(dst, op)?;
    check_no_internal_overlap(dst, &format!("{op}_"))?;
    let out_dtype = super::promote_types(dst, src);
    let out_dtype = if kind == BinaryKind::Div && !out_dtype.is_float() { crate::tensor::DType::F32 } else { out_dtype };
    if out_dtype.category() > dst.dtype().category() {
        return Err(dtype_err!(
            "{op}_: result type {} can't be cast to the desired output type {}",
            out_dtype.name(),
            dst.dtype().name()
        ));
    }
    crate::tensor::broadcast_shapes(dst.shape(), src.shape(), op).and_then(|s| {
        if s.as_slice() == dst.shape() {
            Ok(())
        } else {
            Err(crate::error::Error::Shape(format!(
                "{op}_: the output of shape {:?} doesn't match the broadcast shape {:?}",
                dst.shape(),
                s.as_slice()
            )))
        }
    })?;
    if is_grad_enabled() && (dst.requires_grad() || src.requires_grad()) {
        let old = super::clone(dst)?;
        let new = super::binary_op(kind, &old, src)?;
        return rebase(dst, &new);
    }
    let src = if src.dtype() != dst.dtype() { backend::cast(src, dst.dtype())? } else { ensure_no_overlap(dst, src)? };
    backend::binary_inplace(kind, dst, &src)?;
    dst.storage().bump_version();
    Ok(())
}

/// Writes `new`'s values into `dst` and makes `new`'s node `dst`'s history.
fn rebase(dst: &Tensor, new: &Tensor) -> Result<()> {
    let new = if new.dtype() != dst.dtype() { super::cast(new, dst.dtype())? } else { new.clone() };
    backend::copy_into(&dst.detach(), &new)?;
    dst.storage().bump_version();
    dst.set_grad_fn(new.grad_fn());
    Ok(())
}

/// `dst.copy_(src)`: `src` broadcast and converted into `dst`.
pub fn copy_(dst: &Tensor, src: &Tensor) -> Result<()> {
    check_inplace(dst, "copy_")?;
    check_no_internal_overlap(dst, "copy_")?;
    if is_grad_enabled() && (dst.requires_grad() || src.requires_grad()) {
        let old = super::clone(dst)?;
        let zero = super::scalar_like(&old, 0.0)?;
        let src = super::cast(src, dst.dtype())?;
        let new = super::add(&super::mul(&old, &zero)?, &super::expand(&src, dst.shape())?)?;
        return rebase(dst, &new);
    }
    let src = ensure_no_overlap(dst, src)?;
    backend::copy_into(dst, &src)?;
    dst.storage().bump_version();
    Ok(())
}

/// `dst.fill_(value)` (and `zero_`).
pub fn fill_(dst: &Tensor, value: f64) -> Result<()> {
    let v = super::scalar_like(dst, value)?;
    let v = if v.dtype() != dst.dtype() { backend::cast(&v, dst.dtype())? } else { v };
    copy_(dst, &v)
}

/// `dst += g` for gradient accumulation: no checks, no version semantics beyond a bump.
pub fn add_assign_raw(dst: &Tensor, g: &Tensor) -> Result<()> {
    let g = ensure_no_overlap(dst, g)?;
    let g = if g.dtype() != dst.dtype() { backend::cast(&g, dst.dtype())? } else { g };
    backend::binary_inplace(BinaryKind::Add, dst, &g)?;
    dst.storage().bump_version();
    Ok(())
}
