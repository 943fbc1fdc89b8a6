//! Tensors: typed, strided views over shared device storage, carrying autograd metadata.

mod dtype;
mod handle;
mod host;
mod layout;
mod storage;

pub use dtype::{result_type, DType, Element, Float, PromotionInput};
pub use handle::{Tensor, TensorData};
pub use layout::{broadcast_shapes, contiguous_strides, normalize_dim, numel, Dims, Layout};
pub use storage::{CpuStorage, Device, IntoStorageVec, SharedStorage, Storage, StorageRef};
