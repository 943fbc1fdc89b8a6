//! Recording an op application on the tape.

use super::forward;
use super::grad_mode;
use super::inspection::Kept;
use super::node::{CustomOp, Edge, GradFn, Node, TensorMeta};
use super::saved::SavedTensor;
use crate::ops::Op;
use crate::tensor::{DType, Device, Tensor};
use smallvec::SmallVec;

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
    let mode = grad_mode::mode();
    let tangents = if mode.forward_ad { forward::input_tangents(inputs) } else { None };
    let records = mode.grad_enabled && outputs.iter().any(|o| o.dtype().is_float());
    if !records && tangents.is_none() {
        return;
    }
    let (edges, needs) = edges_of(inputs);
    let records = records && needs.iter().any(|&n| n);
    // `save` is called in this one place: a closure called from two (this path and the
    // forward-AD one) was no longer inlined, and each recorded op paid for the call.
    let wanted = match &tangents {
        None if !records => return,
        None => needs,
        Some(t) => wanted_with_tangents(&needs, t, records),
    };
    let saves = save(&wanted);
    if let Some(tangents) = tangents {
        return record_with_tangents(op, inputs, outputs, edges, saves, records, mode, tangents);
    }
    // A loop, not an iterator chain: `collect` into a SmallVec was not inlined and cost as
    // much again as the rest of the conversion.
    let mut saved = SmallVec::new();
    for s in saves {
        saved.push(saved_tensor(s, outputs, mode));
    }
    attach(op, inputs, outputs, edges, saved, mode);
}

/// What the forward-AD path saves: what the node needs (when one is recorded) and what the
/// jvp of each input with a tangent reads.
#[cold]
fn wanted_with_tangents(needs: &[bool], tangents: &std::result::Result<SmallVec<[Option<Tensor>; 2]>, String>, records: bool) -> SmallVec<[bool; 2]> {
    match tangents {
        Ok(t) => needs.iter().zip(t).map(|(&n, t)| (n && records) || t.is_some()).collect(),
        Err(_) => needs.into(),
    }
}

