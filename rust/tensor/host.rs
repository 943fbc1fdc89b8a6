//! Reading a CPU tensor's elements on the host. Tensors on another device are refused here:
//! moving data between devices is the backend's job (`backend::to_vec` and `backend::item`
//! read a tensor on any device).

use super::dtype::Element;
use super::handle::Tensor;
use crate::error::{dtype_err, Error, Result, ShapeDisplay};

impl Tensor {
    /// The elements of a CPU tensor in row-major order (a copy; for conversions and tests).
    pub fn to_vec<T: Element>(&self) -> Result<Vec<T>> {
        if T::DTYPE != self.dtype() {
            return Err(dtype_err!("to_vec: tensor is {}, asked for {}", self.dtype().name(), T::DTYPE.name()));
        }
        let data = self.cpu_storage("to_vec")?.as_slice::<T>();
        let mut out = crate::alloc::buffer::with_capacity(self.numel(), self.shape(), "to_vec")?;
        self.layout().for_each_index(|i| out.push(data[i]));
        Ok(out)
    }

    /// The single value of a one-element CPU tensor, as f64.
    pub fn item(&self) -> Result<f64> {
        if self.numel() != 1 {
            return Err(Error::Value(format!(
                "item: only one-element tensors can be converted to a Python number, this one has shape {}",
                ShapeDisplay(self.shape())
            )));
        }
        let s = self.cpu_storage("item")?;
        let i = self.layout().offset();
        Ok(crate::with_dtype!(self.dtype(), T => s.as_slice::<T>()[i].to_f64()))
    }

}
