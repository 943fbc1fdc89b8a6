//! Elementwise kernels: unary functions and casts, broadcasting binary ops (and their
//! in-place forms, copies into views included), `where`, fills. Dtype rules mirror the CPU
//! kernels; errors name the op and the dtype.

use super::super::context::gpu;
use super::super::launch::{elementwise, Scalars, View};
use super::super::pipelines::{Access, Entry};
use super::super::storage::GpuStorage;
use super::{cast_code, dtype_code, gpu_storage, view_of, written_view};
use crate::kinds::{unsupported_dtype, BinaryKind, Class, UnaryKind, ASSIGN_CODE};
use crate::error::{dtype_err, Error, Result};
use crate::tensor::{numel, DType, Layout, SharedStorage, Storage, StorageRef, Tensor};

const UNARY: Entry = Entry { file: "unary.wgsl", name: "main", storage: &[Access::Read, Access::ReadWrite] };
const BINARY: Entry = Entry { file: "binary.wgsl", name: "main", storage: &[Access::Read, Access::Read, Access::ReadWrite] };
const INPLACE: Entry = Entry { file: "binary.wgsl", name: "inplace", storage: &[Access::Read, Access::ReadWrite] };
const WHERE: Entry = Entry { file: "where.wgsl", name: "main", storage: &[Access::Read, Access::Read, Access::Read, Access::ReadWrite] };
const FILL: Entry = Entry { file: "fill.wgsl", name: "main", storage: &[Access::ReadWrite] };

const CAST: u32 = 0;

/// Runs `unary.wgsl` with `op` from `a` into a fresh contiguous tensor of `out_dtype`.
fn map(a: &Tensor, op: u32, out_dtype: DType, scalars: Scalars, name: &str) -> Result<Tensor> {
    let g = gpu()?;
    let out = GpuStorage::alloc(g, out_dtype, a.numel())?;
    let shape = a.shape();
    let code = if op == CAST { cast_code } else { dtype_code };
    let constants = [("OP", op as f64), ("IN_T", code(a.dtype())?), ("OUT_T", code(out_dtype)?)];
    elementwise(g, name, &UNARY, &constants, shape, &[written_view(&out, shape), view_of(a, shape, name)?], scalars)?;
    Ok(Tensor::from_storage(Storage::Gpu(out), shape))
}

pub fn unary(kind: UnaryKind, a: &Tensor) -> Result<Tensor> {
    let name = kind.name();
    let dt = a.dtype();
    let class = kind.class();
    let supported = match dt {
        DType::F32 => class != Class::Logic,
        DType::I64 => kind.info().has_int,
        DType::Bool => class == Class::Logic,
        _ => true, // float64 and the storage dtypes: refused by the storage check below
    };
    if !supported {
        return Err(unsupported_dtype(name, class, dt));
    }
    let out_dtype = if class == Class::Pred { DType::Bool } else { dt };
    let params = kind.params();
    let mut scalars = Scalars::default();
    if dt == DType::I64 {
        scalars.u = int_params(kind)?;
    } else {
        for (slot, (_, v)) in scalars.f.iter_mut().zip(&params) {
            *slot = *v as f32;
        }
    }
    map(a, kind.code(), out_dtype, scalars, name)
}

/// The parameters of an int64 kind as the shader's 32-bit integers: clamp bounds rounded
/// inwards and saturated, a power's exponent (non-negative integers only, as on the CPU).
fn int_params(kind: UnaryKind) -> Result<[u32; 4]> {
    let to_i32 = |v: f64| v.clamp(i32::MIN as f64, i32::MAX as f64) as i32 as u32;
    Ok(match kind {
        UnaryKind::Clamp { min, max } => [to_i32(min.ceil()), to_i32(max.floor()), 0, 0],
        UnaryKind::PowScalar { exponent } => {
            if exponent < 0.0 || exponent.fract() != 0.0 {
                return Err(dtype_err!("pow: not defined for int64 tensors with exponent {exponent}"));
            }
            [to_i32(exponent), 0, 0, 0]
        }
        _ => [0; 4],
    })
}

