"""`backprop.random`: the global generator's functions under PyTorch's `torch.random` names,
and `fork_rng`.

One global generator drives sampling on every device (CPU tensors draw from its xoshiro256++
stream; GPU kernels, and float32 dropout masks on either device, draw a Philox key from it),
so `manual_seed` makes both reproducible, and a float32 dropout mask is the same on both.
"""

import contextlib

from backprop._core import default_generator, get_rng_state, initial_seed, manual_seed, seed, set_rng_state

__all__ = ["default_generator", "fork_rng", "get_rng_state", "initial_seed", "manual_seed", "seed", "set_rng_state"]


@contextlib.contextmanager
def fork_rng(devices=None, enabled=True, _caller="fork_rng", _devices_kw="devices", device_type=None):
    """A context in which the global generator may be used freely: its state is saved on
    entry and restored on exit, so code after the block draws what it would have drawn
    without it.

    Args:
        devices: accepted for PyTorch compatibility; the one global generator serves every
            device, so it is always the one forked.
        enabled: False makes the context do nothing.
        device_type: accepted for PyTorch compatibility (see `devices`).
    """
    del devices, _caller, _devices_kw, device_type
    if not enabled:
        yield
        return
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
