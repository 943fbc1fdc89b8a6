//! Autograd from Python: `backward`, `autograd.grad`, grad mode, hooks, graph inspection
//! (`grad_fn`, `next_functions`) and custom `autograd.Function`s as tape nodes.

use super::convert::describe;
use super::errors::foreign;
use super::tensor::PyTensor;
use crate::autograd::{self, BackwardOptions, CustomOp, Edge, GradFn, Hook, Node, NodeRef, TensorMeta};
use crate::error::{autograd_err, Error};
use crate::ops;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};
use smallvec::SmallVec;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

fn ones_for(t: &Tensor) -> crate::Result<Tensor> {
    ops::full(t.shape(), 1.0, t.dtype(), t.device())
}

fn check_differentiable(i: usize, t: &Tensor) -> PyResult<()> {
    if !t.requires_grad() {
        return Err(PyRuntimeError::new_err(format!(
            "element {i} of tensors does not require grad and does not have a grad_fn: nothing in its \
             computation requires grad (call .requires_grad_() on the inputs you want gradients for)"
        )));
    }
    Ok(())
}

fn root_grads(outputs: &[Tensor], grads: Option<Vec<Option<Tensor>>>) -> PyResult<Vec<Tensor>> {
    let grads = grads.unwrap_or_else(|| vec![None; outputs.len()]);
    if grads.len() != outputs.len() {
        return Err(PyRuntimeError::new_err(format!(
            "got {} gradients for {} outputs; pass one gradient per output",
            grads.len(),
            outputs.len()
        )));
    }
    outputs
        .iter()
        .zip(grads)
        .map(|(o, g)| match g {
            Some(g) => Ok(g),
            None if o.numel() == 1 => Ok(ones_for(o)?),
            None => Err(PyRuntimeError::new_err(format!(
                "grad can be implicitly created only for scalar outputs, but this output has shape {:?}; \
                 pass gradient=... (a tensor of the output's shape), or reduce the output first (e.g. .sum())",
                o.shape()
            ))),
        })
        .collect()
}

#[pymethods]
impl PyTensor {
    /// Computes gradients of this tensor with respect to the graph's leaves, accumulating them in `.grad`.
    #[pyo3(signature = (gradient = None, retain_graph = None, create_graph = false, inputs = None))]
    fn backward(
        &self,
        gradient: Option<&PyTensor>,
        retain_graph: Option<bool>,
        create_graph: bool,
        inputs: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<()> {
        check_differentiable(0, &self.t)?;
        let inputs = match inputs {
            Some(i) if !i.is_none() => Some(tensor_list(i, "backward(inputs=...)")?),
            _ => None,
        };
        let opts = BackwardOptions { retain_graph: retain_graph.unwrap_or(create_graph), create_graph };
        if gradient.is_none() && self.t.numel() == 1 {
            return Ok(autograd::backward_from_one(&self.t, inputs.as_deref(), opts)?);
        }
        let g = root_grads(std::slice::from_ref(&self.t), Some(vec![gradient.map(|g| g.t.clone())]))?;
        Ok(autograd::backward(std::slice::from_ref(&self.t), &g, inputs.as_deref(), opts)?)
    }

    /// Registers `hook(grad)`, called with this tensor's gradient during backward; it may
    /// return a replacement gradient. Returns a handle with `.remove()`.
    fn register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<RemovableHandle> {
        if !hook.bind(py).is_callable() {
            return Err(PyTypeError::new_err(format!("register_hook: expected a callable hook(grad), got {}", describe(hook.bind(py)))));
        }
        if !self.t.requires_grad() {
            return Err(PyRuntimeError::new_err("cannot register a hook on a tensor that doesn't require gradient"));
        }
        let id = next_hook_id();
        let f: Hook = Arc::new(move |g: &Tensor| {
            Python::attach(|py| {
                let r = hook.call1(py, (PyTensor::wrap(g.clone()),)).map_err(foreign)?;
                if r.is_none(py) {
                    return Ok(None);
                }
                let t = r.bind(py).cast::<PyTensor>().map_err(|_| {
                    Error::Type(format!("a tensor hook must return None or a Tensor, got {}", describe(r.bind(py))))
                })?;
                Ok(Some(t.get().t.clone()))
            })
        });
        Ok(add_hook(&self.t, id, f))
    }

    /// Registers `hook(tensor)`, called with this leaf once its `.grad` holds the whole
    /// gradient of a `backward()`; it must return None. Returns a handle with `.remove()`.
    fn register_post_accumulate_grad_hook(&self, hook: Py<PyAny>) -> PyResult<RemovableHandle> {
        let id = next_hook_id();
        let f: Hook = Arc::new(move |leaf: &Tensor| {
            Python::attach(|py| {
                let r = hook.call1(py, (PyTensor::wrap(leaf.clone()),)).map_err(foreign)?;
                if r.is_none(py) || r.bind(py).cast::<PyTensor>().is_ok() {
                    return Ok((!r.is_none(py)).then(|| leaf.clone()));
                }
                Err(Error::Type(format!("a post accumulate grad hook must return None, got {}", describe(r.bind(py)))))
            })
        });
        autograd::post_accumulate::add(&self.t, id, f)?;
        Ok(RemovableHandle { id, target: Mutex::new(Some(HookTarget::PostAccumulate(self.t.clone()))) })
    }

    /// Keeps this (non-leaf) tensor's gradient in `.grad` after backward.
    fn retain_grad(&self) -> PyResult<()> {
        if !self.t.requires_grad() {
            return Err(PyRuntimeError::new_err("can't retain_grad on a tensor that has requires_grad=False"));
        }
        if self.t.is_leaf() {
            return Ok(());
        }
        let Some(slot) = self.t.retain_grad_slot() else { return Ok(()) };
        let f: Hook = Arc::new(move |g: &Tensor| {
            let prev = slot.borrow_mut().clone();
            let new = match prev {
                Some(prev) => ops::add(&prev, g)?,
                None => ops::owned_gradient(g.clone())?,
            };
            *slot.borrow_mut() = Some(new);
            Ok(None)
        });
        add_hook(&self.t, next_hook_id(), f);
        Ok(())
    }

    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.meta().retained.is_some()
    }

