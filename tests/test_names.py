"""PyTorch's names and aliases that real scripts use: `Size`, `type()`, the default dtype and
device, print options, `range` indices, `new_*`, the small Tensor attributes, and the errors
for names backprop lacks (worded from a committed list of PyTorch's names, no torch needed)."""

import pickle

import numpy as np
import pytest

import backprop as bp
from conftest import to_np


def test_utils_data_is_data():
    import backprop.data
    import backprop.utils.data
    from backprop.utils.data import DataLoader, TensorDataset

    assert DataLoader is backprop.data.DataLoader and TensorDataset is backprop.data.TensorDataset
    assert bp.utils.data.random_split is bp.data.random_split
    import backprop.utils.data.sampler as s

    assert s is backprop.data.sampler


def test_size_is_a_tuple_with_numel():
    x = bp.zeros(2, 3, 4)
    s = x.shape
    assert isinstance(s, bp.Size) and isinstance(s, tuple)
    assert s == (2, 3, 4) and x.size() == s and s.numel() == 24 == x.numel()
    assert isinstance(x.size(1), int) and x.size(1) == 3 and x.size(-1) == 4
    assert isinstance(s[1:], bp.Size) and s[1:] == (3, 4) and isinstance(s[0], int)
    assert isinstance(s + (5,), bp.Size) and isinstance((1,) + s, bp.Size)
    assert repr(s) == "backprop.Size([2, 3, 4])"
    assert bp.Size([]).numel() == 1 and bp.tensor(1.0).shape == bp.Size()
    assert pickle.loads(pickle.dumps(s)) == s and type(pickle.loads(pickle.dumps(s))) is bp.Size
    assert bp.zeros(*s).shape == s and bp.zeros(s).shape == s
    a, b, c = s
    assert (a, b, c) == (2, 3, 4)


def test_type_names_and_casts(device):
    x = bp.zeros(2, device=device)
    prefix = "backprop." if device == "cpu" else "backprop.gpu."
    assert x.type() == prefix + "FloatTensor"
    assert bp.zeros(2, dtype=bp.int64, device=device).type() == prefix + "LongTensor"
    assert bp.zeros(2, dtype=bp.bool, device=device).type() == prefix + "BoolTensor"
    assert x.type(bp.int64).dtype == bp.int64 and x.type(bp.float32) is x
    assert x.type("torch.LongTensor").type() == "backprop.LongTensor"
    assert x.type("backprop.FloatTensor").device.type == "cpu"
    with pytest.raises(ValueError, match="invalid type: 'foo'"):
        x.type("foo")


def test_type_to_double_and_gpu_names():
    x = bp.zeros(2)
    assert x.type("torch.DoubleTensor").dtype == bp.float64
    assert x.type(bp.float64).type() == "backprop.DoubleTensor"


def test_default_dtype_is_honoured():
    assert bp.get_default_dtype() == bp.float32
    try:
        bp.set_default_dtype(bp.float64)
        assert bp.get_default_dtype() == bp.float64
        assert bp.tensor(1.5).dtype == bp.float64 and bp.tensor([1.0, 2.0]).dtype == bp.float64
        for t in (bp.zeros(2), bp.ones(2), bp.empty(2), bp.rand(2), bp.randn(2), bp.full((2,), 1.5), bp.arange(0.0, 2.0), bp.linspace(0, 1, 3), bp.eye(2)):
            assert t.dtype == bp.float64, t
        assert bp.normal(0.0, 1.0, size=(2,)).dtype == bp.float64
        assert bp.tensor([1, 2]).dtype == bp.int64 and bp.arange(3).dtype == bp.int64
        assert bp.Tensor([1, 2]).dtype == bp.float64
        assert bp.nn.Linear(2, 3).weight.dtype == bp.float64
        with pytest.raises(TypeError, match="floating-point"):
            bp.set_default_dtype(bp.int64)
    finally:
        bp.set_default_dtype(bp.float32)
    assert bp.tensor(1.5).dtype == bp.float32 and bp.zeros(1).dtype == bp.float32


def test_default_device_is_honoured(device):
    assert bp.get_default_device() == bp.device("cpu")
    try:
        bp.set_default_device(device)
        assert bp.get_default_device().type == device
        for t in (bp.tensor(1.5), bp.tensor([1, 2]), bp.zeros(2), bp.ones(2), bp.rand(2), bp.randn(2), bp.randint(3, (2,)), bp.arange(3), bp.eye(2)):
            assert t.device.type == device, t
        assert bp.zeros(2, device="cpu").device.type == "cpu"
    finally:
        bp.set_default_device(None)
    assert bp.zeros(2).device.type == "cpu"


def test_set_printoptions():
    x = bp.tensor([1.23456, 2.0])
    try:
        bp.set_printoptions(precision=2)
        assert repr(x) == "tensor([1.23, 2.  ])"
        bp.set_printoptions(threshold=5, edgeitems=1)
        assert repr(bp.arange(10.0)) == "tensor([0., ..., 9.])"
        bp.set_printoptions(profile="full")
        assert "..." not in repr(bp.arange(2000.0))
        bp.set_printoptions(profile="default", linewidth=20)
        assert len(repr(bp.arange(10.0)).splitlines()) > 1
        bp.set_printoptions(profile="default", sci_mode=True)
        assert repr(bp.tensor([1e-5, 1.0])) == "tensor([1.0000e-05, 1.0000e+00])"
        bp.set_printoptions(sci_mode=False)
        assert repr(bp.tensor([1e-5, 1.0, 12345.678])) == "tensor([    0.0000,     1.0000, 12345.6777])"  # PyTorch's
        with pytest.raises(ValueError, match="Invalid profile"):
            bp.set_printoptions(profile="long")
        with bp.printoptions(precision=1):
            assert repr(x) == "tensor([1.2, 2. ])"
        assert bp.get_printoptions()["precision"] == 4
    finally:
        bp.set_printoptions(profile="default")
    assert repr(bp.arange(3.0)) == "tensor([0., 1., 2.])"
    assert bp.get_printoptions() == {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80, "sci_mode": None}


