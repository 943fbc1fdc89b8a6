//! Tensors a forward saved for its backward, with the version they had when saved; or, under
//! saved-tensor hooks (`autograd.graph.saved_tensors_hooks`), whatever the pack hook made of
//! them, turned back into a tensor by the unpack hook when backward reads it.

use super::grad_mode::{self, is_grad_enabled};
use super::node::{GradFn, NodeRef};
use crate::error::{autograd_err, Result, ShapeDisplay};
use crate::tensor::Tensor;
use std::cell::RefCell;
use std::sync::Arc;

/// What a pack hook returned, kept until backward unpacks it.
pub trait PackedTensor: Send + Sync {
    fn unpack(&self) -> Result<Tensor>;
}

/// A pair of saved-tensor hooks (`pack(tensor) -> anything`, `unpack(anything) -> tensor`).
pub trait SavedTensorHooks: Send + Sync {
    fn pack(&self, t: &Tensor) -> Result<Box<dyn PackedTensor>>;
}

thread_local! {
    static HOOKS: RefCell<Vec<Arc<dyn SavedTensorHooks>>> = const { RefCell::new(Vec::new()) };
}

/// Installs `hooks` for the saves of this thread until the matching `pop_saved_tensor_hooks`
/// (the innermost pair wins, as with nested PyTorch contexts).
pub fn push_saved_tensor_hooks(hooks: Arc<dyn SavedTensorHooks>) {
    HOOKS.with(|h| h.borrow_mut().push(hooks));
    grad_mode::update(|m| m.saved_hooks = true);
}

/// Removes the innermost pair; false when none is installed.
pub fn pop_saved_tensor_hooks() -> bool {
    let popped = HOOKS.with(|h| {
        let mut h = h.borrow_mut();
        let popped = h.pop();
        let empty = h.is_empty();
        (popped, empty)
    });
    if popped.1 {
        grad_mode::update(|m| m.saved_hooks = false);
    }
    popped.0.is_some()
}

fn current_hooks() -> Option<Arc<dyn SavedTensorHooks>> {
    HOOKS.with(|h| h.borrow().last().cloned())
}

enum Held {
    Tensor(Tensor),
    /// What the pack hook made of the tensor, or its error (backward reports it). Boxed: hooks
    /// are rare, and every node stores its saves inline, so the common one stays two words.
    Hooked(Box<std::result::Result<Box<dyn PackedTensor>, String>>),
}

pub struct SavedTensor {
    data: Held,
    version: u64,
    /// Saved outputs are stored without their grad_fn (which is the saving node itself: a
    /// reference cycle); `unpack` reattaches it when a higher-order graph needs it.
    output_nr: Option<u32>,
}

impl SavedTensor {
    /// Saves `t` (through the installed hooks when `hooked`).
    pub fn input(t: &Tensor, hooked: bool) -> SavedTensor {
        SavedTensor { version: t.version(), data: Self::hold(t.clone(), hooked), output_nr: None }
    }

    pub fn output(t: &Tensor, output_nr: u32, hooked: bool) -> SavedTensor {
        SavedTensor { version: t.version(), data: Self::hold(t.detach(), hooked), output_nr: Some(output_nr) }
    }

    #[inline]
    fn hold(t: Tensor, hooked: bool) -> Held {
        if hooked {
            Self::hold_hooked(t)
        } else {
            Held::Tensor(t)
        }
    }

    #[cold]
    #[inline(never)]
    fn hold_hooked(t: Tensor) -> Held {
        let Some(hooks) = current_hooks() else { return Held::Tensor(t) };
        // The hooks do not apply to what the pack hook itself computes.
        let previous = grad_mode::update(|m| m.saved_hooks = false);
        let packed = hooks.pack(&t);
        grad_mode::update(|m| m.saved_hooks = previous.saved_hooks);
        Held::Hooked(Box::new(packed.map_err(|e| format!("the pack hook of saved_tensors_hooks raised: {e}"))))
    }

    /// Whether no in-place op changed the tensor since it was saved (a packed tensor is the
    /// hooks' business: always current).
    pub(crate) fn is_current(&self) -> bool {
        match &self.data {
            Held::Tensor(t) => t.version() == self.version,
            _ => true,
        }
    }

    /// The tensor as saved, when it is held as a tensor (not packed by hooks).
    pub(crate) fn peek(&self) -> Option<&Tensor> {
        match &self.data {
            Held::Tensor(t) => Some(t),
            _ => None,
        }
    }

    pub(crate) fn into_tensor(self) -> Option<Tensor> {
        match self.data {
            Held::Tensor(t) => Some(t),
            _ => None,
        }
    }

    /// The saved tensor for inspection: as saved, or unpacked by the hooks (no version check).
    pub(crate) fn inspect(&self) -> Result<Tensor> {
        match &self.data {
            Held::Tensor(t) => Ok(t.clone()),
            Held::Hooked(packed) => match &**packed {
                Ok(p) => p.unpack(),
                Err(msg) => Err(autograd_err!("{msg}")),
            },
        }
    }

    pub fn unpack(&self, node: &NodeRef) -> Result<Tensor> {
        let data = match &self.data {
            Held::Tensor(t) => {
                let now = t.version();
                if now != self.version {
                    return Err(autograd_err!(
                        "one of the tensors needed for gradient computation has been modified by an in-place operation: \
                         the {} tensor of shape {} saved by {} is at version {now}; expected version {} instead. \
                         Use an out-of-place op (x = x + 1 instead of x += 1), or .clone() the tensor before modifying it",
                        t.dtype().name(),
                        ShapeDisplay(t.shape()),
                        node.name(),
                        self.version
                    ));
                }
                t.clone()
            }
            Held::Hooked(packed) => match &**packed {
                Ok(p) => p.unpack()?,
                Err(msg) => return Err(autograd_err!("{msg}")),
            },
        };
        match self.output_nr {
            Some(nr) if is_grad_enabled() => {
                let t = data.detach();
                t.set_grad_fn(Some(GradFn { node: node.clone(), output_nr: nr }));
                Ok(t)
            }
            _ => Ok(data),
        }
    }
}
