"""Data sets: the `Dataset` protocol, `TensorDataset`, `Subset` and `random_split`.

A data set is anything with `__len__` and `__getitem__(i)`. Data sets that can fetch many
samples at once also define `__getitems__(indices)`, taking an int64 index tensor or a
slice and returning the whole batch; `DataLoader` then builds each batch with one call
instead of one Python call per sample.
"""

from backprop._core import Tensor


class Dataset:
    """Base class for map-style data sets: override `__getitem__` and `__len__`."""

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__")


class TensorDataset(Dataset):
    """Samples are rows of the given tensors: `dataset[i] == (t[i] for t in tensors)`."""

    def __init__(self, *tensors):
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

    def __getitem__(self, index):
        return tuple(t[index] for t in self.tensors)

    def __getitems__(self, indices):
        # One indexing op per tensor: a view for a slice, a gather for an index tensor.
        return tuple(t[indices] for t in self.tensors)

    def __len__(self):
        return self.tensors[0].shape[0]


class Subset(Dataset):
    """The samples of `dataset` at `indices`."""

    def __init__(self, dataset, indices):
        self.dataset = dataset
        self.indices = indices if isinstance(indices, Tensor) else _index_tensor(list(indices))

    def __getitem__(self, index):
        return self.dataset[int(self.indices[index])]

    def __getitems__(self, indices):
        inner = self.indices[indices]
        if hasattr(self.dataset, "__getitems__"):
            return self.dataset.__getitems__(inner)
        from backprop.data.dataloader import default_collate

        return default_collate([self.dataset[int(i)] for i in inner.tolist()])

    def __len__(self):
        return len(self.indices)


def _index_tensor(values):
    from backprop import int64, tensor

    return tensor(values, dtype=int64)


def random_split(dataset, lengths, seed=None):
    """Splits `dataset` into non-overlapping `Subset`s of the given lengths (or fractions
    summing to 1), shuffled by `bp.randperm` (or by NumPy with `seed`)."""
    import math

    n = len(dataset)
    if all(isinstance(x, float) for x in lengths) and math.isclose(sum(lengths), 1.0):
        sizes = [int(math.floor(n * f)) for f in lengths]
        for i in range(n - sum(sizes)):
            sizes[i % len(sizes)] += 1
    else:
        sizes = [int(x) for x in lengths]
    if sum(sizes) != n:
        raise ValueError(f"random_split: the lengths {list(lengths)} do not add up to the data set's {n} samples")
    perm = _permutation(n, None if seed is None else _numpy_rng(seed))
    out, start = [], 0
    for size in sizes:
        out.append(Subset(dataset, perm[start : start + size]))
        start += size
    return out


def _numpy_rng(seed):
    import numpy as np

    return np.random.default_rng(seed)


def _permutation(n, generator):
    """A random permutation of range(n) as an int64 tensor."""
    from backprop import from_numpy, randperm

    if generator is None:
        return randperm(n)
    import numpy as np

    return from_numpy(np.ascontiguousarray(generator.permutation(n), dtype=np.int64))