/// `record_multi` while an input carries a forward-AD tangent: the save list serves both the
/// node (when one is recorded) and the jvp.
#[cold]
#[allow(clippy::too_many_arguments)]
fn record_with_tangents(
    op: Op,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    edges: SmallVec<[Edge; 2]>,
    saves: SmallVec<[Save<'_>; 2]>,
    records: bool,
    mode: grad_mode::Mode,
    tangents: std::result::Result<SmallVec<[Option<Tensor>; 2]>, String>,
) {
    let values: SmallVec<[Option<Tensor>; 2]> = saves
        .iter()
        .map(|s| match s {
            Save::Input(t) => Some((*t).clone()),
            Save::Output(n) => Some(outputs[*n].detach()),
            Save::Other(t) => Some(t.clone()),
            Save::Skip => None,
        })
        .collect();
    forward::propagate(&op, inputs, outputs, &values, tangents);
    if records {
        let saved = saves.into_iter().map(|s| saved_tensor(s, outputs, mode)).collect();
        attach(op, inputs, outputs, edges, saved, mode);
    }
}

/// The edges of a node reading `inputs`, and which of them need a gradient.
// The helpers of `record_multi` are inlined into it: as calls, their SmallVec arguments and
// results were moved through memory on every recorded op (the scalar circuit's forward went
// from 0.53 to 0.64 us when they were split out).
#[inline(always)]
fn edges_of(inputs: &[&Tensor]) -> (SmallVec<[Edge; 2]>, SmallVec<[bool; 2]>) {
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
    (edges, needs)
}

#[inline(always)]
fn saved_tensor(s: Save<'_>, outputs: &[&Tensor], mode: grad_mode::Mode) -> Option<SavedTensor> {
    let hooked = mode.saved_hooks;
    match s {
        Save::Input(t) => Some(SavedTensor::input(t, hooked)),
        Save::Output(n) => Some(SavedTensor::output(outputs[n], n as u32, hooked)),
        Save::Other(t) => Some(SavedTensor::input(&t, hooked)),
        Save::Skip => None,
    }
}

/// Makes the node and hands it to the outputs as their grad_fn.
#[inline(always)]
fn attach(op: Op, inputs: &[&Tensor], outputs: &[&Tensor], edges: SmallVec<[Edge; 2]>, saved: SmallVec<[Option<SavedTensor>; 2]>, mode: grad_mode::Mode) {
    let mut input_meta = SmallVec::with_capacity(inputs.len());
    for t in inputs {
        input_meta.push(TensorMeta::of(t));
    }
    let mut output_meta = SmallVec::with_capacity(outputs.len());
    for t in outputs {
        output_meta.push(TensorMeta::of(t));
    }
    let kept = Kept::keep(inputs, outputs, &edges, mode.trace_all);
    let node = Node::new_ref(op, edges, input_meta, output_meta, saved, kept, mode.anomaly);
    match outputs {
        // One output takes the node itself (an Arc clone and drop are two atomic operations).
        [out] => out.set_grad_fn(Some(GradFn { node, output_nr: 0 })),
        _ => {
            for (nr, out) in outputs.iter().enumerate() {
                if out.dtype().is_float() {
                    out.set_grad_fn(Some(GradFn { node: node.clone(), output_nr: nr as u32 }));
                }
            }
        }
    }
}

/// Where gradient for `t` goes: its node, its own `.grad` (a leaf that requires grad), or nowhere.
fn edge_of(t: &Tensor) -> Edge {
    match t.grad_fn() {
        Some(gf) => Edge::Node(gf),
        None if t.requires_grad() => Edge::Leaf(t.clone()),
        None => Edge::None,
    }
}

/// Records a custom op (a Python `autograd.Function`) whose forward turned `inputs` into
/// `outputs`, one entry per forward output: `None` for an output that is not a tensor (it keeps
/// its slot, so output numbers match forward positions). The outputs flagged in
/// `differentiable` get the node as their grad_fn; nothing is recorded when grad mode is off,
/// no input requires grad or no output is differentiable. The op saves what it needs itself.
/// Returns whether a node was recorded.
pub fn record_custom(op: Box<dyn CustomOp>, inputs: &[&Tensor], outputs: &[Option<&Tensor>], differentiable: &[bool]) -> bool {
    debug_assert_eq!(outputs.len(), differentiable.len());
    let mode = grad_mode::mode();
    let chosen = |nr: usize| differentiable[nr] && outputs[nr].is_some_and(|t| t.dtype().is_float());
    if !mode.grad_enabled || !inputs.iter().any(|t| t.requires_grad()) || !(0..outputs.len()).any(chosen) {
        return false;
    }
    let edges: SmallVec<[Edge; 2]> = inputs.iter().map(|t| edge_of(t)).collect();
    let input_meta = inputs.iter().map(|t| TensorMeta::of(t)).collect();
    // A non-tensor output's slot: never read (backward hands such outputs None).
    let placeholder = || TensorMeta { shape: Default::default(), dtype: DType::F32, device: Device::Cpu };
    let output_meta = outputs.iter().map(|o| o.map_or_else(placeholder, TensorMeta::of)).collect();
    let tensors: Option<SmallVec<[&Tensor; 1]>> = outputs.iter().copied().collect();
    let kept = match tensors {
        Some(outs) => Kept::keep(inputs, &outs, &edges, mode.trace_all),
        None => Kept::Nothing,
    };
    let node = Node::new_ref(Op::Custom(op), edges, input_meta, output_meta, SmallVec::new(), kept, mode.anomaly);
    for (nr, out) in outputs.iter().enumerate() {
        if let (Some(out), true) = (out, chosen(nr)) {
            out.set_grad_fn(Some(GradFn { node: node.clone(), output_nr: nr as u32 }));
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::super::{backward, set_trace_all, BackwardOptions};
    use crate::ops;
    use crate::tensor::{DType, Tensor};

    fn leaf(v: f64) -> Tensor {
        let t = Tensor::scalar(v, DType::F64);
        t.set_requires_grad(true).unwrap();
        t
    }

    /// A custom op whose backward sends 3 * (gradient of output 2) to its one input.
    struct Triple(std::sync::atomic::AtomicBool);

    impl super::CustomOp for Triple {
        fn name(&self) -> String {
            "Triple".into()
        }
        fn backward(&self, grads: &[Option<Tensor>], needs: &[bool]) -> crate::Result<Vec<Option<Tensor>>> {
            assert_eq!((grads.len(), needs), (3, &[true][..]), "one gradient slot per forward output");
            assert!(grads[0].is_none() && grads[1].is_none(), "nothing flowed into outputs 0 and 1");
            let g = grads[2].as_ref().unwrap();
            Ok(vec![Some(ops::mul(g, &Tensor::scalar(3.0, DType::F64))?)])
        }
        fn release_saved(&self) {
            self.0.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        fn is_released(&self) -> bool {
            self.0.load(std::sync::atomic::Ordering::Relaxed)
        }
    }

    #[test]
    fn custom_ops_attach_one_node_to_the_outputs_they_choose() {
        let x = leaf(2.0);
        // Forward outputs: a non-differentiable tensor, a non-tensor, and the result.
        let (mask, y) = (Tensor::scalar(1.0, DType::F64), Tensor::scalar(6.0, DType::F64));
        let op = Box::new(Triple(Default::default()));
        assert!(super::record_custom(op, &[&x], &[Some(&mask), None, Some(&y)], &[false, false, true]));
        assert!(mask.grad_fn().is_none());
        let gf = y.grad_fn().unwrap();
        assert_eq!((gf.output_nr, gf.node.name().as_str(), gf.node.outputs().len()), (2, "TripleBackward", 3));
        backward(&[y], &[Tensor::scalar(1.0, DType::F64)], None, BackwardOptions::default()).unwrap();
        assert_eq!(x.grad().unwrap().item().unwrap(), 3.0);

        let constant = Tensor::scalar(2.0, DType::F64);
        let z = Tensor::scalar(6.0, DType::F64);
        let op = Box::new(Triple(Default::default()));
        assert!(!super::record_custom(op, &[&constant], &[Some(&z)], &[true]), "no input requires grad");
        assert!(z.grad_fn().is_none());
    }

    #[test]
    fn small_nodes_keep_values_constants_and_both_sides_of_each_gradient() {
        let (x, c) = (leaf(3.0), Tensor::scalar(-2.0, DType::F64));
        let y = ops::mul(&x, &c).unwrap();
        let node = y.grad_fn().unwrap().node;
        assert_eq!(node.values().unwrap()[0].item().unwrap(), -6.0);
        let constants = node.constants().unwrap();
        assert!(constants[0].is_none(), "an input that requires grad is not a constant");
        assert!(constants[1].as_ref().unwrap().same_handle(&c), "the constant is kept as the tensor itself");
        assert!(node.grads_seen().is_none() && node.input_grads_seen().is_none(), "no backward has run");

        backward(&[y.clone()], &[Tensor::scalar(10.0, DType::F64)], None, BackwardOptions::default()).unwrap();
        let upstream = node.grads_seen().unwrap();
        assert_eq!(upstream[0].as_ref().unwrap().item().unwrap(), 10.0);
        let downstream = node.input_grads_seen().unwrap();
        assert_eq!(downstream[0].as_ref().unwrap().item().unwrap(), -20.0, "mul swaps: 10 * c");
        assert!(downstream[1].is_none(), "no gradient flows into a constant");
    }

    #[test]
    fn downstream_gradients_are_unbroadcast_and_not_aliased_by_accumulation() {
        // x feeds two consumers ("copy adds"); each node keeps the contribution it sent.
        let x = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
        x.set_requires_grad(true).unwrap();
        let b = leaf(5.0);
        let s = ops::add(&x, &b).unwrap(); // b broadcasts to [2]
        let y = ops::sum(&ops::mul(&s, &x).unwrap(), None, false).unwrap();
        backward(&[y], &[Tensor::scalar(1.0, DType::F64)], None, BackwardOptions::default()).unwrap();
        let add_node = s.grad_fn().unwrap().node;
        let sent = add_node.input_grads_seen().unwrap();
        assert_eq!(sent[0].as_ref().unwrap().to_vec::<f64>().unwrap(), vec![1.0, 2.0]);
        assert_eq!(sent[1].as_ref().unwrap().shape(), &[] as &[usize], "summed down to b's shape");
        assert_eq!(sent[1].as_ref().unwrap().item().unwrap(), 3.0);
        // x.grad = (x + b) + x from the mul, plus 1s... from the add: d/dx sum((x+b)*x) = 2x + b
        assert_eq!(x.grad().unwrap().to_vec::<f64>().unwrap(), vec![7.0, 9.0]);
    }

    #[test]
    fn a_small_node_does_not_keep_the_large_gradient_it_sends_unless_traced() {
        let x = Tensor::from_vec(vec![0.5f32; 100], &[100]).unwrap();
        x.set_requires_grad(true).unwrap();
        let loss = ops::sum(&x, None, false).unwrap(); // a scalar: its node keeps values
        let node = loss.grad_fn().unwrap().node;
        backward(&[loss.clone()], &[Tensor::scalar(1.0, DType::F32)], None, BackwardOptions::default()).unwrap();
        assert!(node.values().is_some());
        assert!(node.input_grads_seen().unwrap().iter().all(|g| g.is_none()));

        set_trace_all(true);
        let traced = ops::sum(&x, None, false);
        set_trace_all(false);
        let traced = traced.unwrap();
        backward(&[traced.clone()], &[Tensor::scalar(1.0, DType::F32)], None, BackwardOptions::default()).unwrap();
        let sent = traced.grad_fn().unwrap().node.input_grads_seen().unwrap();
        assert!(sent.iter().any(|g| g.as_ref().is_some_and(|g| g.numel() == 100)), "traced: kept after tracing ended");
    }

    #[test]
    fn large_outputs_are_kept_only_while_tracing() {
        let x = Tensor::from_vec(vec![0.5f32; 100], &[100]).unwrap();
        x.set_requires_grad(true).unwrap();
        let y = ops::exp(&x).unwrap();
        assert!(y.grad_fn().unwrap().node.values().is_none());
        set_trace_all(true);
        let z = ops::exp(&x);
        set_trace_all(false);
        let node = z.unwrap().grad_fn().unwrap().node;
        assert_eq!(node.values().unwrap()[0].numel(), 100);
    }
}