    #[getter]
    fn grad_fn(&self) -> Option<PyNode> {
        self.t.grad_fn().map(|g| PyNode { node: g.node, output_nr: g.output_nr })
    }

    fn detach(&self) -> PyTensor {
        PyTensor::wrap(self.t.detach())
    }

    /// Identity of the engine tensor behind this object (several Python objects can wrap one,
    /// e.g. `AccumulateGrad.variable`); graph tools use it to recognise leaves and constants.
    #[getter]
    fn _handle_id(&self) -> usize {
        self.t.id()
    }

    #[pyo3(signature = (requires_grad = true))]
    fn requires_grad_<'py>(slf: &Bound<'py, Self>, requires_grad: bool) -> PyResult<Bound<'py, Self>> {
        slf.get().t.set_requires_grad(requires_grad)?;
        Ok(slf.clone())
    }
}

static HOOK_IDS: AtomicU64 = AtomicU64::new(1);

fn next_hook_id() -> u64 {
    HOOK_IDS.fetch_add(1, Ordering::Relaxed)
}

fn add_hook(t: &Tensor, id: u64, f: Hook) -> RemovableHandle {
    match t.grad_fn() {
        Some(gf) => {
            gf.node.add_hook(id, gf.output_nr, f);
            RemovableHandle { id, target: Mutex::new(Some(HookTarget::Node(gf.node))) }
        }
        None => {
            t.meta().hooks.push((id, f));
            RemovableHandle { id, target: Mutex::new(Some(HookTarget::Leaf(t.clone()))) }
        }
    }
}

enum HookTarget {
    Node(NodeRef),
    Leaf(Tensor),
    PostAccumulate(Tensor),
}

#[pyclass(module = "backprop", frozen)]
pub struct RemovableHandle {
    id: u64,
    target: Mutex<Option<HookTarget>>,
}

#[pymethods]
impl RemovableHandle {
    fn remove(&self) {
        match self.target.lock().take() {
            Some(HookTarget::Node(n)) => {
                n.remove_hook(self.id);
            }
            Some(HookTarget::Leaf(t)) => {
                // Dropped after the borrow ends: the hook's release may run Python code.
                let removed: Vec<_> = t.meta().hooks.extract_if(.., |(i, _)| *i == self.id).collect();
                drop(removed);
            }
            Some(HookTarget::PostAccumulate(t)) => {
                autograd::post_accumulate::remove(&t, self.id);
            }
            None => {}
        }
    }
}

