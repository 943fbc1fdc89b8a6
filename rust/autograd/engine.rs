//! The backward pass. Nodes are visited by decreasing sequence number: a node's consumers were
//! created after it, so by the time it is popped every gradient for its outputs has arrived.
//! No recursion, no per-call DFS for `backward()`, so million-node chains work.

use super::grad_mode::GradModeGuard;
use super::inspection::KeptGrad;
use super::node::{Edge, GradFn, Node, NodeRef, TensorMeta};
use super::post_accumulate;
use super::scalar_backward;
use crate::error::{autograd_err, Error, Result, ShapeDisplay};
use crate::ops;
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::collections::hash_map::Entry;
use std::cell::RefCell;
use std::collections::{BinaryHeap, HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};

#[derive(Clone, Copy, Debug, Default)]
pub struct BackwardOptions {
    pub retain_graph: bool,
    pub create_graph: bool,
}

/// Hashes node addresses (already unique) with one multiply.
#[derive(Default)]
struct PtrHasher(u64);
impl Hasher for PtrHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, _: &[u8]) {
        unreachable!("PtrHasher only hashes usize")
    }
    fn write_usize(&mut self, n: usize) {
        self.0 = (n as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    }
}
type PtrMap<V> = HashMap<usize, V, BuildHasherDefault<PtrHasher>>;
type PtrSet = HashSet<usize, BuildHasherDefault<PtrHasher>>;

fn key(node: &NodeRef) -> usize {
    NodeRef::as_ptr(node) as usize
}

