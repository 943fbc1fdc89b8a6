"""The tensor API: factories, dtypes and promotion, conversions (NumPy, DLPack, lists),
repr, and clear errors for bad input."""

import pickle

import numpy as np
import pytest

import backprop as bp
from conftest import assert_close


def test_tensor_from_data_infers_dtype_and_shape():
    assert bp.tensor(1.5).dtype == bp.float32 and bp.tensor(1.5).shape == ()
    assert bp.tensor(3).dtype == bp.int64
    assert bp.tensor(True).dtype == bp.bool
    assert bp.tensor([[1, 2], [3, 4]]).shape == (2, 2)
    assert bp.tensor([1, 2.5]).dtype == bp.float32
    assert bp.tensor([True, 2]).dtype == bp.int64
    assert bp.tensor(np.zeros(3, dtype=np.float64)).dtype == bp.float64
    assert bp.tensor(np.zeros(3, dtype=np.int32)).dtype == bp.int32  # kept, never widened
    assert bp.tensor([1, 2], dtype=bp.float64).dtype == bp.float64
    assert bp.tensor([]).shape == (0,)
    assert bp.tensor([bp.tensor(1.0), bp.tensor(2.0)]).tolist() == [1.0, 2.0]


def test_tensor_input_errors():
    with pytest.raises(ValueError, match="ragged"):
        bp.tensor([[1, 2], [3]])
    with pytest.raises(TypeError, match="could not convert"):
        bp.tensor(["a", "b"])
    with pytest.raises(TypeError, match="could not convert"):
        bp.tensor(object())
    with pytest.raises(TypeError, match="could not convert"):
        bp.tensor([1, None])
    with pytest.raises(TypeError, match="dtype"):
        bp.zeros(2, dtype="complex64")
    with pytest.raises(ValueError, match="negative dimension"):
        bp.zeros(-1)
    with pytest.raises(TypeError):
        bp.tensor([1.0]) + "x"


def test_factories():
    assert bp.zeros(2, 3).shape == (2, 3) and bp.zeros((2, 3)).sum().item() == 0
    assert bp.ones([4]).tolist() == [1.0] * 4
    assert bp.full((2,), 7).dtype == bp.int64 and bp.full((2,), 7.0).tolist() == [7.0, 7.0]
    assert bp.eye(2, 3).tolist() == [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert bp.arange(5).tolist() == [0, 1, 2, 3, 4] and bp.arange(5).dtype == bp.int64
    assert bp.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]
    assert bp.linspace(0, 1, 5).tolist() == [0.0, 0.25, 0.5, 0.75, 1.0]
    x = bp.randn(3, 4, dtype=bp.float64)
    assert bp.zeros_like(x).dtype == bp.float64 and bp.ones_like(x).shape == (3, 4)
    assert bp.full_like(x, 2.0).tolist()[0] == [2.0] * 4
    assert bp.empty(2).shape == (2,)
    r = bp.randint(0, 10, (1000,))
    assert r.dtype == bp.int64 and 0 <= r.min().item() and r.max().item() < 10
    assert sorted(bp.randperm(5).tolist()) == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError, match="inconsistent"):
        bp.arange(0, 5, -1)


def test_manual_seed_makes_random_reproducible():
    bp.manual_seed(42)
    a = bp.randn(10)
    u = bp.rand(10)
    bp.manual_seed(42)
    assert bp.randn(10).tolist() == a.tolist() and bp.rand(10).tolist() == u.tolist()
    big = bp.randn(100_000)
    assert abs(big.mean().item()) < 0.02 and abs(big.std().item() - 1) < 0.02
    unif = bp.rand(100_000)
    assert 0 <= unif.min().item() and unif.max().item() < 1 and abs(unif.mean().item() - 0.5) < 0.01


