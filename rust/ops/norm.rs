//! Row normalisation, the fused core of batch and layer norm: each row of a `[rows, cols]`
//! tensor shifted to mean 0 and scaled to (biased) variance 1. The forward is one kernel
//! (statistics in one pass), the vjp another (one pass for the gradient) instead of the
//! dozen recorded primitives of the textbook formula. With `create_graph` the vjp is the same
//! formula written with differentiable ops, from the saved input, so higher derivatives work.

use super::{add, grads, mean, mul, rsqrt, scalar_like, sub, Grads, OpParam, OpParams};
use crate::autograd::{is_grad_enabled, record, Save, VjpCtx};
use crate::backend;
use crate::error::{dtype_err, shape_err, value_err, Result, ShapeDisplay};
use crate::tensor::Tensor;
use smallvec::smallvec;

pub enum NormOp {
    Rows { eps: f64 },
}

/// `(x - mean) / sqrt(var + eps)` of each row of the 2-D float tensor `x`.
pub fn norm_rows(x: &Tensor, eps: f64) -> Result<Tensor> {
    if x.ndim() != 2 {
        return Err(shape_err!("norm_rows: expected a 2-D tensor [rows, cols], got shape {}", ShapeDisplay(x.shape())));
    }
    if !x.dtype().is_float() {
        return Err(dtype_err!("norm_rows: expected a float tensor, got {}", x.dtype().name()));
    }
    if eps.is_nan() || eps < 0.0 {
        return Err(value_err!("norm_rows: eps must be a non-negative number, got {eps}"));
    }
    let (y, rstd) = backend::norm_rows(&x.detach(), eps)?;
    record(super::Op::Norm(NormOp::Rows { eps }), &[x], &y, |_| smallvec![Save::Input(x), Save::Output(0), Save::Other(rstd)]);
    Ok(y)
}

impl NormOp {
    pub fn name(&self) -> &'static str {
        match self {
            NormOp::Rows { .. } => "norm_rows",
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            NormOp::Rows { eps } => vec![("eps", OpParam::Float(*eps))],
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let NormOp::Rows { eps } = *self;
        let g = ctx.grad();
        grads(ctx, [&|| {
            if !is_grad_enabled() {
                return backend::norm_rows_backward(g, ctx.saved(1)?, ctx.saved(2)?);
            }
            // dx = rstd * (g - mean(g) - xhat * mean(g * xhat)), each factor recomputed from x
            // so that the graph it records reaches x.
            let x = ctx.saved(0)?;
            let row = Some(&[1isize][..]);
            let centered = sub(x, &mean(x, row, true)?)?;
            let var = mean(&mul(&centered, &centered)?, row, true)?;
            let rstd = rsqrt(&add(&var, &scalar_like(&var, eps)?)?)?;
            let xhat = mul(&centered, &rstd)?;
            let mg = mean(g, row, true)?;
            let mgx = mean(&mul(g, &xhat)?, row, true)?;
            mul(&rstd, &sub(&sub(g, &mg)?, &mul(&xhat, &mgx)?)?)
        }])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(t: &Tensor) -> Vec<f64> {
        t.to_vec::<f64>().unwrap()
    }

    #[test]
    fn rows_get_mean_zero_and_unit_variance_despite_a_large_offset() {
        let x = Tensor::from_vec(vec![1e6 + 1.0, 1e6 + 2.0, 1e6 + 3.0], &[1, 3]).unwrap();
        let y = rows(&norm_rows(&x, 0.0).unwrap());
        let s = (2.0f64 / 3.0).sqrt();
        for (a, b) in y.iter().zip([-1.0 / s, 0.0, 1.0 / s]) {
            assert!((a - b).abs() < 1e-9, "{y:?}");
        }
        // A constant row is all zeros once eps keeps the scale finite.
        let c = Tensor::from_vec(vec![4.0f64; 3], &[1, 3]).unwrap();
        assert_eq!(rows(&norm_rows(&c, 1e-5).unwrap()), vec![0.0; 3]);
    }

    #[test]
    fn the_gradient_of_a_row_sum_is_zero_and_bad_shapes_are_errors() {
        let x = Tensor::from_vec(vec![0.5f64, -1.0, 2.0, 3.0], &[1, 4]).unwrap();
        x.set_requires_grad(true).unwrap();
        let y = norm_rows(&x, 1e-5).unwrap();
        let total = super::super::sum(&y, None, false).unwrap();
        crate::autograd::backward_from_one(&total, None, crate::autograd::BackwardOptions::default()).unwrap();
        assert!(rows(&x.grad().unwrap()).iter().all(|g| g.abs() < 1e-12));
        let v = Tensor::from_vec(vec![1.0f64, 2.0], &[2]).unwrap();
        assert!(norm_rows(&v, 1e-5).is_err());
        assert!(norm_rows(&x.detach(), -1.0).is_err());
    }
}
