"""Every shaders/*.wgsl run directly through wgpu-py (the `wgpu` package) against NumPy.

This host path shares nothing with the Rust engine but the WGSL text: its own device,
buffers, parameter packing (`walk` mirrors the `Walk` struct of strided.wgsl) and include
resolution. A kernel bug shows up here even if the engine compensated for it, and an
engine bug cannot hide behind a kernel that agrees with it."""

import math
import struct
from pathlib import Path

import numpy as np
import pytest

wgpu = pytest.importorskip("wgpu", reason="the shader tests need wgpu-py (pip install wgpu)")

pytestmark = pytest.mark.gpu

SHADERS = Path(__file__).resolve().parent.parent / "shaders"
F32, I32, BOOL = 0, 1, 2


def source(name):
    """The shader's text with its `//!include FILE` libraries prepended."""
    text = (SHADERS / name).read_text()
    libs = [line.split(None, 1)[1].strip() for line in text.splitlines() if line.startswith("//!include ")]
    return "\n".join([source(lib) for lib in libs] + [text])


# The backends backprop's engine uses; wgpu-py may also offer OpenGL, which backprop does not.
BACKENDS = ("Vulkan", "Metal", "D3D12")
TYPE_RANK = {"DiscreteGPU": 0, "IntegratedGPU": 1, "VirtualGPU": 2, "CPU": 3}


@pytest.fixture(scope="module")
def device():
    adapters = [a for a in wgpu.gpu.enumerate_adapters_sync() if a.info["backend_type"] in BACKENDS]
    if not adapters:
        pytest.skip(f"no {'/'.join(BACKENDS)} adapter for wgpu-py")
    adapters.sort(key=lambda a: TYPE_RANK.get(a.info["adapter_type"], 4))
    return adapters[0].request_device_sync()


_modules = {}


