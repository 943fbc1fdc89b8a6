//! Matrix products. The vjps are matmuls with transposed views (`g @ b.T`, `a.T @ g`), which
//! the kernels read in place: no transpose is ever materialised.

use super::{grads, reshape, squeeze_dim, transpose, unsqueeze, Grads};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend;
use crate::error::{dtype_err, shape_err, Result, ShapeDisplay};
use crate::tensor::Tensor;
use smallvec::smallvec;

pub enum MatmulOp {
    Matmul,
    /// `x @ w.T (+ b)` for 2-D x.
    Linear,
}

/// `mm`: the product of two matrices, nothing else (no broadcasting, no 1-D promotion).
pub fn mm(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    for (what, t) in [("self", a), ("mat2", b)] {
        if t.ndim() != 2 {
            return Err(shape_err!("mm: {what} must be a matrix, got a {}-D tensor of shape {}; use matmul for batches", t.ndim(), ShapeDisplay(t.shape())));
        }
    }
    matmul(a, b)
}

/// `dot`: the inner product of two 1-D tensors of equal length.
pub fn dot(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() != 1 || b.ndim() != 1 {
        return Err(shape_err!("dot: 1-D tensors expected, but got {}-D and {}-D tensors; use matmul for matrices", a.ndim(), b.ndim()));
    }
    if a.numel() != b.numel() {
        return Err(shape_err!("dot: inconsistent tensor size: {} and {} elements", a.numel(), b.numel()));
    }
    matmul(a, b)
}

/// NumPy/PyTorch `matmul`: 1-D operands are promoted to matrices and the added dim removed.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    if a.ndim() == 0 || b.ndim() == 0 {
        return Err(shape_err!(
            "matmul: both arguments need at least 1 dimension, got shapes {} and {}; use * for scalars",
            ShapeDisplay(a.shape()),
            ShapeDisplay(b.shape())
        ));
    }
    let dtype = super::promote_types(a, b);
    let a = super::cast(a, dtype)?;
    let b = super::cast(b, dtype)?;
    match (a.ndim(), b.ndim()) {
        (1, 1) => {
            if a.shape()[0] != b.shape()[0] {
                return Err(shape_err!(
                    "matmul: 1-D tensors of sizes {} and {} have different lengths; a dot product needs equal lengths",
                    a.shape()[0],
                    b.shape()[0]
                ));
            }
            let r = matmul_nd(&unsqueeze(&a, 0)?, &unsqueeze(&b, 1)?)?;
            reshape(&r, &[])
        }
        (_, 1) => squeeze_dim(&matmul_nd(&a, &unsqueeze(&b, 1)?)?, -1),
        (1, _) => squeeze_dim(&matmul_nd(&unsqueeze(&a, 0)?, &b)?, -2),
        _ => matmul_nd(&a, &b),
    }
}

fn matmul_nd(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let out = backend::matmul(a, b)?;
    record(super::Op::Matmul(MatmulOp::Matmul), &[a, b], &out, |needs| {
        smallvec![
            if needs[1] { Save::Input(a) } else { Save::Skip },
            if needs[0] { Save::Input(b) } else { Save::Skip },
        ]
    });
    Ok(out)
}

/// `x @ w.T + b` with x: [*, in], w: [out, in], b: [out]: one fused kernel call.
pub fn linear(x: &Tensor, w: &Tensor, b: Option<&Tensor>) -> Result<Tensor> {
    if w.ndim() != 2 || x.ndim() == 0 || x.shape()[x.ndim() - 1] != w.shape()[1] {
        return Err(shape_err!(
            "linear: input of shape {} cannot be multiplied by a weight of shape {} (expected input [..., {}])",
            ShapeDisplay(x.shape()),
            ShapeDisplay(w.shape()),
            w.shape().get(1).copied().unwrap_or(0)
        ));
    }
    if let Some(b) = b {
        if b.shape() != [w.shape()[0]] {
            return Err(shape_err!("linear: bias of shape {} does not match {} output features", ShapeDisplay(b.shape()), w.shape()[0]));
        }
    }
    if !x.dtype().is_float() || x.dtype() != w.dtype() || b.is_some_and(|b| b.dtype() != w.dtype()) {
        return Err(dtype_err!(
            "linear: input ({}) and weight ({}) must be float tensors of one dtype; convert the input with .to(weight.dtype)",
            x.dtype().name(),
            w.dtype().name()
        ));
    }
    let lead: Vec<usize> = x.shape()[..x.ndim() - 1].to_vec();
    let x2 = if x.ndim() == 2 { x.clone() } else { reshape(x, &[lead.iter().product(), w.shape()[1]])? };
    let out = backend::linear(&x2, w, b)?;
    let mut inputs = vec![&x2, w];
    inputs.extend(b);
    record(super::Op::Matmul(MatmulOp::Linear), &inputs, &out, |needs| {
        smallvec![
            if needs[1] { Save::Input(&x2) } else { Save::Skip },
            if needs[0] { Save::Input(w) } else { Save::Skip },
        ]
    });
    if x.ndim() == 2 {
        Ok(out)
    } else {
        let mut shape = lead;
        shape.push(w.shape()[0]);
        reshape(&out, &shape)
    }
}

fn mt(t: &Tensor) -> Result<Tensor> {
    transpose(t, -2, -1)
}

impl MatmulOp {
    pub fn name(&self) -> &'static str {
        match self {
            MatmulOp::Matmul => "matmul",
            MatmulOp::Linear => "linear",
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        match self {
            MatmulOp::Matmul => grads(ctx, [&|| matmul_nd(g, &mt(ctx.saved(1)?)?), &|| matmul_nd(&mt(ctx.saved(0)?)?, g)]),
            // y = x w^T + b:  dx = g w,  dw = g^T x,  db = g (the engine sums it over the batch).
            MatmulOp::Linear => {
                let mut out = grads(ctx, [&|| matmul_nd(g, ctx.saved(1)?), &|| matmul_nd(&mt(g)?, ctx.saved(0)?)])?;
                if ctx.inputs.len() == 3 {
                    out.push(if ctx.needs[2] { Some(g.clone()) } else { None });
                }
                Ok(out)
            }
        }
    }
}
