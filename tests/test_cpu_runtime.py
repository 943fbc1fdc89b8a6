"""CPU runtime settings: the thread count (`set_num_threads`, PyTorch's contract) and the
forced instruction-set level of the CPU kernels, which must give the same products and
optimizer steps at every level this machine runs."""

import os
import subprocess
import sys

import numpy as np
import pytest

import backprop as bp
from backprop.testing import assert_close

LEVELS = ("avx512", "avx2", "baseline")
RUNNABLE = LEVELS[LEVELS.index(bp.get_cpu_capability()) :]


@pytest.fixture
def restore_runtime():
    threads, level = bp.get_num_threads(), bp.get_cpu_kernels()
    yield
    bp.set_num_threads(threads)
    bp.set_cpu_kernels(level)


def test_set_num_threads_round_trips_and_work_still_runs(restore_runtime):
    a = np.random.default_rng(0).standard_normal((300, 200)).astype(np.float32)
    want = a @ a.T
    for n in (1, 2, bp.get_num_threads()):
        bp.set_num_threads(n)
        assert 1 <= bp.get_num_threads() <= max(n, 1)
        assert_close(bp.from_numpy(a) @ bp.from_numpy(a).T, want, rtol=1e-4, atol=1e-3)
        # large enough for the parallel element-wise and optimizer paths
        x = bp.ones(1 << 19)
        assert (x * 2).sum().item() == 2 * (1 << 19)
    bp.set_num_threads(1)
    assert bp.get_num_threads() == 1


@pytest.mark.parametrize("bad", [0, -3])
def test_set_num_threads_refuses_non_positive_counts_like_pytorch(bad):
    # torch 2.15: RuntimeError: set_num_threads expects a positive integer
    with pytest.raises(RuntimeError, match="positive integer"):
        bp.set_num_threads(bad)


def test_set_num_threads_refuses_non_integers_like_pytorch():
    # torch 2.15: RuntimeError: set_num_threads expects an int, but got float
    with pytest.raises(RuntimeError, match="expects an int, but got float"):
        bp.set_num_threads(1.5)


def _in_subprocess(code, **env):
    full = {k: v for k, v in os.environ.items() if k not in ("RAYON_NUM_THREADS", "OMP_NUM_THREADS", "BACKPROP_CPU_KERNELS")}
    full.update(env)
    out = subprocess.run([sys.executable, "-W", "always", "-c", code], capture_output=True, text=True, env=full, timeout=120)
    assert out.returncode == 0, out.stderr
    return out


@pytest.mark.parametrize("var", ["RAYON_NUM_THREADS", "OMP_NUM_THREADS"])
def test_thread_count_at_start_comes_from_the_environment(var):
    out = _in_subprocess("import backprop as bp; print(bp.get_num_threads())", **{var: "1"})
    assert out.stdout.split() == ["1"]


def test_rayon_setting_wins_over_openmp_and_an_openmp_list_gives_its_first_count():
    out = _in_subprocess("import backprop as bp; print(bp.get_num_threads())", RAYON_NUM_THREADS="1", OMP_NUM_THREADS="2")
    assert out.stdout.split() == ["1"]
    out = _in_subprocess("import backprop as bp; print(bp.get_num_threads())", OMP_NUM_THREADS="1,4")
    assert out.stdout.split() == ["1"]


def test_kernel_level_at_start_comes_from_the_environment_and_a_bad_one_warns():
    out = _in_subprocess("import backprop as bp; print(bp.get_cpu_kernels())", BACKPROP_CPU_KERNELS="baseline")
    assert out.stdout.split() == ["baseline"]
    out = _in_subprocess("import backprop as bp; print(bp.get_cpu_kernels())", BACKPROP_CPU_KERNELS="sse9")
    assert out.stdout.split() == [bp.get_cpu_capability()]
    assert "BACKPROP_CPU_KERNELS" in out.stderr and "unknown CPU kernel level" in out.stderr


def test_set_cpu_kernels_names_the_levels_and_refuses_what_cannot_run(restore_runtime):
    assert bp.set_cpu_kernels("auto") == bp.get_cpu_capability() == bp.get_cpu_kernels()
    with pytest.raises(ValueError, match="unknown CPU kernel level"):
        bp.set_cpu_kernels("sse9")
    for level in LEVELS:
        if level in RUNNABLE:
            assert bp.set_cpu_kernels(level) == level == bp.get_cpu_kernels()
        else:
            with pytest.raises(ValueError, match="cannot run"):
                bp.set_cpu_kernels(level)


