//! CPU kernels. Each takes tensors (reading only their storage and layout) and returns a
//! fresh contiguous tensor, or writes into a destination view for in-place ops. They know
//! nothing about autograd. Elementwise work runs on rayon above `PARALLEL_THRESHOLD`
//! elements; small tensors never touch the thread pool.

pub mod copy;
pub mod elementwise;
pub mod index;
pub mod isa;
pub mod linalg;
pub mod matmul;
pub mod narrow;
pub mod norm;
pub mod random;
pub mod optim;
pub mod reduce;
pub mod scan;
pub mod softmax;
pub mod sort;
pub mod strided;
pub mod threads;

/// Elements below which a kernel stays on the calling thread. Python calls the engine from a
/// thread outside the pool, so each parallel kernel costs a hand-off to the pool and a wake-up
/// back (futex waits and context switches: 10-50 us, more on a loaded machine). That buys
/// nothing until one pass takes longer than that on a single core: about 256k elements.
pub const PARALLEL_THRESHOLD: usize = 1 << 18;

/// Whether a pass over `n` elements goes parallel: at least `PARALLEL_THRESHOLD` of them, and
/// more than one thread to run them. With one thread a rayon iterator would still hand the
/// work to the pool's worker, on the other core, away from the caller's cache: a 1.6 MB
/// in-place multiply took 114 us that way against 29 us on the calling thread.
#[inline]
pub(crate) fn parallel(n: usize) -> bool {
    n >= PARALLEL_THRESHOLD && threads::num_threads() > 1
}

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
    let helpers = threads::num_threads().min(parts).saturating_sub(1);
    if helpers == 0 {
        return work();
    }
    threads::share(helpers, &work);
}

/// Runs `f(start, len)` over `[0, n)`: in one call below `PARALLEL_THRESHOLD` elements, else
/// in contiguous parts (two per thread, shared out by `run_parts`), cut at multiples of 64
/// elements so every part starts on a cache line and vector boundary.
pub(crate) fn for_chunks(n: usize, f: impl Fn(usize, usize) + Sync + Send) {
    if !parallel(n) {
        return f(0, n);
    }
    let threads = threads::num_threads();
    let per = n.div_ceil(2 * threads).next_multiple_of(64);
    let parts = n.div_ceil(per);
    run_parts(parts, |i| {
        let start = i * per;
        f(start, per.min(n - start));
    });
}

/// A raw pointer to a kernel's buffer that may cross into rayon workers, each of which
/// touches a range of elements no other worker touches.
///
/// Why this is sound:
/// - It is `Send`/`Sync` only when `T: Send`: each element is accessed by one thread at a time,
///   which moves access to it between threads and so needs exactly `Send` (not `Sync`: no two
///   threads share an element).
/// - Callers give each worker a disjoint range and write only inside it (reads of inputs may
///   overlap: nothing writes those), and the buffer outlives the parallel scope (`run_parts`
///   and rayon's iterators join every worker before returning).
/// - The pointer must come from a mutable source (`Vec::as_mut_ptr`, `CpuStorage::as_ptr` of memory
///   the kernel owns or is the one writer of, under the aliasing contract in `tensor::storage`),
///   never from a shared reference.
pub(crate) struct SendPtr<T>(pub *mut T);

impl<T> Clone for SendPtr<T> {
    fn clone(&self) -> Self {
        *self
    }
}
impl<T> Copy for SendPtr<T> {}
// SAFETY: see the type's documentation: disjoint ranges per worker, `T: Send`, scoped lifetime.
unsafe impl<T: Send> Send for SendPtr<T> {}
// SAFETY: sharing the wrapper shares only the address; element access stays disjoint.
unsafe impl<T: Send> Sync for SendPtr<T> {}

impl<T> SendPtr<T> {
    #[inline(always)]
    pub fn get(self) -> *mut T {
        self.0
    }
}

#[cfg(test)]
mod tests {
    /// `SendPtr<T>` crosses threads only for `T: Send` (checked at compile time).
    #[test]
    fn send_ptr_is_send_exactly_for_send_elements() {
        fn assert_send_sync<T: Send + Sync>() {}
        assert_send_sync::<super::SendPtr<f32>>();
        assert_send_sync::<super::SendPtr<i64>>();
        // `SendPtr<std::rc::Rc<u8>>` is neither; uncommenting this line fails to compile:
        // assert_send_sync::<super::SendPtr<std::rc::Rc<u8>>>();
    }
}
