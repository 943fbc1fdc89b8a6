//! The rules of `backend::Rule` (RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD,
//! Rprop) as one pass over a parameter, its gradient and its state. The arithmetic follows
//! PyTorch's single-tensor code operation by operation (its `lerp`, `addcmul`, `addcdiv`,
//! `maximum`, `sign` and `clamp`), so float32 results agree with PyTorch's to rounding.

use super::{base_ptr, chunk, for_chunks};
use crate::backend::{Rule, RuleStep};
use crate::cpu::SendPtr;
use crate::error::{dtype_err, value_err, Result};
use crate::tensor::{DType, Float, Tensor};
use smallvec::SmallVec;

/// Updates `param` and its `state` tensors (in the order `Rule` lists them) in place.
pub fn rule(param: &Tensor, grad: &Tensor, state: &[&Tensor], step: &RuleStep) -> Result<()> {
    if state.len() != step.state_count() {
        return Err(value_err!("{}: expected {} state tensors, got {}", step.name(), step.state_count(), state.len()));
    }
    match param.dtype() {
        DType::F32 => typed::<f32>(param, grad, state, step),
        DType::F64 => typed::<f64>(param, grad, state, step),
        other => Err(dtype_err!("{}: parameters must be float tensors, got {}", step.name(), other.name())),
    }
}

fn typed<T: Float>(param: &Tensor, grad: &Tensor, state: &[&Tensor], step: &RuleStep) -> Result<()> {
    let op = step.name();
    let (p, g) = (base_ptr::<T>(param, op)?, base_ptr::<T>(grad, op)?);
    let s: SmallVec<[SendPtr<T>; 3]> = state.iter().map(|t| base_ptr::<T>(t, op)).collect::<Result<_>>()?;
    for_chunks(param.numel(), |start, len| {
        // SAFETY: disjoint chunks of distinct tensors the caller checked to be contiguous, of
        // one length and not overlapping.
        let (p, g) = unsafe { (chunk(p, start, len), &*chunk(g, start, len)) };
        let mut s: SmallVec<[&mut [T]; 3]> = s.iter().map(|&t| unsafe { chunk(t, start, len) }).collect();
        apply(step, p, g, &mut s);
    });
    Ok(())
}

/// `torch.lerp(a, b, w)`: two formulas, each exact at its end of the interval.
#[inline(always)]
fn lerp<T: Float>(a: T, b: T, w: T) -> T {
    if w.abs() < T::from_f64c(0.5) {
        a + w * (b - a)
    } else {
        b - (b - a) * (T::ONE - w)
    }
}

/// `torch.maximum`: NaN in either operand propagates.
#[inline(always)]
fn maximum<T: Float>(a: T, b: T) -> T {
    if a.is_nan() || b.is_nan() {
        a + b
    } else if a > b {
        a
    } else {
        b
    }
}

/// `torch.sign` on the CPU: NaN gives 0.
#[inline(always)]
fn sign<T: Float>(x: T) -> T {
    if x > T::ZERO {
        T::ONE
    } else if x < T::ZERO {
        -T::ONE
    } else {
        T::ZERO
    }
}

/// `torch.clamp`: NaN stays NaN.
#[inline(always)]
fn clamp<T: Float>(x: T, lo: T, hi: T) -> T {
    if x.is_nan() {
        x
    } else {
        x.max(lo).min(hi)
    }
}

