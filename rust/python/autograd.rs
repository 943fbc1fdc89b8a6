//! Autograd from Python: `backward`, `autograd.grad`, grad mode and hooks. Graph inspection
//! (`grad_fn`'s nodes) is in `graph`, custom `autograd.Function`s in `function`.

use super::convert::describe;
use super::errors::foreign;
use super::graph::node_object;
use super::tensor::PyTensor;
use crate::autograd::{self, BackwardOptions, Hook, NodeRef};
use crate::error::Error;
use crate::ops;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
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

    /// True when `retain_grad()` was called on this non-leaf, so `backward()` keeps its `.grad`.
    #[getter]
    fn retains_grad(&self) -> bool {
        self.t.meta().retained().is_some()
    }

    /// The node that produced this tensor (None for a leaf), an instance of its PyTorch-named class.
    #[getter]
    fn grad_fn<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        self.t.grad_fn().map(|g| node_object(py, g.node, g.output_nr)).transpose()
    }

    /// A new tensor sharing the data but not the history: it never requires grad.
    fn detach(&self) -> PyTensor {
        PyTensor::wrap(self.t.detach())
    }

    /// Identity of the engine tensor behind this object (several Python objects can wrap one,
    /// e.g. `AccumulateGrad.variable`); graph tools use it to recognise leaves and constants.
    #[getter]
    fn _handle_id(&self) -> usize {
        self.t.id()
    }

    /// Sets `requires_grad` in place (leaves only); returns self.
    #[pyo3(signature = (requires_grad = true))]
    fn requires_grad_<'py>(slf: &Bound<'py, Self>, requires_grad: bool) -> PyResult<Bound<'py, Self>> {
        super::leaf_owner::set_requires_grad(slf, requires_grad)?;
        Ok(slf.clone())
    }
}

static HOOK_IDS: AtomicU64 = AtomicU64::new(1);

pub(super) fn next_hook_id() -> u64 {
    HOOK_IDS.fetch_add(1, Ordering::Relaxed)
}

fn add_hook(t: &Tensor, id: u64, f: Hook) -> RemovableHandle {
    match t.grad_fn() {
        Some(gf) => {
            gf.node.add_hook(id, gf.output_nr, f);
            RemovableHandle { id, target: Mutex::new(Some(HookTarget::Node(gf.node))) }
        }
        None => {
            t.meta().rare_mut().hooks.push((id, f));
            RemovableHandle { id, target: Mutex::new(Some(HookTarget::Leaf(t.clone()))) }
        }
    }
}

/// The handle of a hook registered on a node itself (`grad_fn.register_hook`).
pub(super) fn node_hook_handle(id: u64, node: NodeRef) -> RemovableHandle {
    RemovableHandle { id, target: Mutex::new(Some(HookTarget::Node(node))) }
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
    /// Unregisters the hook this handle was returned for.
    fn remove(&self) {
        match self.target.lock().take() {
            Some(HookTarget::Node(n)) => {
                n.remove_hook(self.id);
            }
            Some(HookTarget::Leaf(t)) => {
                // Dropped after the borrow ends: the hook's release may run Python code.
                let removed: Vec<_> = t.meta().rare_mut().hooks.extract_if(.., |(i, _)| *i == self.id).collect();
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

/// True when autograd records operations (not inside `no_grad()`).
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
