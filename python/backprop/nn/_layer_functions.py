"""Functional forms of layers built from engine ops: embeddings, bilinear, padding,
normalisation to unit norm, one-hot codes and the channel-wise and alpha dropouts."""

import math

from backprop import _core
from backprop._grad_mode import no_grad
from backprop._core import Tensor


def normalize(input, p=2.0, dim=1, eps=1e-12, out=None) -> Tensor:
    """input / max(||input||_p along `dim`, eps)."""
    if out is not None:
        raise TypeError("normalize: out= is not supported; use the returned tensor")
    return input / input.norm(p, dim, True).clamp(min=eps)


def one_hot(tensor, num_classes=-1) -> Tensor:
    """Int64 one-hot codes of class indices, with a new last dim of `num_classes` (inferred as
    max + 1 when -1)."""
    if tensor.dtype != _core.int64:
        raise RuntimeError(f"one_hot is only applicable to index tensor of type int64, got {tensor.dtype}")
    if tensor.numel() == 0:
        if num_classes < 0:
            raise RuntimeError("one_hot: can not infer total number of classes from empty tensor.")
        n = num_classes
    else:
        lo, hi = tensor.min().item(), tensor.max().item()
        if lo < 0:
            raise RuntimeError("one_hot: Class values must be non-negative.")
        if num_classes < 0:
            n = hi + 1
        elif hi >= num_classes:
            raise RuntimeError("one_hot: Class values must be smaller than num_classes.")
        else:
            n = num_classes
    return (tensor.unsqueeze(-1) == _core.arange(n, device=tensor.device)).long()


def _renorm_rows_(weight, indices, max_norm, norm_type):
    """PyTorch's embedding max_norm: rows that `indices` reference and whose norm exceeds
    `max_norm` are scaled, in place, to norm max_norm / (norm + 1e-7) * norm."""
    with no_grad():
        used = sorted(set(indices.reshape(-1).cpu().tolist()))
        if not used:
            return
        idx = _core.tensor(used, dtype=_core.int64, device=weight.device)
        norms = weight.index_select(0, idx).norm(norm_type, 1)
        scale_rows = _core.where(norms > max_norm, max_norm / (norms + 1e-7), 1.0).cpu().tolist()
        scale = [1.0] * weight.shape[0]
        for i, s in zip(used, scale_rows):
            scale[i] = s
        weight.mul_(_core.tensor(scale, dtype=weight.dtype, device=weight.device).unsqueeze(1))


def _check_indices(input, rows, op):
    if input.dtype != _core.int64 and input.dtype != getattr(_core, "int32", None):
        raise TypeError(f"{op}: expected the indices to be int64 (or int32), got {input.dtype}; convert them with .long()")
    if input.numel():
        lo, hi = input.min().item(), input.max().item()
        if lo < -rows or hi >= rows:
            raise IndexError(f"{op}: index {lo if lo < -rows else hi} is out of range for a weight of {rows} rows")


def _counts_scale(flat):
    """1 / (occurrences of each index in the batch), per position (scale_grad_by_freq)."""
    ids = flat.cpu().tolist()
    counts = {}
    for i in ids:
        counts[i] = counts.get(i, 0) + 1
    return [1.0 / counts[i] for i in ids]


