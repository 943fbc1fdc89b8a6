"""`backprop.utils.data`: `backprop.data` under PyTorch's name (`torch.utils.data`).

The same objects, not copies: `backprop.utils.data.DataLoader is backprop.data.DataLoader`.
Submodules resolve to `backprop.data`'s too, so `backprop.utils.data.distributed`,
`.sampler`, `.dataset` and `.dataloader` are the very modules `backprop.data.distributed`,
... and PyTorch-style imports work unchanged.
"""

import importlib
import importlib.abc
import importlib.util
import sys

from backprop.data import *  # noqa: F401,F403
from backprop.data import __all__  # noqa: F401

_PREFIX = __name__ + "."
_TARGET = "backprop.data."


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target) -> None:
        self.target = target

    def create_module(self, spec):
        return importlib.import_module(self.target)

    def exec_module(self, module):
        pass  # already executed under its own name


class _AliasFinder(importlib.abc.MetaPathFinder):
    """Finds `backprop.utils.data.X` as the module `backprop.data.X`."""

    def find_spec(self, fullname, path=None, target=None):
        if not fullname.startswith(_PREFIX):
            return None
        real = _TARGET + fullname[len(_PREFIX) :]
        if importlib.util.find_spec(real) is None:
            return None
        return importlib.util.spec_from_loader(fullname, _AliasLoader(real))


if not any(isinstance(f, _AliasFinder) for f in sys.meta_path):
    sys.meta_path.insert(0, _AliasFinder())
