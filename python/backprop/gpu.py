"""The GPU: WGSL compute shaders run through wgpu (Vulkan, Metal, DX12; Mesa's software
driver, lavapipe, when asked for).

The device is created on first use: importing backprop never touches the GPU. Set
``BACKPROP_WGPU_ADAPTER`` to a substring of an adapter's name to pick one; otherwise the
most capable hardware adapter is used (discrete, then integrated). A software adapter
(llvmpipe/lavapipe: the CPU emulating a GPU, slower than backprop's CPU backend) is used only
when asked for, by name (``BACKPROP_WGPU_ADAPTER=llvmpipe``) or with
:func:`use_software_adapter`; on a machine with only a software adapter, :func:`is_available`
is False otherwise.

GPU work is recorded and submitted in batches; it runs asynchronously until a result is
read back (``.item()``, ``.tolist()``, ``.numpy()``, ``.cpu()``) or :func:`synchronize` is
called. On the GPU, float32 is the float type; int64 tensors are carried as 32-bit integers
(values must fit int32, arithmetic wraps at 32 bits); float64 tensors cannot be moved there.
"""

from backprop import _core

__all__ = [
    "is_available",
    "adapter_info",
    "synchronize",
    "empty_cache",
    "memory_stats",
    "device_count",
    "use_software_adapter",
]


def is_available():
    """Whether a GPU adapter can be used (creates the device on first call). Software adapters
    count only when asked for (see :func:`use_software_adapter`)."""
    return _core._gpu_is_available()


def use_software_adapter(allow=True):
    """Lets backprop fall back to a software adapter (Mesa's llvmpipe/lavapipe) when the machine
    has no hardware GPU: for running GPU code paths in tests and CI. A hardware adapter is still
    preferred. Call it before the first GPU use; returns the previous setting."""
    return _core._gpu_allow_software_adapter(bool(allow))


def unavailable_reason():
    """Why the GPU cannot be used (what was searched, how to install a driver), or None."""
    return _core._gpu_unavailable_reason()


def adapter_info():
    """The adapter in use: ``name``, ``backend``, ``device_type``, ``driver`` and ``limits``.

    Raises DeviceError (with what was searched and how to install a driver) without one."""
    return _core._gpu_adapter_info()


def device_count():
    """1 when a GPU adapter is available, else 0 (backprop drives one GPU)."""
    return 1 if is_available() else 0


def synchronize():
    """Submits all recorded GPU work and waits until it has finished (for timing)."""
    _core._gpu_synchronize()


def empty_cache():
    """Frees the GPU buffers kept for reuse."""
    _core._gpu_empty_cache()


def memory_stats():
    """Counters: ``live_bytes`` (buffers held by tensors), ``cached_bytes`` (kept for
    reuse), ``submits`` (queue submissions so far), ``commands`` (kernel launches and copies
    recorded so far), ``pending_commands`` (recorded, not yet submitted)."""
    return dict(_core._gpu_stats())
