//! What a node keeps for graph pictures and gradient tables: its forward values, its constant
//! inputs, and the gradients its last backward saw and sent. Kept for small outputs always
//! and for every node while tracing is on.

use super::grad_mode::TRACE_SMALL;
use super::node::{Edge, TensorMeta};
use crate::backend::{self, scalar_value};
use crate::engine_cell::EngineCell;
use crate::tensor::{DType, Device, Tensor, TensorData};
use smallvec::{smallvec, SmallVec};

/// A node's record. One-element nodes, the scalar circuits', keep numbers in place: recording
/// one costs no allocation and no reference count.
pub enum Kept {
    Nothing,
    Scalar(ScalarKept),
    Full(Box<Inspection>),
}

/// The record of a node whose output and inputs (at most two) are one-element float CPU tensors.
pub struct ScalarKept {
    value: f64,
    /// Per input: the tensor itself when it does not require grad (a constant such as the `1`
    /// in `1 / x`), so pictures and flat code can show it.
    constants: [Option<Tensor>; 2],
    inputs: u8,
    grads: EngineCell<ScalarGrads>,
}

#[derive(Default)]
struct ScalarGrads {
    /// The upstream gradient of the last backward (outer `None`: no backward yet).
    output: Option<Option<f64>>,
    /// The downstream gradient sent to each input (outer `None`: no backward yet).
    inputs: Option<[Option<f64>; 2]>,
}

/// The record of any other node.
pub struct Inspection {
    /// The outputs' values (no handles: a handle would cost an allocation per node).
    values: SmallVec<[KeptValue; 1]>,
    /// Per input: the tensor itself when it does not require grad (a constant, or data).
    constants: SmallVec<[Option<Tensor>; 2]>,
    /// Per output, the upstream gradient of the last backward through this node.
    output_grads: EngineCell<Option<SmallVec<[Option<KeptGrad>; 1]>>>,
    /// Per input, the downstream gradient this node sent in its last backward.
    input_grads: EngineCell<Option<SmallVec<[Option<KeptGrad>; 2]>>>,
    /// Recorded while tracing was on: keep every gradient, however large.
    traced: bool,
}

/// A forward value: a one-element float CPU output as the number itself, anything else as
/// its data.
enum KeptValue {
    Number(f64),
    Data(TensorData),
}

/// A gradient kept for inspection. Small CPU gradients are copied out as numbers, so the live
/// gradient stays exclusively owned: the engine can still store it in `.grad` as it is and
/// update it in place, and later in-place changes cannot alter the record. Its shape and dtype
/// are those of the node's input or output it belongs to.
#[derive(Clone)]
pub(crate) enum KeptGrad {
    Scalar(f64),
    /// Up to `TRACE_SMALL` values, row-major.
    Values(Box<[f64]>),
    Handle(Tensor),
}

/// The value of a one-element float CPU tensor.
fn number(t: &Tensor) -> Option<f64> {
    match t.dtype() {
        DType::F32 => scalar_value::<f32>(t).map(f64::from),
        DType::F64 => scalar_value::<f64>(t),
        _ => None,
    }
}

/// A one-element CPU tensor of `meta`'s shape and dtype holding `v`.
fn number_tensor(v: f64, meta: &TensorMeta) -> Tensor {
    backend::number_tensor(v, meta.dtype, &meta.shape)
}

impl KeptValue {
    fn keep(t: &Tensor) -> KeptValue {
        number(t).map_or_else(|| KeptValue::Data(t.data()), KeptValue::Number)
    }

    fn to_tensor(&self, meta: &TensorMeta) -> Tensor {
        match self {
            KeptValue::Number(v) => number_tensor(*v, meta),
            KeptValue::Data(d) => d.to_tensor(),
        }
    }
}

impl KeptGrad {
    pub(crate) fn keep(g: &Tensor) -> KeptGrad {
        if g.requires_grad() {
            // a create_graph gradient: its grad_fn could form a cycle with this node
            return KeptGrad::Handle(g.detach());
        }
        match backend::small_values(g, TRACE_SMALL) {
            Some(values) if values.len() == 1 => KeptGrad::Scalar(values[0]),
            Some(values) => KeptGrad::Values(values.into_vec().into_boxed_slice()),
            None => KeptGrad::Handle(g.clone()),
        }
    }

    /// The gradient as a number, if it has one element.
    fn number(&self) -> Option<f64> {
        match self {
            KeptGrad::Scalar(v) => Some(*v),
            KeptGrad::Values(v) if v.len() == 1 => Some(v[0]),
            KeptGrad::Values(_) => None,
            KeptGrad::Handle(t) => number(t),
        }
    }

    fn to_tensor(&self, meta: &TensorMeta) -> Tensor {
        let values = match self {
            KeptGrad::Handle(t) => return t.clone(),
            KeptGrad::Scalar(v) => return number_tensor(*v, meta),
            KeptGrad::Values(values) => values.to_vec(),
        };
        let t = Tensor::from_vec(values, &meta.shape).expect("kept values match their shape");
        backend::cast(&t, meta.dtype).unwrap_or(t)
    }
}

