//! Bindings of the scans, sorts, selections, counting reductions and comparisons
//! (`ops::scan`, `ops::sort`, `ops::histogram`, `ops::compare`, the rest of `ops::reduce`).
//! Results with several parts are named tuples, like `torch.return_types`.

use super::convert::{opt_dtype, parse_dims};
use super::tensor::{ok, PyTensor, TResult};
use super::tensor_ops::bessel_correction;
use crate::backend::ScanKind;
use crate::ops;
use crate::tensor::Tensor;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

/// `keepdim`, or its NumPy-style alias `keepdims` (PyTorch accepts both).
pub fn keep(keepdim: bool, keepdims: Option<bool>) -> bool {
    keepdim || keepdims.unwrap_or(false)
}

/// A named tuple type `name(fields...)` in `backprop.return_types`, made once per name.
fn named<'py>(py: Python<'py>, cell: &'static PyOnceLock<Py<PyAny>>, name: &str, fields: &[&str], items: Vec<Tensor>) -> PyResult<Bound<'py, PyAny>> {
    let ty = cell.get_or_try_init(py, || -> PyResult<Py<PyAny>> {
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("module", "backprop.return_types")?;
        Ok(py.import("collections")?.getattr("namedtuple")?.call((name, fields.to_vec()), Some(&kwargs))?.unbind())
    })?;
    let items: Vec<PyTensor> = items.into_iter().map(PyTensor::wrap).collect();
    ty.bind(py).call1(PyTuple::new(py, items)?)
}

macro_rules! return_type {
    ($fn:ident, $name:literal, $a:literal, $b:literal) => {
        fn $fn<'py>(py: Python<'py>, a: Tensor, b: Tensor) -> PyResult<Bound<'py, PyAny>> {
            static TYPE: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
            named(py, &TYPE, $name, &[$a, $b], vec![a, b])
        }
    };
}

return_type!(sort_result, "sort", "values", "indices");
return_type!(topk_result, "topk", "values", "indices");
return_type!(kthvalue_result, "kthvalue", "values", "indices");
return_type!(median_result, "median", "values", "indices");
return_type!(nanmedian_result, "nanmedian", "values", "indices");
return_type!(mode_result, "mode", "values", "indices");
return_type!(cummax_result, "cummax", "values", "indices");
return_type!(cummin_result, "cummin", "values", "indices");
return_type!(aminmax_result, "aminmax", "min", "max");
return_type!(histogram_result, "histogram", "hist", "bin_edges");

/// A bound given as a tensor or a Python number (None: no bound), as a tensor like `like`.
fn bound(obj: Option<&Bound<'_, PyAny>>, like: &Tensor, what: &str) -> PyResult<Option<Tensor>> {
    match obj {
        None => Ok(None),
        Some(o) if o.is_none() => Ok(None),
        Some(o) => super::convert::operand(o, like)?
            .map(Some)
            .ok_or_else(|| PyTypeError::new_err(format!("{what}: expected a tensor or a number, got {}", super::convert::describe(o)))),
    }
}

fn is_number_or_none(obj: Option<&Bound<'_, PyAny>>) -> bool {
    obj.is_none_or(|o| o.is_none() || o.cast::<PyTensor>().is_err())
}

/// `clamp(min, max)` with numbers (the elementwise op) or tensors (broadcast, with gradients
/// to the bounds); shared by `clamp`, `clip`, `clamp_min` and `clamp_max`.
pub fn clamp_any(t: &Tensor, min: Option<&Bound<'_, PyAny>>, max: Option<&Bound<'_, PyAny>>, op: &str) -> TResult {
    if is_number_or_none(min) && is_number_or_none(max) {
        let num = |o: Option<&Bound<'_, PyAny>>| -> PyResult<Option<f64>> {
            match o {
                Some(v) if !v.is_none() => Ok(Some(v.extract()?)),
                _ => Ok(None),
            }
        };
        let (lo, hi) = (num(min)?, num(max)?);
        if lo.is_none() && hi.is_none() {
            return Err(PyValueError::new_err(format!("{op}: at least one of min and max must be given")));
        }
        return ok(ops::clamp(t, lo, hi));
    }
    let lo = bound(min, t, op)?;
    let hi = bound(max, t, op)?;
    ok(ops::clamp_tensor(t, lo.as_ref(), hi.as_ref()))
}

