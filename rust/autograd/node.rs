//! A node of the tape: one recorded op application, its input edges, saved tensors and a
//! sequence number. Creation order is a topological order, which the engine relies on.

use super::grad_mode::TRACE_SMALL;
use super::saved::SavedTensor;
use crate::error::{autograd_err, Result};
use crate::ops::Op;
use crate::tensor::{CpuStorage, DType, Device, Dims, Float, Storage, Tensor, TensorData};
use crate::engine_cell::EngineCell;
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// A gradient hook: may return a replacement gradient.
pub type Hook = Arc<dyn Fn(&Tensor) -> Result<Option<Tensor>> + Send + Sync>;

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
    /// Hooks registered on non-leaf outputs: (hook id, output number, hook).
    hooks: EngineCell<Vec<(u64, u32, Hook)>>,
    /// What graph pictures and gradient tables read: kept for small outputs always, for
    /// every node while tracing is on; `None` otherwise (one pointer on the hot path).
    inspection: Option<Box<Inspection>>,
}

/// A node's forward values and the gradients its last backward saw, kept for inspection.
pub struct Inspection {
    /// The outputs' values (no handles: a handle would cost an allocation per node).
    values: SmallVec<[KeptValue; 1]>,
    /// Per input: the tensor itself when it does not require grad (a constant such as the `1`
    /// in `1 / x`, or data), so pictures and flat code can show it; `None` for other inputs.
    constants: SmallVec<[Option<Tensor>; 2]>,
    /// Per output, the upstream gradient of the last backward through this node.
    output_grads: EngineCell<Option<SmallVec<[Option<KeptGrad>; 1]>>>,
    /// Per input, the downstream gradient this node sent in its last backward.
    input_grads: EngineCell<Option<SmallVec<[Option<KeptGrad>; 2]>>>,
    /// Recorded while tracing was on: keep every gradient, however large.
    traced: bool,
}

/// A forward value kept for inspection: a one-element float CPU output as the number itself
/// (no reference count to take and release on the hot path), anything else as its data.
enum KeptValue {
    Number(f64),
    Data(TensorData),
}

impl KeptValue {
    fn keep(t: &Tensor) -> KeptValue {
        match t.cpu_storage("inspection") {
            Ok(storage) if t.numel() == 1 && t.dtype().is_float() => {
                KeptValue::Number(crate::with_dtype!(t.dtype(), T => crate::tensor::Element::to_f64(storage.as_slice::<T>()[t.layout().offset()])))
            }
            _ => KeptValue::Data(t.data()),
        }
    }

    fn to_tensor(&self, meta: &TensorMeta) -> Tensor {
        match self {
            KeptValue::Number(v) => number_tensor(*v, meta),
            KeptValue::Data(d) => d.to_tensor(),
        }
    }
}

/// A one-element CPU tensor of `meta`'s shape and dtype holding `v`.
fn number_tensor(v: f64, meta: &TensorMeta) -> Tensor {
    Tensor::from_storage(Storage::Cpu(CpuStorage::scalar(v, meta.dtype)), &meta.shape)
}

/// A gradient kept for inspection. Small CPU gradients are copied out as numbers, so the live
/// gradient stays exclusively owned: the engine can still store it in `.grad` as it is and
/// update it in place, and later in-place changes cannot alter the record. Its shape and dtype
/// are those of the node's input or output it belongs to.
#[derive(Clone)]
pub(crate) enum KeptGrad {
    /// A one-element gradient (the scalar circuits': no allocation).
    Scalar(f64),
    /// Up to `TRACE_SMALL` values, row-major.
    Values(Box<[f64]>),
    Handle(Tensor),
}

impl KeptGrad {
    pub(crate) fn keep(g: &Tensor) -> KeptGrad {
        if g.requires_grad() {
            // a create_graph gradient: its grad_fn could form a cycle with this node
            return KeptGrad::Handle(g.detach());
        }
        match g.cpu_storage("inspection") {
            Ok(storage) if g.numel() <= TRACE_SMALL => crate::with_dtype!(g.dtype(), T => {
                let data = storage.as_slice::<T>();
                if g.numel() == 1 {
                    KeptGrad::Scalar(crate::tensor::Element::to_f64(data[g.layout().offset()]))
                } else {
                    let mut values = Vec::with_capacity(g.numel());
                    crate::cpu::strided::for_each_index(g.layout(), |i| values.push(crate::tensor::Element::to_f64(data[i])));
                    KeptGrad::Values(values.into_boxed_slice())
                }
            }),
            _ => KeptGrad::Handle(g.clone()),
        }
    }