impl Kept {
    /// What a node keeps of `inputs` (those that get no gradient: constants, data) and
    /// `outputs`: everything for small outputs (and small constants), and for every node while
    /// tracing is on (`traced`); nothing otherwise.
    pub fn keep(inputs: &[&Tensor], outputs: &[&Tensor], edges: &[Edge], traced: bool) -> Kept {
        if let ([out], false) = (outputs, traced) {
            let one_element_cpu = |t: &Tensor| t.numel() == 1 && t.device() == Device::Cpu;
            if inputs.len() <= 2 && one_element_cpu(out) && inputs.iter().all(|t| one_element_cpu(t)) {
                if let Some(value) = number(out) {
                    let constant = |k: usize| match edges.get(k) {
                        Some(Edge::None) => Some(inputs[k].clone()),
                        _ => None,
                    };
                    let constants = [constant(0), constant(1)];
                    return Kept::Scalar(ScalarKept { value, constants, inputs: inputs.len() as u8, grads: EngineCell::default() });
                }
            }
        }
        if !traced && outputs.iter().any(|o| o.numel() > TRACE_SMALL) {
            return Kept::Nothing;
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
        Kept::Full(Box::new(Inspection { values, constants, output_grads: EngineCell::new(None), input_grads: EngineCell::new(None), traced }))
    }

    pub fn is_kept(&self) -> bool {
        !matches!(self, Kept::Nothing)
    }

    pub fn values(&self, outputs: &[TensorMeta]) -> Option<Vec<Tensor>> {
        match self {
            Kept::Nothing => None,
            Kept::Scalar(s) => Some(vec![number_tensor(s.value, &outputs[0])]),
            Kept::Full(i) => Some(i.values.iter().zip(outputs).map(|(v, m)| v.to_tensor(m)).collect()),
        }
    }

    pub fn constants(&self) -> Option<Vec<Option<Tensor>>> {
        match self {
            Kept::Nothing => None,
            Kept::Scalar(s) => Some(s.constants[..s.inputs as usize].to_vec()),
            Kept::Full(i) => Some(i.constants.to_vec()),
        }
    }

    pub fn grads_seen(&self, outputs: &[TensorMeta]) -> Option<Vec<Option<Tensor>>> {
        match self {
            Kept::Nothing => None,
            Kept::Scalar(s) => s.grads.borrow_mut().output.map(|g| vec![g.map(|g| number_tensor(g, &outputs[0]))]),
            Kept::Full(i) => {
                let kept = i.output_grads.borrow_mut();
                kept.as_ref().map(|g| g.iter().zip(outputs).map(|(k, m)| k.as_ref().map(|k| k.to_tensor(m))).collect())
            }
        }
    }

    pub fn input_grads_seen(&self, inputs: &[TensorMeta]) -> Option<Vec<Option<Tensor>>> {
        match self {
            Kept::Nothing => None,
            Kept::Scalar(s) => {
                let sent = s.grads.borrow_mut().inputs?;
                Some(sent.iter().zip(inputs).map(|(g, m)| g.map(|g| number_tensor(g, m))).collect())
            }
            Kept::Full(i) => {
                let kept = i.input_grads.borrow_mut();
                kept.as_ref().map(|g| g.iter().zip(inputs).map(|(k, m)| k.as_ref().map(|k| k.to_tensor(m))).collect())
            }
        }
    }

    pub(crate) fn set_grads_seen(&self, grads: SmallVec<[Option<KeptGrad>; 1]>) {
        match self {
            Kept::Nothing => {}
            Kept::Scalar(s) => s.grads.borrow_mut().output = Some(grads.first().and_then(|g| g.as_ref()?.number())),
            Kept::Full(i) => *i.output_grads.borrow_mut() = Some(grads),
        }
    }

    /// Whether the downstream gradient `g` is worth keeping: always for a traced node, else
    /// only when small (a scalar loss of a large input must not keep a large gradient alive).
    pub(crate) fn keeps_input_grad(&self, g: &Tensor) -> bool {
        match self {
            Kept::Nothing => false,
            Kept::Scalar(_) => true,
            Kept::Full(i) => i.traced || g.numel() <= TRACE_SMALL,
        }
    }

    pub(crate) fn set_input_grads_seen(&self, grads: SmallVec<[Option<KeptGrad>; 2]>) {
        match self {
            Kept::Nothing => {}
            Kept::Scalar(s) => {
                let number = |k: usize| grads.get(k).and_then(|g| g.as_ref()?.number());
                s.grads.borrow_mut().inputs = Some([number(0), number(1)]);
            }
            Kept::Full(i) => *i.input_grads.borrow_mut() = Some(grads),
        }
    }

    /// Both sides of a backward through a one-element node, as numbers (the scalar path's).
    pub(crate) fn set_scalar_grads_seen(&self, output: Option<f64>, sent: [Option<f64>; 2], inputs: usize) {
        match self {
            Kept::Nothing => {}
            Kept::Scalar(s) => {
                let mut grads = s.grads.borrow_mut();
                grads.output = Some(output);
                grads.inputs = Some(sent);
            }
            Kept::Full(_) => {
                let keep = |g: Option<f64>| g.map(KeptGrad::Scalar);
                self.set_grads_seen(smallvec![keep(output)]);
                self.set_input_grads_seen(sent[..inputs].iter().map(|&g| keep(g)).collect());
            }
        }
    }
}
