//! Custom `autograd.Function`s: the `ctx` their forward and backward share, and the tape node
//! that calls the class's `backward`. `Function.apply` (Python) runs the forward under no_grad
//! and hands the outputs to `_record_function`, which records them through
//! `autograd::record_custom`.

use super::convert::describe;
use super::errors::foreign;
use super::tensor::PyTensor;
use crate::autograd::{self, CustomOp, TensorMeta};
use crate::error::{autograd_err, Error};
use crate::ops;
use crate::tensor::Tensor;
use parking_lot::Mutex;
use pyo3::exceptions::{PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;

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

    /// Saves tensors for `backward` (read them as `ctx.saved_tensors`); checked against in-place changes.
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

    /// The tensors saved with `save_for_backward`, as a tuple.
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

    /// Marks outputs that have no gradient (e.g. indices); backward receives zeros for them.
    #[pyo3(signature = (*tensors))]
    fn mark_non_differentiable(&self, tensors: &Bound<'_, PyTuple>) -> PyResult<()> {
        let mut nd = self.non_differentiable.lock();
        for t in tensors.iter() {
            nd.push(t.cast::<PyTensor>()?.get().t.clone());
        }
        Ok(())
    }

    /// Whether `backward` gets zero tensors (True, the default) or None for outputs that got no gradient.
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
    ctx.get().name.lock().clone_from(&name);
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
    let non_diff: Vec<Tensor> = ctx.get().non_differentiable.lock().clone();
    // Fresh handles for the outputs: no output aliases an input or anything the ctx saved.
    let mut results: Vec<Bound<'py, PyAny>> = Vec::with_capacity(out_items.len());
    let mut fresh: Vec<Option<Tensor>> = Vec::with_capacity(out_items.len());
    let mut differentiable: Vec<bool> = Vec::with_capacity(out_items.len());
    for o in &out_items {
        match o.cast::<PyTensor>() {
            Ok(t) => {
                let src = &t.get().t;
                let out = src.detach();
                differentiable.push(!non_diff.iter().any(|n| n.same_handle(src)));
                results.push(Bound::new(py, PyTensor::wrap(out.clone()))?.into_any());
                fresh.push(Some(out));
            }
            Err(_) => {
                differentiable.push(false);
                results.push(o.clone());
                fresh.push(None);
            }
        }
    }
    let metas: Vec<Option<TensorMeta>> = fresh.iter().map(|t| t.as_ref().map(TensorMeta::of)).collect();
    let op = PyFunctionNode { cls: cls.clone().unbind(), ctx: ctx.clone().unbind(), arg_slots, outputs: metas, name };
    let input_refs: Vec<&Tensor> = inputs.iter().collect();
    let output_refs: Vec<Option<&Tensor>> = fresh.iter().map(Option::as_ref).collect();
    autograd::record_custom(Box::new(op), &input_refs, &output_refs, &differentiable);
    if single {
        Ok(results.pop().unwrap_or_else(|| py.None().into_bound(py)))
    } else {
        Ok(PyTuple::new(py, results)?.into_any())
    }
}