/// Where leaf gradients go.
enum Sink<'a> {
    /// `backward()`: accumulate into `.grad` of every leaf reached (or only of `inputs`).
    Accumulate { only: Option<&'a [Tensor]> },
    /// `autograd.grad()`: return the gradients of `inputs`, touch no `.grad`.
    Capture { inputs: &'a [Tensor], results: Vec<Option<Tensor>> },
}

/// `loss.backward(gradient)` for several roots at once; `inputs` restricts accumulation.
pub fn backward(roots: &[Tensor], root_grads: &[Tensor], inputs: Option<&[Tensor]>, opts: BackwardOptions) -> Result<()> {
    check_backward_inputs(inputs)?;
    if let ([root], [seed], None, false) = (roots, root_grads, inputs, opts.create_graph) {
        if scalar_backward::try_backward(root, Some(seed), opts.retain_graph) {
            return Ok(());
        }
    }
    let mut sink = Sink::Accumulate { only: inputs };
    run(roots, root_grads, &mut sink, opts)
}

/// `loss.backward()` of a one-element `root`: the implicit gradient 1, made as a tensor only
/// when the general engine runs.
pub fn backward_from_one(root: &Tensor, inputs: Option<&[Tensor]>, opts: BackwardOptions) -> Result<()> {
    check_backward_inputs(inputs)?;
    if inputs.is_none() && !opts.create_graph && scalar_backward::try_backward(root, None, opts.retain_graph) {
        return Ok(());
    }
    let one = ops::full(root.shape(), 1.0, root.dtype(), root.device())?;
    let mut sink = Sink::Accumulate { only: inputs };
    run(std::slice::from_ref(root), &[one], &mut sink, opts)
}

/// `backward(inputs=...)` must name at least one tensor, each of which requires grad.
fn check_backward_inputs(inputs: Option<&[Tensor]>) -> Result<()> {
    let Some(inputs) = inputs else { return Ok(()) };
    if inputs.is_empty() {
        return Err(autograd_err!("backward: the `inputs` argument cannot be empty; omit it to accumulate into every leaf"));
    }
    if let Some(i) = inputs.iter().position(|t| !t.requires_grad()) {
        return Err(autograd_err!("backward: input {i} of `inputs` does not require grad; call .requires_grad_() on it first"));
    }
    Ok(())
}

/// `autograd.grad(outputs, inputs, grad_outputs)`.
pub fn grad(
    outputs: &[Tensor],
    grad_outputs: &[Tensor],
    inputs: &[Tensor],
    opts: BackwardOptions,
    allow_unused: bool,
) -> Result<Vec<Option<Tensor>>> {
    for (i, t) in inputs.iter().enumerate() {
        if !t.requires_grad() {
            return Err(autograd_err!("grad: input {i} does not require grad; call .requires_grad_() on it first"));
        }
    }
    let mut sink = Sink::Capture { inputs, results: vec![None; inputs.len()] };
    run(outputs, grad_outputs, &mut sink, opts)?;
    let Sink::Capture { results, .. } = sink else { unreachable!() };
    if !allow_unused {
        if let Some(i) = results.iter().position(|r| r.is_none()) {
            return Err(autograd_err!(
                "grad: input {i} was not used to compute the outputs (its gradient is undefined); \
                 pass allow_unused=True if this is intended"
            ));
        }
    }
    Ok(results)
}

struct Pending {
    node: NodeRef,
    grads: SmallVec<[Option<Tensor>; 1]>,
}

/// The engine's working sets, kept per thread between calls so a small backward allocates
/// nothing for them. A re-entrant backward (from a hook) gets fresh ones.
#[derive(Default)]
struct Scratch {
    pending: PtrMap<Pending>,
    heap: BinaryHeap<(u64, usize)>,
}

thread_local! {
    static SCRATCH: RefCell<Option<Scratch>> = RefCell::new(Some(Scratch::default()));
}

fn run(roots: &[Tensor], root_grads: &[Tensor], sink: &mut Sink, opts: BackwardOptions) -> Result<()> {
    let mut scratch = SCRATCH.with(|s| s.borrow_mut().take()).unwrap_or_default();
    let result = run_with(roots, root_grads, sink, opts, &mut scratch);
    scratch.pending.clear();
    scratch.heap.clear();
    if scratch.pending.capacity() <= 1 << 12 {
        SCRATCH.with(|s| *s.borrow_mut() = Some(scratch));
    }
    result
}

fn run_with(roots: &[Tensor], root_grads: &[Tensor], sink: &mut Sink, opts: BackwardOptions, scratch: &mut Scratch) -> Result<()> {
    let anomaly = super::grad_mode::mode().anomaly;
    let _mode = GradModeGuard::new(opts.create_graph);
    let Scratch { pending, heap } = scratch;
    let mut post_hooks = match sink {
        Sink::Accumulate { .. } => post_accumulate::Tracker::for_roots(roots),
        Sink::Capture { .. } => None,
    };

    for (i, (root, g)) in roots.iter().zip(root_grads).enumerate() {
        check_root_grad(i, root, g)?;
        // Like PyTorch, a gradient of another dtype is converted to the output's dtype.
        let converted;
        let g = if g.dtype() != root.dtype() {
            converted = ops::cast(g, root.dtype())?;
            &converted
        } else {
            g
        };
        match root.grad_fn() {
            Some(gf) => add_pending(pending, heap, &gf, g.clone(), opts)?,
            None if root.requires_grad() => {
                let accumulated = deliver_to_leaf(root, g.clone(), sink, opts)?;
                if let Some(p) = &mut post_hooks {
                    p.edge_done(root, accumulated)?;
                }
            }
            None => {
                return Err(autograd_err!(
                    "element {i} of tensors does not require grad and does not have a grad_fn: \
                     nothing in its computation requires grad (call .requires_grad_() on the inputs you want gradients for)"
                ))
            }
        }
    }

    // With specific targets (autograd.grad, backward(inputs=...)), skip nodes that lead to none.
    let needed = match sink {
        Sink::Capture { inputs, .. } => Some(nodes_leading_to(pending, inputs)),
        Sink::Accumulate { only: Some(inputs) } => Some(nodes_leading_to(pending, inputs)),
        Sink::Accumulate { only: None } => None,
    };

    while let Some((_, k)) = heap.pop() {
        let Pending { node, mut grads } = pending.remove(&k).expect("heap and pending agree");
        if node.has_hooks() {
            run_node_hooks(&node, &mut grads)?;
            run_pre_hooks(&node, &mut grads)?;
        }
        if let Sink::Capture { inputs, results } = sink {
            for (i, t) in inputs.iter().enumerate() {
                if let Some(gf) = t.grad_fn() {
                    if NodeRef::ptr_eq(&gf.node, &node) {
                        if let Some(g) = &grads[gf.output_nr as usize] {
                            results[i] = Some(g.clone());
                        }
                    }
                }
            }
        }
        if let Some(needed) = &needed {
            if !needed.contains(&k) {
                continue;
            }
        }
        if node.kept().is_kept() {
            node.kept().set_grads_seen(grads.iter().map(|g| g.as_ref().map(KeptGrad::keep)).collect());
        }
        let post_hooks_here = node.post_hooks();
        let grads_seen: Option<Vec<Option<Tensor>>> = (!post_hooks_here.is_empty()).then(|| grads.to_vec());
        let present: SmallVec<[bool; 1]> = grads.iter().map(|g| g.is_some()).collect();
        let full: SmallVec<[Tensor; 1]> = grads
            .into_iter()
            .zip(node.outputs())
            .map(|(g, meta)| g.map_or_else(|| ops::zeros_like_meta(meta), Ok))
            .collect::<Result<_>>()?;
        let needs: SmallVec<[bool; 2]> = node
            .edges()
            .iter()
            .map(|e| match (e, &needed) {
                (Edge::None, _) => false,
                (Edge::Node(gf), Some(needed)) => needed.contains(&key(&gf.node)),
                (Edge::Leaf(t), Some(_)) => sink.targets(t),
                _ => true,
            })
            .collect();
        let input_grads = Node::apply(&node, &full, &present, &needs, opts.retain_graph)?;
        if input_grads.len() != node.edges().len() {
            return Err(autograd_err!(
                "{} returned {} gradients, but the forward had {} inputs; return one gradient (or None) per input",
                node.name(),
                input_grads.len(),
                node.edges().len()
            ));
        }
        let mut fitted: SmallVec<[Option<Tensor>; 2]> = SmallVec::with_capacity(input_grads.len());
        for (i, g) in input_grads.into_iter().enumerate() {
            fitted.push(match g {
                Some(g) if needs[i] => Some(fit_to_input(&node, i, &node.inputs()[i], g)?),
                _ => None,
            });
        }
        if let Some(seen) = &grads_seen {
            for hook in &post_hooks_here {
                if let Some(replacement) = hook(&fitted, seen)? {
                    fitted = checked_post_hook_result(&node, &fitted, replacement)?;
                }
            }
        }
        if anomaly {
            super::anomaly::check_grads(|| node.name(), node.forward_trace(), &fitted)?;
        }
        let mut sent: Option<SmallVec<[Option<KeptGrad>; 2]>> = node.kept().is_kept().then(SmallVec::new);
        for (edge, g) in node.edges().iter().zip(fitted) {
            if let Some(sent) = &mut sent {
                sent.push(g.as_ref().filter(|g| node.kept().keeps_input_grad(g)).map(KeptGrad::keep));
            }
            match (edge, g) {
                (Edge::Node(gf), Some(g)) => add_pending(pending, heap, gf, g, opts)?,
                (Edge::Leaf(t), g) => {
                    let accumulated = match g {
                        Some(g) => deliver_to_leaf(t, g, sink, opts)?,
                        None => false,
                    };
                    if let Some(p) = &mut post_hooks {
                        p.edge_done(t, accumulated)?;
                    }
                }
                _ => {}
            }
        }
        if let Some(sent) = sent {
            node.kept().set_input_grads_seen(sent);
        }
    }
    match post_hooks {
        Some(p) => p.finish(),
        None => Ok(()),
    }
}

impl Sink<'_> {
    fn targets(&self, leaf: &Tensor) -> bool {
        match self {
            Sink::Accumulate { only: None } => true,
            Sink::Accumulate { only: Some(inputs) } | Sink::Capture { inputs, .. } => {
                inputs.iter().any(|t| t.same_handle(leaf))
            }
        }
    }
}

