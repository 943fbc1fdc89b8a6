//! Tensors: typed, strided views over shared device storage, carrying autograd metadata.

mod dtype;
mod handle;
mod host;
mod layout;
mod storage;

pub use dtype::{can_cast, promote_types, result_type, Category, DType, Element, Float, PromotionInput, BF16, F16};
pub use handle::{Tensor, TensorData};
pub use layout::{broadcast_shapes, checked_add, checked_mul, checked_numel, contiguous_strides, normalize_dim, numel, Dims, Layout, MAX_NUMEL};
pub use storage::{CpuStorage, Device, IntoStorageVec, SharedStorage, Storage, StorageRef};
