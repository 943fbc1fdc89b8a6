"""The Module API beyond registration: containers (ModuleDict, ParameterList/Dict, Sequential
and ModuleList editing), forward hooks with kwargs, full backward hooks, state_dict hooks,
traversal with prefixes, dtype casts."""

from collections import OrderedDict

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from conftest import assert_close, to_np


def test_sequential_append_insert_extend_pop_and_slicing():
    a, b, c, d = nn.ReLU(), nn.Tanh(), nn.Sigmoid(), nn.Identity()
    s = nn.Sequential(a, b)
    s.append(c)
    s.insert(1, d)
    assert list(s) == [a, d, b, c]
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"]
    s.insert(-1, nn.ELU())
    assert isinstance(s[3], nn.ELU) and s[4] is c
    assert s.pop(0) is a
    assert [n for n, _ in s.named_children()] == ["0", "1", "2", "3"] and s[0] is d
    s.extend([nn.ReLU()])
    assert len(s) == 5
    part = s[1:3]
    assert isinstance(part, nn.Sequential) and list(part) == [s[1], s[2]]
    del s[::2]
    assert len(s) == 2 and s.__dict__["0"] is s[0]
    with pytest.raises(IndexError):
        s.insert(5, nn.ReLU())
    assert len(s + nn.Sequential(nn.ReLU())) == 3


def test_sequential_runs_in_order_after_edits():
    s = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    s.insert(1, nn.ReLU())
    x = bp.randn(5, 3)
    expected = s[2](s[1](s[0](x)))
    assert_close(s(x), to_np(expected))


def test_module_list_insert_pop_and_delete_renumber():
    ml = nn.ModuleList([nn.Linear(1, 1) for _ in range(3)])
    first = ml[0]
    ml.insert(0, nn.ReLU())
    assert isinstance(ml[0], nn.ReLU) and ml[1] is first
    assert [n for n, _ in ml.named_parameters()] == ["1.weight", "1.bias", "2.weight", "2.bias", "3.weight", "3.bias"]
    assert ml.pop(1) is first
    del ml[0]
    assert len(ml) == 2 and [n for n, _ in ml.named_children()] == ["0", "1"]
    ml += [nn.Tanh()]
    assert len(ml) == 3


def test_module_dict():
    md = nn.ModuleDict({"fc": nn.Linear(2, 3), "act": nn.ReLU()})
    md["out"] = nn.Linear(3, 1)
    assert list(md) == ["fc", "act", "out"] and "act" in md and len(md) == 3
    assert list(md.keys()) == ["fc", "act", "out"]
    assert [n for n, _ in md.named_parameters()] == ["fc.weight", "fc.bias", "out.weight", "out.bias"]
    assert isinstance(md.pop("act"), nn.ReLU) and "act" not in md
    md.update([("extra", nn.Tanh())])
    assert list(md) == ["fc", "out", "extra"]
    md.clear()
    assert len(md) == 0
    with pytest.raises(ValueError):
        md.update([nn.ReLU()])


def test_parameter_list_and_dict():
    pl = nn.ParameterList([nn.Parameter(bp.ones(2, 3)), bp.zeros(2)])
    assert all(isinstance(p, nn.Parameter) for p in pl)
    pl.append(bp.ones(1))
    assert [n for n, _ in pl.named_parameters()] == ["0", "1", "2"]
    assert repr(pl).splitlines()[1] == "    (0): Parameter containing: [backprop.float32 of size 2x3]"

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.pd = nn.ParameterDict({"a": bp.ones(2), "b": nn.Parameter(bp.zeros(3))})

    net = Net()
    assert list(net.state_dict()) == ["pd.a", "pd.b"]
    net.pd["c"] = bp.ones(1)
    assert list(net.pd.keys()) == ["a", "b", "c"] and isinstance(net.pd["c"], nn.Parameter)
    del net.pd["a"]
    assert [n for n, _ in net.named_parameters()] == ["pd.b", "pd.c"]
    assert net.pd.get("zz") is None


def test_forward_pre_hook_and_hook_with_kwargs_and_prepend():
    calls = []

    class M(nn.Module):
        def forward(self, x, scale=1.0):
            return x * scale

    m = M()
    m.register_forward_pre_hook(lambda mod, args, kwargs: (args, {**kwargs, "scale": 3.0}), with_kwargs=True)
    m.register_forward_pre_hook(lambda mod, args: calls.append("first"), prepend=True)
    h = m.register_forward_hook(lambda mod, args, kwargs, out: out + kwargs["scale"], with_kwargs=True)
    out = m(bp.tensor([1.0]), scale=2.0)
    assert_close(out, [6.0])
    assert calls == ["first"]
    h.remove()
    assert_close(m(bp.tensor([1.0])), [3.0])
    with pytest.raises(RuntimeError, match="new_args, new_kwargs"):
        m.register_forward_pre_hook(lambda mod, a, k: 5, with_kwargs=True)
        m(bp.tensor([1.0]))