def _grad_scaled(value, scale):
    """`value` forward, its gradient multiplied by `scale` (the detached term carries the value)."""
    frozen = value.detach()
    return frozen + (value - frozen) * scale


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False) -> Tensor:
    """Rows of `weight` at the int64 `input` indices: output shape input.shape + [D].

    `padding_idx` rows get no gradient; `max_norm` renormalises the referenced rows in place
    first; `scale_grad_by_freq` divides each row's gradient by its count in the batch."""
    if weight.dim() != 2:
        raise RuntimeError(f"embedding: the weight must be 2-D [num_embeddings, embedding_dim], got shape {tuple(weight.shape)}")
    rows = weight.shape[0]
    _check_indices(input, rows, "embedding")
    if padding_idx is not None:
        if not -rows <= padding_idx < rows:
            raise ValueError(f"embedding: padding_idx {padding_idx} must be within num_embeddings ({rows})")
        padding_idx %= rows
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    flat = input.reshape(-1)
    if input.numel():
        flat = _core.where(flat < 0, flat + rows, flat)
    out = weight.index_select(0, flat)
    if padding_idx is not None and out.requires_grad:
        out = _core.where((flat != padding_idx).unsqueeze(1), out, out.detach())
    if scale_grad_by_freq and out.requires_grad and flat.numel():
        scale = _core.tensor(_counts_scale(flat), dtype=out.dtype, device=out.device).unsqueeze(1)
        out = _grad_scaled(out, scale)
    return out.reshape(tuple(input.shape) + (weight.shape[1],))


def embedding_bag(
    input,
    weight,
    offsets=None,
    max_norm=None,
    norm_type=2,
    scale_grad_by_freq=False,
    mode="mean",
    sparse=False,
    per_sample_weights=None,
    include_last_offset=False,
    padding_idx=None,
) -> Tensor:
    """Sums, means or maxima of bags of embedding rows without materialising each lookup as a
    separate call. `input` is `[B, L]` (B bags of L indices) or 1-D with `offsets` marking where
    each bag starts. Padding indices are left out of their bag; an empty bag gives zeros."""
    if mode not in ("sum", "mean", "max"):
        raise ValueError(f"embedding_bag: mode has to be one of sum, mean or max, got {mode!r}")
    if per_sample_weights is not None:
        if mode != "sum":
            raise NotImplementedError(f"embedding_bag: per_sample_weights was not None. per_sample_weights is only supported for mode='sum' (got mode='{mode}')")
        if tuple(per_sample_weights.shape) != tuple(input.shape):
            raise ValueError(f"embedding_bag: per_sample_weights of shape {tuple(per_sample_weights.shape)} must have the input's shape {tuple(input.shape)}")
    rows, dim = weight.shape
    _check_indices(input, rows, "embedding_bag")
    if padding_idx is not None:
        padding_idx %= rows
    if max_norm is not None:
        _renorm_rows_(weight, input, max_norm, norm_type)
    if input.dim() == 2:
        if offsets is not None:
            raise ValueError("embedding_bag: if input is 2-D, then offsets has to be None, as input is treated as a mini-batch of fixed length sequences")
        bags, length = input.shape
        ids = input.reshape(-1).cpu().tolist()
        starts = list(range(0, bags * length, length)) if length else [0] * bags
        ends = [s + length for s in starts]
    elif input.dim() == 1:
        if offsets is None or offsets.dim() != 1:
            raise ValueError("embedding_bag: offsets has to be a 1-D tensor when input is 1-D")
        ids = input.cpu().tolist()
        starts = offsets.cpu().tolist()
        if starts and starts[0] != 0:
            raise ValueError(f"embedding_bag: offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start from position 0. However, got {starts[0]}")
        if any(b < a for a, b in zip(starts, starts[1:])) or (starts and starts[-1] > len(ids)):
            raise ValueError(f"embedding_bag: offsets must be non-decreasing and at most the input length {len(ids)}, got {starts}")
        if include_last_offset:
            ends = starts[1:]
            starts = starts[:-1]
        else:
            ends = starts[1:] + [len(ids)]
    else:
        raise ValueError(f"embedding_bag: input has to be 1-D or 2-D, got shape {tuple(input.shape)}")
    bags = len(starts)
    # A [bags, longest] table of positions into the flat input, so one gather and one
    # reduction over dim 1 serve every mode.
    members = [[i for i in range(s, e) if ids[i] != padding_idx] for s, e in zip(starts, ends)]
    longest = max((len(m) for m in members), default=0)
    longest = max(longest, 1)
    pos = [m + [0] * (longest - len(m)) for m in members]
    valid = [[1.0] * len(m) + [0.0] * (longest - len(m)) for m in members]
    device = weight.device
    pos_t = _core.tensor(pos, dtype=_core.int64, device=device).reshape(-1) if bags else _core.zeros(0, dtype=_core.int64, device=device)
    flat_ids = input.reshape(-1)
    if flat_ids.numel() == 0:
        return _core.zeros(bags, dim, dtype=weight.dtype, device=device)
    chosen = flat_ids.index_select(0, pos_t)
    rows_t = embedding(chosen, weight, scale_grad_by_freq=False)
    if scale_grad_by_freq and rows_t.requires_grad:
        scale = _core.tensor(_counts_scale(chosen), dtype=rows_t.dtype, device=device).unsqueeze(1)
        rows_t = _grad_scaled(rows_t, scale)
    rows_t = rows_t.reshape(bags, longest, dim)
    mask = _core.tensor(valid, dtype=weight.dtype, device=device).unsqueeze(2)
    if mode == "max":
        picked = rows_t.masked_fill(mask == 0, -math.inf).max(1)
        picked = picked[0] if isinstance(picked, tuple) else picked.values
        empty = _core.tensor([len(m) == 0 for m in members], device=device).unsqueeze(1)
        return _core.where(empty, 0.0, picked)
    if per_sample_weights is not None:
        psw = per_sample_weights.reshape(-1).index_select(0, pos_t).reshape(bags, longest, 1)
        mask = mask * psw
    total = (rows_t * mask).sum(1)
    if mode == "sum":
        return total
    counts = _core.tensor([max(len(m), 1) for m in members], dtype=weight.dtype, device=device).unsqueeze(1)
    return total / counts