fn check_root_grad(i: usize, root: &Tensor, g: &Tensor) -> Result<()> {
    if root.shape() != g.shape() {
        return Err(Error::Shape(format!(
            "backward: the gradient for output {i} has shape {} but the output has shape {}; pass a gradient of the output's shape",
            ShapeDisplay(g.shape()),
            ShapeDisplay(root.shape())
        )));
    }
    if root.device() != g.device() {
        return Err(Error::Device(format!(
            "backward: the gradient for output {i} is on {} but the output is on {}",
            g.device().name(),
            root.device().name()
        )));
    }
    Ok(())
}

fn add_pending(
    pending: &mut PtrMap<Pending>,
    heap: &mut BinaryHeap<(u64, usize)>,
    gf: &GradFn,
    g: Tensor,
    opts: BackwardOptions,
) -> Result<()> {
    let k = key(&gf.node);
    let slot = gf.output_nr as usize;
    match pending.entry(k) {
        Entry::Occupied(mut e) => {
            let grads = &mut e.get_mut().grads;
            grads[slot] = Some(match grads[slot].take() {
                Some(prev) => accumulate(prev, &g, opts)?,
                None => g,
            });
        }
        Entry::Vacant(e) => {
            let mut grads: SmallVec<[Option<Tensor>; 1]> = SmallVec::from_elem(None, gf.node.outputs().len());
            grads[slot] = Some(g);
            e.insert(Pending { node: gf.node.clone(), grads });
            heap.push((gf.node.seq(), k));
        }
    }
    Ok(())
}

