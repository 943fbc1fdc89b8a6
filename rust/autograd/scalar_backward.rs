//! Backward for graphs of one-element CPU tensors, the lecture's scalar circuits. Gradients
//! are plain numbers and the only tensors made are new leaf `.grad`s; the general engine
//! would build a tensor, a kernel launch and a node lookup per gradient.
//!
//! It runs the same formulas (`Op::scalar_vjp`) in the same dtype and the same order as the
//! general engine (nodes by decreasing sequence number, edges in input order, contributions
//! accumulated as they arrive), so `.grad` and the gradients kept for pictures are identical
//! bit for bit. Anything it does not cover (other ops, hooks, broadcasting shapes, mixed
//! dtypes, stale or freed saved tensors, which the general engine reports) is declined while
//! planning, before any side effect.

use super::node::{Edge, Node, TensorMeta};
use crate::backend::{self, scalar_value};
use crate::kinds::Real;
use crate::ops::Arith;
use crate::tensor::{DType, Device, Float, Tensor};
use smallvec::SmallVec;

/// Larger graphs go to the general engine (lookups here are linear in the node count).
const MAX_NODES: usize = 256;

/// `root.backward(seed)` (seed `None`: the implicit 1) without `create_graph` or `inputs`.
/// Returns false, having changed nothing, when the graph is not one this path covers.
pub(super) fn try_backward(root: &Tensor, seed: Option<&Tensor>, retain_graph: bool) -> bool {
    if super::grad_mode::mode().anomaly {
        return false; // the general engine checks each node's gradients
    }
    match root.dtype() {
        DType::F32 => run::<f32>(root, seed, retain_graph).is_some(),
        DType::F64 => run::<f64>(root, seed, retain_graph).is_some(),
        _ => false,
    }
}

struct Planned<'g, T> {
    node: &'g Node,
    saved: SmallVec<[Option<T>; 3]>,
    /// The gradient of the node's output, once one arrived.
    grad: Option<T>,
    /// Per input, the gradient sent (for the node's inspection record).
    sent: [Option<T>; 2],
}

struct LeafGrad<'g, T> {
    leaf: &'g Tensor,
    /// Whether it had a `.grad` before this backward: updated in place, as the general
    /// engine does, starting from its value in `acc`.
    had_grad: bool,
    acc: Option<T>,
    deliveries: u32,
}

fn is_scalar_of<T: Float>(meta: &TensorMeta) -> bool {
    meta.dtype == T::DTYPE && meta.device == Device::Cpu && meta.shape.iter().all(|&d| d == 1)
}

fn plan<T: Real + Arith>(node: &Node) -> Option<Planned<'_, T>> {
    let covered = node.outputs().len() == 1
        && node.edges().len() <= 2
        && node.outputs().iter().chain(node.inputs()).all(is_scalar_of::<T>)
        && !node.has_hooks();
    if !covered {
        return None;
    }
    Some(Planned { node, saved: node.saved_scalars::<T>()?, grad: None, sent: [None, None] })
}

