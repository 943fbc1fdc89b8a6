//! Interior mutability for autograd metadata (a tensor's grad, grad_fn and hooks; a node's
//! saved tensors and kept gradients) without atomic instructions.
//!
//! The engine is entered only with Python's GIL held, which already serialises every access
//! to this metadata (the same contract as tensor memory, see `tensor::storage`). A lock would
//! add two atomic read-modify-writes per access, about 10 ns each on the machines we measure,
//! and recording and differentiating one scalar op touches metadata a dozen times. The borrow
//! flag of `RefCell` still turns re-entrant use into a panic (a Python exception), never into
//! silent corruption; code must not hold a borrow across a call back into Python.

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
        self.0.borrow_mut()
    }

    #[inline]
    pub fn get_mut(&mut self) -> &mut T {
        self.0.get_mut()
    }
}

impl<T: Default> Default for EngineCell<T> {
    fn default() -> EngineCell<T> {
        EngineCell::new(T::default())
    }
}
