"""`DataLoader`: batches (optionally shuffled) from a data set.

For data sets with `__getitems__` (TensorDataset, the MNIST sets) a batch is one indexing
operation on whole tensors: a slice view when reading in order, a gather by an index tensor
when shuffled. Other data sets are read one sample at a time and collated.
"""

import math
import numbers

from backprop._core import Tensor
from backprop.data.dataset import _numpy_rng, _permutation


def default_collate(samples):
    """Stacks a list of samples into a batch: tensors are stacked along a new first dim,
    numbers become a tensor, tuples/lists/dicts are collated field by field."""
    from backprop import stack, tensor

    first = samples[0]
    if isinstance(first, Tensor):
        return stack(samples)
    if isinstance(first, numbers.Number):
        return tensor(samples)
    if hasattr(first, "__array__") and not isinstance(first, (str, bytes)):
        import numpy as np

        return tensor(np.stack([np.asarray(s) for s in samples]))
    if isinstance(first, dict):
        return {k: default_collate([s[k] for s in samples]) for k in first}
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("default_collate: samples in a batch must have the same number of fields")
        fields = [default_collate(list(field)) for field in zip(*samples)]
        return tuple(fields) if isinstance(first, tuple) else fields
    raise TypeError(f"default_collate: don't know how to batch samples of type {type(first).__name__}")


class DataLoader:
    """Iterates over `dataset` in batches of `batch_size`.

    shuffle: a new random order every epoch, drawn from `generator` (a NumPy `Generator`),
        from a private stream seeded by `seed`, or else from backprop's global generator
        (`bp.manual_seed` makes it reproducible).
    drop_last: skip the last batch when it would be smaller than `batch_size`.
    collate_fn: how per-sample data sets' samples become a batch (`default_collate`).
    """

    def __init__(self, dataset, batch_size=1, shuffle=False, drop_last=False, generator=None, seed=None, collate_fn=None):
        if batch_size is None or int(batch_size) < 1:
            raise ValueError(f"DataLoader: batch_size must be a positive integer, got {batch_size!r}")
        if generator is not None and seed is not None:
            raise ValueError("DataLoader: pass either generator or seed, not both")
        n = len(dataset)
        if n == 0:
            raise ValueError(f"DataLoader: the data set ({type(dataset).__name__}) is empty; there are no samples to load")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = shuffle
        self.drop_last = drop_last
        self.generator = _numpy_rng(seed) if seed is not None else generator
        self.collate_fn = collate_fn
        self._batched = collate_fn is None and hasattr(dataset, "__getitems__")

    def __len__(self):
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        bs = self.batch_size
        stop = n - n % bs if self.drop_last else n
        order = _permutation(n, self.generator) if self.shuffle else None
        for start in range(0, stop, bs):
            end = min(start + bs, n)
            if self._batched:
                yield self.dataset.__getitems__(slice(start, end) if order is None else order[start:end])
            else:
                indices = range(start, end) if order is None else order[start:end].tolist()
                yield (self.collate_fn or default_collate)([self.dataset[i] for i in indices])