def test_always_call_forward_hook_runs_when_forward_raises():
    seen = []

    class Bad(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    m = Bad()
    m.register_forward_hook(lambda mod, args, out: seen.append(out), always_call=True)
    with pytest.raises(ValueError, match="boom"):
        m(bp.ones(1))
    assert seen == [None]


def test_full_backward_hooks_see_and_replace_gradients():
    lin = nn.Linear(3, 2)
    seen = {}

    def pre(module, grad_output):
        seen["pre"] = to_np(grad_output[0])
        return (grad_output[0] * 2,)

    def post(module, grad_input, grad_output):
        seen["in"] = to_np(grad_input[0])
        seen["out"] = to_np(grad_output[0])

    lin.register_full_backward_pre_hook(pre)
    lin.register_full_backward_hook(post)
    x = bp.randn(4, 3, requires_grad=True)
    lin(x).sum().backward()
    np.testing.assert_allclose(seen["pre"], np.ones((4, 2)))
    np.testing.assert_allclose(seen["out"], 2 * np.ones((4, 2)))
    w = to_np(lin.weight)
    np.testing.assert_allclose(seen["in"], 2 * np.ones((4, 2)) @ w, rtol=1e-6)
    assert_close(x.grad, 2 * np.ones((4, 2)) @ w, rtol=1e-6)
    assert_close(lin.weight.grad, 2 * np.ones((2, 4)) @ to_np(x), rtol=1e-5)


def test_full_backward_hook_can_replace_grad_input_and_runs_without_input_grads():
    lin = nn.Linear(2, 2)
    calls = []
    lin.register_full_backward_hook(lambda m, gi, go: (None,) if gi[0] is None else (gi[0] * 0,))
    lin.register_full_backward_hook(lambda m, gi, go: calls.append(gi))
    x = bp.randn(3, 2, requires_grad=True)
    lin(x).sum().backward()
    assert_close(x.grad, np.zeros((3, 2)))
    lin(bp.randn(3, 2)).sum().backward()  # input needs no grad: grad_input is (None,)
    assert calls[-1] == (None,)


def test_state_dict_hooks():
    m = nn.Linear(2, 2)
    pre_calls = []
    m.register_state_dict_pre_hook(lambda mod, prefix, keep_vars: pre_calls.append(prefix))

    def post(mod, sd, prefix, meta):
        sd[prefix + "extra"] = bp.ones(1)

    m.register_state_dict_post_hook(post)
    outer = nn.Sequential(m)
    sd = outer.state_dict()
    assert pre_calls == ["0."] and list(sd) == ["0.weight", "0.bias", "0.extra"]

    def rename(mod, sd, prefix, meta, strict, missing, unexpected, errors):
        sd.pop(prefix + "extra", None)
        if prefix + "w" in sd:
            sd[prefix + "weight"] = sd.pop(prefix + "w")

    m.register_load_state_dict_pre_hook(rename)
    src = {"0.w": bp.full((2, 2), 3.0), "0.bias": bp.zeros(2), "0.extra": bp.ones(1)}
    outer.load_state_dict(src)
    assert_close(m.weight, np.full((2, 2), 3.0))
    assert "0.w" in src  # the hook edited a copy

    post_seen = []
    m.register_load_state_dict_post_hook(lambda mod, keys: (post_seen.append(list(keys.missing_keys)), keys.missing_keys.clear()))
    result = outer.load_state_dict({"0.weight": bp.zeros(2, 2)})
    assert post_seen == [["0.bias"]] and result.missing_keys == []


def test_batchnorm_loads_a_checkpoint_without_num_batches_tracked():
    bn = nn.BatchNorm1d(3)
    sd = {k: v for k, v in bn.state_dict().items() if k != "num_batches_tracked"}
    bn.load_state_dict(sd)
    assert bn.num_batches_tracked.item() == 0


def test_named_traversal_with_prefix_and_duplicates():
    shared = nn.Linear(2, 2)
    net = nn.Sequential(shared, nn.ReLU(), shared)
    assert [n for n, _ in net.named_modules()] == ["", "0", "1"]
    assert [n for n, _ in net.named_modules(remove_duplicate=False)] == ["", "0", "1", "2"]
    assert [n for n, _ in net.named_modules(prefix="net")] == ["net", "net.0", "net.1"]
    assert [n for n, _ in net.named_parameters(prefix="p", remove_duplicate=False)] == ["p.0.weight", "p.0.bias", "p.2.weight", "p.2.bias"]
    bn = nn.BatchNorm1d(2)
    assert [n for n, _ in nn.Sequential(bn).named_buffers(prefix="m")] == ["m.0.running_mean", "m.0.running_var", "m.0.num_batches_tracked"]
    assert [n for n, _ in nn.Sequential(shared, shared).named_children()] == ["0"]


def test_get_submodule_parameter_and_buffer():
    net = nn.Sequential(OrderedDict(block=nn.Sequential(nn.BatchNorm1d(2))))
    assert net.get_submodule("block.0") is net.block[0]
    assert net.get_parameter("block.0.weight") is net.block[0].weight
    assert net.get_buffer("block.0.running_mean") is net.block[0].running_mean
    with pytest.raises(AttributeError, match="no submodule"):
        net.get_submodule("block.7")
    with pytest.raises(AttributeError, match="no buffer"):
        net.get_buffer("block.0.weight")


def test_non_persistent_buffer_moves_but_is_not_saved():
    m = nn.Module()
    m.register_buffer("kept", bp.zeros(2))
    m.register_buffer("scratch", bp.ones(2), persistent=False)
    assert list(m.state_dict()) == ["kept"]
    m.double()
    assert m.scratch.dtype == bp.float64 and m.kept.dtype == bp.float64


def test_float_double_and_to_dtype_cast_only_floating_state():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    net.to(bp.float64)
    assert net[0].weight.dtype == bp.float64 and net[1].running_mean.dtype == bp.float64
    assert net[1].num_batches_tracked.dtype == bp.int64
    net.float()
    assert net[0].weight.dtype == bp.float32
    if not hasattr(bp._core, "float16"):
        with pytest.raises(TypeError, match="float16"):
            net.half()


def test_to_tensor_and_to_device_dtype_and_type_cast_floating_state(device):
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
    net.to(bp.zeros(1, dtype=bp.float64))
    assert net[0].weight.dtype == bp.float64 and net[1].running_var.dtype == bp.float64
    net.type(bp.float32)
    assert net[0].bias.dtype == bp.float32
    net.to(device, bp.float32)
    assert net[0].weight.device.type == bp.device(device).type
    assert net[1].num_batches_tracked.dtype == bp.int64
    net.to(device=device, dtype=bp.float32, non_blocking=True)
    with pytest.raises(TypeError, match="unexpected keyword"):
        net.to(copy=True)


def test_to_keeps_tied_parameters_tied():
    a, b = nn.Linear(2, 2), nn.Linear(2, 2)
    b.weight = a.weight
    net = nn.Sequential(a, b).double()
    assert net[0].weight is net[1].weight and net[0].weight.dtype == bp.float64


@pytest.mark.skipif(not hasattr(bp, "float16"), reason="needs the dtypes merge")
def test_half_and_bfloat16_cast_floating_state_only():
    net = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2)).half()
    assert net[0].weight.dtype == bp.float16 and net[1].running_mean.dtype == bp.float16
    assert net[1].num_batches_tracked.dtype == bp.int64
    out = net.float()(bp.ones(3, 2))
    assert out.dtype == bp.float32 and net[0].weight.dtype == bp.float32
    if hasattr(bp, "bfloat16"):
        assert net.bfloat16()[0].weight.dtype == bp.bfloat16