/// `prev + g`, in place when nothing else can see `prev` ("the copy gate adds").
fn accumulate(prev: Tensor, g: &Tensor, opts: BackwardOptions) -> Result<Tensor> {
    if !opts.create_graph && prev.is_exclusive() && prev.is_contiguous() && prev.shape() == g.shape() && prev.dtype() == g.dtype() {
        ops::add_assign_raw(&prev, g)?;
        Ok(prev)
    } else {
        ops::add(&prev, g)
    }
}

/// Un-broadcasts a gradient to its input's shape (the one place this happens) and casts it
/// to the input's dtype.
fn fit_to_input(node: &Node, i: usize, meta: &TensorMeta, g: Tensor) -> Result<Tensor> {
    let g = if g.shape() == meta.shape.as_slice() {
        g
    } else {
        ops::sum_to(&g, &meta.shape).map_err(|_| {
            Error::Shape(format!(
                "{} returned an invalid gradient at index {i}: got shape {} but expected shape compatible with {}",
                node.name(),
                ShapeDisplay(g.shape()),
                ShapeDisplay(&meta.shape)
            ))
        })?
    };
    if g.device() != meta.device {
        return Err(Error::Device(format!(
            "{} returned a gradient at index {i} on {} for an input on {}",
            node.name(),
            g.device().name(),
            meta.device.name()
        )));
    }
    if g.dtype() != meta.dtype {
        return ops::cast(&g, meta.dtype);
    }
    Ok(g)
}

/// A hook may replace a gradient only with one of the same shape, dtype and device (PyTorch's rule).
fn checked_hook_result(old: &Tensor, new: Tensor) -> Result<Tensor> {
    if new.shape() != old.shape() || new.dtype() != old.dtype() || new.device() != old.device() {
        return Err(crate::error::autograd_err!(
            "a gradient hook changed the gradient from {} {} on {} to {} {} on {}; a hook must return None or a \
             tensor of the same shape, dtype and device",
            old.dtype().name(),
            crate::error::ShapeDisplay(old.shape()),
            old.device().name(),
            new.dtype().name(),
            crate::error::ShapeDisplay(new.shape()),
            new.device().name()
        ));
    }
    Ok(new)
}

/// The node's pre-hooks, in registration order, each seeing the previous one's result.
fn run_pre_hooks(node: &NodeRef, grads: &mut SmallVec<[Option<Tensor>; 1]>) -> Result<()> {
    for hook in node.pre_hooks() {
        if let Some(replacement) = hook(&grads[..])? {
            if replacement.len() != grads.len() {
                return Err(autograd_err!(
                    "a pre-hook of {} returned {} gradients, but the node has {} outputs; return one per output (or None)",
                    node.name(),
                    replacement.len(),
                    grads.len()
                ));
            }
            for (slot, new) in grads.iter_mut().zip(replacement) {
                *slot = match (slot.take(), new) {
                    (Some(old), Some(new)) => Some(checked_hook_result(&old, new)?),
                    (_, new) => new,
                };
            }
        }
    }
    Ok(())
}

