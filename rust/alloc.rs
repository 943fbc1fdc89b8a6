//! The global allocator: mimalloc, taking its fast unaligned path whenever the requested
//! alignment is one mimalloc guarantees anyway (16 bytes), which is nearly always.
//!
//! Requests of `SYSTEM_THRESHOLD` bytes or more go to the system allocator instead. mimalloc
//! maps its memory with `MAP_NORESERVE` wherever the kernel overcommits, so a request far
//! beyond RAM and swap "succeeds" and the process is killed when the pages are touched; the
//! system allocator's plain mapping lets the kernel refuse such a request up front, which the
//! fallible buffers below turn into a MemoryError. Buffers that large are rare and costly to
//! fill, so the slower path costs nothing measurable.

use libmimalloc_sys as mi;
use std::alloc::{GlobalAlloc, Layout, System};
use std::ffi::c_void;

/// mimalloc's guaranteed alignment for every allocation.
const MI_MAX_ALIGN_SIZE: usize = 16;

/// Allocations at least this large come from the system allocator (module docs).
const SYSTEM_THRESHOLD: usize = 1 << 30;

pub struct MiMalloc;

#[inline]
fn is_large(size: usize) -> bool {
    size >= SYSTEM_THRESHOLD
}

unsafe impl GlobalAlloc for MiMalloc {
    #[inline]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size()) {
            System.alloc(layout)
        } else if layout.align() <= MI_MAX_ALIGN_SIZE {
            mi::mi_malloc(layout.size()) as *mut u8
        } else {
            mi::mi_malloc_aligned(layout.size(), layout.align()) as *mut u8
        }
    }

    #[inline]
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        if is_large(layout.size()) {
            System.alloc_zeroed(layout)
        } else if layout.align() <= MI_MAX_ALIGN_SIZE {
            mi::mi_zalloc(layout.size()) as *mut u8
        } else {
            mi::mi_zalloc_aligned(layout.size(), layout.align()) as *mut u8
        }
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
            (false, false) if layout.align() <= MI_MAX_ALIGN_SIZE => mi::mi_realloc(ptr as *mut c_void, new_size) as *mut u8,
            (false, false) => mi::mi_realloc_aligned(ptr as *mut c_void, new_size, layout.align()) as *mut u8,
            (true, true) => System.realloc(ptr, layout, new_size),
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
        fn buffers_have_the_requested_contents() {
            assert_eq!(zeroed::<f64>(3, &[3], "t").unwrap(), vec![0.0; 3]);
            assert_eq!(zeroed::<bool>(0, &[0], "t").unwrap(), Vec::<bool>::new());
            assert_eq!(filled(7i64, 2, &[2], "t").unwrap(), vec![7, 7]);
            assert!(with_capacity::<u8>(10, &[10], "t").unwrap().capacity() >= 10);
        }
    }
}
