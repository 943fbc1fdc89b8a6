"""Autograd tools: grad_fn classes named as PyTorch prints them, node hooks, saved tensors
(`_saved_*`, saved_tensors_hooks, save_on_cpu) and anomaly detection. The expected names and
messages are PyTorch 2.15's."""

import re
import warnings

import numpy as np
import pytest

import backprop as bp
import backprop.nn.functional as F
from backprop import nn
from backprop.autograd.graph import Node, disable_saved_tensors_hooks, save_on_cpu, saved_tensors_hooks
from conftest import assert_close, on, to_np


def _leaf(*shape):
    return bp.randn(*shape, requires_grad=True)


def test_grad_fn_classes_are_named_as_pytorch_names_them():
    x, y, w, b = _leaf(3, 4), _leaf(3, 4), _leaf(4, 5), _leaf(5)
    expected = {
        "MulBackward0": x * y,
        "AddBackward0": x + 1,
        "SubBackward0": x - y,
        "DivBackward0": x / 2,
        "PowBackward0": x**2,
        "PowBackward1": x**y,
        "ExpBackward0": x.exp(),
        "TanhBackward0": x.tanh(),
        "SigmoidBackward0": x.sigmoid(),
        "ReluBackward0": x.relu(),
        "SumBackward0": x.sum(),
        "SumBackward1": x.sum(0),
        "MaxBackward1": x.max(),
        "MmBackward0": x @ w,
        "AddmmBackward0": F.linear(x, w.t(), b),
        "LogSoftmaxBackward0": x.log_softmax(1),
        "SoftmaxBackward0": x.softmax(1),
        "ViewBackward0": x.reshape(12),
        "TransposeBackward0": x.transpose(0, 1),
        "ExpandBackward0": x[:1].expand(3, 4),
        "SliceBackward0": x[1:],
        "SelectBackward0": x[1],
        "CatBackward0": bp.cat([x, y]),
        "CloneBackward0": x.clone(),
        "ToCopyBackward0": x.double(),
        "WhereBackward0": bp.where(x > 0, x, y),
        "LeakyReluBackward0": F.leaky_relu(x, 0.1),
        "ClampBackward1": x.clamp(0, 1),
    }
    for name, t in expected.items():
        gf = t.grad_fn
        assert type(gf).__name__ == name and gf.name() == name
        assert isinstance(gf, Node)
        assert re.fullmatch(rf"<{name} object at 0x[0-9a-f]+>", repr(gf)), repr(gf)
    assert repr(x * 2).endswith("grad_fn=<MulBackward0>)")
    assert type((x * 2).grad_fn) is type((y * 3).grad_fn)  # one class per name


def test_next_functions_and_accumulate_grad():
    x = _leaf(3)
    y = (x * 2).exp()
    ((mul, nr),) = y.grad_fn.next_functions
    assert type(mul).__name__ == "MulBackward0" and nr == 0
    (acc, _), (const, _) = mul.next_functions
    assert acc.name() == "AccumulateGrad" and const is None
    assert acc.variable is x  # the leaf itself, as in PyTorch, not another wrapper of it


@pytest.mark.parametrize(
    "make",
    [
        lambda: bp.randn(3, requires_grad=True),
        lambda: bp.tensor([1.0, 2.0, 3.0], requires_grad=True),
        lambda: bp.Tensor([1.0, 2.0, 3.0], requires_grad=True),
        lambda: bp.Tensor(bp.ones(3), dtype=bp.float64, requires_grad=True),
        lambda: bp.zeros(3).requires_grad_(),
        lambda: nn.Parameter(bp.ones(3)),
        lambda: nn.Linear(3, 3).weight,
    ],
    ids=["factory", "tensor", "Tensor class", "Tensor class from a tensor", "requires_grad_", "Parameter", "module parameter"],
)
def test_accumulate_grad_variable_is_the_users_object_however_the_leaf_was_made(make):
    leaf = make()
    (acc, _), _ = (leaf * 2).grad_fn.next_functions
    assert acc.variable is leaf
    plain = bp.ones(3)
    plain.requires_grad = True
    (acc, _), _ = (plain * 2).grad_fn.next_functions
    assert acc.variable is plain


def test_metadata_is_one_dict_per_node():
    y = _leaf(2) * 2
    y.grad_fn.metadata["tag"] = "mine"
    assert y.grad_fn.metadata == {"tag": "mine"}


