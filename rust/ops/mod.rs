//! Ops: shape checks, type promotion, kernel dispatch and graph recording. Each family file
//! keeps its forwards and their vjps side by side; vjps are written with these same
//! differentiable ops, so running them with grad mode on (`create_graph=True`) records a new
//! graph and gives higher derivatives.

mod arith;
mod arith_variants;
mod binary;
mod compare;
mod creation;
mod histogram;
mod index;
mod index_inplace;
mod inplace;
mod linalg;
mod matmul;
mod nn;
mod norm;
mod optim;
mod random;
mod reduce;
mod reorder;
mod scan;
mod scatter;
mod shape;
mod sort;
mod table;
mod unary;

pub use arith_variants::*;
pub use binary::*;
pub use compare::*;
pub use creation::*;
pub use histogram::*;
pub use index::*;
pub use index_inplace::*;
pub use inplace::*;
pub use linalg::*;
pub use matmul::*;
pub use nn::*;
pub use norm::*;
pub use optim::*;
pub use random::*;
pub use reduce::*;
pub use reorder::*;
pub use scan::*;
pub use scatter::*;
pub use shape::*;
pub use sort::*;
pub use unary::*;
pub(crate) use arith::Arith;

use crate::autograd::{CustomOp, TensorMeta, VjpCtx};
use crate::backend;
use crate::error::Result;
use crate::tensor::Tensor;
use smallvec::SmallVec;

pub type Grads = SmallVec<[Option<Tensor>; 2]>;

/// A parameter of a recorded op (a sum's axes, a pow's exponent, ...), for tools that show
/// or re-create the graph (`Node.op_params` in Python).
pub enum OpParam {
    Float(f64),
    Int(i64),
    Ints(Vec<i64>),
    Bool(bool),
    Tensor(Tensor),
}

pub type OpParams = Vec<(&'static str, OpParam)>;

fn ints(v: &[usize]) -> OpParam {
    OpParam::Ints(v.iter().map(|&d| d as i64).collect())
}

/// The op a tape node records: a family and what its vjp needs besides saved tensors.
pub enum Op {
    Binary(BinaryOp),
    Unary(UnaryOp),
    Reduce(ReduceOp),
    Shape(ShapeOp),
    Index(IndexOp),
    Matmul(MatmulOp),
    Nn(NnOp),
    Linalg(LinalgOp),
    Norm(NormOp),
    Scan(ScanOp),
    Sort(SortOp),
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
            Op::Linalg(o) => o.name().into(),
            Op::Norm(o) => o.name().into(),
            Op::Scan(o) => o.name().into(),
            Op::Sort(o) => o.name().into(),
            Op::Where => "where".into(),
            Op::Custom(c) => c.name(),
        }
    }

    /// What the op needs besides its inputs to be re-created (empty for most ops).
    pub fn params(&self) -> OpParams {
        match self {
            Op::Unary(o) => o.params(),
            Op::Reduce(o) => o.params(),
            Op::Shape(o) => o.params(),
            Op::Index(o) => o.params(),
            Op::Nn(o) => o.params(),
            Op::Linalg(o) => o.params(),
            Op::Norm(o) => o.params(),
            Op::Scan(o) => o.params(),
            Op::Sort(o) => o.params(),
            Op::Binary(_) | Op::Matmul(_) | Op::Where | Op::Custom(_) => OpParams::new(),
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
            Op::Linalg(o) => o.vjp(ctx),
            Op::Norm(o) => o.vjp(ctx),
            Op::Scan(o) => o.vjp(ctx),
            Op::Sort(o) => o.vjp(ctx),
            Op::Where => binary::where_vjp(ctx),
            Op::Custom(_) => unreachable!("custom ops run through CustomOp::backward"),
        }
    }
}

impl Op {
    /// The vjp on plain numbers for ops of one-element tensors that have a scalar form
    /// (elementwise arithmetic and activations); `None` otherwise.
    pub(crate) fn scalar_vjp<T: crate::kinds::Real + Arith>(&self, g: T, saved: &[Option<T>], needs: [bool; 2]) -> Option<[Option<T>; 2]> {
        match self {
            Op::Binary(o) => o.scalar_vjp(g, saved, needs),
            Op::Unary(o) => o.scalar_vjp(g, saved, needs),
            _ => None,
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tensor::DType;

    fn params_of(t: &Tensor) -> Vec<(&'static str, String)> {
        let node = t.grad_fn().expect("a recorded op").node;
        node.op()
            .params()
            .into_iter()
            .map(|(k, v)| {
                let shown = match v {
                    OpParam::Float(f) => format!("{f}"),
                    OpParam::Int(i) => format!("{i}"),
                    OpParam::Ints(v) => format!("{v:?}"),
                    OpParam::Bool(b) => format!("{b}"),
                    OpParam::Tensor(t) => format!("{:?}", t.to_vec::<i64>().unwrap()),
                };
                (k, shown)
            })
            .collect()
    }

    #[test]
    fn recorded_ops_report_what_recreating_them_needs() {
        let x = Tensor::from_vec(vec![1.0f32, -2.0, 3.0, -4.0, 5.0, -6.0], &[2, 3]).unwrap();
        x.set_requires_grad(true).unwrap();
        assert_eq!(params_of(&sum(&x, Some(&[-1]), true).unwrap()), vec![("dim", "[1]".into()), ("keepdim", "true".into())]);
        assert_eq!(params_of(&pow_scalar(&x, 3.0).unwrap()), vec![("exponent", "3".into())]);
        assert_eq!(params_of(&clamp(&x, None, Some(2.5)).unwrap()), vec![("max", "2.5".into())]);
        assert_eq!(params_of(&unary_op(crate::kinds::UnaryKind::LeakyRelu { negative_slope: 0.1 }, &x).unwrap()), vec![("negative_slope", "0.1".into())]);
        assert_eq!(params_of(&softmax(&x, -1).unwrap()), vec![("dim", "-1".into())]);
        assert_eq!(params_of(&transpose(&x, 0, 1).unwrap()), vec![("dims", "[1, 0]".into())]);
        assert_eq!(params_of(&select(&x, 1, -1).unwrap()), vec![("dim", "1".into()), ("index", "2".into())]);
        let idx = Tensor::from_vec(vec![2i64, 0], &[2]).unwrap();
        assert_eq!(params_of(&index_select(&x, 1, &idx).unwrap()), vec![("offsets", "[2, 0, 5, 3]".into())]);
        assert!(params_of(&mul(&x, &x).unwrap()).is_empty());
        let _ = DType::F32;
    }
}
