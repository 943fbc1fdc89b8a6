//! Thread-local grad mode: when off, ops record nothing (`no_grad()`).

use std::cell::Cell;

thread_local! {
    static GRAD_ENABLED: Cell<bool> = const { Cell::new(true) };
    static TRACE_ALL: Cell<bool> = const { Cell::new(false) };
}

/// Outputs with at most this many elements keep their values in the graph, so graph
/// pictures of small circuits work without asking; `set_trace_all(true)` keeps every value.
pub const TRACE_SMALL: usize = 64;

pub fn is_trace_all() -> bool {
    TRACE_ALL.with(|g| g.get())
}

pub fn set_trace_all(enabled: bool) {
    TRACE_ALL.with(|g| g.set(enabled));
}

#[inline]
pub fn is_grad_enabled() -> bool {
    GRAD_ENABLED.with(|g| g.get())
}

pub fn set_grad_enabled(enabled: bool) {
    GRAD_ENABLED.with(|g| g.set(enabled));
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
