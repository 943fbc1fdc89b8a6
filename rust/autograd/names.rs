//! Node class names as PyTorch prints them (`MulBackward0`, `SumBackward1`, `AddmmBackward0`),
//! so `type(t.grad_fn).__name__`, reprs and error messages read as they do there. The digit
//! is PyTorch's overload number: where one of our ops covers several PyTorch overloads, the
//! inputs and parameters pick the one PyTorch would record.

use super::node::TensorMeta;
use crate::kinds::ScanKind;
use crate::ops::{IndexOp, MatmulOp, Op, ReduceOp, ScanOp, ShapeOp, SortOp};

fn camel(op: &str) -> String {
    op.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect()
}

/// `op`'s node name given its inputs' metadata.
pub fn torch_name(op: &Op, inputs: &[TensorMeta]) -> String {
    let named = |base: &str, overload: u8| format!("{base}Backward{overload}");
    match op {
        Op::Custom(c) => format!("{}Backward", c.name()),
        Op::Binary(b) => match b.name() {
            "pow" => named("Pow", 1),
            other => named(&camel(other), 0),
        },
        Op::Unary(u) => match u.name() {
            "clamp" => named("Clamp", 1),
            "log1p" => named("Log1P", 0),
            other => named(&camel(other), 0),
        },
        Op::Reduce(r) => match r {
            ReduceOp::Sum { axes, keepdim } | ReduceOp::Mean { axes, keepdim } => {
                let all = inputs.first().is_some_and(|m| axes.len() == m.shape.len()) && !keepdim;
                named(if matches!(r, ReduceOp::Sum { .. }) { "Sum" } else { "Mean" }, if all { 0 } else { 1 })
            }
            ReduceOp::Extremum { kind } => named(&camel(kind.name()), 1),
            ReduceOp::Norm { .. } | ReduceOp::CountNonzero => named("LinalgVectorNorm", 0),
            ReduceOp::Std { .. } => named("Std", 0),
            ReduceOp::Prod { dim, .. } => named("Prod", if dim.is_none() { 0 } else { 1 }),
        },
        Op::Scan(ScanOp::Cum { kind, .. }) => named(
            match kind {
                ScanKind::Sum => "Cumsum",
                ScanKind::Prod => "Cumprod",
                ScanKind::Max => "Cummax",
                ScanKind::Min => "Cummin",
                ScanKind::LogSumExp => "Logcumsumexp",
            },
            0,
        ),
        Op::Sort(SortOp::Sort { .. }) => named("Sort", 0),
        Op::Shape(s) => match s {
            ShapeOp::Reshape => named("View", 0),
            ShapeOp::Permute { perm } => {
                let moved = perm.iter().enumerate().filter(|&(i, &p)| i != p).count();
                named(if moved == 2 { "Transpose" } else { "Permute" }, 0)
            }
            ShapeOp::Expand => named("Expand", 0),
            ShapeOp::Slice { .. } => named("Slice", 0),
            ShapeOp::Select { .. } => named("Select", 0),
            ShapeOp::SliceScatter { .. } => named("SliceBackward", 0),
            ShapeOp::Cat { .. } => named("Cat", 0),
            ShapeOp::Cast | ShapeOp::ToDevice => named("ToCopy", 0),
            ShapeOp::Clone => named("Clone", 0),
        },
        Op::Index(i) => match i {
            IndexOp::Take { .. } => named("Index", 0),
            IndexOp::Scatter { .. } => named("IndexBackward", 0),
            IndexOp::Put { .. } => named("IndexPut", 0),
            IndexOp::ScatterReduce { .. } => named("ScatterReduce", 0),
        },
        Op::Matmul(MatmulOp::Matmul) => {
            let matrices = inputs.iter().all(|m| m.shape.len() == 2);
            named(if matrices { "Mm" } else { "Bmm" }, 0)
        }
        Op::Matmul(MatmulOp::Linear) => named(if inputs.len() == 3 { "Addmm" } else { "Mm" }, 0),
        Op::Where => named("Where", 0),
        Op::Nn(n) => named(&camel(n.name()), 0),
        Op::Linalg(l) => named(&camel(l.name()), 0),
        Op::Norm(n) => named(&camel(n.name()), 0),
    }
}

#[cfg(test)]
mod tests {
    use crate::ops;
    use crate::tensor::{DType, Tensor};

    fn leaf(shape: &[usize]) -> Tensor {
        let n = shape.iter().product();
        let t = Tensor::from_vec(vec![0.5f64; n], shape).unwrap();
        t.set_requires_grad(true).unwrap();
        t
    }

    fn name(t: &Tensor) -> String {
        t.grad_fn().unwrap().node.name()
    }

    #[test]
    fn nodes_are_named_as_pytorch_prints_them() {
        let (x, w) = (leaf(&[2, 3]), leaf(&[4, 3]));
        assert_eq!(name(&ops::mul(&x, &x).unwrap()), "MulBackward0");
        assert_eq!(name(&ops::pow_scalar(&x, 2.0).unwrap()), "PowBackward0");
        assert_eq!(name(&ops::pow(&x, &x).unwrap()), "PowBackward1");
        assert_eq!(name(&ops::sum(&x, None, false).unwrap()), "SumBackward0");
        assert_eq!(name(&ops::sum(&x, Some(&[0]), false).unwrap()), "SumBackward1");
        assert_eq!(name(&ops::mean(&x, None, false).unwrap()), "MeanBackward0");
        assert_eq!(name(&ops::mean(&x, Some(&[0]), true).unwrap()), "MeanBackward1");
        assert_eq!(name(&ops::matmul(&x, &ops::transpose(&w, 0, 1).unwrap()).unwrap()), "MmBackward0");
        assert_eq!(name(&ops::transpose(&w, 0, 1).unwrap()), "TransposeBackward0");
        let b = leaf(&[4]);
        assert_eq!(name(&ops::linear(&x, &w, Some(&b)).unwrap()), "AddmmBackward0");
        assert_eq!(name(&ops::log_softmax(&x, 1).unwrap()), "LogSoftmaxBackward0");
        assert_eq!(name(&ops::unary_op(crate::kinds::UnaryKind::LeakyRelu { negative_slope: 0.1 }, &x).unwrap()), "LeakyReluBackward0");
        let _ = DType::F64;
    }
}
