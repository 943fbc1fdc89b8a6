//! Fused optimizer updates: one pass over a parameter reads its gradient and state and writes
//! the new parameter and state, instead of the ten-odd full-tensor passes the textbook
//! formulas take one operation at a time. The rules are PyTorch's (`torch.optim.SGD`, `Adam`,
//! `AdamW`, single-tensor path) and so is the order of floating-point operations, except that
//! Adam multiplies by the reciprocal of its second bias correction instead of dividing by it:
//! results agree with PyTorch's to an ulp or two.
//!
//! The caller (`ops::optim`) has checked that every tensor is contiguous, of the parameter's
//! shape and dtype, and that none overlaps another.
//!
//! This file holds SGD and Adam; `rules` the other element-wise optimizers (`backend::Rule`).

use super::{for_chunks, SendPtr};
use crate::backend::{AdamHyper, AdamMoments, SgdHyper};
use crate::error::{dtype_err, Result};
use crate::tensor::{DType, Float, Tensor};

mod rules;
pub use rules::rule;

/// The tensor's elements as a raw pointer (contiguous, offset applied). The kernels write
/// through it, so it comes from the storage's raw pointer, never from a shared slice (writing
/// through a pointer derived from `&[T]` is undefined behaviour).
fn base_ptr<T: Float>(t: &Tensor, op: &str) -> Result<SendPtr<T>> {
    let s = t.cpu_storage(op)?;
    if s.dtype() != T::DTYPE {
        return Err(dtype_err!("{op}: expected a {} tensor, got {}", T::DTYPE.name(), s.dtype().name()));
    }
    if t.numel() == 0 {
        return Ok(SendPtr(std::ptr::NonNull::dangling().as_ptr()));
    }
    // SAFETY: the dtype matches and the layout was validated against the storage when the
    // tensor was made, so the offset lies inside the allocation.
    let ptr = unsafe { (s.as_ptr() as *mut T).add(t.layout().offset()) };
    Ok(SendPtr(ptr))
}

/// Defines `$name`, which runs the `inline(always)` element loop `$body` compiled for the
/// widest vector unit the CPU has (or the level `isa` forces). Adam's divisions and square roots are its bottleneck, and
/// AVX-512 does 16 at a time where the baseline x86-64 target (SSE2) does 4.
macro_rules! multiversioned {
    ($name:ident => $body:ident ( $($arg:ident : $ty:ty),* )) => {
        fn $name<T: Float, const L2: bool>($($arg: $ty),*) {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f")]
                unsafe fn avx512<T: Float, const L2: bool>($($arg: $ty),*) {
                    $body::<T, L2>($($arg),*)
                }
                #[target_feature(enable = "avx2")]
                unsafe fn avx2<T: Float, const L2: bool>($($arg: $ty),*) {
                    $body::<T, L2>($($arg),*)
                }
                if crate::cpu::isa::active() == crate::cpu::isa::Isa::Avx512 {
                    // SAFETY: the CPU has the features the function is compiled for.
                    return unsafe { avx512::<T, L2>($($arg),*) };
                }
                if crate::cpu::isa::active() == crate::cpu::isa::Isa::Avx2 {
                    // SAFETY: as above.
                    return unsafe { avx2::<T, L2>($($arg),*) };
                }
            }
            $body::<T, L2>($($arg),*)
        }
    };
}

multiversioned!(adam_pass => adam_loop(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: &AdamConsts<T>));
multiversioned!(amsgrad_pass => amsgrad_loop(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], vmax: &mut [T], k: &AdamConsts<T>));

/// # Safety
/// `p` must point to `start + len` valid elements that nobody else accesses during the call
/// except through disjoint ranges.
#[inline(always)]
pub(super) unsafe fn chunk<'a, T>(p: SendPtr<T>, start: usize, len: usize) -> &'a mut [T] {
    std::slice::from_raw_parts_mut(p.get().add(start), len)
}

/// `param -= lr * direction`, with PyTorch's momentum, dampening, Nesterov and L2 decay.
pub fn sgd(param: &Tensor, grad: &Tensor, momentum_buffer: Option<&Tensor>, hp: &SgdHyper) -> Result<()> {
    match param.dtype() {
        DType::F32 => sgd_typed::<f32>(param, grad, momentum_buffer, hp),
        DType::F64 => sgd_typed::<f64>(param, grad, momentum_buffer, hp),
        other => Err(dtype_err!("sgd: parameters must be float tensors, got {}", other.name())),
    }
}

