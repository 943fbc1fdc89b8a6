"""`DistributedSampler`: each rank's share of a data set's indices, as PyTorch's.

Every rank builds the same (seeded) order of all indices, pads it by repeating its start so
each rank gets as many (or, with `drop_last`, drops the tail), and takes every
`num_replicas`-th index starting at its rank. `set_epoch(e)` reseeds the order with
`seed + e`, so each epoch is shuffled differently but identically on every rank.
"""

import math

import numpy as np

from backprop.data.sampler import _ArraySampler


class DistributedSampler(_ArraySampler):
    """Indices `rank, rank + num_replicas, ...` of a (shuffled) order of `dataset`.

    `num_replicas` and `rank` default to the world size and rank of the default process
    group. Call `set_epoch(epoch)` before each epoch when shuffling.

    Example::

        sampler = DistributedSampler(train_set)
        loader = DataLoader(train_set, batch_size=32, sampler=sampler)
        for epoch in range(epochs):
            sampler.set_epoch(epoch)
            for x, y in loader: ...
    """

    def __init__(self, dataset, num_replicas=None, rank=None, shuffle=True, seed=0, drop_last=False) -> None:
        if num_replicas is None or rank is None:
            from backprop import distributed as dist

            if not dist.is_available():
                raise RuntimeError("Requires distributed package to be available")
            if num_replicas is None:
                num_replicas = dist.get_world_size()
            if rank is None:
                rank = dist.get_rank()
        if not isinstance(num_replicas, int) or num_replicas < 1:
            raise ValueError(f"DistributedSampler: num_replicas must be a positive int, got {num_replicas!r}")
        if not isinstance(rank, int) or rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def _epoch_indices(self):
        n = len(self.dataset)
        if self.shuffle:
            indices = np.random.default_rng(self.seed + self.epoch).permutation(n)
        else:
            indices = np.arange(n)
        if not self.drop_last:
            padding = self.total_size - n
            if padding > 0:
                indices = np.concatenate([indices, np.resize(indices, padding)])  # repeats from the start
        else:
            indices = indices[: self.total_size]
        return indices[self.rank : self.total_size : self.num_replicas]

    def __len__(self):
        return self.num_samples

    def set_epoch(self, epoch):
        """Makes the next `__iter__` use the order of `epoch` (the same on every rank)."""
        self.epoch = epoch