/// A post-hook's replacement input gradients: one per input, each fitting its input.
fn checked_post_hook_result(node: &Node, old: &[Option<Tensor>], new: Vec<Option<Tensor>>) -> Result<SmallVec<[Option<Tensor>; 2]>> {
    if new.len() != old.len() {
        return Err(autograd_err!(
            "a hook of {} returned {} gradients, but the node has {} inputs; return one per input (or None)",
            node.name(),
            new.len(),
            old.len()
        ));
    }
    new.into_iter()
        .zip(old)
        .enumerate()
        .map(|(i, (n, o))| match (n, o) {
            (Some(n), Some(o)) => checked_hook_result(o, n).map(Some),
            (Some(n), None) => fit_to_input(node, i, &node.inputs()[i], n).map(Some),
            (None, _) => Ok(None),
        })
        .collect()
}

fn run_node_hooks(node: &NodeRef, grads: &mut SmallVec<[Option<Tensor>; 1]>) -> Result<()> {
    for (nr, g) in grads.iter_mut().enumerate() {
        let Some(mut current) = g.take() else { continue };
        for hook in node.hooks_for(nr as u32) {
            if let Some(replacement) = hook(&current)? {
                current = checked_hook_result(&current, replacement)?;
            }
        }
        *g = Some(current);
    }
    Ok(())
}

/// Hands `g` to the leaf's hooks and then to the sink; true when it went into `.grad`.
fn deliver_to_leaf(leaf: &Tensor, g: Tensor, sink: &mut Sink, opts: BackwardOptions) -> Result<bool> {
    let hooks: Vec<_> = leaf.meta().hooks().iter().map(|(_, h)| h.clone()).collect();
    let mut g = g;
    for hook in hooks {
        if let Some(replacement) = hook(&g)? {
            g = checked_hook_result(&g, replacement)?;
        }
    }
    match sink {
        Sink::Accumulate { only } => {
            if let Some(only) = only {
                if !only.iter().any(|t| t.same_handle(leaf)) {
                    return Ok(false);
                }
            }
            let prev = leaf.meta().grad.take();
            let new = match prev {
                None if opts.create_graph => g,
                None => ops::owned_gradient(g)?,
                Some(prev)
                    if !opts.create_graph
                        && !prev.requires_grad()
                        && prev.shape() == g.shape()
                        && !ops::has_internal_overlap(&prev) =>
                {
                    ops::add_assign_raw(&prev, &g)?;
                    prev
                }
                Some(prev) => ops::add(&prev, &g)?,
            };
            leaf.set_grad(Some(new));
            Ok(true)
        }
        Sink::Capture { inputs, results } => {
            for (i, t) in inputs.iter().enumerate() {
                if t.same_handle(leaf) {
                    results[i] = Some(match results[i].take() {
                        Some(prev) => ops::add(&prev, &g)?,
                        None => g.clone(),
                    });
                }
            }
            Ok(false)
        }
    }
}

