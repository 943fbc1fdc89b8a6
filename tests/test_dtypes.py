"""The dtypes beyond float32/float64/int64/bool: float16, bfloat16, int32, int16, int8, uint8.

References: NumPy in the same dtype (wrapping integer arithmetic, float16 rounding), a NumPy
bfloat16 rounding written here, numbers printed by PyTorch 2.15 (noted where used), and the
promotion table `fixtures/promotion_table.json` (made by `fixtures/make_promotion_table.py`).
"""

import json
import os

import numpy as np
import pytest

import backprop as bp

NUMPY_DTYPES = {
    "bool": np.bool_, "uint8": np.uint8, "int8": np.int8, "int16": np.int16, "int32": np.int32,
    "int64": np.int64, "float16": np.float16, "float32": np.float32, "float64": np.float64,
}
ALL = ["bool", "uint8", "int8", "int16", "int32", "int64", "float16", "bfloat16", "float32", "float64"]
INTS = ["uint8", "int8", "int16", "int32", "int64"]
TABLE = json.load(open(os.path.join(os.path.dirname(__file__), "fixtures", "promotion_table.json")))


def dt(name):
    return getattr(bp, name)


def bf16_round(a):
    """float32 values rounded to bfloat16 (nearest, ties to even), returned as float32."""
    bits = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) & 0xFFFF0000
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(a), np.float32(np.nan), out)


# ---- names and limits


def test_dtype_objects_and_torch_aliases():
    for name in ALL:
        assert dt(name).name == name and repr(dt(name)) == f"backprop.{name}"
    assert bp.half is bp.float16 and bp.int is bp.int32 and bp.short is bp.int16 and bp.long is bp.int64
    assert bp.float is bp.float32 and bp.double is bp.float64
    assert [dt(n).itemsize for n in ALL] == [1, 1, 1, 2, 4, 8, 2, 2, 4, 8]
    assert [n for n in ALL if dt(n).is_floating_point] == ["float16", "bfloat16", "float32", "float64"]


@pytest.mark.parametrize("name", ["float16", "float32", "float64"])
def test_finfo_matches_numpy(name):
    f, ref = bp.finfo(dt(name)), np.finfo(NUMPY_DTYPES[name])
    assert f.bits == ref.bits and f.eps == ref.eps and f.max == ref.max and f.min == ref.min
    assert f.tiny == f.smallest_normal == ref.smallest_normal and f.resolution == ref.resolution and f.dtype == name


def test_finfo_bfloat16_and_default():
    # torch.finfo(torch.bfloat16), PyTorch 2.15
    f = bp.finfo(bp.bfloat16)
    assert (f.bits, f.eps, f.resolution, f.dtype) == (16, 0.0078125, 0.01, "bfloat16")
    assert f.max == 3.3895313892515355e38 == -f.min and f.tiny == f.smallest_normal == 1.1754943508222875e-38
    assert bp.finfo().dtype == "float32"
    with pytest.raises(TypeError, match="iinfo"):
        bp.finfo(bp.int32)


@pytest.mark.parametrize("name", INTS)
def test_iinfo_matches_numpy(name):
    i, ref = bp.iinfo(dt(name)), np.iinfo(NUMPY_DTYPES[name])
    assert (i.bits, i.min, i.max, i.dtype) == (ref.bits, ref.min, ref.max, name)


def test_iinfo_refuses_floats_and_bool():
    for d in (bp.float16, bp.bool):
        with pytest.raises(TypeError):
            bp.iinfo(d)


# ---- promotion: the table PyTorch printed


def test_promote_types_and_can_cast_match_pytorch():
    for a, b, want in TABLE["promote_types"]:
        assert bp.promote_types(dt(a), dt(b)) == dt(want), (a, b)
    for a, b, want in TABLE["can_cast"]:
        assert bp.can_cast(dt(a), dt(b)) is want, (a, b)


