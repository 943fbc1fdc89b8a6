//! Matrix products. Operands are passed as (offset, row stride, column stride) plus batch
//! strides, so transposed views (the NT and TN products of backward passes, linear's weight)
//! are read in place. The host picks the tile size, whether each operand can be loaded as
//! vec4s, and whether bounds checks are needed; `shaders/matmul.wgsl` does the rest.

use super::super::context::{gpu, Gpu};
use super::super::launch::{collapse, dispatch, extent, kernel, relative, whole, window};
use super::super::pipelines::{Access, Entry};
use super::super::recorder::Binding;
use super::super::storage::GpuStorage;
use super::elementwise::cast;
use super::gpu_storage;
use crate::backend::MatmulShape;
use crate::error::{dtype_err, Error, Result, ShapeDisplay};
use crate::tensor::{numel, DType, Dims, Layout, Storage, Tensor};
use bytemuck::{Pod, Zeroable};

const TILED: Entry = Entry {
    file: "matmul.wgsl",
    name: "main",
    storage: &[Access::Read, Access::Read, Access::Read, Access::Read, Access::Read, Access::ReadWrite],
};
const NAIVE: Entry = Entry { file: "matmul_naive.wgsl", name: "main", storage: &[Access::Read, Access::Read, Access::ReadWrite] };

/// Batch dims a launch can index (after merging).
const MAX_BATCH_DIMS: usize = 4;

/// The `Params` uniform of `matmul_params.wgsl` (used by `matmul.wgsl` and `matmul_naive.wgsl`).
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable, Debug)]
struct Params {
    m: u32,
    n: u32,
    k: u32,
    batch_count: u32,
    a_off: u32,
    a_rs: u32,
    a_cs: u32,
    bias_off: u32,
    b_off: u32,
    b_rs: u32,
    b_cs: u32,
    c_off: u32,
    batch_ndim: u32,
    batch_base: u32,
    m_base: u32,
    n_base: u32,
    batch_shape: [u32; 4],
    a_batch_strides: [u32; 4],
    b_batch_strides: [u32; 4],
}

/// A matrix operand: storage, offset, row and column strides, strides along the batch dims.
struct Matrix<'a> {
    storage: &'a GpuStorage,
    layout: Layout,
    off: usize,
    rs: usize,
    cs: usize,
    batch: Dims,
}

impl<'a> Matrix<'a> {
    /// `t` viewed as `[batch..., rows, cols]` (its layout already expanded to that shape).
    fn new(t: &'a Tensor, layout: Layout, op: &str) -> Result<Matrix<'a>> {
        let nd = layout.ndim();
        let s = layout.strides();
        Ok(Matrix { storage: gpu_storage(t, op)?, off: layout.offset(), rs: s[nd - 2], cs: s[nd - 1], batch: s[..nd - 2].into(), layout })
    }

    /// The transposed matrix (a view: strides swap).
    fn transposed(mut self) -> Matrix<'a> {
        std::mem::swap(&mut self.rs, &mut self.cs);
        self
    }

    fn window(&self, g: &'a Gpu, op: &str) -> Result<(Binding<'a>, usize)> {
        let l = &self.layout;
        let (lo, hi) = extent(l.shape(), l.strides(), l.offset());
        window(g, self.storage, lo, hi, op)
    }
}

fn u32_of(v: usize, op: &str) -> Result<u32> {
    u32::try_from(v).map_err(|_| Error::Device(format!("{op}: {v} exceeds the GPU's 32-bit indexing")))
}

/// `[..., m, k] @ [..., k, n]` with broadcast batch dims (both at least 2-D).
pub fn matmul(a: &Tensor, b: &Tensor) -> Result<Tensor> {
    let op = "matmul";
    let MatmulShape { m, k, n, batch, a: la, b: lb, out: out_shape } = MatmulShape::of(a, b)?;
    let g = gpu()?;
    let out = GpuStorage::alloc(g, a.dtype(), numel(&out_shape))?;
    if numel(&out_shape) > 0 {
        let (ma, mb) = (Matrix::new(a, la, op)?, Matrix::new(b, lb, op)?);
        launch(g, &ma, &mb, None, &out, &batch, (m, n, k), op)?;
    }
    Ok(Tensor::from_storage(Storage::Gpu(out), &out_shape))
}

/// `x @ w.T + bias`, x: [m, k], w: [n, k], bias: [n]; the bias is added in the kernel's
/// epilogue.
pub fn linear(x: &Tensor, w: &Tensor, bias: Option<&Tensor>) -> Result<Tensor> {
    let op = "linear";
    if x.dtype() != DType::F32 || w.dtype() != DType::F32 {
        return Err(dtype_err!("linear: expected float32 tensors on the GPU, got {} and {}", x.dtype().name(), w.dtype().name()));
    }
    let (m, k, n) = (x.shape()[0], x.shape()[1], w.shape()[0]);
    let bias = match bias {
        Some(b) if !b.is_contiguous() => Some(cast(b, DType::F32)?),
        other => other.cloned(),
    };
    let g = gpu()?;
    let out = GpuStorage::alloc(g, DType::F32, m * n)?;
    if m * n > 0 {
        let mx = Matrix::new(x, x.layout().clone(), op)?;
        let mw = Matrix::new(w, w.layout().clone(), op)?.transposed();
        launch(g, &mx, &mw, bias.as_ref(), &out, &[], (m, n, k), op)?;
    }
    Ok(Tensor::from_storage(Storage::Gpu(out), &[m, n]))
}