fn run<T: Real + Arith>(root: &Tensor, seed: Option<&Tensor>, retain_graph: bool) -> Option<()> {
    if root.device() != Device::Cpu || root.numel() != 1 {
        return None;
    }
    let seed = match seed {
        None => T::ONE,
        Some(s) if s.device() == Device::Cpu && s.shape() == root.shape() => scalar_value::<T>(s)?,
        Some(_) => return None,
    };
    // Borrowed, not cloned, for the whole pass (nothing here changes the root's metadata).
    let root_meta = root.meta();
    let root_fn = root_meta.grad_fn.as_ref()?;
    if root_fn.output_nr != 0 {
        return None;
    }

    // Plan: every node reachable from the root, and every leaf, checked before anything changes.
    let mut nodes: SmallVec<[Planned<'_, T>; 16]> = SmallVec::new();
    let mut leaves: SmallVec<[LeafGrad<'_, T>; 8]> = SmallVec::new();
    nodes.push(plan(&root_fn.node)?);
    let mut i = 0;
    while i < nodes.len() {
        for edge in nodes[i].node.edges() {
            match edge {
                Edge::Node(gf) => {
                    if gf.output_nr != 0 {
                        return None;
                    }
                    if !nodes.iter().any(|p| std::ptr::eq(p.node, &*gf.node)) {
                        if nodes.len() == MAX_NODES {
                            return None;
                        }
                        nodes.push(plan(&gf.node)?);
                    }
                }
                Edge::Leaf(t) if !leaves.iter().any(|l| l.leaf.same_handle(t)) => leaves.push(plan_leaf(t)?),
                Edge::Leaf(_) | Edge::None => {}
            }
        }
        i += 1;
    }
    nodes.sort_unstable_by_key(|p| std::cmp::Reverse(p.node.seq()));
    if !std::ptr::eq(nodes[0].node, &*root_fn.node) {
        return None;
    }

    // Compute: still no side effects, so a kind without a scalar form can decline here.
    nodes[0].grad = Some(seed);
    for i in 0..nodes.len() {
        let node = nodes[i].node;
        let g = nodes[i].grad?;
        let edges = node.edges();
        let needs = [0, 1].map(|k| edges.get(k).is_some_and(|e| !matches!(e, Edge::None)));
        let sent = node.op().scalar_vjp(g, &nodes[i].saved, needs)?;
        nodes[i].sent = sent;
        for (edge, g) in edges.iter().zip(sent) {
            let Some(g) = g else { continue };
            match edge {
                Edge::Node(gf) => {
                    let to = nodes.iter_mut().find(|p| std::ptr::eq(p.node, &*gf.node))?;
                    to.grad = Some(to.grad.map_or(g, |prev| prev + g));
                }
                Edge::Leaf(t) => {
                    let to = leaves.iter_mut().find(|l| l.leaf.same_handle(t))?;
                    to.acc = Some(to.acc.map_or(g, |prev| prev + g));
                    to.deliveries += 1;
                }
                Edge::None => {}
            }
        }
    }

    // Commit.
    for p in &nodes {
        p.node.kept().set_scalar_grads_seen(p.grad.map(|g| g.to_f64()), p.sent.map(|g| g.map(|g| g.to_f64())), p.node.edges().len());
        if !retain_graph {
            p.node.release_saved();
        }
    }
    for l in leaves {
        let Some(acc) = l.acc.filter(|_| l.deliveries > 0) else { continue };
        if !l.had_grad {
            l.leaf.set_grad(Some(backend::scalar_tensor(acc, l.leaf.shape())));
            continue;
        }
        let meta = l.leaf.meta();
        if let Some(grad) = meta.grad.as_ref() {
            // SAFETY: the GIL serialises engine calls and no reference into `.grad` is live;
            // `.grad` is updated in place, as the general engine's `add_assign_raw` does (one
            // version bump per delivery). Planning checked it is a one-element CPU tensor of T.
            if unsafe { backend::write_scalar(grad, acc) } {
                for _ in 0..l.deliveries {
                    grad.storage().bump_version();
                }
            }
        }
    }
    Some(())
}

/// A leaf that requires grad, reached by an edge: covered when it has no hooks and its current
/// `.grad` (if any) is a plain one-element CPU tensor of `T` the engine would update in place.
fn plan_leaf<T: Float>(leaf: &Tensor) -> Option<LeafGrad<'_, T>> {
    let meta = leaf.meta();
    if !meta.hooks().is_empty() || !meta.post_accumulate_hooks().is_empty() {
        return None;
    }
    let acc = match &meta.grad {
        None => None,
        Some(p) if p.same_handle(leaf) => return None, // `x.grad = x`: left to the general engine
        Some(p) if !p.requires_grad() && p.device() == Device::Cpu && p.shape() == leaf.shape() => Some(scalar_value::<T>(p)?),
        Some(_) => return None,
    };
    Some(LeafGrad { leaf, had_grad: acc.is_some(), acc, deliveries: 0 })
}

#[cfg(test)]
mod tests {
    use super::try_backward;
    use crate::ops;
    use crate::tensor::{DType, Device, Tensor};

    fn leaf(v: f64, dtype: DType) -> Tensor {
        let t = Tensor::scalar(v, dtype);
        t.set_requires_grad(true).unwrap();
        t
    }

    fn number(v: f64, dtype: DType) -> Tensor {
        crate::backend::wrapped_number(v, dtype, Device::Cpu).unwrap()
    }

    fn grad(t: &Tensor) -> f64 {
        t.grad().unwrap().item().unwrap()
    }

    #[test]
    fn the_lecture_circuits_take_the_scalar_path() {
        let (x, y, z) = (leaf(-2.0, DType::F32), leaf(5.0, DType::F32), leaf(-4.0, DType::F32));
        let f = ops::mul(&ops::add(&x, &y).unwrap(), &z).unwrap();
        assert!(try_backward(&f, None, false));
        assert_eq!((grad(&x), grad(&y), grad(&z)), (-4.0, -4.0, 3.0));

        // The sigmoid neuron: 1 / (1 + exp(-(w0 x0 + w1 x1 + w2))).
        let d = DType::F64;
        let (w0, x0, w1, x1, w2) = (leaf(2.0, d), leaf(-1.0, d), leaf(-3.0, d), leaf(-2.0, d), leaf(-3.0, d));
        let dot = ops::add(&ops::add(&ops::mul(&w0, &x0).unwrap(), &ops::mul(&w1, &x1).unwrap()).unwrap(), &w2).unwrap();
        let e = ops::exp(&ops::neg(&dot).unwrap()).unwrap();
        let f = ops::div(&number(1.0, d), &ops::add(&number(1.0, d), &e).unwrap()).unwrap();
        assert!(try_backward(&f, None, false));
        let expected = [(&w0, -0.19661193), (&x0, 0.39322387), (&w1, -0.39322387), (&x1, -0.58983580), (&w2, 0.19661193)];
        for (t, want) in expected {
            assert!((grad(t) - want).abs() < 1e-8, "{} vs {want}", grad(t));
        }
    }

    #[test]
    fn what_it_does_not_cover_is_declined_with_nothing_changed() {
        // A vector leaf (a reduction to one element).
        let v = Tensor::from_vec(vec![1.0f32, 2.0], &[2]).unwrap();
        v.set_requires_grad(true).unwrap();
        let s = ops::sum(&ops::mul(&v, &v).unwrap(), None, false).unwrap();
        assert!(!try_backward(&s, None, false));
        assert!(v.grad().is_none());

        // Saved values already freed by a first backward: the engine reports it, not this path.
        let x = leaf(3.0, DType::F32);
        let y = ops::mul(&x, &x).unwrap();
        assert!(try_backward(&y, None, false));
        assert!(!try_backward(&y, None, false));
        assert_eq!(grad(&x), 6.0);

        // A stale saved value.
        let a = ops::mul(&x, &number(1.0, DType::F32)).unwrap();
        let b = ops::mul(&a, &a).unwrap();
        ops::fill_(&a.detach(), 5.0).unwrap();
        assert!(!try_backward(&b, None, false));

        // A seed of another shape or dtype.
        let c = ops::mul(&x, &x).unwrap();
        assert!(!try_backward(&c, Some(&Tensor::from_vec(vec![1.0f32], &[1]).unwrap()), false));
        assert!(!try_backward(&c, Some(&Tensor::scalar(1.0, DType::F64)), false));
        assert_eq!(grad(&x), 6.0, "declined attempts changed nothing");
    }
}