def operand(kind, name):
    if kind == "scalar":
        return {"bool": False, "int64": 1, "float32": 1.5}[name]
    return bp.zeros(2 if kind == "tensor" else (), dtype=dt(name))


def test_result_type_matches_pytorch():
    for ka, a, kb, b, want in TABLE["result_type"]:
        assert bp.result_type(operand(ka, a), operand(kb, b)) == dt(want), (ka, a, kb, b)


def test_arithmetic_returns_the_promoted_dtype():
    for ka, a, kb, b, want in TABLE["result_type"]:
        if "bool" in (a, b) or ka == kb == "scalar" or ka == "scalar":
            continue
        assert (operand(ka, a) + operand(kb, b)).dtype == dt(want), (ka, a, kb, b)


# ---- NumPy and DLPack exchange keep the dtype


@pytest.mark.parametrize("name", [n for n in ALL if n != "bfloat16"])
def test_numpy_round_trip(name):
    a = np.array([[0, 1, 2], [3, 100, 7]]).astype(NUMPY_DTYPES[name])
    t = bp.from_numpy(a)
    assert t.dtype == dt(name) and t.numpy().dtype == a.dtype
    np.testing.assert_array_equal(t.numpy(), a)
    assert bp.tensor(a).dtype == dt(name) and bp.tensor(a).tolist() == a.tolist()
    if name != "bool":  # shared, not copied (bool arrays are always copied)
        a[0, 0] = 5
        assert t[0, 0].item() == 5
    np.testing.assert_array_equal(np.asarray(t), a)


@pytest.mark.parametrize("name", [n for n in ALL if n != "bfloat16"])
def test_dlpack_round_trip(name):
    a = np.array([1, 0, 3]).astype(NUMPY_DTYPES[name])
    t = bp.from_dlpack(a)
    assert t.dtype == dt(name)
    back = np.from_dlpack(t)
    assert back.dtype == a.dtype
    np.testing.assert_array_equal(back, a)


@pytest.mark.parametrize("name", ALL)
def test_from_dlpack_reads_every_dtype_from_the_capsule_and_shares_memory(name):
    # bfloat16 included, which NumPy cannot carry: backprop's own capsule is the producer.
    src = bp.tensor([[1, 0, 3], [4, 5, 0]]).to(dt(name))
    t = bp.from_dlpack(src)
    assert t.dtype == dt(name) and t.tolist() == src.tolist()
    if name != "bool":  # bool bytes are copied (a foreign bool may hold any byte)
        src[0, 0] = 7
        assert t[0, 0].item() == 7
    cols = src[:, 1:]  # a strided view arrives strided, still shared
    v = bp.from_dlpack(cols)
    assert v.shape == (2, 2) and v.stride() == (3, 1) and v.tolist() == cols.tolist()


def test_from_dlpack_edges():
    a = np.arange(12.0).reshape(3, 4)[:, 1:3]
    t = bp.from_dlpack(a)
    t.add_(100)
    assert a[0].tolist() == [101.0, 102.0]
    assert bp.from_dlpack(np.zeros((0, 3))).shape == (0, 3)
    assert bp.from_dlpack(np.array(2.5)).tolist() == 2.5  # 0-d
    capsule = np.arange(3.0).__dlpack__()
    assert bp.from_dlpack(capsule).tolist() == [0.0, 1.0, 2.0]
    with pytest.raises(BufferError, match="read once"):
        bp.from_dlpack(capsule)
    with pytest.raises(BufferError, match="negative strides"):
        bp.from_dlpack(np.arange(4.0)[::-1])
    with pytest.raises(TypeError, match="__dlpack__"):
        bp.from_dlpack([1.0, 2.0])
    frozen = np.arange(3.0)
    frozen.flags.writeable = False
    try:
        capsule = frozen.__dlpack__(max_version=(1, 0))
    except (BufferError, TypeError):
        pass  # this NumPy exports no read-only arrays
    else:
        copy = bp.from_dlpack(capsule)
        copy.add_(1)  # a read-only producer's memory is copied, never written
        assert frozen.tolist() == [0.0, 1.0, 2.0] and copy.tolist() == [1.0, 2.0, 3.0]