    fn to_tensor(&self, meta: &TensorMeta) -> Tensor {
        let values = match self {
            KeptGrad::Handle(t) => return t.clone(),
            KeptGrad::Scalar(v) => return number_tensor(*v, meta),
            KeptGrad::Values(values) => values.to_vec(),
        };
        let t = Tensor::from_vec(values, &meta.shape).expect("kept values match their shape");
        crate::backend::cast(&t, meta.dtype).unwrap_or(t)
    }
}

impl Inspection {
    /// What a node keeps of `inputs` (those that get no gradient: constants, data) and
    /// `outputs` for graph pictures and gradient tables: everything for small outputs (and
    /// small constants), and for every node while tracing is on (`traced`); `None` otherwise.
    pub fn keep(inputs: &[&Tensor], outputs: &[&Tensor], edges: &[Edge], traced: bool) -> Option<Box<Inspection>> {
        if !traced && outputs.iter().any(|o| o.numel() > TRACE_SMALL) {
            return None;
        }
        let mut values = SmallVec::new();
        for o in outputs {
            values.push(KeptValue::keep(o));
        }
        let mut constants = SmallVec::with_capacity(inputs.len());
        for (t, e) in inputs.iter().zip(edges) {
            constants.push(match e {
                Edge::None if traced || t.numel() <= TRACE_SMALL => Some((*t).clone()),
                _ => None,
            });
        }
        Some(Box::new(Inspection { values, constants, output_grads: EngineCell::new(None), input_grads: EngineCell::new(None), traced }))
    }
}

