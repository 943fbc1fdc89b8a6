//! A node of the tape: one recorded op application, its input edges, saved tensors and a
//! sequence number. Creation order is a topological order, which the engine relies on.

use super::inspection::Kept;
use super::saved::SavedTensor;
use crate::backend;
use crate::error::{autograd_err, Result};
use crate::ops::Op;
use crate::tensor::{DType, Device, Dims, Float, Tensor};
use crate::engine_cell::EngineCell;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A gradient hook: may return a replacement gradient.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

/// A node pre-hook: sees the gradients of the node's outputs (None: none flowed) before the
/// node runs; may return replacements, one per output.
pub type PreHook = Arc<dyn Fn(&[Option<Tensor>]) -> Result<Option<Vec<Option<Tensor>>>> + Send + Sync>;

/// A node post-hook: sees the gradients the node computed for its inputs and the output
/// gradients it got; may return replacement input gradients, one per input.
pub type PostHook = Arc<dyn Fn(&[Option<Tensor>], &[Option<Tensor>]) -> Result<Option<Vec<Option<Tensor>>>> + Send + Sync>;

/// The hooks on a node: on its non-leaf outputs' gradients ((hook id, output number, hook)),
/// and on the node itself (`grad_fn.register_prehook` / `register_hook`).
#[derive(Default)]
struct NodeHooks {
    outputs: Vec<(u64, u32, Hook)>,
    pre: Vec<(u64, PreHook)>,
    post: Vec<(u64, PostHook)>,
}

impl NodeHooks {
    fn is_empty(&self) -> bool {
        self.outputs.is_empty() && self.pre.is_empty() && self.post.is_empty()
    }
}

/// What few nodes use, allocated on first use: every recorded op makes a node and moves it
/// into its allocation, so the fields all nodes carry are kept to what all nodes need.
#[derive(Default)]
struct Rare {
    hooks: EngineCell<NodeHooks>,
    /// The forward traceback, captured while anomaly mode was on.
    forward_trace: Option<Box<str>>,
    /// What the Python layer attaches to this node once (its `metadata` dict).
    extra: std::sync::OnceLock<Box<dyn std::any::Any + Send + Sync>>,
}

/// A backward node implemented outside the engine (a Python `autograd.Function`).
pub trait CustomOp: Send + Sync {
    fn name(&self) -> String;
    /// Gradients for each input, given one gradient per output (None: no gradient flowed).
    fn backward(&self, grads: &[Option<Tensor>], needs_input_grad: &[bool]) -> Result<Vec<Option<Tensor>>>;
    /// Drops what the forward saved (after a backward without `retain_graph`).
    fn release_saved(&self);
    /// Whether `release_saved` has run.
    fn is_released(&self) -> bool;
}

/// A shared handle to a node (no weak references: its last release is one atomic operation).
pub type NodeRef = triomphe::Arc<Node>;

/// Where a tensor's gradient goes: the node that produced it (and which of its outputs).
#[derive(Clone)]
pub struct GradFn {
    pub node: NodeRef,
    pub output_nr: u32,
}

/// An input of a node, as the backward pass sees it.
pub enum Edge {
    /// The input does not require grad: nothing flows there.
    None,
    /// The input was produced by another node.
    Node(GradFn),
    /// The input is a leaf that requires grad: its gradient accumulates into `.grad`.
    Leaf(Tensor),
}

/// Shape, dtype and device of a node's input or output, kept after the tensor itself is gone.
#[derive(Clone, Debug)]
pub struct TensorMeta {
    pub shape: Dims,
    pub dtype: DType,
    pub device: Device,
}

impl TensorMeta {
    pub fn of(t: &Tensor) -> TensorMeta {
        TensorMeta { shape: t.dims(), dtype: t.dtype(), device: t.device() }
    }
}

enum SavedState {
    Live(SmallVec<[Option<SavedTensor>; 2]>),
    Freed,
}

pub struct Node {
    seq: u64,
    op: Op,
    edges: SmallVec<[Edge; 2]>,
    inputs: SmallVec<[TensorMeta; 2]>,
    outputs: SmallVec<[TensorMeta; 1]>,
    saved: EngineCell<SavedState>,
    /// What graph pictures and gradient tables read.
    kept: Kept,
    rare: std::sync::OnceLock<Box<Rare>>,
}

static NEXT_SEQ: AtomicU64 = AtomicU64::new(0);

