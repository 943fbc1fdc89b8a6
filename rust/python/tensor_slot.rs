//! The engine tensor behind one Python `Tensor` object, replaceable while the object stays
//! the same: `param.data = other` with another device, dtype or shape, and so `Module.to()`,
//! keep every Python reference to a parameter (an optimizer's, a user's list) pointing at it.
//!
//! Reads are a load and a branch. A replaced tensor is kept until the object dies, never
//! freed sooner: a `&Tensor` read before the replacement may still be in use further up the
//! stack (an engine call that borrowed it and then ran a Python hook that did the
//! replacing). Replacements are rare (a device or dtype move), so what is kept is small;
//! same-shape `data` assignments copy values instead and keep nothing.

use crate::tensor::Tensor;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Two words: the common case (never replaced) costs a Python tensor nothing more.
pub struct TensorSlot {
    original: Tensor,
    /// Null until the first replacement, then the newest one, which links to the one before.
    /// The low bit (boxes are aligned) is a flag of the object's own: see `leaf_owner`.
    current: AtomicUsize,
}

struct Replacement {
    tensor: Tensor,
    previous: usize,
}

const FLAG: usize = 1;

// SAFETY: the replacements are owned boxes of `Tensor` (Send and Sync), only read shared
// (`deref`) and freed in `drop`, which has exclusive access.
unsafe impl Send for TensorSlot {}
unsafe impl Sync for TensorSlot {}

impl TensorSlot {
    #[inline]
    pub fn new(t: Tensor) -> TensorSlot {
        TensorSlot { original: t, current: AtomicUsize::new(0) }
    }

    /// From now on this slot holds `t`. Callers hold the GIL, so replacements never race.
    pub fn replace(&self, t: Tensor) {
        let old = self.current.load(Ordering::Acquire);
        let raw = Box::into_raw(Box::new(Replacement { tensor: t, previous: old & !FLAG })) as usize;
        debug_assert_eq!(raw & FLAG, 0);
        self.current.store(raw | (old & FLAG), Ordering::Release);
    }

    #[inline]
    pub fn flag(&self) -> bool {
        self.current.load(Ordering::Relaxed) & FLAG != 0
    }

    pub fn set_flag(&self, on: bool) {
        let old = self.current.load(Ordering::Relaxed);
        self.current.store(if on { old | FLAG } else { old & !FLAG }, Ordering::Release);
    }
}

impl Deref for TensorSlot {
    type Target = Tensor;

    #[inline]
    fn deref(&self) -> &Tensor {
        let current = (self.current.load(Ordering::Acquire) & !FLAG) as *const Replacement;
        if current.is_null() {
            &self.original
        } else {
            // SAFETY: `current` came from `Box::into_raw` in `replace` and is freed only in
            // `drop`, after every borrow of `self` has ended.
            unsafe { &(*current).tensor }
        }
    }
}

impl Drop for TensorSlot {
    fn drop(&mut self) {
        let mut next = *self.current.get_mut() & !FLAG;
        while next != 0 {
            // SAFETY: each link came from `Box::into_raw` and is freed once, here.
            let replacement = unsafe { Box::from_raw(next as *mut Replacement) };
            next = replacement.previous;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_borrow_taken_before_a_replacement_stays_valid() {
        let slot = TensorSlot::new(Tensor::scalar(1.0, crate::DType::F32));
        let before: &Tensor = &slot;
        slot.replace(Tensor::scalar(2.0, crate::DType::F64));
        slot.replace(Tensor::scalar(3.0, crate::DType::F32));
        assert_eq!(before.dtype(), crate::DType::F32);
        assert_eq!(slot.dtype(), crate::DType::F32);
        assert!(!slot.same_handle(before));
        slot.set_flag(true);
        slot.replace(Tensor::scalar(4.0, crate::DType::F64));
        assert!(slot.flag() && slot.dtype() == crate::DType::F64);
        slot.set_flag(false);
        assert!(!slot.flag() && slot.dtype() == crate::DType::F64);
    }
}