pub fn tensor_list(obj: &Bound<'_, PyAny>, what: &str) -> PyResult<Vec<Tensor>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(vec![t.get().t.clone()]);
    }
    obj.try_iter()
        .map_err(|_| PyTypeError::new_err(format!("{what}: expected a tensor or a sequence of tensors, got {}", describe(obj))))?
        .map(|o| {
            let o = o?;
            o.cast::<PyTensor>()
                .map(|t| t.get().t.clone())
                .map_err(|_| PyTypeError::new_err(format!("{what}: expected tensors, got {}", describe(&o))))
        })
        .collect()
}

/// `autograd.grad`: gradients of `outputs` with respect to `inputs`, without touching `.grad`.
#[pyfunction]
#[pyo3(signature = (outputs, inputs, grad_outputs = None, retain_graph = None, create_graph = false, allow_unused = false))]
pub fn grad<'py>(
    py: Python<'py>,
    outputs: &Bound<'py, PyAny>,
    inputs: &Bound<'py, PyAny>,
    grad_outputs: Option<&Bound<'py, PyAny>>,
    retain_graph: Option<bool>,
    create_graph: bool,
    allow_unused: bool,
) -> PyResult<Bound<'py, PyTuple>> {
    let outs = tensor_list(outputs, "grad(outputs)")?;
    let ins = tensor_list(inputs, "grad(inputs)")?;
    for (i, o) in outs.iter().enumerate() {
        check_differentiable(i, o)?;
    }
    let gos: Option<Vec<Option<Tensor>>> = match grad_outputs {
        None => None,
        Some(g) if g.is_none() => None,
        Some(g) => Some(if let Ok(t) = g.cast::<PyTensor>() {
            vec![Some(t.get().t.clone())]
        } else {
            g.try_iter()?
                .map(|x| {
                    let x = x?;
                    Ok(if x.is_none() { None } else { Some(x.cast::<PyTensor>()?.get().t.clone()) })
                })
                .collect::<PyResult<_>>()?
        }),
    };
    let g = root_grads(&outs, gos)?;
    let opts = BackwardOptions { retain_graph: retain_graph.unwrap_or(create_graph), create_graph };
    let res = autograd::grad(&outs, &g, &ins, opts, allow_unused)?;
    PyTuple::new(py, res.into_iter().map(|r| r.map(PyTensor::wrap)))
}

#[pyfunction]
pub fn is_grad_enabled() -> bool {
    autograd::is_grad_enabled()
}

#[pyfunction]
pub fn _set_grad_enabled(enabled: bool) {
    autograd::set_grad_enabled(enabled)
}

/// Whether every recorded op keeps its output values (for graph pictures of big tensors).
#[pyfunction]
pub fn _set_trace_all(enabled: bool) -> bool {
    let prev = autograd::is_trace_all();
    autograd::set_trace_all(enabled);
    prev
}

// ---- graph inspection ---------------------------------------------------------------------

/// A node of the recorded graph (`tensor.grad_fn`), PyTorch-style: `name()`, `next_functions`.
#[pyclass(name = "Node", module = "backprop.autograd", frozen)]
pub struct PyNode {
    pub node: NodeRef,
    pub output_nr: u32,
}

/// The sink of a leaf's gradient, as PyTorch shows it in `next_functions`.
#[pyclass(name = "AccumulateGrad", module = "backprop.autograd", frozen)]
pub struct PyAccumulateGrad {
    leaf: Tensor,
}

#[pymethods]
impl PyAccumulateGrad {
    fn name(&self) -> &'static str {
        "AccumulateGrad"
    }
    #[getter]
    fn variable(&self) -> PyTensor {
        PyTensor::wrap(self.leaf.clone())
    }
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        Ok(PyTuple::empty(py))
    }
    fn __repr__(&self) -> String {
        "<AccumulateGrad>".into()
    }
    /// One AccumulateGrad per leaf, as in PyTorch: equal when they feed the same leaf.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyAccumulateGrad>().is_ok_and(|o| o.get().leaf.same_handle(&self.leaf))
    }
    fn __hash__(&self) -> isize {
        self.leaf.id() as isize
    }
}

