"""Robustness (issue 11): sizes are checked arithmetic, allocation is fallible, nothing
recurses on user data, arguments follow PyTorch's rules, and the results PyTorch defines
(numbers measured with PyTorch 2.x are written in the tests) come out the same here."""

import copy
import gc

import numpy as np
import pytest

import backprop as bp
import backprop.nn.functional as F


# ---- checked size arithmetic and fallible allocation -------------------------------------


@pytest.mark.parametrize(
    "make",
    [
        lambda: bp.zeros(2**31, 2**31, 2**31),
        lambda: bp.ones(1, 1).expand(2**32, 2**32),
        lambda: bp.zeros(0, 3).reshape(0, 2**62, 2**62),
        lambda: bp.eye(2**32),
        lambda: bp.ones(2**32, 1) + bp.ones(1, 2**32) if False else bp.ones(1, 1).expand(2**32, 1) + bp.ones(1, 1).expand(1, 2**32),
    ],
)
def test_shapes_whose_size_overflows_are_shape_errors(make):
    with pytest.raises(bp.ShapeError, match="64-bit"):
        make()


# Each needs 2**48 bytes or more: beyond any x86-64 or arm64 user address space, so the
# kernel refuses it whatever its overcommit policy.
@pytest.mark.parametrize(
    "make",
    [
        lambda: bp.zeros(2**62),
        lambda: bp.zeros(2**47),
        lambda: bp.ones(2**47),
        lambda: bp.randperm(2**62),
        lambda: bp.arange(0, 2**47),
        lambda: bp.ones(1).expand(2**47).exp(),
        lambda: bp.ones(1).expand(2**47).tolist(),
        lambda: bp.ones(2**24, 1) @ bp.ones(1, 2**24),
    ],
)
def test_impossible_allocations_are_memory_errors(make):
    with pytest.raises(MemoryError, match="bytes"):
        make()


def _kernel_refuses_overcommit():
    try:
        with open("/proc/sys/vm/overcommit_memory") as f:
            policy = f.read().strip()
        with open("/proc/meminfo") as f:
            total_kb = sum(int(line.split()[1]) for line in f if line.startswith(("MemTotal", "SwapTotal")))
    except OSError:
        return False
    return policy in ("0", "2") and total_kb * 1024 < 4 * 10**12


@pytest.mark.skipif(not _kernel_refuses_overcommit(), reason="the kernel may grant 4 TB of address space here")
def test_zeros_larger_than_memory_is_a_memory_error():
    # The example: 10**12 float32s (4 TB) used to abort the interpreter.
    with pytest.raises(MemoryError, match="4000000000000 bytes"):
        bp.zeros(10**12)


def test_memory_error_names_the_op_shape_and_bytes():
    with pytest.raises(MemoryError) as e:
        bp.zeros(2**62)
    msg = str(e.value)
    assert "full" in msg and "[4611686018427387904]" in msg and "18446744073709551616 bytes" in msg


def test_arange_with_too_many_elements_is_a_value_error():
    with pytest.raises(ValueError, match="arange"):
        bp.arange(0, 1e20, 1e-20)


def test_narrow_with_a_huge_length_is_an_index_error():
    x = bp.arange(6.0)
    for length in (2**62, 2**63 - 1):
        with pytest.raises(IndexError, match="exceeds"):
            x.narrow(0, 1, length)
    with pytest.raises(ValueError, match="non-negative"):
        x.narrow(0, 0, -1)
    assert x.narrow(0, -2, 2).tolist() == [4.0, 5.0]


def test_slices_with_extreme_bounds_clamp():
    x = bp.arange(5.0)
    assert x[-(2**63) : 2**63 - 1].tolist() == [0, 1, 2, 3, 4]
    assert x[1 : 2**63 - 1 : 2**62].tolist() == [1.0]
    assert x[2**62 :].shape == (0,)


