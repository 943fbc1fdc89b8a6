//! Graph inspection from Python: `tensor.grad_fn` is a `Node` with PyTorch's `name()` and
//! `next_functions`, plus what the lecture's pictures read (values, gradients, constants).

use super::autograd::{next_hook_id, node_hook_handle, RemovableHandle};
use super::convert::describe;
use super::errors::foreign;
use super::tensor::PyTensor;
use crate::autograd::{Edge, NodeRef, PostHook, PreHook, TensorMeta};
use crate::error::Error;
use crate::kinds::UnaryKind;
use crate::ops::{self, MatmulOp, Op, OpParam, ReduceOp};
use crate::tensor::Tensor;
use pyo3::exceptions::{PyAttributeError, PyRuntimeError, PyTypeError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyList, PyTuple};
use std::sync::Arc;

/// A node of the recorded graph (`tensor.grad_fn`), PyTorch-style: `name()`, `next_functions`.
/// Each node is an instance of a subclass named as PyTorch names it (`MulBackward0`), made on
/// first use (`node_object`).
#[pyclass(name = "Node", module = "backprop.autograd.graph", frozen, subclass)]
pub struct PyNode {
    pub node: NodeRef,
    pub output_nr: u32,
}

/// One subclass of `Node` per PyTorch node name.
static NODE_CLASSES: PyOnceLock<Py<PyDict>> = PyOnceLock::new();

/// `node` as a Python object of its named class (`type(t.grad_fn).__name__ == "MulBackward0"`).
pub fn node_object<'py>(py: Python<'py>, node: NodeRef, output_nr: u32) -> PyResult<Bound<'py, PyAny>> {
    let name = node.name();
    let classes = NODE_CLASSES.get_or_init(py, || PyDict::new(py).unbind()).bind(py);
    let class = match classes.get_item(&name)? {
        Some(c) => c,
        None => {
            let namespace = PyDict::new(py);
            namespace.set_item("__module__", "backprop.autograd.graph")?;
            namespace.set_item("__slots__", PyTuple::empty(py))?;
            namespace.set_item("__doc__", format!("A recorded {name} node (see backprop.autograd.graph.Node)."))?;
            let bases = PyTuple::new(py, [py.get_type::<PyNode>()])?;
            let c = py.get_type::<pyo3::types::PyType>().call1((name.as_str(), bases, namespace))?;
            classes.set_item(&name, &c)?;
            c
        }
    };
    let base = Bound::new(py, PyNode { node, output_nr })?;
    class.call1((base,))
}

fn param_object<'py>(py: Python<'py>, p: OpParam) -> PyResult<Bound<'py, PyAny>> {
    Ok(match p {
        OpParam::Float(v) => v.into_pyobject(py)?.into_any(),
        OpParam::Int(v) => v.into_pyobject(py)?.into_any(),
        OpParam::Ints(v) => PyTuple::new(py, v)?.into_any(),
        OpParam::Bool(v) => pyo3::types::PyBool::new(py, v).to_owned().into_any(),
        OpParam::Tensor(t) => Bound::new(py, PyTensor::wrap(t))?.into_any(),
    })
}