/// What a vjp formula sees.
pub struct VjpCtx<'a> {
    /// One gradient per output (missing ones are zeros when at least one flowed).
    pub grads: &'a [Tensor],
    pub saved: &'a [Option<Tensor>],
    pub needs: &'a [bool],
    pub inputs: &'a [TensorMeta],
    pub outputs: &'a [TensorMeta],
}

impl VjpCtx<'_> {
    #[inline]
    pub fn grad(&self) -> &Tensor {
        &self.grads[0]
    }
    /// The `i`-th saved tensor; its absence is an engine bug, reported rather than panicking.
    pub fn saved(&self, i: usize) -> Result<&Tensor> {
        self.saved
            .get(i)
            .and_then(|s| s.as_ref())
            .ok_or_else(|| autograd_err!("internal error: saved tensor {i} is missing in a backward formula"))
    }
}

pub type Grads = SmallVec<[Option<Tensor>; 2]>;

impl Node {
    /// A new node, in its Arc. The node is written into the allocation in place: built on the
    /// stack and then moved, its few hundred bytes were copied once more for every recorded
    /// op. With `anomaly` (anomaly mode) it keeps the forward op's traceback.
    #[inline]
    pub fn new_ref(
        op: Op,
        edges: SmallVec<[Edge; 2]>,
        inputs: SmallVec<[TensorMeta; 2]>,
        outputs: SmallVec<[TensorMeta; 1]>,
        saved: SmallVec<[Option<SavedTensor>; 2]>,
        kept: Kept,
        anomaly: bool,
    ) -> NodeRef {
        let forward_trace = if anomaly { super::anomaly::capture() } else { None };
        let mut slot = triomphe::UniqueArc::<Node>::new_uninit();
        let node = slot.write(Node {
            seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
            op,
            edges,
            inputs,
            outputs,
            saved: EngineCell::new(SavedState::Live(saved)),
            kept,
            rare: std::sync::OnceLock::new(),
        });
        if let Some(trace) = forward_trace {
            node.rare_mut().forward_trace = Some(trace.into_boxed_str());
        }
        // SAFETY: `write` initialised the node.
        unsafe { triomphe::UniqueArc::assume_init(slot) }.shareable()
    }

    fn rare(&self) -> &Rare {
        self.rare.get_or_init(Default::default)
    }

    fn rare_mut(&mut self) -> &mut Rare {
        self.rare.get_or_init(Default::default);
        self.rare.get_mut().expect("initialised on the line above")
    }

    /// The forward traceback of the op that made this node (anomaly mode only).
    pub fn forward_trace(&self) -> Option<&str> {
        self.rare.get()?.forward_trace.as_deref()
    }

    /// What the Python layer keeps on this node, made by `init` on first use.
    pub fn extra<T: std::any::Any + Send + Sync>(&self, init: impl FnOnce() -> T) -> Option<&T> {
        self.rare().extra.get_or_init(|| Box::new(init())).downcast_ref::<T>()
    }

    pub fn add_pre_hook(&self, id: u64, hook: PreHook) {
        self.rare().hooks.borrow_mut().pre.push((id, hook));
    }

    pub fn add_post_hook(&self, id: u64, hook: PostHook) {
        self.rare().hooks.borrow_mut().post.push((id, hook));
    }

    /// What `f` reads from the hooks (`f` of no hooks when none was ever added).
    fn read_hooks<R>(&self, f: impl FnOnce(&NodeHooks) -> R) -> R {
        match self.rare.get() {
            Some(rare) => f(&rare.hooks.borrow_mut()),
            None => f(&NodeHooks::default()),
        }
    }

    pub(crate) fn pre_hooks(&self) -> Vec<PreHook> {
        self.read_hooks(|h| h.pre.iter().map(|(_, f)| f.clone()).collect())
    }

    pub(crate) fn post_hooks(&self) -> Vec<PostHook> {
        self.read_hooks(|h| h.post.iter().map(|(_, f)| f.clone()).collect())
    }

    /// The kept forward values of the outputs, if any.
    pub fn values(&self) -> Option<Vec<Tensor>> {
        self.kept.values(&self.outputs)
    }

    /// Per input, the kept value of an input that does not require grad (if values are kept).
    pub fn constants(&self) -> Option<Vec<Option<Tensor>>> {
        self.kept.constants()
    }

    /// The output (upstream) gradients seen by the last backward, if values are kept.
    pub fn grads_seen(&self) -> Option<Vec<Option<Tensor>>> {
        self.kept.grads_seen(&self.outputs)
    }

    /// The input (downstream) gradients sent by the last backward, if values are kept.
    pub fn input_grads_seen(&self) -> Option<Vec<Option<Tensor>>> {
        self.kept.input_grads_seen(&self.inputs)
    }

