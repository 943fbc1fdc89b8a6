"""``torch.cuda`` look-alikes for ported scripts: "cuda" means backprop's GPU (any vendor,
through wgpu), so ``backprop.cuda.is_available()`` is true when a GPU adapter exists."""

from backprop.gpu import device_count, empty_cache, is_available, synchronize

__all__ = ["is_available", "device_count", "synchronize", "empty_cache", "manual_seed", "manual_seed_all"]


def manual_seed(seed):
    """Seeds GPU sampling (it draws its keys from the one global generator)."""
    from backprop import manual_seed as _seed

    _seed(seed)


manual_seed_all = manual_seed