/// A contiguous copy of `a` converted to `dtype`.
pub fn cast(a: &Tensor, dtype: DType) -> Result<Tensor> {
    map(a, CAST, dtype, Scalars::default(), "to")
}

fn check_binary_dtypes(kind: BinaryKind, a: &Tensor, b: &Tensor) -> Result<()> {
    use BinaryKind::*;
    let name = kind.name();
    let dt = a.dtype();
    let info = kind.info();
    let supported = match (info.class, dt) {
        (Class::Compare, _) => true,
        (Class::Logic, d) => d == DType::Bool,
        (Class::Bits, d) => d != DType::F32,
        (Class::Integer, d) => d == DType::I64,
        (_, DType::Bool) => matches!(kind, Add | Maximum | Mul | Minimum),
        (_, DType::I64) => info.has_int,
        _ => true,
    };
    if !supported {
        return Err(unsupported_dtype(name, info.class, dt));
    }
    if dt == DType::I64 && kind.divides_ints() && crate::gpu::to_cpu(b)?.to_vec::<i64>()?.contains(&0) {
        return Err(Error::ZeroDivision(format!("{name}: integer division by zero")));
    }
    Ok(())
}

/// `a op b` broadcast to `shape` (`a` and `b` share a dtype).
pub fn binary(kind: BinaryKind, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    check_binary_dtypes(kind, a, b)?;
    let g = gpu()?;
    let out_dtype = if kind.returns_bool() { DType::Bool } else { a.dtype() };
    let out = GpuStorage::alloc(g, out_dtype, numel(shape))?;
    let name = kind.name();
    let constants = [("OP", kind.code() as f64), ("T", dtype_code(a.dtype())?)];
    let views = [written_view(&out, shape), view_of(a, shape, name)?, view_of(b, shape, name)?];
    elementwise(g, name, &BINARY, &constants, shape, &views, Scalars::default())?;
    Ok(Tensor::from_storage(Storage::Gpu(out), shape))
}

/// `cond ? a : b` broadcast to `shape`.
pub fn where_(cond: &Tensor, a: &Tensor, b: &Tensor, shape: &[usize]) -> Result<Tensor> {
    if cond.dtype() != DType::Bool {
        return Err(dtype_err!("where: the condition must be a bool tensor, got {}", cond.dtype().name()));
    }
    let g = gpu()?;
    let out = GpuStorage::alloc(g, a.dtype(), numel(shape))?;
    let views = [written_view(&out, shape), view_of(cond, shape, "where")?, view_of(a, shape, "where")?, view_of(b, shape, "where")?];
    elementwise(g, "where", &WHERE, &[], shape, &views, Scalars::default())?;
    Ok(Tensor::from_storage(Storage::Gpu(out), shape))
}

/// Refuses destinations where several elements share one memory location (an expanded
/// view): GPU threads would race on them.
fn check_writable(dst: &Tensor, op: &str) -> Result<()> {
    let l = dst.layout();
    if l.shape().iter().zip(l.strides()).any(|(&n, &s)| n > 1 && s == 0) {
        return Err(Error::Value(format!(
            "{op}: unsupported operation: more than one element of the written-to tensor refers to a single memory \
             location; call .clone() on the tensor (or write to a non-expanded one) first"
        )));
    }
    Ok(())
}

fn inplace(dst: &Tensor, src: &Tensor, op: u32, name: &str) -> Result<()> {
    check_writable(dst, name)?;
    let g = gpu()?;
    let shape = dst.shape();
    let d = gpu_storage(dst, name)?;
    let dview = View { storage: d, strides: dst.layout().strides().into(), offset: dst.layout().offset() };
    let constants = [("OP", op as f64), ("T", dtype_code(dst.dtype())?)];
    elementwise(g, name, &INPLACE, &constants, shape, &[dview, view_of(src, shape, name)?], Scalars::default())
}

