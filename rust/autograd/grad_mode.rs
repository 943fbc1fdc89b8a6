//! Thread-local grad mode: when off, ops record nothing (`no_grad()`).

use std::cell::Cell;

/// Both switches in one thread-local: recording an op reads them together, and each
/// thread-local lookup in a shared library is a call (`__tls_get_addr`).
#[derive(Clone, Copy)]
pub struct Mode {
    pub grad_enabled: bool,
    pub trace_all: bool,
    /// A forward-AD dual level is open (and no tangent is being computed right now): ops
    /// look their inputs up for tangents (`forward`).
    pub forward_ad: bool,
    /// Anomaly mode: nodes keep their forward traceback, backward checks for NaN (`anomaly`).
    pub anomaly: bool,
    /// Saved-tensor hooks are installed on this thread: saves go through them (`saved`).
    pub saved_hooks: bool,
}

thread_local! {
    static MODE: Cell<Mode> = const { Cell::new(Mode { grad_enabled: true, trace_all: false, forward_ad: false, anomaly: false, saved_hooks: false }) };
}

#[inline]
pub fn mode() -> Mode {
    MODE.with(|m| m.get())
}

/// Outputs with at most this many elements keep their values in the graph, so graph
/// pictures of small circuits work without asking; `set_trace_all(true)` keeps every value.
pub const TRACE_SMALL: usize = 64;

pub fn is_trace_all() -> bool {
    mode().trace_all
}

pub fn set_trace_all(enabled: bool) {
    MODE.with(|m| m.set(Mode { trace_all: enabled, ..m.get() }));
}

/// Changes the mode with `f`, returning the previous one (for guards that restore it).
pub(crate) fn update(f: impl FnOnce(&mut Mode)) -> Mode {
    MODE.with(|m| {
        let previous = m.get();
        let mut next = previous;
        f(&mut next);
        m.set(next);
        previous
    })
}

#[inline]
pub fn is_grad_enabled() -> bool {
    mode().grad_enabled
}

pub fn set_grad_enabled(enabled: bool) {
    MODE.with(|m| m.set(Mode { grad_enabled: enabled, ..m.get() }));
}

/// Sets grad mode for a scope and restores the previous mode when dropped.
pub struct GradModeGuard {
    previous: bool,
}

impl GradModeGuard {
    pub fn new(enabled: bool) -> GradModeGuard {
        let previous = is_grad_enabled();
        set_grad_enabled(enabled);
        GradModeGuard { previous }
    }
}

impl Drop for GradModeGuard {
    fn drop(&mut self) {
        set_grad_enabled(self.previous);
    }
}