#[pymethods]
impl PyTensor {
    /// Product of the elements (along `dim` when given). Args: dim (int or None), keepdim
    /// (or keepdims), dtype (cast first). Returns a tensor; the gradient is the product of the
    /// other elements, exact with zeros.
    #[pyo3(signature = (dim = None, keepdim = false, *, dtype = None, keepdims = None))]
    fn prod(&self, dim: Option<isize>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>, keepdims: Option<bool>) -> TResult {
        ok(ops::prod(&self.t, dim, keep(keepdim, keepdims), opt_dtype(dtype)?))
    }

    /// Running sum along `dim`. Args: dim, dtype (cast first; ints and bools sum in int64).
    #[pyo3(signature = (dim, *, dtype = None))]
    fn cumsum(&self, dim: isize, dtype: Option<&Bound<'_, PyAny>>) -> TResult {
        ok(ops::cumsum(&self.t, dim, opt_dtype(dtype)?))
    }

    /// Running product along `dim`. Args: dim, dtype. The gradient is exact with zeros.
    #[pyo3(signature = (dim, *, dtype = None))]
    fn cumprod(&self, dim: isize, dtype: Option<&Bound<'_, PyAny>>) -> TResult {
        ok(ops::cumprod(&self.t, dim, opt_dtype(dtype)?))
    }

