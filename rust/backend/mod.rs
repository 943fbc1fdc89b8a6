//! Device dispatch: the one place that matches on where a tensor lives and forwards to the
//! CPU or GPU kernels. Ops above call these; kernels below never see autograd.

mod host;
mod matmul_shape;
mod optim_rule;
mod scan;
pub mod cpu_runtime;
mod upcast;

pub use crate::kinds::{AdamHyper, AdamMoments, AdamOptions, BinaryKind, Distribution, ReduceKind, SgdHyper, UnaryKind};
pub use crate::kinds::ScanKind;
pub use host::{item, number_tensor, scalar_tensor, scalar_value, small_values, to_vec, wrapped_number, write_scalar};
pub use matmul_shape::MatmulShape;
pub use optim_rule::{Rule, RuleStep};
pub use scan::{scan, sort};
pub use upcast::{computed, in_place, widen, Narrow};

use crate::cpu;
use crate::gpu::kernels as gpu;
use crate::error::{Error, Result};
use crate::tensor::{DType, Device, StorageRef, Tensor};

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
        Device::Gpu => crate::gpu::to_cpu(t),
    }
}

// Every dispatch below that computes (rather than moves elements) goes through `upcast`:
// `widen` its operands, run the kernel, `Narrow` the result (see `upcast` for why).

pub fn unary(kind: UnaryKind, a: &Tensor) -> Result<Tensor> {
    computed([a], |[a]| match a.device() {
        Device::Cpu => cpu::elementwise::unary(kind, a),
        Device::Gpu => gpu::elementwise::unary(kind, a),
    })
}

/// `dst = kind(dst)` in place where a kernel does that directly (CPU, contiguous, float32 or
/// float64); `None` elsewhere, where the caller computes a fresh result and copies it in.
pub fn unary_inplace(kind: UnaryKind, dst: &Tensor) -> Option<Result<()>> {
    match dst.device() {
        Device::Cpu => cpu::elementwise::unary_inplace(kind, dst),
        Device::Gpu => None,
    }
}

/// `a` and `b` have the same dtype; the result is broadcast to `shape`.
pub fn binary(kind: BinaryKind, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let device = same_device(kind.name(), &[a, b])?;
    computed([a, b], |[a, b]| match device {
        Device::Cpu => cpu::elementwise::binary(kind, a, b, shape),
        Device::Gpu => gpu::elementwise::binary(kind, a, b, shape),
    })
}

/// `cond ? a : b`, broadcast to `shape`; `a` and `b` share a dtype, `cond` is bool.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    let device = same_device("where", &[cond, a, b])?;
    computed([a, b], |[a, b]| match device {
        Device::Cpu => cpu::elementwise::where_(cond, a, b, shape),
        Device::Gpu => gpu::elementwise::where_(cond, a, b, shape),
    })
}

/// Sums and products of integers come out in int64 (PyTorch's rule: an int8 sum does not
/// wrap at 8 bits); every other reduction keeps the input's dtype.
pub fn reduce(kind: ReduceKind, a: &Tensor, axes: &[usize], keepdim: bool) -> Result<Tensor> {
    let accumulates = matches!(kind, ReduceKind::Sum | ReduceKind::Prod) && a.dtype().is_int();
    let narrow = if accumulates { Narrow::NONE } else { Narrow::of(a.dtype()) };
    let a = widen(a)?;
    let a: &Tensor = &a;
    narrow.apply(match a.device() {
        Device::Cpu => cpu::reduce::reduce(kind, a, axes, keepdim),
        Device::Gpu => gpu::reduce::reduce(kind, a, axes, keepdim),
    }?)
}

/// Index of the max (or min) along `axis`, as int64.
pub fn arg_reduce(kind: ReduceKind, a: &Tensor, axis: usize, keepdim: bool) -> Result<Tensor> {
    let a = widen(a)?;
    let a: &Tensor = &a;
    match a.device() {
        Device::Cpu => cpu::reduce::arg_reduce(kind, a, axis, keepdim),
        Device::Gpu => gpu::reduce::arg_reduce(kind, a, axis, keepdim),
    }
}

/// Batched matmul of `[..., m, k] @ [..., k, n]` with broadcast batch dims; transposed
/// operands arrive as strided views and are never materialised.
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let device = same_device("matmul", &[a, b])?;
    computed([a, b], |[a, b]| match device {
        Device::Cpu => cpu::matmul::matmul(a, b),
        Device::Gpu => gpu::matmul::matmul(a, b),
    })
}

