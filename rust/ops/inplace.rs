//! In-place ops, every one through one mechanism. They bump the storage's version counter (so
//! stale saved tensors are caught at backward), refuse leaves that require grad (outside
//! `no_grad`), and, when autograd tracks the result, compute out of place and rebase the
//! tensor's history onto the new node, so gradients are those of the out-of-place chain.

use crate::autograd::is_grad_enabled;
use crate::backend::{self, BinaryKind, UnaryKind};
use crate::error::{autograd_err, dtype_err, Error, Result, ShapeDisplay};
use crate::kinds::Class;
use crate::tensor::{DType, Tensor};

/// Refuses in-place ops autograd cannot follow.
pub fn check_inplace(a: &Tensor, op: &str) -> Result<()> {
    crate::autograd::forward::check_inplace(a, op)?;
    if !is_grad_enabled() {
        return Ok(());
    }
    let m = a.meta();
    if m.grad_fn.is_none() && m.requires_grad {
        return Err(autograd_err!(
            "{op}: a leaf Variable that requires grad is being used in an in-place operation; \
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

/// Whether autograd follows an in-place op on `dst` reading `operands`.
fn tracked(dst: &Tensor, operands: &[&Tensor]) -> bool {
    is_grad_enabled() && (dst.requires_grad() || operands.iter().any(|t| t.requires_grad()))
}

/// PyTorch's rule: an in-place result must fit the written tensor's dtype without moving up a
/// category (bool < integer < float).
fn check_result_dtype(dst: &Tensor, result: DType, op: &str) -> Result<()> {
    if result.category() > dst.dtype().category() {
        return Err(dtype_err!(
            "{op}: result type {} can't be cast to the desired output type {}; convert the tensor first (.float()) \
             or use the out-of-place op",
            result.name(),
            dst.dtype().name()
        ));
    }
    Ok(())
}

fn check_same_shape(dst: &Tensor, shape: &[usize], op: &str) -> Result<()> {
    if shape != dst.shape() {
        return Err(Error::Shape(format!(
            "{op}: output with shape {} doesn't match the broadcast shape {}",
            ShapeDisplay(dst.shape()),
            ShapeDisplay(shape)
        )));
    }
    Ok(())
}

/// The checks every in-place op makes before writing.
fn check_writable(dst: &Tensor, op: &str) -> Result<()> {
    check_inplace(dst, op)?;
    check_no_internal_overlap(dst, op)
}

/// `dst = f(dst)` in place, for any op written out of place (lerp_, addcmul_, masked_fill_,
/// clamp_ with tensor bounds...). `operands` are the other tensors `f` reads. When autograd
/// tracks the result, `f` reads a copy of `dst` (the values its node may save) and `dst` takes
/// the result's history; otherwise `f` reads `dst` itself and the result is copied in.
pub fn update_(dst: &Tensor, op: &str, operands: &[&Tensor], f: impl FnOnce(&Tensor) -> Result<Tensor>) -> Result<()> {
    check_writable(dst, op)?;
    if tracked(dst, operands) {
        let new = f(&super::clone(dst)?)?;
        check_result_dtype(dst, new.dtype(), op)?;
        check_same_shape(dst, new.shape(), op)?;
        return rebase(dst, &new);
    }
    let new = f(dst)?;
    check_result_dtype(dst, new.dtype(), op)?;
    check_same_shape(dst, new.shape(), op)?;
    write(dst, &new)
}

/// The dtype a unary kind's result has on `dtype`.
fn unary_result(kind: UnaryKind, dtype: DType) -> DType {
    match kind.class() {
        Class::Float if !dtype.is_float() => DType::F32,
        Class::Pred => DType::Bool,
        _ => dtype,
    }
}

/// `dst = f(dst)` for a row of the op table (`exp_`, `relu_`, `clamp_`, ...).
pub fn unary_(kind: UnaryKind, dst: &Tensor) -> Result<()> {
    let op = format!("{}_", kind.name());
    check_writable(dst, &op)?;
    check_result_dtype(dst, unary_result(kind, dst.dtype()), &op)?;
    if tracked(dst, &[]) {
        // A kind that saves its output reads nothing of the old values at backward.
        let old = if kind.saves_output() { dst.clone() } else { super::clone(dst)? };
        let new = super::unary_op(kind, &old)?;
        return rebase(dst, &new);
    }
    if let Some(done) = backend::unary_inplace(kind, dst) {
        done?;
        dst.storage().bump_version();
        return Ok(());
    }
    let new = backend::unary(kind, dst)?;
    write(dst, &new)
}

/// `dst op= src` for a row of the op table (`add_`, `mul_`, `atan2_`, `bitwise_and_`,
/// `eq_`, ...): `src` broadcast to `dst`'s shape; comparisons write 0/1 in `dst`'s dtype.
pub fn binary_(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    let op = format!("{}_", kind.name());
    check_writable(dst, &op)?;
    let promoted = super::promote_types(dst, src);
    let result = match kind.class() {
        Class::Compare | Class::Logic => DType::Bool,
        Class::Float if !promoted.is_float() => DType::F32,
        _ => promoted,
    };
    if !kind.returns_bool() {
        check_result_dtype(dst, result, &op)?;
    }
    check_same_shape(dst, &crate::tensor::broadcast_shapes(dst.shape(), src.shape(), &op)?, &op)?;
    if tracked(dst, &[src]) {
        let old = super::clone(dst)?;
        let new = super::binary_op(kind, &old, src)?;
        if kind.returns_bool() {
            // no gradient flows through a comparison: the old values get zeros, as PyTorch's
            let new = super::cast(&new, dst.dtype())?;
            let all = backend::full(&[], 1.0, DType::Bool, dst.device())?;
            return rebase(dst, &super::where_(&all, &new, &old)?);
        }
        return rebase(dst, &new);
    }
    if kind.returns_bool() || result != dst.dtype() {
        let new = super::binary_op(kind, dst, src)?;
        return write(dst, &new);
    }
    let src = if src.dtype() != dst.dtype() { backend::cast(src, dst.dtype())? } else { ensure_no_overlap(dst, src)? };
    backend::binary_inplace(kind, dst, &src)?;
    dst.storage().bump_version();
    Ok(())
}

/// Copies `new` (converted) into `dst` and bumps its version.
fn write(dst: &Tensor, new: &Tensor) -> Result<()> {
    let new = if new.dtype() != dst.dtype() { backend::cast(new, dst.dtype())? } else { new.clone() };
    backend::copy_into(dst, &new)?;
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

/// `dst.copy_(src)`: `src` broadcast and converted into `dst`; the gradient goes to `src`
/// (the old values get zeros).
pub fn copy_(dst: &Tensor, src: &Tensor) -> Result<()> {
    check_writable(dst, "copy_")?;
    if tracked(dst, &[src]) {
        let old = super::clone(dst)?;
        let src = super::cast(src, dst.dtype())?;
        let all = backend::full(&[], 1.0, DType::Bool, dst.device())?;
        check_same_shape(dst, &crate::tensor::broadcast_shapes(dst.shape(), src.shape(), "copy_")?, "copy_")?;
        return rebase(dst, &super::where_(&all, &src, &old)?);
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
