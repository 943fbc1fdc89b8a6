//! CPU kernels. Each takes tensors (reading only their storage and layout) and returns a
//! fresh contiguous tensor, or writes into a destination view for in-place ops. They know
//! nothing about autograd. Elementwise work runs on rayon above `PARALLEL_THRESHOLD`
//! elements; small tensors never touch the thread pool.

pub mod copy;
pub mod elementwise;
pub mod index;
pub mod linalg;
pub mod matmul;
pub mod random;
pub mod optim;
pub mod reduce;
pub mod softmax;
pub mod strided;

/// Elements below which a kernel stays on the calling thread. Python calls the engine from a
/// thread outside the pool, so each parallel kernel costs a hand-off to the pool and a wake-up
/// back (futex waits and context switches: 10-50 us, more on a loaded machine). That buys
/// nothing until one pass takes longer than that on a single core: about 256k elements.
pub const PARALLEL_THRESHOLD: usize = 1 << 18;

/// Runs `f(0)`, ..., `f(parts - 1)` in parallel, the calling thread included. Python calls
/// the engine from outside the pool, so a plain parallel iterator would park the caller while
/// woken workers do all the work. Here the caller and up to `threads - 1` helpers claim parts
/// from a shared counter: whoever is free takes the next part, so a worker that wakes late
/// (tens of microseconds) costs little when there are more parts than threads.
pub(crate) fn run_parts(parts: usize, f: impl Fn(usize) + Sync) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = AtomicUsize::new(0);
    let work = || loop {
        let i = next.fetch_add(1, Ordering::Relaxed);
        if i >= parts {
            break;
        }
        f(i);
    };
    let helpers = rayon::current_num_threads().min(parts).saturating_sub(1);
    if helpers == 0 {
        return work();
    }
    let work = &work;
    rayon::in_place_scope(|s| {
        for _ in 0..helpers {
            s.spawn(move |_| work());
        }
        work();
    });
}

/// A raw pointer that may cross into rayon workers writing disjoint ranges.
#[derive(Clone, Copy)]
pub(crate) struct SendPtr<T>(pub *mut T);
unsafe impl<T> Send for SendPtr<T> {}
unsafe impl<T> Sync for SendPtr<T> {}
impl<T> SendPtr<T> {
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}
