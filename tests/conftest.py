"""Shared fixtures: the devices to test on, and helpers that compare against NumPy and
float64 central differences."""

import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import backprop as bp

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
