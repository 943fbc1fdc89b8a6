"""In-place ops: every op table row PyTorch has an `X_` for, the hand-written ones (clamp_,
pow_, div_, lerp_, addcmul_, masked_fill_, ...), the in-place operators, and autograd through
them as PyTorch: a leaf that requires grad is refused, a saved tensor modified in place fails
at backward, and otherwise the gradient is that of the out-of-place chain."""

import math

import numpy as np
import pytest

import backprop as bp
from backprop import _core
from conftest import on, to_np

F = bp.nn.functional
TABLE = _core._op_table()

# torch 2.15: [n for n in dir(torch.Tensor) if n.endswith("_")], restricted to elementwise ops.
TORCH_TENSOR_INPLACE = (
    "abs_ absolute_ acos_ acosh_ add_ addcdiv_ addcmul_ arccos_ arccosh_ arcsin_ arcsinh_ arctan2_ "
    "arctan_ arctanh_ asin_ asinh_ atan2_ atan_ atanh_ bitwise_and_ bitwise_left_shift_ bitwise_not_ "
    "bitwise_or_ bitwise_right_shift_ bitwise_xor_ ceil_ clamp_ clamp_max_ clamp_min_ clip_ copy_ "
    "copysign_ cos_ cosh_ deg2rad_ div_ divide_ eq_ erf_ erfc_ erfinv_ exp2_ exp_ expm1_ fill_ fix_ "
    "float_power_ floor_ floor_divide_ fmod_ frac_ ge_ gt_ hypot_ ldexp_ le_ lerp_ log10_ log1p_ log2_ "
    "log_ logical_and_ logical_not_ logical_or_ logical_xor_ logit_ lt_ masked_fill_ mul_ multiply_ "
    "ne_ neg_ negative_ nextafter_ pow_ rad2deg_ reciprocal_ relu_ remainder_ round_ rsqrt_ sgn_ "
    "sigmoid_ sign_ sin_ sinc_ sinh_ sqrt_ square_ sub_ subtract_ tan_ tanh_ true_divide_ trunc_ xlogy_ "
    "zero_"
).split()
# torch.nn.functional's in-place activations.
TORCH_F_INPLACE = "celu_ elu_ hardtanh_ leaky_relu_ relu_ rrelu_ selu_ threshold_".split()


@pytest.mark.parametrize("name", TORCH_TENSOR_INPLACE)
def test_every_elementwise_inplace_method_pytorch_has_exists(name):
    assert callable(getattr(bp.Tensor, name)), name


@pytest.mark.parametrize("name", TORCH_F_INPLACE)
def test_nn_functional_inplace_activations_exist(name):
    assert callable(getattr(F, name)), name


# Inputs inside every unary row's domain (logical_not / bitwise_not take bools).
_UNARY_INPLACE = [op for op in TABLE if op["arity"] == 1 and op["inplace"]]


def _unary_input(op, device):
    if op["class"] == "logic":
        return on(device, [True, False, True])
    if op["name"] == "acosh":
        return on(device, [1.5, 2.0, 3.0])
    return on(device, [0.3, -0.6, 0.45])


def _out_of_place(op):
    name = op["name"]
    if op["api"] == "function":
        return getattr(F, name)
    return getattr(bp, name, None) or getattr(bp.Tensor, name)


@pytest.mark.parametrize("op", _UNARY_INPLACE, ids=lambda o: o["inplace"])
def test_unary_inplace_matches_out_of_place_and_bumps_the_version(op, device):
    x = _unary_input(op, device)
    want = to_np(_out_of_place(op)(x))
    before = x._version
    inplace = getattr(F, op["inplace"]) if op["api"] == "function" else getattr(bp.Tensor, op["inplace"])
    out = inplace(x)
    assert out is x
    assert x._version == before + 1
    np.testing.assert_allclose(to_np(x), want, rtol=1e-6, atol=1e-7)


