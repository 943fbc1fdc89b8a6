//! Forward-mode AD (`autograd.forward_ad`): while a dual level is open, every recorded op
//! that sees an input with a tangent computes its output's tangent in the same forward pass
//! (dual numbers), from the op's jvp rule. Nothing here runs when no level is open: ops pay
//! one flag test, read together with grad mode.
//!
//! Where the jvp comes from:
//! - elementwise ops (the op table, `where`): the Jacobian is diagonal in the broadcast output
//!   space, so the jvp is the row's own vjp applied to the (broadcast) tangent, per input,
//!   before the engine's broadcast reduction; summing over inputs gives the output tangent;
//! - linear ops (views, slices, cat, casts, copies, sum, take/gather/indexing): the op itself
//!   applied to the tangent;
//! - group-wise reductions (max/min, norm, std): each output depends only on its own group,
//!   so the jvp is `sum(t * vjp(1))` over the reduced axes;
//! - matmul and linear: the product rule; softmax and log_softmax: closed forms;
//! - any other recorded primitive (linear algebra, row norms, scatters): its vjp transposed
//!   once, locally (`transposed_vjp`): exact, and still one forward pass.
//! Composites (mean, var, logsumexp, cross_entropy, layer_norm, dropout...) get their
//! tangents from their primitives.
//!
//! Tangents live in a per-thread table for the level, keyed by the tensor handle (which the
//! table keeps alive, so a key is never reused while the level is open).

use super::engine::{grad, BackwardOptions};
use super::grad_mode;
use super::node::{TensorMeta, VjpCtx};
use crate::error::{autograd_err, Error, Result, ShapeDisplay};
use crate::ops::{self, MatmulOp, NnOp, Op, ReduceOp, ShapeOp};
use crate::tensor::Tensor;
use smallvec::SmallVec;
use std::cell::RefCell;
use std::collections::HashMap;

enum Entry {
    Tangent(Tensor),
    /// The jvp failed: tensors computed from this one carry the error to `unpack_dual`.
    Failed(String),
}

struct Dual {
    /// Keeps the handle alive: its address is the key.
    _primal: Tensor,
    entry: Entry,
}

thread_local! {
    static LEVEL: RefCell<Option<HashMap<usize, Dual>>> = const { RefCell::new(None) };
}

/// Opens the dual level (PyTorch allows one at a time); returns its index, 0.
pub fn enter_dual_level() -> Result<u64> {
    LEVEL.with(|l| {
        let mut l = l.borrow_mut();
        if l.is_some() {
            return Err(autograd_err!("Nested forward mode AD is not supported at the moment"));
        }
        *l = Some(HashMap::new());
        Ok(())
    })?;
    grad_mode::update(|m| m.forward_ad = true);
    Ok(0)
}

/// Closes the dual level: every tangent is dropped (the tensors stay, as plain tensors).
pub fn exit_dual_level() -> Result<()> {
    let table = LEVEL.with(|l| l.borrow_mut().take());
    if table.is_none() {
        return Err(autograd_err!("exit_dual_level: no dual level is open; call enter_dual_level() first"));
    }
    grad_mode::update(|m| m.forward_ad = false);
    drop(table);
    Ok(())
}

pub fn is_dual_level_open() -> bool {
    LEVEL.with(|l| l.borrow().is_some())
}

/// A view of `primal` carrying `tangent` (same shape, dtype and device) at the open level.
pub fn make_dual(primal: &Tensor, tangent: &Tensor) -> Result<Tensor> {
    if !is_dual_level_open() {
        return Err(autograd_err!(
            "Trying to create a dual Tensor for forward AD but no level exists, make sure to enter_dual_level() first."
        ));
    }
    if !primal.dtype().is_float() {
        return Err(Error::DType(format!(
            "make_dual: expected a floating point primal, got {}; only float tensors have tangents",
            primal.dtype().name()
        )));
    }
    if tangent.shape() != primal.shape() {
        return Err(autograd_err!(
            "Trying to set a forward gradient that has a different size than that of the original Tensor, this is not \
             supported. Tensor is of size {} while the given forward gradient is of size {}.",
            ShapeDisplay(primal.shape()),
            ShapeDisplay(tangent.shape())
        ));
    }
    if tangent.device() != primal.device() {
        return Err(Error::Device(format!(
            "make_dual: the tangent is on {} but the primal is on {}; move it with .to(primal.device)",
            tangent.device().name(),
            primal.device().name()
        )));
    }
    if tangent.dtype() != primal.dtype() {
        return Err(Error::DType(format!(
            "make_dual: expected the tangent to have the primal's dtype {}, got {}; convert it with .to(primal.dtype)",
            primal.dtype().name(),
            tangent.dtype().name()
        )));
    }
    let dual = {
        let _off = Suspend::new(None);
        ops::reshape(primal, primal.shape())?
    };
    set(&dual, Entry::Tangent(tangent.detach()));
    Ok(dual)
}