def test_numpy_round_trips_share_memory():
    a = np.arange(6.0, dtype=np.float32).reshape(2, 3)
    t = bp.from_numpy(a)
    a[0, 0] = 100.0
    assert t[0, 0].item() == 100.0
    n = t.numpy()
    n[1, 1] = -5.0
    assert a[1, 1] == -5.0
    assert np.shares_memory(t.T.numpy(), a)
    assert np.asarray(t).tolist() == a.tolist()
    ro = np.arange(3.0)
    ro.setflags(write=False)
    assert bp.from_numpy(ro).tolist() == [0.0, 1.0, 2.0]  # copied: not writeable
    assert bp.from_numpy(np.arange(3, dtype=np.int32)).dtype == bp.int32
    for dtype in (np.float32, np.float64, np.int64):
        # read-only and misaligned, as np.frombuffer over a file's bytes at an odd offset
        raw = b"\0" + np.arange(4, dtype=dtype).tobytes()
        odd = np.frombuffer(raw, dtype=dtype, offset=1)
        assert bp.from_numpy(odd).tolist() == [0, 1, 2, 3]
        assert bp.tensor(odd).tolist() == [0, 1, 2, 3]
    with pytest.raises(RuntimeError, match="detach"):
        bp.ones(2, requires_grad=True).numpy()
    with pytest.raises(TypeError, match="numpy.ndarray"):
        bp.from_numpy([1, 2])


def test_dlpack_exchange():
    t = bp.arange(6.0).reshape(2, 3)
    a = np.from_dlpack(t)
    assert a.tolist() == t.tolist()
    a[0, 0] = 42.0
    assert t[0, 0].item() == 42.0
    assert t.__dlpack_device__() == (1, 0)
    back = bp.from_dlpack(np.arange(4.0))
    assert back.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert np.from_dlpack(t.T).tolist() == t.T.tolist()


def test_dlpack_with_torch_if_installed():
    torch = pytest.importorskip("torch")
    t = bp.arange(4.0)
    tt = torch.from_dlpack(t)
    assert tt.tolist() == [0.0, 1.0, 2.0, 3.0]
    assert bp.from_dlpack(torch.arange(3.0)).tolist() == [0.0, 1.0, 2.0]


def test_item_tolist_and_python_conversions():
    x = bp.tensor([[1.5, 2.0]])
    assert x.tolist() == [[1.5, 2.0]]
    assert bp.tensor(3).item() == 3 and isinstance(bp.tensor(3).item(), int)
    assert isinstance(bp.tensor(True).item(), bool)
    assert float(bp.tensor([2.5])) == 2.5 and int(bp.tensor(7.9)) == 7
    assert f"{bp.tensor(1.23456):.2f}" == "1.23"
    assert len(x) == 1 and [r.tolist() for r in x] == [[1.5, 2.0]]
    assert bool(bp.tensor(1.0)) and not bool(bp.tensor(0))
    with pytest.raises(ValueError, match="ambiguous"):
        bool(bp.tensor([1.0, 2.0]))
    with pytest.raises(ValueError, match="one-element"):
        bp.tensor([1.0, 2.0]).item()
    with pytest.raises(TypeError, match="0-d"):
        len(bp.tensor(1.0))
    assert [1, 2, 3][bp.tensor(1)] == 2


def test_repr_reads_like_pytorch():
    assert repr(bp.tensor([1.0, 2.0])) == "tensor([1., 2.])"
    assert repr(bp.tensor(3.5)) == "tensor(3.5)"
    assert repr(bp.tensor([1, 2])) == "tensor([1, 2])"
    assert repr(bp.tensor([1.0], dtype=bp.float64)) == "tensor([1.], dtype=backprop.float64)"
    x = bp.tensor([1.0], requires_grad=True)
    assert repr(x) == "tensor([1.], requires_grad=True)"
    assert repr(x * 2) == "tensor([2.], grad_fn=<MulBackward0>)"
    assert "..." in repr(bp.zeros(2000))
    assert repr(bp.float32) == "backprop.float32" and str(bp.tensor(1.0).device) == "cpu"


def test_dtype_conversions_and_to():
    x = bp.tensor([1.7, -2.2])
    assert x.long().tolist() == [1, -2]
    assert x.double().dtype == bp.float64 and x.to(bp.float64).dtype == bp.float64
    assert x.to("cpu") is not None and x.to(dtype=bp.int64).dtype == bp.int64
    assert x.to(bp.zeros(1, dtype=bp.float64)).dtype == bp.float64
    assert x.bool().tolist() == [True, True]
    assert bp.tensor([0, 2]).bool().tolist() == [False, True]
    y = bp.tensor([1.0], requires_grad=True)
    z = y.double() * 2
    z.sum().backward()
    assert y.grad.dtype == bp.float32 and y.grad.tolist() == [2.0]


