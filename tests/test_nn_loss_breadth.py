"""The losses beyond cross-entropy and MSE, against PyTorch's documented formulas written in
NumPy, every reduction, gradients by float64 central differences, CPU and GPU; plus the
edge cases whose numbers come from PyTorch 2.15 itself."""

import math
import warnings

import numpy as np
import pytest

import backprop as bp
from backprop import nn
from backprop.nn import functional as F
from conftest import assert_close, check_backward, on, to_np

RNG = np.random.default_rng(11)
X = RNG.standard_normal((5, 4))
Y = RNG.standard_normal((5, 4))
P = 1 / (1 + np.exp(-X))  # probabilities in (0, 1)
T01 = (RNG.random((5, 4)) > 0.5).astype(np.float64)
SIGN = np.where(RNG.random((5, 4)) > 0.5, 1.0, -1.0)
SIGN_ROW = np.where(RNG.random(5) > 0.5, 1.0, -1.0)
W4 = np.array([0.5, 1.0, 2.0, 0.25])


def red(loss, reduction):
    return {"none": loss, "mean": loss.mean(), "sum": loss.sum()}[reduction]


def np_smooth_l1(x, y, beta=1.0):
    d = np.abs(x - y)
    return np.where(d < beta, 0.5 * d * d / beta, d - 0.5 * beta)


def np_huber(x, y, delta=1.0):
    d = np.abs(x - y)
    return np.where(d < delta, 0.5 * d * d, delta * (d - 0.5 * delta))


def np_bce(p, t, w=None):
    loss = -(t * np.maximum(np.log(p), -100) + (1 - t) * np.maximum(np.log(1 - p), -100))
    return loss * w if w is not None else loss


def np_bce_logits(x, t, w=None, pw=None):
    s = 1 / (1 + np.exp(-x))
    pw = 1.0 if pw is None else pw
    loss = -(pw * t * np.log(s) + (1 - t) * np.log(1 - s))
    return loss * w if w is not None else loss


def np_kl(x, t, log_target=False):
    if log_target:
        return np.exp(t) * (t - x)
    return np.where(t > 0, t * np.log(np.where(t > 0, t, 1)), 0) - t * x


def np_multilabel_soft(x, t, w=None):
    ls = lambda z: -np.log1p(np.exp(-z))  # noqa: E731
    loss = -(t * ls(x) + (1 - t) * ls(-x))
    if w is not None:
        loss = loss * w
    return loss.mean(1)


def np_cos(a, b, eps=1e-8):
    na = np.maximum(np.linalg.norm(a, axis=-1), eps)
    nb = np.maximum(np.linalg.norm(b, axis=-1), eps)
    return (a * b).sum(-1) / (na * nb)


def np_cos_embedding(a, b, y, margin=0.0):
    cos = (a * b).sum(-1) / np.sqrt(((a * a).sum(-1) + 1e-12) * ((b * b).sum(-1) + 1e-12))
    return np.where(y == 1, 1 - cos, np.maximum(0, cos - margin))


def np_pdist(a, b, p=2.0, eps=1e-6):
    return (np.abs(a - b + eps) ** p).sum(-1) ** (1 / p)


def np_triplet(a, p, n, margin=1.0, pn=2.0, swap=False):
    dp, dn = np_pdist(a, p, pn), np_pdist(a, n, pn)
    if swap:
        dn = np.minimum(dn, np_pdist(p, n, pn))
    return np.maximum(0, margin + dp - dn)


def np_poisson(x, t, log_input=True, full=False, eps=1e-8):
    loss = np.exp(x) - t * x if log_input else x - t * np.log(x + eps)
    if full:
        st = t * np.log(np.where(t > 1, t, 1)) - t + 0.5 * np.log(2 * np.pi * np.where(t > 1, t, 1))
        loss = loss + np.where(t > 1, st, 0)
    return loss


def np_gaussian(x, t, var, full=False, eps=1e-6):
    var = np.maximum(var, eps)
    loss = 0.5 * (np.log(var) + (x - t) ** 2 / var)
    return loss + 0.5 * np.log(2 * np.pi) if full else loss


def np_multilabel_margin(x, y):
    n, c = x.shape
    out = np.zeros(n)
    for i in range(n):
        targets = []
        for j in y[i]:
            if j < 0:
                break
            targets.append(j)
        for j in targets:
            for k in range(c):
                if k not in targets:
                    out[i] += max(0.0, 1 - (x[i, j] - x[i, k]))
    return out / c


