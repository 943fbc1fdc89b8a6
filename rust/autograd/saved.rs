//! Tensors a forward saved for its backward, with the version they had when saved.

use super::grad_mode::is_grad_enabled;
use super::node::{GradFn, NodeRef};
use crate::error::{autograd_err, Result, ShapeDisplay};
use crate::tensor::Tensor;

pub struct SavedTensor {
    data: Tensor,
    version: u64,
    /// Saved outputs are stored without their grad_fn (which is the saving node itself: a
    /// reference cycle); `unpack` reattaches it when a higher-order graph needs it.
    output_nr: Option<u32>,
}

impl SavedTensor {
    pub fn input(t: &Tensor) -> SavedTensor {
        SavedTensor { version: t.version(), data: t.clone(), output_nr: None }
    }

    pub fn output(t: &Tensor, output_nr: u32) -> SavedTensor {
        SavedTensor { version: t.version(), data: t.detach(), output_nr: Some(output_nr) }
    }

    /// Whether no in-place op changed the tensor since it was saved.
    pub(crate) fn is_current(&self) -> bool {
        self.data.version() == self.version
    }

    pub(crate) fn peek(&self) -> &Tensor {
        &self.data
    }

    pub(crate) fn into_tensor(self) -> Tensor {
        self.data
    }

    pub fn unpack(&self, node: &NodeRef) -> Result<Tensor> {
        let now = self.data.version();
        if now != self.version {
            return Err(autograd_err!(
                "one of the tensors needed for gradient computation has been modified by an in-place operation: \
                 the {} tensor of shape {} saved by {} is at version {now}; expected version {} instead. \
                 Use an out-of-place op (x = x + 1 instead of x += 1), or .clone() the tensor before modifying it",
                self.data.dtype().name(),
                ShapeDisplay(self.data.shape()),
                node.name(),
                self.version
            ));
        }
        match self.output_nr {
            Some(nr) if is_grad_enabled() => {
                let t = self.data.detach();
                t.set_grad_fn(Some(GradFn { node: node.clone(), output_nr: nr }));
                Ok(t)
            }
            _ => Ok(self.data.clone()),
        }
    }
}
