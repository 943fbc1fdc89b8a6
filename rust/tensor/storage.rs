//! Device memory behind tensors. `Storage` is the device enum every kernel dispatch matches on;
//! `SharedStorage` is what views share: the memory plus the version counter that in-place ops
//! bump and that saved tensors check.
//!
//! Aliasing contract: tensor memory is read and written through raw pointers, as in NumPy and
//! PyTorch. Writes happen only in in-place ops and in kernels filling a fresh output; callers
//! reach the engine with Python's GIL held, which serialises them. In-place ops whose source
//! and destination share memory copy the source first (see `ops::inplace`).

use super::dtype::{DType, Element};
use std::any::Any;
use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Clone, Copy, PartialEq, Eq, Debug, Hash)]
pub enum Device {
    Cpu,
    Gpu,
}

impl Device {
    pub fn name(self) -> &'static str {
        match self {
            Device::Cpu => "cpu",
            Device::Gpu => "gpu",
        }
    }
}

/// What keeps CPU memory alive: a Vec the engine allocated, or a foreign owner (a NumPy
/// array shared by `from_numpy`), which only `python` knows how to release. Never read:
/// it exists to be dropped with the storage.
#[allow(dead_code)]
enum Owner {
    /// Up to 16 bytes held in place: scalars cost no separate allocation.
    Inline(std::cell::UnsafeCell<[u64; 2]>),
    F32(Vec<f32>),
    F64(Vec<f64>),
    I64(Vec<i64>),
    Bool(Vec<bool>),
    U8(Vec<u8>),
    I8(Vec<i8>),
    I16(Vec<i16>),
    I32(Vec<i32>),
    F16(Vec<super::dtype::F16>),
    BF16(Vec<super::dtype::BF16>),
    Foreign(Box<dyn Any + Send + Sync>),
}

pub struct CpuStorage {
    /// Base pointer of heap memory (unused for inline storage, whose address is its own).
    ptr: *mut u8,
    len: usize,
    dtype: DType,
    _owner: Owner,
}

// SAFETY: the memory is owned by `_owner` (Send + Sync); access follows the module's contract.
unsafe impl Send for CpuStorage {}
unsafe impl Sync for CpuStorage {}

/// Typed vectors that can become CPU storage without a copy.
pub trait IntoStorageVec: Element {
    fn into_owner(v: Vec<Self>) -> (*mut u8, usize, OwnerToken);
}

/// Opaque wrapper so `IntoStorageVec` can hand an `Owner` across modules.
pub struct OwnerToken(Owner);

macro_rules! impl_into_storage {
    ($t:ty, $variant:ident) => {
        impl IntoStorageVec for $t {
            fn into_owner(mut v: Vec<$t>) -> (*mut u8, usize, OwnerToken) {
                let ptr = v.as_mut_ptr() as *mut u8;
                let len = v.len();
                (ptr, len, OwnerToken(Owner::$variant(v)))
            }
        }
    };
}
impl_into_storage!(f32, F32);
impl_into_storage!(f64, F64);
impl_into_storage!(i64, I64);
impl_into_storage!(bool, Bool);
impl_into_storage!(u8, U8);
impl_into_storage!(i8, I8);
impl_into_storage!(i16, I16);
impl_into_storage!(i32, I32);
impl_into_storage!(super::dtype::F16, F16);
impl_into_storage!(super::dtype::BF16, BF16);

impl CpuStorage {
    pub fn from_vec<T: IntoStorageVec>(v: Vec<T>) -> CpuStorage {
        let (ptr, len, OwnerToken(owner)) = T::into_owner(v);
        CpuStorage { ptr, len, dtype: T::DTYPE, _owner: owner }
    }

    /// One element holding `value` converted to `dtype`.
    #[inline]
    pub fn scalar(value: f64, dtype: DType) -> CpuStorage {
        crate::with_dtype!(dtype, T => Self::inline(T::from_f64(value)))
    }

