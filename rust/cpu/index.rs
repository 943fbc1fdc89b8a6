//! Gathers and scatters by flat offsets: the kernels behind advanced indexing, `gather`,
//! `index_select` and their backward (scatter-add).

use crate::error::{index_err, Result};
use crate::tensor::{numel, Element, IntoStorageVec, Tensor};
use crate::with_dtype;

fn offsets_of(offsets: &Tensor) -> Result<Vec<i64>> {
    offsets.to_vec::<i64>()
}

fn check(off: i64, n: usize, op: &str) -> Result<usize> {
    if off < 0 || off as usize >= n {
        return Err(index_err!("{op}: index {off} is out of bounds for a tensor with {n} elements"));
    }
    Ok(off as usize)
}

/// `out[i] = src.flat[offsets[i]]` where `flat` is `src` in row-major order.
pub fn take(src: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    with_dtype!(src.dtype(), T => take_typed::<T>(src, offsets))
}

fn take_typed<T: IntoStorageVec>(src: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    let xs = src.cpu_storage("index")?.as_slice::<T>();
    let n = src.numel();
    // Storage positions of src's elements in row-major order (identity when contiguous).
    let positions: Option<Vec<usize>> = if src.is_contiguous() {
        None
    } else {
        let mut v = Vec::with_capacity(n);
        src.layout().for_each_index(|i| v.push(i));
        Some(v)
    };
    let base = src.layout().offset();
    let offs = offsets_of(offsets)?;
    let mut out = crate::alloc::buffer::with_capacity(offs.len(), offsets.shape(), "index")?;
    for &o in &offs {
        let o = check(o, n, "index")?;
        out.push(match &positions {
            None => xs[base + o],
            Some(p) => xs[p[o]],
        });
    }
    Tensor::from_vec(out, offsets.shape())
}

/// A zero tensor of `shape` with `values[i]` added at flat `offsets[i]`.
pub fn scatter_add(shape: &[usize], offsets: &Tensor, values: &Tensor) -> Result<Tensor> {
    with_dtype!(values.dtype(), T => scatter_add_typed::<T>(shape, offsets, values))
}

fn scatter_add_typed<T: IntoStorageVec>(shape: &[usize], offsets: &Tensor, values: &Tensor) -> Result<Tensor> {
    let n = numel(shape);
    let mut out = crate::alloc::buffer::zeroed::<T>(n, shape, "index backward")?;
    let offs = offsets_of(offsets)?;
    let vals = values.to_vec::<T>()?;
    for (&o, &v) in offs.iter().zip(&vals) {
        let o = check(o, n, "index backward")?;
        out[o] = out[o].elem_add(v);
    }
    Tensor::from_vec(out, shape)
}

/// `dst.flat[offsets[i]] = values[i]` (or `+=`), in place on a contiguous `dst`.
pub fn index_put(dst: &Tensor, offsets: &Tensor, values: &Tensor, accumulate: bool) -> Result<()> {
    with_dtype!(dst.dtype(), T => index_put_typed::<T>(dst, offsets, values, accumulate))
}

fn index_put_typed<T: Element>(dst: &Tensor, offsets: &Tensor, values: &Tensor, accumulate: bool) -> Result<()> {
    let n = dst.numel();
    let base = dst.layout().offset();
    let offs = offsets_of(offsets)?;
    let vals = values.to_vec::<T>()?;
    // SAFETY: in-place op on a contiguous destination (storage contract).
    let xd = unsafe { dst.cpu_storage("index_put_")?.as_mut_slice::<T>() };
    for (&o, &v) in offs.iter().zip(&vals) {
        let o = check(o, n, "index_put_")?;
        xd[base + o] = if accumulate { xd[base + o].elem_add(v) } else { v };
    }
    Ok(())
}
