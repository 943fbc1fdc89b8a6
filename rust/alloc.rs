//! The global allocator: mimalloc, taking its fast unaligned path whenever the requested
//! alignment is one mimalloc guarantees anyway (16 bytes), which is nearly always.
//!
//! Requests of `SYSTEM_THRESHOLD` bytes or more go to the system allocator instead. mimalloc
//! maps its memory with `MAP_NORESERVE` wherever the kernel overcommits, so a request far
//! beyond RAM and swap "succeeds" and the process is killed when the pages are touched; the
//! system allocator's plain mapping lets the kernel refuse such a request up front, which the
//! fallible buffers below turn into a MemoryError. Buffers that large are rare and costly to
//! fill, so the slower path costs nothing measurable.
//!
//! Buffers of `HUGE_PAGE_THRESHOLD` bytes or more are advised to use transparent huge pages
//! (`madvise(MADV_HUGEPAGE)` on their 2 MiB-aligned interior), as NumPy does for its arrays:
//! most Linux systems ship THP in `madvise` mode, so without the advice a large tensor is
//! mapped in 4 KiB pages and every pass over it (an MPI all-reduce, a memcpy, a matmul
//! panel) pays TLB misses that the same NumPy array does not.
//!
//! Freed memory goes back to the OS only every `PURGE_DELAY_MS`. mimalloc (v3, the version
//! built) does not time each freed block: the first free after a purge starts one clock, and
//! when it runs out everything free at that moment is purged, including the activations a
//! training step freed a moment before, which the next step then faults back in, zeroed by
//! the kernel. So the delay is not "longer than a step" but how often a step pays that
//! refault: at mimalloc's 1 s it was 9 to 13 page faults per step at batch 1024 of the MLP
//! (2% of the step, the kernel zeroing huge pages); at 10 s it is a tenth of that, and memory
//! that stays free still goes back, at the first allocation or free 10 s on.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;

/// mimalloc's guaranteed alignment for every allocation.
const MI_MAX_ALIGN_SIZE: usize = 16;

/// Allocations at least this large come from the system allocator (module docs).
const SYSTEM_THRESHOLD: usize = 1 << 30;

/// Allocations at least this large are advised to use huge pages (module docs); NumPy's
/// threshold.
const HUGE_PAGE_THRESHOLD: usize = 4 << 20;

