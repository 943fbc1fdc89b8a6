//! Reverse-mode autodiff: the tape (nodes with sequence numbers), saved tensors, grad mode
//! and the backward engine. Nothing here knows about devices or Python.

pub mod anomaly;
mod engine;
pub mod forward;
mod grad_mode;
mod inspection;
mod names;
mod node;
pub mod post_accumulate;
mod record;
mod saved;
pub use saved::{pop_saved_tensor_hooks, push_saved_tensor_hooks, PackedTensor, SavedTensorHooks};
mod scalar_backward;

pub use engine::{backward, backward_from_one, grad, BackwardOptions};
pub use grad_mode::{is_grad_enabled, is_trace_all, set_grad_enabled, set_trace_all, GradModeGuard};
pub use node::{CustomOp, Edge, GradFn, Hook, NodeRef, PostHook, PreHook, TensorMeta, VjpCtx};
pub use record::{record, record_custom, record_multi, Save};