def test_bfloat16_has_no_numpy_dtype():
    t = bp.ones(2, dtype=bp.bfloat16)
    with pytest.raises(TypeError, match="BFloat16"):
        t.numpy()
    assert t.tolist() == [1.0, 1.0]


def test_bfloat16_dlpack_with_torch():
    torch = pytest.importorskip("torch")
    t = bp.tensor([1.5, -2.0, 0.1], dtype=bp.bfloat16)
    assert torch.from_dlpack(t).dtype == torch.bfloat16
    assert torch.from_dlpack(t).tolist() == t.tolist() == [1.5, -2.0, 0.10009765625]


# ---- conversions


def test_cast_methods():
    x = bp.tensor([1.7, -2.5, 300.0])
    for method, name in [("half", "float16"), ("bfloat16", "bfloat16"), ("int", "int32"), ("short", "int16"),
                         ("char", "int8"), ("byte", "uint8"), ("float", "float32"), ("double", "float64"),
                         ("long", "int64"), ("bool", "bool")]:
        assert getattr(x, method)().dtype == dt(name), method
        assert x.to(dt(name)).dtype == dt(name)


def test_integer_casts_wrap_as_pytorch():
    # torch.tensor([300, -129, 70000]).to(torch.int8) -> [44, 127, 112]; [300, -1] to uint8 -> [44, 255]
    assert bp.tensor([300, -129, 70000]).to(bp.int8).tolist() == [44, 127, 112]
    assert bp.tensor([300, -1]).to(bp.uint8).tolist() == [44, 255]
    assert bp.tensor([3.7, -3.7]).to(bp.int8).tolist() == [3, -3]
    v = np.array([2**31 + 5, -(2**15) - 3, 255, 256])
    for name in ["uint8", "int8", "int16", "int32"]:
        assert bp.tensor(v).to(dt(name)).tolist() == v.astype(NUMPY_DTYPES[name]).tolist()


def test_half_casts_round_to_nearest_even():
    v = np.array([1.00390625, 3.14159, 1e-40, 65504.0, 70000.0, -2.5, np.nan], dtype=np.float32)
    f16 = bp.tensor(v).half()
    np.testing.assert_array_equal(f16.numpy(), v.astype(np.float16))
    # torch.tensor(v).bfloat16(), PyTorch 2.15
    bf = bp.tensor(v).bfloat16().float().numpy()
    np.testing.assert_array_equal(bf[:6], [1.0, 3.140625, 9.183549615799121e-41, 65536.0, 70144.0, -2.5])
    np.testing.assert_array_equal(bf, bf16_round(v))


# ---- arithmetic in the dtype