def bilinear(input1, input2, weight, bias=None) -> Tensor:
    """y_k = x1^T W_k x2 + b_k for `weight` of shape [out, in1, in2]; leading dims broadcast."""
    if weight.dim() != 3:
        raise RuntimeError(f"bilinear: the weight must be 3-D [out, in1, in2], got shape {tuple(weight.shape)}")
    out_f, in1, in2 = weight.shape
    if input1.shape[-1] != in1 or input2.shape[-1] != in2 or tuple(input1.shape[:-1]) != tuple(input2.shape[:-1]):
        raise RuntimeError(
            f"bilinear: inputs of shape {tuple(input1.shape)} and {tuple(input2.shape)} do not fit a weight of shape "
            f"{tuple(weight.shape)} (their last dims must be {in1} and {in2}, the leading dims equal)"
        )
    lead = tuple(input1.shape[:-1])
    x1 = input1.reshape(-1, in1)
    x2 = input2.reshape(-1, in2)
    mixed = (x1 @ weight.permute(1, 0, 2).reshape(in1, out_f * in2)).reshape(-1, out_f, in2)
    y = (mixed * x2.unsqueeze(1)).sum(2)
    if bias is not None:
        y = y + bias
    return y.reshape(lead + (out_f,))


def _bernoulli_keep(shape, p, like):
    """A 0/1 tensor of `shape` that is 1 with probability 1 - p."""
    return (_core.rand(*shape, device=like.device) >= p).to(like.dtype)


def _check_p(p, op):
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: dropout probability has to be between 0 and 1, but got {p}")


def _channel_dropout(input, p, training, batched_dims, op):
    _check_p(p, op)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input * 0.0
    lead = 2 if input.dim() == batched_dims else 1
    shape = tuple(input.shape[:lead]) + (1,) * (input.dim() - lead)
    return input * (_bernoulli_keep(shape, p, input) * (1.0 / (1.0 - p)))


