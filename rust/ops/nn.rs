//! Neural-network functions: softmax, log-softmax (fused kernels), and the losses and
//! dropout built from differentiable primitives.

use super::{
    add, cast, div, exp, gather, grads, mul, neg, reshape, scalar_like, squeeze_dim, sub, sum, transpose, unsqueeze,
    Grads, OpParam, OpParams,
};
use crate::autograd::{record, Save, VjpCtx};
use crate::backend;
use crate::error::{dtype_err, index_err, shape_err, value_err, Result, ShapeDisplay};
use crate::tensor::{normalize_dim, DType, Tensor};
use smallvec::smallvec;

pub enum NnOp {
    Softmax { dim: isize },
    LogSoftmax { dim: isize },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reduction {
    None,
    Mean,
    Sum,
}

impl Reduction {
    pub fn parse(s: &str) -> Result<Reduction> {
        match s {
            "none" => Ok(Reduction::None),
            "mean" => Ok(Reduction::Mean),
            "sum" => Ok(Reduction::Sum),
            other => Err(value_err!("reduction must be 'none', 'mean' or 'sum', got '{other}'")),
        }
    }
}

fn softmax_impl(x: &Tensor, dim: isize, log: bool) -> Result<Tensor> {
    let op = if log { "log_softmax" } else { "softmax" };
    let x = if x.dtype().is_float() { x.clone() } else { cast(x, DType::F32)? };
    normalize_dim(dim, x.ndim(), op)?;
    if x.ndim() == 0 {
        let out = backend::full(&[], if log { 0.0 } else { 1.0 }, x.dtype(), x.device())?;
        record(super::Op::Nn(if log { NnOp::LogSoftmax { dim } } else { NnOp::Softmax { dim } }), &[&x], &out, |_| smallvec![Save::Output(0)]);
        return Ok(out);
    }
    let d = normalize_dim(dim, x.ndim(), op)?;
    let last = x.ndim() - 1;
    let xd = x.detach();
    let moved = if d == last { xd } else { xd.with_layout(xd.layout().transpose(d, last))? };
    let y = backend::softmax_last(&moved, log)?;
    let out = if d == last { y } else { y.with_layout(y.layout().transpose(d, last))? };
    let node = if log { NnOp::LogSoftmax { dim } } else { NnOp::Softmax { dim } };
    record(super::Op::Nn(node), &[&x], &out, |_| smallvec![Save::Output(0)]);
    Ok(out)
}

pub fn softmax(x: &Tensor, dim: isize) -> Result<Tensor> {
    softmax_impl(x, dim, false)
}

pub fn log_softmax(x: &Tensor, dim: isize) -> Result<Tensor> {
    softmax_impl(x, dim, true)
}

impl NnOp {
    pub fn name(&self) -> &'static str {
        match self {
            NnOp::Softmax { .. } => "softmax",
            NnOp::LogSoftmax { .. } => "log_softmax",
        }
    }

    pub fn params(&self) -> OpParams {
        match self {
            NnOp::Softmax { dim } | NnOp::LogSoftmax { dim } => vec![("dim", OpParam::Int(*dim as i64))],
        }
    }

    pub fn vjp(&self, ctx: &VjpCtx) -> Result<Grads> {
        let g = ctx.grad();
        let y = ctx.saved(0)?;
        match self {
            // dx = y * (g - sum(g * y))
            NnOp::Softmax { dim } => grads(ctx, [&|| {
                if y.ndim() == 0 {
                    return mul(g, &scalar_like(g, 0.0)?);
                }
                mul(y, &sub(g, &sum(&mul(g, y)?, Some(&[*dim]), true)?)?)
            }]),
            // dx = g - softmax * sum(g)
            NnOp::LogSoftmax { dim } => grads(ctx, [&|| {
                if y.ndim() == 0 {
                    return mul(g, &scalar_like(g, 0.0)?);
                }
                sub(g, &mul(&exp(y)?, &sum(g, Some(&[*dim]), true)?)?)
            }]),
        }
    }
}

fn reduce(losses: &Tensor, reduction: Reduction) -> Result<Tensor> {
    match reduction {
        Reduction::None => Ok(losses.clone()),
        Reduction::Sum => sum(losses, None, false),
        Reduction::Mean => super::mean(losses, None, false),
    }
}

