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
//!
//! After a parallel region the helpers linger (`linger`): rayon puts a worker to sleep a few
//! microseconds after it runs out of work, and waking it again took about as long as the
//! small products of a batch-64 step (on a 2-vCPU VM, [64, 512] @ [512, 512] on two threads
//! took 80 us right after another product and 125-150 us after a gap of 50 us or more, which
//! is what it takes on one thread). A helper keeps looking for work for `LINGER` after each
//! region, as OpenMP's runtimes spin for a while before they block, and the next region
//! reaches it through a board (`share`) rather than rayon's queue, where a job would also
//! wake the sleeping worker: a third busy thread on the caller's and the helper's cores.

use std::any::Any;
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicUsize, Ordering};
use std::sync::{Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

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

/// How long a helper keeps looking for work after a parallel region (module docs): longer
/// than the serial stretches between the products of a step, short enough that an idle
/// process stops using the cores at once.
const LINGER: Duration = Duration::from_micros(200);

/// Workers lingering now, or about to (at most `num_threads() - 1`).
static LINGERING: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    /// Whether this worker is lingering: a linger job it picks up meanwhile returns at once.
    static IN_LINGER: Cell<bool> = const { Cell::new(false) };
}

/// Where a parallel region is handed to lingering helpers without going through rayon's
/// queue: a job injected there would also wake a sleeping worker, a third thread on the
/// cores that the caller and the lingering helper are using. One region at a time; a second
/// caller meanwhile uses rayon alone.
struct Board {
    /// Held by the caller whose region is posted.
    taken: AtomicBool,
    /// `seq << 1 | open`: the posted region's number, and whether helpers may join it.
    state: AtomicUsize,
    /// The posted region's work, a `*const &(dyn Fn() + Sync)` on the caller's stack.
    work: AtomicPtr<()>,
    /// Helpers that have joined the posted region and not yet returned from its work.
    joined: AtomicUsize,
    /// A helper's panic, re-raised on the caller.
    panic: Mutex<Option<Box<dyn Any + Send>>>,
}

static BOARD: Board = Board {
    taken: AtomicBool::new(false),
    state: AtomicUsize::new(0),
    work: AtomicPtr::new(std::ptr::null_mut()),
    joined: AtomicUsize::new(0),
    panic: Mutex::new(None),
};

/// A region posted on the board. Dropping it closes the region and waits until every helper
/// that joined has returned from its work, which borrows from the caller's stack.
struct Posted;

impl Drop for Posted {
    fn drop(&mut self) {
        let s = BOARD.state.load(Ordering::Relaxed);
        BOARD.state.store(s & !1, Ordering::SeqCst);
        let mut spins = 0u32;
        while BOARD.joined.load(Ordering::SeqCst) != 0 {
            // A helper descheduled mid-part (more threads than free cores) needs the core.
            spins += 1;
            if spins.is_multiple_of(1024) {
                std::thread::yield_now();
            }
            std::hint::spin_loop();
        }
        BOARD.taken.store(false, Ordering::Release);
    }
}

/// Posts `work` for lingering helpers, unless another region holds the board.
fn post(work: &&(dyn Fn() + Sync)) -> Option<Posted> {
    if BOARD.taken.swap(true, Ordering::Acquire) {
        return None;
    }
    // A helper's panic left by a region whose caller panicked too (and so never took it).
    BOARD.panic.lock().unwrap_or_else(|e| e.into_inner()).take();
    BOARD.work.store(work as *const &(dyn Fn() + Sync) as *mut (), Ordering::Relaxed);
    let seq = (BOARD.state.load(Ordering::Relaxed) >> 1).wrapping_add(1);
    BOARD.state.store(seq << 1 | 1, Ordering::SeqCst);
    Some(Posted)
}

/// Runs the posted region's work on this helper if one is open that it has not run (`seen`
/// is the last region it looked at); whether it did.
fn join(seen: &mut usize) -> bool {
    let s = BOARD.state.load(Ordering::SeqCst);
    if s & 1 == 0 || s >> 1 == *seen {
        return false;
    }
    *seen = s >> 1;
    BOARD.joined.fetch_add(1, Ordering::SeqCst);
    // Seen still open after joining: the caller has not yet closed it, so it will wait for
    // this helper before its stack (and the work) goes away. Closed meanwhile: the caller
    // may be gone, and the work is not touched.
    if BOARD.state.load(Ordering::SeqCst) == s {
        // SAFETY: the pointer was stored before the region opened, and stays valid until the
        // caller has seen `joined` return to zero (see `Posted`).
        let work: &(dyn Fn() + Sync) = unsafe { *(BOARD.work.load(Ordering::Relaxed) as *const &(dyn Fn() + Sync)) };
        if let Err(p) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)) {
            *BOARD.panic.lock().unwrap_or_else(|e| e.into_inner()) = Some(p);
        }
    }
    BOARD.joined.fetch_sub(1, Ordering::SeqCst);
    true
}