def test_inplace_functions_of_the_module():
    x = bp.tensor([-1.0, 2.0])
    assert bp.exp_(x) is x and np.allclose(x.tolist(), np.exp([-1.0, 2.0]))
    assert bp.relu_(bp.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert F.relu_(bp.tensor([-1.0, 2.0])).tolist() == [0.0, 2.0]
    assert F.leaky_relu_(bp.tensor([-1.0, 2.0]), 0.5).tolist() == [-0.5, 2.0]
    np.testing.assert_allclose(F.elu_(bp.tensor([-1.0, 2.0]), alpha=2.0).tolist(), [2 * math.expm1(-1.0), 2.0], rtol=1e-6)
    assert F.hardtanh_(bp.tensor([-3.0, 0.5, 3.0]), -2.0, 2.0).tolist() == [-2.0, 0.5, 2.0]
    # threshold: value where x <= threshold; NaN stays (torch 2.15)
    got = F.threshold_(bp.tensor([0.5, 1.0, 2.0, math.nan]), 1.0, -7.0).tolist()
    assert got[:3] == [-7.0, -7.0, 2.0] and math.isnan(got[3])
    assert F.rrelu_(bp.tensor([-1.0, 2.0])).tolist() == pytest.approx([-(1 / 8 + 1 / 3) / 2, 2.0])
    assert bp.clamp_(bp.tensor([-3.0, 3.0]), -1, 1).tolist() == [-1.0, 1.0]
    assert bp.logit_(bp.tensor([0.0, 0.5]), eps=0.25).tolist() == pytest.approx([math.log(1 / 3), 0.0])


def test_binary_inplace_rows(device):
    a = on(device, [1.0, -2.0, 3.0])
    b = on(device, [2.0, 2.0, -1.0])
    for name in ("atan2", "hypot", "copysign", "fmod", "remainder", "xlogy", "nextafter"):
        x = on(device, [1.0, -2.0, 3.0]) if name != "xlogy" else on(device, [1.0, 2.0, 3.0])
        y = b if name != "xlogy" else on(device, [2.0, 2.0, 1.0])
        want = to_np(getattr(bp, name)(x, y))
        assert getattr(x, name + "_")(y) is x
        np.testing.assert_allclose(to_np(x), want, rtol=1e-6, err_msg=name)
    c = a.clone()
    c.floor_divide_(b)
    assert c.tolist() == [0.0, -1.0, -3.0]
    c = a.clone()
    c.eq_(on(device, [1.0, 0.0, 3.0]))  # comparisons write 1/0 in the tensor's dtype
    assert c.tolist() == [1.0, 0.0, 1.0] and c.dtype == bp.float32
    c = a.clone()
    c.lt_(0)
    assert c.tolist() == [0.0, 1.0, 0.0]


def test_arithmetic_inplace_forms():
    x = bp.tensor([1.0, 2.0])
    x.add_(bp.tensor([1.0, 1.0]), alpha=-1)
    assert x.tolist() == [0.0, 1.0]  # torch 2.15
    x.sub_(2, alpha=3)
    assert x.tolist() == [-6.0, -5.0]
    x.subtract_(1).multiply_(2)
    assert x.tolist() == [-14.0, -12.0]
    x.div_(4, rounding_mode="floor")
    assert x.tolist() == [-4.0, -3.0]
    x.divide_(-3).true_divide_(2)
    assert x.tolist() == pytest.approx([2 / 3, 0.5])
    x.pow_(2)
    assert x.tolist() == pytest.approx([4 / 9, 0.25])
    x.pow_(bp.tensor([0.5, -1.0]))
    assert x.tolist() == pytest.approx([2 / 3, 4.0])
    i = bp.tensor([-7, 7])
    i.div_(bp.tensor([2, -2]), rounding_mode="trunc")  # torch: [-3, -3], int64
    assert i.tolist() == [-3, -3] and i.dtype == bp.int64
    x = bp.tensor([1.0, 2.0])
    x.lerp_(bp.tensor([3.0, 10.0]), 0.75)
    assert x.tolist() == [2.5, 8.0]
    x.addcmul_(bp.tensor([3.0, 4.0]), bp.tensor([5.0, 6.0]), value=0.5)
    assert x.tolist() == [10.0, 20.0]
    x.addcdiv_(bp.tensor([3.0, 4.0]), bp.tensor([6.0, 8.0]), value=2)
    assert x.tolist() == [11.0, 21.0]
    x.clamp_(12, 15)
    assert x.tolist() == [12.0, 15.0]
    x.clamp_min_(13).clamp_max_(14)
    assert x.tolist() == [13.0, 14.0]
    x.clip_(max=13.5)
    assert x.tolist() == [13.0, 13.5]
    x.clamp_(min=bp.tensor([13.25, 0.0]), max=bp.tensor([20.0, 13.0]))
    assert x.tolist() == [13.25, 13.0]
    x.masked_fill_(bp.tensor([True, False]), -1.0)
    assert x.tolist() == [-1.0, 13.0]
    x.ldexp_(bp.tensor([2, -1]))
    assert x.tolist() == [-4.0, 6.5]
    d = bp.tensor([2.0, 3.0], dtype=bp.float64)
    d.float_power_(2)
    assert d.tolist() == [4.0, 9.0] and d.dtype == bp.float64
    x.zero_()
    assert x.tolist() == [0.0, 0.0]


def test_inplace_operators():
    i = bp.tensor([12, -3, 5])
    j = i
    i &= 10
    i |= 1
    i ^= bp.tensor([3, 3, 3])
    assert j is i and i.tolist() == [(12 & 10 | 1) ^ 3, (-3 & 10 | 1) ^ 3, (5 & 10 | 1) ^ 3]
    i <<= 2
    assert i.tolist() == [40, 40, 8]
    i >>= bp.tensor([1, 3, 70])  # a count >= 64 gives the sign fill (torch: 5 >> 70 == 0)
    assert i.tolist() == [20, 5, 0]
    i //= -3
    assert i.tolist() == [-7, -2, 0]
    i %= 4
    assert i.tolist() == [1, 2, 0]
    i **= 2
    assert i.tolist() == [1, 4, 0] and i.dtype == bp.int64
    m = bp.tensor([True, False])
    m &= bp.tensor([True, True])
    m |= bp.tensor([False, True])
    m ^= True
    assert m.tolist() == [False, False] and m.dtype == bp.bool
    x = bp.tensor([2.0])
    x **= 3
    assert x.tolist() == [8.0]


def test_inplace_dtype_rules_follow_pytorch():
    i = bp.tensor([1, 2])
    with pytest.raises(bp.DTypeError, match="can't be cast"):
        i.exp_()
    with pytest.raises(bp.DTypeError, match="can't be cast"):
        i.div_(2)  # torch: result type Float can't be cast to the desired output type Long
    with pytest.raises(bp.DTypeError, match="can't be cast"):
        i.add_(0.5)
    with pytest.raises(bp.DTypeError):
        i.pow_(0.5)
    with pytest.raises(bp.DTypeError, match="can't be cast"):
        m = bp.tensor([True])
        m &= 2
    with pytest.raises(TypeError, match="bitwise_and"):
        x = bp.tensor([1.0])
        x &= 1
    with pytest.raises(bp.DTypeError, match="float_power_"):
        bp.tensor([2.0]).float_power_(2)  # torch: needs a float64 base
    with pytest.raises(bp.ShapeError, match="doesn't match the broadcast shape"):
        bp.zeros(3).add_(bp.zeros(2, 3))
    with pytest.raises(ValueError, match="single memory location"):
        bp.zeros(1).expand(3).exp_()
    with pytest.raises(ValueError, match="rounding_mode"):
        bp.ones(2).div_(2, rounding_mode="round")
    # an int tensor takes the ops that keep it integral
    assert bp.tensor([-3, 4]).abs_().tolist() == [3, 4]
    assert bp.tensor([-3, 4]).neg_().tolist() == [3, -4]
    assert bp.tensor([-3, 4]).clamp_(0, 3).tolist() == [0, 3]


# ---- autograd ------------------------------------------------------------------------------

LEAF_MESSAGE = "a leaf Variable that requires grad is being used in an in-place operation"


@pytest.mark.parametrize(
    "op",
    [
        lambda t: t.exp_(),
        lambda t: t.relu_(),
        lambda t: t.add_(1),
        lambda t: t.clamp_(0, 1),
        lambda t: t.masked_fill_(bp.tensor([True, False]), 0.0),
        lambda t: t.lerp_(bp.zeros(2), 0.5),
        lambda t: t.copy_(bp.zeros(2)),
        lambda t: F.relu_(t),
    ],
)
def test_a_leaf_that_requires_grad_is_refused(op):
    x = bp.tensor([1.0, -2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=LEAF_MESSAGE):
        op(x)
    with bp.no_grad():
        op(x)  # as an optimizer's update


def test_a_saved_tensor_modified_in_place_fails_at_backward():
    x = bp.tensor([0.5, 1.0], requires_grad=True)
    y = x.exp()  # saves its output
    y.add_(1)
    with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
        y.sum().backward()
    a = x * 1
    b = a.sin()  # saves its input
    a.mul_(2)
    with pytest.raises(RuntimeError, match="modified by an in-?place operation"):
        b.sum().backward()


def _grads(build, values, n=1):
    leaves = [bp.tensor(v, dtype=bp.float64, requires_grad=True) for v in values]
    build(*leaves).sum().backward()
    return [to_np(t.grad) for t in leaves]


# (in-place chain, the same chain out of place): the gradients must agree.
_CHAINS = {
    "exp_": (lambda x: (x * 2).exp_() * x, lambda x: (x * 2).exp() * x),
    "sigmoid_": (lambda x: (x * 1).sigmoid_().sigmoid_(), lambda x: x.sigmoid().sigmoid()),
    "sin_": (lambda x: (x * 3).sin_() * x, lambda x: (x * 3).sin() * x),
    "relu_": (lambda x: F.relu_(x - 0.5) * x, lambda x: F.relu(x - 0.5) * x),
    "clamp_": (lambda x: (x * 1).clamp_(-0.5, 0.7) ** 2, lambda x: x.clamp(-0.5, 0.7) ** 2),
    "pow_": (lambda x: (x + 2).pow_(3), lambda x: (x + 2) ** 3),
    "sqrt_ tanh_": (lambda x: (x * x + 1).sqrt_().tanh_(), lambda x: (x * x + 1).sqrt().tanh()),
    "abs_ neg_": (lambda x: (x * 1).abs_().neg_() * x, lambda x: -(x.abs()) * x),
    "logit_": (lambda x: (x.sigmoid() * 1).logit_(eps=0.3), lambda x: bp.logit(x.sigmoid(), eps=0.3)),
    "hardtanh_ elu_": (lambda x: F.elu_(F.hardtanh_(x * 2), alpha=0.5), lambda x: F.elu(F.hardtanh(x * 2), 0.5)),
}


@pytest.mark.parametrize("name", sorted(_CHAINS))
def test_unary_inplace_gradients_are_the_out_of_place_chains(name):
    inplace, plain = _CHAINS[name]
    values = [[-1.2, -0.3, 0.2, 0.9, 1.6]]
    np.testing.assert_allclose(_grads(inplace, values)[0], _grads(plain, values)[0], rtol=1e-12, atol=1e-14)


_BINARY_CHAINS = {
    "add_ alpha": (lambda x, w: (x * 1).add_(w, alpha=-2) * x, lambda x, w: (x - 2 * w) * x),
    "mul_ div_": (lambda x, w: (x * 1).mul_(w).div_(w + 3), lambda x, w: x * w / (w + 3)),
    "sub_ into a buffer": (lambda x, w: bp.zeros(5, dtype=bp.float64).sub_(w * x), lambda x, w: -(w * x)),
    "atan2_ hypot_": (lambda x, w: (x * 1).atan2_(w + 3).hypot_(w), lambda x, w: bp.hypot(bp.atan2(x, w + 3), w)),
    "lerp_ tensor weight": (lambda x, w: (x * 1).lerp_(w * 2, w.sigmoid()), lambda x, w: x + w.sigmoid() * (w * 2 - x)),
    "addcmul_ addcdiv_": (
        lambda x, w: (x * 1).addcmul_(w, x, value=0.5).addcdiv_(x, w + 3, value=-2),
        lambda x, w: (x + 0.5 * w * x) - 2 * x / (w + 3),
    ),
    "masked_fill_": (lambda x, w: (x * w).masked_fill_(x > 0, 2.0) * w, lambda x, w: bp.where(x > 0, 2.0, x * w) * w),
    "copy_": (lambda x, w: (x * 1).copy_(w * w) * x, lambda x, w: (w * w) * x),
    "xlogy_ ldexp_": (lambda x, w: (x * 1).xlogy_(w * w + 1).ldexp_(w), lambda x, w: bp.xlogy(x, w * w + 1) * 2**w),
    "eq_ gives zeros": (lambda x, w: (x * 1).eq_(w) * x + w, lambda x, w: (x == w).double() * x + w),
}


@pytest.mark.parametrize("name", sorted(_BINARY_CHAINS))
def test_binary_inplace_gradients_are_the_out_of_place_chains(name):
    inplace, plain = _BINARY_CHAINS[name]
    values = [[-1.2, -0.3, 0.2, 0.9, 1.6], [0.7, -0.2, 0.2, 1.5, -1.1]]
    for got, want in zip(_grads(inplace, values), _grads(plain, values)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-14)


def test_inplace_result_takes_the_new_node_and_higher_derivatives_flow():
    x = bp.tensor([0.3, -0.7], dtype=bp.float64, requires_grad=True)
    y = x * 1
    y.sin_()
    assert y.grad_fn.name().startswith("SinBackward")
    (g,) = bp.autograd.grad(y.sum(), x, create_graph=True)
    np.testing.assert_allclose(to_np(g), np.cos([0.3, -0.7]))
    (h,) = bp.autograd.grad(g.sum(), x)
    np.testing.assert_allclose(to_np(h), -np.sin([0.3, -0.7]))


def test_inplace_on_gpu_follows_autograd(device):
    x = bp.tensor([0.5, -1.0, 2.0], device=device, requires_grad=True)
    y = x * 2
    y.tanh_().mul_(x)
    y.sum().backward()
    v = np.array([0.5, -1.0, 2.0])
    np.testing.assert_allclose(to_np(x.grad), np.tanh(2 * v) + v * 2 * (1 - np.tanh(2 * v) ** 2), rtol=1e-5)


@pytest.mark.parametrize("dtype", [bp.float32, bp.float64])
def test_inplace_kernels_on_large_tensors_and_windows_match_numpy(dtype):
    # Large enough for the parallel in-place kernels; a window of a larger storage must
    # change exactly its own elements.
    rng = np.random.default_rng(0)
    a = rng.standard_normal(300_001).astype(np.float32 if dtype == bp.float32 else np.float64)
    t = bp.tensor(a, dtype=dtype)
    t.mul_(0.5).add_(1.0).div_(3).relu_().sqrt_()
    np.testing.assert_allclose(t.numpy(), np.sqrt(np.maximum((a * 0.5 + 1.0) / 3, 0)), rtol=1e-6)
    base = bp.tensor(a, dtype=dtype)
    window = base[1000:250_000]
    window.mul_(2).tanh_()
    want = a.copy()
    want[1000:250_000] = np.tanh(want[1000:250_000] * 2)
    np.testing.assert_allclose(base.numpy(), want, rtol=1e-6, atol=1e-7)
    strided = bp.tensor(a[:300_000], dtype=dtype).view(1000, 300).t()  # not contiguous: the copying path
    strided.neg_().mul_(-1.0)
    np.testing.assert_array_equal(strided.t().reshape(-1).numpy(), a[:300_000])
