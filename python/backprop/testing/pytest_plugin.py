"""The pytest plugin (entry point ``pytest11``, active once backprop is installed): a
``bp_device`` fixture that runs a test on the CPU and on the GPU, and a ``--bp-gpu`` option
that says what to do about the GPU.

    def test_my_layer(bp_device):
        x = backprop.randn(3, 4, device=bp_device)

``--bp-gpu=auto`` (default): GPU cases run when ``backprop.gpu.is_available()``, else they
skip with the reason. ``--bp-gpu=off``: CPU only. ``--bp-gpu=require``: a missing GPU
fails the GPU cases. ``--bp-gpu=NAME``: use the adapter whose name contains NAME (it sets
``BACKPROP_WGPU_ADAPTER``, which is also how a software adapter such as ``llvmpipe`` is
opted into) and fail without it. GPU cases carry the ``gpu`` marker (``-m "not gpu"``).
"""

import os

import pytest

_MODES = ("auto", "off", "require")


def pytest_addoption(parser):
    group = parser.getgroup("backprop")
    group.addoption(
        "--bp-gpu",
        action="store",
        default="auto",
        metavar="MODE",
        help="GPU cases of the bp_device fixture: auto (run when an adapter is available, else skip), "
        "off (CPU only), require (fail without an adapter), or an adapter name substring such as "
        "llvmpipe (use that adapter; fail without it)",
    )


def pytest_configure(config):
    config.addinivalue_line("markers", "gpu: the case runs on the GPU (skipped without an adapter)")
    mode = config.getoption("--bp-gpu", default="auto")
    if mode not in _MODES:
        # Before anything touches the GPU: the adapter is chosen when the device is created.
        os.environ["BACKPROP_WGPU_ADAPTER"] = mode


def _gpu_state():
    """(available, reason) without failing when this build has no GPU backend."""
    try:
        import backprop.gpu as gpu

        if gpu.is_available():
            return True, None
        return False, gpu.unavailable_reason()
    except (ImportError, AttributeError) as e:
        return False, f"this backprop build has no GPU backend ({e})"


# Session scope: the value is a device name, the same for every test, and hypothesis
# (given_gradients) accepts only fixtures that are not function-scoped.
@pytest.fixture(scope="session", params=["cpu", pytest.param("gpu", marks=pytest.mark.gpu)])
def bp_device(request):
    """Each device the test runs on: "cpu", then "gpu" (skipped, or failed with
    ``--bp-gpu=require``, when no adapter is available)."""
    if request.param == "cpu":
        return "cpu"
    mode = request.config.getoption("--bp-gpu")
    if mode == "off":
        pytest.skip("GPU cases are off (--bp-gpu=off)")
    available, reason = _gpu_state()
    if not available:
        if mode == "auto":
            pytest.skip(f"no GPU adapter: {reason}")
        pytest.fail(f"--bp-gpu={mode} asks for a GPU, but none is available: {reason}", pytrace=False)
    return "gpu"
