//! Rearranging, repeating, scattering and index-writing methods (`flip`, `roll`, `repeat`,
//! `scatter`, `index_add`, `masked_scatter`, `nonzero`, ...) and their in-place forms.
//! `backprop/__init__.py` binds the module-level functions of the same names to these.

use super::convert::{describe, parse_dims, parse_shape_signed};
use super::tensor::{ok, PyTensor, TResult};
use crate::ops::{self, Repeats, ScatterReduce, ScatterSrc};
use crate::tensor::{DType, Tensor};
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

/// A `src`/`value` argument: a tensor or a Python number.
fn scatter_src<'a>(obj: &'a Bound<'_, PyAny>, held: &'a mut Option<Tensor>, op: &str) -> PyResult<ScatterSrc<'a>> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        *held = Some(t.get().t.clone());
        return Ok(ScatterSrc::Tensor(held.as_ref().expect("just set")));
    }
    obj.extract::<f64>()
        .map(ScatterSrc::Value)
        .map_err(|_| PyTypeError::new_err(format!("{op}(): src must be a tensor or a number, got {}", describe(obj))))
}

/// `src=` or `value=` of `scatter` (exactly one).
fn src_or_value<'py>(src: Option<&Bound<'py, PyAny>>, value: Option<&Bound<'py, PyAny>>, op: &str) -> PyResult<Bound<'py, PyAny>> {
    match (src, value) {
        (Some(s), None) | (None, Some(s)) => Ok(s.clone()),
        (Some(_), Some(_)) => Err(PyTypeError::new_err(format!("{op}(): pass either src or value, not both"))),
        (None, None) => Err(PyTypeError::new_err(format!("{op}(): missing the src (a tensor) or value (a number) argument"))),
    }
}

/// A value of `index_fill`: a number, or a 0-d tensor (differentiable).
fn fill_value(obj: &Bound<'_, PyAny>, like: &Tensor) -> PyResult<Tensor> {
    if let Ok(t) = obj.cast::<PyTensor>() {
        return Ok(t.get().t.clone());
    }
    let v: f64 = obj
        .extract()
        .map_err(|_| PyTypeError::new_err(format!("index_fill(): value must be a number or a 0-d tensor, got {}", describe(obj))))?;
    Ok(ops::full(&[], v, like.dtype(), like.device())?)
}

/// `int` or a sequence of ints.
fn int_list(obj: &Bound<'_, PyAny>, what: &str, op: &str) -> PyResult<Vec<i64>> {
    if let Ok(v) = obj.extract::<i64>() {
        return Ok(vec![v]);
    }
    obj.extract::<Vec<i64>>()
        .map_err(|_| PyTypeError::new_err(format!("{op}(): {what} must be an int or a tuple of ints, got {}", describe(obj))))
}

fn index_tensors(indices: &Bound<'_, PyAny>) -> PyResult<Vec<Tensor>> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(t) = indices.cast::<PyTuple>() {
        t.iter().collect()
    } else if let Ok(l) = indices.cast::<PyList>() {
        l.iter().collect()
    } else {
        return Err(PyTypeError::new_err(format!("index_put(): indices must be a tuple of tensors, got {}", describe(indices))));
    };
    items
        .iter()
        .map(|i| {
            i.cast::<PyTensor>()
                .map(|t| t.get().t.clone())
                .map_err(|_| PyTypeError::new_err(format!("index_put(): indices must be tensors, got {}", describe(i))))
        })
        .collect()
}

