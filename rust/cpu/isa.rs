//! Which instruction set the hand-dispatched CPU kernels (matmul, optimizer updates) run on:
//! the widest the machine has, or a narrower one forced, so that one machine can measure the
//! kernels every machine class gets (an AVX-512 server runs its users' AVX2 laptops' path).
//!
//! The choice starts from `BACKPROP_CPU_KERNELS` (`auto`, `avx512`, `avx2`, `baseline`) and
//! can be changed at run time (`backprop.set_cpu_kernels`). `baseline` is what the target
//! guarantees without run-time detection: SSE2 on x86-64, NEON on aarch64.

use std::sync::atomic::{AtomicU8, Ordering};

/// An instruction-set level of the CPU kernels.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isa {
    Avx512,
    Avx2,
    Baseline,
}

impl Isa {
    pub fn name(self) -> &'static str {
        match self {
            Isa::Avx512 => "avx512",
            Isa::Avx2 => "avx2",
            Isa::Baseline => "baseline",
        }
    }

    fn code(self) -> u8 {
        match self {
            Isa::Avx512 => 1,
            Isa::Avx2 => 2,
            Isa::Baseline => 3,
        }
    }

    fn from_code(c: u8) -> Option<Isa> {
        match c {
            1 => Some(Isa::Avx512),
            2 => Some(Isa::Avx2),
            3 => Some(Isa::Baseline),
            _ => None,
        }
    }

    /// Whether this CPU can run the level (the features its kernels are compiled for).
    pub fn supported(self) -> bool {
        match self {
            Isa::Baseline => true,
            #[cfg(target_arch = "x86_64")]
            Isa::Avx2 => std::arch::is_x86_feature_detected!("avx2") && std::arch::is_x86_feature_detected!("fma"),
            #[cfg(target_arch = "x86_64")]
            Isa::Avx512 => Isa::Avx2.supported() && std::arch::is_x86_feature_detected!("avx512f"),
            #[cfg(not(target_arch = "x86_64"))]
            _ => false,
        }
    }
}

/// The widest level this CPU runs.
pub fn detected() -> Isa {
    [Isa::Avx512, Isa::Avx2].into_iter().find(|i| i.supported()).unwrap_or(Isa::Baseline)
}

/// 0: not read yet; otherwise `Isa::code` of the level in force.
static ACTIVE: AtomicU8 = AtomicU8::new(0);

const VAR: &str = "BACKPROP_CPU_KERNELS";
const CHOICES: &str = "'auto', 'avx512', 'avx2' or 'baseline'";

/// The level named by `choice` (`auto` = `detected()`), or why it cannot run here.
fn resolve(choice: &str) -> Result<Isa, String> {
    let isa = match choice.trim().to_ascii_lowercase().as_str() {
        "" | "auto" => return Ok(detected()),
        "avx512" => Isa::Avx512,
        "avx2" => Isa::Avx2,
        "baseline" => Isa::Baseline,
        other => return Err(format!("unknown CPU kernel level {other:?}; expected {CHOICES}")),
    };
    if !isa.supported() {
        return Err(format!("this CPU cannot run the {} kernels (it has {}); choose 'auto' or a lower level", isa.name(), detected().name()));
    }
    Ok(isa)
}

/// Reads `BACKPROP_CPU_KERNELS` once. A value that cannot be honoured falls back to `auto`,
/// and the reason is returned so the binding can warn about it.
pub fn init_from_env() -> Result<Isa, String> {
    let choice = std::env::var(VAR).unwrap_or_default();
    let (isa, problem) = match resolve(&choice) {
        Ok(isa) => (isa, None),
        Err(why) => (detected(), Some(format!("{VAR}={choice:?} ignored: {why}"))),
    };
    // Only the first reader decides; a later `set` is not undone.
    let _ = ACTIVE.compare_exchange(0, isa.code(), Ordering::Relaxed, Ordering::Relaxed);
    problem.map_or(Ok(active()), Err)
}

/// The level the kernels run on now.
#[inline]
pub fn active() -> Isa {
    match Isa::from_code(ACTIVE.load(Ordering::Relaxed)) {
        Some(isa) => isa,
        None => init_from_env().unwrap_or_else(|_| active()),
    }
}

/// Forces a level (`auto`, `avx512`, `avx2`, `baseline`); refuses one this CPU cannot run.
pub fn set(choice: &str) -> Result<Isa, String> {
    let isa = resolve(choice)?;
    ACTIVE.store(isa.code(), Ordering::Relaxed);
    Ok(isa)
}

/// Runs `f` compiled for the level in force: `f` is inlined into a function built with that
/// level's target features, so the loops in it vectorise as wide as the CPU allows (the
/// crate itself is built for the baseline). Results do not change with the level: Rust
/// never contracts `a * b + c` into an FMA, so each element gets the same operations.
///
/// `f` must be small enough to be inlined (a loop over a slice calling table closures); a
/// call it makes to an out-of-line function runs that function's baseline code. Large
/// bodies are not inlined through a closure (the dropout mask's Philox rounds ran 3.4x
/// slower this way), so those kernels keep functions of their own with the target features
/// (`optim`'s `multiversioned!`, `random`'s `mask_run_dispatch`).
#[inline(always)]
pub fn vectorized<R>(f: impl FnOnce() -> R) -> R {
    #[cfg(target_arch = "x86_64")]
    {
        #[target_feature(enable = "avx512f")]
        unsafe fn avx512<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        #[target_feature(enable = "avx2,fma")]
        unsafe fn avx2<R>(f: impl FnOnce() -> R) -> R {
            f()
        }
        match active() {
            // SAFETY: `active()` is only ever a level this CPU supports (`resolve` checks).
            Isa::Avx512 => return unsafe { avx512(f) },
            // SAFETY: as above.
            Isa::Avx2 => return unsafe { avx2(f) },
            Isa::Baseline => {}
        }
    }
    f()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_resolve_and_unknown_names_are_refused() {
        assert_eq!(resolve("auto").unwrap(), detected());
        assert_eq!(resolve(" Baseline ").unwrap(), Isa::Baseline);
        assert!(resolve("sse9").unwrap_err().contains("unknown CPU kernel level"));
        for isa in [Isa::Avx512, Isa::Avx2] {
            assert_eq!(resolve(isa.name()).is_ok(), isa.supported());
        }
    }
}
