"""Every op family on the GPU against the same op on the CPU (float32), forward and backward.

The CPU path is checked against NumPy and central differences elsewhere; here it is the
reference for the GPU kernels behind each op, including the ops whose backward is built from
other ops (indexing's scatter-add, max's routing, the losses)."""

import numpy as np
import pytest

import backprop as bp
from backprop.testing import assert_close
from conftest import to_np

pytestmark = pytest.mark.gpu

if not bp.gpu.is_available():
    pytest.skip(f"no GPU adapter: {bp.gpu.unavailable_reason()}", allow_module_level=True)

F = bp.nn.functional
RNG = np.random.default_rng(2024)


def randn(*shape):
    return RNG.standard_normal(shape).astype(np.float32)


def ints(high, *shape):
    return RNG.integers(0, high, shape)


# (id, function of tensors, inputs: float arrays get grads, int arrays are constants)
CASES = [
    ("sum_dims", lambda x: x.sum((0, 2), keepdim=True), [randn(3, 4, 5)]),
    ("mean_neg_dim", lambda x: x.mean(-1), [randn(3, 4, 5)]),
    ("amax_ties_split", lambda x: x.amax(1), [np.round(randn(4, 6))]),
    ("max_all", lambda x: x.max(), [randn(5, 7)]),
    ("max_dim_values", lambda x: x.max(1)[0], [randn(5, 7)]),
    ("min_dim_values", lambda x: x.min(0, keepdim=True)[0], [randn(5, 7)]),
    ("logsumexp", lambda x: x.logsumexp(1), [randn(6, 9) * 10]),
    ("var_std", lambda x: x.var(0) + x.std(1).sum(), [randn(5, 6)]),
    ("norm", lambda x: x.norm(), [randn(4, 4)]),
    ("reshape_permute", lambda x: x.reshape(6, 4).permute(1, 0).reshape(2, 12), [randn(2, 3, 4)]),
    ("expand_broadcast", lambda x: x.expand(3, 4, 5) * 2.0, [randn(4, 1)]),
    ("squeeze_unsqueeze_flatten", lambda x: x.unsqueeze(0).squeeze(2).flatten(), [randn(3, 1, 4)]),
    ("slices_steps", lambda x: x[1:, ::2] * x[:-1, 1::2], [randn(5, 8)]),
    ("select_narrow", lambda x: x.select(1, 2) + x.narrow(1, 0, 1).squeeze(1), [randn(4, 5)]),
    ("split_chunk_cat", lambda x: bp.cat(list(reversed(x.split(2, 1))), 1) + bp.cat(x.chunk(3, 0), 0), [randn(4, 6)]),
    ("stack_unbind", lambda x: bp.stack(x.unbind(1), 0), [randn(3, 4)]),
    ("index_tensor_repeat", lambda x, i: x[i] * 3.0, [randn(6, 3), np.array([5, 0, 0, 2])]),
    ("index_2d_pairs", lambda x, i, j: x[i, j], [randn(4, 5), np.array([0, 3, 3]), np.array([1, 4, 1])]),
    ("index_mixed", lambda x, i: x[1:, i, None], [randn(3, 5, 2), np.array([[4, 0], [1, 1]])]),
    ("bool_mask", lambda x: x[x > 0.3], [randn(5, 5)]),
    ("index_select", lambda x, i: x.index_select(0, i), [randn(5, 3), np.array([4, 4, 1])]),
    ("masked_fill_where", lambda x: x.masked_fill(x < 0, 0.5) + bp.where(x > 1, x, 2.0), [randn(4, 4)]),
    ("matmul_batched", lambda a, b: a @ b, [randn(2, 3, 5), randn(5, 4)]),
    ("matmul_vectors", lambda a, b: (a @ b) * (b @ b), [randn(6), randn(6)]),
    ("mm_transposed", lambda a, b: a.T @ b.mT, [randn(5, 3), randn(4, 5)]),
    ("linear", lambda x, w, b: F.linear(x, w, b), [randn(5, 6), randn(3, 6), randn(3)]),
    ("linear_3d_input", lambda x, w: F.linear(x, w), [randn(2, 5, 6), randn(3, 6)]),
    ("softmax_dim0", lambda x: x.softmax(0), [randn(7, 3)]),
    ("log_softmax_long_rows", lambda x: x.log_softmax(-1), [randn(3, 300)]),
    ("cross_entropy", lambda x, t: F.cross_entropy(x, t), [randn(8, 5), ints(5, 8)]),
    ("cross_entropy_weighted_ignore", lambda x, t, w: F.cross_entropy(x, t, weight=w.abs(), ignore_index=2), [randn(8, 5), ints(5, 8), randn(5)]),
    ("cross_entropy_smoothing", lambda x, t: F.cross_entropy(x, t, label_smoothing=0.1, reduction="sum"), [randn(6, 4), ints(4, 6)]),
    ("cross_entropy_probabilities", lambda x, p: F.cross_entropy(x, p.softmax(1)), [randn(6, 4), randn(6, 4)]),
    ("cross_entropy_spatial", lambda x, t: F.cross_entropy(x, t, reduction="none"), [randn(2, 3, 4), ints(3, 2, 4)]),
    ("nll_loss", lambda x, t: F.nll_loss(x.log_softmax(1), t), [randn(7, 3), ints(3, 7)]),
    ("mse_loss", lambda a, b: F.mse_loss(a, b), [randn(4, 5), randn(4, 5)]),
    ("multi_margin_loss", lambda x, t: F.multi_margin_loss(x, t), [randn(6, 4), ints(4, 6)]),
    ("activations", lambda x: F.gelu(x) + F.elu(x) + F.leaky_relu(x, 0.2) + x.sigmoid() * x.tanh(), [randn(3, 7)]),
    ("pow_div_sqrt", lambda a, b: (a.abs() + 0.5) ** b / (b.square() + 1).sqrt(), [randn(4, 4), randn(4)]),
    ("maximum_minimum", lambda a, b: bp.maximum(a, b) - bp.minimum(a, b * 2), [randn(3, 5), randn(5)]),
    ("clamp_reciprocal_rsqrt", lambda x: x.clamp(-0.5, 0.7) + (x.abs() + 1).reciprocal() + (x.abs() + 1).rsqrt(), [randn(5, 5)]),
    ("copy_into_view", lambda x: _setitem(x), [randn(4, 5)]),
    ("dropout_eval", lambda x: F.dropout(x, 0.5, training=False), [randn(3, 3)]),
    ("dot", lambda a, b: a.dot(b), [randn(9), randn(9)]),
    # the op table's rows (rust/ops/table.rs)
    (
        "log_exp_erf_tan_atan",
        lambda x: bp.log1p(x.abs()) + bp.expm1(x * 0.5) + bp.log2(x.abs() + 0.5) + bp.log10(x.abs() + 0.5) + bp.erf(x)
        + bp.tan(x * 0.4) + bp.atan(x),
        [randn(3, 7)],
    ),
    (
        "inverse_trig_hyperbolic",
        lambda x: bp.asin(x.tanh() * 0.9) + bp.acos(x.tanh() * 0.9) + bp.sinh(x) + bp.cosh(x) + bp.asinh(x * 3)
        + bp.atanh(x.tanh() * 0.9),
        [randn(3, 7)],
    ),
    ("rounding_square", lambda x: bp.floor(x * 3) + bp.ceil(x * 3) + bp.round(x * 3) + bp.trunc(x * 3) + bp.frac(x * 3) + x.square(), [randn(4, 6)]),
    (
        "table_activations",
        lambda x: F.softplus(x, 2.0, 1.0) + F.silu(x) + F.mish(x) + F.hardtanh(x, -0.5, 0.8) + F.relu6(x * 4) + F.hardsigmoid(x * 3)
        + F.hardswish(x * 3) + F.softsign(x) + F.logsigmoid(x) + F.selu(x) + F.celu(x, 0.7) + F.gelu(x, approximate="tanh"),
        [randn(4, 9)],
    ),
    ("atan2_fmod_remainder", lambda a, b: bp.atan2(a, b) + bp.fmod(a * 3, b.abs() + 0.5) + bp.remainder(a * 3, b.abs() + 0.5), [randn(3, 5), randn(5)]),
]