def run(device, shader, entry, params, buffers, grid, constants=None):
    """Runs `entry` of `shader` with `params` (bytes) at binding 0 and `buffers` (NumPy arrays,
    bound in order from binding 1; those whose name is in `writable` read-write) and
    returns the buffers' contents afterwards as uint32 arrays."""
    if shader not in _modules:
        _modules[shader] = device.create_shader_module(code=source(shader))
    module = _modules[shader]
    entries = [{"binding": 0, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": {"type": wgpu.BufferBindingType.uniform}}]
    gpu_buffers, sizes = [], []
    for i, (arr, writable) in enumerate(buffers):
        data = np.ascontiguousarray(arr).view(np.uint32).ravel()
        sizes.append(data.size)
        if data.size < 4:  # bindings must not be smaller than 16 bytes
            data = np.concatenate([data, np.zeros(4 - data.size, np.uint32)])
        usage = wgpu.BufferUsage.STORAGE | wgpu.BufferUsage.COPY_SRC | wgpu.BufferUsage.COPY_DST
        gpu_buffers.append(device.create_buffer_with_data(data=data.tobytes(), usage=usage))
        kind = wgpu.BufferBindingType.storage if writable else wgpu.BufferBindingType.read_only_storage
        entries.append({"binding": i + 1, "visibility": wgpu.ShaderStage.COMPUTE, "buffer": {"type": kind}})
    ubuf = device.create_buffer_with_data(data=bytes(params), usage=wgpu.BufferUsage.UNIFORM)
    bgl = device.create_bind_group_layout(entries=entries)
    pipeline = device.create_compute_pipeline(
        layout=device.create_pipeline_layout(bind_group_layouts=[bgl]),
        compute={"module": module, "entry_point": entry, "constants": dict(constants or {})},
    )
    resources = [{"binding": 0, "resource": {"buffer": ubuf, "offset": 0, "size": ubuf.size}}]
    resources += [{"binding": i + 1, "resource": {"buffer": b, "offset": 0, "size": b.size}} for i, b in enumerate(gpu_buffers)]
    bind_group = device.create_bind_group(layout=bgl, entries=resources)
    encoder = device.create_command_encoder()
    cpass = encoder.begin_compute_pass()
    cpass.set_pipeline(pipeline)
    cpass.set_bind_group(0, bind_group)
    cpass.dispatch_workgroups(*grid)
    cpass.end()
    device.queue.submit([encoder.finish()])
    return [np.frombuffer(device.queue.read_buffer(b), dtype=np.uint32)[:n].copy() for b, n in zip(gpu_buffers, sizes)]


def walk(shape=(), strides=(), offsets=(0, 0, 0, 0), split=0, count=0, base=0, u=(0, 0, 0, 0), f=(0, 0, 0, 0)):
    """The `Walk` uniform: `strides[d]` lists the operands' strides along dim d."""
    words = np.zeros(56, np.uint32)
    words[: len(shape)] = shape
    for d, s in enumerate(strides):
        words[8 + 4 * d : 8 + 4 * d + len(s)] = s
    words[40:44] = offsets
    words[44:48] = [len(shape), split, count, base]
    words[48:52] = u
    words[52:56] = np.array(f, np.float32).view(np.uint32)
    return words.tobytes()


def f32(x):
    return np.asarray(x, np.float32)


def groups(n, size=256):
    return (max(1, math.ceil(n / size)), 1, 1)


# ---- unary.wgsl ------------------------------------------------------------------------------

UNARY = {"neg": 1, "abs": 2, "sign": 3, "exp": 4, "log": 5, "sqrt": 6, "rsqrt": 7, "reciprocal": 8, "sin": 9, "cos": 10,
         "tanh": 11, "sigmoid": 12, "relu": 13, "leaky_relu": 14, "elu": 15, "gelu": 16, "gelu_grad": 17, "pow": 18,
         "clamp": 19, "not": 20, "isnan": 21}
ERF = np.vectorize(math.erf)


def unary(device, op, x, in_t=F32, out_t=F32, u=(0, 0, 0, 0), f=(0, 0, 0, 0), transposed=True):
    """Applies `op` to x (2-D), reading it through a transposed view when asked."""
    rows, cols = x.shape
    if transposed:  # store x.T contiguously and read it with swapped strides
        stored, strides = np.ascontiguousarray(x.T), [(cols, 1), (1, rows)]
    else:
        stored, strides = x, [(cols, cols), (1, 1)]
    n = x.size
    params = walk((rows, cols), strides, count=n, u=u, f=f)
    dst = np.zeros(n, np.uint32)
    _, out = run(device, "unary.wgsl", "main", params, [(stored, False), (dst, True)], groups(n),
                 {"OP": op, "IN_T": in_t, "OUT_T": out_t})
    return out.reshape(rows, cols)


@pytest.mark.parametrize(
    "name, ref, lo, hi, f, rtol",
    [
        ("neg", np.negative, -3, 3, 0, 0),
        ("abs", np.abs, -3, 3, 0, 0),
        ("exp", np.exp, -5, 5, 0, 3e-6),
        ("log", np.log, 0.01, 100, 0, 3e-6),
        ("sqrt", np.sqrt, 0, 100, 0, 2e-7),
        ("rsqrt", lambda x: 1 / np.sqrt(x), 0.01, 100, 0, 3e-7),
        ("reciprocal", lambda x: 1 / x, 0.1, 10, 0, 2e-7),
        ("sin", np.sin, -3, 3, 0, 1e-6),
        ("cos", np.cos, -3, 3, 0, 1e-6),
        ("tanh", np.tanh, -30, 30, 0, 1e-6),
        ("sigmoid", lambda x: 1 / (1 + np.exp(-x)), -100, 100, 0, 2e-6),
        ("relu", lambda x: np.maximum(x, 0), -3, 3, 0, 0),
        ("leaky_relu", lambda x: np.where(x > 0, x, 0.1 * x), -3, 3, 0.1, 1e-7),
        ("elu", lambda x: np.where(x > 0, x, 1.5 * np.expm1(x)), -3, 3, 1.5, 1e-6),
        ("gelu", lambda x: 0.5 * x * (1 + ERF(x / np.sqrt(2))), -5, 5, 0, 1e-6),
        ("gelu_grad", lambda x: 0.5 * (1 + ERF(x / np.sqrt(2))) + x * np.exp(-x * x / 2) / np.sqrt(2 * np.pi), -5, 5, 0, 1e-6),
        ("pow", lambda x: x**2.5, 0, 4, 2.5, 3e-6),
    ],
)
def test_unary_float_functions(device, name, ref, lo, hi, f, rtol):
    x = f32(np.random.default_rng(UNARY[name]).uniform(lo, hi, (5, 67)))
    got = unary(device, UNARY[name], x, f=(f, 0, 0, 0)).view(np.float32)
    np.testing.assert_allclose(got, ref(x.astype(np.float64)), rtol=rtol, atol=2e-6 if rtol else 0)


def test_unary_special_values(device):
    x = f32([[np.nan, -0.0, 0.0, np.inf, -np.inf, 25.0, -25.0, 2.0]])
    sign = unary(device, UNARY["sign"], x).view(np.float32)[0]
    assert np.isnan(sign[0]) and list(sign[1:5]) == [0, 0, 1, -1]
    relu = unary(device, UNARY["relu"], x).view(np.float32)[0]
    assert np.isnan(relu[0]) and list(relu[1:]) == [0, 0, np.inf, 0, 25, 0, 2]
    tanh = unary(device, UNARY["tanh"], x).view(np.float32)[0]
    assert list(tanh[3:7]) == [1, -1, 1, -1]
    sig = unary(device, UNARY["sigmoid"], x).view(np.float32)[0]
    assert list(sig[3:5]) == [1, 0]
    clamp = unary(device, UNARY["clamp"], x, u=(3, 0, 0, 0), f=(-1.0, 1.5, 0, 0)).view(np.float32)[0]
    assert np.isnan(clamp[0]) and list(clamp[1:]) == [0, 0, 1.5, -1, 1.5, -1, 1.5]
    only_upper = unary(device, UNARY["clamp"], x, u=(2, 0, 0, 0), f=(0, 1.5, 0, 0)).view(np.float32)[0]
    assert list(only_upper[4:7]) == [-np.inf, 1.5, -25]
    isnan = unary(device, UNARY["isnan"], x, out_t=BOOL)[0]
    assert list(isnan) == [1, 0, 0, 0, 0, 0, 0, 0]
    neg_base = unary(device, UNARY["pow"], f32([[-2.0, -2.0, 0.0]]), f=(3.0, 0, 0, 0)).view(np.float32)[0]
    assert list(neg_base) == [-8, -8, 0]
    frac = unary(device, UNARY["pow"], f32([[-2.0, 0.0, 4.0]]), f=(0.75, 0, 0, 0)).view(np.float32)[0]
    assert np.isnan(frac[0]) and frac[1] == 0 and frac[2] == pytest.approx(4**0.75, rel=1e-6)


def test_elu_is_accurate_near_zero(device):
    # exp(x) - 1 cancels to 0 for tiny x; the shader's expm1 keeps the relative precision
    x = f32([[-1e-8, -1e-4, -0.02, -0.04, -0.34, -0.36, -1.0]])
    out = unary(device, UNARY["elu"], x, f=(2.0, 0, 0, 0), transposed=False).view(np.float32)
    np.testing.assert_allclose(out, 2.0 * np.expm1(x.astype(np.float64)), rtol=1e-6)


def test_unary_integer_ops_wrap(device):
    x = np.array([[-5, 0, 7, -(2**31)]], np.int32)
    assert list(unary(device, UNARY["neg"], x, I32, I32).view(np.int32)[0]) == [5, 0, -7, -(2**31)]
    assert list(unary(device, UNARY["abs"], x, I32, I32).view(np.int32)[0]) == [5, 0, 7, -(2**31)]
    assert list(unary(device, UNARY["sign"], x, I32, I32).view(np.int32)[0]) == [-1, 0, 1, -1]
    clamp = unary(device, UNARY["clamp"], x, I32, I32, u=(3, np.uint32(np.int32(-2).view(np.uint32)), 3, 0))
    assert list(clamp.view(np.int32)[0]) == [-2, 0, 3, -2]
    cube = unary(device, UNARY["pow"], x, I32, I32, u=(0, 0, 3, 0))
    assert list(cube.view(np.int32)[0]) == [-125, 0, 343, 0]  # (-2**31)**3 wraps to 0
    b = np.array([[1, 0, 1]], np.uint32)
    assert list(unary(device, UNARY["not"], b, BOOL, BOOL)[0]) == [0, 1, 0]


def test_casts(device):
    x = f32([[1.9, -1.9, np.nan, 3e9, -3e9, -0.0, 0.5]])
    to_int = unary(device, 0, x, F32, I32).view(np.int32)[0]
    assert list(to_int) == [1, -1, 0, 2**31 - 1, -(2**31), 0, 0]
    to_bool = unary(device, 0, x, F32, BOOL)[0]
    assert list(to_bool) == [1, 1, 1, 1, 1, 0, 1]
    i = np.array([[-3, 0, 16777217]], np.int32)
    assert list(unary(device, 0, i, I32, F32).view(np.float32)[0]) == [-3.0, 0.0, 16777216.0]
    assert list(unary(device, 0, i, I32, BOOL)[0]) == [1, 0, 1]
    assert list(unary(device, 0, np.array([[1, 0]], np.uint32), BOOL, F32).view(np.float32)[0]) == [1.0, 0.0]
    same = unary(device, 0, x, F32, F32, transposed=False).view(np.float32)
    np.testing.assert_array_equal(same, x)


# ---- binary.wgsl, where.wgsl, fill.wgsl ---------------------------------------------------------

BINARY = {"add": 0, "sub": 1, "mul": 2, "div": 3, "pow": 4, "maximum": 5, "minimum": 6, "floor_divide": 7,
          "remainder": 8, "eq": 9, "ne": 10, "lt": 11, "le": 12, "gt": 13, "ge": 14, "and": 15, "or": 16, "xor": 17,
          "assign": 18}


def binary(device, op, a, b, t=F32):
    """a (rows x cols) op b (cols,), b broadcast along the rows with a zero stride."""
    rows, cols = a.shape
    n = a.size
    params = walk((rows, cols), [(cols, cols, 0), (1, 1, 1)], count=n)
    out = np.zeros(n, np.uint32)
    *_, got = run(device, "binary.wgsl", "main", params, [(a, False), (b, False), (out, True)], groups(n), {"OP": op, "T": t})
    return got.reshape(rows, cols)


@pytest.mark.parametrize("name", ["add", "sub", "mul", "div", "pow", "maximum", "minimum", "floor_divide", "remainder"])
def test_binary_float_broadcasting(device, name):
    rng = np.random.default_rng(BINARY[name])
    a = f32(rng.uniform(0.5, 3, (7, 45)))
    b = f32(rng.uniform(0.5, 3, 45))
    ref = {"add": np.add, "sub": np.subtract, "mul": np.multiply, "div": np.divide, "pow": np.power,
           "maximum": np.maximum, "minimum": np.minimum, "floor_divide": np.floor_divide, "remainder": np.remainder}[name]
    got = binary(device, BINARY[name], a, b).view(np.float32)
    want = ref(a.astype(np.float64), b.astype(np.float64))
    if name in ("floor_divide", "remainder"):  # computed from the float32 quotient, as the CPU does
        q = np.floor((a / b).astype(np.float32))
        want = q if name == "floor_divide" else a - b * q
    np.testing.assert_allclose(got, want, rtol=2e-6, atol=1e-6)


def test_binary_nan_and_comparisons(device):
    a = f32([[np.nan, 1.0, 2.0, np.nan]])
    b = f32([1.0, np.nan, 2.0, np.nan])
    mx = binary(device, BINARY["maximum"], a, b).view(np.float32)[0]
    assert np.isnan(mx).tolist() == [True, True, False, True]
    assert list(binary(device, BINARY["eq"], a, b)[0]) == [0, 0, 1, 0]
    assert list(binary(device, BINARY["ne"], a, b)[0]) == [1, 1, 0, 1]
    assert list(binary(device, BINARY["lt"], f32([[1, 2, 3, 4]]), f32([2, 2, 2, 2]))[0]) == [1, 0, 0, 0]
    assert list(binary(device, BINARY["ge"], f32([[1, 2, 3, 4]]), f32([2, 2, 2, 2]))[0]) == [0, 1, 1, 1]


def test_binary_integer_semantics(device):
    a = np.array([[7, -7, 7, -7, 2**31 - 1]], np.int32)
    b = np.array([2, 2, -2, -2, 1], np.int32)
    fd = binary(device, BINARY["floor_divide"], a, b, I32).view(np.int32)[0]
    rem = binary(device, BINARY["remainder"], a, b, I32).view(np.int32)[0]
    assert list(fd) == list(a[0] // b) and list(rem) == list(a[0] % b)
    assert binary(device, BINARY["add"], a, b, I32).view(np.int32)[0][-1] == -(2**31)  # wraps
    assert list(binary(device, BINARY["pow"], a[:, :2], np.array([3, -1], np.int32), I32).view(np.int32)[0]) == [343, 0]
    t, f = np.array([[1, 1, 0, 0]], np.uint32), np.array([1, 0, 1, 0], np.uint32)
    assert list(binary(device, BINARY["and"], t, f, BOOL)[0]) == [1, 0, 0, 0]
    assert list(binary(device, BINARY["xor"], t, f, BOOL)[0]) == [0, 1, 1, 0]
    assert list(binary(device, BINARY["add"], t, f, BOOL)[0]) == [1, 1, 1, 0]


def test_inplace_into_a_strided_view(device):
    dst = f32(np.arange(12))
    src = f32([100, 200, 300])
    # dst[1::4] op= src: 3 elements at stride 4 from offset 1
    params = walk((3,), [(4, 1)], offsets=(1, 0, 0, 0), count=3)
    _, out = run(device, "binary.wgsl", "inplace", params, [(src, False), (dst, True)], groups(3), {"OP": BINARY["add"], "T": F32})
    want = np.arange(12, dtype=np.float32)
    want[1::4] += src
    np.testing.assert_array_equal(out.view(np.float32), want)
    _, out = run(device, "binary.wgsl", "inplace", params, [(src, False), (dst, True)], groups(3), {"OP": BINARY["assign"], "T": F32})
    want = np.arange(12, dtype=np.float32)
    want[1::4] = src
    np.testing.assert_array_equal(out.view(np.float32), want)


def test_where_and_fill(device):
    cond = np.array([1, 0, 1, 0, 1, 0], np.uint32)
    a, b = f32(np.arange(6)), f32([-1.0])  # b broadcast (stride 0)
    params = walk((6,), [(1, 1, 1, 0)], count=6)
    *_, out = run(device, "where.wgsl", "main", params, [(cond, False), (a, False), (b, False), (np.zeros(6, np.uint32), True)], groups(6))
    assert list(out.view(np.float32)) == [0, -1, 2, -1, 4, -1]
    params = walk((), [], offsets=(3, 0, 0, 0), count=5, u=(np.float32(2.5).view(np.uint32), 0, 0, 0))
    (out,) = run(device, "fill.wgsl", "main", params, [(np.zeros(10, np.uint32), True)], groups(5))
    assert list(out.view(np.float32)) == [0, 0, 0, 2.5, 2.5, 2.5, 2.5, 2.5, 0, 0]


# ---- reduce.wgsl, arg_reduce.wgsl ------------------------------------------------------------


def reduce(device, entry, kind, x, axis, parts=1, t=F32):
    """Reduces 2-D x over `axis` (kept dim first in the walk) in `parts` pieces."""
    rows, cols = x.shape
    kept, red = (cols, rows) if axis == 0 else (rows, cols)
    kept_stride, red_stride = (1, cols) if axis == 0 else (cols, 1)
    per = math.ceil(red / parts)
    units = kept * parts
    params = walk((kept, red), [(0, kept_stride), (0, red_stride)], split=1, count=units, u=(red, parts, per, kept))
    grid = (units, 1, 1) if entry == "rows" else groups(units)
    _, out = run(device, "reduce.wgsl", entry, params, [(x, False), (np.zeros(units, np.uint32), True)], grid, {"KIND": kind, "T": t})
    return out.reshape(kept, parts)


@pytest.mark.parametrize("entry", ["rows", "cols"])
def test_sums_and_extrema(device, entry):
    x = f32(np.random.default_rng(9).standard_normal((37, 300)))
    s = reduce(device, entry, 0, x, 1).view(np.float32)[:, 0]
    np.testing.assert_allclose(s, x.astype(np.float64).sum(1), rtol=1e-5, atol=1e-5)
    parts = reduce(device, entry, 0, x, 0, parts=3).view(np.float32)
    np.testing.assert_allclose(parts.sum(1), x.astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(parts[:, 0], x[:13].astype(np.float64).sum(0), rtol=1e-5, atol=1e-5)
    x[3, 7] = np.nan
    mx = reduce(device, entry, 2, x, 1).view(np.float32)[:, 0]
    assert np.isnan(mx[3]) and np.array_equal(np.delete(mx, 3), np.delete(x.max(1), 3))
    mn = reduce(device, entry, 3, x, 0).view(np.float32)[:, 0]
    assert np.isnan(mn[7]) and np.array_equal(np.delete(mn, 7), np.delete(np.nanmin(x, 0), 7))
    p = reduce(device, entry, 1, f32(np.full((3, 5), 2.0)), 1).view(np.float32)[:, 0]
    assert list(p) == [32, 32, 32]
    i = np.arange(-50, 50, dtype=np.int32).reshape(4, 25)
    assert list(reduce(device, entry, 0, i, 1, t=I32).view(np.int32)[:, 0]) == list(i.sum(1))
    assert list(reduce(device, entry, 3, i, 0, t=I32).view(np.int32)[:, 0]) == list(i.min(0))


@pytest.mark.parametrize("entry", ["per_thread", "per_workgroup"])
def test_argmax_argmin(device, entry):
    x = f32(np.random.default_rng(10).standard_normal((6, 1500)))
    x[1, 100] = x[1, 900] = 50.0  # a tie: the first wins
    x[2, 1400] = np.nan
    x[2, 1450] = np.nan  # the first NaN wins
    rows, cols = x.shape
    for kind, ref in [(2, np.argmax), (3, np.argmin)]:
        params = walk((rows, cols), [(0, cols), (0, 1)], split=1, count=rows, u=(cols, 0, 0, 0))
        grid = (rows, 1, 1) if entry == "per_workgroup" else groups(rows)
        _, out = run(device, "arg_reduce.wgsl", entry, params, [(x, False), (np.zeros(rows, np.uint32), True)], grid, {"KIND": kind, "T": F32})
        want = ref(x, axis=1)
        want[2] = 1400
        assert list(out) == list(want)
    i = np.array([[3, 9, 9, -1]], np.int32)
    params = walk((1, 4), [(0, 4), (0, 1)], split=1, count=1, u=(4, 0, 0, 0))
    _, out = run(device, "arg_reduce.wgsl", entry, params, [(i, False), (np.zeros(1, np.uint32), True)], (1, 1, 1), {"KIND": 2, "T": I32})
    assert out[0] == 1


# ---- softmax.wgsl --------------------------------------------------------------------------


@pytest.mark.parametrize("entry, cols", [("per_thread", 10), ("per_workgroup", 300)])
@pytest.mark.parametrize("log", [False, True])
def test_softmax_rows_of_a_transposed_view(device, entry, cols, log):
    rows = 9
    x = f32(np.random.default_rng(cols).standard_normal((rows, cols)) * 5)
    x[4] = -np.inf
    x[4, 2] = 1.0
    stored = np.ascontiguousarray(x.T)  # read x through strides (1, rows)
    params = walk((rows, cols), [(0, 1), (0, rows)], split=1, count=rows, u=(cols, 0, 0, 0))
    grid = (rows, 1, 1) if entry == "per_workgroup" else groups(rows)
    _, out = run(device, "softmax.wgsl", entry, params, [(stored, False), (np.zeros(rows * cols, np.uint32), True)], grid, {"LOG": log})
    got = out.view(np.float32).reshape(rows, cols)
    x64 = x.astype(np.float64)
    m = x64.max(1, keepdims=True)
    lse = m + np.log(np.exp(x64 - m).sum(1, keepdims=True))
    want = x64 - lse if log else np.exp(x64 - lse)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)


# ---- gather.wgsl, scatter.wgsl -------------------------------------------------------------


def test_gather_from_a_strided_source(device):
    src = f32(np.arange(30).reshape(5, 6))  # read as its transpose: logical shape (6, 5)
    idx = np.array([0, 29, 7, -1, 30, 12], np.int32)
    params = walk((6, 5), [(0, 1, 0), (0, 6, 0)], count=6, u=(30, 0, 0, 0))
    *_, out = run(device, "gather.wgsl", "main", params, [(src, False), (idx, False), (np.zeros(6, np.uint32), True)], groups(6))
    flat = src.T.ravel()
    assert list(out.view(np.float32)) == [flat[0], flat[29], flat[7], 0, 0, flat[12]]  # out of range reads 0


def test_scatter_add_accumulates_repeats_atomically(device):
    n = 5000
    idx = (np.arange(n) % 7).astype(np.int32)
    vals = f32(np.random.default_rng(11).uniform(0, 1, n))
    params = walk((n,), [(0, 1)], count=n, u=(7, 0, 0, 0))
    *_, out = run(device, "scatter.wgsl", "main", params, [(vals, False), (idx, False), (np.zeros(7, np.uint32), True)], groups(n),
                  {"ACCUMULATE": True, "T": F32})
    want = np.bincount(idx, weights=vals.astype(np.float64), minlength=7)
    np.testing.assert_allclose(out.view(np.float32), want, rtol=1e-4)
    ivals = np.ones(n, np.int32)
    *_, out = run(device, "scatter.wgsl", "main", params, [(ivals, False), (idx, False), (np.zeros(7, np.uint32), True)], groups(n),
                  {"ACCUMULATE": True, "T": I32})
    assert list(out) == list(np.bincount(idx))
    put = np.array([4, -1, 9, 1], np.int32)  # out-of-range indices are skipped
    params = walk((4,), [(0, 1)], offsets=(2, 0, 0, 0), count=4, u=(6, 0, 0, 0))
    *_, out = run(device, "scatter.wgsl", "main", params, [(f32([1, 2, 3, 4]), False), (put, False), (f32(np.zeros(8)), True)], groups(4),
                  {"ACCUMULATE": False, "T": F32})
    assert list(out.view(np.float32)) == [0, 0, 0, 4, 0, 0, 1, 0]


# ---- matmul.wgsl, matmul_naive.wgsl ----------------------------------------------------------


def matmul_params(m, n, k, a, b, batch=1, batch_strides=(0, 0), bias_off=0):
    """Params for C = A @ B with A given as (offset, row stride, col stride), B likewise."""
    (a_off, a_rs, a_cs), (b_off, b_rs, b_cs) = a, b
    words = [m, n, k, batch, a_off, a_rs, a_cs, bias_off, b_off, b_rs, b_cs, 0, 1 if batch > 1 else 0, 0, 0, 0,
             batch, 0, 0, 0, batch_strides[0], 0, 0, 0, batch_strides[1], 0, 0, 0]
    return struct.pack(f"{len(words)}I", *words)


@pytest.mark.parametrize("tm", [4, 8])
@pytest.mark.parametrize("a_t, b_t", [(False, False), (False, True), (True, False), (True, True)])
@pytest.mark.parametrize("m, n, k", [(70, 45, 33), (128, 128, 64), (1, 5, 1)])
def test_tiled_matmul_variants(device, tm, a_t, b_t, m, n, k):
    rng = np.random.default_rng(m * n + k + tm)
    a = f32(rng.standard_normal((m, k)))
    b = f32(rng.standard_normal((k, n)))
    bias = f32(rng.standard_normal(n))
    # store each operand row-major or transposed; the kernel reads it through strides
    a_store, a_desc = (np.ascontiguousarray(a.T), (0, 1, m)) if a_t else (a, (0, k, 1))
    b_store, b_desc = (np.ascontiguousarray(b.T), (0, 1, k)) if b_t else (b, (0, n, 1))
    tile, bk = 16 * tm, 1024 // (16 * tm)
    a_kcontig, b_ncontig = not a_t, not b_t
    a_vec = (k % 4 == 0) if a_kcontig else (m % 4 == 0)
    b_vec = (n % 4 == 0) if b_ncontig else (k % 4 == 0)
    bounds = m % tile != 0 or n % tile != 0 or k % bk != 0
    consts = {"TM": tm, "A_KCONTIG": a_kcontig, "B_NCONTIG": b_ncontig, "A_VEC": a_vec, "B_VEC": b_vec, "BOUNDS": bounds, "BIAS": True}
    grid = (math.ceil(n / tile), math.ceil(m / tile), 1)
    out = run(device, "matmul.wgsl", "main", matmul_params(m, n, k, a_desc, b_desc),
              [(a_store, False), (a_store, False), (b_store, False), (b_store, False), (bias, False), (np.zeros(m * n, np.uint32), True)],
              grid, consts)[-1]
    want = a.astype(np.float64) @ b.astype(np.float64) + bias
    np.testing.assert_allclose(out.view(np.float32).reshape(m, n), want, rtol=1e-4, atol=1e-4)


def test_batched_matmul_with_a_broadcast_operand(device):
    rng = np.random.default_rng(12)
    a = f32(rng.standard_normal((3, 10, 6)))
    b = f32(rng.standard_normal((6, 9)))  # shared by every batch entry: batch stride 0
    consts = {"TM": 4, "A_KCONTIG": True, "B_NCONTIG": True, "A_VEC": False, "B_VEC": False, "BOUNDS": True, "BIAS": False}
    params = matmul_params(10, 9, 6, (0, 6, 1), (0, 9, 1), batch=3, batch_strides=(60, 0))
    out = run(device, "matmul.wgsl", "main", params,
              [(a, False), (a, False), (b, False), (b, False), (b, False), (np.zeros(270, np.uint32), True)], (1, 1, 3), consts)[-1]
    np.testing.assert_allclose(out.view(np.float32).reshape(3, 10, 9), a @ b, rtol=1e-5, atol=1e-5)


def test_integer_matmul_kernel(device):
    a = np.arange(-6, 6, dtype=np.int32).reshape(3, 4)
    b = np.arange(8, dtype=np.int32).reshape(2, 4)  # read transposed
    params = matmul_params(3, 2, 4, (0, 4, 1), (0, 1, 4))
    out = run(device, "matmul_naive.wgsl", "main", params, [(a, False), (b, False), (np.zeros(6, np.uint32), True)], (1, 1, 1))[-1]
    assert out.view(np.int32).reshape(3, 2).tolist() == (a @ b.T).tolist()


# ---- random.wgsl -----------------------------------------------------------------------------


def philox4x32_10(counter, key):
    """Reference Philox4x32-10 (Random123)."""
    c, k = list(counter), list(key)
    for _ in range(10):
        p0, p1 = 0xD2511F53 * c[0], 0xCD9E8D57 * c[2]
        c = [(p1 >> 32) ^ c[1] ^ k[0], p1 & 0xFFFFFFFF, (p0 >> 32) ^ c[3] ^ k[1], p0 & 0xFFFFFFFF]
        k = [(k[0] + 0x9E3779B9) & 0xFFFFFFFF, (k[1] + 0xBB67AE85) & 0xFFFFFFFF]
    return c


def test_reference_philox_matches_random123_answers():
    assert philox4x32_10([0, 0, 0, 0], [0, 0]) == [0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8]
    assert philox4x32_10([0xFFFFFFFF] * 4, [0xFFFFFFFF] * 2) == [0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD]
    pi = [0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344]
    assert philox4x32_10(pi, [0xA4093822, 0x299F31D0]) == [0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1]


def random(device, mode, n, key, f, base=0, stream=0):
    params = walk((), [], count=n, base=base, u=(key[0], key[1], stream, 0), f=f)
    (out,) = run(device, "random.wgsl", "main", params, [(np.zeros(base + n, np.uint32), True)], groups(math.ceil(n / 4)), {"MODE": mode})
    return out[base:].view(np.float32)


def test_random_words_are_philox(device):
    for key, base, stream in [((0, 0), 0, 0), ((0xDEADBEEF, 12345), 0, 0), ((7, 9), 64, 3)]:
        u = random(device, 0, 40, key, (0.0, 1.0, 0, 0), base=base, stream=stream)
        top24 = np.round(u.astype(np.float64) * 2**24).astype(np.uint64)
        want = []
        for t in range(10):
            want += [w >> 8 for w in philox4x32_10([base // 4 + t, stream, 0, 0], list(key))]
        assert top24.tolist() == want


def test_random_distributions(device):
    n = 100_000
    u = random(device, 0, n, (1, 2), (-2.0, 3.0, 0, 0))
    assert -2 <= u.min() and u.max() < 3 and abs(u.mean() - 0.5) < 0.03
    z = random(device, 1, n, (3, 4), (1.0, 2.0, 0, 0))
    assert abs(z.mean() - 1) < 0.03 and abs(z.std() - 2) < 0.03
    assert abs((np.abs(z - 1) < 2).mean() - 0.6827) < 0.01
    mask = random(device, 2, n, (5, 6), (0.75, 4.0, 0, 0))
    assert set(np.unique(mask).tolist()) == {0.0, 4.0} and abs((mask > 0).mean() - 0.75) < 0.01


# ---- optim.wgsl ------------------------------------------------------------------------------


def optim_params(offsets=(0, 0, 0, 0), extra=(0, 0, 0, 0), f0=(0, 0, 0, 0), f1=(0, 0, 0, 0), f2=(0, 0, 0, 0)):
    """The `Optim` uniform of optim.wgsl."""
    return np.array(offsets, np.uint32).tobytes() + np.array(extra, np.uint32).tobytes() + np.array(f0 + f1 + f2, np.float32).tobytes()


@pytest.mark.parametrize("momentum, first, nesterov, decay, maximize",
                         [(0.0, False, False, 0.0, False), (0.0, False, False, 0.1, True), (0.9, True, False, 0.0, False),
                          (0.9, False, False, 0.01, False), (0.9, False, True, 0.01, True)])
def test_sgd_updates_match_pytorch_rule(device, momentum, first, nesterov, decay, maximize):
    rng = np.random.default_rng(0)
    n, lr, dampening = 1000, 0.1, 0.0 if nesterov else 0.25
    p, g, b = (f32(rng.standard_normal(n + 3)) for _ in range(3))  # element 0..2: skipped by offsets
    sign = -1.0 if maximize else 1.0
    params = optim_params((3, 3, 3, 0), (0, n, 0, 0), (sign, lr, momentum, 1 - dampening), (decay, 0, 0, 0))
    if momentum == 0.0:
        out_p, _ = run(device, "optim.wgsl", "sgd", params, [(p, True), (g, False)], groups(n), {"DECAY": decay != 0.0})
    else:
        constants = {"DECAY": decay != 0.0, "MOMENTUM": 1 if first else 2, "NESTEROV": nesterov}
        out_p, _, out_b = run(device, "optim.wgsl", "sgd_momentum", params, [(p, True), (g, False), (b, True)], groups(n), constants)
    d = sign * g[3:].astype(np.float64) + decay * p[3:]
    if momentum:
        new_b = d if first else momentum * b[3:] + (1 - dampening) * d
        np.testing.assert_allclose(out_b.view(np.float32)[3:], new_b, rtol=1e-5, atol=1e-6)
        d = d + momentum * new_b if nesterov else new_b
    np.testing.assert_allclose(out_p.view(np.float32)[3:], p[3:] - lr * d, rtol=1e-5, atol=1e-6)
    assert out_p.view(np.float32)[:3].tolist() == p[:3].tolist()  # outside the window's range


@pytest.mark.parametrize("amsgrad", [False, True])
@pytest.mark.parametrize("decay, decoupled", [(0.0, False), (0.1, False), (0.1, True)])
def test_adam_updates_match_pytorch_rule(device, amsgrad, decay, decoupled):
    rng = np.random.default_rng(1)
    n, lr, b1, b2, eps, t = 777, 1e-2, 0.9, 0.999, 1e-8, 3
    p, g, m = (f32(rng.standard_normal(n)) for _ in range(3))
    v, vmax = f32(rng.random(n)), f32(rng.random(n))
    step_size, bc2 = lr / (1 - b1**t), math.sqrt(1 - b2**t)
    shrink = 1 - lr * decay if decoupled else 1.0
    params = optim_params((0, 0, 0, 0), (0, n, 0, 0), (1.0, shrink, decay, 1 - b1), (b2, 1 - b2, eps, step_size), (1 / bc2, 0, 0, 0))
    buffers = [(p, True), (g, False), (m, True), (v, True)] + ([(vmax, True)] if amsgrad else [])
    out = run(device, "optim.wgsl", "amsgrad" if amsgrad else "adam", params, buffers, groups(n), {"L2": decay != 0.0 and not decoupled})
    # PyTorch's single-tensor Adam, in float64
    p64, g64 = p.astype(np.float64), g.astype(np.float64)
    if decay and not decoupled:
        g64 = g64 + decay * p64
    p64 = p64 * shrink
    m_new = m + (1 - b1) * (g64 - m)
    v_new = b2 * v + (1 - b2) * g64 * g64
    second = np.maximum(vmax, v_new) if amsgrad else v_new
    want = p64 - step_size * m_new / (np.sqrt(second) / bc2 + eps)
    np.testing.assert_allclose(out[2].view(np.float32), m_new, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out[3].view(np.float32), v_new, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out[0].view(np.float32), want, rtol=1e-5, atol=1e-6)
    if amsgrad:
        np.testing.assert_allclose(out[4].view(np.float32), second, rtol=1e-6)


def test_every_shader_is_covered_here():
    here = Path(__file__).read_text()
    for path in SHADERS.glob("*.wgsl"):
        text = path.read_text()
        is_library = "@compute" not in text
        assert is_library or f'"{path.name}"' in here, f"{path.name} has no direct test"


def test_libraries_compile_alone(device):
    for name in ["strided.wgsl", "math.wgsl"]:
        device.create_shader_module(code=source("strided.wgsl") + ("\n" + source(name) if name != "strided.wgsl" else ""))
    device.create_shader_module(code=source("matmul_params.wgsl"))  # needs nothing else


# ---- norm.wgsl (the nn engineer's fused row normalisation) -----------------------------------


def norm_params(offsets, rows, cols, eps):
    return np.array(offsets, np.uint32).tobytes() + np.array([rows, cols, 0, 0], np.uint32).tobytes() + np.array([eps, 0, 0, 0], np.float32).tobytes()


@pytest.mark.parametrize("cols", [1, 5, 300])
def test_norm_rows_forward_and_backward(device, cols):
    rng = np.random.default_rng(4)
    rows, eps = 3, 1e-5
    x = f32(rng.standard_normal(rows * cols + 2) * 3 + 100)  # the first two elements are skipped
    y, rstd = np.zeros(rows * cols, np.float32), np.zeros(rows, np.float32)
    _, out_y, out_r = run(device, "norm.wgsl", "forward", norm_params((2, 0, 0, 0), rows, cols, eps), [(x, False), (y, True), (rstd, True)], (rows, 1, 1))
    xr = x[2:].astype(np.float64).reshape(rows, cols)
    want_r = 1 / np.sqrt(xr.var(1) + eps)
    want_y = (xr - xr.mean(1, keepdims=True)) * want_r[:, None]
    np.testing.assert_allclose(out_r.view(np.float32), want_r, rtol=1e-4)
    np.testing.assert_allclose(out_y.view(np.float32).reshape(rows, cols), want_y, rtol=1e-4, atol=1e-4)
    g = f32(rng.standard_normal(rows * cols))
    yv, rv = out_y.view(np.float32), out_r.view(np.float32)
    dx = np.zeros(rows * cols, np.float32)
    out = run(device, "norm.wgsl", "backward", norm_params((0, 0, 0, 0), rows, cols, 0.0), [(g, False), (yv, False), (rv, False), (dx, True)], (rows, 1, 1))
    g2, y2 = g.astype(np.float64).reshape(rows, cols), yv.astype(np.float64).reshape(rows, cols)
    want_dx = rv[:, None] * (g2 - g2.mean(1, keepdims=True) - y2 * (g2 * y2).mean(1, keepdims=True))
    np.testing.assert_allclose(out[3].view(np.float32).reshape(rows, cols), want_dx, rtol=1e-4, atol=1e-5)