#[pymethods]
impl PyTensor {
    /// Reverses the order of elements along `dims` (a copy, as in PyTorch).
    ///
    /// Args: dims: ints, as varargs or one sequence.
    /// Returns: a new tensor of the same shape.
    #[pyo3(signature = (*dims))]
    fn flip(&self, dims: &Bound<'_, PyTuple>) -> TResult {
        let d = parse_shape_signed(dims)?;
        ok(ops::flip(&self.t, &d))
    }
    /// Flips left/right: reverses dim 1 of a tensor with at least 2 dims.
    fn fliplr(&self) -> TResult {
        ok(ops::flip_dim_checked(&self.t, 1, 2, "fliplr"))
    }
    /// Flips up/down: reverses dim 0 of a tensor with at least 1 dim.
    fn flipud(&self) -> TResult {
        ok(ops::flip_dim_checked(&self.t, 0, 1, "flipud"))
    }
    /// Rolls elements along `dims` by `shifts` (wrapping around); without dims, over the
    /// flattened tensor, keeping the shape.
    ///
    /// Args: shifts: int or tuple of ints; dims: int, tuple of ints or None.
    /// Returns: a new tensor of the same shape.
    #[pyo3(signature = (shifts, dims = None))]
    fn roll(&self, shifts: &Bound<'_, PyAny>, dims: Option<&Bound<'_, PyAny>>) -> TResult {
        let s = int_list(shifts, "shifts", "roll")?;
        let d = parse_dims(dims)?.unwrap_or_default();
        ok(ops::roll(&self.t, &s, &d))
    }
    /// Rotates by 90 degrees `k` times in the plane of `dims`, from the first dim towards the second.
    ///
    /// Args: k: number of rotations (negative turns the other way); dims: two distinct dims.
    /// Returns: a new tensor.
    #[pyo3(signature = (k = 1, dims = None))]
    fn rot90(&self, k: i64, dims: Option<&Bound<'_, PyAny>>) -> TResult {
        let d = parse_dims(dims)?.unwrap_or_else(|| vec![0, 1]);
        ok(ops::rot90(&self.t, k, &d))
    }
    /// Tiles the tensor `sizes[i]` times along each dim; extra leading sizes add new dims.
    ///
    /// Args: sizes: ints, as varargs or one sequence (at least `ndim` of them).
    /// Returns: a new tensor of shape `sizes[i] * shape[i]`.
    #[pyo3(signature = (*sizes))]
    fn repeat(&self, sizes: &Bound<'_, PyTuple>) -> TResult {
        ok(ops::repeat(&self.t, &parse_shape_signed(sizes)?))
    }
    /// Like `repeat`, but with fewer sizes than dims the missing leading ones count as 1.
    ///
    /// Args: dims: ints, as varargs or one sequence.
    /// Returns: a new tensor.
    #[pyo3(signature = (*dims))]
    fn tile(&self, dims: &Bound<'_, PyTuple>) -> TResult {
        ok(ops::tile(&self.t, &parse_shape_signed(dims)?))
    }
    /// Repeats each element (or each slice along `dim`) `repeats` times in place; without a
    /// dim, over the flattened tensor. Called on an integer tensor with no `repeats`, returns
    /// the indices `[0]*r0 + [1]*r1 + ...` (`torch.repeat_interleave(repeats)`).
    ///
    /// Args: repeats: int or integer tensor (one count, or one per slice); dim: int or None;
    /// output_size: the total length along `dim`, checked when given.
    /// Returns: a new tensor.
    #[pyo3(signature = (repeats = None, dim = None, *, output_size = None))]
    fn repeat_interleave(&self, repeats: Option<&Bound<'_, PyAny>>, dim: Option<isize>, output_size: Option<usize>) -> TResult {
        let Some(repeats) = repeats else {
            let n = self.t.shape().first().copied().unwrap_or(1);
            let idx = ops::arange(0.0, n as f64, 1.0, DType::I64, self.t.device())?;
            return ok(ops::repeat_interleave(&idx, Repeats::Tensor(&self.t), Some(0), output_size));
        };
        if let Ok(r) = repeats.cast::<PyTensor>() {
            return ok(ops::repeat_interleave(&self.t, Repeats::Tensor(&r.get().t), dim, output_size));
        }
        let r: i64 = repeats
            .extract()
            .map_err(|_| PyTypeError::new_err(format!("repeat_interleave(): repeats must be an int or a tensor, got {}", describe(repeats))))?;
        ok(ops::repeat_interleave(&self.t, Repeats::Each(r), dim, output_size))
    }
    /// Moves dims `source` to positions `destination` (a view); the other dims keep their order.
    ///
    /// Args: source, destination: ints or tuples of ints of the same length.
    /// Returns: a view of the tensor.
    fn movedim(&self, source: &Bound<'_, PyAny>, destination: &Bound<'_, PyAny>) -> TResult {
        let s = parse_dims(Some(source))?.unwrap_or_default();
        let d = parse_dims(Some(destination))?.unwrap_or_default();
        ok(ops::movedim(&self.t, &s, &d))
    }
    /// Alias of `movedim`.
    fn moveaxis(&self, source: &Bound<'_, PyAny>, destination: &Bound<'_, PyAny>) -> TResult {
        self.movedim(source, destination)
    }
    /// Alias of `transpose(dim0, dim1)` (a view).
    fn swapdims(&self, dim0: isize, dim1: isize) -> TResult {
        ok(ops::transpose(&self.t, dim0, dim1))
    }

