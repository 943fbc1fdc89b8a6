//! Host values for the layers above: reading a tensor on any device, Python numbers as
//! tensors, and the autograd engine's CPU shortcuts (one-element values read and updated in
//! place, small gradients copied out for inspection). Autograd reads and writes values only
//! through these, so it never touches device storage itself.

use super::{constant, to_cpu};
use crate::error::{Error, Result, ShapeDisplay};
use crate::tensor::{CpuStorage, DType, Device, Element, SharedStorage, Storage, StorageRef, Tensor};
use smallvec::SmallVec;

/// The elements of `t` in row-major order, copied to the host from any device.
pub fn to_vec<T: Element>(t: &Tensor) -> Result<Vec<T>> {
    to_cpu(t)?.to_vec()
}

/// The single value of a one-element tensor on any device, as f64.
pub fn item(t: &Tensor) -> Result<f64> {
    if t.numel() != 1 {
        // Refused before any read-back.
        return Err(Error::Value(format!(
            "item: only one-element tensors can be converted to a Python number, this one has shape {}",
            ShapeDisplay(t.shape())
        )));
    }
    to_cpu(t)?.item()
}

/// A Python number as a 0-dim tensor of `dtype` on `device` that loses type promotion to
/// real tensors.
pub fn wrapped_number(value: f64, dtype: DType, device: Device) -> Result<Tensor> {
    let storage = match device {
        // In place, not through `constant`: scalar circuits make one per Python number.
        Device::Cpu => StorageRef::new(SharedStorage::new(Storage::Cpu(CpuStorage::scalar(value, dtype)))),
        _ => constant(value, dtype, device)?,
    };
    Ok(Tensor::wrapped_number(storage, dtype))
}

/// The value of a one-element CPU tensor of dtype `T`; `None` for any other tensor (no
/// read-back from a device: callers fall back to the general path).
#[inline]
pub fn scalar_value<T: Element>(t: &Tensor) -> Option<T> {
    if t.dtype() != T::DTYPE || t.numel() != 1 {
        return None;
    }
    t.cpu_storage("scalar_value").ok()?.as_slice::<T>().get(t.layout().offset()).copied()
}

/// The values of a CPU tensor of at most `limit` elements, row-major, as f64 (inline for one
/// element); `None` for a larger tensor or one on another device.
pub fn small_values(t: &Tensor, limit: usize) -> Option<SmallVec<[f64; 1]>> {
    if t.numel() > limit {
        return None;
    }
    let storage = t.cpu_storage("small_values").ok()?;
    Some(crate::with_dtype!(t.dtype(), T => {
        let data = storage.as_slice::<T>();
        let mut values = SmallVec::with_capacity(t.numel());
        t.layout().for_each_index(|i| values.push(data[i].to_f64()));
        values
    }))
}

/// A one-element CPU tensor of `shape` (one element in all, any number of dims) holding `value`
/// converted to `dtype`.
pub fn number_tensor(value: f64, dtype: DType, shape: &[usize]) -> Tensor {
    debug_assert_eq!(shape.iter().product::<usize>(), 1);
    Tensor::from_storage(Storage::Cpu(CpuStorage::scalar(value, dtype)), shape)
}

/// A one-element CPU tensor of `shape` holding `value` (no conversion, no allocation beyond the
/// tensor itself).
pub fn scalar_tensor<T: Element>(value: T, shape: &[usize]) -> Tensor {
    debug_assert_eq!(shape.iter().product::<usize>(), 1);
    Tensor::from_storage(Storage::Cpu(CpuStorage::inline(value)), shape)
}

/// Overwrites the single element of a one-element CPU tensor of dtype `T` in place (the
/// version counter is the caller's to bump). Returns false, writing nothing, for any other
/// tensor.
///
/// # Safety
/// No reference into the tensor's memory may be live during the call, and no other thread may
/// access it: callers run with the GIL held, which serialises engine calls (the aliasing
/// contract in `tensor::storage`).
pub unsafe fn write_scalar<T: Element>(t: &Tensor, value: T) -> bool {
    if t.dtype() != T::DTYPE || t.numel() != 1 {
        return false;
    }
    let Ok(storage) = t.cpu_storage("write_scalar") else { return false };
    // SAFETY: exclusive access per this function's contract; the offset is in bounds because
    // the layout was validated against this storage when the tensor was made.
    unsafe { storage.as_mut_slice::<T>()[t.layout().offset()] = value };
    true
}
