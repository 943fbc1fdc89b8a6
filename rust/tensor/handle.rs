//! `Tensor`: a cheap handle (one `Arc`) to storage, layout, dtype and autograd metadata.

use super::dtype::DType;
use super::layout::{Dims, Layout};
use super::storage::{CpuStorage, Device, IntoStorageVec, SharedStorage, Storage, StorageRef};
use crate::autograd::{GradFn, Hook};
use crate::error::{autograd_err, Error, Result, ShapeDisplay};
use crate::engine_cell::EngineCell;
use std::cell::RefMut;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;

#[derive(Clone)]
pub struct Tensor(triomphe::Arc<TensorImpl>);

pub struct TensorImpl {
    storage: StorageRef,
    layout: Layout,
    dtype: DType,
    /// A Python number turned into a 0-dim tensor: it votes last in type promotion.
    wrapped_number: bool,
    autograd: EngineCell<AutogradMeta>,
    owner: OwnerSlot,
}

/// Where a non-leaf that called `retain_grad()` keeps its gradient. The node hook that fills
/// it holds the slot, not the tensor: holding the tensor would be a cycle through the
/// tensor's own graph node.
pub type GradSlot = Arc<EngineCell<Option<Tensor>>>;

/// Autograd state. A leaf has no `grad_fn` and may require grad; a non-leaf requires grad
/// exactly when it has a `grad_fn`.
#[derive(Default)]
pub struct AutogradMeta {
    pub requires_grad: bool,
    /// Set on views of tensors that require grad: in-place ops on them are refused, because
    /// the view's base would silently miss the change in its history.
    pub is_view_of_differentiable: bool,
    pub grad_fn: Option<GradFn>,
    pub grad: Option<Tensor>,
    /// What few tensors have (hooks, `retain_grad`'s slot), boxed so that every other tensor's
    /// state stays small and is made and dropped without touching it.
    pub rare: Option<Box<RareMeta>>,
}

#[derive(Default)]
pub struct RareMeta {
    /// Hooks of a leaf, run on its gradient before accumulation (non-leaf hooks live on the node).
    pub hooks: Vec<(u64, Hook)>,
    /// Hooks of a leaf run after its `.grad` got this backward's gradient (`autograd::post_accumulate`).
    pub post_accumulate_hooks: Vec<(u64, Hook)>,
    /// Set by `retain_grad()` on a non-leaf: where its gradient is kept (see `GradSlot`).
    pub retained: Option<GradSlot>,
}

impl AutogradMeta {
    #[inline]
    pub fn hooks(&self) -> &[(u64, Hook)] {
        self.rare.as_ref().map_or(&[], |r| &r.hooks)
    }

    #[inline]
    pub fn post_accumulate_hooks(&self) -> &[(u64, Hook)] {
        self.rare.as_ref().map_or(&[], |r| &r.post_accumulate_hooks)
    }

    #[inline]
    pub fn retained(&self) -> Option<&GradSlot> {
        self.rare.as_ref()?.retained.as_ref()
    }

    /// The rare part, made on first use.
    pub fn rare_mut(&mut self) -> &mut RareMeta {
        self.rare.get_or_insert_with(Default::default)
    }
}

/// Which object of the binding wraps this tensor, so that walking the graph hands that same
/// object back (`AccumulateGrad.variable is leaf`): an address the binding sets and clears
/// (python/leaf_owner.rs), zero when none. Outside `AutogradMeta`'s cell on purpose: the
/// binding clears it while that cell may be borrowed (an object dying inside a borrow).
pub type OwnerSlot = AtomicUsize;

impl Tensor {
    #[inline]
    fn from_parts(storage: StorageRef, layout: Layout, dtype: DType, meta: AutogradMeta) -> Tensor {
        Tensor(triomphe::Arc::new(TensorImpl {
            storage,
            layout,
            dtype,
            wrapped_number: false,
            autograd: EngineCell::new(meta),
            owner: AtomicUsize::new(0),
        }))
    }

    /// A Python number turned into a 0-dim tensor over `storage` (one element of `dtype`,
    /// on any device; `backend::wrapped_number` makes one from a value): it votes last in
    /// type promotion.
    pub fn wrapped_number(storage: StorageRef, dtype: DType) -> Tensor {
        debug_assert!(storage.storage.len() >= 1 && storage.storage.dtype() == dtype);
        Tensor(triomphe::Arc::new(TensorImpl {
            storage,
            layout: Layout::scalar(),
            dtype,
            wrapped_number: true,
            autograd: EngineCell::new(AutogradMeta::default()),
            owner: AtomicUsize::new(0),
        }))
    }

    #[inline]
    pub fn is_wrapped_number(&self) -> bool {
        self.0.wrapped_number
    }

