//! Anomaly mode (`autograd.detect_anomaly`): while it is on, each recorded node keeps the
//! traceback of the forward call that made it, and backward refuses a node whose vjp returns
//! NaN, naming the node and reporting that traceback. Off, nothing is captured: the only cost
//! is a flag read together with grad mode.
//!
//! Capturing and reporting tracebacks is the Python layer's business: it installs both
//! callbacks once (this module knows nothing about Python).

use super::grad_mode;
use crate::error::{autograd_err, Result};
use crate::ops;
use crate::tensor::Tensor;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;

type Capture = Box<dyn Fn() -> Option<String> + Send + Sync>;
type Report = Box<dyn Fn(&str, Option<&str>) + Send + Sync>;

static CAPTURE: OnceLock<Capture> = OnceLock::new();
static REPORT: OnceLock<Report> = OnceLock::new();
static CHECK_NAN: AtomicBool = AtomicBool::new(true);

/// Installs the traceback capture (at record time) and the report (node name, its forward
/// traceback) made before the error is raised.
pub fn install(capture: Capture, report: Report) {
    let _ = CAPTURE.set(capture);
    let _ = REPORT.set(report);
}

/// Turns anomaly mode on or off on this thread; `check_nan` says whether backward checks for NaN.
pub fn set_anomaly_enabled(enabled: bool, check_nan: bool) {
    grad_mode::update(|m| m.anomaly = enabled);
    CHECK_NAN.store(check_nan, Ordering::Relaxed);
}

pub fn is_anomaly_enabled() -> bool {
    grad_mode::mode().anomaly
}

pub fn is_anomaly_check_nan_enabled() -> bool {
    CHECK_NAN.load(Ordering::Relaxed)
}

pub(crate) fn capture() -> Option<String> {
    CAPTURE.get().and_then(|c| c())
}

fn has_nan(g: &Tensor) -> Result<bool> {
    if !g.dtype().is_float() || g.numel() == 0 {
        return Ok(false);
    }
    let _off = grad_mode::GradModeGuard::new(false);
    Ok(ops::any(&ops::ne(g, g)?, None, false)?.item()? != 0.0)
}

/// The error for the first input gradient of `name`'s node that holds NaN (PyTorch's message),
/// after reporting the forward traceback; Ok when none does or NaN checks are off.
pub(crate) fn check_grads(name: impl Fn() -> String, trace: Option<&str>, grads: &[Option<Tensor>]) -> Result<()> {
    if !is_anomaly_check_nan_enabled() {
        return Ok(());
    }
    for (i, g) in grads.iter().enumerate() {
        if let Some(g) = g {
            if has_nan(g)? {
                let name = name();
                if let Some(report) = REPORT.get() {
                    report(&name, trace);
                }
                return Err(autograd_err!("Function '{name}' returned nan values in its {i}th output."));
            }
        }
    }
    Ok(())
}