#[allow(clippy::too_many_arguments)]
fn launch(g: &Gpu, a: &Matrix<'_>, b: &Matrix<'_>, bias: Option<&Tensor>, out: &GpuStorage, batch: &[usize], (m, n, k): (usize, usize, usize), op: &str) -> Result<()> {
    let merged = collapse(batch, &[&a.batch, &b.batch]);
    if merged.shape.len() > MAX_BATCH_DIMS {
        return Err(Error::Device(format!(
            "{op}: the GPU kernel handles at most {MAX_BATCH_DIMS} batch dimensions after merging, got batch shape {}; \
             reshape the operands first",
            ShapeDisplay(batch)
        )));
    }
    let batch_count = numel(&merged.shape);
    let (a_b, a_base) = a.window(g, op)?;
    let (b_b, b_base) = b.window(g, op)?;
    let (c_b, _) = whole(g, out, op)?;
    let mut p = Params {
        m: u32_of(m, op)?,
        n: u32_of(n, op)?,
        k: u32_of(k, op)?,
        batch_count: u32_of(batch_count, op)?,
        a_off: relative(a.off, a_base),
        a_rs: u32_of(a.rs, op)?,
        a_cs: u32_of(a.cs, op)?,
        b_off: relative(b.off, b_base),
        b_rs: u32_of(b.rs, op)?,
        b_cs: u32_of(b.cs, op)?,
        batch_ndim: merged.shape.len() as u32,
        ..Params::zeroed()
    };
    u32_of(batch_count * m * n, op)?;
    for (d, &s) in merged.shape.iter().enumerate() {
        p.batch_shape[d] = u32_of(s, op)?;
        p.a_batch_strides[d] = u32_of(merged.strides[0][d], op)?;
        p.b_batch_strides[d] = u32_of(merged.strides[1][d], op)?;
    }
    if out.dtype() == DType::I64 {
        let kern = kernel(g, &NAIVE, &[])?;
        return launch_grid(g, &kern, &mut p, &[a_b, b_b, c_b], 16, (m, n, batch_count));
    }
    let bias_binding = match bias {
        Some(t) => {
            let (bb, base) = window(g, gpu_storage(t, op)?, t.layout().offset(), t.layout().offset() + t.numel(), op)?;
            p.bias_off = relative(t.layout().offset(), base);
            bb
        }
        None => a_b,
    };
    // 128 x 128 tiles when they give the GPU enough workgroups, else 64 x 64.
    let tm = if m.div_ceil(128) * n.div_ceil(128) * batch_count >= 96 { 8 } else { 4 };
    let tile = 16 * tm;
    let bk = 1024 / tile;
    let aligned = |off: u32, strides: &[u32]| off % 4 == 0 && strides.iter().all(|s| s % 4 == 0);
    let a_kcontig = a.cs == 1 || a.rs != 1;
    let a_vec = if a_kcontig {
        a.cs == 1 && k % 4 == 0 && aligned(p.a_off, &[p.a_rs])
    } else {
        m % 4 == 0 && aligned(p.a_off, &[p.a_cs])
    } && aligned(0, &p.a_batch_strides);
    let b_ncontig = b.cs == 1 || b.rs != 1;
    let b_vec = if b_ncontig {
        b.cs == 1 && n % 4 == 0 && aligned(p.b_off, &[p.b_rs])
    } else {
        k % 4 == 0 && aligned(p.b_off, &[p.b_cs])
    } && aligned(0, &p.b_batch_strides);
    let bounds = m % tile != 0 || n % tile != 0 || k % bk != 0;
    let flag = |b: bool| b as u32 as f64;
    let constants = [
        ("TM", tm as f64),
        ("A_KCONTIG", flag(a_kcontig)),
        ("B_NCONTIG", flag(b_ncontig)),
        ("A_VEC", flag(a_vec)),
        ("B_VEC", flag(b_vec)),
        ("BOUNDS", flag(bounds)),
        ("BIAS", flag(bias.is_some())),
    ];
    let kern = kernel(g, &TILED, &constants)?;
    launch_grid(g, &kern, &mut p, &[a_b, a_b, b_b, b_b, bias_binding, c_b], tile, (m, n, batch_count))
}

/// Launches over (n tiles, m tiles, batch), split so no grid dimension exceeds the limit.
fn launch_grid(g: &Gpu, kern: &super::super::pipelines::Kernel, p: &mut Params, bindings: &[Binding<'_>], tile: usize, (m, n, batch): (usize, usize, usize)) -> Result<()> {
    let max = g.limits.max_compute_workgroups_per_dimension as usize;
    let step_m = max * tile;
    let step_n = max * tile;
    for b0 in (0..batch).step_by(max) {
        let nb = (batch - b0).min(max);
        for m0 in (0..m).step_by(step_m) {
            for n0 in (0..n).step_by(step_n) {
                p.batch_base = b0 as u32;
                p.m_base = m0 as u32;
                p.n_base = n0 as u32;
                let gx = (n - n0).min(step_n).div_ceil(tile) as u32;
                let gy = (m - m0).min(step_m).div_ceil(tile) as u32;
                dispatch(g, kern, p, bindings, [gx, gy, nb as u32])?;
            }
        }
    }
    Ok(())
}
