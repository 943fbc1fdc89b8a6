"""Data sets: `Dataset` and `IterableDataset`, `TensorDataset`, `ConcatDataset`, `ChainDataset`,
`StackDataset`, `Subset` and `random_split`.

A data set is anything with `__len__` and `__getitem__(i)`. Data sets that can fetch many
samples at once also define `__getitems__(indices)`, taking an int64 index tensor or a
slice and returning the whole batch; `DataLoader` then builds each batch with one call
instead of one Python call per sample.
"""

from typing import Any, Iterator

import bisect
import math
import warnings

from backprop._core import Tensor
from backprop.data._random import resolve


class Dataset:
    """Base class for map-style data sets: override `__getitem__` and `__len__`.
    `a + b` is `ConcatDataset([a, b])`."""

    def __getitem__(self, index: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self) -> int:
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")

    def __add__(self, other):
        return ConcatDataset([self, other])


class IterableDataset(Dataset):
    """Base class for data sets that are streams: override `__iter__`.

    With `num_workers > 0` every worker process iterates its own copy of the data set, so
    `__iter__` should use `backprop.data.get_worker_info()` to yield only its share (each
    worker's `id` of `num_workers`); otherwise every sample arrives once per worker.
    `a + b` is `ChainDataset([a, b])`."""

    def __iter__(self) -> Iterator[Any]:
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")

    def __getitem__(self, index: Any) -> Any:
        raise TypeError(f"{type(self).__name__} is an IterableDataset: iterate over it instead of indexing it")

    def __add__(self, other):
        return ChainDataset([self, other])


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: `dataset[i] == (t[i] for t in tensors)`."""

    def __init__(self, *tensors) -> None:
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        for t in tensors:
            if not isinstance(t, Tensor):
                raise TypeError(f"TensorDataset: expected tensors, got {type(t).__name__}")
            if t.dim() == 0:
                raise ValueError("TensorDataset: tensors need a first (sample) dimension; got a 0-dim tensor")
        n = tensors[0].shape[0]
        if any(t.shape[0] != n for t in tensors):
            sizes = ", ".join(str(t.shape[0]) for t in tensors)
            raise ValueError(f"TensorDataset: size mismatch between tensors (first dimensions {sizes}); they must be equal")
        self.tensors = tensors

    def __getitem__(self, index: Any) -> Any:
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices):
        # One indexing op per tensor: a view for a slice, a gather for an index tensor.
        return tuple(t[indices] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]


class ConcatDataset(Dataset):
    """The samples of several map-style data sets, one after the other."""

    def __init__(self, datasets) -> None:
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        for d in self.datasets:
            if isinstance(d, IterableDataset):
                raise TypeError("ConcatDataset does not support IterableDataset; use ChainDataset for streams")
        self.cumulative_sizes = []
        total = 0
        for d in self.datasets:
            total += len(d)
            self.cumulative_sizes.append(total)

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index: Any) -> Any:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"ConcatDataset: index {index} is out of range for {n} samples")
        which = bisect.bisect_right(self.cumulative_sizes, index)
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]


class ChainDataset(IterableDataset):
    """The samples of several iterable data sets, one stream after the other."""

    def __init__(self, datasets) -> None:
        self.datasets = datasets

    def __iter__(self) -> Iterator[Any]:
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            yield from d

    def __len__(self) -> int:
        total = 0
        for d in self.datasets:
            if not isinstance(d, IterableDataset):
                raise TypeError(f"ChainDataset only supports IterableDataset, got {type(d).__name__}")
            total += len(d)
        return total


class StackDataset(Dataset):
    """Samples zipped from equally long data sets: `StackDataset(a, b)[i] == (a[i], b[i])`,
    `StackDataset(x=a, y=b)[i] == {"x": a[i], "y": b[i]}`."""

    def __init__(self, *args, **kwargs) -> None:
        if args and kwargs:
            raise ValueError("StackDataset: pass the data sets either as positional arguments (tuple samples) or as keywords (dict samples), not both")
        datasets = args or kwargs
        if not datasets:
            raise ValueError("StackDataset: at least one data set is required")
        sizes = [len(d) for d in (args or kwargs.values())]
        if any(s != sizes[0] for s in sizes):
            raise ValueError(f"StackDataset: size mismatch between datasets (lengths {sizes}); they must be equal")
        self._length = sizes[0]
        self.datasets = datasets

    def __getitem__(self, index: Any) -> Any:
        if isinstance(self.datasets, dict):
            return {k: d[index] for k, d in self.datasets.items()}
        return tuple(d[index] for d in self.datasets)

    def __len__(self) -> int:
        return self._length


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset, indices) -> None:
        self.dataset = dataset
        self.indices = indices if isinstance(indices, Tensor) else _index_tensor(list(indices))

    def __getitem__(self, index: Any) -> Any:
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        inner = self.indices[indices]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(inner)
        from backprop.data.collate import default_collate

        return default_collate([self.dataset[int(i)] for i in inner.tolist()])

    def __len__(self) -> int:
        return len(self.indices)


def _index_tensor(values):
    from backprop import int64, tensor

    return tensor(values, dtype=int64)


def random_split(dataset, lengths, generator=None, seed=None):
    """Splits `dataset` into non-overlapping `Subset`s of the given lengths, or of the given
    fractions of its length when they sum to 1 (the samples left over by rounding down go
    one each to the first splits, as in PyTorch). The order comes from `generator`
    (see `backprop.data._random`; `seed=` is the same as an int generator)."""
    if generator is not None and seed is not None:
        raise ValueError("random_split: pass either generator or seed, not both")
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is not between 0 and 1")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.", stacklevel=2)
    else:
        sizes = []
        for x in lengths:
            if isinstance(x, bool) or int(x) != x or x < 0:
                raise ValueError(f"random_split: lengths must be non-negative integers or fractions summing to 1, got {lengths}")
            sizes.append(int(x))
    if sum(sizes) != n:
        raise ValueError(f"random_split: the lengths {lengths} do not add up to the data set's {n} samples")
    perm = _permutation(n, resolve(seed if seed is not None else generator, "random_split"))
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start : start + size]))
        start += size
    return out


def _permutation(n, resolved):
    """A random permutation of range(n) as an int64 tensor, drawn from `resolved` (a NumPy
    generator) or, when it is None, from backprop's global generator."""
    from backprop import from_numpy, randperm

    if resolved is None:
        return randperm(n)
    import numpy as np

    return from_numpy(np.ascontiguousarray(resolved.permutation(n), dtype=np.int64))