    /// Running maximum along `dim`: `(values, indices)`, the index of the latest maximum
    /// (NaN propagates).
    fn cummax<'py>(&self, py: Python<'py>, dim: isize) -> PyResult<Bound<'py, PyAny>> {
        let (v, i) = ops::cum_extremum(ScanKind::Max, &self.t, dim)?;
        cummax_result(py, v, i)
    }

    /// Running minimum along `dim`: `(values, indices)`.
    fn cummin<'py>(&self, py: Python<'py>, dim: isize) -> PyResult<Bound<'py, PyAny>> {
        let (v, i) = ops::cum_extremum(ScanKind::Min, &self.t, dim)?;
        cummin_result(py, v, i)
    }

    /// `log(cumsum(exp(x)))` along `dim`, computed without overflow.
    fn logcumsumexp(&self, dim: isize) -> TResult {
        ok(ops::logcumsumexp(&self.t, dim))
    }

    /// Sorts along `dim`: `(values, indices)`. NaN sorts as the largest value; the sort is
    /// always stable (equal elements keep their order, descending too), so `stable` is
    /// accepted for PyTorch compatibility.
    #[pyo3(signature = (dim = -1, descending = false, *, stable = None))]
    fn sort<'py>(&self, py: Python<'py>, dim: isize, descending: bool, stable: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        let _ = stable;
        let (v, i) = ops::sort(&self.t, dim, descending)?;
        sort_result(py, v, i)
    }

    /// The indices that sort the tensor along `dim` (stable; NaN last, or first when descending).
    #[pyo3(signature = (dim = -1, descending = false, *, stable = None))]
    fn argsort(&self, dim: isize, descending: bool, stable: Option<bool>) -> TResult {
        let _ = stable;
        ok(ops::argsort(&self.t, dim, descending))
    }

    /// The `k` largest (or smallest, `largest=False`) elements along `dim`: `(values,
    /// indices)`, in sorted order (`sorted` is accepted; the result is always sorted).
    #[pyo3(signature = (k, dim = -1, largest = true, sorted = true))]
    fn topk<'py>(&self, py: Python<'py>, k: i64, dim: isize, largest: bool, sorted: bool) -> PyResult<Bound<'py, PyAny>> {
        let _ = sorted;
        let (v, i) = ops::topk(&self.t, k, dim, largest)?;
        topk_result(py, v, i)
    }

    /// The `k`-th smallest element along `dim` (1-based): `(values, indices)`.
    #[pyo3(signature = (k, dim = -1, keepdim = false, *, keepdims = None))]
    fn kthvalue<'py>(&self, py: Python<'py>, k: i64, dim: isize, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        let (v, i) = ops::kthvalue(&self.t, k, dim, keep(keepdim, keepdims))?;
        kthvalue_result(py, v, i)
    }

    /// The median: over everything (a 0-dim tensor) when `dim` is None, else `(values,
    /// indices)` along `dim`. The lower middle value for even counts; NaN if a NaN is present.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn median<'py>(&self, py: Python<'py>, dim: Option<isize>, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(Bound::new(py, PyTensor::wrap(ops::median_all(&self.t, false)?))?.into_any()),
            Some(d) => {
                let (v, i) = ops::median_dim(&self.t, d, keep(keepdim, keepdims), false)?;
                median_result(py, v, i)
            }
        }
    }

    /// The median ignoring NaN (NaN only where a row is all NaN); forms as `median`.
    #[pyo3(signature = (dim = None, keepdim = false, *, keepdims = None))]
    fn nanmedian<'py>(&self, py: Python<'py>, dim: Option<isize>, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        match dim {
            None => Ok(Bound::new(py, PyTensor::wrap(ops::median_all(&self.t, true)?))?.into_any()),
            Some(d) => {
                let (v, i) = ops::median_dim(&self.t, d, keep(keepdim, keepdims), true)?;
                nanmedian_result(py, v, i)
            }
        }
    }

    /// The most frequent value along `dim` (the smallest among equally frequent ones) and the
    /// index of its last occurrence: `(values, indices)`.
    #[pyo3(signature = (dim = -1, keepdim = false, *, keepdims = None))]
    fn mode<'py>(&self, py: Python<'py>, dim: isize, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        let (v, i) = ops::mode(&self.t, dim, keep(keepdim, keepdims))?;
        mode_result(py, v, i)
    }

    /// The distinct elements, sorted (also for `sorted=False`, as PyTorch on the CPU); with
    /// `return_inverse` each element's position among them, with `return_counts` how often
    /// each occurs. Returns a tensor, or a tuple when either flag is set. With `dim`, the
    /// distinct slices along `dim` (sorted lexicographically), and the inverse indexes them.
    #[pyo3(signature = (sorted = true, return_inverse = false, return_counts = false, dim = None))]
    fn unique<'py>(&self, py: Python<'py>, sorted: bool, return_inverse: bool, return_counts: bool, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        let _ = sorted;
        unique_result(py, &self.t, false, return_inverse, return_counts, dim)
    }

    /// Collapses runs of equal neighbours (of the flattened tensor, or of the slices along
    /// `dim`); flags as `unique`.
    #[pyo3(signature = (return_inverse = false, return_counts = false, dim = None))]
    fn unique_consecutive<'py>(&self, py: Python<'py>, return_inverse: bool, return_counts: bool, dim: Option<isize>) -> PyResult<Bound<'py, PyAny>> {
        unique_result(py, &self.t, true, return_inverse, return_counts, dim)
    }

    /// Counts of each non-negative int of a 1-D tensor (sums of `weights` when given), over
    /// at least `minlength` bins.
    #[pyo3(signature = (weights = None, minlength = 0))]
    fn bincount(&self, weights: Option<PyRef<'_, PyTensor>>, minlength: i64) -> TResult {
        ok(ops::bincount(&self.t, weights.as_ref().map(|w| &*w.t), minlength))
    }

    /// A histogram of `bins` equal bins over `[min, max]` (the data's range when both are 0);
    /// elements outside are ignored.
    #[pyo3(signature = (bins = 100, min = 0.0, max = 0.0))]
    fn histc(&self, bins: i64, min: f64, max: f64) -> TResult {
        ok(ops::histc(&self.t, bins, min, max))
    }

    /// `(hist, bin_edges)`: `bins` equal bins (over `range`, else the data's range) or the
    /// given edges; `weight` weighs each element, `density` normalises to a density.
    #[pyo3(signature = (bins = None, *, range = None, weight = None, density = false))]
    fn histogram<'py>(
        &self,
        py: Python<'py>,
        bins: Option<&Bound<'py, PyAny>>,
        range: Option<(f64, f64)>,
        weight: Option<PyRef<'py, PyTensor>>,
        density: bool,
    ) -> PyResult<Bound<'py, PyAny>> {
        let edges;
        let b = match bins {
            Some(b) if b.cast::<PyTensor>().is_ok() => {
                edges = b.cast::<PyTensor>()?.get().t.clone();
                ops::Bins::Edges(&edges)
            }
            Some(b) if !b.is_none() => ops::Bins::Count(b.extract()?, range),
            _ => ops::Bins::Count(100, range),
        };
        let (h, e) = ops::histogram(&self.t, b, weight.as_ref().map(|w| &*w.t), density)?;
        histogram_result(py, h, e)
    }

    /// The number of non-zero elements (along `dim`: an int or a tuple of ints), as int64.
    #[pyo3(signature = (dim = None))]
    fn count_nonzero(&self, dim: Option<&Bound<'_, PyAny>>) -> TResult {
        ok(ops::count_nonzero(&self.t, parse_dims(dim)?.as_deref()))
    }

    /// `(min, max)` along `dim` (everything when None) in one call.
    #[pyo3(signature = (*, dim = None, keepdim = false, keepdims = None))]
    fn aminmax<'py>(&self, py: Python<'py>, dim: Option<isize>, keepdim: bool, keepdims: Option<bool>) -> PyResult<Bound<'py, PyAny>> {
        let dims = dim.map(|d| vec![d]);
        let (lo, hi) = ops::aminmax(&self.t, dims.as_deref(), keep(keepdim, keepdims))?;
        aminmax_result(py, lo, hi)
    }

    /// The sum treating NaN as 0. Args as `sum`.
    #[pyo3(signature = (dim = None, keepdim = false, *, dtype = None, keepdims = None))]
    fn nansum(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>, keepdims: Option<bool>) -> TResult {
        ok(ops::nansum(&self.t, parse_dims(dim)?.as_deref(), keep(keepdim, keepdims), opt_dtype(dtype)?))
    }

    /// The mean of the non-NaN elements. Args as `mean`.
    #[pyo3(signature = (dim = None, keepdim = false, *, dtype = None, keepdims = None))]
    fn nanmean(&self, dim: Option<&Bound<'_, PyAny>>, keepdim: bool, dtype: Option<&Bound<'_, PyAny>>, keepdims: Option<bool>) -> TResult {
        let t = match opt_dtype(dtype)? {
            Some(d) => ops::cast(&self.t, d)?,
            None => self.t.clone(),
        };
        ok(ops::nanmean(&t, parse_dims(dim)?.as_deref(), keep(keepdim, keepdims)))
    }

    /// Elementwise `|self - other| <= atol + rtol * |other|` (or equal; NaNs equal when
    /// `equal_nan`), as a bool tensor.
    #[pyo3(signature = (other, rtol = 1e-05, atol = 1e-08, equal_nan = false))]
    fn isclose(&self, other: &Bound<'_, PyAny>, rtol: f64, atol: f64, equal_nan: bool) -> TResult {
        let o = other_operand(other, &self.t, "isclose")?;
        ok(ops::isclose(&self.t, &o, rtol, atol, equal_nan))
    }

    /// Whether every element is close to `other` (see `isclose`): a Python bool.
    #[pyo3(signature = (other, rtol = 1e-05, atol = 1e-08, equal_nan = false))]
    fn allclose(&self, other: &Bound<'_, PyAny>, rtol: f64, atol: f64, equal_nan: bool) -> PyResult<bool> {
        let o = other_operand(other, &self.t, "allclose")?;
        Ok(ops::allclose(&self.t, &o, rtol, atol, equal_nan)?)
    }

    /// Whether `other` has the same shape and elements: a Python bool.
    fn equal(&self, other: PyRef<'_, PyTensor>) -> PyResult<bool> {
        Ok(ops::equal(&self.t, &other.t)?)
    }

    /// True where the element is +inf or -inf.
    fn isinf(&self) -> TResult {
        ok(ops::isinf(&self.t))
    }

    /// True where the element is +inf.
    fn isposinf(&self) -> TResult {
        ok(ops::isposinf(&self.t))
    }

    /// True where the element is -inf.
    fn isneginf(&self) -> TResult {
        ok(ops::isneginf(&self.t))
    }

    /// NaN, +inf and -inf replaced by `nan` (0), `posinf` and `neginf` (by default the
    /// dtype's largest and lowest finite values).
    #[pyo3(signature = (nan = 0.0, posinf = None, neginf = None))]
    fn nan_to_num(&self, nan: f64, posinf: Option<f64>, neginf: Option<f64>) -> TResult {
        ok(ops::nan_to_num(&self.t, Some(nan), posinf, neginf))
    }

    /// `clamp(min=...)`: a number or a tensor (broadcast) lower bound.
    fn clamp_min(&self, min: &Bound<'_, PyAny>) -> TResult {
        clamp_any(&self.t, Some(min), None, "clamp_min")
    }

    /// `clamp(max=...)`: a number or a tensor (broadcast) upper bound.
    fn clamp_max(&self, max: &Bound<'_, PyAny>) -> TResult {
        clamp_any(&self.t, None, Some(max), "clamp_max")
    }
}