/// `x @ w.T + bias` for `x: [m, k]`, `w: [n, k]`, `bias: [n]`.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let mut all = vec![x, w];
    all.extend(bias);
    let device = same_device("linear", &all)?;
    let narrow = Narrow::of(x.dtype());
    let (x, w) = (widen(x)?, widen(w)?);
    let (x, w): (&Tensor, &Tensor) = (&x, &w);
    let bias = bias.map(widen).transpose()?;
    let bias = bias.as_deref();
    narrow.apply(match device {
        Device::Cpu => cpu::matmul::linear(x, w, bias),
        Device::Gpu => gpu::matmul::linear(x, w, bias),
    }?)
}

/// A contiguous copy in `dtype`.
pub fn cast(a: &Tensor, dtype: DType) -> Result<Tensor> {
    match a.device() {
        Device::Cpu => cpu::copy::cast(a, dtype),
        Device::Gpu => gpu::elementwise::cast(a, dtype),
    }
}

/// Writes `src` (broadcast to `dst`'s shape, converted to its dtype) into the view `dst`.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    match same_device("copy_", &[dst, src])? {
        Device::Cpu => cpu::copy::copy_into(dst, src),
        Device::Gpu => gpu::elementwise::copy_into(dst, src),
    }
}

/// In-place `dst op= src` (src broadcast to dst) for the arithmetic kinds.
pub fn binary_inplace(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    let device = same_device(kind.name(), &[dst, src])?;
    in_place(&[dst], &[src], |t, i| match device {
        Device::Cpu => cpu::elementwise::binary_inplace(kind, t[0], i[0]),
        Device::Gpu => gpu::elementwise::binary_inplace(kind, t[0], i[0]),
    })
}

/// A fresh tensor filled with `value`.
pub fn full(shape: &[usize], value: f64, dtype: DType, device: Device) -> Result<Tensor> {
    match device {
        Device::Cpu => cpu::copy::full(shape, value, dtype),
        Device::Gpu => gpu::elementwise::full(shape, value, dtype),
    }
}

/// Storage holding the constant `value` for a wrapped Python number (never written): on the
/// GPU shared from a cache, since a fresh one would cost a kernel launch per number.
pub fn constant(value: f64, dtype: DType, device: Device) -> Result<StorageRef> {
    match device {
        Device::Cpu => Ok(full(&[], value, dtype, device)?.storage().clone()),
        Device::Gpu => gpu::elementwise::constant(value, dtype),
    }
}

/// Gathers `src.flat[offsets]` (src logically contiguous), shaped like `offsets`.
pub fn take(src: &Tensor, offsets: &Tensor) -> Result<Tensor> {
    match same_device("index", &[src, offsets])? {
        Device::Cpu => cpu::index::take(src, offsets),
        Device::Gpu => gpu::index::take(src, offsets),
    }
}

/// A zero tensor of `shape` with `values` added at flat `offsets` (repeats accumulate).
pub fn scatter_add(shape: &[usize], offsets: &Tensor, values: &Tensor) -> Result<Tensor> {
    let device = same_device("index_backward", &[offsets, values])?;
    computed([values], |[values]| match device {
        Device::Cpu => cpu::index::scatter_add(shape, offsets, values),
        Device::Gpu => gpu::index::scatter_add(shape, offsets, values),
    })
}

/// `dst.flat[offsets] = values` (or `+=` when `accumulate`), in place; `dst` contiguous.
pub fn index_put(dst: &Tensor, offsets: &Tensor, values: &Tensor, accumulate: bool) -> Result<()> {
    let device = same_device("index_put_", &[dst, offsets, values])?;
    in_place(&[dst], &[values], |t, i| match device {
        Device::Cpu => cpu::index::index_put(t[0], offsets, i[0], accumulate),
        Device::Gpu => gpu::index::index_put(t[0], offsets, i[0], accumulate),
    })
}

/// Concatenation along `dim` of tensors of one dtype.
pub fn cat(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
    match same_device("cat", tensors)? {
        Device::Cpu => cpu::copy::cat(tensors, dim),
        Device::Gpu => gpu::elementwise::cat(tensors, dim),
    }
}

/// Softmax (or log-softmax) along the last dimension.
pub fn softmax_last(a: &Tensor, log: bool) -> Result<Tensor> {
    computed([a], |[a]| match a.device() {
        Device::Cpu => cpu::softmax::softmax_last(a, log),
        Device::Gpu => gpu::softmax::softmax_last(a, log),
    })
}

