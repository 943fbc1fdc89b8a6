"""Module semantics: registration, traversal, modes, state dicts (round trips and strict
errors), devices and dtypes, hooks, printing, copying and pickling."""

import copy
import pickle

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from conftest import assert_close, to_np


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(784, 512)
        self.d1 = nn.Dropout(0.4)
        self.fc2 = nn.Linear(512, 512)
        self.d2 = nn.Dropout(0.4)
        self.fc3 = nn.Linear(512, 10)

    def forward(self, x):
        x = x.view(-1, 28 * 28)
        x = nn.functional.relu(self.fc1(x))
        x = self.d1(x)
        x = nn.functional.relu(self.fc2(x))
        x = self.d2(x)
        return self.fc3(x)


class Tied(nn.Module):
    """Two layers sharing one weight, plus a buffer and a non-persistent buffer."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 3)
        self.b = nn.Linear(3, 3, bias=False)
        self.b.weight = self.a.weight
        self.register_buffer("running", bp.zeros(3))
        self.register_buffer("scratch", bp.ones(2), persistent=False)

    def forward(self, x):
        return self.b(self.a(x)) + self.running


def test_parameters_are_registered_in_order_with_dotted_names():
    m = MLP()
    names = [n for n, _ in m.named_parameters()]
    assert names == ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]
    assert [tuple(p.shape) for p in m.parameters()] == [(512, 784), (512,), (512, 512), (512,), (10, 512), (10,)]
    assert all(isinstance(p, nn.Parameter) and p.requires_grad and p.is_leaf for p in m.parameters())
    assert [n for n, _ in m.named_children()] == ["fc1", "d1", "fc2", "d2", "fc3"]
    assert len(list(m.modules())) == 6


def test_shared_parameters_and_buffers():
    m = Tied()
    assert [n for n, _ in m.named_parameters()] == ["a.weight", "a.bias"]
    assert [n for n, _ in m.named_buffers()] == ["running", "scratch"]
    assert list(m.state_dict()) == ["running", "a.weight", "a.bias", "b.weight"]
    m.running = None
    assert "running" not in m.state_dict()
    with pytest.raises(TypeError, match="buffer"):
        m.scratch = 3.0


def test_assigning_none_and_wrong_types():
    lin = nn.Linear(2, 2)
    lin.bias = None
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    assert lin(bp.ones(1, 2)).shape == (1, 2)
    with pytest.raises(TypeError, match="Parameter or None"):
        lin.weight = bp.ones(2, 2)
    del lin.weight
    assert list(lin.state_dict()) == []


def test_assigning_before_super_init_is_a_clear_error():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(bp.ones(1))

    with pytest.raises(AttributeError, match="super"):
        Broken()


def test_train_eval_reach_every_submodule_and_change_dropout():
    m = MLP()
    assert m.training and m.d1.training
    assert m.eval() is m
    assert not any(x.training for x in m.modules())
    x = bp.randn(4, 1, 28, 28)
    assert_close(m(x), m(x))  # deterministic in eval mode
    m.train()
    assert all(x.training for x in m.modules())
    with pytest.raises(ValueError, match="bool"):
        m.train("no")


def test_forward_missing_is_reported():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(bp.ones(1))


def test_zero_grad_on_module():
    m = nn.Linear(3, 2)
    m(bp.ones(1, 3)).sum().backward()
    assert m.weight.grad is not None
    m.zero_grad(set_to_none=False)
    assert_close(m.weight.grad, np.zeros((2, 3)))
    m.zero_grad()
    assert m.weight.grad is None and m.bias.grad is None


def test_state_dict_round_trip_reproduces_outputs():
    bp.manual_seed(0)
    a, b = MLP().eval(), MLP().eval()
    x = bp.randn(5, 784)
    assert not np.allclose(to_np(a(x)), to_np(b(x)))
    result = b.load_state_dict(a.state_dict())
    assert result.missing_keys == [] and result.unexpected_keys == []
    assert_close(b(x), a(x))
    # The loaded values are copies: changing a afterwards does not change b.
    with bp.no_grad():
        a.fc1.weight.fill_(0.0)
    assert np.abs(to_np(b.fc1.weight)).sum() > 0


def test_state_dict_shares_memory_and_is_detached():
    m = nn.Linear(2, 2)
    sd = m.state_dict()
    assert not sd["weight"].requires_grad
    with bp.no_grad():
        m.weight.fill_(3.0)
    assert_close(sd["weight"], np.full((2, 2), 3.0))


def test_load_state_dict_reports_every_problem_and_copies_nothing():
    m = MLP()
    before = to_np(m.fc1.weight).copy()
    sd = MLP().state_dict()
    sd["fc2.weight"] = bp.zeros(512, 511)
    del sd["fc3.bias"]
    sd["extra.weight"] = bp.zeros(1)
    with pytest.raises(RuntimeError) as info:
        m.load_state_dict(sd)
    msg = str(info.value)
    assert "Error(s) in loading state_dict for MLP" in msg
    assert 'Missing key(s) in state_dict: "fc3.bias"' in msg
    assert 'Unexpected key(s) in state_dict: "extra.weight"' in msg
    assert "size mismatch for fc2.weight: copying a param with shape [512, 511] from checkpoint, the shape in current model is [512, 512]" in msg
    np.testing.assert_array_equal(to_np(m.fc1.weight), before)


def test_load_state_dict_non_strict_and_assign():
    m = nn.Linear(3, 2)
    result = m.load_state_dict({"weight": bp.ones(2, 3), "other": bp.ones(1)}, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["other"]
    assert_close(m.weight, np.ones((2, 3)))
    with pytest.raises(RuntimeError, match="size mismatch"):
        m.load_state_dict({"weight": bp.ones(3, 3)}, strict=False)
    new = bp.full((2,), 7.0)
    m.load_state_dict({"weight": bp.ones(2, 3), "bias": new}, assign=True)
    assert isinstance(m.bias, nn.Parameter) and m.bias.requires_grad
    assert_close(m.bias, [7.0, 7.0])
    with pytest.raises(RuntimeError, match="expected a Tensor"):
        m.load_state_dict({"weight": np.ones((2, 3)), "bias": new})


def test_to_dtype_and_device(device):
    m = Tied()
    m.to(bp.float64)
    assert all(p.dtype == bp.float64 for p in m.parameters())
    assert m.b.weight is m.a.weight  # sharing survives the conversion
    assert m.running.dtype == bp.float64
    m.float()
    m.to(device)
    assert all(p.device.type == device for p in m.parameters())
    assert m(bp.ones(2, 3, device=device)).device.type == device


def test_to_keeps_parameter_identity_when_nothing_changes():
    m = nn.Linear(2, 2)
    w = m.weight
    m.to("cpu", bp.float32)
    assert m.weight is w


def test_to_an_unavailable_device_is_a_device_error():
    from conftest import _gpu_available

    if _gpu_available():
        pytest.skip("a GPU is available")
    with pytest.raises(bp.DeviceError):
        nn.Linear(2, 2).to("gpu")


def test_repr_matches_pytorchs_layout():
    assert repr(MLP()) == (
        "MLP(\n"
        "  (fc1): Linear(in_features=784, out_features=512, bias=True)\n"
        "  (d1): Dropout(p=0.4, inplace=False)\n"
        "  (fc2): Linear(in_features=512, out_features=512, bias=True)\n"
        "  (d2): Dropout(p=0.4, inplace=False)\n"
        "  (fc3): Linear(in_features=512, out_features=10, bias=True)\n"
        ")"
    )
    seq = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Sequential(nn.Tanh()))
    assert repr(seq) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n  (1): ReLU()\n"
        "  (2): Sequential(\n    (0): Tanh()\n  )\n)"
    )


def test_forward_hooks_run_and_can_be_removed():
    m = nn.Linear(2, 2)
    seen = []
    pre = m.register_forward_pre_hook(lambda mod, args: (args[0] * 0,))
    post = m.register_forward_hook(lambda mod, args, out: seen.append(tuple(out.shape)))
    assert_close(m(bp.ones(3, 2)), np.broadcast_to(to_np(m.bias), (3, 2)))
    assert seen == [(3, 2)]
    pre.remove()
    post.remove()
    m(bp.ones(1, 2))
    assert seen == [(3, 2)]


def test_parameter_shares_memory_and_prints():
    t = bp.zeros(2)
    p = nn.Parameter(t)
    assert p.requires_grad and isinstance(p, bp.Tensor)
    t.add_(1.0)
    assert_close(p, [1.0, 1.0])
    assert repr(p).startswith("Parameter containing:\ntensor([1., 1.]")
    assert not nn.Parameter(bp.ones(1), requires_grad=False).requires_grad
    with pytest.raises(TypeError, match="Tensor"):
        nn.Parameter([1.0, 2.0])


def test_deepcopy_and_pickle_give_independent_modules():
    m = Tied()
    for clone in (copy.deepcopy(m), pickle.loads(pickle.dumps(m))):
        assert isinstance(clone.a.weight, nn.Parameter)
        assert clone.b.weight is clone.a.weight
        assert_close(clone.a.weight, to_np(m.a.weight))
        with bp.no_grad():
            clone.a.weight.fill_(0.0)
        assert np.abs(to_np(m.a.weight)).sum() > 0


def test_sequential_and_module_list_containers():
    seq = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    assert len(seq) == 3 and isinstance(seq[1], nn.ReLU) and isinstance(seq[-1], nn.Linear)
    assert len(seq[:2]) == 2
    x = bp.randn(5, 4)
    assert_close(seq(x), seq[2](seq[1](seq[0](x))))
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    with pytest.raises(IndexError):
        seq[3]
    layers = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)])
    layers.append(nn.Linear(2, 1))
    assert len(list(layers.parameters())) == 8 and len(layers) == 4


def test_apply_and_get_submodule():
    m = MLP()
    m.apply(lambda mod: nn.init.zeros_(mod.bias) if isinstance(mod, nn.Linear) else None)
    assert all(np.all(to_np(mod.bias) == 0) for mod in m.modules() if isinstance(mod, nn.Linear))
    assert m.get_submodule("fc2") is m.fc2
    assert m.get_parameter("fc3.bias") is m.fc3.bias
    with pytest.raises(AttributeError, match="no submodule"):
        m.get_submodule("fc9")
