"""Data loading: `Dataset`, `TensorDataset`, `DataLoader`, the IDX reader, data sets and
transforms (`backprop.data.datasets`, `backprop.data.transforms`)."""

from backprop.data import datasets, transforms
from backprop.data.dataloader import DataLoader, default_collate
from backprop.data.dataset import Dataset, Subset, TensorDataset, random_split
from backprop.data.idx import IDXError, read_idx, write_idx

__all__ = [
    "DataLoader",
    "Dataset",
    "IDXError",
    "Subset",
    "TensorDataset",
    "datasets",
    "default_collate",
    "random_split",
    "read_idx",
    "transforms",
    "write_idx",
]
