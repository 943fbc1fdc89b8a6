"""The functional losses beyond the engine's fused ones (cross-entropy, nll, mse, multi-margin),
each PyTorch's documented formula written with differentiable tensor ops, so gradients (and
higher derivatives) come from the engine."""

import math
import warnings

from backprop import _core
from backprop._core import Tensor

_REDUCTIONS = ("none", "mean", "sum")


def _legacy_reduction(size_average, reduce, reduction):
    """PyTorch's deprecated `size_average`/`reduce` flags, mapped onto `reduction`."""
    if size_average is None and reduce is None:
        return reduction
    warnings.warn("size_average and reduce args will be deprecated, please use reduction='...' instead.", UserWarning, stacklevel=3)
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    if not reduce:
        return "none"
    return "mean" if size_average else "sum"


def _reduce(loss, reduction, op):
    if reduction == "none":
        return loss
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    raise ValueError(f"{op}: {reduction!r} is not a valid value for reduction (use 'none', 'mean' or 'sum')")


def _check_same_shape(input, target, op):
    if tuple(input.shape) != tuple(target.shape):
        raise ValueError(
            f"{op}: the target size {tuple(target.shape)} is different to the input size {tuple(input.shape)}; "
            "please ensure they have the same size"
        )


def _check_broadcastable(input, target, op):
    try:
        _broadcast_shape(tuple(input.shape), tuple(target.shape))
    except ValueError:
        raise ValueError(
            f"{op}: the target size {tuple(target.shape)} does not broadcast with the input size {tuple(input.shape)}"
        ) from None


def _broadcast_shape(a, b):
    out = []
    for x, y in zip(reversed((1,) * (len(b) - len(a)) + a), reversed((1,) * (len(a) - len(b)) + b)):
        if x != y and 1 not in (x, y):
            raise ValueError
        out.append(max(x, y) if 0 not in (x, y) else 0)
    return tuple(reversed(out))


def _stable_softplus(z):
    """log(1 + exp(z)) without overflow: max(z, 0) + log1p(exp(-|z|))."""
    return z.relu() + (-z.abs()).exp().log1p()


def _log_sigmoid(z):
    return -_stable_softplus(-z)


def _where(cond, a, b):
    return _core.where(cond, a, b)


def l1_loss(input, target, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """Mean (or summed) absolute error |input - target|."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_broadcastable(input, target, "l1_loss")
    return _reduce((input - target).abs(), reduction, "l1_loss")


def smooth_l1_loss(input, target, size_average=None, reduce=None, reduction="mean", beta=1.0) -> Tensor:
    """0.5 d^2 / beta where |d| < beta, |d| - 0.5 beta elsewhere (d = input - target);
    `beta=0` is the L1 loss."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if beta < 0:
        raise ValueError(f"smooth_l1_loss: beta must be non-negative, got {beta}")
    _check_broadcastable(input, target, "smooth_l1_loss")
    d = (input - target).abs()
    if beta == 0.0:
        return _reduce(d, reduction, "smooth_l1_loss")
    loss = _where(d < beta, d * d * (0.5 / beta), d - 0.5 * beta)
    return _reduce(loss, reduction, "smooth_l1_loss")


def huber_loss(input, target, reduction="mean", delta=1.0, weight=None) -> Tensor:
    """0.5 d^2 where |d| < delta, delta (|d| - 0.5 delta) elsewhere."""
    if delta <= 0:
        raise ValueError(f"huber_loss: delta must be positive, got {delta}")
    _check_broadcastable(input, target, "huber_loss")
    d = (input - target).abs()
    loss = _where(d < delta, d * d * 0.5, (d - 0.5 * delta) * delta)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "huber_loss")


