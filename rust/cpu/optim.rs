//! Fused optimizer updates: one pass over a parameter reads its gradient and state and writes
//! the new parameter and state, instead of the ten-odd full-tensor passes the textbook
//! formulas take one operation at a time. The rules and the order of floating-point
//! operations are PyTorch's (`torch.optim.SGD`, `Adam`, `AdamW`, single-tensor path), so
//! results agree with it to rounding.
//!
//! The caller (`ops::optim`) has checked that every tensor is contiguous, of the parameter's
//! shape and dtype, and that none overlaps another.

use super::SendPtr;
use crate::backend::{AdamHyper, SgdHyper};
use crate::error::{dtype_err, Result};
use crate::tensor::{DType, Float, Tensor};
use rayon::prelude::*;

/// Elements per parallel task: large enough to amortise scheduling, small enough to balance.
const CHUNK: usize = 1 << 14;

/// The tensor's elements as a raw pointer (contiguous, offset applied).
fn base_ptr<T: Float>(t: &Tensor, op: &str) -> Result<SendPtr<T>> {
    let s = t.cpu_storage(op)?;
    // SAFETY: the layout was validated against the storage when the tensor was made; `as_slice`
    // checks the dtype.
    let ptr = unsafe { s.as_slice::<T>().as_ptr().add(t.layout().offset()) } as *mut T;
    Ok(SendPtr(ptr))
}

/// Runs `f(start, len)` over `[0, n)` in chunks, in parallel when `n` is large.
fn for_chunks(n: usize, f: impl Fn(usize, usize) + Sync + Send) {
    if n >= super::PARALLEL_THRESHOLD {
        (0..n.div_ceil(CHUNK)).into_par_iter().for_each(|c| {
            let start = c * CHUNK;
            f(start, CHUNK.min(n - start));
        });
    } else {
        f(0, n);
    }
}

/// # Safety
/// `p` must point to `start + len` valid elements that nobody else accesses during the call
/// except through disjoint ranges.
#[inline(always)]
unsafe fn chunk<'a, T>(p: SendPtr<T>, start: usize, len: usize) -> &'a mut [T] {
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
pub fn adam(
    param: &Tensor,
    grad: &Tensor,
    exp_avg: &Tensor,
    exp_avg_sq: &Tensor,
    max_exp_avg_sq: Option<&Tensor>,
    hp: &AdamHyper,
) -> Result<()> {
    match param.dtype() {
        DType::F32 => adam_typed::<f32>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, hp),
        DType::F64 => adam_typed::<f64>(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, hp),
        other => Err(dtype_err!("adam: parameters must be float tensors, got {}", other.name())),
    }
}

fn adam_typed<T: Float>(
    param: &Tensor,
    grad: &Tensor,
    exp_avg: &Tensor,
    exp_avg_sq: &Tensor,
    max_exp_avg_sq: Option<&Tensor>,
    hp: &AdamHyper,
) -> Result<()> {
    let c = |v: f64| T::from_f64c(v);
    let (w1, b2, w2) = (c(1.0 - hp.beta1), c(hp.beta2), c(1.0 - hp.beta2));
    let (eps, step_size, bc2_sqrt) = (c(hp.eps), c(hp.step_size), c(hp.bias_correction2_sqrt));
    let (wd, shrink) = (c(hp.weight_decay), c(1.0 - hp.lr * hp.weight_decay));
    let (l2, decoupled) = (hp.weight_decay != 0.0 && !hp.decoupled, hp.weight_decay != 0.0 && hp.decoupled);
    let maximize = hp.maximize;
    let (p, g) = (base_ptr::<T>(param, "adam")?, base_ptr::<T>(grad, "adam")?);
    let (m, v) = (base_ptr::<T>(exp_avg, "adam")?, base_ptr::<T>(exp_avg_sq, "adam")?);
    let vmax = max_exp_avg_sq.map(|t| base_ptr::<T>(t, "adam")).transpose()?;
    for_chunks(param.numel(), |start, len| {
        // SAFETY: disjoint chunks of distinct, validated tensors.
        let (p, g, m, v) = unsafe { (chunk(p, start, len), &*chunk(g, start, len), chunk(m, start, len), chunk(v, start, len)) };
        let mut vmax = vmax.map(|t| unsafe { chunk(t, start, len) });
        for i in 0..len {
            let mut gi = if maximize { -g[i] } else { g[i] };
            let mut pi = p[i];
            if decoupled {
                pi = pi * shrink;
            } else if l2 {
                gi = gi + wd * pi;
            }
            // exp_avg.lerp_(g, 1 - beta1); exp_avg_sq.mul_(beta2).addcmul_(g, g, value=1 - beta2)
            let mi = m[i] + w1 * (gi - m[i]);
            let vi = v[i] * b2 + w2 * gi * gi;
            m[i] = mi;
            v[i] = vi;
            let second = match vmax.as_deref_mut() {
                Some(vmax) => {
                    let x = vmax[i];
                    let x = if vi > x || vi.is_nan() { vi } else { x };
                    vmax[i] = x;
                    x
                }
                None => vi,
            };
            let denom = second.sqrt() / bc2_sqrt + eps;
            p[i] = pi - step_size * (mi / denom);
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    fn adam_hp(t: f64) -> AdamHyper {
        let (beta1, beta2, lr) = (0.9, 0.999, 1e-2);
        AdamHyper {
            lr,
            beta1,
            beta2,
            eps: 1e-8,
            weight_decay: 0.0,
            decoupled: false,
            amsgrad: false,
            maximize: false,
            step_size: lr / (1.0 - f64::powf(beta1, t)),
            bias_correction2_sqrt: (1.0 - f64::powf(beta2, t)).sqrt(),
        }
    }

    #[test]
    fn first_adam_step_moves_each_weight_by_lr_against_its_gradient_sign() {
        // At t = 1, m_hat = g and v_hat = g^2, so the step is lr * g / (|g| + eps).
        let (p, g, m, v) = (t(vec![1.0, -2.0, 0.5]), t(vec![0.3, -4.0, 0.0]), t(vec![0.0; 3]), t(vec![0.0; 3]));
        adam(&p, &g, &m, &v, None, &adam_hp(1.0)).unwrap();
        let got = p.to_vec::<f64>().unwrap();
        for (x, want) in got.iter().zip([1.0 - 1e-2, -2.0 + 1e-2, 0.5]) {
            assert!((x - want).abs() < 1e-8, "{got:?}");
        }
        assert!((m.to_vec::<f64>().unwrap()[1] + 0.4).abs() < 1e-12);
        assert!((v.to_vec::<f64>().unwrap()[1] - 0.016).abs() < 1e-12);
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
