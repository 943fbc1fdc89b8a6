//! Post-accumulate-grad hooks (`Tensor.register_post_accumulate_grad_hook`): called with a leaf
//! once its `.grad` holds this backward's whole gradient. Data-parallel training hangs its
//! gradient all-reduce on them, so a hook must see the complete gradient exactly once, also
//! for a leaf reached by several edges (tied weights).
//!
//! The engine delivers a gradient per edge, so completeness needs a count: before a
//! `backward()` that may reach such hooks, one walk over the graph counts, for each hooked
//! leaf, the edges that lead to it; each processed edge counts one down and the hooks run
//! at zero. Edges of nodes that never run (no gradient reached them) are settled at the end.
//! Graphs without hooked leaves skip the walk: a process-wide count of live hooks says when
//! none exist.

use super::node::{Edge, Hook, NodeRef};
use crate::error::{autograd_err, Result};
use crate::tensor::Tensor;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};

/// Hooks registered and not removed, over all tensors (dropping a hooked tensor without
/// `remove()` leaves this high, which only costs the counting walk).
static LIVE: AtomicUsize = AtomicUsize::new(0);

/// Registers `hook` on the leaf `t` under `id`.
pub fn add(t: &Tensor, id: u64, hook: Hook) -> Result<()> {
    if !t.requires_grad() {
        return Err(autograd_err!("cannot register a hook on a tensor that doesn't require gradient"));
    }
    if !t.is_leaf() {
        return Err(autograd_err!("post accumulate grad hooks cannot be registered on non-leaf tensors"));
    }
    t.meta().rare_mut().post_accumulate_hooks.push((id, hook));
    LIVE.fetch_add(1, Ordering::Relaxed);
    Ok(())
}

/// Removes the hook `id` from `t`; false when it was not there (removed before).
pub fn remove(t: &Tensor, id: u64) -> bool {
    let mut meta = t.meta();
    let Some(rare) = meta.rare.as_mut() else { return false };
    let before = rare.post_accumulate_hooks.len();
    rare.post_accumulate_hooks.retain(|(i, _)| *i != id);
    let removed = rare.post_accumulate_hooks.len() != before;
    if removed {
        LIVE.fetch_sub(1, Ordering::Relaxed);
    }
    removed
}

pub fn has_hooks(t: &Tensor) -> bool {
    !t.meta().post_accumulate_hooks().is_empty()
}

struct Pending {
    leaf: Tensor,
    /// Edges to this leaf not yet processed by the engine.
    edges_left: usize,
    /// Whether a gradient was accumulated into `.grad` in this backward.
    accumulated: bool,
}

/// The hooked leaves of one `backward()` and how many edges each still waits for.
#[derive(Default)]
pub struct Tracker {
    leaves: HashMap<usize, Pending>,
}

impl Tracker {
    /// Counts the edges to hooked leaves reachable from `roots` (`None` when no hook exists
    /// anywhere, the common case, which costs one atomic load).
    pub fn for_roots(roots: &[Tensor]) -> Option<Tracker> {
        if LIVE.load(Ordering::Relaxed) == 0 {
            return None;
        }
        let mut tracker = Tracker::default();
        let mut count = |t: &Tensor| {
            if has_hooks(t) {
                tracker
                    .leaves
                    .entry(t.id())
                    .or_insert_with(|| Pending { leaf: t.clone(), edges_left: 0, accumulated: false })
                    .edges_left += 1;
            }
        };
        let mut seen: HashSet<usize> = HashSet::new();
        let mut stack: Vec<NodeRef> = Vec::new();
        for root in roots {
            match root.grad_fn() {
                Some(gf) => {
                    if seen.insert(NodeRef::as_ptr(&gf.node) as usize) {
                        stack.push(gf.node);
                    }
                }
                None => count(root),
            }
        }
        while let Some(node) = stack.pop() {
            for e in node.edges() {
                match e {
                    Edge::Node(gf) => {
                        if seen.insert(NodeRef::as_ptr(&gf.node) as usize) {
                            stack.push(gf.node.clone());
                        }
                    }
                    Edge::Leaf(t) => count(t),
                    Edge::None => {}
                }
            }
        }
        Some(tracker)
    }

    /// One edge to `leaf` was processed; `accumulated` says whether a gradient went into its
    /// `.grad`. Runs the leaf's hooks when this was its last edge.
    pub fn edge_done(&mut self, leaf: &Tensor, accumulated: bool) -> Result<()> {
        let Some(p) = self.leaves.get_mut(&leaf.id()) else { return Ok(()) };
        p.accumulated |= accumulated;
        p.edges_left = p.edges_left.saturating_sub(1);
        if p.edges_left == 0 {
            let p = self.leaves.remove(&leaf.id()).expect("present");
            if p.accumulated {
                run(&p.leaf)?;
            }
        }
        Ok(())
    }

    /// After the last node: leaves whose remaining edges belonged to nodes that never ran.
    pub fn finish(self) -> Result<()> {
        for p in self.leaves.into_values().filter(|p| p.accumulated) {
            run(&p.leaf)?;
        }
        Ok(())
    }
}

fn run(leaf: &Tensor) -> Result<()> {
    let hooks: Vec<Hook> = leaf.meta().post_accumulate_hooks().iter().map(|(_, h)| h.clone()).collect();
    for hook in hooks {
        if hook(leaf)?.is_some() {
            return Err(autograd_err!("Tensor post accumulate grad hooks should return None."));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::autograd::{backward, BackwardOptions};
    use crate::ops;
    use crate::tensor::DType;
    use std::sync::Arc;
    use std::sync::Mutex;

    #[test]
    fn leaf_used_twice_fires_once_with_the_total_and_remove_stops_it() {
        let x = Tensor::scalar(3.0, DType::F64);
        x.set_requires_grad(true).unwrap();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        let hook: Hook = Arc::new(move |leaf: &Tensor| {
            log.lock().unwrap().push(leaf.grad().unwrap().item().unwrap());
            Ok(None)
        });
        add(&x, 7, hook).unwrap();
        let y = ops::add(&ops::mul(&x, &x).unwrap(), &x).unwrap(); // x^2 + x: three edges to x
        let one = Tensor::scalar(1.0, DType::F64);
        backward(&[y], &[one.clone()], None, BackwardOptions::default()).unwrap();
        assert_eq!(*seen.lock().unwrap(), vec![7.0]);
        assert!(remove(&x, 7) && !remove(&x, 7));
        let y = ops::mul(&x, &x).unwrap();
        backward(&[y], &[one], None, BackwardOptions::default()).unwrap();
        assert_eq!(seen.lock().unwrap().len(), 1);
    }

    #[test]
    fn non_leaves_and_constants_are_refused() {
        let c = Tensor::scalar(1.0, DType::F64);
        let noop: Hook = Arc::new(|_: &Tensor| Ok(None));
        assert!(add(&c, 1, noop.clone()).is_err());
        c.set_requires_grad(true).unwrap();
        let y = ops::mul(&c, &c).unwrap();
        assert!(add(&y, 2, noop).unwrap_err().to_string().contains("non-leaf"));
    }
}
