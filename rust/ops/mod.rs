//! Ops: shape checks, type promotion, kernel dispatch and graph recording. Each family file
//! keeps its forwards and their vjps side by side; vjps are written with these same
//! differentiable ops, so running them with grad mode on (`create_graph=True`) records a new
//! graph and gives higher derivatives.

mod binary;
mod creation;
mod index;
mod inplace;
mod matmul;
mod nn;
mod optim;
mod reduce;
mod shape;
mod unary;

pub use binary::*;
pub use creation::*;
pub use index::*;
pub use inplace::*;
pub use matmul::*;
pub use nn::*;
pub use optim::*;
pub use reduce::*;
pub use shape::*;
pub use unary::*;

use crate::autograd::{CustomOp, TensorMeta, VjpCtx};
use crate::backend;
use crate::error::Result;
use crate::tensor::Tensor;
use smallvec::SmallVec;

pub type Grads = SmallVec<[Option<Tensor>; 2]>;

/// The op a tape node records: a family and what its vjp needs besides saved tensors.
pub enum Op {
    Binary(BinaryOp),
    Unary(UnaryOp),
    Reduce(ReduceOp),
    Shape(ShapeOp),
    Index(IndexOp),
    Matmul(MatmulOp),
    Nn(NnOp),
    Where,
    Custom(Box<dyn CustomOp>),
}

impl Op {
    /// Lower-case op name, as the graph pictures show it (`mul`, `sigmoid`, `matmul`).
    pub fn name(&self) -> String {
        match self {
            Op::Binary(o) => o.name().into(),
            Op::Unary(o) => o.name().into(),
            Op::Reduce(o) => o.name().into(),
            Op::Shape(o) => o.name().into(),
            Op::Index(o) => o.name().into(),
            Op::Matmul(o) => o.name().into(),
            Op::Nn(o) => o.name().into(),
            Op::Where => "where".into(),
            Op::Custom(c) => c.name(),
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        match self {
            Op::Binary(o) => o.vjp(ctx),
            Op::Unary(o) => o.vjp(ctx),
            Op::Reduce(o) => o.vjp(ctx),
            Op::Shape(o) => o.vjp(ctx),
            Op::Index(o) => o.vjp(ctx),
            Op::Matmul(o) => o.vjp(ctx),
            Op::Nn(o) => o.vjp(ctx),
            Op::Where => binary::where_vjp(ctx),
            Op::Custom(_) => unreachable!("custom ops run through CustomOp::backward"),
        }
    }
}

/// Gradients for the inputs that need one, in input order.
pub(crate) fn grads<const N: usize>(ctx: &VjpCtx, f: [&dyn Fn() -> Result<Tensor>; N]) -> Result<Grads> {
    let mut out = Grads::new();
    for (i, g) in f.iter().enumerate() {
        out.push(if ctx.needs.get(i).copied().unwrap_or(false) { Some(g()?) } else { None });
    }
    Ok(out)
}

pub fn zeros_like_meta(meta: &TensorMeta) -> Result<Tensor> {
    backend::full(&meta.shape, 0.0, meta.dtype, meta.device)
}

/// A gradient that `.grad` may keep: contiguous and not shared with any other tensor.
pub fn owned_gradient(g: Tensor) -> Result<Tensor> {
    if g.is_exclusive() && g.is_contiguous() && g.layout().offset() == 0 && !g.requires_grad() {
        Ok(g)
    } else {
        backend::cast(&g, g.dtype())
    }
}
