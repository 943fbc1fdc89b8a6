"""Normalisation layers against PyTorch's formulas in NumPy: batch norm (running statistics,
momentum incl. None, eval mode, affine, track_running_stats), layer, group, instance and RMS
norm; the fused row-normalisation kernel forward, backward, double backward, CPU and GPU."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import backprop as bp
from backprop import nn
from backprop.nn import functional as F
from conftest import assert_close, check_backward, on, to_np

RNG = np.random.default_rng(5)


def np_norm(x, axes, eps):
    mean = x.mean(axis=axes, keepdims=True)
    var = x.var(axis=axes, keepdims=True)
    return (x - mean) / np.sqrt(var + eps)


def leaf(device, a):
    return on(device, a).detach().requires_grad_()


# ---- the fused kernel -----------------------------------------------------------------


@pytest.mark.parametrize("shape", [(3, 5), (1, 7), (4, 300), (2, 1)])
def test_norm_rows_forward_and_gradient(shape):
    x = RNG.standard_normal(shape) * 3 + 2
    out = check_backward(lambda t: bp._core.norm_rows(t, 1e-5), [x])
    np.testing.assert_allclose(out, np_norm(x, 1, 1e-5), rtol=1e-10, atol=1e-12)


@settings(max_examples=15)
@given(
    rows=st.integers(1, 4),
    cols=st.integers(1, 9),
    scale=st.floats(0.1, 100.0),
    shift=st.floats(-1e3, 1e3),
    seed=st.integers(0, 2**31 - 1),
)
def test_norm_rows_property(rows, cols, scale, shift, seed):
    x = np.random.default_rng(seed).standard_normal((rows, cols)) * scale + shift
    out = check_backward(lambda t: bp._core.norm_rows(t, 1e-5), [x], rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out, np_norm(x, 1, 1e-5), rtol=1e-8, atol=1e-10)


def test_norm_rows_is_one_recorded_op():
    x = bp.randn(3, 4, requires_grad=True)
    y = bp._core.norm_rows(x, 1e-5)
    assert y.grad_fn.name() == "NormRowsBackward0"
    assert [f.name() for f, _ in y.grad_fn.next_functions] == ["AccumulateGrad"]


def test_norm_rows_double_backward_matches_central_differences_of_the_gradient():
    x0 = RNG.standard_normal((2, 5))
    up = RNG.standard_normal((2, 5))

    def grad_of(t):
        with bp.enable_grad():  # central differences call this under no_grad
            leaf = t if t.requires_grad else t.detach().requires_grad_()
            y = bp._core.norm_rows(leaf, 1e-3)
            (g,) = bp.autograd.grad((y * bp.tensor(up, dtype=bp.float64)).sum(), [leaf], create_graph=True)
        return g

    check_backward(grad_of, [x0], rtol=1e-4, atol=1e-6)


def test_norm_rows_keeps_precision_for_a_large_mean_and_handles_constant_rows():
    x = bp.tensor([[1e4 + 1, 1e4 + 2, 1e4 + 3], [5.0, 5.0, 5.0]])
    assert_close(bp._core.norm_rows(x, 0.0)[0], [-1.2247449, 0.0, 1.2247449], rtol=1e-4)
    assert_close(bp._core.norm_rows(x, 1e-5)[1], [0.0, 0.0, 0.0])


def test_norm_rows_errors():
    with pytest.raises(ValueError, match="2-D"):
        bp._core.norm_rows(bp.ones(3), 1e-5)
    with pytest.raises(ValueError, match="eps"):
        bp._core.norm_rows(bp.ones(2, 2), -1.0)


def test_norm_rows_on_each_device(device):
    x = RNG.standard_normal((6, 40)) * 2 + 1
    up = RNG.standard_normal((6, 40))
    t = leaf(device, x)
    y = bp._core.norm_rows(t, 1e-5)
    assert_close(y, np_norm(x, 1, 1e-5), rtol=1e-4, atol=1e-5)
    y.backward(on(device, up))
    ref = bp.tensor(x, requires_grad=True)
    bp._core.norm_rows(ref, 1e-5).backward(bp.tensor(up))
    assert_close(t.grad, to_np(ref.grad), rtol=1e-3, atol=1e-4)


def test_norm_rows_gpu_rows_longer_than_a_workgroup(device):
    x = RNG.standard_normal((3, 1000))
    assert_close(bp._core.norm_rows(on(device, x), 1e-5), np_norm(x, 1, 1e-5), rtol=1e-4, atol=1e-4)


# ---- layer norm -----------------------------------------------------------------------


@pytest.mark.parametrize("normalized", [(4,), (3, 4)])
def test_layer_norm_with_affine_against_numpy_and_gradients(normalized):
    x = RNG.standard_normal((2, 3, 4))
    w = RNG.standard_normal(normalized)
    b = RNG.standard_normal(normalized)
    axes = tuple(range(3 - len(normalized), 3))
    out = check_backward(lambda t, w_, b_: F.layer_norm(t, normalized, w_, b_, 1e-5), [x, w, b])
    np.testing.assert_allclose(out, np_norm(x, axes, 1e-5) * w + b, rtol=1e-10, atol=1e-12)


def test_layer_norm_module(device):
    m = nn.LayerNorm(4).to(device)
    assert [n for n, _ in m.named_parameters()] == ["weight", "bias"]
    assert repr(m) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    x = RNG.standard_normal((5, 4))
    assert_close(m(on(device, x)), np_norm(x, 1, 1e-5), rtol=1e-4, atol=1e-5)
    assert nn.LayerNorm(4, bias=False).bias is None
    assert list(nn.LayerNorm([2, 3], elementwise_affine=False).state_dict()) == []
    with pytest.raises(RuntimeError, match="normalized_shape"):
        m(on(device, np.ones((2, 5))))


# ---- batch norm -----------------------------------------------------------------------


def test_batch_norm_1d_training_updates_running_statistics_and_eval_uses_them():
    bn = nn.BatchNorm1d(3, momentum=0.3).double()
    rm, rv = np.zeros(3), np.ones(3)
    for step in range(3):
        x = RNG.standard_normal((8, 3)) * (step + 1) + step
        out = bn(bp.tensor(x))
        assert_close(out, np_norm(x, 0, 1e-5), rtol=1e-10, atol=1e-12)
        rm = 0.7 * rm + 0.3 * x.mean(0)
        rv = 0.7 * rv + 0.3 * x.var(0, ddof=1)
    assert_close(bn.running_mean, rm, rtol=1e-12)
    assert_close(bn.running_var, rv, rtol=1e-12)
    assert bn.num_batches_tracked.item() == 3
    bn.eval()
    x = RNG.standard_normal((4, 3))
    assert_close(bn(bp.tensor(x)), (x - rm) / np.sqrt(rv + 1e-5), rtol=1e-10)
    assert bn.num_batches_tracked.item() == 3


def test_batch_norm_3d_input_and_gradients():
    x = RNG.standard_normal((4, 3, 5))
    w, b = RNG.standard_normal(3), RNG.standard_normal(3)
    out = check_backward(lambda t, w_, b_: F.batch_norm(t, None, None, w_, b_, training=True), [x, w, b])
    np.testing.assert_allclose(out, np_norm(x, (0, 2), 1e-5) * w[:, None] + b[:, None], rtol=1e-10, atol=1e-12)
    bn = nn.BatchNorm1d(3).double()
    bn(bp.tensor(x))
    assert_close(bn.running_var, 0.9 + 0.1 * x.transpose(1, 0, 2).reshape(3, -1).var(1, ddof=1), rtol=1e-12)


def test_batch_norm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(2, momentum=None).double()
    xs = [RNG.standard_normal((5, 2)) for _ in range(3)]
    for x in xs:
        bn(bp.tensor(x))
    # After the first batch the running stats are that batch's (factor 1/1), then the mean.
    assert_close(bn.running_mean, np.mean([x.mean(0) for x in xs], axis=0), rtol=1e-12)
    assert_close(bn.running_var, np.mean([x.var(0, ddof=1) for x in xs], axis=0), rtol=1e-12)


def test_batch_norm_without_running_stats_or_affine():
    bn = nn.BatchNorm1d(3, affine=False, track_running_stats=False)
    assert list(bn.state_dict()) == [] and bn.weight is None and bn.running_mean is None
    bn.eval()
    x = RNG.standard_normal((6, 3))
    assert_close(bn(bp.tensor(x)), np_norm(x, 0, 1e-5), rtol=1e-4, atol=1e-5)  # batch stats even in eval
    assert repr(nn.BatchNorm1d(3)) == "BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True)"
    assert list(nn.BatchNorm1d(3).state_dict()) == ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert list(nn.BatchNorm1d(3, bias=False).state_dict()) == ["weight", "running_mean", "running_var", "num_batches_tracked"]


def test_batch_norm_errors():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(bp.ones(1, 3))
    with pytest.raises(ValueError, match="2D or 3D"):
        nn.BatchNorm1d(3)(bp.ones(3))
    with pytest.raises(RuntimeError, match="running_mean must be defined in evaluation mode"):
        F.batch_norm(bp.ones(2, 3), None, None, training=False)
    with pytest.raises(RuntimeError, match="running_mean should contain 3"):
        F.batch_norm(bp.ones(2, 3), bp.zeros(4), bp.ones(4))


def test_batch_norm_on_each_device_trains_and_evaluates(device):
    bn = nn.BatchNorm1d(4).to(device)
    x = RNG.standard_normal((16, 4)) * 2 + 1
    t = leaf(device, x)
    out = bn(t)
    assert_close(out, np_norm(x, 0, 1e-5), rtol=1e-4, atol=1e-4)
    (out * on(device, np.arange(4.0))).sum().backward()
    assert_close(bn.running_mean, 0.1 * x.mean(0), rtol=1e-4, atol=1e-5)
    ref = bp.tensor(x, requires_grad=True)
    (F.batch_norm(ref, None, None, training=True) * bp.tensor(np.arange(4.0))).sum().backward()
    assert_close(t.grad, to_np(ref.grad), rtol=1e-3, atol=1e-4)
    assert_close(bn.weight.grad, (np_norm(x, 0, 1e-5) * np.arange(4.0)).sum(0), rtol=1e-3, atol=1e-4)
    bn.eval()
    assert_close(bn(on(device, x)), (x - to_np(bn.running_mean)) / np.sqrt(to_np(bn.running_var) + 1e-5), rtol=1e-4, atol=1e-4)


# ---- group, instance and RMS norm -----------------------------------------------------


def test_group_norm():
    x = RNG.standard_normal((2, 6, 3))
    w, b = RNG.standard_normal(6), RNG.standard_normal(6)
    out = check_backward(lambda t, w_, b_: F.group_norm(t, 3, w_, b_), [x, w, b])
    ref = np_norm(x.reshape(2, 3, -1), 2, 1e-5).reshape(2, 6, 3) * w[:, None] + b[:, None]
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-12)
    m = nn.GroupNorm(3, 6)
    assert repr(m) == "GroupNorm(3, 6, eps=1e-05, affine=True, bias=True)"
    with pytest.raises(ValueError, match="divisible"):
        nn.GroupNorm(4, 6)


def test_instance_norm_1d_with_and_without_running_stats():
    x = RNG.standard_normal((3, 2, 5))
    m = nn.InstanceNorm1d(2)
    assert list(m.state_dict()) == []
    assert_close(m(bp.tensor(x)), np_norm(x, 2, 1e-5), rtol=1e-4, atol=1e-5)
    assert_close(m(bp.tensor(x[0])), np_norm(x[0], 1, 1e-5), rtol=1e-4, atol=1e-5)  # unbatched [C, L]
    tracked = nn.InstanceNorm1d(2, affine=True, track_running_stats=True).double()
    tracked(bp.tensor(x))
    assert_close(tracked.running_mean, 0.1 * x.mean(2).mean(0), rtol=1e-12)
    assert_close(tracked.running_var, 0.9 + 0.1 * x.var(2, ddof=1).mean(0), rtol=1e-12)
    tracked.eval()
    rm, rv = to_np(tracked.running_mean), to_np(tracked.running_var)
    assert_close(tracked(bp.tensor(x)), (x - rm[:, None]) / np.sqrt(rv[:, None] + 1e-5), rtol=1e-10)
    check_backward(lambda t: F.instance_norm(t), [x])


def test_rms_norm():
    x = RNG.standard_normal((3, 4))
    w = RNG.standard_normal(4)
    out = check_backward(lambda t, w_: F.rms_norm(t, (4,), w_, 1e-6), [x, w])
    np.testing.assert_allclose(out, x / np.sqrt((x * x).mean(1, keepdims=True) + 1e-6) * w, rtol=1e-10)
    m = nn.RMSNorm(4)
    assert repr(m) == "RMSNorm((4,), eps=None, elementwise_affine=True)"
    xf = x.astype(np.float32)
    assert_close(m(bp.tensor(xf)), xf / np.sqrt((xf * xf).mean(1, keepdims=True) + np.finfo(np.float32).eps), rtol=1e-5)


def test_norm_layers_on_the_gpu_match_the_cpu(device):
    x = RNG.standard_normal((4, 6, 5))
    for make in (lambda: nn.GroupNorm(2, 6), lambda: nn.InstanceNorm1d(6, affine=True), lambda: nn.RMSNorm(5), lambda: nn.LayerNorm(5)):
        cpu_m, dev_m = make(), make().to(device)
        assert_close(dev_m(on(device, x)), to_np(cpu_m(bp.tensor(x).float())), rtol=1e-4, atol=1e-5)


def test_batch_norm_2d_normalises_over_batch_and_space():
    x = RNG.standard_normal((3, 2, 4, 5))
    bn = nn.BatchNorm2d(2).double()
    assert_close(bn(bp.tensor(x)), np_norm(x, (0, 2, 3), 1e-5), rtol=1e-10, atol=1e-12)
    assert_close(bn.running_mean, 0.1 * x.mean((0, 2, 3)), rtol=1e-12)
    with pytest.raises(ValueError, match="4D"):
        bn(bp.ones(3, 2))