/// The tangent of `t` at the open level (None: no level, or `t` carries none). An error when
/// a jvp on the way to `t` failed.
pub fn tangent_of(t: &Tensor) -> Result<Option<Tensor>> {
    LEVEL.with(|l| match l.borrow().as_ref().and_then(|m| m.get(&t.id())) {
        None => Ok(None),
        Some(Dual { entry: Entry::Tangent(x), .. }) => Ok(Some(x.clone())),
        Some(Dual { entry: Entry::Failed(msg), .. }) => Err(autograd_err!("{msg}")),
    })
}

fn lookup(t: &Tensor) -> Option<std::result::Result<Tensor, String>> {
    LEVEL.with(|l| {
        l.borrow().as_ref()?.get(&t.id()).map(|d| match &d.entry {
            Entry::Tangent(x) => Ok(x.clone()),
            Entry::Failed(m) => Err(m.clone()),
        })
    })
}

fn set(t: &Tensor, entry: Entry) {
    let replaced = LEVEL.with(|l| l.borrow_mut().as_mut().and_then(|m| m.insert(t.id(), Dual { _primal: t.clone(), entry })));
    drop(replaced);
}

/// Whether an in-place op may write into `t`: refused for dual tensors (their tangent would
/// silently describe the old values).
pub fn check_inplace(t: &Tensor, op: &str) -> Result<()> {
    if grad_mode::mode().forward_ad && lookup(t).is_some() {
        return Err(autograd_err!(
            "{op}: in-place operations on tensors that carry a forward-AD tangent are not supported; use the \
             out-of-place op (y = x.{}(...))",
            op.trim_end_matches('_')
        ));
    }
    Ok(())
}

/// Turns forward AD off (and sets grad mode) for a scope: tangent arithmetic is not itself
/// recorded or differentiated forward again.
struct Suspend {
    forward_ad: bool,
    grad_enabled: bool,
}

impl Suspend {
    /// `grad_enabled`: the grad mode inside (None: unchanged).
    fn new(grad_enabled: Option<bool>) -> Suspend {
        let prev = grad_mode::update(|m| {
            m.forward_ad = false;
            if let Some(g) = grad_enabled {
                m.grad_enabled = g;
            }
        });
        Suspend { forward_ad: prev.forward_ad, grad_enabled: prev.grad_enabled }
    }
}

impl Drop for Suspend {
    fn drop(&mut self) {
        let (f, g) = (self.forward_ad, self.grad_enabled);
        grad_mode::update(|m| {
            m.forward_ad = f;
            m.grad_enabled = g;
        });
    }
}

/// Per input, its tangent (None when it has none); None overall when no input has one.
pub(crate) fn input_tangents(inputs: &[&Tensor]) -> Option<std::result::Result<SmallVec<[Option<Tensor>; 2]>, String>> {
    let mut any = false;
    let mut out = SmallVec::new();
    for t in inputs {
        match lookup(t) {
            None => out.push(None),
            Some(Ok(x)) => {
                any = true;
                out.push(Some(x))
            }
            Some(Err(m)) => return Some(Err(m)),
        }
    }
    any.then_some(Ok(out))
}

/// Computes and stores the output tangents of `op` (see the module doc); a failure is kept
/// on the outputs and reported where their tangent is read.
pub(crate) fn propagate(
    op: &Op,
    inputs: &[&Tensor],
    outputs: &[&Tensor],
    saved: &[Option<Tensor>],
    tangents: std::result::Result<SmallVec<[Option<Tensor>; 2]>, String>,
) {
    let result = tangents.and_then(|t| {
        let _off = Suspend::new(Some(false));
        jvp(op, inputs, outputs, saved, &t).map_err(|e| e.to_string())
    });
    match result {
        Ok(out) => {
            for (o, t) in outputs.iter().zip(out) {
                if let Some(t) = t {
                    set(o, Entry::Tangent(t));
                }
            }
        }
        Err(msg) => {
            for o in outputs.iter().filter(|o| o.dtype().is_float()) {
                set(o, Entry::Failed(msg.clone()));
            }
        }
    }
}

type Tangents = SmallVec<[Option<Tensor>; 1]>;

fn one(t: Tensor) -> Tangents {
    smallvec::smallvec![Some(t)]
}

fn isize_axes(axes: &[usize]) -> Vec<isize> {
    axes.iter().map(|&d| d as isize).collect()
}