    /// A fresh tensor owning `storage`, laid out row-major as `shape`.
    #[inline]
    pub fn from_storage(storage: Storage, shape: &[usize]) -> Tensor {
        let dtype = storage.dtype();
        debug_assert!(storage.len() >= super::layout::numel(shape));
        Self::from_parts(StorageRef::new(SharedStorage::new(storage)), Layout::contiguous(shape), dtype, AutogradMeta::default())
    }

    pub fn from_vec<T: IntoStorageVec>(data: Vec<T>, shape: &[usize]) -> Result<Tensor> {
        if data.len() != super::layout::numel(shape) {
            return Err(Error::Shape(format!(
                "tensor: {} values cannot fill a tensor of shape {}",
                data.len(),
                ShapeDisplay(shape)
            )));
        }
        Ok(Self::from_storage(Storage::Cpu(CpuStorage::from_vec(data)), shape))
    }

    /// A 0-dim CPU tensor holding `value` converted to `dtype`.
    #[inline]
    pub fn scalar(value: f64, dtype: DType) -> Tensor {
        Self::from_storage(Storage::Cpu(CpuStorage::scalar(value, dtype)), &[])
    }

    /// A view of this tensor's storage with another layout. Autograd metadata is not
    /// carried over: view ops record their own graph node.
    ///
    /// Checked in every build: kernels index storage through layouts without bounds checks
    /// (`unsafe` fast paths), so a layout that reaches past the storage must never exist.
    pub fn with_layout(&self, layout: Layout) -> Result<Tensor> {
        let len = self.0.storage.storage.len();
        match layout.checked_extent() {
            Some(extent) if extent <= len => {}
            extent => {
                return Err(Error::Shape(format!(
                    "view: a layout of shape {}, strides {:?} and offset {} reaches element {} of a storage of {len} elements",
                    ShapeDisplay(layout.shape()),
                    layout.strides(),
                    layout.offset(),
                    extent.map_or_else(|| "beyond usize::MAX".to_string(), |e| e.saturating_sub(1).to_string()),
                )))
            }
        }
        Ok(Self::from_parts(self.0.storage.clone(), layout, self.0.dtype, AutogradMeta::default()))
    }

    /// A tensor over `data`'s storage, layout and dtype that takes over this one's autograd
    /// state (requires_grad, grad, grad_fn, hooks), which this one loses: how `param.data =
    /// other` changes a parameter's device, dtype or shape while it stays the same parameter.
    pub fn rebound_to(&self, data: &Tensor) -> Result<Tensor> {
        if self.requires_grad() && !data.dtype().is_float() {
            return Err(Error::Autograd(format!(
                "data: this tensor requires grad, so it cannot hold {} values (only floating point tensors can require gradients); assign a floating point tensor, or call requires_grad_(False) first",
                data.dtype().name()
            )));
        }
        let meta = std::mem::take(&mut *self.meta());
        Ok(Self::from_parts(data.0.storage.clone(), data.0.layout.clone(), data.0.dtype, meta))
    }

    /// See `OwnerSlot`.
    #[inline]
    pub fn owner(&self) -> &OwnerSlot {
        &self.0.owner
    }

    /// The same data, no autograd history (shares storage and version counter).
    pub fn detach(&self) -> Tensor {
        Self::from_parts(self.0.storage.clone(), self.0.layout.clone(), self.0.dtype, AutogradMeta::default())
    }

    #[inline]
    pub fn layout(&self) -> &Layout {
        &self.0.layout
    }
    #[inline]
    pub fn shape(&self) -> &[usize] {
        self.0.layout.shape()
    }
    #[inline]
    pub fn dims(&self) -> Dims {
        crate::tensor::layout::dims_of(self.0.layout.shape())
    }
    #[inline]
    pub fn ndim(&self) -> usize {
        self.0.layout.ndim()
    }
    #[inline]
    pub fn numel(&self) -> usize {
        self.0.layout.numel()
    }
    #[inline]
    pub fn dtype(&self) -> DType {
        self.0.dtype
    }
    #[inline]
    pub fn device(&self) -> Device {
        self.0.storage.storage.device()
    }
    #[inline]
    pub fn storage(&self) -> &StorageRef {
        &self.0.storage
    }
    #[inline]
    pub fn is_contiguous(&self) -> bool {
        self.0.layout.is_contiguous()
    }
    pub fn version(&self) -> u64 {
        self.0.storage.version()
    }
    /// Identity of this handle (two Python objects may share one).
    pub fn id(&self) -> usize {
        triomphe::Arc::as_ptr(&self.0) as usize
    }
    pub fn same_handle(&self, other: &Tensor) -> bool {
        triomphe::Arc::ptr_eq(&self.0, &other.0)
    }
    pub fn shares_storage(&self, other: &Tensor) -> bool {
        StorageRef::ptr_eq(&self.0.storage, &other.0.storage)
    }