/// Puts the class dim last and flattens: `[N, C, d1, ...]` -> `[N*d1*..., C]`, target likewise.
fn flatten_classes(x: &Tensor, target: &Tensor, op: &str) -> Result<(Tensor, Tensor, Vec<usize>)> {
    if x.ndim() == 0 {
        return Err(shape_err!("{op}: expected an input of shape [C] or [N, C, ...] (class scores), got a 0-dim tensor"));
    }
    if x.ndim() == 1 {
        if target.ndim() != 0 {
            return Err(shape_err!("{op}: for input of shape {} the target must be a 0-dim class index, got shape {}", ShapeDisplay(x.shape()), ShapeDisplay(target.shape())));
        }
        return Ok((unsqueeze(x, 0)?, reshape(target, &[1])?, vec![]));
    }
    let n = x.shape()[0];
    let mut want: Vec<usize> = vec![n];
    want.extend_from_slice(&x.shape()[2..]);
    if target.shape() != want.as_slice() {
        return Err(shape_err!(
            "{op}: input of shape {} needs a target of shape {}, got {}",
            ShapeDisplay(x.shape()),
            ShapeDisplay(&want),
            ShapeDisplay(target.shape())
        ));
    }
    if x.ndim() == 2 {
        return Ok((x.clone(), target.clone(), want));
    }
    let c = x.shape()[1];
    let moved = transpose(x, 1, -1)?;
    let rows: usize = want.iter().product();
    Ok((reshape(&moved, &[rows, c])?, reshape(target, &[rows])?, want))
}

/// Checks class indices; returns whether any of them is `ignore_index`.
fn check_target(target: &Tensor, classes: usize, ignore_index: i64, op: &str) -> Result<bool> {
    if target.dtype() != DType::I64 {
        return Err(dtype_err!(
            "{op}: expected the target to hold class indices of dtype int64, got {}; convert it with .long()",
            target.dtype().name()
        ));
    }
    if let Some((lo, hi)) = backend::known_int_bounds(target) {
        // On the GPU, bounds known from the upload settle it without a read-back (a sync);
        // when ignore_index lies inside them, report "maybe ignored" (the masked path is
        // right either way).
        if lo >= 0 && (hi as u64) < classes as u64 {
            return Ok((lo..=hi).contains(&ignore_index));
        }
    }
    let mut ignored = false;
    for &t in &backend::to_vec::<i64>(target)? {
        if t == ignore_index {
            ignored = true;
        } else if t < 0 || t as usize >= classes {
            return Err(index_err!("{op}: target {t} is out of bounds for {classes} classes"));
        }
    }
    Ok(ignored)
}

/// Negative log-likelihood of log-probabilities `logp` [N, C(, d...)] at class `target` [N(, d...)].
pub fn nll_loss(logp: &Tensor, target: &Tensor, weight: Option<&Tensor>, ignore_index: i64, reduction: Reduction) -> Result<Tensor> {
    backend::same_device("nll_loss", &[logp, target])?;
    let (lp, tgt, out_shape) = flatten_classes(logp, target, "nll_loss")?;
    let classes = lp.shape()[1];
    let any_ignored = check_target(&tgt, classes, ignore_index, "nll_loss")?;
    if let Some(w) = weight {
        if w.shape() != [classes] {
            return Err(shape_err!("nll_loss: weight should have one entry per class ({classes}), got shape {}", ShapeDisplay(w.shape())));
        }
    }
    let picked = |t: &Tensor| -> Result<Tensor> { squeeze_dim(&gather(&lp, 1, &unsqueeze(t, 1)?)?, 1) };
    if weight.is_none() && !any_ignored {
        // Every sample counts once: the loss is -mean (or -sum) of the picked log-probabilities,
        // five ops forward instead of the masked path's twelve (the common training case).
        return match reduction {
            Reduction::None => reshape(&neg(&picked(&tgt)?)?, &out_shape),
            r => neg(&reduce(&picked(&tgt)?, r)?),
        };
    }
    let ignore = scalar_like(&tgt, ignore_index as f64)?;
    let valid = super::ne(&tgt, &ignore)?;
    let safe = super::where_(&valid, &tgt, &scalar_like(&tgt, 0.0)?)?;
    let picked = picked(&safe)?;
    let mut w = cast(&valid, lp.dtype())?;
    if let Some(cw) = weight {
        w = mul(&w, &gather(&cast(cw, lp.dtype())?, 0, &safe)?)?;
    }
    let losses = neg(&mul(&picked, &w)?)?;
    match reduction {
        Reduction::Mean => weighted_mean(&losses, &w),
        Reduction::None => reshape(&losses, &out_shape),
        r => reduce(&losses, r),
    }
}