/// Each row of the 2-D `x` normalised to mean 0, variance 1: `(y, rstd)`.
/// `rstd` stays in the compute dtype (float32 for half inputs): backward reads it at full precision.
pub fn norm_rows(x: &Tensor, eps: f64) -> Result<(Tensor, Tensor)> {
    let narrow = Narrow::of(x.dtype());
    let x = widen(x)?;
    let x: &Tensor = &x;
    let (y, rstd) = match x.device() {
        Device::Cpu => cpu::norm::norm_rows(x, eps),
        Device::Gpu => gpu::norm::norm_rows(x, eps),
    }?;
    Ok((narrow.apply(y)?, rstd))
}

/// The vjp of `norm_rows` from the upstream gradient, its output and `rstd`.
pub fn norm_rows_backward(g: &Tensor, y: &Tensor, rstd: &Tensor) -> Result<Tensor> {
    let device = same_device("norm backward", &[g, y, rstd])?;
    computed([g, y, rstd], |[g, y, rstd]| match device {
        Device::Cpu => cpu::norm::norm_rows_backward(g, y, rstd),
        Device::Gpu => gpu::norm::norm_rows_backward(g, y, rstd),
    })
}

/// Samples of `dist` on `device`: on the CPU from `gen`'s xoshiro stream (float32 dropout
/// masks from Philox keyed by it, as the GPU's), on the GPU from Philox keyed by it (all
/// reproducible from `gen`'s seed). A storage dtype is sampled in
/// its compute dtype and rounded to it.
pub fn random(shape: &[usize], dist: Distribution, dtype: DType, device: Device, gen: &crate::random::Generator) -> Result<Tensor> {
    let out = match device {
        Device::Cpu => cpu::random::sample(shape, dist, dtype.compute(), gen),
        Device::Gpu => gpu::random::sample(shape, dist, dtype.compute(), gen),
    }?;
    Narrow::of(dtype).apply(out)
}

/// Dropout's product and mask, `(x * mask, mask)`, for a float `x`, the mask drawn as
/// `random`'s Bernoulli draws it: in one pass where the CPU has the kernel (contiguous
/// float32), else the mask and then the product.
pub fn dropout(x: &Tensor, keep: f64, scale: f64, gen: &crate::random::Generator) -> Result<(Tensor, Tensor)> {
    if x.device() == Device::Cpu && x.dtype() == DType::F32 && x.is_contiguous() {
        return cpu::random::dropout(x, keep, scale, gen);
    }
    let mask = random(x.shape(), Distribution::Bernoulli { keep, scale }, x.dtype(), x.device(), gen)?;
    let out = binary(BinaryKind::Mul, x, &mask, x.shape())?;
    Ok((out, mask))
}

/// One fused SGD update of `param` in place (and of its momentum buffer, when given).
pub fn sgd_update(param: &Tensor, grad: &Tensor, momentum_buffer: Option<&Tensor>, hp: &SgdHyper) -> Result<()> {
    let mut all = vec![param, grad];
    all.extend(momentum_buffer);
    let device = same_device("sgd", &all)?;
    let mut targets = vec![param];
    targets.extend(momentum_buffer);
    in_place(&targets, &[grad], |targets, i| {
        let grad = i[0];
        let (param, momentum_buffer) = (targets[0], targets.get(1).copied());
        match device {
            Device::Cpu => cpu::optim::sgd(param, grad, momentum_buffer, hp),
            Device::Gpu => gpu::optim::sgd(param, grad, momentum_buffer, hp),
        }
    })
}

/// One fused Adam/AdamW update of `param` and its moment estimates, in place.
pub fn adam_update(param: &Tensor, grad: &Tensor, moments: &AdamMoments, hp: &AdamHyper) -> Result<()> {
    let mut all = vec![param, grad, moments.exp_avg, moments.exp_avg_sq];
    all.extend(moments.max_exp_avg_sq);
    let device = same_device("adam", &all)?;
    let mut targets = vec![param, moments.exp_avg, moments.exp_avg_sq];
    targets.extend(moments.max_exp_avg_sq);
    in_place(&targets, &[grad], |t, i| {
        let grad = i[0];
        let moments = AdamMoments { exp_avg: t[1], exp_avg_sq: t[2], max_exp_avg_sq: t.get(3).copied() };
        match device {
            Device::Cpu => cpu::optim::adam(t[0], grad, &moments, hp),
            Device::Gpu => gpu::optim::adam(t[0], grad, &moments, hp),
        }
    })
}

