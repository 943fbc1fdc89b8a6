"""Shared fixtures: the devices to test on, and helpers that compare against NumPy and
float64 central differences."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import backprop as bp

# Where there is no hardware GPU (CI), the GPU tests run on Mesa's software Vulkan driver,
# which backprop uses only when asked for. Asked here, before anything touches the GPU.
bp.gpu.use_software_adapter()

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
    config.addinivalue_line("markers", "gpu: the case runs on the GPU (skipped without an adapter)")
    if config.getoption("--fuzz-long", default=False):
        # Read by tests/test_fuzz_programs.py when it is imported (after configuration).
        os.environ["BACKPROP_FUZZ_LONG"] = "1"


DEVICES = ["cpu", pytest.param("gpu", marks=pytest.mark.gpu)]


@pytest.fixture(params=DEVICES)
def device(request):
    """Each device the test should run on; GPU cases skip (with the reason) without an adapter."""
    if request.param == "gpu" and not _gpu_available():
        pytest.skip("no GPU adapter found (install mesa-vulkan-drivers for lavapipe)")
    return request.param


def to_np(t):
    return t.detach().cpu().numpy()


def assert_close(actual, expected, rtol=1e-5, atol=1e-6, err_msg=""):
    a = to_np(actual) if isinstance(actual, bp.Tensor) else np.asarray(actual)
    np.testing.assert_allclose(a, np.asarray(expected), rtol=rtol, atol=atol, err_msg=err_msg)


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


def bp_forward64(fn):
    """`fn` (on backprop tensors) as a function of float64 NumPy arrays, for central differences."""

    def f(*arrays):
        with bp.no_grad():
            return to_np(fn(*[bp.tensor(a, dtype=bp.float64) for a in arrays])).astype(np.float64)

    return f


def check_backward(fn, arrays, upstream=None, rtol=1e-5, atol=1e-6, seed=0):
    """Backward of `fn` (a function of backprop tensors) at float64 `arrays` against float64
    central differences of the same forward; returns the output array."""
    rng = np.random.default_rng(seed)
    xs = [bp.tensor(a, dtype=bp.float64, requires_grad=True) for a in arrays]
    out = fn(*xs)
    up = rng.standard_normal(tuple(out.shape)) if upstream is None else upstream
    out.backward(bp.tensor(up, dtype=bp.float64))
    numeric = central_difference_vjp(bp_forward64(fn), [np.array(a, dtype=np.float64) for a in arrays], up)
    # Central differences of sum(f * up) lose about |sum| * 1e-16 / eps to rounding.
    atol = max(atol, 1e-9 * float(np.abs(to_np(out) * up).sum()))
    for i, (x, n) in enumerate(zip(xs, numeric)):
        g = to_np(x.grad) if x.grad is not None else np.zeros_like(n)
        np.testing.assert_allclose(g, n, rtol=rtol, atol=atol, err_msg=f"gradient of input {i}")
    return to_np(out)


def on(device, data, **kwargs):
    """A tensor of `data` on `device`; float data becomes float32 on the GPU, which has no float64."""
    t = bp.tensor(data, **kwargs)
    if device == "gpu" and t.dtype == bp.float64 and "dtype" not in kwargs:
        t = t.float()
    return t.to(device)