    /// What the node keeps for inspection (the engine records gradients into it).
    pub(crate) fn kept(&self) -> &Kept {
        &self.kept
    }

    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn op(&self) -> &Op {
        &self.op
    }
    /// The node's class name as PyTorch prints it: `MulBackward0`, `AddmmBackward0`, or
    /// `<Function>Backward` for a custom Function.
    pub fn name(&self) -> String {
        super::names::torch_name(&self.op, &self.inputs)
    }
    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }
    pub fn inputs(&self) -> &[TensorMeta] {
        &self.inputs
    }
    pub fn outputs(&self) -> &[TensorMeta] {
        &self.outputs
    }

    /// The saved tensors as the forward stored them (no version check; unpacked by the
    /// saved-tensor hooks if it went through them), for inspection. None once freed.
    pub fn saved_tensors_raw(&self) -> Result<Option<Vec<Option<Tensor>>>> {
        let held: Vec<Option<Result<Tensor>>> = match &*self.saved.borrow_mut() {
            SavedState::Live(v) => v.iter().map(|s| s.as_ref().and_then(|s| s.peek().map(|t| Ok(t.clone())))).collect(),
            SavedState::Freed => return Ok(None),
        };
        // Packed ones are unpacked outside the borrow (the unpack hook may run Python).
        let packed: Vec<bool> = match &*self.saved.borrow_mut() {
            SavedState::Live(v) => v.iter().map(|s| s.as_ref().is_some_and(|s| s.peek().is_none())).collect(),
            SavedState::Freed => return Ok(None),
        };
        let mut out = Vec::with_capacity(held.len());
        for (i, (h, p)) in held.into_iter().zip(packed).enumerate() {
            out.push(match (h, p) {
                (Some(t), _) => Some(t?),
                (None, true) => Some(self.inspect_saved(i)?),
                (None, false) => None,
            });
        }
        Ok(Some(out))
    }

    fn inspect_saved(&self, i: usize) -> Result<Tensor> {
        // The hook runs while the cell is borrowed: an unpack hook must not touch this node's
        // saved tensors (PyTorch forbids the same).
        match &*self.saved.borrow_mut() {
            SavedState::Live(v) => v[i].as_ref().map(|s| s.inspect()).unwrap_or_else(|| Err(autograd_err!("no saved tensor at {i}"))),
            SavedState::Freed => Err(self.freed_error()),
        }
    }

    /// Whether the saved tensors were freed by a backward without `retain_graph`.
    pub fn saved_released(&self) -> bool {
        match &self.op {
            Op::Custom(c) => c.is_released(),
            _ => matches!(&*self.saved.borrow_mut(), SavedState::Freed),
        }
    }

    /// The error of reading saved tensors after they were freed.
    pub fn freed_saved_error(&self) -> crate::error::Error {
        self.freed_error()
    }

    pub fn add_hook(&self, id: u64, output_nr: u32, hook: Hook) {
        self.rare().hooks.borrow_mut().outputs.push((id, output_nr, hook));
    }
    pub fn remove_hook(&self, id: u64) -> bool {
        let Some(rare) = self.rare.get() else { return false };
        let removed = {
            let mut h = rare.hooks.borrow_mut();
            let pre = h.pre.iter().position(|(i, _)| *i == id).map(|p| h.pre.remove(p).1);
            let post = h.post.iter().position(|(i, _)| *i == id).map(|p| h.post.remove(p).1);
            let output = h.outputs.iter().position(|(i, _, _)| *i == id).map(|p| h.outputs.remove(p).2);
            (pre, post, output)
        };
        let found = removed.0.is_some() || removed.1.is_some() || removed.2.is_some();
        drop(removed); // outside the borrow: see `EngineCell` on drops that reach Python
        found
    }
    pub(crate) fn hooks_for(&self, output_nr: u32) -> Vec<Hook> {
        self.read_hooks(|h| h.outputs.iter().filter(|(_, nr, _)| *nr == output_nr).map(|(_, _, h)| h.clone()).collect())
    }
    pub(crate) fn has_hooks(&self) -> bool {
        self.rare.get().is_some_and(|rare| !rare.hooks.borrow_mut().is_empty())
    }

    /// Runs the vjp of this node. Saved tensors are version-checked, and freed afterwards
    /// unless `retain_graph`.
    pub(crate) fn apply(this: &NodeRef, grads: &[Tensor], present: &[bool], needs: &[bool], retain_graph: bool) -> Result<Grads> {
        if let Op::Custom(custom) = &this.op {
            if custom.is_released() {
                return Err(this.freed_error());
            }
            let grads: Vec<Option<Tensor>> =
                grads.iter().zip(present).map(|(g, &p)| if p { Some(g.clone()) } else { None }).collect();
            let result = custom.backward(&grads, needs)?;
            if !retain_graph {
                custom.release_saved();
            }
            return Ok(result.into_iter().collect());
        }
        let (unpacked, _released): (SmallVec<[Option<Tensor>; 2]>, _) = {
            let mut state = this.saved.borrow_mut();
            let unpacked = match &*state {
                SavedState::Live(saved) => {
                    saved.iter().map(|s| s.as_ref().map(|s| s.unpack(this)).transpose()).collect::<Result<_>>()?
                }
                SavedState::Freed => return Err(this.freed_error()),
            };
            // What is released is dropped at the end of this function, after the borrow.
            let released = if retain_graph { None } else { Self::release(&mut state) };
            (unpacked, released)
        };
        let ctx = VjpCtx { grads, saved: &unpacked, needs, inputs: &this.inputs, outputs: &this.outputs };
        this.op.vjp(&ctx)
    }

    /// Frees what the forward saved, as a backward without `retain_graph` does. A node that
    /// saved nothing stays usable: backward through it again is not an error.
    /// Returns the released state, for the caller to drop once the borrow has ended (saved
    /// tensors may own Python objects; see `EngineCell`).
    fn release(state: &mut SavedState) -> Option<SavedState> {
        if matches!(state, SavedState::Live(v) if v.is_empty()) {
            return None;
        }
        Some(std::mem::replace(state, SavedState::Freed))
    }

    pub(crate) fn release_saved(&self) {
        let released = Self::release(&mut self.saved.borrow_mut());
        drop(released);
    }

    /// The saved values of a node whose saved tensors are all one-element CPU tensors of `T`,
    /// version-checked; `None` when they are not, when one is stale or when they were freed
    /// (the tensor engine reports those cases).
    #[inline]
    pub(crate) fn saved_scalars<T: Float>(&self) -> Option<SmallVec<[Option<T>; 3]>> {
        let mut values = SmallVec::new();
        match &*self.saved.borrow_mut() {
            SavedState::Live(saved) => {
                for s in saved {
                    values.push(match s {
                        None => None,
                        Some(s) if s.is_current() => Some(backend::scalar_value::<T>(s.peek()?)?),
                        Some(_) => return None,
                    });
                }
            }
            SavedState::Freed => return None,
        }
        Some(values)
    }

    fn freed_error(&self) -> crate::error::Error {
        autograd_err!(
            "trying to backward through the graph a second time (or to read saved tensors after they were \
             freed): {} already ran its backward and released what it saved. Specify retain_graph=True on \
             the first backward() or autograd.grad() call if you need to backward through the graph again",
            self.name()
        )
    }
}