fn metas(ts: &[&Tensor]) -> SmallVec<[TensorMeta; 2]> {
    ts.iter().map(|t| TensorMeta::of(t)).collect()
}

fn add_opt(acc: Option<Tensor>, term: Tensor) -> Result<Option<Tensor>> {
    Ok(Some(match acc {
        None => term,
        Some(a) => ops::add(&a, &term)?,
    }))
}

/// `op`'s vjp at `grads`, asking only for input `only` (or all inputs with a tangent).
fn vjp_at(op: &Op, inputs: &[&Tensor], outputs: &[&Tensor], saved: &[Option<Tensor>], grads: &[Tensor], needs: &[bool]) -> Result<ops::Grads> {
    let (im, om) = (metas(inputs), metas(outputs));
    let ctx = VjpCtx { grads, saved, needs, inputs: &im, outputs: &om };
    op.vjp(&ctx)
}

fn jvp(op: &Op, inputs: &[&Tensor], outputs: &[&Tensor], saved: &[Option<Tensor>], t: &[Option<Tensor>]) -> Result<Tangents> {
    let out = outputs[0];
    let first = || t[0].clone().ok_or_else(|| autograd_err!("internal error: a linear op's jvp has no input tangent"));
    match op {
        Op::Unary(_) | Op::Binary(_) | Op::Where => {
            let mut total = None;
            for (i, ti) in t.iter().enumerate() {
                let Some(ti) = ti else { continue };
                let g = ops::expand(ti, out.shape())?;
                let mut needs: SmallVec<[bool; 2]> = SmallVec::from_elem(false, inputs.len());
                needs[i] = true;
                let gi = vjp_at(op, inputs, outputs, saved, &[g], &needs)?;
                if let Some(Some(term)) = gi.into_iter().nth(i) {
                    let term = if term.shape() == out.shape() { term } else { ops::expand(&term, out.shape())? };
                    total = add_opt(total, term)?;
                }
            }
            Ok(smallvec::smallvec![total])
        }
        Op::Shape(s) => {
            let shape = out.shape();
            Ok(one(match s {
                ShapeOp::Reshape => ops::reshape(&first()?, shape)?,
                ShapeOp::Permute { perm } => ops::permute(&first()?, &isize_axes(perm))?,
                ShapeOp::Expand => ops::expand(&first()?, shape)?,
                ShapeOp::Slice { dim, start, step } => ops::slice(&first()?, *dim, *start, shape[*dim], *step)?,
                ShapeOp::Select { dim, index } => ops::select(&first()?, *dim as isize, *index as isize)?,
                ShapeOp::Cat { dim, .. } => {
                    let parts = inputs
                        .iter()
                        .zip(t)
                        .map(|(x, ti)| match ti {
                            Some(ti) => Ok(ti.clone()),
                            None => ops::zeros(x.shape(), x.dtype(), x.device()),
                        })
                        .collect::<Result<Vec<_>>>()?;
                    ops::cat(&parts, *dim as isize)?
                }
                ShapeOp::Cast => ops::cast(&first()?, out.dtype())?,
                ShapeOp::Clone => ops::clone(&first()?)?,
                ShapeOp::ToDevice => ops::to_device(&first()?, out.device())?,
                ShapeOp::SliceScatter { .. } => return transposed_vjp(op, inputs, outputs, saved, t),
            }))
        }
        Op::Reduce(ReduceOp::Sum { axes, keepdim }) => Ok(one(ops::sum(&first()?, Some(isize_axes(axes).as_slice()), *keepdim)?)),
        Op::Reduce(ReduceOp::Mean { axes, keepdim }) => Ok(one(ops::mean(&first()?, Some(isize_axes(axes).as_slice()), *keepdim)?)),
        Op::Reduce(r @ (ReduceOp::Extremum { .. } | ReduceOp::Norm { .. } | ReduceOp::Std { .. })) => {
            let (axes, keepdim) = match r {
                ReduceOp::Norm { axes, keepdim, .. } | ReduceOp::Std { axes, keepdim, .. } => (isize_axes(axes), *keepdim),
                _ => (Vec::new(), false),
            };
            let ones = ops::full(out.shape(), 1.0, out.dtype(), out.device())?;
            let local = vjp_at(op, inputs, outputs, saved, &[ones], &[true])?;
            let local = local.into_iter().next().flatten().ok_or_else(|| autograd_err!("internal error: no local gradient"))?;
            let dims = if axes.is_empty() { None } else { Some(axes.as_slice()) };
            Ok(one(ops::sum(&ops::mul(&first()?, &local)?, dims, keepdim)?))
        }
        Op::Index(ops::IndexOp::Take { offsets }) => Ok(one(ops::take(&first()?, offsets)?)),
        Op::Matmul(MatmulOp::Matmul) => {
            let mut total = None;
            if let Some(ta) = &t[0] {
                total = add_opt(total, ops::matmul(ta, inputs[1])?)?;
            }
            if let Some(tb) = &t[1] {
                total = add_opt(total, ops::matmul(inputs[0], tb)?)?;
            }
            Ok(smallvec::smallvec![total])
        }
        Op::Matmul(MatmulOp::Linear) => {
            let mut total = None;
            if let Some(tx) = &t[0] {
                total = add_opt(total, ops::linear(tx, inputs[1], None)?)?;
            }
            if let Some(tw) = &t[1] {
                total = add_opt(total, ops::linear(inputs[0], tw, None)?)?;
            }
            if let Some(Some(tb)) = t.get(2) {
                total = add_opt(total, ops::expand(tb, out.shape())?)?;
            }
            Ok(smallvec::smallvec![total])
        }
        Op::Nn(nn) => {
            let tx = first()?;
            let y = out.detach();
            if y.ndim() == 0 {
                return Ok(one(ops::zeros(y.shape(), y.dtype(), y.device())?));
            }
            Ok(one(match nn {
                // d softmax = y * (t - sum(y * t))
                NnOp::Softmax { dim } => ops::mul(&y, &ops::sub(&tx, &ops::sum(&ops::mul(&y, &tx)?, Some(&[*dim]), true)?)?)?,
                // d log_softmax = t - sum(softmax * t)
                NnOp::LogSoftmax { dim } => {
                    ops::sub(&tx, &ops::sum(&ops::mul(&ops::exp(&y)?, &tx)?, Some(&[*dim]), true)?)?
                }
            }))
        }
        Op::Custom(c) => Err(autograd_err!("{}: this custom Function has no jvp rule for forward AD", c.name())),
        _ => transposed_vjp(op, inputs, outputs, saved, t),
    }
}

