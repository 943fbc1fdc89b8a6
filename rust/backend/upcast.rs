//! The one upcast point. Kernels compute in four dtypes (bool, int64, float32, float64); the
//! storage dtypes (float16, bfloat16, int32, int16, int8, uint8) reach them only through here:
//! every backend dispatch widens its operands to `DType::compute()` (half types to float32,
//! narrow integers to int64) before the kernel runs and narrows a result in that compute dtype
//! back to the operands' dtype afterwards. Narrowing wraps integers and rounds half types to
//! nearest even, which is what PyTorch's kernels produce (uint8 255 + 1 == 0; a float16 sum is
//! accumulated in float32 and rounded once). A kernel added later gets every dtype by being
//! called through `widen`/`Narrow`, with no edit of its own.

use crate::error::Result;
use crate::tensor::{DType, Tensor};
use std::borrow::Cow;

/// `t` in the dtype kernels compute it in (`t` itself when it already is one).
// Inlined with the cast out of line: every op's dispatch passes through here, and for the
// compute dtypes it must cost a compare.
#[inline]
pub fn widen(t: &Tensor) -> Result<Cow<'_, Tensor>> {
    if t.dtype().is_storage_only() {
        widened(t).map(Cow::Owned)
    } else {
        Ok(Cow::Borrowed(t))
    }
}

#[cold]
#[inline(never)]
fn widened(t: &Tensor) -> Result<Tensor> {
    super::cast(t, t.dtype().compute())
}

/// `f` of `operands` in their compute dtype, its result narrowed back to the first operand's
/// dtype. Operands already in a compute dtype go to `f` as they are,
/// with no `Cow` or narrowing in between: this is the dispatch of every elementwise op, and
/// the scalar circuits pay for each instruction of it.
#[inline]
pub fn computed<const N: usize>(operands: [&Tensor; N], f: impl FnOnce([&Tensor; N]) -> Result<Tensor>) -> Result<Tensor> {
    if operands.iter().any(|t| t.dtype().is_storage_only()) {
        computed_widened(operands, f)
    } else {
        f(operands)
    }
}

#[cold]
#[inline(never)]
fn computed_widened<const N: usize>(operands: [&Tensor; N], f: impl FnOnce([&Tensor; N]) -> Result<Tensor>) -> Result<Tensor> {
    let narrow = Narrow::of(operands.first().map_or(DType::F32, |t| t.dtype()));
    let mut wide = Vec::with_capacity(N);
    for t in operands {
        wide.push(widen(t)?);
    }
    let refs: [&Tensor; N] = std::array::from_fn(|i| wide[i].as_ref());
    narrow.apply(f(refs)?)
}

/// How to bring a kernel's result back to the dtype of the operands it was widened from.
#[derive(Clone, Copy, Debug)]
pub struct Narrow {
    /// The operands' storage dtype when they were widened.
    from: Option<DType>,
}

impl Narrow {
    /// The narrowing for operands of dtype `dtype` (nothing to do for a compute dtype).
    #[inline]
    pub fn of(dtype: DType) -> Narrow {
        Narrow { from: dtype.is_storage_only().then_some(dtype) }
    }

    /// No narrowing: for results whose dtype is the op's own (argmax's int64 indices, an
    /// integer sum's int64 total).
    pub const NONE: Narrow = Narrow { from: None };

    /// `out` back in the storage dtype when it came out in that dtype's compute dtype (a
    /// comparison's bool result, for instance, stays bool).
    #[inline]
    pub fn apply(self, out: Tensor) -> Result<Tensor> {
        match self.from {
            Some(d) => narrowed(out, d),
            None => Ok(out),
        }
    }
}

#[cold]
#[inline(never)]
fn narrowed(out: Tensor, d: DType) -> Result<Tensor> {
    if out.dtype() == d.compute() {
        super::cast(&out, d)
    } else {
        Ok(out)
    }
}

/// Runs the in-place kernel `f` on widened copies of `targets` (written by `f`) and `inputs`
/// (only read), then writes the widened targets back into the originals. Tensors already in a
/// compute dtype are handed over as they are, so the common case costs nothing.
pub fn in_place(targets: &[&Tensor], inputs: &[&Tensor], f: impl FnOnce(&[&Tensor], &[&Tensor]) -> Result<()>) -> Result<()> {
    let wide_targets: Vec<Cow<'_, Tensor>> = targets.iter().map(|t| widen(t)).collect::<Result<_>>()?;
    let wide_inputs: Vec<Cow<'_, Tensor>> = inputs.iter().map(|t| widen(t)).collect::<Result<_>>()?;
    let target_refs: Vec<&Tensor> = wide_targets.iter().map(|t| t.as_ref()).collect();
    let input_refs: Vec<&Tensor> = wide_inputs.iter().map(|t| t.as_ref()).collect();
    f(&target_refs, &input_refs)?;
    for (original, wide) in targets.iter().zip(&wide_targets) {
        if let Cow::Owned(wide) = wide {
            super::copy_into(original, wide)?;
        }
    }
    Ok(())
}
