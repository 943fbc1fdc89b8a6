//! Reverse-mode autodiff: the tape (nodes with sequence numbers), saved tensors, grad mode
//! and the backward engine. Nothing here knows about devices or Python.

mod engine;
mod grad_mode;
mod inspection;
mod node;
pub mod post_accumulate;
mod record;
mod saved;
mod scalar_backward;

pub use engine::{backward, backward_from_one, grad, BackwardOptions};
pub use grad_mode::{is_grad_enabled, is_trace_all, set_grad_enabled, set_trace_all, GradModeGuard};
pub use node::{CustomOp, Edge, GradFn, Hook, NodeRef, TensorMeta, VjpCtx};
pub use record::{record, record_custom, record_multi, Save};