COUNTS = RNG.integers(0, 5, (5, 4)).astype(np.float64)
VAR = RNG.random((5, 4)) + 0.1
ML_TARGET = np.array([[3, 0, -1, 1], [1, 2, 3, -1], [0, -1, 2, 2], [-1, 0, 0, 0], [2, 1, 0, 3]])

# (name, function of backprop tensors (the differentiable ones first), NumPy reference, arrays to differentiate)
CASES = {
    "l1": (lambda r: lambda x: F.l1_loss(x, bp.tensor(Y), reduction=r), lambda r: red(np.abs(X - Y), r), [X]),
    "smooth_l1": (lambda r: lambda x: F.smooth_l1_loss(x, bp.tensor(Y), reduction=r, beta=0.7), lambda r: red(np_smooth_l1(X, Y, 0.7), r), [X]),
    "huber": (lambda r: lambda x: F.huber_loss(x, bp.tensor(Y), reduction=r, delta=0.6), lambda r: red(np_huber(X, Y, 0.6), r), [X]),
    "bce": (lambda r: lambda p: F.binary_cross_entropy(p, bp.tensor(T01), reduction=r), lambda r: red(np_bce(P, T01), r), [P]),
    "bce_weight": (
        lambda r: lambda p: F.binary_cross_entropy(p, bp.tensor(T01), weight=bp.tensor(W4), reduction=r),
        lambda r: red(np_bce(P, T01, W4), r),
        [P],
    ),
    "bce_logits": (lambda r: lambda x: F.binary_cross_entropy_with_logits(x, bp.tensor(T01), reduction=r), lambda r: red(np_bce_logits(X, T01), r), [X]),
    "bce_logits_weights": (
        lambda r: lambda x: F.binary_cross_entropy_with_logits(x, bp.tensor(T01), weight=bp.tensor(W4[::-1].copy()), reduction=r, pos_weight=bp.tensor(W4)),
        lambda r: red(np_bce_logits(X, T01, W4[::-1], W4), r),
        [X],
    ),
    "kl": (lambda r: lambda x: F.kl_div(x, bp.tensor(P), reduction=r), lambda r: red(np_kl(X, P), r), [X]),
    "kl_log_target": (lambda r: lambda x: F.kl_div(x, bp.tensor(Y), reduction=r, log_target=True), lambda r: red(np_kl(X, Y, True), r), [X]),
    "soft_margin": (lambda r: lambda x: F.soft_margin_loss(x, bp.tensor(SIGN), reduction=r), lambda r: red(np.log1p(np.exp(-SIGN * X)), r), [X]),
    "multilabel_soft": (
        lambda r: lambda x: F.multilabel_soft_margin_loss(x, bp.tensor(T01), weight=bp.tensor(W4), reduction=r),
        lambda r: red(np_multilabel_soft(X, T01, W4), r),
        [X],
    ),
    "multilabel_margin": (
        lambda r: lambda x: F.multilabel_margin_loss(x, bp.tensor(ML_TARGET), reduction=r),
        lambda r: red(np_multilabel_margin(X, ML_TARGET), r),
        [X],
    ),
    "hinge_embedding": (
        lambda r: lambda x: F.hinge_embedding_loss(x, bp.tensor(SIGN), margin=0.8, reduction=r),
        lambda r: red(np.where(SIGN == 1, X, np.maximum(0, 0.8 - X)), r),
        [X],
    ),
    "cosine_embedding": (
        lambda r: lambda a, b: F.cosine_embedding_loss(a, b, bp.tensor(SIGN_ROW), margin=0.1, reduction=r),
        lambda r: red(np_cos_embedding(X, Y, SIGN_ROW, 0.1), r),
        [X, Y],
    ),
    "margin_ranking": (
        lambda r: lambda a, b: F.margin_ranking_loss(a, b, bp.tensor(SIGN), margin=0.3, reduction=r),
        lambda r: red(np.maximum(0, -SIGN * (X - Y) + 0.3), r),
        [X, Y],
    ),
    "triplet": (
        lambda r: lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0, reduction=r),
        lambda r: red(np_triplet(X, Y, P, 2.0), r),
        [X, Y, P],
    ),
    "triplet_swap_p1": (
        lambda r: lambda a, p, n: F.triplet_margin_loss(a, p, n, p=1.0, swap=True, reduction=r),
        lambda r: red(np_triplet(X, Y, P, 1.0, 1.0, True), r),
        [X, Y, P],
    ),
    "poisson": (lambda r: lambda x: F.poisson_nll_loss(x, bp.tensor(COUNTS), reduction=r), lambda r: red(np_poisson(X, COUNTS), r), [X]),
    "poisson_rate_full": (
        lambda r: lambda x: F.poisson_nll_loss(x, bp.tensor(COUNTS), log_input=False, full=True, reduction=r),
        lambda r: red(np_poisson(P, COUNTS, False, True), r),
        [P],
    ),
    "gaussian": (lambda r: lambda x, v: F.gaussian_nll_loss(x, bp.tensor(Y), v, reduction=r), lambda r: red(np_gaussian(X, Y, VAR), r), [X, VAR]),
    "gaussian_full_row_var": (
        lambda r: lambda x, v: F.gaussian_nll_loss(x, bp.tensor(Y), v, full=True, reduction=r),
        lambda r: red(np_gaussian(X, Y, VAR[:, :1], True), r),
        [X, VAR[:, 0]],
    ),
}


