"""Shared fixtures: the devices to test on, and helpers that compare against NumPy and
float64 central differences."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import backprop as bp
from backprop import testing


def _plugin_installed():
    from importlib.metadata import entry_points

    return any(ep.value == "backprop.testing.pytest_plugin" for ep in entry_points(group="pytest11"))


# backprop's pytest plugin (bp_device, --bp-gpu) loads by entry point once backprop is
# installed; from a source tree (PYTHONPATH=python) it is loaded here.
pytest_plugins = [] if _plugin_installed() else ["backprop.testing.pytest_plugin"]

# Where there is no hardware GPU (CI), the GPU tests run on Mesa's software Vulkan driver,
# which backprop uses only when asked for. Asked here, before anything touches the GPU.
bp.gpu.use_software_adapter()
# Subprocesses (mpiexec ranks, CLI runs, fuzz batches) use the same adapter: a software one is
# named in the environment they inherit, since there it is only used when asked for by name.
if "BACKPROP_WGPU_ADAPTER" not in os.environ and bp.gpu.is_available():
    _adapter = bp.gpu.adapter_info()
    if _adapter["device_type"] == "Cpu":
        os.environ["BACKPROP_WGPU_ADAPTER"] = _adapter["name"]

settings.register_profile(
    "default",
    max_examples=int(os.environ.get("BACKPROP_HYPOTHESIS_EXAMPLES", "30")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.load_profile("default")


def _gpu_available():
    try:
        return bp.gpu.is_available()
    except (AttributeError, ImportError):
        return False


def _gpu_line():
    try:
        if bp.gpu.is_available():
            info = bp.gpu.adapter_info()
            return f"backprop GPU: {info['name']} ({info['backend']}, {info['device_type']})"
        return f"backprop GPU: none ({bp.gpu.unavailable_reason()})"
    except Exception as e:  # the header must never fail the run
        return f"backprop GPU: unknown ({type(e).__name__}: {e})"


def pytest_report_header(config):
    """The GPU the run uses, at the top of the log (CI shows which adapter ran the GPU cases)."""
    return _gpu_line()


def pytest_terminal_summary(terminalreporter):
    """The same line at the end, where `pytest -q` shows it too."""
    terminalreporter.write_line(_gpu_line())


def pytest_addoption(parser):
    parser.addoption(
        "--fuzz-long",
        action="store_true",
        default=False,
        help="run the long fuzz campaign (10^4+ random op programs) instead of CI's bounded one",
    )


def pytest_configure(config):
    if config.getoption("--fuzz-long", default=False):
        # Read by tests/test_fuzz_programs.py when it is imported (after configuration).
        os.environ["BACKPROP_FUZZ_LONG"] = "1"


@pytest.fixture
def device(bp_device):
    """Each device the test should run on: the plugin's bp_device (GPU cases skip, with the
    reason, without an adapter; see --bp-gpu)."""
    return bp_device


def to_np(t):
    return t.detach().cpu().numpy()


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, err_msg=""):
    """backprop.testing.assert_close with the suite's tolerances, for a tensor or array
    against anything array-like (a number stands for every element; NaNs compare equal, as
    in np.testing.assert_allclose)."""
    a = actual if isinstance(actual, (bp.Tensor, np.ndarray)) else np.asarray(actual)
    e = expected if isinstance(expected, (bp.Tensor, np.ndarray)) else np.asarray(expected)
    if e.ndim == 0 and len(a.shape) > 0:
        e = np.broadcast_to(to_np(e) if isinstance(e, bp.Tensor) else e, tuple(a.shape))
    testing.assert_close(
        a, e, rtol=rtol, atol=atol, equal_nan=True, check_dtype=False, check_device=False,
        msg=(lambda m: f"{err_msg}\n{m}") if err_msg else None,
    )


def central_difference_vjp(f, arrays, upstream, eps=1e-6):
    """Gradient of sum(f(*arrays) * upstream) with respect to each array, by float64 central
    differences of `f` (a function of NumPy float64 arrays returning an array)."""
    grads = []
    for i, a in enumerate(arrays):
        g = np.zeros(a.shape, dtype=np.float64)
        for idx in np.ndindex(*a.shape):
            plus = [x.copy() for x in arrays]
            minus = [x.copy() for x in arrays]
            plus[i][idx] += eps
            minus[i][idx] -= eps
            g[idx] = (np.sum(f(*plus) * upstream) - np.sum(f(*minus) * upstream)) / (2 * eps)
        grads.append(g)
    return grads


def check_backward(fn, arrays, upstream=None, rtol=1e-5, atol=1e-6, seed=0, device="cpu"):
    """Backward of `fn` (a function of backprop tensors) at `arrays` on `device` (float64 on
    the CPU, float32 on the GPU) against float64 central differences of the same forward
    (backprop.testing.check_gradients); returns the output array (float64, CPU)."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    testing.check_gradients(
        fn, *arrays, upstream=upstream, seed=seed, devices=(device,),
        rtol={"float64": rtol, "float32": max(rtol, 1e-4)}, atol={"float64": atol, "float32": max(atol, 1e-5)},
    )
    with bp.no_grad():
        return to_np(fn(*[bp.tensor(a, dtype=bp.float64) for a in arrays]))


def on(device, data, **kwargs):
    """A tensor of `data` on `device`; float data becomes float32 on the GPU, which has no float64."""
    t = bp.tensor(data, **kwargs)
    if device == "gpu" and t.dtype == bp.float64 and "dtype" not in kwargs:
        t = t.float()
    return t.to(device)


class Square(bp.autograd.Function):
    """x * x as a custom Function with a backward and no jvp (forward AD cannot run it)."""

    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 2 * x * g