def test_node_hooks_see_and_replace_gradients_in_pytorch_order():
    x = bp.tensor([1.0, 2.0, 3.0], requires_grad=True)
    y = x * 3
    calls = []

    def pre(grad_outputs):
        calls.append(("pre", [g.tolist() for g in grad_outputs]))
        return (grad_outputs[0] * 2,)

    def post(grad_inputs, grad_outputs):
        calls.append(("post", [None if g is None else g.tolist() for g in grad_inputs], [g.tolist() for g in grad_outputs]))
        return (grad_inputs[0] * 10, None)

    hp = y.grad_fn.register_prehook(pre)
    hq = y.grad_fn.register_hook(post)
    y.sum().backward()
    # torch 2.15: pre sees (1,1,1); post sees ((6,6,6), None) and ((2,2,2),); x.grad = 60
    assert calls == [("pre", [[1.0, 1.0, 1.0]]), ("post", [[6.0, 6.0, 6.0], None], [[2.0, 2.0, 2.0]])]
    assert x.grad.tolist() == [60.0, 60.0, 60.0]
    hp.remove()
    hq.remove()
    x.grad = None
    z = x * 3
    z.sum().backward()
    assert x.grad.tolist() == [3.0, 3.0, 3.0]
    # removed hooks do not run on the old node either
    calls.clear()
    x.grad = None
    y2 = x * 3
    h = y2.grad_fn.register_prehook(pre)
    h.remove()
    y2.sum().backward()
    assert calls == [] and x.grad.tolist() == [3.0, 3.0, 3.0]


def test_node_hooks_run_on_scalar_graphs_and_check_what_they_return():
    x = bp.tensor(2.0, requires_grad=True)
    y = x * x
    y.grad_fn.register_hook(lambda gi, go: (gi[0] + 1, gi[1] + 1))
    y.backward()
    assert x.grad.item() == 6.0  # (2 + 1) + (2 + 1): both edges lead to x
    z = x * 2
    z.grad_fn.register_prehook(lambda go: (go[0], go[0]))
    with pytest.raises(RuntimeError, match="returned 2 gradients, but the node has 1 outputs"):
        z.backward()
    w = x * 2
    w.grad_fn.register_hook(lambda gi, go: 5)
    with pytest.raises(TypeError, match="a node hook must return None or a tuple"):
        w.backward()


def test_saved_attributes_use_pytorch_names():
    x, y = _leaf(3), _leaf(3)
    m = x * y
    assert m.grad_fn._saved_self._handle_id == x._handle_id and m.grad_fn._saved_other._handle_id == y._handle_id
    half = x * 2  # the constant needs no gradient, so x is not saved (PyTorch: None)
    assert half.grad_fn._saved_self is None and half.grad_fn._saved_other.item() == 2
    e = x.exp()
    assert_close(e.grad_fn._saved_result, to_np(e))
    assert (x.sin().grad_fn._saved_self)._handle_id == x._handle_id
    p = x**3
    assert p.grad_fn._saved_exponent == 3.0 and p.grad_fn._saved_self._handle_id == x._handle_id
    s = x.sum(0, keepdim=True)
    assert s.grad_fn._saved_dim == (0,) and s.grad_fn._saved_keepdim is True and s.grad_fn._saved_self_sym_sizes == (3,)
    assert F.log_softmax(x, 0).grad_fn._saved_dim == 0
    a, w, b = _leaf(2, 3), _leaf(4, 3), _leaf(4)
    lin = F.linear(a, w, b).grad_fn
    assert lin._saved_mat1._handle_id == a._handle_id
    assert tuple(lin._saved_mat2.shape) == (3, 4) and lin._saved_alpha == 1 and lin._saved_beta == 1
    mm = (a @ w.t()).grad_fn
    assert mm._saved_self._handle_id == a._handle_id and tuple(mm._saved_mat2.shape) == (3, 4)
    assert F.leaky_relu(x, 0.2).grad_fn._saved_negative_slope == pytest.approx(0.2)
    with pytest.raises(AttributeError, match="_saved_nothing"):
        m.grad_fn._saved_nothing
    m.sum().backward()
    with pytest.raises(RuntimeError, match="second time"):
        m.grad_fn._saved_self