def test_negative_sizes_name_the_problem():
    for make in (lambda: bp.zeros(-1), lambda: bp.ones(2, -3), lambda: bp.full((-1,), 1.0)):
        with pytest.raises(ValueError, match="negative dimension"):
            make()
    for make, what in ((lambda: bp.eye(-1), "eye"), (lambda: bp.randperm(-1), "randperm"), (lambda: bp.linspace(0, 1, -1), "linspace")):
        with pytest.raises(ValueError, match=what):
            make()


# ---- no recursion on user data -------------------------------------------------------------


def test_tolist_of_a_tensor_with_20000_dimensions():
    t = bp.tensor([3.0]).reshape([1] * 20000)
    out = t.tolist()
    for _ in range(19999):
        out = out[0]
    assert out == [3.0]


def test_converting_a_very_deep_nested_list():
    deep = [1.5]
    for _ in range(20000):
        deep = [deep]
    t = bp.tensor(deep)
    assert t.ndim == 20001 and t.numel() == 1 and t.reshape(-1).tolist() == [1.5]


@pytest.mark.parametrize("build", ["a.append(a)", "a.append([a])", "a.extend([a, a])"])
def test_self_referential_lists_are_refused(build):
    a = []
    exec(build)
    with pytest.raises(ValueError, match="contains itself"):
        bp.tensor(a)


def test_tolist_shapes_with_zero_sizes():
    assert bp.zeros(2, 0, 3).tolist() == [[], []]
    assert bp.zeros(0, 2).tolist() == []
    assert bp.tensor(2.5).tolist() == 2.5
    assert bp.arange(6).reshape(2, 3).tolist() == [[0, 1, 2], [3, 4, 5]]


# ---- conversion ------------------------------------------------------------------------------


def test_numpy_scalars_keep_their_dtype():
    # PyTorch: torch.tensor(np.float64(2.0)).dtype == torch.float64
    assert bp.tensor(np.float64(2.0)).dtype == bp.float64
    assert bp.tensor(np.float32(2.0)).dtype == bp.float32
    assert bp.tensor(np.int64(3)).dtype == bp.int64


def test_lists_of_numpy_scalars():
    # PyTorch: float64, float32, int (int32 widens to int64 here), bool, float64
    assert bp.tensor([np.float64(1.0)]).dtype == bp.float64
    assert bp.tensor([np.float32(1.0), 2]).dtype == bp.float32
    t = bp.tensor([np.int32(1), np.int64(2)])
    assert t.dtype == bp.int64 and t.tolist() == [1, 2]
    assert bp.tensor([np.bool_(True), np.bool_(False)]).tolist() == [True, False]
    assert bp.tensor([np.float64(1.0), 1.5]).dtype == bp.float64
    assert bp.tensor([[np.float32(0.5)], [np.float32(1.5)]]).tolist() == [[0.5], [1.5]]


def test_ints_beyond_int64_overflow():
    # PyTorch: ValueError("Overflow when unpacking long long") for int-only data.
    for data in ([2**63], 2**63, [1, -(2**64)]):
        with pytest.raises(ValueError, match="overflow"):
            bp.tensor(data)
    # With a float in the data, or a float dtype, the value is a float (PyTorch too).
    assert bp.tensor([1.5, 2**63], dtype=bp.float64).tolist() == [1.5, 9.223372036854776e18]
    assert bp.tensor([1.5, 2**63]).dtype == bp.float32
    assert bp.tensor([2**64], dtype=bp.float32).tolist() == [1.8446744073709552e19]
    assert bp.tensor([2**63 - 1, -(2**63)]).tolist() == [2**63 - 1, -(2**63)]


def test_messages_are_cut_on_character_boundaries():
    with pytest.raises(TypeError) as e:
        bp.tensor(["\u00e9" * 60])
    assert "\u00e9" in str(e.value) and "..." in str(e.value)


def test_to_an_unknown_device_says_device():
    x = bp.zeros(2)
    for spec in ("tpu", "npu"):
        with pytest.raises(ValueError, match="unknown device 'tpu'|unknown device 'npu'"):
            x.to(spec)
    with pytest.raises(TypeError, match="dtype"):
        x.to(dtype="nope")