/// The jvp of any op with a differentiable vjp: `J t` is the gradient with respect to `u`
/// of `<vjp(u), t>`, whose value does not depend on `u` (the vjp is linear in it). One
/// small backward through the vjp formula, never through the primal graph (its inputs and
/// saved tensors are detached).
fn transposed_vjp(op: &Op, inputs: &[&Tensor], outputs: &[&Tensor], saved: &[Option<Tensor>], t: &[Option<Tensor>]) -> Result<Tangents> {
    let _on = Suspend::new(Some(true));
    let detached_in: Vec<Tensor> = inputs.iter().map(|x| x.detach()).collect();
    let detached_out: Vec<Tensor> = outputs.iter().map(|x| x.detach()).collect();
    let saved: Vec<Option<Tensor>> = saved.iter().map(|s| s.as_ref().map(|s| s.detach())).collect();
    let mut us = Vec::with_capacity(outputs.len());
    for o in outputs {
        let u = ops::zeros(o.shape(), o.dtype(), o.device())?;
        if o.dtype().is_float() {
            u.set_requires_grad(true)?;
        }
        us.push(u);
    }
    let needs: SmallVec<[bool; 2]> = t.iter().map(|x| x.is_some()).collect();
    let ins: Vec<&Tensor> = detached_in.iter().collect();
    let outs: Vec<&Tensor> = detached_out.iter().collect();
    let gi = vjp_at(op, &ins, &outs, &saved, &us, &needs)?;
    let mut total: Option<Tensor> = None;
    for ((g, ti), x) in gi.into_iter().zip(t).zip(inputs) {
        let (Some(g), Some(ti)) = (g, ti) else { continue };
        let g = if g.shape() == x.shape() { g } else { ops::sum_to(&g, x.shape())? };
        total = add_opt(total, ops::sum(&ops::mul(&g, ti)?, None, false)?)?;
    }
    let float_us: Vec<Tensor> = us.iter().filter(|u| u.dtype().is_float()).cloned().collect();
    let Some(total) = total.filter(|s| s.requires_grad()) else {
        // The vjp does not depend on the output gradient along these inputs: zero tangents.
        return outputs.iter().map(|o| o.dtype().is_float().then(|| ops::zeros(o.shape(), o.dtype(), o.device())).transpose()).collect();
    };
    let seed = ops::full(&[], 1.0, total.dtype(), total.device())?;
    let found = grad(&[total], &[seed], &float_us, BackwardOptions::default(), true)?;
    let mut found = found.into_iter();
    outputs
        .iter()
        .map(|o| {
            if !o.dtype().is_float() {
                return Ok(None);
            }
            match found.next().flatten() {
                Some(g) => Ok(Some(g)),
                None => ops::zeros(o.shape(), o.dtype(), o.device()).map(Some),
            }
        })
        .collect()
}