/// One fused update of `param` and its state tensors by one of the rules in `optim_rule`.
pub fn rule_update(param: &Tensor, grad: &Tensor, state: &[&Tensor], step: &RuleStep) -> Result<()> {
    let mut all = vec![param, grad];
    all.extend(state);
    let device = same_device(step.name(), &all)?;
    let mut targets = vec![param];
    targets.extend(state);
    in_place(&targets, &[grad], |t, i| match device {
        Device::Cpu => cpu::optim::rule(t[0], i[0], &t[1..], step),
        Device::Gpu => gpu::optim::rule(t[0], i[0], &t[1..], step),
    })
}

/// Bounds on the values of an int64 tensor that are known without reading it: on the GPU,
/// those recorded when its memory was filled (uploads, gathers from bounded data) if it has
/// not been written in place since. `None` on the CPU, where reading the values is cheap.
pub fn known_int_bounds(t: &Tensor) -> Option<(i64, i64)> {
    match t.device() {
        Device::Cpu => None,
        Device::Gpu => crate::gpu::known_bounds(t),
    }
}

/// A copy of `t` on `device` (the tensor itself when already there).
pub fn to_device(t: &Tensor, device: Device) -> Result<Tensor> {
    if t.device() == device {
        return Ok(t.clone());
    }
    match device {
        Device::Cpu => to_cpu(t),
        Device::Gpu => crate::gpu::to_gpu(t),
    }
}

/// Dense factorizations run on the CPU only (`cpu::linalg`); a GPU tensor is an error that
/// says how to move it, never an implicit copy.
fn cpu_only(op: &str, tensors: &[&Tensor]) -> Result<()> {
    if tensors.iter().any(|t| t.device() != Device::Cpu) {
        return Err(Error::Device(format!("{op}: runs on the CPU only; move the input with .cpu() first (and back with .to(\"gpu\"))")));
    }
    Ok(())
}

pub fn linalg_solve(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    cpu_only("linalg.solve", &[a, b])?;
    computed([a, b], |[a, b]| cpu::linalg::solve(a, b))
}

pub fn linalg_inv(a: &Tensor) -> Result<Tensor> {
    cpu_only("linalg.inv", &[a])?;
    computed([a], |[a]| cpu::linalg::inv(a))
}

pub fn linalg_det(a: &Tensor) -> Result<Tensor> {
    cpu_only("linalg.det", &[a])?;
    computed([a], |[a]| cpu::linalg::det(a))
}

pub fn linalg_slogdet(a: &Tensor) -> Result<(Tensor, Tensor)> {
    cpu_only("linalg.slogdet", &[a])?;
    let narrow = Narrow::of(a.dtype());
    let (sign, logabsdet) = cpu::linalg::slogdet(&*widen(a)?, "linalg.slogdet")?;
    Ok((narrow.apply(sign)?, narrow.apply(logabsdet)?))
}

pub fn linalg_cholesky(a: &Tensor) -> Result<Tensor> {
    cpu_only("linalg.cholesky", &[a])?;
    computed([a], |[a]| cpu::linalg::cholesky(a))
}

pub fn linalg_qr(a: &Tensor, complete: bool) -> Result<(Tensor, Tensor)> {
    cpu_only("linalg.qr", &[a])?;
    let narrow = Narrow::of(a.dtype());
    let (q, r) = cpu::linalg::qr(&*widen(a)?, complete)?;
    Ok((narrow.apply(q)?, narrow.apply(r)?))
}

pub fn linalg_eigh(a: &Tensor, upper: bool) -> Result<(Tensor, Tensor)> {
    cpu_only("linalg.eigh", &[a])?;
    let narrow = Narrow::of(a.dtype());
    let (w, v) = cpu::linalg::eigh(&*widen(a)?, upper)?;
    Ok((narrow.apply(w)?, narrow.apply(v)?))
}

pub fn linalg_svd(a: &Tensor, full: bool) -> Result<(Tensor, Tensor, Tensor)> {
    cpu_only("linalg.svd", &[a])?;
    let narrow = Narrow::of(a.dtype());
    let (u, s, vh) = cpu::linalg::svd(&*widen(a)?, full)?;
    Ok((narrow.apply(u)?, narrow.apply(s)?, narrow.apply(vh)?))
}
