//! Optimizer steps over a parameter group: checks, then one fused kernel per parameter.
//! Updates are in place and outside autograd (as under `no_grad`), and bump the version of
//! every tensor they write, so a graph that saved a parameter before the step fails loudly
//! instead of differentiating stale values.

pub use crate::backend::AdamOptions;
use crate::backend::{self, AdamHyper, AdamMoments, SgdHyper};
use crate::error::{dtype_err, shape_err, value_err, Error, Result, ShapeDisplay};
use crate::tensor::Tensor;

/// The state tensors of one parameter for Adam.
pub struct AdamSlot<'a> {
    pub exp_avg: &'a Tensor,
    pub exp_avg_sq: &'a Tensor,
    pub max_exp_avg_sq: Option<&'a Tensor>,
    /// A one-element float tensor counting this parameter's steps (PyTorch's `state['step']`).
    pub step: &'a Tensor,
}

/// Checks `param` (a float, contiguous tensor) and returns its gradient in a form the kernels
/// can read: contiguous and not overlapping anything they write.
fn checked_grad(op: &str, i: usize, param: &Tensor, grad: &Tensor, state: &[(&str, &Tensor)]) -> Result<Tensor> {
    if !param.dtype().is_float() {
        return Err(dtype_err!("{op}: parameter {i} is {}; only float tensors can be optimized", param.dtype().name()));
    }
    if !param.is_contiguous() {
        return Err(value_err!(
            "{op}: parameter {i} (shape {}) is a non-contiguous view; optimize a contiguous tensor (make the parameter from t.contiguous())",
            ShapeDisplay(param.shape())
        ));
    }
    if grad.shape() != param.shape() || grad.dtype() != param.dtype() {
        return Err(shape_err!(
            "{op}: the gradient of parameter {i} is {} {}, but the parameter is {} {}",
            grad.dtype().name(),
            ShapeDisplay(grad.shape()),
            param.dtype().name(),
            ShapeDisplay(param.shape())
        ));
    }
    for (k, (name, s)) in state.iter().enumerate() {
        if s.shape() != param.shape() || s.dtype() != param.dtype() || !s.is_contiguous() {
            return Err(shape_err!(
                "{op}: state '{name}' of parameter {i} is {} {} ({}contiguous), but the parameter is {} {}; \
                 was the optimizer state loaded for different parameters?",
                s.dtype().name(),
                ShapeDisplay(s.shape()),
                if s.is_contiguous() { "" } else { "non-" },
                param.dtype().name(),
                ShapeDisplay(param.shape())
            ));
        }
        let overlaps = s.shares_storage(param) || state[..k].iter().any(|(_, o)| s.shares_storage(o));
        if overlaps {
            return Err(value_err!("{op}: state '{name}' of parameter {i} shares memory with the parameter or its other state"));
        }
    }
    let aliased = grad.shares_storage(param) || state.iter().any(|(_, s)| grad.shares_storage(s));
    if aliased || !grad.is_contiguous() {
        backend::cast(grad, grad.dtype())
    } else {
        Ok(grad.clone())
    }
}

fn check_lengths(op: &str, params: usize, others: &[(&str, usize)]) -> Result<()> {
    for (name, n) in others {
        if *n != params {
            return Err(value_err!("{op}: got {params} parameters but {n} {name}; pass one per parameter"));
        }
    }
    Ok(())
}

/// One SGD step for every parameter. `momentum_buffers[i]` is `None` before a parameter's
/// first step with momentum; the buffer is created then (as a copy of the direction, like
/// PyTorch) and returned in place of the `None`. Everything is checked before anything is
/// written, so a bad argument leaves every parameter as it was.
pub fn sgd_step(params: &[Tensor], grads: &[Tensor], momentum_buffers: &mut [Option<Tensor>], hp: SgdHyper) -> Result<()> {
    check_lengths("sgd", params.len(), &[("gradients", grads.len()), ("momentum buffers", momentum_buffers.len())])?;
    if hp.nesterov && (hp.momentum <= 0.0 || hp.dampening != 0.0) {
        return Err(value_err!("sgd: Nesterov momentum requires a momentum and zero dampening"));
    }
    let with_momentum = hp.momentum != 0.0;
    let mut checked = Vec::with_capacity(params.len());
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        let buf = momentum_buffers[i].as_ref().filter(|_| with_momentum);
        let state: Vec<(&str, &Tensor)> = buf.iter().map(|b| ("momentum_buffer", *b)).collect();
        checked.push(checked_grad("sgd", i, p, g, &state)?);
    }
    for (i, (p, g)) in params.iter().zip(&checked).enumerate() {
        let first_step = with_momentum && momentum_buffers[i].is_none();
        if first_step {
            momentum_buffers[i] = Some(backend::full(p.shape(), 0.0, p.dtype(), p.device())?);
        }
        let buf = momentum_buffers[i].as_ref().filter(|_| with_momentum);
        backend::sgd_update(p, g, buf, &SgdHyper { first_step, ..hp })?;
        p.storage().bump_version();
        if let Some(b) = buf {
            b.storage().bump_version();
        }
    }
    Ok(())
}

