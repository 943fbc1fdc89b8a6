"""The GPU backend: transfers, dtype rules, device mismatches, batching and sync points,
chunking of tensors larger than a storage binding, grid folding, odd matmul shapes,
indexing, random numbers, and gradients, each checked against NumPy or the CPU path."""

import numpy as np
import pytest

import backprop as bp
from conftest import assert_close, to_np

pytestmark = pytest.mark.gpu

if not bp.gpu.is_available():
    pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}", allow_module_level=True)


def gpu(a, **kw):
    return bp.tensor(np.asarray(a), device="gpu", **kw)


@pytest.fixture
def small_bindings():
    """Kernels plan with a 64 KiB storage-binding limit, so modest tensors exercise the
    chunked launches that tensors above the real limit (128 MiB or more) need."""
    bp._core._gpu_set_binding_limit(64 * 1024)
    yield 64 * 1024
    bp._core._gpu_set_binding_limit(None)


# ---- adapter, import, transfers ------------------------------------------------------------


def test_adapter_info_names_the_adapter_and_its_limits():
    info = bp.gpu.adapter_info()
    assert info["name"] and info["backend"] in {"vulkan", "metal", "dx12"}
    assert info["limits"]["max_storage_buffer_binding_size"] >= 128 << 20
    assert info["limits"]["max_compute_workgroups_per_dimension"] >= 65535
    assert bp.cuda.is_available() and bp.gpu.device_count() == 1


def _run(code, **env):
    import os
    import subprocess
    import sys

    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, **env})


