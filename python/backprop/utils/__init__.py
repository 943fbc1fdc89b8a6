"""PyTorch's `torch.utils` names: `backprop.utils.data` is `backprop.data`."""


def __getattr__(name):
    # `bp.utils.checkpoint` / `bp.utils.data` work without importing them first, as in PyTorch.
    if name in ("checkpoint", "data"):
        import importlib

        return importlib.import_module(f"backprop.utils.{name}")
    raise AttributeError(f"module 'backprop.utils' has no attribute {name!r}")
