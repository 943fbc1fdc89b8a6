//! Recording an op application on the tape.

use super::grad_mode::{is_grad_enabled, is_trace_all, TRACE_SMALL};
use super::node::{Edge, GradFn, Node, TensorMeta};
use super::saved::SavedTensor;
use crate::ops::Op;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::sync::Arc;

/// What a forward keeps for its backward.
pub enum Save<'a> {
    Input(&'a Tensor),
    /// The op's own output number `n` (stored without its grad_fn to avoid a cycle).
    Output(usize),
    /// Any other tensor the forward computed (a mask, argmax indices, ...).
    Other(Tensor),
    /// Nothing at this position (the gradient that would use it is not needed).
    Skip,
}

/// Records `op` producing `output` from `inputs`, if grad mode is on and an input requires
/// grad. `save` receives which inputs need a gradient, so an op saves only what the needed
/// gradients read.
#[inline]
pub fn record<'a, F>(op: Op, inputs: &[&'a Tensor], output: &Tensor, save: F)
where
    F: FnOnce(&[bool]) -> SmallVec<[Save<'a>; 2]>,
{
    record_multi(op, inputs, &[output], save)
}

pub fn record_multi<'a, F>(op: Op, inputs: &[&'a Tensor], outputs: &[&Tensor], save: F)
where
    F: FnOnce(&[bool]) -> SmallVec<[Save<'a>; 2]>,
{
    if !is_grad_enabled() || !outputs.iter().any(|o| o.dtype().is_float()) {
        return;
    }
    let mut needs: SmallVec<[bool; 2]> = SmallVec::with_capacity(inputs.len());
    let mut edges: SmallVec<[Edge; 2]> = SmallVec::with_capacity(inputs.len());
    for t in inputs {
        let m = t.meta();
        let edge = match &m.grad_fn {
            Some(gf) => Edge::Node(gf.clone()),
            None if m.requires_grad => Edge::Leaf((*t).clone()),
            None => Edge::None,
        };
        drop(m);
        needs.push(!matches!(edge, Edge::None));
        edges.push(edge);
    }
    if !needs.iter().any(|&n| n) {
        return;
    }
    let saved = save(&needs)
        .into_iter()
        .map(|s| match s {
            Save::Input(t) => Some(SavedTensor::input(t)),
            Save::Output(n) => Some(SavedTensor::output(outputs[n], n as u32)),
            Save::Other(t) => Some(SavedTensor::input(&t)),
            Save::Skip => None,
        })
        .collect();
    let input_meta = inputs.iter().map(|t| TensorMeta::of(t)).collect();
    let output_meta = outputs.iter().map(|t| TensorMeta::of(t)).collect();
    let mut node = Node::new(op, edges, input_meta, output_meta, saved);
    if is_trace_all() || outputs.iter().all(|o| o.numel() <= TRACE_SMALL) {
        node = node.with_values(outputs.iter().map(|o| o.data()).collect());
    }
    let node = Arc::new(node);
    for (nr, out) in outputs.iter().enumerate() {
        if out.dtype().is_float() {
            out.set_grad_fn(Some(GradFn { node: node.clone(), output_nr: nr as u32 }));
        }
    }
}