/// `dst op= src`, `src` broadcast to `dst` and of its dtype (ops whose result has that dtype).
pub fn binary_inplace(kind: BinaryKind, dst: &Tensor, src: &Tensor) -> Result<()> {
    let name = kind.name();
    if kind.returns_bool() && dst.dtype() != DType::Bool {
        return Err(dtype_err!("{name}_: the in-place kernel writes the operands' own dtype; {name} returns bool"));
    }
    if dst.dtype() == DType::I64 && kind.class() == Class::Float {
        return Err(dtype_err!("{name}_: result type float can't be cast to the int64 tensor being updated"));
    }
    check_binary_dtypes(kind, dst, src)?;
    inplace(dst, src, kind.code(), name)
}

/// Writes `src` (broadcast, converted) into the view `dst`.
pub fn copy_into(dst: &Tensor, src: &Tensor) -> Result<()> {
    let src = if src.dtype() != dst.dtype() { cast(src, dst.dtype())? } else { src.clone() };
    inplace(dst, &src, ASSIGN_CODE, "copy_")
}

/// The bits of `value` as an element of `dtype` on the GPU.
pub fn word_of(value: f64, dtype: DType) -> Result<u32> {
    Ok(match dtype {
        DType::F32 => (value as f32).to_bits(),
        DType::F16 => crate::tensor::F16::from_f32(value as f32).to_f32().to_bits(),
        DType::BF16 => crate::tensor::BF16::from_f32(value as f32).to_f32().to_bits(),
        DType::Bool => (value != 0.0) as u32,
        DType::I64 => {
            let v = value as i64;
            i32::try_from(v).map_err(|_| {
                Error::Value(format!("full: {v} does not fit the GPU's 32-bit integers (int64 tensors are 32-bit on the GPU)"))
            })? as u32
        }
        other => return Err(super::super::storage::check_dtype(other, "full").unwrap_err()),
    })
}

/// A fresh tensor of `shape` filled with `value`.
pub fn full(shape: &[usize], value: f64, dtype: DType) -> Result<Tensor> {
    let word = word_of(value, dtype)?;
    let g = gpu()?;
    let out = GpuStorage::alloc(g, dtype, numel(shape))?;
    fill(&out, word)?;
    Ok(Tensor::from_storage(Storage::Gpu(out), shape))
}

/// Storage of one element holding `value` (for wrapped Python numbers), shared through a
/// small cache; callers never write it.
pub fn constant(value: f64, dtype: DType) -> Result<StorageRef> {
    const CACHED: usize = 512;
    let word = word_of(value, dtype)?;
    let g = gpu()?;
    let mut cache = g.constants.lock();
    if let Some(s) = cache.get(&(word, dtype)) {
        return Ok(s.clone());
    }
    let storage = GpuStorage::alloc(g, dtype, 1)?;
    fill(&storage, word)?;
    let shared = StorageRef::new(SharedStorage::new(Storage::Gpu(storage)));
    if cache.len() >= CACHED {
        cache.clear();
    }
    cache.insert((word, dtype), shared.clone());
    Ok(shared)
}

/// Sets every element of `storage` to `word`.
pub fn fill(storage: &GpuStorage, word: u32) -> Result<()> {
    let n = storage.len();
    elementwise(gpu()?, "fill", &FILL, &[], &[n], &[written_view(storage, &[n])], Scalars { u: [word, 0, 0, 0], f: [0.0; 4] })
}

/// Concatenation along `dim`: each input copied into its slab of a fresh output.
pub fn cat(tensors: &[&Tensor], dim: usize) -> Result<Tensor> {
    let first = tensors[0];
    let mut shape = first.dims();
    shape[dim] = tensors.iter().map(|t| t.shape()[dim]).sum();
    let g = gpu()?;
    let out = Tensor::from_storage(Storage::Gpu(GpuStorage::alloc(g, first.dtype(), numel(&shape))?), &shape);
    let mut start = 0;
    for t in tensors {
        let len = t.shape()[dim];
        let slab = out.with_layout(Layout::contiguous(&shape).slice(dim, start, len, 1, "cat")?)?;
        inplace(&slab, t, ASSIGN_CODE, "cat")?;
        start += len;
    }
    Ok(out)
}
