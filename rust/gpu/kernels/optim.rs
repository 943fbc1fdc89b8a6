//! Fused optimizer updates on the GPU (`shaders/optim.wgsl`): one launch per parameter reads
//! the parameter, its gradient and state once and writes them back, in place. Launches of a
//! whole parameter group share one pipeline and are recorded into the open command encoder
//! without a sync, so a step costs the group one submission at the next read-back.
//!
//! The caller (`ops::optim`) has checked that every tensor is contiguous, of the parameter's
//! shape and dtype, and that none overlaps another.

use super::super::context::gpu;
use super::super::launch::{chunks, dispatch, grid, kernel, relative, window, WORKGROUP};
use super::super::pipelines::{Access, Entry};
use super::super::recorder::Binding;
use super::gpu_storage;
use crate::backend::{AdamHyper, AdamMoments, Rule, RuleStep, SgdHyper};
use crate::error::{dtype_err, value_err, Result};
use crate::tensor::{DType, Tensor};
use bytemuck::{Pod, Zeroable};
use smallvec::SmallVec;

use Access::{Read, ReadWrite};

const SGD: Entry = Entry { file: "optim.wgsl", name: "sgd", storage: &[ReadWrite, Read] };
const SGD_MOMENTUM: Entry = Entry { file: "optim.wgsl", name: "sgd_momentum", storage: &[ReadWrite, Read, ReadWrite] };
const ADAM: Entry = Entry { file: "optim.wgsl", name: "adam", storage: &[ReadWrite, Read, ReadWrite, ReadWrite] };
const AMSGRAD: Entry = Entry { file: "optim.wgsl", name: "amsgrad", storage: &[ReadWrite, Read, ReadWrite, ReadWrite, ReadWrite] };

/// The `Optim` uniform of `optim.wgsl`, byte for byte.
#[repr(C)]
#[derive(Clone, Copy, Pod, Zeroable)]
struct OptimParams {
    offsets: [u32; 4],
    extra: [u32; 4],
    f: [[f32; 4]; 3],
}

const _: () = assert!(std::mem::size_of::<OptimParams>() == 80);

fn check_f32(op: &str, t: &Tensor) -> Result<()> {
    if t.dtype() != DType::F32 {
        return Err(dtype_err!("{op}: GPU parameters are float32, got {}", t.dtype().name()));
    }
    Ok(())
}

