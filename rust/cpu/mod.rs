//! CPU kernels. Each takes tensors (reading only their storage and layout) and returns a
//! fresh contiguous tensor, or writes into a destination view for in-place ops. They know
//! nothing about autograd. Elementwise work runs on rayon above `PARALLEL_THRESHOLD`
//! elements; small tensors never touch the thread pool.

pub mod copy;
pub mod elementwise;
pub mod index;
pub mod matmul;
pub mod optim;
pub mod reduce;
pub mod softmax;
pub mod strided;

/// Elements below which a kernel stays on the calling thread. Python calls the engine from a
/// thread outside the pool, so each parallel kernel costs a hand-off to the pool and a wake-up
/// back (futex waits and context switches: 10-50 us, more on a loaded machine). That buys
/// nothing until one pass takes longer than that on a single core: about 256k elements.
pub const PARALLEL_THRESHOLD: usize = 1 << 18;

/// Runs `f(0)`, ..., `f(parts - 1)` in parallel: part 0 on the calling thread, the others on the
/// thread pool. Python calls the engine from outside the pool, so a plain parallel iterator
/// would park the caller while every part runs on a woken worker; here the caller does a
/// share of the work and only `parts - 1` workers are woken.
pub(crate) fn run_parts(parts: usize, f: impl Fn(usize) + Sync) {
    if parts <= 1 {
        if parts == 1 {
            f(0);
        }
        return;
    }
    let f = &f;
    rayon::in_place_scope(|s| {
        for i in 1..parts {
            s.spawn(move |_| f(i));
        }
        f(0);
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