impl Drop for Node {
    /// Iterative teardown: dropping a 1e6-node chain must not recurse 1e6 frames deep.
    fn drop(&mut self) {
        // Inline room for the usual case: a small graph's teardown allocates nothing.
        let mut stack: SmallVec<[NodeRef; 8]> = SmallVec::new();
        self.release_into(&mut stack);
        while let Some(mut node) = stack.pop() {
            // Released in place: moving the node out of its Arc (`try_unwrap`) copied all of
            // it, a few hundred bytes per node of every graph torn down. The drained node's
            // own drop then finds nothing left to release.
            if let Some(node) = NodeRef::get_mut(&mut node) {
                node.release_into(&mut stack);
            }
        }
    }
}

impl Node {
    /// Moves the nodes this node keeps alive (through edges and saved tensors) onto `stack`.
    // `pop` loops, not `drain` or `into_iter`: their iterator structs' drops cost more than the
    // two or three elements a node holds.
    fn release_into(&mut self, stack: &mut SmallVec<[NodeRef; 8]>) {
        while let Some(edge) = self.edges.pop() {
            match edge {
                Edge::Node(gf) => stack.push(gf.node),
                Edge::Leaf(t) => stack.extend(t.take_grad_fn_if_unique().map(|g| g.node)),
                Edge::None => {}
            }
        }
        if let SavedState::Live(mut saved) = std::mem::replace(self.saved.get_mut(), SavedState::Freed) {
            while let Some(s) = saved.pop() {
                if let Some(t) = s.and_then(|s| s.into_tensor()) {
                    stack.extend(t.take_grad_fn_if_unique().map(|g| g.node));
                }
            }
        }
    }
}