/// Where a `grad_fn._saved_<name>` attribute comes from.
enum SavedAttr {
    /// The node's saved tensor at this position (None when the op did not need to save it).
    Slot(usize),
    /// Its transpose (PyTorch's addmm saves `mat2 = weight.T`).
    TransposedSlot(usize),
    /// An op parameter, under our name for it.
    Param(&'static str),
    /// The shape of the first input.
    InputSizes,
    /// A constant of the PyTorch signature that our op fixes (addmm's alpha and beta are 1).
    One,
}

/// PyTorch's saved-attribute names for the node `op` (the common nodes), else a parameter
/// of the op under its own name.
fn saved_attr(op: &Op, name: &str) -> Option<SavedAttr> {
    use SavedAttr::*;
    let found = match (op, name) {
        (_, "self_sym_sizes") => Some(InputSizes),
        (Op::Binary(b), _) => match (b.name(), name) {
            ("add" | "sub", "alpha") => Some(One),
            (_, "self") => Some(Slot(0)),
            ("pow", "exponent") => Some(Slot(1)),
            (_, "other") => Some(Slot(1)),
            (_, "result") => Some(Slot(2)),
            _ => None,
        },
        (Op::Unary(u), "self" | "result") => {
            let saves_output = UnaryKind::from_name(u.name()).is_some_and(|k| k.saves_output());
            (saves_output == (name == "result")).then_some(Slot(0))
        }
        (Op::Matmul(MatmulOp::Matmul), "self") => Some(Slot(0)),
        (Op::Matmul(MatmulOp::Matmul), "mat2") => Some(Slot(1)),
        (Op::Matmul(MatmulOp::Linear), "mat1") => Some(Slot(0)),
        (Op::Matmul(MatmulOp::Linear), "mat2") => Some(TransposedSlot(1)),
        (Op::Matmul(MatmulOp::Linear), "alpha" | "beta") => Some(One),
        (Op::Nn(_), "result") => Some(Slot(0)),
        (Op::Reduce(ReduceOp::Extremum { .. } | ReduceOp::Std { .. } | ReduceOp::Norm { .. }), "self") => Some(Slot(0)),
        (Op::Reduce(ReduceOp::Extremum { .. } | ReduceOp::Std { .. } | ReduceOp::Norm { .. }), "result") => Some(Slot(1)),
        (Op::Reduce(ReduceOp::Norm { .. }), "ord") => Some(Param("p")),
        (Op::Where, "condition") => Some(Slot(0)),
        (Op::Norm(_), "input") => Some(Slot(0)),
        (Op::Norm(_), "result") => Some(Slot(1)),
        _ => None,
    };
    found.or_else(|| op.params().into_iter().find(|(n, _)| *n == name).map(|(n, _)| Param(n)))
}

/// `grad_fn._saved_<name>`.
fn saved_attribute<'py>(py: Python<'py>, node: &NodeRef, attr: &str) -> PyResult<Bound<'py, PyAny>> {
    let missing = || PyAttributeError::new_err(format!("'{}' object has no attribute '{attr}'", node.name()));
    let name = attr.strip_prefix("_saved_").ok_or_else(missing)?;
    let Some(what) = saved_attr(node.op(), name) else { return Err(missing()) };
    let slot = |i: usize| -> PyResult<Option<Tensor>> {
        if node.saved_released() {
            return Err(PyRuntimeError::new_err(node.freed_saved_error().to_string()));
        }
        let saved = node.saved_tensors_raw()?.unwrap_or_default();
        Ok(saved.get(i).cloned().flatten())
    };
    let tensor = |t: Option<Tensor>| -> PyResult<Bound<'py, PyAny>> {
        match t {
            Some(t) => Ok(Bound::new(py, PyTensor::wrap(t))?.into_any()),
            None => Ok(py.None().into_bound(py)),
        }
    };
    match what {
        SavedAttr::Slot(i) => tensor(slot(i)?),
        SavedAttr::TransposedSlot(i) => {
            let t = slot(i)?.map(|t| -> crate::Result<Tensor> {
                let _off = crate::autograd::GradModeGuard::new(false);
                ops::transpose(&t, 0, 1)
            });
            tensor(t.transpose()?)
        }
        SavedAttr::Param(p) => {
            let value = node.op().params().into_iter().find(|(n, _)| *n == p).map(|(_, v)| v).ok_or_else(missing)?;
            param_object(py, value)
        }
        SavedAttr::InputSizes => {
            let shape = node.inputs().first().map(|m| m.shape.to_vec()).unwrap_or_default();
            Ok(PyTuple::new(py, shape)?.into_any())
        }
        SavedAttr::One => Ok(1i64.into_pyobject(py)?.into_any()),
    }
}

fn optional_tensors<'py>(py: Python<'py>, v: &[Option<Tensor>]) -> PyResult<Bound<'py, PyTuple>> {
    PyTuple::new(py, v.iter().map(|t| t.clone().map(PyTensor::wrap)))
}

/// A hook's result: None (keep) or a sequence of `n` tensors-or-None.
fn hook_result(r: &Bound<'_, PyAny>, what: &str) -> crate::Result<Option<Vec<Option<Tensor>>>> {
    if r.is_none() {
        return Ok(None);
    }
    let bad = || Error::Type(format!("{what} must return None or a tuple of tensors (or None), got {}", describe(r)));
    let items = r.try_iter().map_err(|_| bad())?;
    let mut out = Vec::new();
    for item in items {
        let item = item.map_err(foreign)?;
        out.push(if item.is_none() { None } else { Some(item.cast::<PyTensor>().map_err(|_| bad())?.get().t.clone()) });
    }
    Ok(Some(out))
}

