//! Device dispatch: the one place that matches on where a tensor lives and forwards to the
//! CPU (or GPU) kernels. Ops above call these; kernels below never see autograd.

mod kinds;

pub use kinds::{AdamHyper, BinaryKind, ReduceKind, SgdHyper, UnaryKind};

use crate::cpu;
use crate::error::{Error, Result};
use crate::tensor::{DType, Device, Tensor};

/// All operands must live on one device; mixing is an error, never an implicit copy.
pub fn same_device(op: &str, tensors: &[&Tensor]) -> Result<Device> {
    let first = tensors.first().map(|t| t.device()).unwrap_or(Device::Cpu);
    if let Some(other) = tensors.iter().find(|t| t.device() != first) {
        return Err(Error::Device(format!(
            "{op}: expected all tensors on one device, got {} and {}; move them with .to(\"{}\") first",
            first.name(),
            other.device().name(),
            first.name()
        )));
    }
    Ok(first)
}

/// A CPU copy (or the tensor itself when it already is on the CPU).
pub fn to_cpu(t: &Tensor) -> Result<Tensor> {
    match t.device() {
        Device::Cpu => Ok(t.clone()),
        Device::Gpu => Err(no_gpu()),
    }
}

pub fn unary(kind: UnaryKind, a: &Tensor) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => cpu::elementwise::unary(kind, a),
        Device::Gpu => Err(no_gpu()),
    }
}

/// `a` and `b` have the same dtype; the result is broadcast to `shape`.
pub fn binary(kind: BinaryKind, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    match same_device(kind.name(), &[a, b])? {
        Device::Cpu => cpu::elementwise::binary(kind, a, b, shape),
        Device::Gpu => Err(no_gpu()),
    }
}

/// `cond ? a : b`, broadcast to `shape`; `a` and `b` share a dtype, `cond` is bool.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    match same_device("where", &[cond, a, b])? {
        Device::Cpu => cpu::elementwise::where_(cond, a, b, shape),
        Device::Gpu => Err(no_gpu()),
    }
}

pub fn reduce(kind: ReduceKind, a: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => cpu::reduce::reduce(kind, a, axes, keepdim),
        Device::Gpu => Err(no_gpu()),
    }
}

/// Index of the max (or min) along `axis`, as int64.
pub fn arg_reduce(kind: ReduceKind, a: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => cpu::reduce::arg_reduce(kind, a, axis, keepdim),
        Device::Gpu => Err(no_gpu()),
    }
}

/// Batched matmul of `[..., m, k] @ [..., k, n]` with broadcast batch dims; transposed
/// operands arrive as strided views and are never materialised.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    match same_device("matmul", &[a, b])? {
        Device::Cpu => cpu::matmul::matmul(a, b),
        Device::Gpu => Err(no_gpu()),
    }
}

/// `x @ w.T + bias` for `x: [m, k]`, `w: [n, k]`, `bias: [n]`.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let mut all = vec![x, w];
    all.extend(bias);
    match same_device("linear", &all)? {
        Device::Cpu => cpu::matmul::linear(x, w, bias),
        Device::Gpu => Err(no_gpu()),
    }
}

/// A contiguous copy in `dtype`.
pub fn cast(a: &Tensor, dtype: DType) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => cpu::copy::cast(a, dtype),
        Device::Gpu => Err(no_gpu()),
    }
}

/// Writes `src` (broadcast to `dst`'s shape, converted to its dtype) into the view `dst`.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    match same_device("copy_", &[dst, src])? {
        Device::Cpu => cpu::copy::copy_into(dst, src),
        Device::Gpu => Err(no_gpu()),
    }
}

/// In-place `dst op= src` (src broadcast to dst) for the arithmetic kinds.
pub fn binary_inplace(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    match same_device(kind.name(), &[dst, src])? {
        Device::Cpu => cpu::elementwise::binary_inplace(kind, dst, src),
        Device::Gpu => Err(no_gpu()),
    }
}