fn tensors_tuple<'py>(py: Python<'py>, v: Vec<Option<Tensor>>) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, v.into_iter().map(|t| t.map(PyTensor::wrap)))
}

fn meta_tuple<'py>(py: Python<'py>, m: &TensorMeta) -> PyResult<Bound<'py, PyTuple>> {
    let shape = PyTuple::new(py, m.shape.iter())?;
    PyTuple::new(py, [shape.into_any(), m.dtype.name().into_pyobject(py)?.into_any(), m.device.name().into_pyobject(py)?.into_any()])
}

#[pymethods]
impl PyNode {
    /// `MulBackward`, `SigmoidBackward`, ...
    fn name(&self) -> String {
        self.node.name()
    }
    /// The op as the lecture's graphs label it: `mul`, `sigmoid`, `matmul`, or a Function's class name.
    #[getter]
    fn op(&self) -> String {
        self.node.op().name()
    }
    #[getter]
    fn output_nr(&self) -> u32 {
        self.output_nr
    }
    /// Creation order of the node (a topological order of the graph).
    #[getter]
    fn sequence_nr(&self) -> u64 {
        self.node.seq()
    }
    /// `((node_or_AccumulateGrad_or_None, output_nr), ...)`, one entry per input.
    #[getter]
    fn next_functions<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let items: Vec<Bound<'py, PyAny>> = self
            .node
            .edges()
            .iter()
            .map(|e| -> PyResult<Bound<'py, PyAny>> {
                let (obj, nr): (Bound<'py, PyAny>, u32) = match e {
                    Edge::None => (py.None().into_bound(py), 0),
                    Edge::Node(gf) => (Bound::new(py, PyNode { node: gf.node.clone(), output_nr: gf.output_nr })?.into_any(), gf.output_nr),
                    Edge::Leaf(t) => (Bound::new(py, PyAccumulateGrad { leaf: t.clone() })?.into_any(), 0),
                };
                Ok(PyTuple::new(py, [obj, nr.into_pyobject(py)?.into_any()])?.into_any())
            })
            .collect::<PyResult<_>>()?;
        PyTuple::new(py, items)
    }
    /// `(shape, dtype, device)` of each input.
    #[getter]
    fn input_metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.node.inputs().iter().map(|m| meta_tuple(py, m)).collect::<PyResult<Vec<_>>>()?)
    }
    /// `(shape, dtype, device)` of each output.
    #[getter]
    fn output_metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyList>> {
        PyList::new(py, self.node.outputs().iter().map(|m| meta_tuple(py, m)).collect::<PyResult<Vec<_>>>()?)
    }
    /// The tensors this node saved for backward (None once freed).
    #[getter]
    fn saved_tensors<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.node.saved_tensors_raw() {
            None => Ok(None),
            Some(v) => Ok(Some(PyTuple::new(py, v.into_iter().map(|t| t.map(PyTensor::wrap)))?)),
        }
    }
    /// The forward values of the outputs, when the graph kept them (small outputs, or
    /// everything recorded inside `backprop.viz.trace()`); else None.
    #[getter]
    fn output_values<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        match self.node.values() {
            None => Ok(None),
            Some(v) => Ok(Some(PyTuple::new(py, v.into_iter().map(PyTensor::wrap))?)),
        }
    }
    /// The gradients of the outputs seen by the last backward (the upstream gradients; None
    /// before one ran, or when values are not kept).
    #[getter]
    fn output_grads<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.node.grads_seen().map(|v| tensors_tuple(py, v)).transpose()
    }
    /// The gradients this node sent to each input in the last backward (the downstream
    /// gradients, in each input's shape; None for inputs that got none), when values are kept.
    #[getter]
    fn input_grads<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.node.input_grads_seen().map(|v| tensors_tuple(py, v)).transpose()
    }
    /// Per input: the input itself when it does not require grad (a constant such as the
    /// `1` in `1 / x`, or data), else None; when values are kept (None otherwise).
    #[getter]
    fn constant_inputs<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyTuple>>> {
        self.node.constants().map(|v| tensors_tuple(py, v)).transpose()
    }
    /// What the op needs besides its inputs (a sum's `dim` and `keepdim`, a pow's `exponent`,
    /// clamp bounds, a softmax's `dim`, ...): a dict, empty for most ops.
    #[getter]
    fn op_params<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let d = PyDict::new(py);
        for (name, p) in self.node.op().params() {
            match p {
                ops::OpParam::Float(v) => d.set_item(name, v)?,
                ops::OpParam::Int(v) => d.set_item(name, v)?,
                ops::OpParam::Ints(v) => d.set_item(name, PyTuple::new(py, v)?)?,
                ops::OpParam::Bool(v) => d.set_item(name, v)?,
                ops::OpParam::Tensor(t) => d.set_item(name, PyTensor::wrap(t))?,
            }
        }
        Ok(d)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyNode>().is_ok_and(|o| NodeRef::ptr_eq(&o.get().node, &self.node))
    }
    fn __hash__(&self) -> isize {
        NodeRef::as_ptr(&self.node) as isize
    }
    fn __repr__(&self) -> String {
        format!("<{}>", self.node.name())
    }
}