/// Launches `entry` over the elements of `tensors` (parameter first, all contiguous and of one
/// length), split so every window fits the binding limit.
fn launch(op: &str, entry: &Entry, constants: &[(&'static str, f64)], tensors: &[&Tensor], mut params: OptimParams) -> Result<()> {
    let n = tensors[0].numel();
    if n == 0 {
        return Ok(());
    }
    let g = gpu()?;
    let k = kernel(g, entry, constants)?;
    for (start, end) in chunks(g, n) {
        let mut bindings: SmallVec<[Binding<'_>; 5]> = SmallVec::new();
        for (slot, t) in tensors.iter().enumerate() {
            let at = t.layout().offset() + start;
            let (b, base) = window(g, gpu_storage(t, op)?, at, t.layout().offset() + end, op)?;
            let offset = relative(at, base);
            match slot {
                0..=3 => params.offsets[slot] = offset,
                _ => params.extra[0] = offset,
            }
            bindings.push(b);
        }
        params.extra[1] = (end - start) as u32;
        dispatch(g, &k, &params, &bindings, grid(g, ((end - start) as u64).div_ceil(WORKGROUP))?)?;
    }
    Ok(())
}

/// `param -= lr * direction`, with PyTorch's momentum, dampening, Nesterov and L2 decay.
pub fn sgd(param: &Tensor, grad: &Tensor, momentum_buffer: Option<&Tensor>, hp: &SgdHyper) -> Result<()> {
    check_f32("sgd", param)?;
    let mut params = OptimParams::zeroed();
    let sign = if hp.maximize { -1.0 } else { 1.0 };
    params.f[0] = [sign, hp.lr as f32, hp.momentum as f32, (1.0 - hp.dampening) as f32];
    params.f[1][0] = hp.weight_decay as f32;
    let decay = ("DECAY", f64::from(u8::from(hp.weight_decay != 0.0)));
    match momentum_buffer {
        None => launch("sgd", &SGD, &[decay], &[param, grad], params),
        Some(buf) => {
            let constants = [
                decay,
                ("MOMENTUM", if hp.first_step { 1.0 } else { 2.0 }),
                ("NESTEROV", f64::from(u8::from(hp.nesterov))),
            ];
            launch("sgd", &SGD_MOMENTUM, &constants, &[param, grad, buf], params)
        }
    }
}

/// One Adam (or AdamW, or AMSGrad) step: moments, bias-corrected denominator, update.
pub fn adam(param: &Tensor, grad: &Tensor, moments: &AdamMoments, hp: &AdamHyper) -> Result<()> {
    check_f32("adam", param)?;
    let o = &hp.opts;
    let mut params = OptimParams::zeroed();
    params.f[0] = [hp.sign() as f32, hp.shrink() as f32, o.weight_decay as f32, (1.0 - o.beta1) as f32];
    params.f[1] = [o.beta2 as f32, (1.0 - o.beta2) as f32, o.eps as f32, hp.step_size as f32];
    params.f[2][0] = (1.0 / hp.bias_correction2_sqrt) as f32;
    let l2 = [("L2", f64::from(u8::from(hp.l2())))];
    let (m, v) = (moments.exp_avg, moments.exp_avg_sq);
    match moments.max_exp_avg_sq {
        None => launch("adam", &ADAM, &l2, &[param, grad, m, v], params),
        Some(vmax) => launch("adam", &AMSGRAD, &l2, &[param, grad, m, v, vmax], params),
    }
}

/// A rule's entry point: parameter, gradient, then its `states` state tensors, all written
/// but the gradient.
const fn rule_entry(name: &'static str, states: usize) -> Entry {
    const ONE: &[Access] = &[ReadWrite, Read, ReadWrite];
    const TWO: &[Access] = &[ReadWrite, Read, ReadWrite, ReadWrite];
    const THREE: &[Access] = &[ReadWrite, Read, ReadWrite, ReadWrite, ReadWrite];
    let storage = match states {
        1 => ONE,
        2 => TWO,
        _ => THREE,
    };
    Entry { file: "optim.wgsl", name, storage }
}

const RMSPROP: Entry = rule_entry("rmsprop", 1);
const RMSPROP_CENTERED: Entry = rule_entry("rmsprop_centered", 2);
const RMSPROP_MOMENTUM: Entry = rule_entry("rmsprop_momentum", 2);
const RMSPROP_CENTERED_MOMENTUM: Entry = rule_entry("rmsprop_centered_momentum", 3);
const ADAGRAD: Entry = rule_entry("adagrad", 1);
const ADADELTA: Entry = rule_entry("adadelta", 2);
const ADAMAX: Entry = rule_entry("adamax", 2);
const NADAM: Entry = rule_entry("nadam", 2);
const RADAM: Entry = rule_entry("radam", 2);
const ASGD: Entry = rule_entry("asgd", 1);
const RPROP: Entry = rule_entry("rprop", 2);

/// One update of `param` and its `state` (in the order `Rule` lists it) by a rule of
/// `backend::Rule`; the uniform carries the rule's scalars as `optim.wgsl` documents them.
pub fn rule(param: &Tensor, grad: &Tensor, state: &[&Tensor], step: &RuleStep) -> Result<()> {
    let op = step.name();
    check_f32(op, param)?;
    if state.len() != step.state_count() {
        return Err(value_err!("{op}: expected {} state tensors, got {}", step.state_count(), state.len()));
    }
    let mut k = [0.0f64; 12];
    k[0] = if step.maximize { -1.0 } else { 1.0 };
    k[1] = step.l2;
    let mut flags: SmallVec<[(&'static str, f64); 2]> = SmallVec::new();
    flags.push(("L2", f64::from(u8::from(step.l2 != 0.0))));
    let entry = match step.rule {
        Rule::RmsProp { lr, alpha, eps, momentum, centered } => {
            k[2..7].copy_from_slice(&[alpha, 1.0 - alpha, eps, -lr, momentum]);
            match (centered, momentum != 0.0) {
                (false, false) => &RMSPROP,
                (true, false) => &RMSPROP_CENTERED,
                (false, true) => &RMSPROP_MOMENTUM,
                (true, true) => &RMSPROP_CENTERED_MOMENTUM,
            }
        }
        Rule::Adagrad { clr, eps } => {
            k[2..4].copy_from_slice(&[-clr, eps]);
            &ADAGRAD
        }
        Rule::Adadelta { lr, rho, eps } => {
            k[2..6].copy_from_slice(&[rho, 1.0 - rho, eps, -lr]);
            &ADADELTA
        }
        Rule::Adamax { clr, beta1, beta2, eps } => {
            k[2..6].copy_from_slice(&[-clr, 1.0 - beta1, beta2, eps]);
            &ADAMAX
        }
        Rule::NAdam { shrink, beta1, beta2, bias_correction2, eps, grad_step, avg_step } => {
            k[2..10].copy_from_slice(&[shrink, 1.0 - beta1, beta2, 1.0 - beta2, bias_correction2, eps, -grad_step, -avg_step]);
            &NADAM
        }
        Rule::RAdam { shrink, lr, beta1, beta2, eps, bias_correction1, rectified } => {
            let (sqrt_bc2, rect) = rectified.unwrap_or((1.0, 1.0));
            k[2..11].copy_from_slice(&[shrink, 1.0 - beta1, beta2, 1.0 - beta2, eps, lr, bias_correction1, sqrt_bc2, rect]);
            flags.push(("RECTIFIED", f64::from(u8::from(rectified.is_some()))));
            &RADAM
        }
        Rule::Asgd { shrink, eta, mu } => {
            k[2..5].copy_from_slice(&[shrink, -eta, mu.unwrap_or(1.0)]);
            flags.push(("AVERAGE", f64::from(u8::from(mu.is_some()))));
            &ASGD
        }
        Rule::Rprop { eta_minus, eta_plus, step_min, step_max } => {
            k[2..6].copy_from_slice(&[eta_minus, eta_plus, step_min, step_max]);
            &RPROP
        }
    };
    let mut params = OptimParams::zeroed();
    for (j, v) in k.iter().enumerate() {
        params.f[j / 4][j % 4] = *v as f32;
    }
    let mut tensors: SmallVec<[&Tensor; 5]> = SmallVec::from_slice(&[param, grad]);
    tensors.extend_from_slice(state);
    launch(op, entry, &flags, &tensors, params)
}
