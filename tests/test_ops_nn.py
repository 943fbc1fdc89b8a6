"""softmax, log_softmax, the losses (cross-entropy, NLL, MSE, multiclass SVM hinge) and
dropout, against NumPy transcriptions and central differences."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import backprop as bp
import backprop.nn.functional as F
from conftest import assert_close, check_backward, on, to_np
from test_nn_loss import np_multi_margin


def np_log_softmax(x, axis):
    m = x.max(axis=axis, keepdims=True)
    return x - m - np.log(np.exp(x - m).sum(axis=axis, keepdims=True))


@given(data=st.data())
def test_softmax_and_log_softmax(data, device):
    shape = data.draw(st.sampled_from([(5,), (3, 4), (2, 3, 4)]))
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    a = np.random.default_rng(data.draw(st.integers(0, 99))).standard_normal(shape) * 3
    x = on(device, a)
    assert_close(x.log_softmax(dim), np_log_softmax(a, dim), rtol=1e-5, atol=1e-5)
    assert_close(x.softmax(dim), np.exp(np_log_softmax(a, dim)), rtol=1e-5, atol=1e-6)
    check_backward(lambda t: t.softmax(dim), [a], device=device)
    check_backward(lambda t: t.log_softmax(dim), [a], device=device)


def test_softmax_handles_huge_logits():
    x = bp.tensor([[1000.0, 0.0, -1000.0]])
    assert_close(x.softmax(1), [[1.0, 0.0, 0.0]])
    assert np.isfinite(to_np(x.log_softmax(1))).all()


def np_cross_entropy(x, y, weight=None, reduction="mean"):
    lp = np_log_softmax(x, 1)
    w = np.ones(x.shape[1]) if weight is None else weight
    losses = -lp[np.arange(len(y)), y] * w[y]
    if reduction == "none":
        return losses
    return losses.sum() / (w[y].sum() if reduction == "mean" else 1)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("weighted", [False, True])
def test_cross_entropy(reduction, weighted, device):
    rng = np.random.default_rng(1)
    a, y = rng.standard_normal((6, 4)), rng.integers(0, 4, 6)
    w = rng.uniform(0.5, 2.0, 4) if weighted else None
    wt = on(device, w) if weighted else None
    got = F.cross_entropy(on(device, a), on(device, y), weight=wt, reduction=reduction)
    assert_close(got, np_cross_entropy(a, y, w, reduction), rtol=1e-5, atol=1e-6)
    check_backward(lambda t: F.cross_entropy(t, bp.tensor(y, device=t.device), weight=bp.tensor(w, dtype=t.dtype, device=t.device) if weighted else None, reduction=reduction), [a], device=device)


def test_cross_entropy_gradient_is_softmax_minus_onehot():
    a = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    y = np.array([0, 2])
    x = bp.tensor(a, requires_grad=True)
    F.cross_entropy(x, bp.tensor(y)).backward()
    p = np.exp(np_log_softmax(a, 1))
    p[np.arange(2), y] -= 1
    assert_close(x.grad, p / 2)


def test_cross_entropy_ignore_index_smoothing_and_probabilities():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((5, 3))
    y = np.array([0, 2, -100, 1, 2])
    got = F.cross_entropy(bp.tensor(a), bp.tensor(y))
    keep = y != -100
    assert_close(got, np_cross_entropy(a[keep], y[keep]))
    probs = np.exp(np_log_softmax(rng.standard_normal((5, 3)), 1))
    soft = F.cross_entropy(bp.tensor(a), bp.tensor(probs))
    assert_close(soft, -(probs * np_log_softmax(a, 1)).sum(1).mean())
    eps = 0.1
    smooth = F.cross_entropy(bp.tensor(a), bp.tensor(y), label_smoothing=eps)
    lp = np_log_softmax(a[keep], 1)
    want = ((1 - eps) * -lp[np.arange(keep.sum()), y[keep]] + eps * -lp.mean(1)).mean()
    assert_close(smooth, want)
    check_backward(lambda t: F.cross_entropy(t, bp.tensor(y), label_smoothing=eps), [a])


def test_cross_entropy_with_spatial_dims():
    rng = np.random.default_rng(4)
    a, y = rng.standard_normal((2, 3, 4)), rng.integers(0, 3, (2, 4))
    flat = np.moveaxis(a, 1, -1).reshape(-1, 3)
    assert_close(F.cross_entropy(bp.tensor(a), bp.tensor(y)), np_cross_entropy(flat, y.reshape(-1)))
    assert tuple(F.cross_entropy(bp.tensor(a), bp.tensor(y), reduction="none").shape) == (2, 4)


def test_nll_loss_matches_cross_entropy_of_log_softmax():
    rng = np.random.default_rng(5)
    a, y = rng.standard_normal((4, 5)), rng.integers(0, 5, 4)
    x = bp.tensor(a)
    assert_close(F.nll_loss(x.log_softmax(1), bp.tensor(y)), F.cross_entropy(x, bp.tensor(y)))


def test_loss_input_errors():
    x = bp.zeros(3, 4)
    with pytest.raises(ValueError, match="int64"):
        F.cross_entropy(x, bp.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(bp.DTypeError, match="int64"):
        F.nll_loss(x, bp.tensor([0.0, 1.0, 2.0]))
    with pytest.raises(IndexError, match="out of bounds"):
        F.cross_entropy(x, bp.tensor([0, 1, 4]))
    with pytest.raises(bp.ShapeError, match="target"):
        F.cross_entropy(x, bp.tensor([0, 1]))
    with pytest.raises(ValueError, match="reduction"):
        F.cross_entropy(x, bp.tensor([0, 1, 2]), reduction="avg")
    with pytest.raises(bp.ShapeError, match="mse_loss"):
        F.mse_loss(bp.zeros(3), bp.zeros(4))


def test_mse_loss(device):
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    assert_close(F.mse_loss(on(device, a), on(device, b)), ((a - b) ** 2).mean())
    assert_close(F.mse_loss(on(device, a), on(device, b), reduction="sum"), ((a - b) ** 2).sum())
    check_backward(lambda p, q: F.mse_loss(p, q), [a, b], device=device)


@pytest.mark.parametrize("p", [1, 2])
def test_multi_margin_loss_is_the_svm_hinge(p, device):
    rng = np.random.default_rng(7)
    a, y = rng.standard_normal((5, 4)), rng.integers(0, 4, 5)
    got = F.multi_margin_loss(on(device, a), on(device, y), p=p)
    assert_close(got, np_multi_margin(a, y, p), rtol=1e-5)
    check_backward(lambda t: F.multi_margin_loss(t, bp.tensor(y, device=t.device), p=p), [a], device=device)


def test_lecture_svm_loss_example():
    # The lecture's SVM example: scores for three images (cat, car, frog), sum over j != y.
    scores = bp.tensor([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
    labels = bp.tensor([0, 1, 2])
    per_sample = F.multi_margin_loss(scores, labels, reduction="none") * 3  # PyTorch divides by C
    assert_close(per_sample, [2.9, 0.0, 12.9], atol=1e-5)


def test_dropout_statistics_and_eval_identity(device):
    bp.manual_seed(0)
    x = bp.ones(200, 500, device=device)
    y = F.dropout(x, p=0.4, training=True)
    kept = to_np(y) != 0
    assert abs(kept.mean() - 0.6) < 0.01
    assert_close(y[on(device, kept)].mean(), 1 / 0.6, rtol=1e-5)
    assert F.dropout(x, 0.4, training=False) is not None
    assert_close(F.dropout(x, 0.4, training=False), to_np(x))
    assert to_np(F.dropout(x, 1.0)).sum() == 0
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, 1.5)
    z = bp.ones(10, requires_grad=True, device=device)
    d = F.dropout(z, 0.5)
    d.sum().backward()
    assert_close(z.grad, to_np(d))  # the gradient uses the same mask