fn sgd_typed<T: Float>(param: &Tensor, grad: &Tensor, buf: Option<&Tensor>, hp: &SgdHyper) -> Result<()> {
    let c = |v: f64| T::from_f64c(v);
    let (lr, mu, keep, wd) = (c(hp.lr), c(hp.momentum), c(1.0 - hp.dampening), c(hp.weight_decay));
    let (p, g) = (base_ptr::<T>(param, "sgd")?, base_ptr::<T>(grad, "sgd")?);
    let b = buf.map(|b| base_ptr::<T>(b, "sgd")).transpose()?;
    let (decay, first, nesterov, maximize) = (hp.weight_decay != 0.0, hp.first_step, hp.nesterov, hp.maximize);
    for_chunks(param.numel(), |start, len| {
        // SAFETY: disjoint chunks of distinct, validated tensors.
        let (p, g) = unsafe { (chunk(p, start, len), &*chunk(g, start, len)) };
        let mut b = b.map(|b| unsafe { chunk(b, start, len) });
        for i in 0..len {
            let mut d = if maximize { -g[i] } else { g[i] };
            if decay {
                d = d + wd * p[i];
            }
            if let Some(b) = b.as_deref_mut() {
                b[i] = if first { d } else { b[i] * mu + keep * d };
                d = if nesterov { d + mu * b[i] } else { b[i] };
            }
            p[i] = p[i] - lr * d;
        }
    });
    Ok(())
}

/// One Adam (or AdamW, or AMSGrad) step: moments, bias-corrected denominator, update.
pub fn adam(param: &Tensor, grad: &Tensor, moments: &AdamMoments, hp: &AdamHyper) -> Result<()> {
    match param.dtype() {
        DType::F32 => adam_typed::<f32>(param, grad, moments, hp),
        DType::F64 => adam_typed::<f64>(param, grad, moments, hp),
        other => Err(dtype_err!("adam: parameters must be float tensors, got {}", other.name())),
    }
}

fn adam_typed<T: Float>(param: &Tensor, grad: &Tensor, moments: &AdamMoments, hp: &AdamHyper) -> Result<()> {
    let c = |v: f64| T::from_f64c(v);
    let o = &hp.opts;
    let k = AdamConsts {
        sign: c(hp.sign()),
        shrink: c(hp.shrink()),
        wd: c(o.weight_decay),
        w1: c(1.0 - o.beta1),
        b2: c(o.beta2),
        w2: c(1.0 - o.beta2),
        eps: c(o.eps),
        step_size: c(hp.step_size),
        inv_bc2_sqrt: c(1.0 / hp.bias_correction2_sqrt),
    };
    let l2 = hp.l2();
    let (p, g) = (base_ptr::<T>(param, "adam")?, base_ptr::<T>(grad, "adam")?);
    let (m, v) = (base_ptr::<T>(moments.exp_avg, "adam")?, base_ptr::<T>(moments.exp_avg_sq, "adam")?);
    let vmax = moments.max_exp_avg_sq.map(|t| base_ptr::<T>(t, "adam")).transpose()?;
    for_chunks(param.numel(), |start, len| {
        // SAFETY: disjoint chunks of distinct, validated tensors.
        let (p, g, m, v) = unsafe { (chunk(p, start, len), &*chunk(g, start, len), chunk(m, start, len), chunk(v, start, len)) };
        let vmax = vmax.map(|t| unsafe { chunk(t, start, len) });
        match (l2, vmax) {
            (false, None) => adam_pass::<T, false>(p, g, m, v, &k),
            (true, None) => adam_pass::<T, true>(p, g, m, v, &k),
            (false, Some(vmax)) => amsgrad_pass::<T, false>(p, g, m, v, vmax, &k),
            (true, Some(vmax)) => amsgrad_pass::<T, true>(p, g, m, v, vmax, &k),
        }
    });
    Ok(())
}

/// Adam's constants in the parameter's precision.
struct AdamConsts<T> {
    sign: T,
    shrink: T,
    wd: T,
    w1: T,
    b2: T,
    w2: T,
    eps: T,
    step_size: T,
    inv_bc2_sqrt: T,
}

/// The gradient after `maximize` and the L2 term, the decayed parameter, and the new moments
/// (`exp_avg.lerp_(g, 1 - beta1)`, `exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)`).
#[inline(always)]
fn adam_moments<T: Float, const L2: bool>(p: T, g: T, m: T, v: T, k: &AdamConsts<T>) -> (T, T, T) {
    let mut g = g * k.sign;
    if L2 {
        g = g + k.wd * p;
    }
    let m = m + k.w1 * (g - m);
    let v = v * k.b2 + k.w2 * g * g;
    (p * k.shrink, m, v)
}