def binary_cross_entropy(input, target, weight=None, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """-w (y log x + (1 - y) log(1 - x)) for probabilities x; each log is clamped at -100 as in
    PyTorch, so x = 0 or 1 gives a finite loss."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_shape(input, target, "binary_cross_entropy")
    if input.numel() and input.device.type == "cpu":
        lo, hi = input.detach().min().item(), input.detach().max().item()
        if not (lo >= 0.0 and hi <= 1.0):
            raise RuntimeError("binary_cross_entropy: all elements of input should be between 0 and 1")
    log_x = input.log().clamp(min=-100.0)
    log_1mx = (1.0 - input).log().clamp(min=-100.0)
    loss = -(target * log_x + (1.0 - target) * log_1mx)
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy")


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None, reduction="mean", pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable formula:
    (1 - y) x + (1 + (p - 1) y) (log(1 + exp(-|x|)) + max(-x, 0)), p the `pos_weight`
    (broadcast along the last, class, dim)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_shape(input, target, "binary_cross_entropy_with_logits")
    # -log sigmoid(x) = max(-x, 0) + log1p(exp(-|x|)); the large terms are summed first so the
    # tiny tail survives (x = -30, y = 0 gives 9.4e-14, not 0).
    big, tail = (-input).relu(), (-input.abs()).exp().log1p()
    if pos_weight is not None:
        log_weight = (pos_weight - 1.0) * target + 1.0
        loss = ((1.0 - target) * input + log_weight * big) + log_weight * tail
    else:
        loss = ((1.0 - target) * input + big) + tail
    if weight is not None:
        loss = loss * weight
    return _reduce(loss, reduction, "binary_cross_entropy_with_logits")


def kl_div(input, target, size_average=None, reduce=None, reduction="mean", log_target=False) -> Tensor:
    """Pointwise KL divergence target * (log target - input) for log-probabilities `input`
    (with `log_target`, the target is a log-probability too). `reduction='batchmean'` divides
    the sum by the batch size, which is the mathematical KL divergence."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if reduction == "mean":
        warnings.warn(
            "reduction: 'mean' divides the total loss by both the batch size and the support size."
            "'batchmean' divides only by the batch size, and aligns with the KL div math definition."
            "'mean' will be changed to behave the same as 'batchmean' in the next major release.",
            UserWarning,
            stacklevel=2,
        )
    if log_target:
        loss = target.exp() * (target - input)
    else:
        positive = target > 0
        safe = _where(positive, target, 1.0)
        loss = _where(positive, target * safe.log(), 0.0) - target * input
    if reduction == "batchmean":
        total = loss.sum()
        return total / input.shape[0] if input.dim() != 0 else total
    return _reduce(loss, reduction, "kl_div")


def soft_margin_loss(input, target, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """log(1 + exp(-y x)) for labels y in {1, -1}."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_shape(input, target, "soft_margin_loss")
    return _reduce(_stable_softplus(-target * input), reduction, "soft_margin_loss")


def multilabel_soft_margin_loss(input, target, weight=None, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """Per sample, the mean over classes of -(y log sigmoid(x) + (1 - y) log sigmoid(-x))."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    _check_same_shape(input, target, "multilabel_soft_margin_loss")
    loss = -(target * _log_sigmoid(input) + (1.0 - target) * _log_sigmoid(-input))
    if weight is not None:
        loss = loss * weight
    class_dim = input.dim() - 1
    loss = loss.sum(class_dim) / input.shape[class_dim]
    return _reduce(loss, reduction, "multilabel_soft_margin_loss")


def multilabel_margin_loss(input, target, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """Per sample, sum over target classes j and non-target classes i of
    max(0, 1 - (x[j] - x[i])) / C. `target` holds int64 class indices, ended by the first -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input.dim() not in (1, 2) or tuple(target.shape) != tuple(input.shape):
        raise ValueError(
            f"multilabel_margin_loss: expected input of shape [C] or [N, C] and a target of the same shape, "
            f"got input {tuple(input.shape)} and target {tuple(target.shape)}"
        )
    if target.dtype != _core.int64:
        raise TypeError(f"multilabel_margin_loss: the target must hold int64 class indices, got {target.dtype}")
    unbatched = input.dim() == 1
    x = input.unsqueeze(0) if unbatched else input
    rows = target.reshape(x.shape).cpu().tolist()
    classes = x.shape[1]
    mask = []
    for row in rows:
        member = [0.0] * classes
        for j in row:
            if j < 0:
                break
            if j >= classes:
                raise IndexError(f"multilabel_margin_loss: target index {j} is out of bounds for {classes} classes")
            member[j] = 1.0
        mask.append(member)
    is_target = _core.tensor(mask, dtype=x.dtype, device=x.device)  # [N, C]
    pairs = is_target.unsqueeze(2) * (1.0 - is_target).unsqueeze(1)  # [N, j, i]
    hinge = (1.0 - x.unsqueeze(2) + x.unsqueeze(1)).relu()
    loss = (hinge * pairs).sum((1, 2)) / classes
    if unbatched:
        loss = loss.reshape(())
    return _reduce(loss, reduction, "multilabel_margin_loss")


def hinge_embedding_loss(input, target, margin=1.0, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """x where y = 1, max(0, margin - x) where y = -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    margin_part = _where(target != 1, (margin - input).relu(), 0.0)
    self_part = _where(target != -1, input, 0.0)
    return _reduce(margin_part + self_part, reduction, "hinge_embedding_loss")


def margin_ranking_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """max(0, -y (x1 - x2) + margin)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if not (input1.dim() == input2.dim() == target.dim()):
        raise RuntimeError(
            f"margin_ranking_loss: all input tensors should have the same number of dims, got "
            f"input1 {tuple(input1.shape)}, input2 {tuple(input2.shape)} and target {tuple(target.shape)}"
        )
    return _reduce((-target * (input1 - input2) + margin).relu(), reduction, "margin_ranking_loss")


_COSINE_EPS = 1e-12


def cosine_embedding_loss(input1, input2, target, margin=0.0, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """1 - cos(x1, x2) where y = 1, max(0, cos(x1, x2) - margin) where y = -1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if input1.dim() not in (1, 2) or tuple(input1.shape) != tuple(input2.shape):
        raise RuntimeError(
            f"cosine_embedding_loss: expected two inputs of one shape [D] or [N, D], got {tuple(input1.shape)} and {tuple(input2.shape)}"
        )
    d = input1.dim() - 1
    prod = (input1 * input2).sum(d)
    mag1 = (input1 * input1).sum(d) + _COSINE_EPS
    mag2 = (input2 * input2).sum(d) + _COSINE_EPS
    cos = prod / (mag1 * mag2).sqrt()
    loss = _where(target == 1, 1.0 - cos, 0.0) + _where(target == -1, (cos - margin).relu(), 0.0)
    return _reduce(loss, reduction, "cosine_embedding_loss")


def pairwise_distance(x1, x2, p=2.0, eps=1e-6, keepdim=False) -> Tensor:
    """The p-norm of x1 - x2 + eps along the last dim."""
    d = x1 - x2 + eps
    if d.dim() == 0:
        return d.abs()
    return d.norm(p, -1, keepdim)


def cosine_similarity(x1, x2, dim=1, eps=1e-8) -> Tensor:
    """x1 . x2 / (max(|x1|, eps) max(|x2|, eps)) along `dim` (inputs broadcast)."""
    n1 = (x1 * x1).sum(dim, keepdim=True).sqrt().clamp(min=eps)
    n2 = (x2 * x2).sum(dim, keepdim=True).sqrt().clamp(min=eps)
    return ((x1 / n1) * (x2 / n2)).sum(dim)


def triplet_margin_loss(anchor, positive, negative, margin=1.0, p=2.0, eps=1e-6, swap=False, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """max(0, margin + d(a, p) - d(a, n)) with d the pairwise p-norm distance; `swap` uses
    min(d(a, n), d(p, n)) as the negative distance."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    dims = {anchor.dim(), positive.dim(), negative.dim()}
    if len(dims) != 1 or dims.pop() not in (1, 2):
        raise RuntimeError(
            f"triplet_margin_loss: anchor, positive and negative must all be 1-D or all 2-D, got shapes "
            f"{tuple(anchor.shape)}, {tuple(positive.shape)} and {tuple(negative.shape)}"
        )
    if margin <= 0:
        raise ValueError(f"triplet_margin_loss: margin must be greater than 0, got {margin}")
    d_pos = pairwise_distance(anchor, positive, p, eps)
    d_neg = pairwise_distance(anchor, negative, p, eps)
    if swap:
        d_neg = d_neg.minimum(pairwise_distance(positive, negative, p, eps))
    return _reduce((d_pos - d_neg + margin).relu(), reduction, "triplet_margin_loss")


def triplet_margin_with_distance_loss(anchor, positive, negative, *, distance_function=None, margin=1.0, swap=False, reduction="mean") -> Tensor:
    """The triplet loss with any `distance_function(x, y)` (pairwise distance by default)."""
    dist = distance_function if distance_function is not None else pairwise_distance
    if margin <= 0:
        raise ValueError(f"triplet_margin_with_distance_loss: margin must be greater than 0, got {margin}")
    d_pos = dist(anchor, positive)
    d_neg = dist(anchor, negative)
    if swap:
        d_neg = d_neg.minimum(dist(positive, negative))
    return _reduce((d_pos - d_neg + margin).relu(), reduction, "triplet_margin_with_distance_loss")


def poisson_nll_loss(input, target, log_input=True, full=False, size_average=None, eps=1e-8, reduce=None, reduction="mean") -> Tensor:
    """exp(x) - y x for a log-rate x (`log_input`), else x - y log(x + eps); `full` adds the
    Stirling term y log y - y + 0.5 log(2 pi y) where y > 1."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if log_input:
        loss = input.exp() - target * input
    else:
        loss = input - target * (input + eps).log()
    if full:
        big = target > 1
        safe = _where(big, target, 1.0)
        stirling = safe * safe.log() - safe + 0.5 * (safe * (2 * math.pi)).log()
        loss = loss + _where(big, stirling, 0.0)
    return _reduce(loss, reduction, "poisson_nll_loss")


def gaussian_nll_loss(input, target, var, full=False, eps=1e-6, reduction="mean") -> Tensor:
    """0.5 (log var + (input - target)^2 / var) (+ 0.5 log 2 pi with `full`). `var` has the
    input's shape, or one dim less or a last dim of 1 (one variance per sample); it is clamped
    at `eps` for stability, with the gradient passed through unclamped as in PyTorch."""
    if isinstance(var, (int, float)):
        var = _core.full(tuple(input.shape), float(var), dtype=input.dtype, device=input.device)
    in_shape, var_shape = tuple(input.shape), tuple(var.shape)
    if var_shape != in_shape:
        if in_shape[:-1] == var_shape:
            var = var.unsqueeze(-1)
        elif not (in_shape[:-1] == var_shape[:-1] and var_shape[-1:] == (1,)):
            raise ValueError(f"gaussian_nll_loss: var of shape {var_shape} is of incorrect size for input of shape {in_shape}")
    if reduction not in _REDUCTIONS:
        raise ValueError(f"gaussian_nll_loss: {reduction!r} is not a valid value for reduction")
    if var.numel() and var.detach().min().item() < 0:
        raise ValueError("gaussian_nll_loss: var has negative entry/entries")
    var = var + (var.detach().clamp(min=eps) - var.detach())
    loss = 0.5 * (var.log() + (input - target) ** 2 / var)
    if full:
        loss = loss + 0.5 * math.log(2 * math.pi)
    return _reduce(loss, reduction, "gaussian_nll_loss")


def cross_entropy(
    input: Tensor,
    target: Tensor,
    weight: Tensor | None = None,
    size_average: bool | None = None,
    ignore_index: int = -100,
    reduce: bool | None = None,
    reduction: str = "mean",
    label_smoothing: float = 0.0,
) -> Tensor:
    """Softmax cross-entropy of logits (`[N, C, ...]` or an unbatched `[C]`) against int64 class
    indices or class probabilities, with class weights and label smoothing (together too)."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is None or label_smoothing == 0.0 or target.dtype != _core.int64:
        return _core.cross_entropy(input, target, weight, ignore_index, reduction, label_smoothing)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"cross_entropy: label_smoothing must be in [0, 1], got {label_smoothing}")
    # PyTorch's formula: (1 - eps) * weighted nll + eps / C * the weighted uniform part, the
    # latter normalised by the same sum of target weights as the nll.
    class_dim = 0 if input.dim() == 1 else 1
    classes = input.shape[class_dim]
    logp = input.log_softmax(class_dim)
    nll = _core.nll_loss(logp, target, weight, ignore_index, reduction)
    shape = [1] * input.dim()
    shape[class_dim] = classes
    valid = target != ignore_index
    smooth = _where(valid, -(logp * weight.reshape(shape)).sum(class_dim), 0.0)
    if reduction == "mean":
        safe = _where(valid, target, 0)
        smooth = smooth.sum() / _where(valid, weight.gather(0, safe.reshape(-1)).reshape(tuple(target.shape)), 0.0).sum()
    elif reduction == "sum":
        smooth = smooth.sum()
    elif reduction != "none":
        raise ValueError(f"cross_entropy: {reduction!r} is not a valid value for reduction")
    return nll * (1.0 - label_smoothing) + smooth * (label_smoothing / classes)


def nll_loss(input, target, weight=None, size_average=None, ignore_index=-100, reduce=None, reduction="mean") -> Tensor:
    """Negative log-likelihood of log-probabilities at int64 class indices."""
    return _core.nll_loss(input, target, weight, ignore_index, _legacy_reduction(size_average, reduce, reduction))


def mse_loss(input, target, size_average=None, reduce=None, reduction="mean", weight=None) -> Tensor:
    """Mean (or summed) squared error."""
    reduction = _legacy_reduction(size_average, reduce, reduction)
    if weight is None:
        return _core.mse_loss(input, target, reduction)
    d = input - target
    return _reduce(d * d * weight, reduction, "mse_loss")


def multi_margin_loss(input, target, p=1, margin=1.0, weight=None, size_average=None, reduce=None, reduction="mean") -> Tensor:
    """The multiclass SVM hinge loss."""
    return _core.multi_margin_loss(input, target, p, margin, weight, _legacy_reduction(size_average, reduce, reduction))


__all__ = [
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cosine_embedding_loss",
    "cosine_similarity",
    "cross_entropy",
    "gaussian_nll_loss",
    "hinge_embedding_loss",
    "huber_loss",
    "kl_div",
    "l1_loss",
    "margin_ranking_loss",
    "mse_loss",
    "multi_margin_loss",
    "multilabel_margin_loss",
    "multilabel_soft_margin_loss",
    "nll_loss",
    "pairwise_distance",
    "poisson_nll_loss",
    "smooth_l1_loss",
    "soft_margin_loss",
    "triplet_margin_loss",
    "triplet_margin_with_distance_loss",
]
