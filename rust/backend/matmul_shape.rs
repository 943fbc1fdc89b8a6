//! What every backend's matrix product checks and derives before it launches anything: the
//! operands' dtypes, the matrix sizes, the broadcast batch dims and the layouts expanded to
//! them. Kernels differ; this does not.

use crate::error::{dtype_err, shape_err, Result, ShapeDisplay};
use crate::tensor::{broadcast_shapes, DType, Dims, Layout, Tensor};

/// `[..., m, k] @ [..., k, n]` resolved: both layouts expanded to `[batch..., rows, cols]`.
pub struct MatmulShape {
    pub m: usize,
    pub k: usize,
    pub n: usize,
    pub batch: Dims,
    pub a: Layout,
    pub b: Layout,
    /// `[batch..., m, n]`.
    pub out: Dims,
}

impl MatmulShape {
    /// Checks two operands of at least two dims each (the ops layer handles 1-D ones).
    pub fn of(a: &Tensor, b: &Tensor) -> Result<MatmulShape> {
        if a.dtype() != b.dtype() {
            return Err(dtype_err!("matmul: operands must share a dtype, got {} and {}", a.dtype().name(), b.dtype().name()));
        }
        if a.dtype() == DType::Bool {
            return Err(dtype_err!("matmul: not defined for bool tensors"));
        }
        let (sa, sb) = (a.shape(), b.shape());
        let (na, nb) = (sa.len(), sb.len());
        let (m, k, k2, n) = (sa[na - 2], sa[na - 1], sb[nb - 2], sb[nb - 1]);
        if k != k2 {
            return Err(shape_err!(
                "matmul: shapes {} and {} cannot be multiplied ({m}x{k} and {k2}x{n}): the inner dimensions must match",
                ShapeDisplay(sa),
                ShapeDisplay(sb)
            ));
        }
        let batch = broadcast_shapes(&sa[..na - 2], &sb[..nb - 2], "matmul")?;
        let la = a.layout().expand(&[&batch[..], &[m, k]].concat(), "matmul")?;
        let lb = b.layout().expand(&[&batch[..], &[k, n]].concat(), "matmul")?;
        let mut out = batch.clone();
        out.extend_from_slice(&[m, n]);
        Ok(MatmulShape { m, k, n, batch, a: la, b: lb, out })
    }
}