/// `sum(losses) / sum(weights)`. When every weight is zero (every target ignored) the loss
/// is NaN, as in PyTorch, but the gradient is zero: the NaN is added as a constant and the
/// division uses a denominator of 1, so no 0/0 reaches the backward pass.
fn weighted_mean(losses: &Tensor, weights: &Tensor) -> Result<Tensor> {
    let total = sum(weights, None, false)?;
    let zero = super::eq(&total, &scalar_like(&total, 0.0)?)?;
    let safe = super::where_(&zero, &scalar_like(&total, 1.0)?, &total)?;
    let nan_if_empty = super::where_(&zero, &scalar_like(&total, f64::NAN)?, &scalar_like(&total, 0.0)?)?;
    add(&div(&sum(losses, None, false)?, &safe)?, &nan_if_empty.detach())
}

/// Softmax cross-entropy of logits `x` against class indices (int64) or class probabilities (float).
pub fn cross_entropy(
    x: &Tensor,
    target: &Tensor,
    weight: Option<&Tensor>,
    ignore_index: i64,
    reduction: Reduction,
    label_smoothing: f64,
) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&label_smoothing) {
        return Err(value_err!("cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}"));
    }
    if x.ndim() == 0 {
        return Err(shape_err!("cross_entropy: expected an input of shape [C] or [N, C, ...] (class scores), got a 0-dim tensor"));
    }
    backend::same_device("cross_entropy", &[x, target])?;
    let class_dim = if x.ndim() == 1 { 0 } else { 1 };
    let logp = log_softmax(x, class_dim)?;
    if target.dtype().is_float() {
        let index_shape: Vec<usize> = x.shape().iter().enumerate().filter(|&(d, _)| d as isize != class_dim).map(|(_, &s)| s).collect();
        if target.shape() == index_shape.as_slice() {
            // Shaped like class indices: most likely labels stored as floats.
            return Err(dtype_err!(
                "cross_entropy: the target has class-index shape {} but dtype {}; class indices must be int64 \
                 (convert them with .long()), while float targets are class probabilities of the input's shape {}",
                ShapeDisplay(target.shape()),
                target.dtype().name(),
                ShapeDisplay(x.shape())
            ));
        }
        if target.shape() != x.shape() {
            return Err(shape_err!(
                "cross_entropy: a float target is read as class probabilities and must have the input's shape {}, \
                 got {}; for class indices pass an int64 tensor (target.long())",
                ShapeDisplay(x.shape()),
                ShapeDisplay(target.shape())
            ));
        }
        let classes = x.shape()[class_dim as usize] as f64;
        let t = if label_smoothing > 0.0 {
            add(&mul(target, &scalar_like(target, 1.0 - label_smoothing)?)?, &scalar_like(target, label_smoothing / classes)?)?
        } else {
            target.clone()
        };
        let mut prod = mul(&logp, &t)?;
        if let Some(w) = weight {
            let shape: Vec<usize> = (0..x.ndim()).map(|d| if d == class_dim as usize { w.numel() } else { 1 }).collect();
            prod = mul(&prod, &reshape(w, &shape)?)?;
        }
        let losses = neg(&sum(&prod, Some(&[class_dim]), false)?)?;
        return reduce(&losses, reduction);
    }
    let nll = nll_loss(&logp, target, weight, ignore_index, reduction)?;
    if label_smoothing == 0.0 {
        return Ok(nll);
    }
    if weight.is_some() {
        return Err(value_err!("cross_entropy: label_smoothing together with class weights is not supported"));
    }
    // Uniform part: mean over classes of -logp, for the non-ignored samples.
    let (lp, tgt, out_shape) = flatten_classes(&logp, target, "cross_entropy")?;
    let valid = cast(&super::ne(&tgt, &scalar_like(&tgt, ignore_index as f64)?)?, lp.dtype())?;
    let smooth = mul(&neg(&super::mean(&lp, Some(&[1]), false)?)?, &valid)?;
    let smooth = match reduction {
        Reduction::Mean => weighted_mean(&smooth, &valid)?,
        Reduction::Sum => sum(&smooth, None, false)?,
        Reduction::None => reshape(&smooth, &out_shape)?,
    };
    add(&mul(&nll, &scalar_like(&nll, 1.0 - label_smoothing)?)?, &mul(&smooth, &scalar_like(&smooth, label_smoothing)?)?)
}

