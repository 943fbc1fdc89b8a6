//! Random tensors on the CPU, drawn from a generator of `crate::random`.

use crate::backend::Distribution;
use crate::error::{dtype_err, Result};
use crate::random::{self, Generator};
use crate::tensor::{DType, Tensor};

pub fn sample(shape: &[usize], dist: Distribution, dtype: DType, gen: &Generator) -> Result<Tensor> {
    if !dtype.is_float() {
        return Err(dtype_err!("random sampling: expected a float dtype, got {}", dtype.name()));
    }
    let n = crate::tensor::checked_numel(shape, "random")?;
    let uniform = |low: f64, high: f64| -> Result<Tensor> {
        match dtype {
            DType::F32 => Tensor::from_vec(random::uniform_f32(gen, n, low as f32, high as f32)?, shape),
            _ => Tensor::from_vec(random::uniform_f64(gen, n, low, high)?, shape),
        }
    };
    match dist {
        Distribution::Uniform { low, high } => uniform(low, high),
        Distribution::Normal { mean, std } => {
            let t = Tensor::from_vec(random::normal_f64(gen, n, mean, std)?, shape)?;
            super::copy::cast(&t, dtype)
        }
        Distribution::Bernoulli { keep, scale } => match dtype {
            DType::F32 => Tensor::from_vec(random::dropout_mask_f32(gen, n, keep as f32, scale as f32)?, shape),
            _ => Tensor::from_vec(random::dropout_mask_f64(gen, n, keep, scale)?, shape),
        },
    }
}