# ---- 0-dim and zero-size tensors ---------------------------------------------------------------


def test_0d_transpose_select_unbind():
    s = bp.tensor(1.5, requires_grad=True)
    # PyTorch: transpose(0, -1) of a 0-dim tensor is the tensor itself (a view).
    t = s.transpose(0, -1)
    assert t.shape == () and t.item() == 1.5 and t is not s
    t.backward()
    assert s.grad.item() == 1.0
    with pytest.raises(IndexError, match="0-dim"):
        s.select(0, 0)
    with pytest.raises(IndexError, match="0-dim"):
        s.unbind()
    with pytest.raises(IndexError, match="0-dim"):
        s.narrow(0, 0, 1)
    with pytest.raises(IndexError):
        s.transpose(0, 1)


def test_cross_entropy_of_a_0d_input_is_an_error():
    with pytest.raises(ValueError, match="0-dim"):
        F.cross_entropy(bp.tensor(1.0), bp.tensor(0))


def test_zero_size_views_with_an_offset_under_ops_and_backward():
    base = bp.zeros(3, 0, requires_grad=True)
    row = base[2]  # shape [0], a view past the (empty) storage
    assert row.shape == (0,)
    assert row.exp().shape == (0,) and (row + row).shape == (0,)
    bp.stack([row, base[1]]).sum().backward()
    assert base.grad.shape == (3, 0)
    e = bp.arange(4.0)[4:]
    assert (e + 1).tolist() == [] and e.exp().tolist() == []


# ---- autograd ------------------------------------------------------------------------------


def test_cross_entropy_with_every_target_ignored():
    # PyTorch: the loss is nan and every gradient is 0 (also with label smoothing).
    for kwargs in ({}, {"label_smoothing": 0.1}):
        x = bp.randn(2, 3, requires_grad=True)
        loss = F.cross_entropy(x, bp.tensor([-100, -100]), **kwargs)
        assert np.isnan(loss.item())
        loss.backward()
        assert x.grad.tolist() == [[0.0] * 3] * 2
    x = bp.randn(2, 3, requires_grad=True)
    loss = F.nll_loss(F.log_softmax(x, 1), bp.tensor([-100, -100]))
    loss.backward()
    assert np.isnan(loss.item()) and x.grad.tolist() == [[0.0] * 3] * 2


def test_cross_entropy_with_some_targets_ignored_is_unchanged():
    x = bp.tensor([[1.0, 2.0, 3.0], [1.0, 0.0, -1.0]], requires_grad=True)
    loss = F.cross_entropy(x, bp.tensor([2, -100]))
    # PyTorch: 0.40760596 and grad [[0.09003057, 0.24472848, -0.33475903], [0, 0, 0]]
    assert loss.item() == pytest.approx(0.40760596, rel=1e-6)
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.09003057, 0.24472848, -0.33475903], [0, 0, 0]], rtol=1e-5, atol=1e-7)


def test_a_hook_returning_the_wrong_shape_or_dtype_is_refused():
    # PyTorch: RuntimeError "hook '<lambda>' has changed the size of value" / "type of value".
    for bad in (lambda g: bp.ones(3), lambda g: g.double()):
        x = bp.ones(2, requires_grad=True)
        x.register_hook(bad)
        with pytest.raises(RuntimeError, match="hook"):
            (x * 2).sum().backward()
        assert x.grad is None
        y = bp.ones(2, requires_grad=True)
        z = y * 1
        z.register_hook(bad)
        with pytest.raises(RuntimeError, match="hook"):
            (z * 2).sum().backward()


def test_register_hook_needs_a_callable():
    with pytest.raises(TypeError, match="callable"):
        bp.ones(2, requires_grad=True).register_hook(3)


