"""Loss modules against NumPy, their gradients by gradcheck, and their errors for bad labels."""

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from conftest import assert_close

RNG = np.random.default_rng(7)
X = RNG.standard_normal((6, 4)) * 2
Y = np.array([0, 3, 1, 1, 2, 3])
W = np.array([1.0, 0.5, 2.0, 0.25])


def log_softmax(x):
    z = x - x.max(1, keepdims=True)
    return z - np.log(np.exp(z).sum(1, keepdims=True))


def np_cross_entropy(x, y, weight=None, ignore_index=-100, reduction="mean", smoothing=0.0):
    lp = log_softmax(x)
    valid = y != ignore_index
    safe = np.where(valid, y, 0)
    w = (weight[safe] if weight is not None else np.ones(len(y))) * valid
    nll = -lp[np.arange(len(y)), safe] * w
    smooth = -lp.mean(1) * valid
    loss = (1 - smoothing) * nll + smoothing * smooth
    if reduction == "none":
        return loss
    if reduction == "sum":
        return loss.sum()
    return (1 - smoothing) * nll.sum() / w.sum() + smoothing * smooth.sum() / valid.sum()


def np_multi_margin(x, y, p=1, margin=1.0, weight=None, reduction="mean"):
    n, c = x.shape
    correct = x[np.arange(n), y][:, None]
    m = np.maximum(0, margin - correct + x) ** p
    if weight is not None:
        m = m * weight[y][:, None]
    m[np.arange(n), y] = 0
    per = m.sum(1) / c
    return {"none": per, "sum": per.sum(), "mean": per.mean()}[reduction]


CASES = [
    ("ce mean", lambda: nn.CrossEntropyLoss(), lambda: np_cross_entropy(X, Y)),
    ("ce sum", lambda: nn.CrossEntropyLoss(reduction="sum"), lambda: np_cross_entropy(X, Y, reduction="sum")),
    ("ce none", lambda: nn.CrossEntropyLoss(reduction="none"), lambda: np_cross_entropy(X, Y, reduction="none")),
    ("ce weight", lambda: nn.CrossEntropyLoss(weight=bp.tensor(W, dtype=bp.float64)), lambda: np_cross_entropy(X, Y, weight=W)),
    ("ce ignore", lambda: nn.CrossEntropyLoss(ignore_index=3), lambda: np_cross_entropy(X, Y, ignore_index=3)),
    ("ce smoothing", lambda: nn.CrossEntropyLoss(label_smoothing=0.2), lambda: np_cross_entropy(X, Y, smoothing=0.2)),
    ("svm p1", lambda: nn.MultiMarginLoss(), lambda: np_multi_margin(X, Y)),
    ("svm p2 margin", lambda: nn.MultiMarginLoss(p=2, margin=0.5), lambda: np_multi_margin(X, Y, p=2, margin=0.5)),
    ("svm weight none", lambda: nn.MultiMarginLoss(weight=bp.tensor(W, dtype=bp.float64), reduction="none"), lambda: np_multi_margin(X, Y, weight=W, reduction="none")),
]


@pytest.mark.parametrize("name,make,reference", CASES, ids=[c[0] for c in CASES])
def test_classification_losses_match_numpy_and_gradcheck(name, make, reference):
    loss_fn = make()
    x = bp.tensor(X, dtype=bp.float64, requires_grad=True)
    assert_close(loss_fn(x, bp.tensor(Y)), reference(), rtol=1e-10, atol=1e-12)
    assert bp.autograd.gradcheck(lambda t: loss_fn(t, bp.tensor(Y)), (x,))


def test_nll_loss_is_cross_entropy_after_log_softmax():
    x = bp.tensor(X, dtype=bp.float64)
    lp = nn.LogSoftmax(dim=1)(x)
    assert_close(nn.NLLLoss()(lp, bp.tensor(Y)), np_cross_entropy(X, Y), rtol=1e-12)
    assert_close(nn.NLLLoss(reduction="sum")(lp, bp.tensor(Y)), np_cross_entropy(X, Y, reduction="sum"), rtol=1e-12)


def test_mse_loss(device):
    a, b = RNG.standard_normal((3, 5)), RNG.standard_normal((3, 5))
    ta = bp.tensor(a, dtype=bp.float32, device=device, requires_grad=True)
    tb = bp.tensor(b, dtype=bp.float32, device=device)
    loss = nn.MSELoss()(ta, tb)
    assert_close(loss, ((a - b) ** 2).mean(), rtol=1e-5)
    loss.backward()
    assert_close(ta.grad, 2 * (a - b) / a.size, rtol=1e-5, atol=1e-6)
    assert_close(nn.MSELoss(reduction="sum")(ta, tb), ((a - b) ** 2).sum(), rtol=1e-5)


def test_cross_entropy_on_device_matches_cpu(device):
    x = bp.tensor(X, dtype=bp.float32, device=device, requires_grad=True)
    loss = nn.CrossEntropyLoss()(x, bp.tensor(Y, device=device))
    assert_close(loss, np_cross_entropy(X, Y), rtol=1e-5)
    loss.backward()
    p = np.exp(log_softmax(X))
    p[np.arange(len(Y)), Y] -= 1
    assert_close(x.grad, p / len(Y), rtol=1e-4, atol=1e-6)


def test_wrong_label_dtype_is_a_clear_error():
    x = bp.tensor(X, dtype=bp.float32)
    with pytest.raises(ValueError, match="int64") as info:
        nn.CrossEntropyLoss()(x, bp.tensor(Y, dtype=bp.float32))
    assert ".long()" in str(info.value)
    with pytest.raises(bp.DTypeError, match="int64"):
        nn.NLLLoss()(x, bp.tensor(Y, dtype=bp.float32))
    with pytest.raises(bp.DTypeError, match="int64"):
        nn.MultiMarginLoss()(x, bp.tensor(Y).bool())


def test_labels_out_of_range_are_a_clear_error():
    x = bp.tensor(X, dtype=bp.float32)
    with pytest.raises(IndexError, match="target 4 is out of bounds for 4 classes"):
        nn.CrossEntropyLoss()(x, bp.tensor([0, 1, 2, 3, 4, 0]))
    with pytest.raises(IndexError, match="target -1 is out of bounds"):
        nn.MultiMarginLoss()(x, bp.tensor([0, 1, 2, 3, -1, 0]))


def test_shape_mismatches_are_clear_errors():
    x = bp.tensor(X, dtype=bp.float32)
    with pytest.raises(bp.ShapeError, match="target of shape"):
        nn.CrossEntropyLoss()(x, bp.tensor([0, 1, 2]))
    with pytest.raises(bp.ShapeError, match="must match"):
        nn.MSELoss()(x, bp.zeros(6, 3))
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")