def test_unknown_devices_are_refused():
    with pytest.raises(ValueError, match="unknown device"):
        bp.zeros(2, device="tpu")
    with pytest.raises(TypeError, match="device"):
        bp.zeros(2).to(device=3)


def test_gpu_errors_are_clear_without_an_adapter():
    from conftest import _gpu_available

    if _gpu_available():
        pytest.skip("a GPU adapter exists (tests/test_gpu.py covers the GPU's own errors)")
    with pytest.raises(bp.DeviceError, match="GPU|gpu|adapter"):
        bp.zeros(2).to("gpu")


def test_pickle_and_deepcopy():
    import copy

    x = bp.tensor([1.0, 2.0], requires_grad=True)
    y = pickle.loads(pickle.dumps(x))
    assert y.tolist() == [1.0, 2.0] and y.requires_grad
    z = copy.deepcopy(x)
    z.data.mul_(2)
    assert x.tolist() == [1.0, 2.0] and z.requires_grad


def test_data_attribute_and_hash():
    w = bp.tensor([1.0, 2.0], requires_grad=True)
    w.data -= 0.5 * bp.tensor([2.0, 2.0])
    assert w.tolist() == [0.0, 1.0] and w.requires_grad
    w.data = bp.tensor([5.0, 6.0])
    assert w.tolist() == [5.0, 6.0]
    d = {w: "weight"}
    assert d[w] == "weight"


def test_data_assignment_of_another_shape_or_dtype_keeps_the_object_and_its_autograd_state():
    # PyTorch's `param.data = other`: the tensor takes other's data over (sharing it) and
    # keeps requires_grad, grad and hooks; this is how Module.to() moves parameters.
    w = bp.tensor([1.0, 2.0], requires_grad=True)
    seen = []
    w.register_hook(lambda g: seen.append(g.tolist()))
    (w * 3).sum().backward()
    other = bp.tensor([[1.0, 2.0, 3.0]], dtype=bp.float64)
    w.data = other
    assert w.shape == (1, 3) and w.dtype == bp.float64 and w.requires_grad and w.is_leaf
    assert w.grad.tolist() == [3.0, 3.0]  # the gradient stays until replaced, as in PyTorch
    other[0, 0] = 7.0
    assert w.tolist() == [[7.0, 2.0, 3.0]]  # shared, not copied
    w.grad = None
    (w * 2).sum().backward()
    assert w.grad.tolist() == [[2.0, 2.0, 2.0]] and seen == [[3.0, 3.0], [[2.0, 2.0, 2.0]]]
    with pytest.raises(RuntimeError, match="requires grad.*int64"):
        w.data = bp.tensor([1, 2])
    assert w.dtype == bp.float64


def test_data_rebound_by_a_hook_during_backward_leaves_the_running_backward_intact():
    # y.backward() borrowed y's tensor before y's hook replaced y's data: that borrow must
    # stay valid (the slot keeps replaced tensors alive), and later reads see the new data.
    w = bp.tensor([1.0, 2.0], requires_grad=True)
    y = w * w

    def rebind(g):
        y.data = bp.zeros(4)
        return g

    y.register_hook(rebind)
    y.backward(bp.ones(2))
    assert w.grad.tolist() == [2.0, 4.0]
    assert y.shape == (4,) and y.tolist() == [0.0] * 4 and y.grad_fn is not None


def test_module_functions_mirror_methods():
    x = bp.tensor([[1.0, -2.0], [3.0, 0.5]])
    assert_close(bp.exp(x), np.exp(x.numpy()))
    assert bp.sum(x).item() == x.sum().item()
    assert bp.max(x).item() == 3.0
    assert_close(bp.matmul(x, x), x.numpy() @ x.numpy())
    assert bp.where(x > 0, x, 0.0).tolist() == [[1.0, 0.0], [3.0, 0.5]]
    assert bp.cat([x, x]).shape == (4, 2)
    assert_close(bp.pow(x, 2), x.numpy() ** 2)
    assert_close(bp.clamp(x, min=0.0), np.clip(x.numpy(), 0, None))
