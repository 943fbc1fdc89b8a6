//! Interior mutability for autograd metadata (a tensor's grad, grad_fn and hooks; a node's
//! saved tensors and kept gradients) without atomic instructions.
//!
//! The engine is entered only with Python's GIL held, which already serialises every access
//! to this metadata (the same contract as tensor memory, see `tensor::storage`). A lock would
//! add two atomic read-modify-writes per access, about 10 ns each on the machines we measure,
//! and recording and differentiating one scalar op touches metadata a dozen times.
//!
//! Re-entrancy contract: code must not hold a borrow across anything that can run Python
//! code. That includes calling a hook, and also *dropping* a value that may own Python
//! objects (a gradient or graph node keeps a custom Function's context alive, a hook keeps
//! its callable): their `__del__` may read this very cell. So a setter replaces the old value
//! and drops it after the borrow ends (`replace`). Should a re-entrant access still happen,
//! `borrow_mut` panics with a message naming the contract, which PyO3 turns into an
//! exception; it never corrupts the metadata.

use std::cell::{RefCell, RefMut};

pub struct EngineCell<T>(RefCell<T>);

// SAFETY: accesses are serialised by the GIL (module docs); no reference escapes a borrow.
unsafe impl<T: Send> Sync for EngineCell<T> {}

impl<T> EngineCell<T> {
    pub const fn new(value: T) -> EngineCell<T> {
        EngineCell(RefCell::new(value))
    }

    #[inline]
    pub fn borrow_mut(&self) -> RefMut<'_, T> {
        match self.0.try_borrow_mut() {
            Ok(guard) => guard,
            Err(_) => reentrant_access(),
        }
    }

    /// Puts `value` in and hands the old value back, to be dropped by the caller after the
    /// borrow has ended (module docs).
    #[inline]
    pub fn replace(&self, value: T) -> T {
        std::mem::replace(&mut *self.borrow_mut(), value)
    }

    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

#[cold]
#[inline(never)]
fn reentrant_access() -> ! {
    panic!(
        "backprop: autograd metadata was accessed re-entrantly (from Python code run while the engine \
         was updating it); this is a bug in backprop, please report it"
    )
}

impl<T: Default> Default for EngineCell<T> {
    fn default() -> EngineCell<T> {
        EngineCell::new(T::default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replace_returns_the_old_value_after_the_borrow() {
        let cell = EngineCell::new(vec![1]);
        let old = cell.replace(vec![2]);
        // The cell is free again while the old value is still alive.
        cell.borrow_mut().push(3);
        assert_eq!((old, cell.borrow_mut().clone()), (vec![1], vec![2, 3]));
    }
}