# Shapes through every path: tiny, the column-major (few rows, transposed weight) one, split
# across threads by columns and by rows, depths beyond one packing block, ragged edges.
SHAPES = [(1, 1, 1), (3, 5, 2), (7, 300, 9), (64, 784, 512), (130, 257, 67), (600, 40, 300), (50, 600, 33)]


@pytest.mark.parametrize("level", RUNNABLE)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_every_level_multiplies_plain_transposed_and_batched_operands(level, dtype, restore_runtime):
    bp.set_cpu_kernels(level)
    rng = np.random.default_rng(1)
    tol = dict(rtol=1e-4, atol=1e-3) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    for m, k, n in SHAPES:
        a = rng.standard_normal((m, k)).astype(dtype)
        b = rng.standard_normal((k, n)).astype(dtype)
        want = a.astype(np.float64) @ b.astype(np.float64)
        ba, bb = bp.from_numpy(a), bp.from_numpy(b)
        bat, bbt = bp.from_numpy(np.ascontiguousarray(a.T)), bp.from_numpy(np.ascontiguousarray(b.T))
        assert_close(ba @ bb, want.astype(dtype), **tol)
        assert_close(ba @ bbt.T, want.astype(dtype), **tol)
        assert_close(bat.T @ bb, want.astype(dtype), **tol)
        assert_close(bat.T @ bbt.T, want.astype(dtype), **tol)
        bias = rng.standard_normal(n).astype(dtype)
        assert_close(bp.nn.functional.linear(ba, bbt, bp.from_numpy(bias)), (want + bias).astype(dtype), **tol)
    a = rng.standard_normal((3, 20, 30)).astype(dtype)
    b = rng.standard_normal((30, 25)).astype(dtype)
    assert_close(bp.from_numpy(a) @ bp.from_numpy(b), a @ b, **tol)
    # depth 0: zeros, at every level
    assert_close(bp.zeros(4, 0, dtype=bp.float64) @ bp.zeros(0, 3, dtype=bp.float64), np.zeros((4, 3)))


@pytest.mark.parametrize("level", RUNNABLE)
def test_every_level_takes_the_same_adamw_step(level, restore_runtime):
    def run():
        bp.manual_seed(0)
        p = bp.nn.Parameter(bp.randn(300_000))
        opt = bp.optim.AdamW([p], lr=1e-2)
        for _ in range(3):
            opt.zero_grad()
            (p * p).sum().backward()
            opt.step()
        return p.detach().numpy().copy()

    bp.set_cpu_kernels("auto")
    want = run()
    bp.set_cpu_kernels(level)
    np.testing.assert_allclose(run(), want, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("n", [1000, (1 << 18) + 77])
def test_elementwise_results_are_the_same_bits_at_every_level_and_thread_count(n, restore_runtime):
    # The contiguous element loops are compiled per level (isa::vectorized) and run on the
    # calling thread when there is one thread: neither may change a single bit.
    rng = np.random.default_rng(3)
    a = rng.standard_normal(n).astype(np.float32)
    b = (rng.standard_normal(n) + 3).astype(np.float32)
    row = rng.standard_normal((1, 1000)).astype(np.float32)
    col = rng.standard_normal((n // 1000, 1)).astype(np.float32)
    want = {
        "add": a + b, "mul": a * b, "div": a / b, "sqrt": np.sqrt(np.abs(a)), "scale_": a * np.float32(0.5),
        "sub_": a - b, "row+col": col + row,
    }

    def run():
        x, y = bp.from_numpy(a.copy()), bp.from_numpy(b)
        got = {
            "add": x + y, "mul": x * y, "div": x / y, "sqrt": bp.sqrt(bp.abs(x)),
            "scale_": bp.from_numpy(a.copy()).mul_(0.5), "sub_": bp.from_numpy(a.copy()).sub_(y),
            "row+col": bp.from_numpy(col) + bp.from_numpy(row), "exp": bp.exp(x),
        }
        return {k: v.numpy().copy() for k, v in got.items()}

    first = None
    for level in RUNNABLE:
        for threads in (1, 2):
            bp.set_cpu_kernels(level)
            bp.set_num_threads(threads)
            got = run()
            for k, v in want.items():
                np.testing.assert_array_equal(got[k], v, err_msg=f"{k} at {level}, {threads} thread(s)")
            first = first or got
            np.testing.assert_array_equal(got["exp"], first["exp"], err_msg=f"exp at {level}, {threads} thread(s)")