def test_backward_inputs_must_not_be_empty():
    a = bp.ones(2, requires_grad=True)
    # PyTorch: RuntimeError "`inputs` argument to `backward()` cannot be empty."
    with pytest.raises(RuntimeError, match="cannot be empty"):
        (a * 2).sum().backward(inputs=[])
    # A tensor outside the graph is accepted and gets no gradient (as in PyTorch).
    b = bp.ones(2, requires_grad=True)
    (a * 2).sum().backward(inputs=[b])
    assert b.grad is None and a.grad is None


def test_inplace_into_an_expanded_tensor_is_an_error():
    base = bp.zeros(3)
    for op in (lambda e: e.add_(1), lambda e: e.mul_(2), lambda e: e.fill_(1.0), lambda e: e.zero_(), lambda e: e.copy_(bp.ones(2, 3))):
        with pytest.raises(ValueError, match="single memory location"):
            op(base.expand(2, 3))
    assert base.tolist() == [0.0, 0.0, 0.0]
    # A plain view is fine.
    base[1:].add_(1)
    assert base.tolist() == [0.0, 1.0, 1.0]


def test_a_no_op_reshape_is_a_new_tensor():
    x = bp.ones(2, requires_grad=True)
    for y in (x.reshape(2), x.view(2), x.expand(2), x[:], x.reshape(-1)):
        # PyTorch: y is not x, y is a non-leaf view with a grad_fn.
        assert y is not x and not y.is_leaf and y.grad_fn is not None
    x.reshape(2).sum().backward()
    assert x.grad.tolist() == [1.0, 1.0]
    plain = bp.ones(2)
    r = plain.reshape(2)
    r.requires_grad_()
    assert not plain.requires_grad


def test_copy_and_deepcopy_follow_pytorch():
    x = bp.ones(3, requires_grad=True)
    x.grad = bp.full((3,), 2.0)
    c = copy.copy(x)
    # PyTorch: a new leaf sharing memory, requires_grad kept, grad not.
    assert c is not x and c.requires_grad and c.is_leaf and c.grad is None
    with bp.no_grad():
        c.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0]
    d = copy.deepcopy(x)
    # PyTorch: new memory, requires_grad and a copy of .grad kept.
    assert d.requires_grad and d.is_leaf and d.grad.tolist() == [2.0, 2.0, 2.0]
    with bp.no_grad():
        d.add_(1)
    assert x.tolist() == [2.0, 2.0, 2.0]
    v = bp.zeros(4)
    dv, dw = copy.deepcopy([v, v[1:3]])
    dw += 1
    # PyTorch: views deep-copied together still share memory: tensor([0., 1., 1., 0.])
    assert dv.tolist() == [0.0, 1.0, 1.0, 0.0] and v.tolist() == [0.0] * 4
    with pytest.raises(RuntimeError, match="leaves"):
        copy.deepcopy(x * 2)


class Spy:
    """Reads a tensor's autograd metadata when it is collected."""

    def __init__(self, watched, seen):
        self.watched, self.seen = watched, seen

    def __del__(self):
        try:
            t = self.watched
            self.seen.append((t.grad is None, t.requires_grad, t.is_leaf))
        except BaseException as e:  # recorded, asserted by the test
            self.seen.append(e)


def test_drops_that_reach_python_while_metadata_is_replaced_do_not_panic():
    """Replacing x.grad drops the old gradient, whose graph node holds (through a hook) an
    object whose __del__ reads x.grad: it runs after the replacement, and sees the new state."""
    seen = []
    x = bp.ones(2, requires_grad=True)
    old = bp.ones(2, requires_grad=True) * 1
    old.register_hook(lambda g, spy=Spy(x, seen): None)
    x.grad = old
    del old
    gc.collect()
    assert seen == []
    x.grad = None
    gc.collect()
    assert seen == [(True, True, True)], seen


def test_drops_that_reach_python_while_history_is_rebased_do_not_panic():
    """An in-place op on a non-leaf replaces its grad_fn; the old node's hook holds an object
    whose __del__ reads the same tensor."""
    seen = []
    y = bp.ones(2, requires_grad=True) * 1
    y.register_hook(lambda g, spy=Spy(y, seen): None)
    y.add_(1)  # the old node (and the hook on it) is released here
    gc.collect()
    assert all(not isinstance(s, BaseException) for s in seen), seen