/// Nodes from which one of `targets` can be reached (iterative DFS from the pending roots).
fn nodes_leading_to(pending: &PtrMap<Pending>, targets: &[Tensor]) -> PtrSet {
    let target_nodes: PtrSet = targets.iter().filter_map(|t| t.grad_fn().map(|g| key(&g.node))).collect();
    let is_target_leaf = |t: &Tensor| targets.iter().any(|x| x.same_handle(t));
    let mut needed = PtrSet::default();
    let mut visited = PtrSet::default();
    // (node, expanded): a node is decided after all its children are.
    let mut stack: Vec<(NodeRef, bool)> = pending.values().map(|p| (p.node.clone(), false)).collect();
    while let Some((node, expanded)) = stack.pop() {
        let k = key(&node);
        if expanded {
            let leads = target_nodes.contains(&k)
                || node.edges().iter().any(|e| match e {
                    Edge::Node(gf) => needed.contains(&key(&gf.node)),
                    Edge::Leaf(t) => is_target_leaf(t),
                    Edge::None => false,
                });
            if leads {
                needed.insert(k);
            }
            continue;
        }
        if !visited.insert(k) {
            continue;
        }
        stack.push((node.clone(), true));
        for e in node.edges() {
            if let Edge::Node(gf) = e {
                if !visited.contains(&key(&gf.node)) {
                    stack.push((gf.node.clone(), false));
                }
            }
        }
    }
    needed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ops;

    fn leaf(v: f64) -> Tensor {
        let t = Tensor::scalar(v, crate::tensor::DType::F64);
        t.set_requires_grad(true).unwrap();
        t
    }

    fn one() -> Tensor {
        Tensor::scalar(1.0, crate::tensor::DType::F64)
    }

    #[test]
    fn lecture_circuit_x_plus_y_times_z() {
        let (x, y, z) = (leaf(-2.0), leaf(5.0), leaf(-4.0));
        let q = ops::add(&x, &y).unwrap();
        let f = ops::mul(&q, &z).unwrap();
        assert_eq!(f.item().unwrap(), -12.0);
        backward(&[f], &[one()], None, BackwardOptions::default()).unwrap();
        let g = |t: &Tensor| t.grad().unwrap().item().unwrap();
        assert_eq!((g(&x), g(&y), g(&z)), (-4.0, -4.0, 3.0));
    }

    #[test]
    fn backward_twice_without_retain_graph_fails_clearly() {
        let x = leaf(3.0);
        let y = ops::mul(&x, &x).unwrap();
        backward(&[y.clone()], &[one()], None, BackwardOptions::default()).unwrap();
        let err = backward(&[y], &[one()], None, BackwardOptions::default()).unwrap_err().to_string();
        assert!(err.contains("second time") && err.contains("retain_graph=True"), "{err}");
    }

    #[test]
    fn copy_gate_adds_gradients() {
        let x = leaf(3.0);
        let y = ops::add(&ops::mul(&x, &x).unwrap(), &x).unwrap(); // x^2 + x
        backward(&[y], &[one()], None, BackwardOptions::default()).unwrap();
        assert_eq!(x.grad().unwrap().item().unwrap(), 7.0);
    }

    #[test]
    fn second_derivative_through_create_graph() {
        let x = leaf(2.0);
        let y = ops::mul(&ops::mul(&x, &x).unwrap(), &x).unwrap(); // x^3
        let opts = BackwardOptions { retain_graph: true, create_graph: true };
        let g = grad(&[y], &[one()], &[x.clone()], opts, false).unwrap().pop().unwrap().unwrap();
        assert_eq!(g.item().unwrap(), 12.0);
        let gg = grad(&[g], &[one()], &[x.clone()], BackwardOptions::default(), false).unwrap().pop().unwrap().unwrap();
        assert_eq!(gg.item().unwrap(), 12.0); // 6x
    }

    #[test]
    fn deep_chain_backward_and_drop_do_not_recurse() {
        let x = leaf(1.0);
        let c = Tensor::scalar(1.0, crate::tensor::DType::F64);
        let mut y = x.clone();
        for _ in 0..200_000 {
            y = ops::mul(&y, &c).unwrap();
        }
        backward(&[y.clone()], &[one()], None, BackwardOptions::default()).unwrap();
        assert_eq!(x.grad().unwrap().item().unwrap(), 1.0);
        drop(y); // drops 200k nodes iteratively
    }

    #[test]
    fn stale_saved_tensor_is_detected() {
        let x = leaf(2.0);
        let a = ops::mul(&x, &Tensor::scalar(1.0, crate::tensor::DType::F64)).unwrap();
        let y = ops::mul(&a, &a).unwrap();
        ops::fill_(&a.detach(), 5.0).unwrap();
        let err = backward(&[y], &[one()], None, BackwardOptions::default()).unwrap_err().to_string();
        assert!(err.contains("in-place") && err.contains("version 1"), "{err}");
    }
}