@pytest.mark.parametrize("name", ["uint8", "int8", "int16", "int32"])
def test_integer_arithmetic_wraps_like_numpy(name):
    npd = NUMPY_DTYPES[name]
    info = np.iinfo(npd)
    a = np.array([info.max, info.min, 7, 100, 3], dtype=npd)
    b = np.array([1, 1, 3, 3, 250 % (int(info.max) + 1)], dtype=npd)
    ta, tb = bp.from_numpy(a.copy()), bp.from_numpy(b.copy())
    with np.errstate(over="ignore"):
        for op in ["__add__", "__sub__", "__mul__"]:
            got = getattr(ta, op)(tb)
            assert got.dtype == dt(name), op
            np.testing.assert_array_equal(got.numpy(), getattr(a, op)(b), err_msg=op)
        np.testing.assert_array_equal((ta // tb).numpy(), a // b)
        np.testing.assert_array_equal((ta % tb).numpy(), a % b)
        np.testing.assert_array_equal((ta * 3).numpy(), a * npd(3))
        if name != "uint8":
            np.testing.assert_array_equal((-ta).numpy(), -a)
    assert (ta / tb).dtype == bp.float32
    assert (ta * 2.5).dtype == bp.float32


def test_uint8_wraps_as_pytorch():
    # PyTorch 2.15: uint8 [250, 5] + 10 -> [4, 15]; * itself -> [36, 25]; neg -> [6, 251]
    x = bp.tensor([250, 5], dtype=bp.uint8)
    assert (x + 10).tolist() == [4, 15] and (x * x).tolist() == [36, 25] and (-x).tolist() == [6, 251]
    assert (bp.tensor([255], dtype=bp.uint8) + 1).tolist() == [0]


def test_in_place_arithmetic_keeps_the_dtype():
    x = bp.tensor([100, -100], dtype=bp.int8)
    x += 100
    assert x.dtype == bp.int8 and x.tolist() == [-56, 0]
    h = bp.tensor([1.0, 2.0], dtype=bp.float16)
    h.mul_(0.1)
    assert h.dtype == bp.float16
    np.testing.assert_array_equal(h.numpy(), np.array([1.0, 2.0], np.float16) * np.float16(0.1))


def test_integer_division_by_zero_is_an_error():
    for name in ["int8", "uint8", "int32"]:
        with pytest.raises(ZeroDivisionError, match="division by zero"):
            bp.tensor([1, 2], dtype=dt(name)) // bp.tensor([0, 1], dtype=dt(name))


def test_float16_arithmetic_matches_numpy():
    rng = np.random.default_rng(0)
    a = rng.standard_normal(50).astype(np.float16)
    b = (rng.standard_normal(50) + 3).astype(np.float16)
    ta, tb = bp.from_numpy(a), bp.from_numpy(b)
    for op in ["__add__", "__sub__", "__mul__", "__truediv__"]:
        got = getattr(ta, op)(tb)
        assert got.dtype == bp.float16
        np.testing.assert_array_equal(got.numpy(), getattr(a, op)(b), err_msg=op)
    # one rounding of the float32 result, as PyTorch's CPU kernels (NumPy agrees to 1 ulp)
    np.testing.assert_array_equal(ta.exp().numpy(), np.exp(a.astype(np.float32)).astype(np.float16))
    np.testing.assert_array_equal(ta.sum().numpy(), a.astype(np.float32).sum().astype(np.float16))
    assert ta.sum().dtype == bp.float16 and ta.max().item() == a.max()
    m = (ta.reshape(5, 10) @ tb.reshape(10, 5)).numpy()
    np.testing.assert_allclose(m, a.reshape(5, 10).astype(np.float32) @ b.reshape(10, 5).astype(np.float32), rtol=2e-3, atol=1e-2)


def test_bfloat16_arithmetic_matches_pytorch():
    # inputs and results printed by PyTorch 2.15 (bfloat16 tensors, values shown in float64)
    a = bp.tensor([1.5, 2.25, -3.0, 100.5, 0.1, 1e-3], dtype=bp.bfloat16)
    b = bp.tensor([0.3, 1e-3, 7.0, 3.0, 0.7, 300.0], dtype=bp.bfloat16)
    assert b.tolist() == [0.30078125, 0.00099945068359375, 7.0, 3.0, 0.69921875, 300.0]
    assert (a + b).tolist() == [1.796875, 2.25, 4.0, 103.5, 0.80078125, 300.0]
    assert (a * b).tolist() == [0.451171875, 0.0022430419921875, -21.0, 302.0, 0.06982421875, 0.30078125]
    assert (a / b).tolist() == [5.0, 2256.0, -0.427734375, 33.5, 0.1435546875, 3.337860107421875e-06]
    assert a.exp().tolist() == [4.46875, 9.5, 0.0498046875, float("inf"), 1.1015625, 1.0]
    assert a.sum().item() == 101.5 and (a + b).dtype == bp.bfloat16


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_gradients_keep_the_dtype(name):
    x = bp.tensor([0.5, -1.0, 2.0], dtype=dt(name), requires_grad=True)
    (x * x * x).sum().backward()
    # PyTorch 2.15 (bfloat16 and float16 alike): [0.75, 3.0, 12.0]
    assert x.grad.dtype == dt(name) and x.grad.tolist() == [0.75, 3.0, 12.0]
    w = bp.tensor([[0.5, -0.25], [1.0, 2.0]], dtype=dt(name), requires_grad=True)
    v = bp.tensor([1.0, 3.0], dtype=dt(name), requires_grad=True)
    (w @ v).exp().sum().backward()
    wf, vf = w.detach().float().numpy(), v.detach().float().numpy()
    e = np.exp(wf @ vf)
    assert w.grad.dtype == dt(name) and v.grad.dtype == dt(name)
    np.testing.assert_allclose(w.grad.float().numpy(), np.outer(e, vf), rtol=2e-2)
    np.testing.assert_allclose(v.grad.float().numpy(), wf.T @ e, rtol=2e-2)


def test_float16_gradient_against_central_differences():
    x64 = np.array([0.3, -0.7, 1.1])
    x = bp.tensor(x64, dtype=bp.float16, requires_grad=True)
    bp.tanh(x * 2).sum().backward()
    f = lambda v: np.tanh(2 * v).sum()  # noqa: E731
    h = 1e-6
    numeric = [(f(x64 + h * e) - f(x64 - h * e)) / (2 * h) for e in np.eye(3)]
    np.testing.assert_allclose(x.grad.float().numpy(), numeric, rtol=1e-2, atol=1e-3)


# ---- a requested dtype is honoured


@pytest.mark.parametrize("name", ALL)
def test_creation_functions_honour_the_dtype(name):
    d = dt(name)
    made = [bp.zeros(2, 3, dtype=d), bp.ones(2, dtype=d), bp.empty(2, dtype=d), bp.full((2,), 1, dtype=d),
            bp.tensor([1, 0], dtype=d), bp.tensor(1, dtype=d), bp.eye(2, dtype=d)]
    base = bp.zeros(2)
    made += [bp.zeros_like(base, dtype=d), bp.ones_like(base, dtype=d), bp.full_like(base, 1, dtype=d), bp.empty_like(base, dtype=d)]
    if name != "bool":
        made.append(bp.arange(5, dtype=d))
    for t in made:
        assert t.dtype == d
    like = bp.ones(3, dtype=d)
    assert bp.zeros_like(like).dtype == d and bp.ones_like(like).dtype == d
    if d.is_floating_point:
        assert bp.rand(3, dtype=d).dtype == d and bp.randn(3, dtype=d).dtype == d and bp.linspace(0, 1, 4, dtype=d).dtype == d
    if name != "bool":
        assert bp.arange(5, dtype=d).tolist() == list(range(5))


def test_reductions_follow_pytorch_dtypes():
    x = bp.tensor([100, 100, 100], dtype=bp.int8)
    assert x.sum().dtype == bp.int64 and x.sum().item() == 300  # no wrap at 8 bits
    assert x.max().dtype == bp.int8 and x.argmax().dtype == bp.int64
    with pytest.raises((RuntimeError, ValueError), match="mean"):
        x.mean()
    assert bp.ones(3, dtype=bp.float16).sum().dtype == bp.float16


def test_repr_names_the_dtype():
    assert "int8" in repr(bp.tensor([1, 2], dtype=bp.int8))
    assert "float16" in repr(bp.tensor([1.5], dtype=bp.float16))


# ---- files keep the dtype


def test_safetensors_round_trip_every_dtype(tmp_path):
    tensors = {n: bp.tensor([1, 0, 3], dtype=dt(n)) for n in ALL}
    tensors["bfloat16"] = bp.tensor([1.5, -2.0, 0.1], dtype=bp.bfloat16)
    path = tmp_path / "all.safetensors"
    bp.save(tensors, path)
    back = bp.load(path)
    for n, t in tensors.items():
        assert back[n].dtype == t.dtype and back[n].tolist() == t.tolist(), n


def test_safetensors_library_reads_our_bfloat16(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    path = str(tmp_path / "bf.safetensors")
    bp.save({"w": bp.tensor([1.5, -2.0], dtype=bp.bfloat16), "h": bp.tensor([0.5], dtype=bp.float16)}, path)
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8 : 8 + n])
    assert header["w"]["dtype"] == "BF16" and header["h"]["dtype"] == "F16"
    bp.save({"h": bp.tensor([0.5], dtype=bp.float16)}, path)  # NumPy (so safetensors.numpy) lacks bfloat16
    assert st.load_file(path)["h"].dtype == np.float16


# ---- the GPU holds float32, float16, bfloat16, int32, int64 and bool; the others are refused clearly


@pytest.mark.parametrize("name", ["int16", "int8", "uint8"])
def test_gpu_refuses_the_new_dtypes_clearly(name):
    if not bp.gpu.is_available():
        pytest.skip("no GPU adapter")
    with pytest.raises(bp.DTypeError, match=name) as e:
        bp.zeros(2, dtype=dt(name)).to("gpu")
    assert 'to("cpu")' in str(e.value)


def test_int32_on_the_gpu_matches_the_cpu():
    if not bp.gpu.is_available():
        pytest.skip("no GPU adapter")
    values = [1, -2, 7, 2**31 - 1, -(2**31)]
    c = bp.tensor(values, dtype=bp.int32)
    g = c.to("gpu")
    assert g.dtype == bp.int32 and g.device.type == "gpu" and g.cpu().tolist() == values
    for op in (lambda t: t + 1, lambda t: t * t, lambda t: t // 3, lambda t: -t, lambda t: t.abs()):
        r, want = op(g), op(c)
        assert r.dtype == bp.int32 and r.cpu().tolist() == want.tolist()  # wraps at 32 bits, as the CPU
    assert (g == 7).cpu().tolist() == [False, False, True, False, False]
    assert g[:3].sum().item() == 6 and g[:3].sum().dtype == bp.int64
    assert bp.sort(g)[0].cpu().tolist() == sorted(values)
    assert g.float().cpu().tolist() == c.float().tolist() and g.long().dtype == bp.int64
    assert bp.arange(4, dtype=bp.int32, device="gpu").cpu().tolist() == [0, 1, 2, 3]


def test_float_to_half_rounds_once_as_numpy():
    # Values just above a tie, ties, overflow, signed zero and float16 subnormals: one
    # correct rounding from the float32/float64 value, as NumPy's astype (half 2.7's own
    # float64 conversion dropped the bits past a tie and gave -1750 for the first).
    v = np.array([-1750.500244140625, 1750.5, 1751.5, 65504.0, 65519.99, 65520.0, -0.0, 2.0**-24, 2.0**-25, 3 * 2.0**-25, 1e-9], dtype=np.float32)
    np.testing.assert_array_equal(bp.from_numpy(v).half().float().numpy(), v.astype(np.float16).astype(np.float32))
    np.testing.assert_array_equal(bp.from_numpy(v.astype(np.float64)).half().float().numpy(), v.astype(np.float16).astype(np.float32))
    assert bp.tensor([-1348.0009765625]).bfloat16().tolist() == [-1352.0]  # bfloat16's neighbours: -1344, -1352
    assert np.signbit(bp.tensor([-0.0]).half().float().numpy()[0])


@pytest.mark.parametrize("name", ["float16", "bfloat16"])
def test_half_types_on_the_gpu_match_the_cpu(name):
    if not bp.gpu.is_available():
        pytest.skip("no GPU adapter")
    d = dt(name)
    rng = np.random.default_rng(0)
    v = np.concatenate([rng.standard_normal(5000) * 1000, rng.standard_normal(1000) * 1e-6, [65504.0, 65520.0, -0.0, np.nan, np.inf]]).astype(np.float32)
    x = bp.from_numpy(v)
    g = x.to("gpu").to(d)  # rounded by the GPU's cast
    assert g.dtype == d and g.device.type == "gpu"
    np.testing.assert_array_equal(g.cpu().float().numpy(), x.to(d).float().numpy())
    c = x.to(d)
    assert c.to("gpu").cpu().tolist() == c.tolist() or np.array_equal(c.to("gpu").cpu().float().numpy(), c.float().numpy(), equal_nan=True)
    for op in (lambda t: t + t, lambda t: t * 3.3, lambda t: (t / 1000).exp(), lambda t: t[:5000].sum(), lambda t: (t > 1)):
        r, want = op(c.to("gpu")), op(c)
        assert r.dtype == want.dtype
        np.testing.assert_array_equal(r.cpu().float().numpy(), want.float().numpy())
    w = bp.randn(4, 3, device="gpu").to(d).requires_grad_()
    (w * w).sum().backward()
    assert w.grad.dtype == d and w.grad.device.type == "gpu"
    np.testing.assert_array_equal(w.grad.cpu().float().numpy(), (2 * w.detach().cpu()).float().numpy())


def test_int32_tensors_index_as_pytorch_accepts_them(device):
    x = bp.arange(15, dtype=bp.float32, device=device).reshape(5, 3)
    i = bp.tensor([0, 4, -1], dtype=bp.int32, device=device)
    assert x[i].cpu().tolist() == x[i.long()].cpu().tolist()
    assert bp.index_select(x, 0, i[:2]).cpu().tolist() == [[0.0, 1.0, 2.0], [12.0, 13.0, 14.0]]
    with pytest.raises(IndexError, match="int64, int32 or bool"):
        x[bp.tensor([0.0], device=device)]
    with pytest.raises(IndexError, match="int64, int32 or bool"):
        bp.arange(3)[bp.tensor([0], dtype=bp.int16)]


def test_bfloat16_prints_and_pickles():
    import pickle

    t = bp.tensor([1.5, -2.0], dtype=bp.bfloat16)
    assert repr(t) == "tensor([ 1.5, -2. ], dtype=backprop.bfloat16)"
    back = pickle.loads(pickle.dumps(t))
    assert back.dtype == bp.bfloat16 and back.tolist() == [1.5, -2.0]


@pytest.mark.parametrize("name", ["int8", "uint8", "int16", "int32", "float16"])
def test_sorts_and_scans_run_in_every_storage_dtype(name):
    # The scan and sort dispatch widens storage dtypes like every other kernel: values come
    # back in the input's dtype (cumsum of an integer promotes to int64, as PyTorch), indices
    # stay int64.
    a = np.array([5, 1, 4, 1, 3], dtype=name)
    t = bp.tensor(a)
    values, indices = t.sort()
    assert values.dtype == t.dtype and indices.dtype == bp.int64
    np.testing.assert_array_equal(values.numpy(), np.sort(a, kind="stable"))
    np.testing.assert_array_equal(indices.numpy(), np.argsort(a, kind="stable"))
    running = t.cummax(0)
    assert running.values.dtype == t.dtype
    np.testing.assert_array_equal(running.values.numpy(), np.maximum.accumulate(a))
    total = t.cumsum(0)
    expected = np.cumsum(a.astype(np.float32 if a.dtype.kind == "f" else np.int64)).astype(a.dtype if a.dtype.kind == "f" else np.int64)
    assert total.dtype == (t.dtype if a.dtype.kind == "f" else bp.int64)
    np.testing.assert_array_equal(total.numpy(), expected)


def test_bfloat16_sorts_and_scans():
    t = bp.tensor([2.5, -1.0, 0.5], dtype=bp.bfloat16)
    assert t.sort().values.float().tolist() == [-1.0, 0.5, 2.5]
    assert t.cumsum(0).dtype == bp.bfloat16
    assert t.cumsum(0).float().tolist() == [2.5, 1.5, 2.0]
