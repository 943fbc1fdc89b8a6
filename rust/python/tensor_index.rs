//! `tensor[key]` and `tensor[key] = value`.

use super::convert::{describe, operand, tensor_from_py};
use super::tensor::{ok, PyTensor, TResult};
use crate::ops::{self, IndexItem};
use crate::tensor::DType;
use pyo3::exceptions::{PyIndexError, PyTypeError};
use pyo3::prelude::*;
use pyo3::types::{PyBool, PyEllipsis, PyInt, PyList, PySlice, PyTuple};

fn item(obj: &Bound<'_, PyAny>, device: crate::tensor::Device) -> PyResult<IndexItem> {
    if obj.is_none() {
        return Ok(IndexItem::NewAxis);
    }
    if obj.is_instance_of::<PyEllipsis>() {
        return Ok(IndexItem::Ellipsis);
    }
    if obj.is_instance_of::<PyBool>() {
        return Err(PyIndexError::new_err("indexing with a Python bool is not supported; use a bool tensor mask"));
    }
    if let Ok(i) = obj.cast::<PyInt>() {
        return Ok(IndexItem::Int(i.extract()?));
    }
    if let Ok(s) = obj.cast::<PySlice>() {
        let get = |name: &str| -> PyResult<Option<isize>> {
            let v = s.getattr(name)?;
            if v.is_none() {
                Ok(None)
            } else {
                v.extract::<isize>().map(Some).map_err(|_| PyTypeError::new_err(format!("slice {name} must be an int or None, got {}", describe(&v))))
            }
        };
        return Ok(IndexItem::Slice { start: get("start")?, stop: get("stop")?, step: get("step")?.unwrap_or(1) });
    }
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(IndexItem::Tensor(t.get().t.clone()));
    }
    if obj.is_instance_of::<PyList>() || obj.hasattr("__array__")? {
        let t = tensor_from_py(obj, None, device)?;
        let t = if t.numel() == 0 { ops::cast(&t, DType::I64)? } else { t };
        return Ok(IndexItem::Tensor(t));
    }
    if let Ok(i) = obj.call_method0("__index__").and_then(|i| i.extract::<isize>()) {
        return Ok(IndexItem::Int(i));
    }
    Err(PyIndexError::new_err(format!(
        "only integers, slices (:), ellipsis (...), None and integer or bool tensors are valid indices, got {}",
        describe(obj)
    )))
}

fn parse_key(key: &Bound<'_, PyAny>, device: crate::tensor::Device) -> PyResult<Vec<IndexItem>> {
    match key.cast::<PyTuple>() {
        Ok(t) => t.iter().map(|k| item(&k, device)).collect(),
        Err(_) => Ok(vec![item(key, device)?]),
    }
}

#[pymethods]
impl PyTensor {
    /// Indexing as in PyTorch: ints, slices, None, Ellipsis, bool masks and integer tensors or lists.
    fn __getitem__(&self, key: &Bound<'_, PyAny>) -> TResult {
        // Fast path for x[i] on the first dim.
        if let Ok(i) = key.cast::<PyInt>() {
            if !key.is_instance_of::<PyBool>() && self.t.ndim() > 0 {
                return ok(ops::select(&self.t, 0, i.extract()?));
            }
        }
        let items = parse_key(key, self.t.device())?;
        ok(ops::index(&self.t, &items))
    }

    /// Assignment through an index (as `__getitem__`'s), in place, from a tensor or a number.
    fn __setitem__(&self, key: &Bound<'_, PyAny>, value: &Bound<'_, PyAny>) -> PyResult<()> {
        let items = parse_key(key, self.t.device())?;
        let v = operand(value, &self.t)?
            .ok_or_else(|| PyTypeError::new_err(format!("__setitem__: cannot assign {}", describe(value))))?;
        Ok(ops::index_put_(&self.t, &items, &v)?)
    }
}