@pytest.mark.parametrize("reduction", ["none", "mean", "sum"])
@pytest.mark.parametrize("name", list(CASES))
def test_loss_matches_numpy_and_central_differences(name, reduction):
    make, reference, arrays = CASES[name]
    fn = make(reduction)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # kl_div's 'mean' warning
        out = check_backward(lambda *xs: fn(*xs), arrays, rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(out, reference(reduction), rtol=1e-10, atol=1e-12)


def _device_cases(d):
    c = lambda a: on(d, a)  # noqa: E731
    return {
        "l1": lambda x: F.l1_loss(x, c(Y)),
        "smooth_l1": lambda x: F.smooth_l1_loss(x, c(Y), beta=0.7),
        "huber": lambda x: F.huber_loss(x, c(Y), delta=0.6),
        "bce_logits_weights": lambda x: F.binary_cross_entropy_with_logits(x, c(T01), weight=c(W4[::-1].copy()), pos_weight=c(W4)),
        "kl": lambda x: F.kl_div(x, c(P), reduction="batchmean"),
        "soft_margin": lambda x: F.soft_margin_loss(x, c(SIGN)),
        "cosine_embedding": lambda a, b: F.cosine_embedding_loss(a, b, c(SIGN_ROW), margin=0.1),
        "triplet": lambda a, p, n: F.triplet_margin_loss(a, p, n, margin=2.0),
        "gaussian": lambda x, v: F.gaussian_nll_loss(x, c(Y), v),
        "multilabel_margin": lambda x: F.multilabel_margin_loss(x, c(ML_TARGET)),
        "poisson": lambda x: F.poisson_nll_loss(x, c(COUNTS)),
    }


def leaf(device, a):
    return on(device, a).detach().requires_grad_()


@pytest.mark.parametrize("name", list(_device_cases("cpu")))
def test_loss_on_each_device_with_its_gradient(name, device):
    arrays = CASES[name][2]
    xs = [leaf(device, a) for a in arrays]
    out = _device_cases(device)[name](*xs)
    refs = [bp.tensor(a, requires_grad=True) for a in arrays]
    expected = _device_cases("cpu")[name](*refs)
    assert out.device.type == device
    assert_close(out, to_np(expected), rtol=1e-4, atol=1e-5)
    out.backward()
    expected.backward()
    for x, r in zip(xs, refs):
        assert_close(x.grad, to_np(r.grad), rtol=1e-3, atol=1e-5)


def test_similarity_and_distance_modules():
    a, b = bp.tensor(X, requires_grad=True), bp.tensor(Y)
    assert_close(nn.CosineSimilarity()(a, b), np_cos(X, Y))
    assert_close(nn.CosineSimilarity(dim=0)(a, b), np_cos(X.T, Y.T))
    assert_close(nn.PairwiseDistance()(a, b), np_pdist(X, Y))
    assert_close(nn.PairwiseDistance(p=1.0, keepdim=True)(a, b), np_pdist(X, Y, 1.0)[:, None])
    check_backward(lambda x, y: F.cosine_similarity(x, y), [X, Y])
    check_backward(lambda x, y: F.pairwise_distance(x, y, 3.0), [X, Y])
    # A zero vector: PyTorch clamps each norm at eps, so the similarity is 0, not NaN.
    z = F.cosine_similarity(bp.zeros(1, 3), bp.ones(1, 3))
    assert_close(z, [0.0])


def test_bce_with_logits_is_stable_for_huge_logits():
    x = bp.tensor([1000.0, -1000.0, 30.0, -30.0], requires_grad=True)
    t = bp.tensor([0.0, 1.0, 1.0, 0.0])
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    # The exact tails are 9.36e-14 (PyTorch 2.15 rounds one of them to 0 in float32).
    assert_close(loss, [1000.0, 1000.0, 9.357623e-14, 9.357623e-14], rtol=1e-4, atol=1e-12)
    loss.sum().backward()
    assert_close(x.grad, [1.0, -1.0, -9.357623e-14, 9.357623e-14], rtol=1e-4, atol=1e-12)


def test_bce_clamps_its_logs_and_rejects_values_outside_0_1():
    # PyTorch 2.15: binary_cross_entropy(tensor([0., 1.]), tensor([1., 0.]), reduction='none') == [100., 100.]
    assert_close(F.binary_cross_entropy(bp.tensor([0.0, 1.0, 1.0]), bp.tensor([1.0, 0.0, 1.0]), reduction="none"), [100.0, 100.0, 0.0])
    with pytest.raises(RuntimeError, match="between 0 and 1"):
        F.binary_cross_entropy(bp.tensor([1.5]), bp.tensor([1.0]))
    with pytest.raises(ValueError, match="same size"):
        nn.BCELoss()(bp.tensor([0.5, 0.5]), bp.tensor([1.0]))


def test_kl_div_batchmean_and_its_warning():
    x, t = bp.tensor(X), bp.tensor(P)
    assert_close(F.kl_div(x, t, reduction="batchmean"), np_kl(X, P).sum() / 5)
    with pytest.warns(UserWarning, match="batchmean"):
        nn.KLDivLoss()(x, t)
    assert_close(nn.KLDivLoss(reduction="batchmean", log_target=True)(x, bp.tensor(Y)), np_kl(X, Y, True).sum() / 5)
    # target 0 contributes 0 (0 * log 0 := 0), with a finite gradient.
    xz = bp.tensor([-1.0, -2.0], requires_grad=True)
    F.kl_div(xz, bp.tensor([0.0, 1.0]), reduction="sum").backward()
    assert_close(xz.grad, [0.0, -1.0])


def test_gaussian_nll_clamps_var_with_a_straight_through_gradient_and_checks_shapes():
    x, t = bp.tensor([1.0, 2.0]), bp.tensor([1.5, 2.0])
    v = bp.tensor([0.0, 1.0], requires_grad=True)
    loss = F.gaussian_nll_loss(x, t, v, reduction="sum")
    # PyTorch 2.15: 0.5*(log(1e-6) + 0.25/1e-6) + 0.5*log(1) = 124993.09...
    assert_close(loss, 0.5 * (math.log(1e-6) + 0.25 / 1e-6), rtol=1e-6)
    loss.backward()
    assert_close(v.grad, [0.5 * (1 / 1e-6 - 0.25 / 1e-12), 0.5], rtol=1e-5)
    with pytest.raises(ValueError, match="incorrect size"):
        F.gaussian_nll_loss(bp.zeros(3, 2), bp.zeros(3, 2), bp.ones(2, 3))
    with pytest.raises(ValueError, match="negative"):
        F.gaussian_nll_loss(bp.zeros(2), bp.zeros(2), bp.tensor([1.0, -1.0]))


def test_smooth_l1_with_beta_zero_is_l1_and_huber_needs_positive_delta():
    x, y = bp.tensor(X), bp.tensor(Y)
    assert_close(F.smooth_l1_loss(x, y, beta=0.0), np.abs(X - Y).mean())
    with pytest.raises(ValueError, match="delta"):
        F.huber_loss(x, y, delta=0.0)


def test_cross_entropy_with_weight_and_label_smoothing_together():
    x = RNG.standard_normal((6, 4))
    y = np.array([0, 3, 1, -100, 2, 3])
    w = np.array([1.0, 0.5, 2.0, 0.25])
    eps = 0.2
    lp = x - x.max(1, keepdims=True)
    lp = lp - np.log(np.exp(lp).sum(1, keepdims=True))
    valid = y != -100
    safe = np.where(valid, y, 0)
    nll = -lp[np.arange(6), safe] * w[safe] * valid
    smooth = -(lp * w).sum(1) * valid
    wsum = (w[safe] * valid).sum()
    expect = {
        "mean": (1 - eps) * nll.sum() / wsum + eps / 4 * smooth.sum() / wsum,
        "sum": (1 - eps) * nll.sum() + eps / 4 * smooth.sum(),
        "none": (1 - eps) * nll + eps / 4 * smooth,
    }
    for reduction, ref in expect.items():
        loss = nn.CrossEntropyLoss(weight=bp.tensor(w), label_smoothing=eps, reduction=reduction)
        out = check_backward(lambda t: loss(t, bp.tensor(y)), [x])
        np.testing.assert_allclose(out, ref, rtol=1e-10)


def test_cross_entropy_of_an_unbatched_input():
    x = np.array([0.5, -1.0, 2.0])
    lp = x - np.log(np.exp(x).sum())
    out = check_backward(lambda t: nn.CrossEntropyLoss()(t, bp.tensor(2)), [x])
    np.testing.assert_allclose(out, -lp[2], rtol=1e-12)
    # PyTorch 2.15: CrossEntropyLoss(weight=w, label_smoothing=0.1)(x, 2) for w = [1, 2, 3]
    w = np.array([1.0, 2.0, 3.0])
    ref = 0.9 * (-lp[2]) + 0.1 / 3 * (-(lp * w).sum()) / 3.0
    out = nn.CrossEntropyLoss(weight=bp.tensor(w), label_smoothing=0.1)(bp.tensor(x), bp.tensor(2))
    assert_close(out, ref, rtol=1e-10)


def test_legacy_size_average_and_reduce_map_to_reduction():
    with pytest.warns(UserWarning):
        assert nn.L1Loss(size_average=False).reduction == "sum"
    with pytest.warns(UserWarning):
        assert nn.MSELoss(reduce=False).reduction == "none"
    with pytest.raises(ValueError, match="reduction"):
        nn.L1Loss(reduction="average")


def test_loss_module_reprs_and_buffers():
    assert repr(nn.SmoothL1Loss()) == "SmoothL1Loss()"
    m = nn.BCEWithLogitsLoss(pos_weight=bp.ones(3))
    assert list(m.state_dict()) == ["pos_weight"]
    assert nn.TripletMarginLoss().margin == 1.0 and nn.HuberLoss().delta == 1.0
    with pytest.raises(ValueError):
        nn.TripletMarginLoss(margin=0.0)


def test_multilabel_margin_unbatched_and_bad_targets():
    x = np.array([0.1, 0.2, 0.4, 0.8])
    # PyTorch docs example: MultiLabelMarginLoss()(x, [3, 0, -1, 1]) == 0.85
    assert_close(nn.MultiLabelMarginLoss()(bp.tensor(x[None]), bp.tensor([[3, 0, -1, 1]])), 0.85, rtol=1e-6)
    assert_close(F.multilabel_margin_loss(bp.tensor(x), bp.tensor([3, 0, -1, 1])), 0.85, rtol=1e-6)
    with pytest.raises(IndexError, match="out of bounds"):
        F.multilabel_margin_loss(bp.tensor(x[None]), bp.tensor([[7, -1, 0, 0]]))


def test_triplet_margin_with_distance_loss():
    a, p, n = (bp.tensor(v) for v in (X, Y, P))
    default = nn.TripletMarginWithDistanceLoss()(a, p, n)
    assert_close(default, np_triplet(X, Y, P).mean())
    cos_dist = lambda u, v: 1.0 - F.cosine_similarity(u, v)  # noqa: E731
    loss = nn.TripletMarginWithDistanceLoss(distance_function=cos_dist, margin=0.5, swap=True, reduction="sum")(a, p, n)
    dp, dn = 1 - np_cos(X, Y), np.minimum(1 - np_cos(X, P), 1 - np_cos(Y, P))
    assert_close(loss, np.maximum(0, 0.5 + dp - dn).sum())