def test_saved_tensors_hooks_pack_on_save_and_unpack_in_backward():
    events = []

    def pack(t):
        events.append(("pack", tuple(t.shape)))
        return ("box", t)

    def unpack(box):
        events.append("unpack")
        return box[1]

    x = bp.tensor([1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(pack, unpack):
        y = (x * x).sum()
    assert events == [("pack", (2,)), ("pack", (2,))]
    y.backward()
    assert events[2:] == ["unpack", "unpack"] and x.grad.tolist() == [2.0, 4.0]
    # outside the context, saves are plain again
    events.clear()
    (x * x).sum().backward()
    assert events == []


def test_saved_tensors_hooks_may_change_what_backward_reads_and_nest():
    x = bp.tensor([1.0, 2.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t, lambda t: t * 0 + 1):
        with saved_tensors_hooks(lambda t: t * 10, lambda t: t):
            y = x.exp()  # saves its result, packed by the inner pair
        z = x * x
    y.sum().backward()
    assert_close(x.grad, np.exp([1.0, 2.0]) * 10)
    x.grad = None
    z.sum().backward()  # both factors unpacked as ones
    assert x.grad.tolist() == [2.0, 2.0]


def test_unpack_hook_must_return_a_tensor():
    x = bp.tensor([1.0], requires_grad=True)
    with saved_tensors_hooks(lambda t: t, lambda t: "no"):
        y = x * x
    with pytest.raises(TypeError, match="unpack hook of saved_tensors_hooks must return a Tensor"):
        y.backward()


def test_disable_saved_tensors_hooks():
    with disable_saved_tensors_hooks("hooks are off here"):
        with pytest.raises(RuntimeError, match="hooks are off here"):
            with saved_tensors_hooks(lambda t: t, lambda t: t):
                pass
    with saved_tensors_hooks(lambda t: t, lambda t: t):
        pass


def test_save_on_cpu_gives_the_same_gradients(device):
    x = on(device, [[0.5, -1.0], [2.0, 0.25]]).requires_grad_()
    w = on(device, [[1.0, 2.0], [-0.5, 0.3]]).requires_grad_()
    with save_on_cpu(pin_memory=False):
        loss = (x @ w).tanh().sum()
    loss.backward()
    gx, gw = to_np(x.grad), to_np(w.grad)
    x.grad = w.grad = None
    (x @ w).tanh().sum().backward()
    assert_close(gx, to_np(x.grad), rtol=1e-6)
    assert_close(gw, to_np(w.grad), rtol=1e-6)


def test_detect_anomaly_names_the_node_and_shows_the_forward_traceback():
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        mode = bp.autograd.detect_anomaly()
    with mode:
        assert bp.autograd.is_anomaly_enabled()
        a = bp.tensor([0.0, 1.0], requires_grad=True)
        b = (a / a).sum()  # forward line that the traceback must show
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            with pytest.raises(RuntimeError, match=r"Function 'DivBackward0' returned nan values in its 1th output\."):
                b.backward()
        text = "\n".join(str(w.message) for w in seen)
        assert "Error detected in DivBackward0" in text and "forward line that the traceback must show" in text
    assert not bp.autograd.is_anomaly_enabled()


def test_anomaly_mode_lets_inf_through_and_check_nan_false_skips_the_check():
    # torch 2.15: 1/a at a = 0 gives -inf gradients and no error
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with bp.autograd.detect_anomaly():
            a = bp.tensor([0.0, 1.0], requires_grad=True)
            (1 / a).sum().backward()
            assert to_np(a.grad)[0] == -np.inf
        with bp.autograd.detect_anomaly(check_nan=False):
            a = bp.tensor([0.0, 1.0], requires_grad=True)
            (a / a).sum().backward()
            assert np.isnan(to_np(a.grad)[0])


def test_set_detect_anomaly_as_call_and_context():
    bp.autograd.set_detect_anomaly(True)
    try:
        assert bp.autograd.is_anomaly_enabled()
        x = bp.tensor(0.0, requires_grad=True)
        y = x.sqrt() * 0  # scalar graph: the general engine checks it too
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with pytest.raises(RuntimeError, match="returned nan values"):
                y.backward()
    finally:
        bp.autograd.set_detect_anomaly(False)
    assert not bp.autograd.is_anomaly_enabled()
    with bp.autograd.set_detect_anomaly(True):
        assert bp.autograd.is_anomaly_enabled()
    assert not bp.autograd.is_anomaly_enabled()


def test_a_second_wrapper_rebinding_its_data_does_not_carry_the_owner_away():
    # `variable` of a leaf made by `__new__` alone (no `__init__` names the object) is another
    # wrapper of the same engine tensor; rebinding that wrapper must not make the graph name
    # the first object, and once that object is gone nothing may hand it out.
    import gc

    a = bp.Tensor.__new__(bp.Tensor, [1.0, 2.0], requires_grad=True)
    (acc, _), _ = (a * 2).grad_fn.next_functions
    b = acc.variable
    a.requires_grad_()  # a is now its tensor's named object
    b.data = bp.zeros(4)  # b takes other data over; a keeps its own tensor and name
    (acc_b, _), _ = (b * 2).grad_fn.next_functions
    assert acc_b.variable is not a
    del a, acc
    gc.collect()
    (acc_b, _), _ = (b * 2).grad_fn.next_functions
    assert acc_b.variable.shape == (4,)