def _setitem(x):
    y = x * 1.0
    y[1:3, ::2] = x[:2, 1::2].sum(1, keepdim=True) * 2.0
    return y


def _run(fn, arrays, device):
    tensors = []
    for a in arrays:
        if a.dtype == np.float32:
            tensors.append(bp.tensor(a, device=device, requires_grad=True))
        else:
            tensors.append(bp.tensor(a, device=device))
    out = fn(*tensors)
    up = np.linspace(-1, 1, max(out.numel(), 1), dtype=np.float32).reshape(tuple(out.shape))
    out.backward(bp.tensor(up, device=device))
    grads = [to_np(t.grad) if t.requires_grad else None for t in tensors]
    return to_np(out), grads


@pytest.mark.parametrize("name, fn, arrays", CASES, ids=[c[0] for c in CASES])
def test_gpu_matches_cpu(name, fn, arrays):
    out_cpu, grads_cpu = _run(fn, arrays, "cpu")
    out_gpu, grads_gpu = _run(fn, arrays, "gpu")
    tol = dict(rtol=1e-4, atol=1e-5)
    assert_close(out_gpu, out_cpu, **tol, msg=lambda m: f"{name} forward\n{m}")  # shape and dtype too
    for i, (gc, gg) in enumerate(zip(grads_cpu, grads_gpu)):
        if gc is not None:
            assert_close(gg, gc, **tol, msg=lambda m: f"{name} grad of input {i}\n{m}")