// ---- custom Functions ---------------------------------------------------------------------

/// The `ctx` of a custom `Function`: saved tensors (version-checked), `needs_input_grad`,
/// and any attribute the forward sets.
#[pyclass(name = "FunctionCtx", module = "backprop.autograd", dict, subclass, frozen)]
pub struct FunctionCtx {
    saved: Mutex<Option<Vec<Option<(Tensor, u64)>>>>,
    released: Mutex<bool>,
    non_differentiable: Mutex<Vec<Tensor>>,
    needs_input_grad: Mutex<Py<PyTuple>>,
    materialize_grads: Mutex<bool>,
    name: Mutex<String>,
}

#[pymethods]
impl FunctionCtx {
    #[new]
    fn new(py: Python<'_>) -> FunctionCtx {
        FunctionCtx {
            saved: Mutex::new(None),
            released: Mutex::new(false),
            non_differentiable: Mutex::new(Vec::new()),
            needs_input_grad: Mutex::new(PyTuple::empty(py).unbind()),
            materialize_grads: Mutex::new(true),
            name: Mutex::new(String::new()),
        }
    }

    /// For each forward argument: whether its gradient is needed.
    #[getter]
    fn get_needs_input_grad(&self, py: Python<'_>) -> Py<PyTuple> {
        self.needs_input_grad.lock().clone_ref(py)
    }

    #[setter]
    fn set_needs_input_grad(&self, value: Bound<'_, PyTuple>) {
        *self.needs_input_grad.lock() = value.unbind();
    }

    #[pyo3(signature = (*tensors))]
    fn save_for_backward(&self, tensors: &Bound<'_, PyTuple>) -> PyResult<()> {
        let v = tensors
            .iter()
            .map(|o| {
                if o.is_none() {
                    Ok(None)
                } else {
                    let t = o.cast::<PyTensor>().map_err(|_| {
                        PyTypeError::new_err(format!("save_for_backward can only save tensors (or None), got {}", describe(&o)))
                    })?;
                    let t = t.get().t.clone();
                    Ok(Some((t.clone(), t.version())))
                }
            })
            .collect::<PyResult<_>>()?;
        *self.saved.lock() = Some(v);
        Ok(())
    }

    #[getter]
    fn saved_tensors<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        if *self.released.lock() {
            return Err(PyRuntimeError::new_err(format!(
                "trying to backward through the graph a second time (or to access saved tensors after they have \
                 already been freed) in {}. Specify retain_graph=True on the first backward call if you need to",
                self.name.lock()
            )));
        }
        let saved = self.saved.lock();
        let Some(v) = saved.as_ref() else { return Ok(PyTuple::empty(py)) };
        let mut out = Vec::with_capacity(v.len());
        for s in v {
            out.push(match s {
                None => None,
                Some((t, version)) => {
                    if t.version() != *version {
                        return Err(PyRuntimeError::new_err(format!(
                            "one of the tensors saved by {} with save_for_backward (shape {:?}) has been modified \
                             by an in-place operation: it is at version {}; expected version {version} instead",
                            self.name.lock(),
                            t.shape(),
                            t.version()
                        )));
                    }
                    Some(PyTensor::wrap(t.clone()))
                }
            });
        }
        PyTuple::new(py, out)
    }

    #[pyo3(signature = (*tensors))]
    fn mark_non_differentiable(&self, tensors: &Bound<'_, PyTuple>) -> PyResult<()> {
        let mut nd = self.non_differentiable.lock();
        for t in tensors.iter() {
            nd.push(t.cast::<PyTensor>()?.get().t.clone());
        }
        Ok(())
    }

    fn set_materialize_grads(&self, value: bool) {
        *self.materialize_grads.lock() = value;
    }
}