pub fn mse_loss(input: &Tensor, target: &Tensor, reduction: Reduction) -> Result<Tensor> {
    let d = sub(input, target)?;
    reduce(&mul(&d, &d)?, reduction)
}

/// The multiclass SVM hinge loss of the lecture, with PyTorch's `multi_margin_loss`
/// semantics: per sample, `sum_{j != y} max(0, margin - x[y] + x[j])^p / C`.
pub fn multi_margin_loss(x: &Tensor, target: &Tensor, p: u32, margin: f64, weight: Option<&Tensor>, reduction: Reduction) -> Result<Tensor> {
    if p != 1 && p != 2 {
        return Err(value_err!("multi_margin_loss: only p = 1 and p = 2 are supported, got {p}"));
    }
    backend::same_device("multi_margin_loss", &[x, target])?;
    let (x2, tgt, out_shape) = flatten_classes(x, target, "multi_margin_loss")?;
    if x.ndim() > 2 {
        return Err(shape_err!("multi_margin_loss: expected input of shape [N, C] or [C], got {}", ShapeDisplay(x.shape())));
    }
    let classes = x2.shape()[1];
    check_target(&tgt, classes, i64::MIN, "multi_margin_loss")?; // no index is ignored
    if let Some(w) = weight {
        if w.shape() != [classes] {
            return Err(shape_err!(
                "multi_margin_loss: inconsistent weight size, expected one entry per class ({classes}) but got shape {}",
                ShapeDisplay(w.shape())
            ));
        }
    }
    let idx = unsqueeze(&tgt, 1)?;
    let correct = gather(&x2, 1, &idx)?; // [N, 1]
    let mut m = super::relu(&add(&sub(&x2, &correct)?, &scalar_like(&x2, margin)?)?)?;
    if p == 2 {
        m = mul(&m, &m)?;
    }
    if let Some(w) = weight {
        m = mul(&m, &unsqueeze(&gather(&cast(w, x2.dtype())?, 0, &tgt)?, 1)?)?;
    }
    let classes_row = unsqueeze(&super::arange(0.0, classes as f64, 1.0, DType::I64, x.device())?, 0)?;
    let others = cast(&super::ne(&classes_row, &idx)?, x2.dtype())?;
    let per = div(&sum(&mul(&m, &others)?, Some(&[1]), false)?, &scalar_like(&m, classes as f64)?)?;
    match reduction {
        Reduction::None => reshape(&per, &out_shape),
        r => reduce(&per, r),
    }
}

/// Inverted dropout: zeroes each element with probability `p`, scales the rest by 1/(1-p).
pub fn dropout(x: &Tensor, p: f64, training: bool) -> Result<Tensor> {
    if !(0.0..=1.0).contains(&p) {
        return Err(value_err!("dropout: probability has to be between 0 and 1, but got {p}"));
    }
    if !training || p == 0.0 {
        return Ok(x.clone());
    }
    if p == 1.0 {
        return mul(x, &scalar_like(x, 0.0)?);
    }
    // The scaled keep mask (counter-based Philox, the same on CPU and GPU); the product with
    // it carries the gradient, recorded as the product it is.
    let (keep, scale) = (1.0 - p, 1.0 / (1.0 - p));
    if x.dtype().is_float() {
        let (out, mask) = backend::dropout(x, keep, scale, crate::random::global())?;
        super::binary::record_binary(crate::kinds::BinaryKind::Mul, x, &mask, &out);
        return Ok(out);
    }
    let mask = backend::random(x.shape(), backend::Distribution::Bernoulli { keep, scale }, DType::F32, x.device(), crate::random::global())?;
    mul(x, &mask)
}