/// A fresh tensor filled with `value`.
pub fn full(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Tensor> {
    match device {
        Device::Cpu => Ok(cpu::copy::full(shape, value, dtype)),
        Device::Gpu => Err(no_gpu()),
    }
}

/// Gathers `src.flat[offsets]` (src logically contiguous), shaped like `offsets`.
pub fn take(src: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    match same_device("index", &[src, offsets])? {
        Device::Cpu => cpu::index::take(src, offsets),
        Device::Gpu => Err(no_gpu()),
    }
}

/// A zero tensor of `shape` with `values` added at flat `offsets` (repeats accumulate).
pub fn scatter_add(shape: &[usize], offsets: &Tensor, values: &Tensor) -> Result<Tensor> {
    match same_device("index_backward", &[offsets, values])? {
        Device::Cpu => cpu::index::scatter_add(shape, offsets, values),
        Device::Gpu => Err(no_gpu()),
    }
}

/// `dst.flat[offsets] = values` (or `+=` when `accumulate`), in place; `dst` contiguous.
pub fn index_put(dst: &Tensor, offsets: &Tensor, values: &Tensor, accumulate: bool) -> Result<()> {
    match same_device("index_put_", &[dst, offsets, values])? {
        Device::Cpu => cpu::index::index_put(dst, offsets, values, accumulate),
        Device::Gpu => Err(no_gpu()),
    }
}

/// Concatenation along `dim` of tensors of one dtype.
pub fn cat(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
    match same_device("cat", tensors)? {
        Device::Cpu => cpu::copy::cat(tensors, dim),
        Device::Gpu => Err(no_gpu()),
    }
}

/// Softmax (or log-softmax) along the last dimension.
pub fn softmax_last(a: &Tensor, log: bool) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => cpu::softmax::softmax_last(a, log),
        Device::Gpu => Err(no_gpu()),
    }
}

/// One fused SGD update of `param` in place (and of its momentum buffer, when given).
pub fn sgd_update(param: &Tensor, grad: &Tensor, momentum_buffer: Option<&Tensor>, hp: &SgdHyper) -> Result<()> {
    let mut all = vec![param, grad];
    all.extend(momentum_buffer);
    match same_device("sgd", &all)? {
        Device::Cpu => cpu::optim::sgd(param, grad, momentum_buffer, hp),
        Device::Gpu => Err(no_gpu()),
    }
}

/// One fused Adam/AdamW update of `param` and its moment estimates, in place.
pub fn adam_update(
    param: &Tensor,
    grad: &Tensor,
    exp_avg: &Tensor,
    exp_avg_sq: &Tensor,
    max_exp_avg_sq: Option<&Tensor>,
    hp: &AdamHyper,
) -> Result<()> {
    let mut all = vec![param, grad, exp_avg, exp_avg_sq];
    all.extend(max_exp_avg_sq);
    match same_device("adam", &all)? {
        Device::Cpu => cpu::optim::adam(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, hp),
        Device::Gpu => Err(no_gpu()),
    }
}

/// A dropout mask of `shape`: `1 / keep` with probability `keep`, else 0, in float `dtype`.
/// Drawn from the global generator on the CPU (one pass), then placed on `device`.
pub fn dropout_mask(shape: &[usize], keep: f64, dtype: DType, device: Device) -> Result<Tensor> {
    let n = crate::tensor::numel(shape);
    let mask = match dtype {
        DType::F32 => Tensor::from_vec(crate::random::dropout_mask_f32(n, keep as f32, (1.0 / keep) as f32), shape)?,
        DType::F64 => Tensor::from_vec(crate::random::dropout_mask_f64(n, keep, 1.0 / keep), shape)?,
        other => return Err(crate::error::dtype_err!("dropout: the mask must be a float dtype, got {}", other.name())),
    };
    match device {
        Device::Cpu => Ok(mask),
        Device::Gpu => to_device(&mask, device),
    }
}

fn no_gpu() -> Error {
    Error::Device("this build of backprop has no GPU backend; keep tensors on the CPU".into())
}

/// A copy of `t` on `device` (the tensor itself when already there).
pub fn to_device(t: &Tensor, device: Device) -> Result<Tensor> {
    if t.device() == device {
        return Ok(t.clone());
    }
    match device {
        Device::Cpu => to_cpu(t),
        Device::Gpu => Err(no_gpu()),
    }
}