fn apply<T: Float>(st: &RuleStep, p: &mut [T], g: &[T], s: &mut [&mut [T]]) {
    let c = T::from_f64c;
    let flip = c(if st.maximize { -1.0 } else { 1.0 });
    let (decay, l2) = (st.l2 != 0.0, c(st.l2));
    // The gradient after `maximize` and coupled weight decay, from the parameter before the step.
    let prep = |g: T, p: T| -> T {
        let x = g * flip;
        if decay {
            x + l2 * p
        } else {
            x
        }
    };
    let n = p.len();
    match (st.rule, s) {
        (Rule::RmsProp { lr, alpha, eps, momentum, centered }, s) => {
            let (a, w, eps, neg_lr, mu) = (c(alpha), c(1.0 - alpha), c(eps), c(-lr), c(momentum));
            let (sq, rest) = s.split_first_mut().expect("square_avg");
            let (mut grad_avg, mut buf) = match rest {
                [ga, b] => (Some(ga), Some(b)),
                [ga] if centered => (Some(ga), None),
                [b] => (None, Some(b)),
                _ => (None, None),
            };
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let v = sq[i] * a + w * x * x;
                sq[i] = v;
                let centred = match grad_avg.as_mut() {
                    Some(ga) => {
                        let m = lerp(ga[i], x, w);
                        ga[i] = m;
                        v + -T::ONE * m * m
                    }
                    None => v,
                };
                let avg = centred.sqrt() + eps;
                match buf.as_mut() {
                    Some(b) => {
                        let bi = b[i] * mu + x / avg;
                        b[i] = bi;
                        p[i] = p[i] + neg_lr * bi;
                    }
                    None => p[i] = p[i] + neg_lr * (x / avg),
                }
            }
        }
        (Rule::Adagrad { clr, eps }, [sum]) => {
            let (neg_clr, eps) = (c(-clr), c(eps));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let s = sum[i] + x * x;
                sum[i] = s;
                p[i] = p[i] + neg_clr * (x / (s.sqrt() + eps));
            }
        }
        (Rule::Adadelta { lr, rho, eps }, [sq, acc]) => {
            let (rho, w, eps, neg_lr) = (c(rho), c(1.0 - rho), c(eps), c(-lr));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let v = sq[i] * rho + w * x * x;
                sq[i] = v;
                let delta = (acc[i] + eps).sqrt() / (v + eps).sqrt() * x;
                acc[i] = acc[i] * rho + w * delta * delta;
                p[i] = p[i] + neg_lr * delta;
            }
        }
        (Rule::Adamax { clr, beta1, beta2, eps }, [m, u]) => {
            let (neg_clr, w1, b2, eps) = (c(-clr), c(1.0 - beta1), c(beta2), c(eps));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let mi = lerp(m[i], x, w1);
                m[i] = mi;
                let ui = maximum(u[i] * b2, x.abs() + eps);
                u[i] = ui;
                p[i] = p[i] + neg_clr * (mi / ui);
            }
        }
        (Rule::NAdam { shrink, beta1, beta2, bias_correction2, eps, grad_step, avg_step }, [m, v]) => {
            let (shrink, w1, b2, w2, bc2, eps) = (c(shrink), c(1.0 - beta1), c(beta2), c(1.0 - beta2), c(bias_correction2), c(eps));
            let (neg_gs, neg_as) = (c(-grad_step), c(-avg_step));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let mi = lerp(m[i], x, w1);
                let vi = v[i] * b2 + w2 * x * x;
                m[i] = mi;
                v[i] = vi;
                let denom = (vi / bc2).sqrt() + eps;
                let pi = p[i] * shrink + neg_gs * (x / denom);
                p[i] = pi + neg_as * (mi / denom);
            }
        }
        (Rule::RAdam { shrink, lr, beta1, beta2, eps, bias_correction1, rectified }, [m, v]) => {
            let (shrink, lr, w1, b2, w2, eps, bc1) = (c(shrink), c(lr), c(1.0 - beta1), c(beta2), c(1.0 - beta2), c(eps), c(bias_correction1));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let mi = lerp(m[i], x, w1);
                let vi = v[i] * b2 + w2 * x * x;
                m[i] = mi;
                v[i] = vi;
                let corrected = mi / bc1;
                let delta = match rectified {
                    Some((sqrt_bc2, rect)) => corrected * lr * (c(sqrt_bc2) / (vi.sqrt() + eps)) * c(rect),
                    None => corrected * lr,
                };
                p[i] = p[i] * shrink - delta;
            }
        }
        (Rule::Asgd { shrink, eta, mu }, [ax]) => {
            let (shrink, neg_eta) = (c(shrink), c(-eta));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let pi = p[i] * shrink + neg_eta * x;
                p[i] = pi;
                ax[i] = match mu {
                    Some(mu) => ax[i] + (pi - ax[i]) * c(mu),
                    None => pi,
                };
            }
        }
        (Rule::Rprop { eta_minus, eta_plus, step_min, step_max }, [prev, size]) => {
            let (minus, plus, lo, hi) = (c(eta_minus), c(eta_plus), c(step_min), c(step_max));
            for i in 0..n {
                let x = prep(g[i], p[i]);
                let factor = match sign(x * prev[i]) {
                    f if f > T::ZERO => plus,
                    f if f < T::ZERO => minus,
                    _ => T::ONE,
                };
                let si = clamp(size[i] * factor, lo, hi);
                size[i] = si;
                // After a sign change the gradient counts as zero: no move, and no sign to compare next time.
                let x = if factor == minus { T::ZERO } else { x };
                p[i] = p[i] + -T::ONE * sign(x) * si;
                prev[i] = x;
            }
        }
        (_, s) => unreachable!("{}: {} state tensors (checked in `rule`)", st.name(), s.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f64>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    #[test]
    fn rprop_grows_steps_while_the_sign_holds_and_backs_off_when_it_flips() {
        let p = t(vec![0.0, 0.0]);
        let (prev, size) = (t(vec![0.0; 2]), t(vec![0.1; 2]));
        let st = RuleStep { rule: Rule::Rprop { eta_minus: 0.5, eta_plus: 1.2, step_min: 1e-6, step_max: 50.0 }, maximize: false, l2: 0.0 };
        rule(&p, &t(vec![1.0, 1.0]), &[&prev, &size], &st).unwrap(); // first step: size stays 0.1
        rule(&p, &t(vec![1.0, -1.0]), &[&prev, &size], &st).unwrap(); // same sign: 0.12; flip: 0.05, no move
        let (got_p, got_s, got_prev) = (p.to_vec::<f64>().unwrap(), size.to_vec::<f64>().unwrap(), prev.to_vec::<f64>().unwrap());
        assert!((got_p[0] + 0.22).abs() < 1e-12 && (got_p[1] + 0.1).abs() < 1e-12, "{got_p:?}");
        assert!((got_s[0] - 0.12).abs() < 1e-12 && (got_s[1] - 0.05).abs() < 1e-12, "{got_s:?}");
        assert_eq!(got_prev, vec![1.0, 0.0]);
    }

    #[test]
    fn wrong_state_count_is_an_error() {
        let p = t(vec![1.0]);
        let st = RuleStep { rule: Rule::Adagrad { clr: 0.1, eps: 1e-10 }, maximize: false, l2: 0.0 };
        let err = rule(&p, &t(vec![1.0]), &[], &st).unwrap_err().to_string();
        assert!(err.contains("adagrad") && err.contains("expected 1"), "{err}");
    }
}
