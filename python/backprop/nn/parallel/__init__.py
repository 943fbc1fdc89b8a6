"""Data parallelism: `DistributedDataParallel` (over `backprop.distributed`)."""

from backprop.nn.parallel.distributed import DistributedDataParallel

__all__ = ["DistributedDataParallel"]