/// `p - step_size * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)`. Divisions and square roots
/// bound this loop, so the division by the bias correction is a multiplication by its
/// reciprocal (computed once in f64): at most an ulp from PyTorch's rounding, one division
/// per element fewer.
#[inline(always)]
fn adam_apply<T: Float>(p: T, m: T, second: T, k: &AdamConsts<T>) -> T {
    p - k.step_size * (m / (second.sqrt() * k.inv_bc2_sqrt + k.eps))
}

// Straight loops over equal-length slices with no per-element branches, so they vectorise.
#[inline(always)]
fn adam_loop<T: Float, const L2: bool>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], k: &AdamConsts<T>) {
    for (((p, &g), m), v) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()) {
        let (pd, mi, vi) = adam_moments::<T, L2>(*p, g, *m, *v, k);
        *m = mi;
        *v = vi;
        *p = adam_apply(pd, mi, vi, k);
    }
}

#[inline(always)]
fn amsgrad_loop<T: Float, const L2: bool>(p: &mut [T], g: &[T], m: &mut [T], v: &mut [T], vmax: &mut [T], k: &AdamConsts<T>) {
    for ((((p, &g), m), v), vmax) in p.iter_mut().zip(g).zip(m.iter_mut()).zip(v.iter_mut()).zip(vmax.iter_mut()) {
        let (pd, mi, vi) = adam_moments::<T, L2>(*p, g, *m, *v, k);
        *m = mi;
        *v = vi;
        // torch.maximum: NaN propagates.
        let top = if vi > *vmax || vi.is_nan() { vi } else { *vmax };
        *vmax = top;
        *p = adam_apply(pd, mi, top, k);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backend::AdamOptions;

    fn t(v: Vec<f64>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    fn adam_hp(t: f64) -> AdamHyper {
        let opts = AdamOptions { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, amsgrad: false, maximize: false };
        AdamHyper::at_step(opts, t)
    }

    fn moments<'a>(m: &'a Tensor, v: &'a Tensor) -> AdamMoments<'a> {
        AdamMoments { exp_avg: m, exp_avg_sq: v, max_exp_avg_sq: None }
    }

    #[test]
    fn first_adam_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        // At t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
        let (p, g, m, v) = (t(vec![1.0, -2.0, 0.5]), t(vec![0.3, -4.0, 0.0]), t(vec![0.0; 3]), t(vec![0.0; 3]));
        adam(&p, &g, &moments(&m, &v), &adam_hp(1.0)).unwrap();
        let got = p.to_vec::<f64>().unwrap();
        for (x, want) in got.iter().zip([1.0 - 1e-2, -2.0 + 1e-2, 0.5]) {
            assert!((x - want).abs() < 1e-8, "{got:?}");
        }
        assert!((m.to_vec::<f64>().unwrap()[1] + 0.4).abs() < 1e-12);
        assert!((v.to_vec::<f64>().unwrap()[1] - 0.016).abs() < 1e-12);
    }

    #[test]
    fn large_tensors_split_across_threads_are_updated_everywhere() {
        // Above the parallel threshold and not a multiple of the part size: every element,
        // including the tail, takes exactly one first step of lr against its gradient's sign.
        let n = crate::cpu::PARALLEL_THRESHOLD * 2 + 1001;
        let p = t(vec![0.0; n]);
        let g = t((0..n).map(|i| if i % 3 == 0 { -1.5 } else { 0.25 }).collect());
        let (m, v) = (t(vec![0.0; n]), t(vec![0.0; n]));
        adam(&p, &g, &moments(&m, &v), &adam_hp(1.0)).unwrap();
        let got = p.to_vec::<f64>().unwrap();
        assert!(got.iter().enumerate().all(|(i, &x)| (x - if i % 3 == 0 { 1e-2 } else { -1e-2 }).abs() < 1e-9));
    }

    #[test]
    fn sgd_momentum_buffer_starts_as_the_gradient_then_accumulates() {
        let (p, g, b) = (t(vec![1.0; 40_000]), t(vec![2.0; 40_000]), t(vec![0.0; 40_000]));
        let mut hp = SgdHyper { lr: 0.1, momentum: 0.5, dampening: 0.5, weight_decay: 0.0, nesterov: false, maximize: false, first_step: true };
        sgd(&p, &g, Some(&b), &hp).unwrap(); // buf = 2 (no dampening on the first step), p = 1 - 0.2
        hp.first_step = false;
        sgd(&p, &g, Some(&b), &hp).unwrap(); // buf = 0.5 * 2 + 0.5 * 2 = 2, p = 0.8 - 0.2
        assert!(b.to_vec::<f64>().unwrap().iter().all(|&x| x == 2.0));
        assert!(p.to_vec::<f64>().unwrap().iter().all(|&x| (x - 0.6).abs() < 1e-12));
    }
}