    /// Out of place `scatter_`: a copy with `out[i][index[i][j]] = src[i][j]` for dim 1 (any
    /// dim, any rank); `reduce` ("add" or "multiply") combines with the existing values.
    ///
    /// Args: dim; index: integer tensor; src: tensor or number (or `value=`); reduce: None, "add", "multiply".
    /// Returns: a new tensor of self's shape.
    #[pyo3(signature = (dim, index, src = None, *, value = None, reduce = None))]
    fn scatter(&self, dim: isize, index: &PyTensor, src: Option<&Bound<'_, PyAny>>, value: Option<&Bound<'_, PyAny>>, reduce: Option<&str>) -> TResult {
        let obj = src_or_value(src, value, "scatter")?;
        let mut held = None;
        let s = scatter_src(&obj, &mut held, "scatter")?;
        ok(ops::scatter(&self.t, dim, &index.t, s, reduce))
    }
    /// In place `scatter`; returns self.
    #[pyo3(signature = (dim, index, src = None, *, value = None, reduce = None))]
    fn scatter_<'py>(slf: &Bound<'py, Self>, dim: isize, index: &PyTensor, src: Option<&Bound<'py, PyAny>>, value: Option<&Bound<'py, PyAny>>, reduce: Option<&str>) -> PyResult<Bound<'py, Self>> {
        let obj = src_or_value(src, value, "scatter_")?;
        let mut held = None;
        let s = scatter_src(&obj, &mut held, "scatter_")?;
        ops::scatter_(&slf.get().t, dim, &index.t, s, reduce)?;
        Ok(slf.clone())
    }
    /// A copy with `src` added at the positions `index` picks along `dim` (repeats accumulate).
    ///
    /// Args: dim; index: integer tensor; src: tensor of self's dtype covering index's shape.
    /// Returns: a new tensor of self's shape.
    fn scatter_add(&self, dim: isize, index: &PyTensor, src: &PyTensor) -> TResult {
        ok(ops::scatter_add(&self.t, dim, &index.t, &src.t))
    }
    /// In place `scatter_add`; returns self.
    fn scatter_add_<'py>(slf: &Bound<'py, Self>, dim: isize, index: &PyTensor, src: &PyTensor) -> PyResult<Bound<'py, Self>> {
        ops::scatter_add_(&slf.get().t, dim, &index.t, &src.t)?;
        Ok(slf.clone())
    }
    /// A copy where the values of `src` scattered to each position along `dim` are combined
    /// by `reduce` ("sum", "prod", "mean", "amax", "amin"), with self's value included when `include_self`.
    ///
    /// Returns: a new tensor of self's shape.
    #[pyo3(signature = (dim, index, src, reduce, *, include_self = true))]
    fn scatter_reduce(&self, dim: isize, index: &PyTensor, src: &PyTensor, reduce: &str, include_self: bool) -> TResult {
        ok(ops::scatter_reduce(&self.t, dim, &index.t, &src.t, ScatterReduce::parse(reduce)?, include_self))
    }
    /// In place `scatter_reduce`; returns self.
    #[pyo3(signature = (dim, index, src, reduce, *, include_self = true))]
    fn scatter_reduce_<'py>(slf: &Bound<'py, Self>, dim: isize, index: &PyTensor, src: &PyTensor, reduce: &str, include_self: bool) -> PyResult<Bound<'py, Self>> {
        ops::scatter_reduce_(&slf.get().t, dim, &index.t, &src.t, ScatterReduce::parse(reduce)?, include_self)?;
        Ok(slf.clone())
    }
    /// A copy with `alpha * source[..., j, ...]` added at `index[j]` along `dim`.
    ///
    /// Args: dim; index: 1-D integer tensor; source: self's shape with len(index) along dim; alpha: scale.
    /// Returns: a new tensor of self's shape.
    #[pyo3(signature = (dim, index, source, *, alpha = 1.0))]
    fn index_add(&self, dim: isize, index: &PyTensor, source: &PyTensor, alpha: f64) -> TResult {
        ok(ops::index_add(&self.t, dim, &index.t, &source.t, alpha))
    }
    /// In place `index_add`; returns self.
    #[pyo3(signature = (dim, index, source, *, alpha = 1.0))]
    fn index_add_<'py>(slf: &Bound<'py, Self>, dim: isize, index: &PyTensor, source: &PyTensor, alpha: f64) -> PyResult<Bound<'py, Self>> {
        ops::index_add_(&slf.get().t, dim, &index.t, &source.t, alpha)?;
        Ok(slf.clone())
    }
    /// A copy with `source[..., j, ...]` written at `index[j]` along `dim`.
    ///
    /// Returns: a new tensor of self's shape.
    fn index_copy(&self, dim: isize, index: &PyTensor, source: &PyTensor) -> TResult {
        ok(ops::index_copy(&self.t, dim, &index.t, &source.t))
    }
    /// In place `index_copy`; returns self.
    fn index_copy_<'py>(slf: &Bound<'py, Self>, dim: isize, index: &PyTensor, source: &PyTensor) -> PyResult<Bound<'py, Self>> {
        ops::index_copy_(&slf.get().t, dim, &index.t, &source.t)?;
        Ok(slf.clone())
    }
    /// A copy with the slices at `index` along `dim` set to `value` (a number or 0-d tensor).
    ///
    /// Returns: a new tensor of self's shape.
    fn index_fill(&self, dim: isize, index: &PyTensor, value: &Bound<'_, PyAny>) -> TResult {
        let v = fill_value(value, &self.t)?;
        ok(ops::index_fill(&self.t, dim, &index.t, &v))
    }
    /// In place `index_fill`; returns self.
    fn index_fill_<'py>(slf: &Bound<'py, Self>, dim: isize, index: &PyTensor, value: &Bound<'py, PyAny>) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let v = fill_value(value, t)?;
        ops::index_fill_(t, dim, &index.t, &v)?;
        Ok(slf.clone())
    }
    /// A copy with `values` written at `self[indices]` (added when `accumulate`).
    ///
    /// Args: indices: tuple of integer or bool tensors; values: tensor broadcastable to the region.
    /// Returns: a new tensor of self's shape.
    #[pyo3(signature = (indices, values, accumulate = false))]
    fn index_put(&self, indices: &Bound<'_, PyAny>, values: &PyTensor, accumulate: bool) -> TResult {
        ok(ops::index_put(&self.t, &index_tensors(indices)?, &values.t, accumulate))
    }
    /// In place `index_put`; returns self.
    #[pyo3(signature = (indices, values, accumulate = false))]
    fn index_put_<'py>(slf: &Bound<'py, Self>, indices: &Bound<'py, PyAny>, values: &PyTensor, accumulate: bool) -> PyResult<Bound<'py, Self>> {
        let t = &slf.get().t;
        let idx = index_tensors(indices)?;
        if accumulate {
            ops::index_put_accumulate_(t, &idx, &values.t)?;
        } else {
            let key: Vec<ops::IndexItem> = idx.into_iter().map(ops::IndexItem::Tensor).collect();
            if values.t.dtype() != t.dtype() {
                return Err(crate::error::Error::DType(format!(
                    "index_put_(): values ({}) must have self's dtype ({}); convert with .to()",
                    values.t.dtype().name(),
                    t.dtype().name()
                ))
                .into());
            }
            ops::index_put_(t, &key, &values.t)?;
        }
        Ok(slf.clone())
    }
    /// A copy (of self broadcast with `mask`) whose positions where `mask` holds are filled,
    /// in row-major order, with the leading elements of `source`.
    ///
    /// Args: mask: bool tensor; source: tensor of self's dtype with at least mask.sum() elements.
    /// Returns: a new tensor.
    fn masked_scatter(&self, mask: &PyTensor, source: &PyTensor) -> TResult {
        ok(ops::masked_scatter(&self.t, &mask.t, &source.t))
    }
    /// In place `masked_scatter`; returns self.
    fn masked_scatter_<'py>(slf: &Bound<'py, Self>, mask: &PyTensor, source: &PyTensor) -> PyResult<Bound<'py, Self>> {
        ops::masked_scatter_(&slf.get().t, &mask.t, &source.t)?;
        Ok(slf.clone())
    }
    /// The elements where the bool `mask` (broadcast with self) holds, as a 1-D tensor.
    fn masked_select(&self, mask: &PyTensor) -> TResult {
        ok(ops::masked_select(&self.t, &mask.t))
    }
    /// The coordinates of the non-zero elements: an int64 tensor of shape (count, ndim), or
    /// with `as_tuple=True` one 1-D tensor per dim.
    #[pyo3(signature = (*, as_tuple = false))]
    fn nonzero<'py>(&self, py: Python<'py>, as_tuple: bool) -> PyResult<Bound<'py, PyAny>> {
        if as_tuple {
            let cols = ops::nonzero_tuple(&self.t)?;
            return Ok(PyTuple::new(py, cols.into_iter().map(PyTensor::wrap))?.into_any());
        }
        Ok(Bound::new(py, PyTensor::wrap(ops::nonzero(&self.t)?))?.into_any())
    }
    /// The coordinates of the non-zero elements, shape (count, ndim) (`nonzero()`).
    fn argwhere(&self) -> TResult {
        ok(ops::nonzero(&self.t))
    }
    /// Elements of the tensor read as 1-D at `index` (negatives count from the end), shaped like `index`.
    fn take(&self, index: &PyTensor) -> TResult {
        ok(ops::take_flat(&self.t, &index.t))
    }
    /// `gather` along `dim` after broadcasting self and `indices` (except along dim); with
    /// dim None, over the flattened tensors.
    #[pyo3(signature = (indices, dim = None))]
    fn take_along_dim(&self, indices: &PyTensor, dim: Option<isize>) -> TResult {
        ok(ops::take_along_dim(&self.t, &indices.t, dim))
    }
}
