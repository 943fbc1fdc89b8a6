"""The recorded graph, PyTorch's `torch.autograd.graph`: the `Node` class of every `grad_fn`,
and hooks on what ops save for backward (`saved_tensors_hooks`, `save_on_cpu`,
`disable_saved_tensors_hooks`)."""

import contextlib

from backprop import _core

Node = _core.Node

__all__ = ["Node", "disable_saved_tensors_hooks", "save_on_cpu", "saved_tensors_hooks"]

# The message of the innermost disable_saved_tensors_hooks, if one is active.
_disabled = []


class saved_tensors_hooks:
    """Context manager: every tensor an op saves for backward inside it goes through
    `pack_hook(tensor) -> object` when saved, and `unpack_hook(object) -> tensor` when backward
    (or `grad_fn._saved_*`) reads it. The innermost pair wins. Ops the hooks themselves run
    save normally. A tensor that went through the hooks is not version-checked: in-place
    changes to the original no longer matter to backward.
    """

    def __init__(self, pack_hook, unpack_hook):
        self.pack_hook = pack_hook
        self.unpack_hook = unpack_hook

    def __enter__(self):
        if _disabled:
            raise RuntimeError(_disabled[-1])
        _core._push_saved_tensors_hooks(self.pack_hook, self.unpack_hook)
        return self

    def __exit__(self, *exc):
        _core._pop_saved_tensors_hooks()
        return False


class save_on_cpu(saved_tensors_hooks):
    """Saved tensors are moved to the CPU when saved and back to their device when backward
    reads them: GPU memory for activations is freed during the forward. `pin_memory` is
    accepted for PyTorch compatibility (CPU memory is not pinned here)."""

    def __init__(self, pin_memory=False, device_type="cuda"):
        def pack(t):
            return (t.device, t.cpu())

        def unpack(packed):
            device, t = packed
            return t.to(device)

        self.pin_memory = pin_memory
        super().__init__(pack, unpack)


@contextlib.contextmanager
def disable_saved_tensors_hooks(error_message):
    """Inside, entering `saved_tensors_hooks` raises RuntimeError(`error_message`)."""
    _disabled.append(error_message)
    try:
        yield
    finally:
        _disabled.pop()