def test_range_indexing(device):
    x = bp.arange(10, device=device)
    assert to_np(x[range(0, 10, 3)]).tolist() == [0, 3, 6, 9]
    assert to_np(x[range(0)]).tolist() == []
    m = bp.arange(12, device=device).reshape(3, 4)
    assert to_np(m[range(1, 3), 0]).tolist() == [4, 8]
    y = bp.zeros(5, device=device)
    y[range(1, 4)] = 1.0
    assert to_np(y).tolist() == [0, 1, 1, 1, 0]


def test_new_factories(device):
    x = bp.zeros(2, dtype=bp.float32, device=device, requires_grad=True)
    for t in (x.new_zeros(2, 3), x.new_zeros((2, 3)), x.new_ones([2, 3]), x.new_empty(2, 3), x.new_full((2, 3), 7.0)):
        assert t.shape == (2, 3) and t.dtype == bp.float32 and t.device.type == device and not t.requires_grad
    assert to_np(x.new_full((2,), 7)).tolist() == [7.0, 7.0] and to_np(x.new_ones(2)).tolist() == [1.0, 1.0]
    assert x.new_zeros(2, dtype=bp.int64).dtype == bp.int64 and x.new_zeros(2, requires_grad=True).requires_grad
    t = x.new_tensor([1, 2])
    assert t.dtype == bp.float32 and t.device.type == device and to_np(t).tolist() == [1.0, 2.0]
    d = bp.zeros(2, dtype=bp.float64).new_tensor([1, 2])
    assert d.dtype == bp.float64
    src = bp.ones(2, device=device)
    c = x.new_tensor(src)
    c += 1
    assert to_np(src).tolist() == [1.0, 1.0]  # a copy, not a view


def test_small_tensor_attributes(device):
    x = bp.zeros(2, 3, device=device)
    assert x.ndimension() == 2 and x.nbytes == 24 and x.itemsize == 4 and x.element_size() == 4
    assert x.is_cpu == (device == "cpu") and x.get_device() == (-1 if device == "cpu" else 0)
    assert bp.zeros(3, dtype=bp.int64).nbytes == 24
    if device == "cpu":
        a = bp.arange(4.0)
        assert a.data_ptr() == a.numpy().ctypes.data and a[1:].data_ptr() == a.data_ptr() + 4


def test_missing_names_say_backprop_lacks_them():
    from backprop._torch_names import NAMES

    assert {"torch", "torch.Tensor", "torch.nn", "torch.nn.functional", "torch.optim"} <= set(NAMES)
    # Names PyTorch has that backprop lacks (checked against the committed list, so this
    # stays true until backprop implements them; then pick another).
    lacking = {
        bp: ("torch", NAMES["torch"] - set(dir(bp))),
        bp.nn: ("torch.nn", NAMES["torch.nn"] - set(dir(bp.nn))),
        bp.nn.functional: ("torch.nn.functional", NAMES["torch.nn.functional"] - set(dir(bp.nn.functional))),
        bp.optim: ("torch.optim", NAMES["torch.optim"] - set(dir(bp.optim))),
    }
    for module, (torch_name, missing) in lacking.items():
        candidates = sorted(n for n in missing if not hasattr(module, n))
        assert candidates, torch_name
        name = candidates[0]
        with pytest.raises(AttributeError, match=f"backprop does not implement {torch_name}.{name} yet"):
            getattr(module, name)
    with pytest.raises(AttributeError, match="has no attribute 'not_a_torch_name'") as e:
        bp.not_a_torch_name  # noqa: B018
    assert "does not implement" not in str(e.value)
    for module in (bp.nn, bp.nn.functional, bp.optim):
        with pytest.raises(AttributeError, match="has no attribute 'zzz'"):
            module.zzz  # noqa: B018
    t = bp.zeros(2)
    tensor_missing = sorted(n for n in NAMES["torch.Tensor"] if not hasattr(bp.Tensor, n))
    assert tensor_missing
    with pytest.raises(AttributeError, match=f"backprop does not implement torch.Tensor.{tensor_missing[0]} yet"):
        getattr(t, tensor_missing[0])
    # CPython's own message, which names the type by its qualified name ('backprop.Tensor').
    with pytest.raises(AttributeError, match="Tensor' object has no attribute 'zzz'") as e:
        t.zzz  # noqa: B018
    assert "does not implement" not in str(e.value)
    assert not hasattr(t, "zzz") and getattr(t, "zzz", 5) == 5
    assert tensor_missing[0] not in dir(t) and "backward" in dir(t)


def test_submodules_still_load_lazily():
    assert bp.random.fork_rng is not None and bp.linalg is not None
    import backprop.nn.parallel  # noqa: F401


def test_names_list_covers_what_pytorch_has():
    torch = pytest.importorskip("torch")
    from backprop._torch_names import NAMES

    # The committed list may be from another PyTorch version; most names must agree.
    current = {n for n in dir(torch) if not n.startswith("_")}
    assert len(current & NAMES["torch"]) > 0.9 * len(NAMES["torch"])
    assert np.all([n in NAMES["torch.Tensor"] for n in ("uniform_", "new_zeros", "type")])