def dropout1d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zeroes whole channels of `[N, C, L]` (or unbatched `[C, L]`) input with probability `p`."""
    if input.dim() not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.dim()}D input. ")
    return _channel_dropout(input, p, training, 3, "dropout1d")


def dropout2d(input, p=0.5, training=True, inplace=False) -> Tensor:
    """Zeroes whole channels of `[N, C, H, W]` (or unbatched `[C, H, W]`) input."""
    if input.dim() not in (3, 4):
        raise RuntimeError(f"dropout2d: Expected 3D or 4D input, but received a {input.dim()}D input.")
    return _channel_dropout(input, p, training, 4, "dropout2d")


_SELU_ALPHA_SCALE = 1.7580993408473766  # selu's alpha * scale: the value a dropped unit takes


def _alpha_dropout(input, p, training, mask_shape, op):
    _check_p(p, op)
    if not training or p == 0.0 or input.numel() == 0:
        return input
    if p == 1.0:
        return input * 0.0
    keep = _bernoulli_keep(mask_shape, p, input)
    alpha = _SELU_ALPHA_SCALE
    a = 1.0 / math.sqrt((alpha * alpha * p + 1) * (1 - p))
    b = (keep - 1.0) * (alpha * a) + alpha * a * p
    return input * (keep * a) + b


def alpha_dropout(input, p=0.5, training=False, inplace=False) -> Tensor:
    """Dropout for SELU networks: dropped units take selu's negative saturation value and the
    result is affinely rescaled so mean and variance are kept."""
    return _alpha_dropout(input, p, training, tuple(input.shape), "alpha_dropout")


def feature_alpha_dropout(input, p=0.5, training=False, inplace=False) -> Tensor:
    """Alpha dropout of whole channels (dim 1)."""
    shape = tuple(input.shape[:2]) + (1,) * (input.dim() - 2) if input.dim() >= 2 else tuple(input.shape)
    return _alpha_dropout(input, p, training, shape, "feature_alpha_dropout")


def pad(input, pad, mode="constant", value=None) -> Tensor:
    """Pads (or, for negative amounts, crops) the last len(pad) // 2 dims: `pad` lists
    (left, right) for the last dim first. Modes: constant, reflect, replicate, circular."""
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > input.dim():
        raise ValueError(f"pad: padding length {len(pad)} is too large for an input of {input.dim()} dims")
    if mode not in ("constant", "reflect", "replicate", "circular"):
        raise NotImplementedError(f"pad: unrecognised padding mode {mode!r} (use constant, reflect, replicate or circular)")
    if mode != "constant" and value not in (None, 0, 0.0):
        raise ValueError(f"pad: padding mode {mode!r} doesn't take in value argument")
    out = input
    for k in range(len(pad) // 2):
        left, right = int(pad[2 * k]), int(pad[2 * k + 1])
        d = input.dim() - 1 - k
        n = out.shape[d]
        if mode == "constant":
            if left < 0:
                out = out.narrow(d, -left, n + left)
            if right < 0:
                out = out.narrow(d, 0, out.shape[d] + right)
            parts = []
            for amount in (left, right):
                shape = list(out.shape)
                shape[d] = max(amount, 0)
                parts.append(_core.full(tuple(shape), float(value or 0.0), dtype=out.dtype, device=out.device))
            out = _core.cat([parts[0], out, parts[1]], d)
            continue
        if mode == "reflect":
            if left >= n or right >= n:
                raise RuntimeError(
                    f"pad: padding size should be less than the corresponding input dimension, but got: padding ({left}, {right}) at dimension {d} of input {tuple(input.shape)}"
                )
            idx = [abs(i) if i < 0 else (2 * (n - 1) - i if i >= n else i) for i in range(-left, n + right)]
        elif mode == "replicate":
            if n == 0:
                raise RuntimeError(f"pad: cannot replicate-pad an empty dimension {d} of input {tuple(input.shape)}")
            idx = [min(max(i, 0), n - 1) for i in range(-left, n + right)]
        else:
            if left > n or right > n:
                raise RuntimeError(f"pad: Padding value causes wrapping around more than once (padding ({left}, {right}) at dimension {d} of size {n})")
            idx = [i % n for i in range(-left, n + right)]
        out = out.index_select(d, _core.tensor(idx, dtype=_core.int64, device=out.device))
    return out
