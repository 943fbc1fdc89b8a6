"""Turning one entry of the loader's index stream into a batch; the same code runs in the main
process (`num_workers=0`) and in every worker process.

A map-style entry is an index (no auto-batching) or a batch of indices: a slice of the data
set (sequential order), a NumPy int64 array (the built-in random samplers) or a list (any
other batch sampler). A data set with `__getitems__` and no user `collate_fn` gets the
whole batch in one call (a slice, or an int64 index tensor); others are read one sample at a
time and collated. An iterable data set's entry is just a request for the next batch.
"""

import numpy as np

from backprop.data.collate import default_collate, default_convert


class MapFetcher:
    def __init__(self, dataset, auto_collation, collate_fn) -> None:
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.batched = collate_fn is None and auto_collation and hasattr(dataset, "__getitems__")
        self.collate_fn = collate_fn or (default_collate if auto_collation else default_convert)

    def fetch(self, index):
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        if self.batched:
            return self.dataset.__getitems__(_index_tensor(index))
        if isinstance(index, slice):
            index = range(index.start, index.stop)
        elif isinstance(index, np.ndarray):
            index = index.tolist()
        return self.collate_fn([self.dataset[i] for i in index])


class IterableFetcher:
    def __init__(self, dataset, auto_collation, collate_fn, batch_size, drop_last) -> None:
        self.iterator = iter(dataset)
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn or (default_collate if auto_collation else default_convert)
        self.batch_size = batch_size
        self.drop_last = drop_last

    def fetch(self, _index=None):
        """The next batch; StopIteration when the stream has no (full, with drop_last) batch left."""
        if not self.auto_collation:
            return self.collate_fn(next(self.iterator))
        batch = []
        for item in self.iterator:
            batch.append(item)
            if len(batch) == self.batch_size:
                break
        if not batch or (self.drop_last and len(batch) < self.batch_size):
            raise StopIteration
        return self.collate_fn(batch)


def _index_tensor(index):
    if isinstance(index, slice):
        return index
    from backprop import from_numpy

    return from_numpy(np.ascontiguousarray(index, dtype=np.int64))