@pytest.mark.parametrize(
    "fn",
    [
        lambda a, b: a // b,
        lambda a, b: a % b,
        lambda a, b: a * b - a,
        lambda a, b: bp.maximum(a, b),
        lambda a, b: (a < b) | (a == 3),
        lambda a, b: ((a >= b) ^ (a != 0)) & ~(b > 4),
        lambda a, b: (a > 2).sum() + a.sum(0) + b.amax(),
        lambda a, b: a.clamp(-2, 3) + a.abs() + (-a).sign(),
        lambda a, b: a.argmax(0) + b.argmin(),
        lambda a, b: a**2 + bp.where(a > 0, a, b),
        lambda a, b: (a / b).float(),
        lambda a, b: a.float().mean() + b.float().sum(),
        lambda a, b: ((a & b) | (a ^ 3)) + ~a + a.square(),
        lambda a, b: bp.fmod(a, b) + bp.remainder(a, -b) + a.floor() + a.round(),
        lambda a, b: bp.bitwise_and(a > 0, b < 3) ^ bp.bitwise_not(a < -2),
    ],
)
def test_integer_and_bool_ops_match_the_cpu(fn):
    a = RNG.integers(-9, 9, (4, 5))
    b = RNG.integers(1, 7, 5)
    want = fn(bp.tensor(a), bp.tensor(b))
    got = fn(bp.tensor(a, device="gpu"), bp.tensor(b, device="gpu"))
    assert_close(got, want, rtol=1e-6, atol=0.0, check_device=False)


def test_integer_division_by_zero_is_an_error_on_the_gpu_too():
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        bp.tensor([4, 5], device="gpu") // bp.tensor([1, 0], device="gpu")


def test_in_place_random_fills_and_factories_on_the_gpu():
    x = bp.zeros(1000, device="gpu")
    x.uniform_(-1, 1)
    v = to_np(x)
    assert -1 <= v.min() and v.max() < 1 and v.std() > 0.5
    x.normal_(3.0, 0.5)
    v = to_np(x)
    assert abs(v.mean() - 3) < 0.1 and abs(v.std() - 0.5) < 0.1
    perm = bp.randperm(10, device="gpu")
    assert sorted(perm.tolist()) == list(range(10))
    assert bp.rand_like(x).device == bp.device("gpu") and bp.randn_like(x).device == bp.device("gpu")


@pytest.mark.parametrize("n", [1, 5, 1000, 3 * 2**15 + 17])
@pytest.mark.parametrize("p", [0.0, 0.4, 0.999])
def test_float32_dropout_masks_are_the_same_on_both_devices_from_one_seed(n, p):
    # Both draw one key from the generator and run the same Philox4x32-10 per element.
    x = np.ones(n, np.float32)
    bp.manual_seed(31)
    on_cpu = to_np(F.dropout(bp.tensor(x), p))
    after_cpu = bp.rand(3)
    bp.manual_seed(31)
    on_gpu = to_np(F.dropout(bp.tensor(x, device="gpu"), p))
    after_gpu = bp.rand(3)
    assert np.array_equal(on_cpu, on_gpu)
    assert np.array_equal(to_np(after_cpu), to_np(after_gpu))  # the same single draw from the stream
    assert set(np.unique(on_cpu)) <= {0.0, np.float32(1 / (1 - p))}