fn other_operand(other: &Bound<'_, PyAny>, like: &Tensor, op: &str) -> PyResult<Tensor> {
    super::convert::operand(other, like)?
        .ok_or_else(|| PyTypeError::new_err(format!("{op}: expected a tensor or a number, got {}", super::convert::describe(other))))
}

fn unique_result<'py>(
    py: Python<'py>,
    t: &Tensor,
    consecutive: bool,
    return_inverse: bool,
    return_counts: bool,
    dim: Option<isize>,
) -> PyResult<Bound<'py, PyAny>> {
    let u = match dim {
        Some(d) => ops::unique_dim(t, d, consecutive)?,
        None => ops::unique(t, consecutive)?,
    };
    let values = Bound::new(py, PyTensor::wrap(u.values))?.into_any();
    if !return_inverse && !return_counts {
        return Ok(values);
    }
    let mut items = vec![values];
    if return_inverse {
        items.push(Bound::new(py, PyTensor::wrap(u.inverse))?.into_any());
    }
    if return_counts {
        items.push(Bound::new(py, PyTensor::wrap(u.counts))?.into_any());
    }
    Ok(PyTuple::new(py, items)?.into_any())
}

/// `var_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None)`: the
/// variance and the mean in one call, as a tuple.
#[pyfunction]
#[pyo3(signature = (input, dim = None, unbiased = None, keepdim = false, *, correction = None, keepdims = None))]
pub fn var_mean(
    input: PyRef<'_, PyTensor>,
    dim: Option<&Bound<'_, PyAny>>,
    unbiased: Option<bool>,
    keepdim: bool,
    correction: Option<f64>,
    keepdims: Option<bool>,
) -> PyResult<(PyTensor, PyTensor)> {
    let c = bessel_correction("var_mean", unbiased, correction)?;
    let dims = parse_dims(dim)?;
    let k = keep(keepdim, keepdims);
    Ok((ok(ops::var(&input.t, dims.as_deref(), c, k))?, ok(ops::mean(&input.t, dims.as_deref(), k))?))
}

/// `std_mean(input, dim=None, unbiased=None, keepdim=False, *, correction=None)`: the
/// standard deviation and the mean in one call, as a tuple.
#[pyfunction]
#[pyo3(signature = (input, dim = None, unbiased = None, keepdim = false, *, correction = None, keepdims = None))]
pub fn std_mean(
    input: PyRef<'_, PyTensor>,
    dim: Option<&Bound<'_, PyAny>>,
    unbiased: Option<bool>,
    keepdim: bool,
    correction: Option<f64>,
    keepdims: Option<bool>,
) -> PyResult<(PyTensor, PyTensor)> {
    let c = bessel_correction("std_mean", unbiased, correction)?;
    let dims = parse_dims(dim)?;
    let k = keep(keepdim, keepdims);
    Ok((ok(ops::std(&input.t, dims.as_deref(), c, k))?, ok(ops::mean(&input.t, dims.as_deref(), k))?))
}