/// The sink of a leaf's gradient, as PyTorch shows it in `next_functions`.
#[pyclass(name = "AccumulateGrad", module = "backprop.autograd", frozen)]
pub struct PyAccumulateGrad {
    leaf: Tensor,
}

#[pymethods]
impl PyAccumulateGrad {
    /// The operation's name, as PyTorch prints it (e.g. `MulBackward0`).
    fn name(&self) -> &'static str {
        "AccumulateGrad"
    }
    /// The leaf tensor whose gradient this node accumulates.
    #[getter]
    fn variable<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        super::leaf_owner::object_of(py, &self.leaf)
    }
    /// `((node, output_nr), ...)`: where this node's input gradients flow next (None for inputs that need none).
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
    /// The same node again (how the named subclasses are instantiated: `MulBackward0(node)`).
    #[new]
    fn py_new(node: PyRef<'_, PyNode>) -> PyNode {
        PyNode { node: node.node.clone(), output_nr: node.output_nr }
    }

    /// The node's name as PyTorch prints it: `MulBackward0`, `AddmmBackward0`, ...
    fn name(&self) -> String {
        self.node.name()
    }

    /// A dict kept with the node for the user's own annotations (the same dict every time).
    #[getter]
    fn metadata<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyDict>> {
        let kept = self.node.extra(|| PyDict::new(py).unbind()).ok_or_else(|| PyRuntimeError::new_err("node metadata slot holds another type"))?;
        Ok(kept.bind(py).clone())
    }

    /// Registers `hook(grad_inputs, grad_outputs)`, run after this node computed the gradients
    /// of its inputs; it may return replacement `grad_inputs` (a tuple, one per input). Returns
    /// a handle whose `.remove()` unregisters it.
    fn register_hook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<RemovableHandle> {
        if !hook.bind(py).is_callable() {
            return Err(PyTypeError::new_err(format!("register_hook: expected a callable hook(grad_inputs, grad_outputs), got {}", describe(hook.bind(py)))));
        }
        let id = next_hook_id();
        let f: PostHook = Arc::new(move |inputs: &[Option<Tensor>], outputs: &[Option<Tensor>]| {
            Python::attach(|py| {
                let r = hook.call1(py, (optional_tensors(py, inputs).map_err(foreign)?, optional_tensors(py, outputs).map_err(foreign)?)).map_err(foreign)?;
                hook_result(r.bind(py), "a node hook")
            })
        });
        self.node.add_post_hook(id, f);
        Ok(node_hook_handle(id, self.node.clone()))
    }

    /// Registers `hook(grad_outputs)`, run before this node computes anything; it may return
    /// replacement `grad_outputs` (a tuple, one per output). Returns a handle with `.remove()`.
    fn register_prehook(&self, py: Python<'_>, hook: Py<PyAny>) -> PyResult<RemovableHandle> {
        if !hook.bind(py).is_callable() {
            return Err(PyTypeError::new_err(format!("register_prehook: expected a callable hook(grad_outputs), got {}", describe(hook.bind(py)))));
        }
        let id = next_hook_id();
        let f: PreHook = Arc::new(move |outputs: &[Option<Tensor>]| {
            Python::attach(|py| {
                let r = hook.call1(py, (optional_tensors(py, outputs).map_err(foreign)?,)).map_err(foreign)?;
                hook_result(r.bind(py), "a node pre-hook")
            })
        });
        self.node.add_pre_hook(id, f);
        Ok(node_hook_handle(id, self.node.clone()))
    }

    /// `_saved_self`, `_saved_other`, `_saved_result`, `_saved_mat1`, `_saved_dim`, ...: what
    /// the node saved for backward, under PyTorch's names.
    fn __getattr__<'py>(&self, py: Python<'py>, attr: &str) -> PyResult<Bound<'py, PyAny>> {
        saved_attribute(py, &self.node, attr)
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
                    Edge::Node(gf) => (node_object(py, gf.node.clone(), gf.output_nr)?, gf.output_nr),
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
        match self.node.saved_tensors_raw()? {
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
            d.set_item(name, param_object(py, p)?)?;
        }
        Ok(d)
    }
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> bool {
        other.cast::<PyNode>().is_ok_and(|o| NodeRef::ptr_eq(&o.get().node, &self.node))
    }
    fn __hash__(&self) -> isize {
        NodeRef::as_ptr(&self.node) as isize
    }
    fn __repr__(slf: &Bound<'_, Self>) -> String {
        format!("<{} object at {:#x}>", slf.get().node.name(), slf.as_ptr() as usize)
    }
}
