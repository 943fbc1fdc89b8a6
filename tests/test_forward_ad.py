"""autograd.forward_ad: tangents carried through one forward pass, checked against the
double-vjp `func.jvp` (reverse mode) and float64 central differences, on CPU and GPU."""

import numpy as np
import pytest

import backprop as bp
import backprop.nn.functional as F
from backprop.autograd import forward_ad as fwAD
from conftest import assert_close, on, to_np

rng = np.random.default_rng(0)


def _a(*shape, low=-1.5, high=1.5):
    return rng.uniform(low, high, size=shape)


# name -> (function of tensors, input arrays). Each covers one jvp rule family.
CASES = {
    # elementwise (the op table's vjp applied to the tangent), broadcasting included
    "exp": (lambda x: x.exp(), [_a(3, 4)]),
    "tanh": (lambda x: x.tanh(), [_a(3, 4)]),
    "sigmoid": (lambda x: x.sigmoid(), [_a(3, 4)]),
    "relu": (lambda x: x.relu(), [_a(3, 4)]),
    "log": (lambda x: x.log(), [_a(3, 4, low=0.5, high=2.0)]),
    "sqrt": (lambda x: x.sqrt(), [_a(5, low=0.5, high=2.0)]),
    "gelu_softplus": (lambda x: F.gelu(x) + F.softplus(x), [_a(3, 4)]),
    "leaky_clamp": (lambda x: F.leaky_relu(x, 0.1) * x.clamp(-1.0, 1.0), [_a(3, 4)]),
    "pow_scalar": (lambda x: x**3, [_a(3, 4)]),
    "mul_broadcast": (lambda x, y: x * y, [_a(3, 4), _a(4)]),
    "div": (lambda x, y: x / y, [_a(3, 4), _a(3, 4, low=0.5, high=2.0)]),
    "pow_tensor": (lambda x, y: x**y, [_a(2, 3, low=0.5, high=2.0), _a(2, 3)]),
    "sub_maximum": (lambda x, y: bp.maximum(x, y) - x, [_a(3, 4), _a(3, 4)]),
    "where": (lambda x, y: bp.where(x > 0, x * y, y), [_a(3, 4), _a(3, 4)]),
    # matrix products
    "matmul": (lambda x, w: x @ w, [_a(3, 4), _a(4, 2)]),
    "matvec": (lambda x, v: x @ v, [_a(3, 4), _a(4)]),
    "bmm": (lambda a, b: bp.bmm(a, b), [_a(2, 3, 4), _a(2, 4, 2)]),
    "linear": (lambda x, w, b: F.linear(x, w, b), [_a(3, 4), _a(2, 4), _a(2)]),
    # reductions
    "sum": (lambda x: x.sum(), [_a(3, 4)]),
    "sum_dim": (lambda x: x.sum(1, keepdim=True), [_a(3, 4)]),
    "mean": (lambda x: x.mean(0), [_a(3, 4)]),
    "max": (lambda x: x.max(), [_a(3, 4)]),
    "max_dim": (lambda x: x.max(1)[0], [_a(3, 4)]),
    "min": (lambda x: x.min(), [_a(3, 4)]),
    "logsumexp": (lambda x: x.logsumexp(1), [_a(3, 4)]),
    "var_std": (lambda x: x.var(1).sum() + x.std(0).sum(), [_a(3, 4)]),
    "norm": (lambda x: x.norm(), [_a(3, 4)]),
    # shape ops
    "views": (lambda x: x.reshape(4, 3).t().permute(1, 0).unsqueeze(0).flatten(), [_a(3, 4)]),
    "slices": (lambda x: x[1:, ::2] * x[0, 1], [_a(3, 4)]),
    "expand": (lambda x: x[:1].expand(3, 4), [_a(3, 4)]),
    "cat_stack": (lambda x, y: bp.cat([x, y * 2], 0) * bp.stack([x, y]).reshape(4, 3), [_a(2, 3), _a(2, 3)]),
    "index": (lambda x: x[bp.tensor([2, 0, 2]).to(x.device)], [_a(3, 4)]),
    "gather": (lambda x: x.gather(1, bp.tensor([[0, 3], [1, 1], [2, 0]]).to(x.device)), [_a(3, 4)]),
    # NN ops
    "softmax": (lambda x: F.softmax(x, dim=1), [_a(3, 4)]),
    "log_softmax": (lambda x: F.log_softmax(x, dim=0), [_a(3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, bp.tensor([0, 3, 1]).to(x.device)), [_a(3, 4)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [_a(3, 4), _a(4), _a(4)]),
    "mse_loss": (lambda x, y: F.mse_loss(x, y), [_a(3, 4), _a(3, 4)]),
    "mlp": (lambda x, w: (x @ w).tanh().sum(1).exp(), [_a(3, 4), _a(4, 2)]),
}


def _forward_ad(fn, primals, tangents):
    with fwAD.dual_level():
        duals = [fwAD.make_dual(p, t) for p, t in zip(primals, tangents)]
        out = fn(*duals)
        primal, tangent = fwAD.unpack_dual(out)
    return primal, tangent


def _central(fn, arrays, directions, eps=1e-6):
    def at(sign):
        with bp.no_grad():
            xs = [bp.tensor(a + sign * eps * d, dtype=bp.float64) for a, d in zip(arrays, directions)]
            return to_np(fn(*xs))

    return (at(1) - at(-1)) / (2 * eps)


@pytest.mark.parametrize("name", sorted(CASES))
def test_forward_ad_matches_central_differences_and_double_vjp(name, device):
    fn, arrays = CASES[name]
    directions = [rng.standard_normal(a.shape) for a in arrays]
    primals = [on(device, a) for a in arrays]
    tangents = [on(device, d) for d in directions]
    value, tangent = _forward_ad(fn, primals, tangents)
    assert tangent is not None, f"{name}: no tangent reached the output"
    assert tuple(tangent.shape) == tuple(value.shape) and tangent.device == value.device
    rtol, atol = (1e-6, 1e-8) if device == "cpu" else (1e-3, 1e-4)
    assert_close(tangent, _central(fn, arrays, directions), rtol=rtol, atol=atol, err_msg=name)
    _, double_vjp = bp.func.jvp(fn, tuple(primals), tuple(tangents))
    assert_close(tangent, double_vjp, rtol=rtol, atol=atol, err_msg=name)
    with bp.no_grad():
        assert_close(value, fn(*primals), rtol=1e-6, atol=1e-7)


def test_tangents_flow_without_grad_mode_and_leave_no_graph():
    x = bp.tensor([0.5, 1.0], dtype=bp.float64)
    with bp.no_grad(), fwAD.dual_level():
        y = fwAD.make_dual(x, bp.tensor([1.0, 0.0], dtype=bp.float64)).sin()
        primal, tangent = fwAD.unpack_dual(y)
    assert y.grad_fn is None and not y.requires_grad
    assert_close(tangent, [np.cos(0.5), 0.0])
    assert_close(primal, np.sin([0.5, 1.0]))


def test_reverse_mode_still_flows_through_a_dual_tensor():
    x = bp.tensor([1.0, 2.0], dtype=bp.float64, requires_grad=True)
    with fwAD.dual_level():
        d = fwAD.make_dual(x, bp.ones(2, dtype=bp.float64))
        y = (d * d).sum()
        assert fwAD.unpack_dual(y).tangent.item() == pytest.approx(6.0)  # 2 * (1 + 2)
    y.backward()
    assert x.grad.tolist() == [2.0, 4.0]


def test_dropout_tangent_uses_the_forward_mask():
    bp.manual_seed(3)
    x = bp.ones(200, dtype=bp.float64)
    with fwAD.dual_level():
        y = F.dropout(fwAD.make_dual(x, bp.full((200,), 3.0, dtype=bp.float64)), p=0.5, training=True)
        primal, tangent = fwAD.unpack_dual(y)
    kept = to_np(primal) != 0
    assert 0 < kept.sum() < 200
    assert_close(tangent, np.where(kept, 6.0, 0.0))


def test_unpack_dual_is_a_named_tuple_with_none_for_plain_tensors():
    with fwAD.dual_level():
        plain = bp.ones(2)
        result = fwAD.unpack_dual(plain)
        assert type(result).__name__ == "UnpackedDualTensor" and result._fields == ("primal", "tangent")
        assert result.primal is plain and result.tangent is None
        # integer results carry no tangent
        d = fwAD.make_dual(bp.tensor([1.0, 2.0]), bp.ones(2))
        assert fwAD.unpack_dual(d.argmax()).tangent is None


def test_levels_open_one_at_a_time_and_drop_tangents_on_exit():
    assert fwAD.enter_dual_level() == 0
    d = fwAD.make_dual(bp.ones(2), bp.ones(2))
    with pytest.raises(RuntimeError, match="Nested forward mode AD is not supported"):
        fwAD.enter_dual_level()
    fwAD.exit_dual_level()
    assert fwAD.unpack_dual(d).tangent is None
    with pytest.raises(RuntimeError, match="no level exists"):
        fwAD.make_dual(bp.ones(2), bp.ones(2))
    with pytest.raises(RuntimeError, match="no dual level is open"):
        fwAD.exit_dual_level()


def test_make_dual_checks_the_tangent():
    with fwAD.dual_level():
        with pytest.raises(RuntimeError, match=r"Tensor is of size \[2\] while the given forward gradient is of size \[3\]"):
            fwAD.make_dual(bp.ones(2), bp.ones(3))
        with pytest.raises(ValueError, match="dtype"):
            fwAD.make_dual(bp.ones(2), bp.ones(2, dtype=bp.float64))
        with pytest.raises(ValueError, match="floating point"):
            fwAD.make_dual(bp.tensor([1, 2]), bp.ones(2))


def test_in_place_ops_on_dual_tensors_are_refused():
    with fwAD.dual_level():
        d = fwAD.make_dual(bp.ones(2), bp.ones(2))
        y = d * 2
        with pytest.raises(RuntimeError, match="in-place operations on tensors that carry a forward-AD tangent"):
            y.add_(1.0)


class _Cube(bp.autograd.Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x**3

    @staticmethod
    def backward(ctx, g):
        (x,) = ctx.saved_tensors
        return 3 * x * x * g


class _CubeWithJvp(_Cube):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return x**3

    @staticmethod
    def jvp(ctx, t):
        return 3 * ctx.x * ctx.x * t


def test_custom_functions_need_a_jvp_rule():
    with fwAD.dual_level():
        d = fwAD.make_dual(bp.tensor([2.0]), bp.tensor([1.0]))
        with pytest.raises(NotImplementedError, match="_Cube: You must implement the jvp function"):
            _Cube.apply(d)
        out = _CubeWithJvp.apply(d)
        assert fwAD.unpack_dual(out).tangent.item() == pytest.approx(12.0)
        assert fwAD.unpack_dual(_Cube.apply(bp.tensor([2.0]))).tangent is None  # no dual input: fine
