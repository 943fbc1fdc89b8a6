"""Samplers: the order in which a `DataLoader` visits a map-style data set's indices.

A sampler is an iterable of indices (`BatchSampler`: of lists of indices), as in PyTorch.
The built-in samplers also produce a whole epoch's indices at once as a NumPy array
(`_epoch_indices`), so the loader can cut batches by slicing instead of one Python step per
sample; a user's sampler only needs `__iter__` (and `__len__` for `len(loader)`).

Random samplers take `generator=` as described in `backprop.data._random`.
"""

import numbers

import numpy as np

from backprop.data._random import resolve, rng


class Sampler:
    """Base class: subclasses define `__iter__` (yielding indices) and usually `__len__`."""

    def __init__(self, data_source=None) -> None:
        pass

    def __iter__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __iter__")


class _ArraySampler(Sampler):
    """A sampler whose epoch is one NumPy array of indices."""

    def __iter__(self):
        return iter(self._epoch_indices().tolist())

    def _epoch_indices(self):
        raise NotImplementedError


class SequentialSampler(_ArraySampler):
    """0, 1, ..., len(data_source) - 1."""

    def __init__(self, data_source) -> None:
        self.data_source = data_source

    def _epoch_indices(self):
        return np.arange(len(self.data_source), dtype=np.int64)

    def __iter__(self):
        return iter(range(len(self.data_source)))

    def __len__(self):
        return len(self.data_source)


def _positive_int(value, name, who):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value <= 0:
        raise ValueError(f"{who}: {name} should be a positive integer value, but got {name}={value!r}")
    return int(value)


def _boolean(value, name, who, error=TypeError):
    if not isinstance(value, bool):
        raise error(f"{who}: {name} should be a boolean value, but got {name}={value!r}")
    return value


class RandomSampler(_ArraySampler):
    """A random order of the data set's indices: a fresh permutation per epoch, or, with
    `replacement=True`, `num_samples` independent uniform draws. Without replacement,
    `num_samples` larger than the data set repeats whole permutations (as PyTorch does)."""

    def __init__(self, data_source, replacement=False, num_samples=None, generator=None) -> None:
        self.data_source = data_source
        self.replacement = _boolean(replacement, "replacement", "RandomSampler")
        self._num_samples = num_samples
        self.generator = generator
        self._rng = resolve(generator, "RandomSampler")
        if num_samples is not None:
            _positive_int(num_samples, "num_samples", "RandomSampler")
        elif len(data_source) == 0:
            raise ValueError("RandomSampler: num_samples should be a positive integer value, but got num_samples=0 (the data set is empty)")

    @property
    def num_samples(self):
        """How many indices one epoch draws (the data set's length unless `num_samples` was given)."""
        return len(self.data_source) if self._num_samples is None else self._num_samples

    def _epoch_indices(self):
        n, k = len(self.data_source), self.num_samples
        g = rng(self._rng)
        if n == 0:
            raise ValueError(f"RandomSampler: cannot draw {k} samples from an empty data set")
        if self.replacement:
            return g.integers(0, n, size=k, dtype=np.int64)
        parts = [g.permutation(n) for _ in range(k // n)]
        if k % n:
            parts.append(g.permutation(n)[: k % n])
        return np.concatenate(parts).astype(np.int64, copy=False)

    def __len__(self):
        return self.num_samples


class SubsetRandomSampler(_ArraySampler):
    """The given `indices` in a random order, a new one per epoch."""

    def __init__(self, indices, generator=None) -> None:
        self.indices = indices
        self.generator = generator
        self._rng = resolve(generator, "SubsetRandomSampler")

    def _epoch_indices(self):
        idx = np.asarray(self.indices.tolist() if hasattr(self.indices, "tolist") else list(self.indices), dtype=np.int64)
        return idx[rng(self._rng).permutation(len(idx))]

    def __len__(self):
        return len(self.indices)


class WeightedRandomSampler(_ArraySampler):
    """`num_samples` indices in `0..len(weights)-1`, index `i` drawn with probability
    proportional to `weights[i]`; with `replacement=False` each index at most once."""

    def __init__(self, weights, num_samples, replacement=True, generator=None) -> None:
        self.num_samples = _positive_int(num_samples, "num_samples", "WeightedRandomSampler")
        self.replacement = _boolean(replacement, "replacement", "WeightedRandomSampler", ValueError)
        w = np.asarray(weights.tolist() if hasattr(weights, "tolist") else weights, dtype=np.float64)
        if w.ndim != 1:
            raise ValueError(f"WeightedRandomSampler: weights should be a 1d sequence but given weights have shape {tuple(w.shape)}")
        if w.size == 0 or not np.all(np.isfinite(w)) or np.any(w < 0) or w.sum() <= 0:
            raise RuntimeError("WeightedRandomSampler: the weights must be finite, non-negative and not all zero")
        if not self.replacement and self.num_samples > np.count_nonzero(w):
            raise RuntimeError(
                f"WeightedRandomSampler: cannot draw {self.num_samples} samples without replacement from "
                f"{np.count_nonzero(w)} non-zero weights; lower num_samples or pass replacement=True"
            )
        self.weights = w
        self.generator = generator
        self._rng = resolve(generator, "WeightedRandomSampler")

    def _epoch_indices(self):
        p = self.weights / self.weights.sum()
        return rng(self._rng).choice(len(p), size=self.num_samples, replace=self.replacement, p=p).astype(np.int64)

    def __len__(self):
        return self.num_samples


class BatchSampler(Sampler):
    """Groups the indices of `sampler` into lists of `batch_size` (the last one shorter,
    unless `drop_last`)."""

    def __init__(self, sampler, batch_size, drop_last) -> None:
        self.batch_size = _positive_int(batch_size, "batch_size", "BatchSampler")
        self.drop_last = _boolean(drop_last, "drop_last", "BatchSampler", ValueError)
        self.sampler = sampler

    def __iter__(self):
        for batch in self._batches():
            yield batch if isinstance(batch, list) else _as_list(batch)

    def _batches(self):
        """The batches as cheaply as they can be cut: slices of the data set for a
        sequential sampler, slices of one index array for the other built-in samplers,
        lists of indices for any other sampler."""
        bs = self.batch_size
        if isinstance(self.sampler, SequentialSampler):
            n = len(self.sampler)
            stop = n - n % bs if self.drop_last else n
            for start in range(0, stop, bs):
                yield slice(start, min(start + bs, n))
        elif isinstance(self.sampler, _ArraySampler):
            order = self.sampler._epoch_indices()
            n = len(order)
            stop = n - n % bs if self.drop_last else n
            for start in range(0, stop, bs):
                yield order[start : start + bs]
        else:
            batch = []
            for i in self.sampler:
                batch.append(i)
                if len(batch) == bs:
                    yield batch
                    batch = []
            if batch and not self.drop_last:
                yield batch

    def __len__(self):
        n = len(self.sampler)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)


def _as_list(batch):
    if isinstance(batch, slice):
        return list(range(batch.start, batch.stop))
    return batch.tolist()