def test_loss_reprs_are_pytorchs():
    # torch 2.15: losses print no arguments (their extra_repr is the empty default).
    assert repr(nn.CrossEntropyLoss(label_smoothing=0.1)) == "CrossEntropyLoss()"
    assert repr(nn.MultiMarginLoss(p=2)) == "MultiMarginLoss()"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.Unflatten(1, (2, 2))) == "Unflatten(dim=1, unflattened_size=(2, 2))"


def test_to_keeps_every_parameter_object_and_moves_its_data_and_grad(device):
    shared = nn.Linear(3, 3)
    model = nn.Sequential(shared, nn.ReLU(), shared, nn.Linear(3, 2))
    params = list(model.parameters())
    model(bp.ones(2, 3)).sum().backward()
    grads = [to_np(p.grad).copy() for p in params]
    assert model.to(device) is model
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert model[0].weight is model[2].weight is shared.weight
    for p, g in zip(params, grads):
        assert p.device.type == bp.device(device).type and p.grad.device == p.device
        assert isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf
        np.testing.assert_allclose(to_np(p.grad), g)
    # a list taken before the move is what clip_grad_norm_ and the user keep working with
    norm = nn.utils.clip_grad_norm_(params, 1e9)
    assert np.isclose(float(norm), np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)), rtol=1e-5)
    model.cpu().double()
    assert all(a is b for a, b in zip(params, model.parameters()))
    assert all(p.dtype == bp.float64 and p.grad.dtype == bp.float64 for p in params)
