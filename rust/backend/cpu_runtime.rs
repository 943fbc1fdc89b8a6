//! The CPU runtime's settings, for the binding: the thread count and the instruction-set
//! level of the kernels (both live with the kernels in `cpu::threads` and `cpu::isa`).

use crate::cpu::{isa, threads};

/// Threads the CPU kernels may use.
pub fn num_threads() -> usize {
    threads::num_threads()
}

/// Sets the CPU thread count (clamped to the pool: see `cpu::threads`); returns the count in force.
pub fn set_num_threads(n: usize) -> usize {
    threads::set_num_threads(n)
}

/// The instruction-set level the CPU kernels run on (`avx512`, `avx2` or `baseline`).
pub fn cpu_kernels() -> &'static str {
    isa::active().name()
}

/// The widest level this CPU supports.
pub fn cpu_capability() -> &'static str {
    isa::detected().name()
}

/// Forces a level (`auto`, `avx512`, `avx2`, `baseline`); the error says why one cannot run.
pub fn set_cpu_kernels(choice: &str) -> Result<&'static str, String> {
    isa::set(choice).map(isa::Isa::name)
}

/// Reads `BACKPROP_CPU_KERNELS` and builds the thread pool; returns a warning when the
/// variable names a level that cannot run here.
pub fn init() -> Option<String> {
    threads::num_threads();
    isa::init_from_env().err()
}