    /// One element stored in place (no heap allocation for the data).
    #[inline]
    pub fn inline<T: Element>(value: T) -> CpuStorage {
        let mut words = [0u64; 2];
        // SAFETY: every element type is at most 8 bytes and the buffer is 8-aligned.
        unsafe { (words.as_mut_ptr() as *mut T).write(value) };
        CpuStorage { ptr: std::ptr::null_mut(), len: 1, dtype: T::DTYPE, _owner: Owner::Inline(std::cell::UnsafeCell::new(words)) }
    }

    /// Zero-filled memory for `len` elements of `dtype`.
    pub fn zeros(dtype: DType, len: usize) -> CpuStorage {
        crate::with_dtype!(dtype, T => Self::from_vec(vec![T::default(); len]))
    }

    /// Wraps memory owned by someone else.
    ///
    /// # Safety
    /// `ptr` must point to `len` properly aligned, initialised elements of `dtype` that stay
    /// valid for as long as `owner` lives; bool memory must hold only 0 or 1.
    pub unsafe fn from_foreign(ptr: *mut u8, len: usize, dtype: DType, owner: Box<dyn Any + Send + Sync>) -> CpuStorage {
        CpuStorage { ptr, len, dtype, _owner: Owner::Foreign(owner) }
    }

    #[inline]
    pub fn len(&self) -> usize {
        self.len
    }
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
    #[inline]
    pub fn dtype(&self) -> DType {
        self.dtype
    }
    #[inline]
    pub fn as_ptr(&self) -> *mut u8 {
        match &self._owner {
            // Storage lives behind an Arc and never moves, so this address is stable.
            Owner::Inline(cell) => cell.get() as *mut u8,
            _ => self.ptr,
        }
    }

    #[inline]
    pub fn as_slice<T: Element>(&self) -> &[T] {
        assert_eq!(T::DTYPE, self.dtype, "storage dtype mismatch");
        if self.len == 0 {
            return &[];
        }
        // SAFETY: ptr/len describe initialised elements of T (checked dtype), kept alive by _owner.
        unsafe { std::slice::from_raw_parts(self.as_ptr() as *const T, self.len) }
    }

    /// Mutable access to the elements.
    ///
    /// # Safety
    /// The caller must be the only one reading or writing these elements for the lifetime of
    /// the slice (see the module's aliasing contract).
    #[inline]
    #[allow(clippy::mut_from_ref)]
    pub unsafe fn as_mut_slice<T: Element>(&self) -> &mut [T] {
        assert_eq!(T::DTYPE, self.dtype, "storage dtype mismatch");
        if self.len == 0 {
            return &mut [];
        }
        std::slice::from_raw_parts_mut(self.as_ptr() as *mut T, self.len)
    }
}

/// Device memory. Each op's dispatch matches on this enum.
pub enum Storage {
    Cpu(CpuStorage),
    Gpu(crate::gpu::GpuStorage),
}

impl Storage {
    pub fn device(&self) -> Device {
        match self {
            Storage::Cpu(_) => Device::Cpu,
            Storage::Gpu(_) => Device::Gpu,
        }
    }
    pub fn dtype(&self) -> DType {
        match self {
            Storage::Cpu(s) => s.dtype(),
            Storage::Gpu(s) => s.dtype(),
        }
    }
    pub fn len(&self) -> usize {
        match self {
            Storage::Cpu(s) => s.len(),
            Storage::Gpu(s) => s.len(),
        }
    }
}

/// A shared handle to storage. No weak references are needed, and without them the last
/// release is one atomic operation instead of two.
pub type StorageRef = triomphe::Arc<SharedStorage>;

/// Storage plus the version counter shared by all views of it.
pub struct SharedStorage {
    pub storage: Storage,
    version: AtomicU64,
}

impl SharedStorage {
    #[inline]
    pub fn new(storage: Storage) -> SharedStorage {
        SharedStorage { storage, version: AtomicU64::new(0) }
    }
    #[inline]
    pub fn version(&self) -> u64 {
        self.version.load(Ordering::Relaxed)
    }
    /// A load and a store rather than an atomic add: writers hold the GIL (module docs), and a
    /// read-modify-write would cost ~5 ns on every in-place op and gradient accumulation.
    #[inline]
    pub fn bump_version(&self) {
        self.version.store(self.version.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
    }
}
