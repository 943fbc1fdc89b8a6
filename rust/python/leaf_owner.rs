//! Which Python object wraps a leaf tensor. Graph walks (`AccumulateGrad.variable`, and the
//! tools built on it that label parameters by `id()`) must hand back the user's own object,
//! as PyTorch does, not a fresh wrapper of the same engine tensor.
//!
//! A leaf remembers its object from the moment it is made to require grad from Python
//! (`requires_grad_()`, `requires_grad = True`, the factories' `requires_grad=True`,
//! `Parameter(...)`) in its `OwnerSlot`: the object's address, uncounted (no cycle through
//! the tensor's own wrapper, nothing to allocate on the scalar path). The object carries a
//! flag in its `TensorSlot` saying it is the one named there (at most one per tensor), and
//! its `Drop` clears the slot before its memory is freed.

use super::tensor::PyTensor;
use crate::tensor::Tensor;
use pyo3::prelude::*;
use std::sync::atomic::Ordering;

/// `requires_grad_()` on `obj`'s tensor; a leaf that now requires grad remembers `obj`.
pub fn set_requires_grad(obj: &Bound<'_, PyTensor>, requires_grad: bool) -> PyResult<()> {
    let t = &obj.get().t;
    t.set_requires_grad(requires_grad)?;
    if requires_grad && t.is_leaf() && !obj.get().t.flag() {
        if let Some(previous) = owner_of(obj.py(), t) {
            previous.get().t.set_flag(false);
        }
        t.owner().store(obj.as_ptr() as usize, Ordering::Relaxed);
        obj.get().t.set_flag(true);
    }
    Ok(())
}

/// `obj`, the first object of a new leaf that requires grad, as its owner: a factory's
/// result, which no other object can name yet (the scalar circuits make many).
pub fn name_new_owner(obj: &Bound<'_, PyTensor>) {
    let t = &obj.get().t;
    t.owner().store(obj.as_ptr() as usize, Ordering::Relaxed);
    t.set_flag(true);
}

/// The object that wraps `leaf` while it lives; else a new wrapper.
pub fn object_of<'py>(py: Python<'py>, leaf: &Tensor) -> PyResult<Bound<'py, PyAny>> {
    match owner_of(py, leaf) {
        Some(obj) => Ok(obj.into_any()),
        None => Ok(Bound::new(py, PyTensor::wrap(leaf.clone()))?.into_any()),
    }
}

fn owner_of<'py>(py: Python<'py>, t: &Tensor) -> Option<Bound<'py, PyTensor>> {
    let object = t.owner().load(Ordering::Relaxed) as *mut pyo3::ffi::PyObject;
    // SAFETY: a nonzero slot names a live object, or one being deallocated whose `Drop` has
    // not run yet (it clears the slot before the memory is freed); such a one has a zero
    // count (its Python parts go first) and is not handed out.
    if object.is_null() || unsafe { pyo3::ffi::Py_REFCNT(object) } <= 0 {
        return None;
    }
    let obj = unsafe { Bound::from_borrowed_ptr(py, object) };
    obj.cast_into::<PyTensor>().ok()
}

/// Called from `PyTensor`'s `Drop`: the object named by its tensor's slot clears it.
#[inline]
pub fn forget(dying: &PyTensor) {
    if dying.t.flag() {
        dying.t.owner().store(0, Ordering::Relaxed);
    }
}

/// `slot`'s object is about to hold `next` instead of its current tensor: if that object is
/// the one its tensor names, `next` names it from now on. Another wrapper of the same tensor
/// must not carry the name away (the named object would then clear the wrong slot).
pub fn hand_over(slot: &super::tensor_slot::TensorSlot, next: &Tensor) {
    if slot.flag() {
        next.owner().store(slot.owner().swap(0, Ordering::Relaxed), Ordering::Relaxed);
    }
}
