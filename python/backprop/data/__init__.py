"""Data loading with PyTorch's `torch.utils.data` interface: data sets, samplers, `DataLoader`
(with worker processes), collation; the IDX reader, data sets and transforms
(`backprop.data.datasets`, `backprop.data.transforms`). `backprop.utils.data` is the same
package under PyTorch's name."""

from backprop.data import datasets, transforms
from backprop.data.collate import default_collate, default_convert
from backprop.data.dataloader import DataLoader
from backprop.data.dataset import (
    ChainDataset,
    ConcatDataset,
    Dataset,
    IterableDataset,
    StackDataset,
    Subset,
    TensorDataset,
    random_split,
)
from backprop.data.idx import IDXError, read_idx, write_idx
from backprop.data.sampler import (
    BatchSampler,
    RandomSampler,
    Sampler,
    SequentialSampler,
    SubsetRandomSampler,
    WeightedRandomSampler,
)
from backprop.data.worker import WorkerInfo, get_worker_info

__all__ = [
    "BatchSampler",
    "ChainDataset",
    "ConcatDataset",
    "DataLoader",
    "Dataset",
    "IDXError",
    "IterableDataset",
    "RandomSampler",
    "Sampler",
    "SequentialSampler",
    "StackDataset",
    "Subset",
    "SubsetRandomSampler",
    "TensorDataset",
    "WeightedRandomSampler",
    "WorkerInfo",
    "datasets",
    "default_collate",
    "default_convert",
    "get_worker_info",
    "random_split",
    "read_idx",
    "transforms",
    "write_idx",
]