    /// The CPU memory of this tensor, or a device error naming `op`.
    pub fn cpu_storage(&self, op: &str) -> Result<&CpuStorage> {
        match &self.0.storage.storage {
            Storage::Cpu(s) => Ok(s),
            #[allow(unreachable_patterns)]
            _ => Err(Error::Device(format!("{op}: expected a CPU tensor, got one on {}", self.device().name()))),
        }
    }

    // ---- autograd metadata -------------------------------------------------------------

    pub fn meta(&self) -> RefMut<'_, AutogradMeta> {
        self.0.autograd.borrow_mut()
    }

    #[inline]
    pub fn requires_grad(&self) -> bool {
        let m = self.0.autograd.borrow_mut();
        m.requires_grad || m.grad_fn.is_some()
    }

    pub fn grad_fn(&self) -> Option<GradFn> {
        self.0.autograd.borrow_mut().grad_fn.clone()
    }

    pub fn is_leaf(&self) -> bool {
        self.0.autograd.borrow_mut().grad_fn.is_none()
    }

    pub fn grad(&self) -> Option<Tensor> {
        let m = self.0.autograd.borrow_mut();
        match m.retained() {
            Some(slot) => slot.borrow_mut().clone(),
            None => m.grad.clone(),
        }
    }

    pub fn set_grad(&self, grad: Option<Tensor>) {
        let mut m = self.0.autograd.borrow_mut();
        let old = match m.retained() {
            Some(slot) => std::mem::replace(&mut *slot.borrow_mut(), grad),
            None => std::mem::replace(&mut m.grad, grad),
        };
        drop(m);
        drop(old); // outside the borrow: see `EngineCell` on drops that reach Python
    }

    /// Makes this non-leaf keep its gradient in a slot; `None` if it already does.
    pub fn retain_grad_slot(&self) -> Option<GradSlot> {
        let mut m = self.0.autograd.borrow_mut();
        if m.retained().is_some() {
            return None;
        }
        let slot = GradSlot::default();
        m.rare_mut().retained = Some(slot.clone());
        Some(slot)
    }

    /// Attaches the node that produced this (fresh) tensor.
    pub fn set_grad_fn(&self, grad_fn: Option<GradFn>) {
        let old = std::mem::replace(&mut self.0.autograd.borrow_mut().grad_fn, grad_fn);
        drop(old); // outside the borrow: see `EngineCell` on drops that reach Python
    }

    /// `requires_grad_()`: only leaves, and only float tensors, may require grad.
    pub fn set_requires_grad(&self, requires_grad: bool) -> Result<()> {
        if requires_grad && !self.dtype().is_float() {
            return Err(Error::Autograd(format!(
                "only tensors of floating point dtype can require gradients, this one is {}; convert it first with .float()",
                self.dtype().name()
            )));
        }
        let mut m = self.0.autograd.borrow_mut();
        if m.grad_fn.is_some() {
            if requires_grad {
                return Ok(());
            }
            return Err(autograd_err!(
                "you can only change requires_grad flags of leaf tensors; this tensor was produced by {}. \
                 Use .detach() to get a tensor that does not require grad",
                m.grad_fn.as_ref().map(|g| g.node.name()).unwrap_or_default()
            ));
        }
        m.requires_grad = requires_grad;
        Ok(())
    }

    pub(crate) fn mark_view_of_differentiable(&self) {
        self.0.autograd.borrow_mut().is_view_of_differentiable = true;
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Tensor({} {} {})", self.dtype().name(), ShapeDisplay(self.shape()), self.device().name())
    }
}

impl Tensor {
    /// When this is the last handle to the tensor, takes its grad_fn out (so the caller can
    /// drop the graph iteratively); otherwise leaves it alone.
    pub(crate) fn take_grad_fn_if_unique(mut self) -> Option<GradFn> {
        // A plain load first: `get_mut` costs an atomic read-modify-write even when shared.
        if triomphe::Arc::count(&self.0) != 1 {
            return None;
        }
        triomphe::Arc::get_mut(&mut self.0).and_then(|inner| inner.autograd.get_mut().grad_fn.take())
    }

    /// Whether no other handle, view or saved reference shares this tensor's memory.
    pub(crate) fn is_exclusive(&self) -> bool {
        triomphe::Arc::count(&self.0) == 1 && StorageRef::count(&self.0.storage) == 1
    }
}

/// A tensor's data without a handle of its own: what a graph node keeps of its outputs for
/// inspection (a handle would cost an allocation, and its grad_fn would form a cycle).
#[derive(Clone)]
pub struct TensorData {
    storage: StorageRef,
    layout: Layout,
    dtype: DType,
}

impl TensorData {
    /// A fresh handle (no autograd history) over the data.
    pub fn to_tensor(&self) -> Tensor {
        Tensor::from_parts(self.storage.clone(), self.layout.clone(), self.dtype, AutogradMeta::default())
    }
}

impl Tensor {
    pub fn data(&self) -> TensorData {
        TensorData { storage: self.0.storage.clone(), layout: self.0.layout.clone(), dtype: self.0.dtype }
    }
}