/// The value of a one-element CPU tensor of dtype `T`.
pub(crate) fn scalar_value<T: Float>(t: &Tensor) -> Option<T> {
    if t.dtype() != T::DTYPE || t.numel() != 1 {
        return None;
    }
    let storage = t.cpu_storage("backward").ok()?;
    storage.as_slice::<T>().get(t.layout().offset()).copied()
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
    pub fn new(
        op: Op,
        edges: SmallVec<[Edge; 2]>,
        inputs: SmallVec<[TensorMeta; 2]>,
        outputs: SmallVec<[TensorMeta; 1]>,
        saved: SmallVec<[Option<SavedTensor>; 2]>,
        inspection: Option<Box<Inspection>>,
    ) -> Node {
        Node {
            seq: NEXT_SEQ.fetch_add(1, Ordering::Relaxed),
            op,
            edges,
            inputs,
            outputs,
            saved: EngineCell::new(SavedState::Live(saved)),
            hooks: EngineCell::new(Vec::new()),
            inspection,
        }
    }

    /// The kept forward values of the outputs, if any.
    pub fn values(&self) -> Option<Vec<Tensor>> {
        self.inspection.as_ref().map(|i| i.values.iter().zip(&self.outputs).map(|(v, m)| v.to_tensor(m)).collect())
    }

    /// Per input, the kept value of an input that does not require grad (if values are kept).
    pub fn constants(&self) -> Option<&[Option<Tensor>]> {
        self.inspection.as_ref().map(|i| i.constants.as_slice())
    }

    /// The output (upstream) gradients seen by the last backward, if values are kept.
    pub fn grads_seen(&self) -> Option<Vec<Option<Tensor>>> {
        let kept = self.inspection.as_ref()?.output_grads.lock();
        kept.as_ref().map(|g| g.iter().zip(&self.outputs).map(|(k, m)| k.as_ref().map(|k| k.to_tensor(m))).collect())
    }

    /// The input (downstream) gradients sent by the last backward, if values are kept.
    pub fn input_grads_seen(&self) -> Option<Vec<Option<Tensor>>> {
        let kept = self.inspection.as_ref()?.input_grads.lock();
        kept.as_ref().map(|g| g.iter().zip(&self.inputs).map(|(k, m)| k.as_ref().map(|k| k.to_tensor(m))).collect())
    }

    pub(crate) fn keeps_values(&self) -> bool {
        self.inspection.is_some()
    }

    pub(crate) fn set_grads_seen(&self, grads: SmallVec<[Option<KeptGrad>; 1]>) {
        if let Some(i) = &self.inspection {
            *i.output_grads.lock() = Some(grads);
        }
    }

    /// Whether the downstream gradient `g` is worth keeping: always for a traced node, else
    /// only when small (a scalar loss of a large input must not keep a large gradient alive).
    pub(crate) fn keeps_input_grad(&self, g: &Tensor) -> bool {
        self.inspection.as_ref().is_some_and(|i| i.traced || g.numel() <= TRACE_SMALL)
    }

    pub(crate) fn set_input_grads_seen(&self, grads: SmallVec<[Option<KeptGrad>; 2]>) {
        if let Some(i) = &self.inspection {
            *i.input_grads.lock() = Some(grads);
        }
    }

    #[inline]
    pub fn seq(&self) -> u64 {
        self.seq
    }
    pub fn op(&self) -> &Op {
        &self.op
    }
    /// PyTorch-style name: `MulBackward`, `LeakyReluBackward`.
    pub fn name(&self) -> String {
        let op = self.op.name();
        if matches!(self.op, Op::Custom(_)) {
            return format!("{op}Backward");
        }
        let camel: String = op
            .split('_')
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
            })
            .collect();
        format!("{camel}Backward")
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

    /// The saved tensors as the forward stored them (no version check), for inspection.
    pub fn saved_tensors_raw(&self) -> Option<Vec<Option<Tensor>>> {
        match &*self.saved.lock() {
            SavedState::Live(v) => Some(v.iter().map(|s| s.as_ref().map(|s| s.peek().clone())).collect()),
            SavedState::Freed => None,
        }
    }

    pub fn add_hook(&self, id: u64, output_nr: u32, hook: Hook) {
        self.hooks.lock().push((id, output_nr, hook));
    }
    pub fn remove_hook(&self, id: u64) -> bool {
        let mut hooks = self.hooks.lock();
        let before = hooks.len();
        hooks.retain(|(i, _, _)| *i != id);
        hooks.len() != before
    }
    pub(crate) fn hooks_for(&self, output_nr: u32) -> Vec<Hook> {
        self.hooks.lock().iter().filter(|(_, nr, _)| *nr == output_nr).map(|(_, _, h)| h.clone()).collect()
    }
    pub(crate) fn has_hooks(&self) -> bool {
        !self.hooks.lock().is_empty()
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
        let unpacked: SmallVec<[Option<Tensor>; 2]> = {
            let mut state = this.saved.lock();
            let unpacked = match &*state {
                SavedState::Live(saved) => {
                    saved.iter().map(|s| s.as_ref().map(|s| s.unpack(this)).transpose()).collect::<Result<_>>()?
                }
                SavedState::Freed => return Err(this.freed_error()),
            };
            if !retain_graph {
                Self::release(&mut state);
            }
            unpacked
        };
        let ctx = VjpCtx { grads, saved: &unpacked, needs, inputs: &this.inputs, outputs: &this.outputs };
        this.op.vjp(&ctx)
    }

    /// Frees what the forward saved, as a backward without `retain_graph` does. A node that
    /// saved nothing stays usable: backward through it again is not an error.
    fn release(state: &mut SavedState) {
        if !matches!(state, SavedState::Live(v) if v.is_empty()) {
            *state = SavedState::Freed;
        }
    }

    pub(crate) fn release_saved(&self) {
        Self::release(&mut self.saved.lock());
    }

    /// The saved values of a node whose saved tensors are all one-element CPU tensors of `T`,
    /// version-checked; `None` when they are not, when one is stale or when they were freed
    /// (the tensor engine reports those cases).
    pub(crate) fn saved_scalars<T: Float>(&self) -> Option<SmallVec<[Option<T>; 3]>> {
        let mut values = SmallVec::new();
        match &*self.saved.lock() {
            SavedState::Live(saved) => {
                for s in saved {
                    values.push(match s {
                        None => None,
                        Some(s) if s.is_current() => Some(scalar_value::<T>(s.peek())?),
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
        while let Some(node) = stack.pop() {
            if let Ok(mut node) = NodeRef::try_unwrap(node) {
                node.release_into(&mut stack);
            }
        }
    }
}

impl Node {
    /// Moves the nodes this node keeps alive (through edges and saved tensors) onto `stack`.
    fn release_into(&mut self, stack: &mut SmallVec<[NodeRef; 8]>) {
        for edge in self.edges.drain(..) {
            match edge {
                Edge::Node(gf) => stack.push(gf.node),
                Edge::Leaf(t) => stack.extend(t.take_grad_fn_if_unique().map(|g| g.node)),
                Edge::None => {}
            }
        }
        if let SavedState::Live(saved) = std::mem::replace(self.saved.get_mut(), SavedState::Freed) {
            for s in saved.into_iter().flatten() {
                stack.extend(s.into_tensor().take_grad_fn_if_unique().map(|g| g.node));
            }
        }
    }
}
