//! The engine's one CPU thread pool (rayon's global pool: every parallel kernel and every
//! matmul block runs in it, so there is no second pool to oversubscribe the cores) and the
//! number of threads it may use, like `torch.set_num_threads`.
//!
//! At start the count is `RAYON_NUM_THREADS`, else `OMP_NUM_THREADS` (so one setting limits
//! every library in a process, as MPI launchers and job schedulers set it), else the number
//! of cores the process may run on. The pool is built once with at least as many workers as
//! cores; a lower limit parks the surplus workers (blocked on a condition variable, costing
//! no CPU), and a higher one wakes them. Rayon cannot resize a pool, and a pool per setting
//! would need every kernel to enter it by hand.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};

/// Workers in the pool (fixed once built).
static POOL_SIZE: OnceLock<usize> = OnceLock::new();
/// Threads kernels may use: the caller plus `limit - 1` workers (0 until `pool_size` ran).
static LIMIT: AtomicUsize = AtomicUsize::new(0);

/// How many workers should be parked, and how many are (or are on their way to be).
struct Parking {
    target: usize,
    parked: usize,
}
static PARKING: Mutex<Parking> = Mutex::new(Parking { target: 0, parked: 0 });
static UNPARK: Condvar = Condvar::new();

/// The first positive integer of `RAYON_NUM_THREADS`, else of `OMP_NUM_THREADS`
/// (OpenMP allows a list, "4,2", one count per nesting level: the first is the outer one).
fn requested_from_env() -> Option<usize> {
    ["RAYON_NUM_THREADS", "OMP_NUM_THREADS"].iter().find_map(|var| {
        let v = std::env::var(var).ok()?;
        v.split(',').next()?.trim().parse::<usize>().ok().filter(|&n| n > 0)
    })
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Builds the global pool on first use and returns its size.
fn pool_size() -> usize {
    *POOL_SIZE.get_or_init(|| {
        let wanted = requested_from_env().unwrap_or_else(cores);
        let size = wanted.max(cores());
        // Fails only when something built the global pool first (a Rust test harness); then
        // that pool is the one, at whatever size it has.
        let _ = rayon::ThreadPoolBuilder::new().num_threads(size).thread_name(|i| format!("backprop-cpu-{i}")).build_global();
        let size = rayon::current_num_threads();
        apply(wanted.min(size), size);
        size
    })
}

/// Threads a kernel may split its work over (at least 1).
#[inline]
pub fn num_threads() -> usize {
    match LIMIT.load(Ordering::Relaxed) {
        0 => {
            pool_size();
            LIMIT.load(Ordering::Relaxed).max(1)
        }
        n => n,
    }
}

/// Sets the number of threads (at least 1, at most the pool's size, which is the larger of
/// the cores and the count requested at start). Returns the number in force.
pub fn set_num_threads(n: usize) -> usize {
    let size = pool_size();
    let n = n.clamp(1, size);
    apply(n, size);
    n
}

/// Parks `size - n` workers (never all of them: a parallel iterator started from outside the
/// pool needs one worker to run it, and with `n` = 1 that one runs while the caller waits).
fn apply(n: usize, size: usize) {
    LIMIT.store(n, Ordering::Relaxed);
    let mut p = PARKING.lock().unwrap_or_else(|e| e.into_inner());
    p.target = (size - n).min(size.saturating_sub(1));
    while p.parked < p.target {
        p.parked += 1;
        rayon::spawn(park);
    }
    UNPARK.notify_all();
}

/// Runs on a worker: holds it until the target drops below the number parked.
fn park() {
    let mut p = PARKING.lock().unwrap_or_else(|e| e.into_inner());
    while p.parked <= p.target {
        p = UNPARK.wait(p).unwrap_or_else(|e| e.into_inner());
    }
    p.parked -= 1;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_is_clamped_to_the_pool_and_restored() {
        let size = pool_size();
        let before = num_threads();
        assert_eq!(set_num_threads(0), 1);
        assert_eq!(num_threads(), 1);
        // Work still runs with every surplus worker parked.
        let total: u64 = rayon::iter::ParallelIterator::sum(rayon::iter::IntoParallelIterator::into_par_iter(0..1000u64));
        assert_eq!(total, 499_500);
        assert_eq!(set_num_threads(size + 5), size);
        assert_eq!(set_num_threads(before), before);
    }
}