pub struct MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mi_option_e` enum; the bindings lack the name).
const MI_OPTION_PURGE_DELAY: mi::mi_option_t = 15;

/// How often freed memory is returned to the OS (module docs).
const PURGE_DELAY_MS: std::ffi::c_long = 10_000;

/// Sets the allocator's options, once, before the engine allocates in earnest; a
/// `MIMALLOC_PURGE_DELAY` (or its old name `MIMALLOC_RESET_DELAY`) in the environment wins.
pub fn configure() {
    #[cfg(not(miri))]
    if std::env::var_os("MIMALLOC_PURGE_DELAY").is_none() && std::env::var_os("MIMALLOC_RESET_DELAY").is_none() {
        // SAFETY: a documented option and a value in its range; mimalloc reads options
        // atomically, so setting one while other threads allocate is allowed.
        unsafe { mi::mi_option_set(MI_OPTION_PURGE_DELAY, PURGE_DELAY_MS) };
    }
}

/// Advises the kernel to back the 2 MiB-aligned interior of `[ptr, ptr + size)` with huge
/// pages. Only advice: a kernel without THP (or with it off) returns an error, ignored.
#[inline]
fn advise_huge_pages(ptr: *mut u8, size: usize) -> *mut u8 {
    #[cfg(target_os = "linux")]
    if size >= HUGE_PAGE_THRESHOLD && !ptr.is_null() {
        const HUGE: usize = 2 << 20;
        let start = (ptr as usize).next_multiple_of(HUGE);
        let end = (ptr as usize + size) & !(HUGE - 1);
        if end > start {
            // SAFETY: the range lies inside an allocation this allocator just made; the
            // advice changes how the kernel maps it, never its contents or validity.
            unsafe { libc::madvise(start as *mut libc::c_void, end - start, libc::MADV_HUGEPAGE) };
        }
    }
    ptr
}

#[inline]
fn is_large(size: usize) -> bool {
    size >= SYSTEM_THRESHOLD
}

unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let ptr = if is_large(layout.size()) {
            System.alloc(layout)
        } else if layout.align() <= MI_MAX_ALIGN_SIZE {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        };
        advise_huge_pages(ptr, layout.size())
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let ptr = if is_large(layout.size()) {
            System.alloc_zeroed(layout)
        } else if layout.align() <= MI_MAX_ALIGN_SIZE {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        };
        advise_huge_pages(ptr, layout.size())
    }

    #[inline]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // The layout is the one the memory was allocated with, so it names the allocator.
        if is_large(layout.size()) {
            System.dealloc(ptr, layout)
        } else {
            mi::mi_free(ptr as *mut c_void);
        }
    }

    #[inline]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        match (is_large(layout.size()), is_large(new_size)) {
            (false, false) if layout.align() <= MI_MAX_ALIGN_SIZE => advise_huge_pages(mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8, new_size),
            (false, false) => advise_huge_pages(mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8, new_size),
            (true, true) => advise_huge_pages(System.realloc(ptr, layout, new_size), new_size),
            _ => {
                // Crossing the threshold: move between the allocators.
                let new_layout = Layout::from_size_align_unchecked(new_size, layout.align());
                let new = self.alloc(new_layout);
                if !new.is_null() {
                    std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                    self.dealloc(ptr, layout);
                }
                new
            }
        }
    }
}

/// Fallible buffers. Every host buffer whose size a user controls is reserved through these,
/// so running out of memory (or asking for more bytes than an address space has) is a
/// `MemoryError` naming the op, the shape and the byte count, never an abort of the process.
pub mod buffer {
    use crate::error::{Error, Result, ShapeDisplay};

    fn out_of_memory(op: &str, shape: &[usize], elements: usize, item: usize) -> Error {
        let bytes = (elements as u128) * (item as u128);
        Error::Memory(format!(
            "{op}: out of memory: a buffer for shape {} needs {bytes} bytes ({elements} elements of {item} bytes); \
             use smaller tensors or free memory",
            ShapeDisplay(shape)
        ))
    }

    /// An empty vector with room for `n` elements (`shape` only names the request in errors).
    pub fn with_capacity<T>(n: usize, shape: &[usize], op: &str) -> Result<Vec<T>> {
        let mut v = Vec::new();
        v.try_reserve_exact(n).map_err(|_| out_of_memory(op, shape, n, std::mem::size_of::<T>()))?;
        Ok(v)
    }

    /// `n` elements written by `fill` straight into fresh memory: no zeroing pass first, so a
    /// kernel that writes its whole output pays for that memory once (the zeroing `memset` was
    /// 17% of a layer-norm step).
    ///
    /// # Safety
    /// `fill` must write every one of the `n` elements (the result reads them all). If it
    /// panics instead, nothing uninitialised is read: the vector is dropped empty.
    pub unsafe fn written<T>(n: usize, shape: &[usize], op: &str, fill: impl FnOnce(&mut [std::mem::MaybeUninit<T>])) -> Result<Vec<T>> {
        let mut v = with_capacity::<T>(n, shape, op)?;
        fill(&mut v.spare_capacity_mut()[..n]);
        // SAFETY: the capacity is at least `n`, and the caller's `fill` initialised all `n`.
        unsafe { v.set_len(n) };
        Ok(v)
    }

    /// `n` zeros. Zeroed memory comes from the allocator's zeroing path (fresh pages are
    /// zero already), which is why this is not `with_capacity` plus a fill.
    pub fn zeroed<T: bytemuck::Zeroable>(n: usize, shape: &[usize], op: &str) -> Result<Vec<T>> {
        if n == 0 || std::mem::size_of::<T>() == 0 {
            return Ok((0..n).map(|_| T::zeroed()).collect());
        }
        let layout = std::alloc::Layout::array::<T>(n).map_err(|_| out_of_memory(op, shape, n, std::mem::size_of::<T>()))?;
        // SAFETY: the layout has a non-zero size; a null result is handled; the memory is
        // all-zero, which `Zeroable` guarantees is a valid `T`, and it was allocated by the
        // global allocator with exactly the layout `Vec` uses for `n` elements of `T`.
        unsafe {
            let ptr = std::alloc::alloc_zeroed(layout) as *mut T;
            if ptr.is_null() {
                return Err(out_of_memory(op, shape, n, std::mem::size_of::<T>()));
            }
            Ok(Vec::from_raw_parts(ptr, n, n))
        }
    }

    /// `n` copies of `value`.
    pub fn filled<T: Clone>(value: T, n: usize, shape: &[usize], op: &str) -> Result<Vec<T>> {
        let mut v = with_capacity(n, shape, op)?;
        v.resize(n, value);
        Ok(v)
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn impossible_sizes_are_errors_not_aborts() {
            for n in [usize::MAX, usize::MAX / 2, 1usize << 62, isize::MAX as usize / 4 + 1] {
                assert!(matches!(zeroed::<f32>(n, &[n], "zeros"), Err(Error::Memory(_))), "{n}");
                assert!(matches!(with_capacity::<f64>(n, &[n], "cat"), Err(Error::Memory(_))), "{n}");
                assert!(matches!(filled(1i64, n, &[n], "full"), Err(Error::Memory(_))), "{n}");
            }
            let msg = zeroed::<f32>(1 << 62, &[1 << 31, 1 << 31], "zeros").unwrap_err().to_string();
            assert!(msg.contains("zeros") && msg.contains("[2147483648, 2147483648]") && msg.contains("18446744073709551616 bytes"), "{msg}");
        }

        #[test]
        #[cfg(not(miri))]
        fn the_purge_delay_is_ours_unless_the_environment_sets_it() {
            super::super::configure();
            // SAFETY: reading an option.
            let delay = unsafe { libmimalloc_sys::mi_option_get(super::super::MI_OPTION_PURGE_DELAY) };
            let from_env = std::env::var("MIMALLOC_PURGE_DELAY").or_else(|_| std::env::var("MIMALLOC_RESET_DELAY"));
            match from_env {
                Ok(v) => assert_eq!(delay.to_string(), v.trim()),
                Err(_) => assert_eq!(delay, super::super::PURGE_DELAY_MS),
            }
        }

        #[test]
        fn buffers_cross_the_system_allocator_threshold() {
            // Growing across the threshold moves the data between the two allocators.
            let mut v: Vec<u8> = Vec::with_capacity(16);
            v.extend_from_slice(b"backprop");
            v.reserve_exact(super::super::SYSTEM_THRESHOLD);
            assert_eq!(&v[..8], b"backprop");
            v.shrink_to(8);
            assert_eq!(v, b"backprop");
            let big = zeroed::<u8>(super::super::SYSTEM_THRESHOLD + 1, &[1], "t").unwrap();
            assert!(big.iter().step_by(4096).all(|&b| b == 0));
        }

        #[test]
        #[cfg(all(target_os = "linux", not(miri)))]
        fn large_buffers_are_advised_to_use_huge_pages() {
            // The mapping holding a large buffer carries the `hg` (MADV_HUGEPAGE) flag.
            let big = zeroed::<f32>(8 << 20, &[8 << 20], "t").unwrap();
            let addr = big.as_ptr() as usize + (4 << 20);
            let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
            let mut inside = false;
            let mut flags = None;
            for line in smaps.lines() {
                if let Some((range, _)) = line.split_once(' ') {
                    if let Some((lo, hi)) = range.split_once('-') {
                        if let (Ok(lo), Ok(hi)) = (usize::from_str_radix(lo, 16), usize::from_str_radix(hi, 16)) {
                            inside = lo <= addr && addr < hi;
                            continue;
                        }
                    }
                }
                if inside && line.starts_with("VmFlags:") {
                    flags = Some(line.to_string());
                }
            }
            let flags = flags.expect("the buffer's mapping is in /proc/self/smaps");
            assert!(flags.split_whitespace().any(|f| f == "hg"), "{flags}");
        }

        #[test]
        fn buffers_have_the_requested_contents() {
            assert_eq!(zeroed::<f64>(3, &[3], "t").unwrap(), vec![0.0; 3]);
            assert_eq!(zeroed::<bool>(0, &[0], "t").unwrap(), Vec::<bool>::new());
            assert_eq!(filled(7i64, 2, &[2], "t").unwrap(), vec![7, 7]);
            assert!(with_capacity::<u8>(10, &[10], "t").unwrap().capacity() >= 10);
        }
    }
}