def test_import_and_cpu_work_do_not_create_the_device():
    out = _run(
        "import backprop as bp, backprop.gpu, backprop.cuda\n"
        "(bp.ones(3) * 2).sum().item()\n"
        "print(bp._core._gpu_is_initialized())"
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_no_adapter_is_a_clear_error_naming_the_search_and_the_fix():
    code = (
        "import backprop as bp\n"
        "print(bp.gpu.is_available(), bp.cuda.is_available())\n"
        "try:\n    bp.ones(2).to('gpu')\nexcept bp.DeviceError as e:\n    print('ERR', e)\n"
    )
    out = _run(code, VK_ICD_FILENAMES="/nonexistent.json", VK_DRIVER_FILES="/nonexistent.json")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("False False")
    assert "no GPU adapter found" in out.stdout and "Vulkan" in out.stdout
    assert "apt-get install mesa-vulkan-drivers libvulkan1" in out.stdout


def test_adapter_can_be_chosen_by_name():
    name = bp.gpu.adapter_info()["name"]
    out = _run("import backprop as bp; print(bp.gpu.adapter_info()['name'])", BACKPROP_WGPU_ADAPTER=name[:4].upper())
    assert out.stdout.strip() == name, out.stderr
    out = _run(
        "import backprop as bp\ntry:\n    bp.zeros(1, device='gpu')\nexcept bp.DeviceError as e:\n    print(e)",
        BACKPROP_WGPU_ADAPTER="no-such-gpu",
    )
    assert "BACKPROP_WGPU_ADAPTER='no-such-gpu' matches none" in out.stdout and name in out.stdout


@pytest.mark.parametrize(
    "values, dtype",
    [
        (np.arange(12, dtype=np.float32).reshape(3, 4) / 7, bp.float32),
        (np.arange(-6, 6).reshape(3, 4), bp.int64),
        (np.array([[True, False], [False, True]]), bp.bool),
        (np.float32(2.5), bp.float32),
        (np.zeros((0, 3), dtype=np.float32), bp.float32),
    ],
)
def test_round_trip_keeps_values_dtype_and_shape(values, dtype):
    x = bp.tensor(values, dtype=dtype)
    g = x.to("gpu")
    assert g.device == bp.device("gpu") and g.is_cuda and g.dtype == dtype
    back = g.cpu()
    assert back.device == bp.device("cpu") and back.dtype == dtype
    np.testing.assert_array_equal(back.numpy(), np.asarray(values))
    assert g.tolist() == x.tolist()


def test_views_are_copied_in_logical_order():
    a = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    g = gpu(a)
    np.testing.assert_array_equal(to_np(g.permute(2, 0, 1)), a.transpose(2, 0, 1))
    np.testing.assert_array_equal(to_np(g[:, 1:, ::2]), a[:, 1:, ::2])
    np.testing.assert_array_equal(to_np(g[1, 2]), a[1, 2])
    assert g[1, 2, 3].item() == 23.0
    # a strided CPU view goes up in logical order too
    np.testing.assert_array_equal(to_np(bp.tensor(a).transpose(0, 2).to("gpu")), a.transpose(2, 1, 0))


def test_factories_take_a_device():
    for t in [
        bp.zeros(2, 3, device="gpu"),
        bp.ones(2, 3, device="cuda"),
        bp.full((2, 3), 7.0, device="gpu"),
        bp.rand(2, 3, device="gpu"),
        bp.randn(2, 3, device="gpu"),
        bp.randint(0, 5, (2, 3), device="gpu"),
        bp.arange(6, device="gpu"),
        bp.eye(3, device="gpu"),
        bp.linspace(0, 1, 5, device="gpu"),
        bp.zeros_like(bp.ones(2), device="gpu"),
        bp.tensor([1, 2, 3], device="gpu"),
    ]:
        assert t.device == bp.device("gpu")
    assert bp.full((2,), 7, device="gpu").tolist() == [7, 7]
    assert bp.eye(2, device="gpu").tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert bp.arange(4, device="gpu").tolist() == [0, 1, 2, 3]


def test_float64_is_refused_with_the_fix_not_downcast():
    x = bp.tensor([1.0, 2.0], dtype=bp.float64)
    with pytest.raises(bp.DTypeError, match=r"float64 tensors cannot live on the GPU.*\.float\(\)"):
        x.to("gpu")
    with pytest.raises(bp.DTypeError, match="float64"):
        bp.zeros(3, dtype=bp.float64, device="gpu")
    with pytest.raises(bp.DTypeError, match="float64"):
        gpu([1.0]).double()
    y = x.to("gpu", bp.float32)
    assert y.dtype == bp.float32 and y.tolist() == [1.0, 2.0]


def test_int64_values_must_fit_32_bits_on_the_gpu():
    with pytest.raises(ValueError, match="does not fit the GPU's 32-bit integers"):
        bp.tensor([1, 2**40]).to("gpu")
    big = gpu(np.array([2**31 - 1, -(2**31)]))
    assert big.tolist() == [2**31 - 1, -(2**31)]
    # arithmetic wraps at 32 bits on the GPU (documented)
    assert (big[:1] + 1).tolist() == [-(2**31)]


def test_mixing_devices_is_an_error_naming_both():
    c, g = bp.ones(3), bp.ones(3, device="gpu")
    for f in [lambda: c + g, lambda: g * c, lambda: bp.where(g > 0, c, g), lambda: bp.cat([c, g])]:
        with pytest.raises(bp.DeviceError, match=r"cpu and gpu|gpu and cpu"):
            f()
    with pytest.raises(bp.DeviceError, match=r"matmul.*\.to\("):
        bp.ones(2, 2) @ bp.ones(2, 2, device="gpu")


def test_numpy_of_a_gpu_tensor_says_to_copy_first():
    with pytest.raises(TypeError, match=r"\.cpu\(\)"):
        bp.ones(2, device="gpu").numpy()
    np.testing.assert_array_equal(np.asarray(bp.ones(2, device="gpu")), np.ones(2, dtype=np.float32))


# ---- batching and sync points --------------------------------------------------------------


def test_ops_are_batched_and_submitted_at_sync_points():
    x = gpu(np.linspace(-1, 1, 1000, dtype=np.float32))
    bp.gpu.synchronize()
    before = bp.gpu.memory_stats()["submits"]
    y = x
    for _ in range(40):
        y = (y * 1.0001).tanh() + 0.001
    mid = bp.gpu.memory_stats()
    assert mid["submits"] - before <= 2, "ops must not submit one by one (120 ops here)"
    assert mid["pending_commands"] > 0
    value = y.sum().item()  # a sync point
    after = bp.gpu.memory_stats()
    assert after["submits"] == mid["submits"] + 1 and after["pending_commands"] == 0
    ref = np.linspace(-1, 1, 1000, dtype=np.float32)
    for _ in range(40):
        ref = np.tanh(ref * 1.0001) + 0.001
    assert value == pytest.approx(ref.sum(), rel=1e-4)


def test_long_chains_submit_in_bounded_batches():
    x = bp.ones(16, device="gpu")
    bp.gpu.synchronize()
    before = bp.gpu.memory_stats()["submits"]
    for _ in range(1000):
        x = x + 1.0
    during = bp.gpu.memory_stats()["submits"] - before
    assert 1 <= during <= 1000 // 64, during
    assert x.tolist() == [1001.0] * 16


def test_buffers_are_reused_through_the_pool():
    bp.gpu.synchronize()
    before = bp.gpu.memory_stats()["live_bytes"]  # earlier tests may still hold tensors
    x = bp.zeros(4096, device="gpu")
    for _ in range(200):
        x = x + 1.0
    bp.gpu.synchronize()
    grown = bp.gpu.memory_stats()["live_bytes"] - before
    # 200 intermediates of 16 KiB each were freed into the pool and reused, not all kept
    assert grown < 64 * 16384
    assert x[0].item() == 200.0


def test_in_place_updates_on_the_gpu_bump_versions_and_stay_in_order():
    w = gpu(np.ones(5, dtype=np.float32))
    g = gpu(np.arange(5, dtype=np.float32))
    with bp.no_grad():
        for _ in range(3):
            w.sub_(g * 0.5)
    np.testing.assert_allclose(to_np(w), 1 - 1.5 * np.arange(5))
    w[1:3] = 9.0
    np.testing.assert_allclose(to_np(w), [1, 9, 9, 1 - 4.5, 1 - 6])


def test_writing_into_an_expanded_view_is_refused():
    base = bp.zeros(1, 3, device="gpu")
    with pytest.raises(ValueError, match="single memory location"):
        base.expand(4, 3).add_(bp.ones(4, 3, device="gpu"))


# ---- big tensors: chunked launches, folded grids, clean errors --------------------------------


def test_elementwise_work_is_chunked_to_the_binding_limit(small_bindings):
    a = np.random.default_rng(0).standard_normal((300, 257)).astype(np.float32)  # ~300 KiB
    x = gpu(a)
    assert_close(x * 2.0 + x.exp(), a * 2 + np.exp(a), rtol=1e-5)
    assert_close(x[:, 3:].sigmoid(), 1 / (1 + np.exp(-a[:, 3:])), rtol=1e-5)  # slices chunk too
    assert_close(x[::2, 1:-1] + gpu(a[0, 1:-1]), a[::2, 1:-1] + a[0, 1:-1], rtol=1e-6)
    y = bp.zeros(300, 257, device="gpu")
    y.copy_(x)
    assert_close(y, a)
    u = to_np(bp.rand(300, 257, device="gpu"))  # random fill, chunked
    assert 0 <= u.min() and u.max() < 1 and abs(u.mean() - 0.5) < 0.01
    assert len(np.unique(u)) > 0.99 * u.size  # chunks draw distinct numbers
    assert_close(bp.cat([x, x], 0)[300:], a)


def test_kernels_that_cannot_chunk_fail_clearly(small_bindings):
    a = gpu(np.ones((200, 200), dtype=np.float32))  # 160 KiB > the 64 KiB limit
    with pytest.raises(bp.DeviceError, match=r"storage binding limit.*split the tensor"):
        (a @ a).item()
    with pytest.raises(bp.DeviceError, match="binding limit"):
        a.sum().item()
    with pytest.raises(bp.DeviceError, match=r"transposed view"):
        a.T.contiguous().item()


def test_tensor_larger_than_a_real_storage_binding():
    info = bp.gpu.adapter_info()["limits"]
    limit = info["max_storage_buffer_binding_size"]
    if limit > 256 << 20:
        pytest.skip(f"binding limit {limit >> 20} MiB: too large to exceed cheaply here")
    n = limit // 4 + 4096  # one more page than a binding holds
    x = bp.full((n,), 1.5, device="gpu")
    y = x * 2.0 + 1.0
    tail = y[n - 5 :].tolist()
    assert tail == [4.0] * 5
    assert y[0].item() == 4.0
    del x, y
    bp.gpu.empty_cache()


def test_grids_fold_above_65535_workgroups():
    # one workgroup per row, more rows than a grid dimension allows (elementwise launches
    # fold too: see the tensor larger than a binding above)
    rows = 65_600
    a = np.random.default_rng(1).standard_normal((rows, 33)).astype(np.float32)
    s = to_np(gpu(a).softmax(1))
    want = np.exp(a) / np.exp(a).sum(1, keepdims=True)
    np.testing.assert_allclose(s[[0, 65_535, 65_536, -1]], want[[0, 65_535, 65_536, -1]], rtol=1e-5, atol=1e-7)
    assert np.abs(s.sum(1) - 1).max() < 1e-5


def test_views_with_more_dims_than_a_kernel_walks():
    a = np.random.default_rng(2).random([2] * 10).astype(np.float32)
    perm = tuple(range(9, -1, -1))  # no two dims merge
    x, ap = gpu(a).permute(*perm), a.transpose(perm)
    assert_close(x + 1.0, ap + 1)  # the outer dims become a loop of launches
    assert_close(x.sum((0, 2, 4, 6, 8)), ap.sum((0, 2, 4, 6, 8)), rtol=1e-5)
    assert_close(gpu(a).amax((1, 3, 5, 7, 9), keepdim=True), a.max((1, 3, 5, 7, 9), keepdims=True))
    assert to_np(x.argmax(3)).tolist() == ap.argmax(3).tolist()
    assert_close(x.softmax(4), np.exp(ap) / np.exp(ap).sum(4, keepdims=True), rtol=1e-5)
    assert_close(x[bp.tensor([1, 0], device="gpu")], ap[[1, 0]])


# ---- matmul -----------------------------------------------------------------------------


def _mm_case(rng, sa, sb):
    a = rng.standard_normal(sa).astype(np.float32)
    b = rng.standard_normal(sb).astype(np.float32)
    return a, b


@pytest.mark.parametrize(
    "sa, sb",
    [
        ((1, 1), (1, 1)),
        ((3, 5), (5, 7)),
        ((65, 129), (129, 33)),
        ((1, 4096), (4096, 1)),
        ((64, 64), (64, 64)),  # exact 64-tiles, vec4 loads, no bounds checks
        ((2, 3, 4, 5), (5, 6)),  # batched with a broadcast matrix
        ((2, 1, 3, 4), (5, 4, 2)),  # broadcast batch dims
        ((7,), (7, 3)),
        ((4, 7), (7,)),
        ((9,), (9,)),
        ((0, 3), (3, 4)),
        ((2, 0), (0, 3)),  # k = 0: zeros
        ((96, 128, 16), (96, 16, 128)),  # enough tiles for the 128 x 128 configuration
    ],
)
def test_matmul_shapes_match_numpy(sa, sb):
    a, b = _mm_case(np.random.default_rng(len(sa) * 31 + sum(sa)), sa, sb)
    got = gpu(a) @ gpu(b)
    want = np.matmul(a.astype(np.float64), b.astype(np.float64))
    assert got.shape == want.shape
    assert_close(got, want, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("ta, tb", [(False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m, k, n", [(33, 17, 9), (64, 32, 64), (128, 64, 256)])
def test_matmul_reads_transposed_operands_in_place(ta, tb, m, k, n):
    rng = np.random.default_rng(m + k + n)
    a = rng.standard_normal((k, m) if ta else (m, k)).astype(np.float32)
    b = rng.standard_normal((n, k) if tb else (k, n)).astype(np.float32)
    ga, gb = gpu(a), gpu(b)
    ga, gb = (ga.T if ta else ga), (gb.T if tb else gb)
    want = (a.T if ta else a).astype(np.float64) @ (b.T if tb else b).astype(np.float64)
    assert_close(ga @ gb, want, rtol=1e-4, atol=1e-4)


def test_matmul_of_sliced_and_offset_operands():
    rng = np.random.default_rng(7)
    a = rng.standard_normal((10, 20)).astype(np.float32)
    b = rng.standard_normal((30, 12)).astype(np.float32)
    got = gpu(a)[1:9, 3:19] @ gpu(b)[5:21:1, 1:11]
    assert_close(got, a[1:9, 3:19] @ b[5:21, 1:11], rtol=1e-4, atol=1e-5)
    got = gpu(a)[:, ::2] @ gpu(b)[::3, :][:10]
    assert_close(got, a[:, ::2] @ b[::3][:10], rtol=1e-4, atol=1e-5)


def test_integer_matmul():
    a = np.arange(12).reshape(3, 4) - 5
    b = np.arange(8).reshape(4, 2)
    assert (gpu(a) @ gpu(b)).tolist() == (a @ b).tolist()


def test_linear_adds_the_bias_in_the_epilogue():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((70, 50)).astype(np.float32)
    w = rng.standard_normal((30, 50)).astype(np.float32)
    b = rng.standard_normal(60).astype(np.float32)
    got = bp.nn.functional.linear(gpu(x), gpu(w), gpu(b)[::2])  # a strided bias too
    assert_close(got, x @ w.T + b[::2], rtol=1e-4, atol=1e-4)
    assert_close(bp.nn.functional.linear(gpu(x), gpu(w)), x @ w.T, rtol=1e-4, atol=1e-4)


def test_matmul_backward_on_the_gpu_matches_the_cpu():
    rng = np.random.default_rng(4)
    a = rng.standard_normal((2, 5, 7)).astype(np.float32)
    b = rng.standard_normal((7, 3)).astype(np.float32)
    up = rng.standard_normal((2, 5, 3)).astype(np.float32)
    grads = {}
    for dev in ["cpu", "gpu"]:
        ta = bp.tensor(a, device=dev, requires_grad=True)
        tb = bp.tensor(b, device=dev, requires_grad=True)
        (ta @ tb).backward(bp.tensor(up, device=dev))
        grads[dev] = (to_np(ta.grad), to_np(tb.grad))
    for g_cpu, g_gpu in zip(grads["cpu"], grads["gpu"]):
        np.testing.assert_allclose(g_gpu, g_cpu, rtol=1e-4, atol=1e-5)


# ---- reductions, softmax, indexing ----------------------------------------------------------


@pytest.mark.parametrize("shape, axes", [((4, 5, 6), (0,)), ((4, 5, 6), (1, 2)), ((4, 5, 6), (0, 2)), ((4, 5, 6), None), ((3, 1), (1,))])
@pytest.mark.parametrize("keepdim", [False, True])
def test_reductions_over_any_axes(shape, axes, keepdim):
    a = np.random.default_rng(5).standard_normal(shape).astype(np.float32)
    x = gpu(a)
    dims = axes if axes is not None else None
    assert_close(x.sum(dims, keepdim=keepdim) if dims else x.sum(), a.sum(axis=axes, keepdims=keepdim if dims else False), rtol=1e-5, atol=1e-5)
    assert_close(x.amax(dims, keepdim=keepdim) if dims else x.max(), a.max(axis=axes, keepdims=keepdim if dims else False))
    assert_close(x.mean(dims, keepdim=keepdim) if dims else x.mean(), a.mean(axis=axes, keepdims=keepdim if dims else False), rtol=1e-5, atol=1e-6)


def test_large_reductions_split_into_parts():
    a = np.random.default_rng(6).standard_normal(1_000_003).astype(np.float32)
    x = gpu(a)
    assert x.sum().item() == pytest.approx(a.astype(np.float64).sum(), abs=1e-1)
    assert x.max().item() == a.max() and x.min().item() == a.min()
    assert x.argmax().item() == a.argmax() and x.argmin().item() == a.argmin()
    cols = gpu(a[:999_000].reshape(9990, 100))
    assert_close(cols.sum(0), a[:999_000].reshape(9990, 100).astype(np.float64).sum(0), rtol=1e-4, atol=1e-3)
    i = gpu(np.arange(100_000) % 7)
    assert i.sum().item() == int((np.arange(100_000) % 7).sum())


def test_nan_propagates_through_gpu_max_argmax_and_softmax():
    x = gpu(np.array([[1.0, np.nan, 3.0], [2.0, 5.0, 5.0]], dtype=np.float32))
    assert np.isnan(x.max().item())
    assert x.argmax(1).tolist() == [1, 1]
    assert x.argmin(1).tolist() == [1, 0]
    s = to_np(x.softmax(1))
    assert np.isnan(s[0]).all() and not np.isnan(s[1]).any()
    assert np.isnan(bp.relu(x)[0, 1].item())
    assert bp.isnan(x).tolist() == [[False, True, False], [False, False, False]]


def test_reducing_an_empty_dimension():
    e = bp.zeros(0, 3, device="gpu")
    assert e.sum(0).tolist() == [0.0, 0.0, 0.0]
    with pytest.raises(ValueError, match="empty"):
        e.amax(0)


def test_indexing_gathers_and_scatter_adds_on_the_gpu():
    a = np.arange(20, dtype=np.float32).reshape(4, 5)
    x = gpu(a, requires_grad=True)
    idx = bp.tensor([0, 0, 3], device="gpu")
    picked = x[idx]
    assert_close(picked, a[[0, 0, 3]])
    picked.sum().backward()
    want = np.zeros_like(a)
    want[0] = 2
    want[3] = 1
    assert_close(x.grad, want)  # repeated indices accumulate
    mask = gpu(a > 12)
    assert_close(gpu(a)[mask], a[a > 12])
    g = gpu(a).gather(1, bp.tensor([[0, 4], [1, 1], [2, 0], [3, 3]], device="gpu"))
    assert_close(g, np.take_along_axis(a, np.array([[0, 4], [1, 1], [2, 0], [3, 3]]), 1))
    assert_close(gpu(a).index_select(1, bp.tensor([4, 0], device="gpu")), a[:, [4, 0]])
    y = gpu(a)
    y[bp.tensor([1, 2], device="gpu")] = 0.0
    b = a.copy()
    b[[1, 2]] = 0
    assert_close(y, b)
    z = gpu(a[0])
    z[bp.tensor([4, 3, 2, 1, 0], device="gpu")] = z  # the values alias the destination
    assert_close(z, a[0][::-1])


def test_cat_stack_and_cross_entropy_match_the_cpu():
    rng = np.random.default_rng(8)
    logits = rng.standard_normal((16, 10)).astype(np.float32)
    target = rng.integers(0, 10, 16)
    out = {}
    for dev in ["cpu", "gpu"]:
        z = bp.tensor(logits, device=dev, requires_grad=True)
        t = bp.tensor(target, device=dev)
        loss = bp.nn.functional.cross_entropy(z, t)
        loss.backward()
        out[dev] = (loss.item(), to_np(z.grad))
    assert out["gpu"][0] == pytest.approx(out["cpu"][0], rel=1e-5)
    np.testing.assert_allclose(out["gpu"][1], out["cpu"][1], rtol=1e-4, atol=1e-6)
    parts = [gpu(np.full((2, 3), i, dtype=np.float32)) for i in range(3)]
    assert_close(bp.cat(parts, 1), np.concatenate([np.full((2, 3), i) for i in range(3)], 1))
    assert_close(bp.stack(parts, 0), np.stack([np.full((2, 3), i) for i in range(3)], 0))


# ---- random numbers ----------------------------------------------------------------------


def test_gpu_sampling_is_seeded_and_well_distributed():
    bp.manual_seed(123)
    u1 = to_np(bp.rand(100_000, device="gpu"))
    bp.manual_seed(123)
    u2 = to_np(bp.rand(100_000, device="gpu"))
    np.testing.assert_array_equal(u1, u2)
    assert 0.0 <= u1.min() and u1.max() < 1.0
    assert abs(u1.mean() - 0.5) < 0.005 and abs(u1.var() - 1 / 12) < 0.002
    assert not np.array_equal(u1, to_np(bp.rand(100_000, device="gpu")))  # a new key per call
    n = to_np(bp.randn(200_000, device="gpu"))
    assert abs(n.mean()) < 0.01 and abs(n.std() - 1) < 0.01
    assert abs(((n > 1) & (n < 2)).mean() - 0.1359) < 0.005  # the shape, not only moments


def test_gpu_dropout_masks_scale_and_route_gradients():
    x = bp.ones(200_000, device="gpu", requires_grad=True)
    y = bp.nn.functional.dropout(x, 0.3, training=True)
    v = to_np(y)
    kept = v != 0
    assert abs(kept.mean() - 0.7) < 0.005
    np.testing.assert_allclose(v[kept], 1 / 0.7, rtol=1e-6)
    y.sum().backward()
    np.testing.assert_array_equal(to_np(x.grad) != 0, kept)
    assert bp.nn.functional.dropout(x, 0.3, training=False) is not None


# ---- gradients across devices -----------------------------------------------------------


def test_gradients_flow_back_across_a_device_move():
    w = bp.tensor([1.0, -2.0, 3.0], requires_grad=True)  # a CPU leaf
    loss = (w.to("gpu") ** 2).sum()
    loss.backward()
    assert w.grad.device == bp.device("cpu")
    assert w.grad.tolist() == [2.0, -4.0, 6.0]


def test_higher_order_gradients_on_the_gpu():
    x = bp.tensor([0.5, -1.0], device="gpu", requires_grad=True)
    y = (x.sin() * x).sum()
    (g,) = bp.autograd.grad(y, x, create_graph=True)
    (h,) = bp.autograd.grad(g.sum(), x)
    xs = np.array([0.5, -1.0])
    assert_close(g, np.cos(xs) * xs + np.sin(xs), rtol=1e-5)
    assert_close(h, 2 * np.cos(xs) - xs * np.sin(xs), rtol=1e-5)


# ---- class indices without read-backs ----------------------------------------------------------


def test_cross_entropy_step_with_uploaded_labels_records_without_a_sync():
    bp.manual_seed(0)
    model = bp.nn.Sequential(bp.nn.Linear(5, 8), bp.nn.ReLU(), bp.nn.Linear(8, 4)).to("gpu")
    opt = bp.optim.SGD(model.parameters(), lr=0.1)
    x = bp.randn(16, 5).to("gpu")
    y = bp.randint(0, 4, (16,)).to("gpu")  # bounds known from the upload
    F = bp.nn.functional
    F.cross_entropy(model(x), y).backward()  # warm up (pipelines, optimizer state)
    opt.step()
    bp.gpu.synchronize()
    before = bp.gpu.memory_stats()["submits"]
    opt.zero_grad()
    loss = F.cross_entropy(model(x), y)
    loss.backward()
    opt.step()
    assert bp.gpu.memory_stats()["submits"] == before, "checking the labels must not wait for the GPU"
    cpu_model = bp.nn.Sequential(bp.nn.Linear(5, 8), bp.nn.ReLU(), bp.nn.Linear(8, 4))
    cpu_model.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    # the same loss on the CPU from the same weights (after the step)
    with bp.no_grad():
        assert_close(F.cross_entropy(model(x), y), F.cross_entropy(cpu_model(x.cpu()), y.cpu()), rtol=1e-5, atol=1e-6)


def test_labels_out_of_range_on_the_gpu_are_still_caught():
    logits = bp.randn(3, 4).to("gpu")
    bad = bp.tensor([0, 4, 1]).to("gpu")
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        bp.nn.functional.cross_entropy(logits, bad)
    y = bp.tensor([0, 1, 2]).to("gpu")
    with bp.no_grad():
        y.add_(2)  # an in-place write voids the bounds known from the upload: [2, 3, 4]
    with pytest.raises(IndexError, match="target 4 is out of bounds"):
        bp.nn.functional.cross_entropy(logits, y)
    with pytest.raises(IndexError):
        bp.gather(logits, 1, bp.tensor([[0], [5], [1]]).to("gpu"))


def test_gather_and_ignore_index_with_known_bounds_match_the_cpu():
    a = bp.randn(4, 6, 3)
    index = bp.randint(0, 6, (4, 2, 3))
    for dim, idx in [(1, index), (0, bp.randint(0, 4, (2, 6, 3))), (2, bp.randint(0, 3, (4, 6, 2)))]:
        assert_close(bp.gather(a.to("gpu"), dim, idx.to("gpu")), bp.gather(a, dim, idx), rtol=0, atol=0)
    logits = bp.randn(5, 3)
    y = bp.tensor([0, 2, 1, 2, 0])  # ignore_index 2 lies inside the bounds [0, 2]
    want = bp.nn.functional.cross_entropy(logits, y, ignore_index=2)
    got = bp.nn.functional.cross_entropy(logits.to("gpu"), y.to("gpu"), ignore_index=2)
    assert_close(got, want, rtol=1e-6, atol=1e-6)