/// The tape node of a custom Function: backward calls the class's `backward(ctx, *grads)`.
struct PyFunctionNode {
    cls: Py<PyAny>,
    ctx: Py<FunctionCtx>,
    /// For each forward argument: its position among the node's tensor inputs, if a tensor.
    arg_slots: Vec<Option<usize>>,
    /// One entry per forward output: its metadata when it is a tensor (backward receives a
    /// gradient for every output; non-tensor outputs get None).
    outputs: Vec<Option<TensorMeta>>,
    name: String,
}

impl CustomOp for PyFunctionNode {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn backward(&self, grads: &[Option<Tensor>], needs: &[bool]) -> crate::Result<Vec<Option<Tensor>>> {
        Python::attach(|py| {
            let ctx = self.ctx.bind(py);
            let materialize = *ctx.get().materialize_grads.lock();
            let args: Vec<Bound<'_, PyAny>> = grads
                .iter()
                .zip(&self.outputs)
                .map(|(g, m)| -> crate::Result<Bound<'_, PyAny>> {
                    Ok(match (g, m) {
                        (_, None) => py.None().into_bound(py),
                        (Some(g), _) => Bound::new(py, PyTensor::wrap(g.clone())).map_err(foreign)?.into_any(),
                        (None, Some(m)) if materialize => {
                            Bound::new(py, PyTensor::wrap(ops::zeros_like_meta(m)?)).map_err(foreign)?.into_any()
                        }
                        (None, Some(_)) => py.None().into_bound(py),
                    })
                })
                .collect::<crate::Result<_>>()?;
            let mut call_args = vec![ctx.clone().into_any()];
            call_args.extend(args);
            let result = self
                .cls
                .bind(py)
                .call_method1("backward", PyTuple::new(py, call_args).map_err(foreign)?)
                .map_err(foreign)?;
            let items: Vec<Bound<'_, PyAny>> = match result.cast::<PyTuple>() {
                Ok(t) => t.iter().collect(),
                Err(_) => vec![result.clone()],
            };
            let n_args = self.arg_slots.len();
            // Trailing Nones for non-tensor arguments may be omitted, as in PyTorch.
            if items.len() > n_args || items.len() < self.arg_slots.iter().rposition(|s| s.is_some()).map_or(0, |p| p + 1) {
                return Err(autograd_err!(
                    "function {}.backward returned an incorrect number of gradients (expected {n_args}, got {})",
                    self.name,
                    items.len()
                ));
            }
            let n_tensors = self.arg_slots.iter().filter(|s| s.is_some()).count();
            let mut out: Vec<Option<Tensor>> = vec![None; n_tensors];
            for (i, item) in items.iter().enumerate() {
                match self.arg_slots[i] {
                    Some(slot) => {
                        if item.is_none() {
                            continue;
                        }
                        let t = item.cast::<PyTensor>().map_err(|_| {
                            Error::Type(format!("function {}.backward returned {} for argument {i}; expected a Tensor or None", self.name, describe(item)))
                        })?;
                        if needs[slot] {
                            out[slot] = Some(t.get().t.clone());
                        }
                    }
                    None if !item.is_none() => {
                        return Err(autograd_err!(
                            "function {}.backward returned a gradient for argument {i}, which is not a tensor; return None there",
                            self.name
                        ))
                    }
                    None => {}
                }
            }
            Ok(out)
        })
    }

    fn release_saved(&self) {
        Python::attach(|py| {
            let ctx = self.ctx.bind(py).get();
            *ctx.saved.lock() = None;
            *ctx.released.lock() = true;
        })
    }

    fn is_released(&self) -> bool {
        Python::attach(|py| *self.ctx.bind(py).get().released.lock())
    }
}