/// Runs `work` on the calling thread and on up to `helpers` helpers at once, returning when
/// every copy has returned: lingering helpers join through the board, the rest are rayon
/// jobs. Each copy must take its share of the work from a common counter and return when
/// nothing is left, so it does not matter how many join, or when.
pub(crate) fn share(helpers: usize, work: &(dyn Fn() + Sync)) {
    let posted = post(&work);
    let lingering = if posted.is_some() { LINGERING.load(Ordering::Relaxed).min(helpers) } else { 0 };
    if lingering < helpers {
        rayon::in_place_scope(|s| {
            for _ in lingering..helpers {
                s.spawn(move |_| work());
            }
            work();
        });
    } else {
        work();
    }
    if posted.is_some() {
        drop(posted);
        if let Some(p) = BOARD.panic.lock().unwrap_or_else(|e| e.into_inner()).take() {
            std::panic::resume_unwind(p);
        }
    }
    linger();
}

/// Keeps the helpers of a parallel region that just ended looking for work for `LINGER`
/// (module docs): one linger job for each helper not lingering already.
fn linger() {
    if cfg!(miri) {
        return; // Miri's clock runs with the interpreter: lingering would only slow it down
    }
    let helpers = num_threads() - 1;
    let mut now = LINGERING.load(Ordering::Relaxed);
    while now < helpers {
        match LINGERING.compare_exchange_weak(now, now + 1, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => {
                rayon::spawn(linger_on_worker);
                now += 1;
            }
            Err(actual) => now = actual,
        }
    }
}

/// Runs on a worker: joins posted regions and runs the pool's pending jobs as they come,
/// until none has come for `LINGER`.
fn linger_on_worker() {
    /// Gives the slot back, and the flag, however the job ends.
    struct Done(bool);
    impl Drop for Done {
        fn drop(&mut self) {
            if self.0 {
                IN_LINGER.with(|f| f.set(false));
            }
            LINGERING.fetch_sub(1, Ordering::Relaxed);
        }
    }
    let outermost = !IN_LINGER.with(|f| f.replace(true));
    let _done = Done(outermost);
    if !outermost {
        return;
    }
    let mut seen = usize::MAX;
    let mut until = Instant::now() + LINGER;
    loop {
        if join(&mut seen) || rayon::yield_now() == Some(rayon::Yield::Executed) {
            until = Instant::now() + LINGER;
        } else if Instant::now() >= until {
            return;
        } else {
            // Not a bare spin: a helper that shares a core with the caller (new threads start
            // on their parent's core until the scheduler moves them) or with another process
            // gives that core back at once. A fast region still starts at 75-80 us.
            std::thread::yield_now();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Held by each test that changes the thread count: the test harness runs tests at once,
    /// and one test's count would otherwise break the other's assertions.
    static COUNT_CHANGES: Mutex<()> = Mutex::new(());

    #[test]
    fn limit_is_clamped_to_the_pool_and_restored() {
        let _serial = COUNT_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
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

    #[test]
    fn lingering_helpers_run_the_next_work_and_then_stop() {
        let _serial = COUNT_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
        let before = num_threads();
        set_num_threads(2);
        if num_threads() == 2 {
            linger();
            linger(); // a helper lingering already gets no second job
            assert!(LINGERING.load(Ordering::Relaxed) <= 1);
            // Work shared meanwhile runs whole, through the board or rayon, whoever takes it.
            for round in 0..100u64 {
                let next = AtomicUsize::new(0);
                let sum = AtomicUsize::new(0);
                share(1, &|| loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= 64 {
                        break;
                    }
                    sum.fetch_add(i + round as usize, Ordering::Relaxed);
                });
                assert_eq!(sum.into_inner(), 2016 + 64 * round as usize);
            }
            let total: u64 = rayon::iter::ParallelIterator::sum(rayon::iter::IntoParallelIterator::into_par_iter(0..1000u64));
            assert_eq!(total, 499_500);
            // With nothing more to do the linger ends (well within a minute, however busy the
            // machine is).
            let start = Instant::now();
            while LINGERING.load(Ordering::Relaxed) != 0 {
                assert!(start.elapsed() < Duration::from_secs(60), "a lingering helper never stopped");
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        set_num_threads(before);
    }

    #[test]
    fn a_helpers_panic_reaches_the_caller() {
        let _serial = COUNT_CHANGES.lock().unwrap_or_else(|e| e.into_inner());
        let before = num_threads();
        set_num_threads(2);
        if num_threads() == 2 {
            for _ in 0..3 {
                // The caller waits (up to a generous bound) for a helper to take a copy of the
                // work; the helper's copy panics, through the board or as a rayon job.
                let caller = std::thread::current().id();
                let helper_ran = AtomicBool::new(false);
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    share(1, &|| {
                        if std::thread::current().id() != caller {
                            helper_ran.store(true, Ordering::SeqCst);
                            panic!("a helper's panic");
                        }
                        let start = Instant::now();
                        while !helper_ran.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                            std::thread::yield_now();
                        }
                    })
                }));
                assert!(helper_ran.into_inner(), "no helper took the work within a minute");
                let payload = result.expect_err("the helper's panic was lost");
                assert_eq!(payload.downcast_ref::<&str>(), Some(&"a helper's panic"));
            }
        }
        set_num_threads(before);
    }
}
