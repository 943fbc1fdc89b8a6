//! Graph inspection from Python: `tensor.grad_fn` is a `Node` with PyTorch's `name()` and
//! `next_functions`, plus what the lecture's pictures read (values, gradients, constants).

use super::tensor::PyTensor;
use crate::autograd::{Edge, NodeRef, TensorMeta};
use crate::ops;
use crate::tensor::Tensor;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

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
    /// The operation's name, as PyTorch prints it (e.g. `MulBackward0`).
    fn name(&self) -> &'static str {
        "AccumulateGrad"
    }
    /// The leaf tensor whose gradient this node accumulates.
    #[getter]
    fn variable(&self) -> PyTensor {
        PyTensor::wrap(self.leaf.clone())
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