/// Attaches a custom Function's node to the outputs its forward returned (the Python
/// `Function.apply` runs the forward under no_grad and calls this).
#[pyfunction]
pub fn _record_function<'py>(
    py: Python<'py>,
    cls: &Bound<'py, PyAny>,
    ctx: &Bound<'py, FunctionCtx>,
    args: &Bound<'py, PyTuple>,
    outputs: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyAny>> {
    let name: String = cls.getattr("__name__")?.extract()?;
    *ctx.get().name.lock() = name.clone();
    let single = outputs.cast::<PyTuple>().is_err();
    let out_items: Vec<Bound<'py, PyAny>> = match outputs.cast::<PyTuple>() {
        Ok(t) => t.iter().collect(),
        Err(_) => vec![outputs.clone()],
    };
    let mut arg_slots = Vec::with_capacity(args.len());
    let mut inputs: Vec<Tensor> = Vec::new();
    for a in args.iter() {
        match a.cast::<PyTensor>() {
            Ok(t) => {
                arg_slots.push(Some(inputs.len()));
                inputs.push(t.get().t.clone());
            }
            Err(_) => arg_slots.push(None),
        }
    }
    let tracked = autograd::is_grad_enabled() && inputs.iter().any(|t| t.requires_grad());
    let non_diff: Vec<Tensor> = ctx.get().non_differentiable.lock().clone();
    // Fresh handles for the outputs: no output aliases an input or anything the ctx saved.
    let mut results: Vec<Bound<'py, PyAny>> = Vec::with_capacity(out_items.len());
    let mut metas: Vec<Option<TensorMeta>> = Vec::with_capacity(out_items.len());
    let mut differentiable: Vec<(u32, Tensor)> = Vec::new();
    for (nr, o) in out_items.iter().enumerate() {
        match o.cast::<PyTensor>() {
            Ok(t) => {
                let src = &t.get().t;
                let fresh = src.detach();
                if !non_diff.iter().any(|n| n.same_handle(src)) && fresh.dtype().is_float() {
                    differentiable.push((nr as u32, fresh.clone()));
                }
                metas.push(Some(TensorMeta::of(&fresh)));
                results.push(Bound::new(py, PyTensor::wrap(fresh))?.into_any());
            }
            Err(_) => {
                metas.push(None);
                results.push(o.clone());
            }
        }
    }
    if tracked && !differentiable.is_empty() {
        let edges: SmallVec<[Edge; 2]> = inputs
            .iter()
            .map(|t| match t.grad_fn() {
                Some(gf) => Edge::Node(gf),
                None if t.requires_grad() => Edge::Leaf(t.clone()),
                None => Edge::None,
            })
            .collect();
        let input_meta = inputs.iter().map(TensorMeta::of).collect();
        // Non-tensor outputs still take a slot, so output numbers match forward positions.
        let placeholder = TensorMeta { shape: Default::default(), dtype: crate::tensor::DType::F32, device: crate::tensor::Device::Cpu };
        let output_meta: SmallVec<[TensorMeta; 1]> = metas.iter().map(|m| m.clone().unwrap_or_else(|| placeholder.clone())).collect();
        let all_tensors = metas.iter().all(|m| m.is_some());
        let op = PyFunctionNode { cls: cls.clone().unbind(), ctx: ctx.clone().unbind(), arg_slots, outputs: metas, name: name.clone() };
        let kept = if all_tensors {
            let input_refs: Vec<&Tensor> = inputs.iter().collect();
            let outs: Vec<Tensor> = results.iter().filter_map(|r| r.cast::<PyTensor>().ok().map(|t| t.get().t.clone())).collect();
            let output_refs: Vec<&Tensor> = outs.iter().collect();
            autograd::Kept::keep(&input_refs, &output_refs, &edges, autograd::is_trace_all())
        } else {
            autograd::Kept::Nothing
        };
        let node = NodeRef::new(Node::new(ops::Op::Custom(Box::new(op)), edges, input_meta, output_meta, SmallVec::new(), kept));
        for (nr, t) in &differentiable {
            t.set_grad_fn(Some(GradFn { node: node.clone(), output_nr: *nr }));
        }
    }
    if single {
        Ok(results.pop().unwrap_or_else(|| py.None().into_bound(py)))
    } else {
        Ok(PyTuple::new(py, results)?.into_any())
    }
}