def test_removing_a_hook_whose_callable_reads_the_tensor_on_release():
    seen = []
    x = bp.ones(2, requires_grad=True)
    handle = x.register_hook(lambda g, spy=Spy(x, seen): None)
    handle.remove()
    gc.collect()
    assert seen == [(True, True, True)], seen


# ---- argument validation -------------------------------------------------------------------


def test_arguments_pytorch_refuses():
    x = bp.randn(2, 3)
    cases = [
        (lambda: bp.zeros(3).normal_(0, -1), ValueError, "std"),  # PyTorch: normal expects std >= 0.0
        (lambda: x.masked_fill(bp.tensor([1.0, 0.0, 1.0]), 2.0), ValueError, "boolean"),  # only supports boolean masks
        (lambda: bp.zeros(2, 2, 2).mm(bp.zeros(2, 2)), ValueError, "matrix"),  # mm: self must be a matrix
        (lambda: bp.zeros(2, 2).dot(bp.zeros(2, 2)), ValueError, "1-D"),  # 1D tensors expected
        (lambda: bp.zeros(2).dot(bp.zeros(3)), ValueError, "inconsistent"),
        (lambda: x.gather(1, bp.tensor([[-1], [0]])), IndexError, "out of bounds"),  # index -1 is out of bounds
        (lambda: F.multi_margin_loss(x, bp.tensor([0, 1]), weight=bp.ones(2)), ValueError, "weight"),
        (lambda: bp.zeros(4)[bp.tensor([True, False, True])], IndexError, "mask"),  # shape of the mask [3] ...
        (lambda: x[bp.ones(2, 2, dtype=bp.bool)], IndexError, "mask"),
        (lambda: x.chunk(0), ValueError, "chunk"),
    ]
    for f, exc, words in cases:
        with pytest.raises(exc, match=words):
            f()


def test_bool_masks_of_the_right_shape_still_work():
    x = bp.arange(6.0).reshape(2, 3)
    assert x[bp.tensor([True, False])].tolist() == [[0.0, 1.0, 2.0]]
    assert x[:, bp.tensor([False, True, True])].tolist() == [[1.0, 2.0], [4.0, 5.0]]
    assert x[bp.tensor([[True, False, False], [False, False, True]])].tolist() == [0.0, 5.0]
    assert x[..., bp.tensor([True, False, True])].tolist() == [[0.0, 2.0], [3.0, 5.0]]
    assert x.masked_fill(bp.tensor([True, False, True]), -1.0).tolist() == [[-1.0, 1.0, -1.0], [-1.0, 4.0, -1.0]]


# ---- exception classes a ported `except RuntimeError` catches -----------------------------


def test_shape_and_dtype_errors_are_runtime_errors_as_in_pytorch_and_value_errors_as_designed():
    # PyTorch 2.15: torch.ones(2) + torch.ones(3) and torch.arange(3).std() raise RuntimeError
    # (NotImplementedError for std, a RuntimeError subclass); torch.tensor([1]) // 0 raises
    # RuntimeError('ZeroDivisionError').
    for cls in (bp.ShapeError, bp.DTypeError):
        assert issubclass(cls, ValueError) and issubclass(cls, RuntimeError) and cls.__module__ == "backprop"
    with pytest.raises(RuntimeError, match="size"):
        bp.ones(2) + bp.ones(3)
    with pytest.raises(RuntimeError):
        bp.arange(3).std()
    for op in (lambda: bp.tensor([1]) // 0, lambda: bp.tensor([1]) % 0, lambda: bp.fmod(bp.tensor([5]), bp.tensor([0]))):
        with pytest.raises(RuntimeError, match="division by zero") as info:
            op()
        assert isinstance(info.value, ZeroDivisionError)