/// One Adam/AdamW step for every parameter; each parameter's step counter is incremented.
/// Everything is checked before anything is written.
pub fn adam_step(params: &[Tensor], grads: &[Tensor], slots: &[AdamSlot], opts: AdamOptions) -> Result<()> {
    check_lengths("adam", params.len(), &[("gradients", grads.len()), ("state entries", slots.len())])?;
    if !(0.0..1.0).contains(&opts.beta1) || !(0.0..1.0).contains(&opts.beta2) {
        return Err(value_err!("adam: betas must be in [0, 1), got ({}, {})", opts.beta1, opts.beta2));
    }
    let mut checked = Vec::with_capacity(params.len());
    for (i, ((p, g), s)) in params.iter().zip(grads).zip(slots).enumerate() {
        let mut state = vec![("exp_avg", s.exp_avg), ("exp_avg_sq", s.exp_avg_sq)];
        match (opts.amsgrad, s.max_exp_avg_sq) {
            (true, Some(v)) => state.push(("max_exp_avg_sq", v)),
            (true, None) => return Err(value_err!("adam: amsgrad needs a max_exp_avg_sq state for parameter {i}")),
            (false, _) => {}
        }
        let g = checked_grad("adam", i, p, g, &state)?;
        if s.step.numel() != 1 || !s.step.dtype().is_float() {
            return Err(Error::Value(format!("adam: the step of parameter {i} must be a one-element float tensor")));
        }
        checked.push((g, backend::item(s.step)? + 1.0));
    }
    for ((p, s), (g, t)) in params.iter().zip(slots).zip(checked) {
        let hp = AdamHyper::at_step(opts, t);
        let vmax = if opts.amsgrad { s.max_exp_avg_sq } else { None };
        let moments = AdamMoments { exp_avg: s.exp_avg, exp_avg_sq: s.exp_avg_sq, max_exp_avg_sq: vmax };
        backend::adam_update(p, &g, &moments, &hp)?;
        backend::copy_into(s.step, &Tensor::scalar(t, s.step.dtype()))?;
        for written in [p, s.exp_avg, s.exp_avg_sq, s.step].into_iter().chain(vmax) {
            written.storage().bump_version();
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(v: Vec<f32>) -> Tensor {
        let n = v.len();
        Tensor::from_vec(v, &[n]).unwrap()
    }

    #[test]
    fn adam_step_counts_steps_and_bumps_versions() {
        let p = t(vec![1.0, 2.0]);
        let (m, v, step) = (t(vec![0.0; 2]), t(vec![0.0; 2]), Tensor::scalar(0.0, crate::DType::F32));
        let opts = AdamOptions { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: true, amsgrad: false, maximize: false };
        let slot = AdamSlot { exp_avg: &m, exp_avg_sq: &v, max_exp_avg_sq: None, step: &step };
        let before = p.version();
        for _ in 0..3 {
            adam_step(&[p.clone()], &[t(vec![1.0, -1.0])], &[AdamSlot { ..slot }], opts).unwrap();
        }
        assert_eq!(step.item().unwrap(), 3.0);
        assert_eq!(p.version(), before + 3);
        // A constant gradient moves each weight by lr per step, against the gradient's sign.
        let got = p.to_vec::<f32>().unwrap();
        assert!((got[0] - 0.7).abs() < 1e-5 && (got[1] - 2.3).abs() < 1e-5, "{got:?}");
    }

    #[test]
    fn mismatched_state_is_an_error_not_a_crash() {
        let p = t(vec![1.0, 2.0]);
        let (m, v, step) = (t(vec![0.0; 3]), t(vec![0.0; 2]), Tensor::scalar(0.0, crate::DType::F32));
        let opts = AdamOptions { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.0, decoupled: false, amsgrad: false, maximize: false };
        let slot = AdamSlot { exp_avg: &m, exp_avg_sq: &v, max_exp_avg_sq: None, step: &step };
        let good_p = t(vec![5.0, 6.0]);
        let (gm, gv, gstep) = (t(vec![0.0; 2]), t(vec![0.0; 2]), Tensor::scalar(0.0, crate::DType::F32));
        let good = AdamSlot { exp_avg: &gm, exp_avg_sq: &gv, max_exp_avg_sq: None, step: &gstep };
        let err = adam_step(&[good_p.clone(), p.clone()], &[t(vec![1.0, 1.0]), t(vec![1.0, 1.0])], &[good, slot], opts).unwrap_err().to_string();
        assert!(err.contains("exp_avg") && err.contains("[3]") && err.contains("parameter 1"), "{err}");
        // Nothing was written: the valid first parameter and its step are untouched.
        assert_eq!(good_p.to_vec::<f32>().unwrap(), vec![5.0, 6.0]);
        assert_eq!(gstep.item().unwrap(), 0.0);
    }
}
