"""Batching rules for `vmap`: a tensor wrapper that carries its batch dimensions in front.

A `Batched` value holds one physical tensor whose leading dimensions are the batch dimensions of
the active vmap levels it varies over (sorted by level), followed by the logical dimensions the
user's function sees. Each op maps to the same op on the whole physical tensor, with dims shifted
past the batch dims (reductions, softmax, transpose, indexing...), operands aligned (missing
levels become size-1 dims, logical ranks right-aligned, so broadcasting does the rest), or a
purpose-written rule (matmul, linear, the losses). An op without a rule raises a clear error.
"""

import backprop as bp
from backprop import _core
from backprop._core import Tensor

# The active vmap levels, innermost last: each a dict(size=, randomness=).
_LEVELS = []


class Batched:
    """One logical tensor per batch entry, stored as a single physical tensor."""

    __slots__ = ("_value", "_levels")
    __array_priority__ = 1000  # NumPy defers to our reflected operators

    def __init__(self, value, levels):
        self._value = value
        self._levels = tuple(levels)

    # ---- what a Tensor looks like from inside the vmapped function
    @property
    def _k(self):
        return len(self._levels)

    @property
    def shape(self):
        return tuple(self._value.shape[self._k :])

    def size(self, dim=None):
        return self.shape if dim is None else self.shape[dim]

    def dim(self):
        return self._value.dim() - self._k

    ndim = property(dim)

    def ndimension(self):
        return self.dim()

    def numel(self):
        n = 1
        for s in self.shape:
            n *= s
        return n

    def __len__(self):
        if not self.shape:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    dtype = property(lambda self: self._value.dtype)
    device = property(lambda self: self._value.device)
    requires_grad = property(lambda self: self._value.requires_grad)
    is_cuda = property(lambda self: self._value.is_cuda)

    def is_floating_point(self):
        return self._value.is_floating_point()

    def __repr__(self):
        return f"BatchedTensor(levels={self._levels}, logical shape={self.shape}, value={self._value!r})"

    def __getattr__(self, name):
        if hasattr(Tensor, name):
            raise NotImplementedError(
                f"vmap: there is no batching rule for Tensor.{name} yet; compute it outside vmap, or "
                "write the batch out explicitly"
            )
        raise AttributeError(f"'Tensor' object has no attribute {name!r}")

    def __bool__(self):
        _data_dependent("bool(tensor)")

    def item(self):
        _data_dependent("Tensor.item()")

    def tolist(self):
        _data_dependent("Tensor.tolist()")

    def numpy(self):
        _data_dependent("Tensor.numpy()")

    def __iter__(self):
        return iter([self[i] for i in range(len(self))])

    def __getitem__(self, index):
        return _getitem(self, index)

    def __setitem__(self, index, value):
        raise NotImplementedError(
            "vmap: in-place assignment into a batched tensor is not supported; build the result "
            "with where/cat/stack instead"
        )


def _data_dependent(what):
    raise RuntimeError(
        f"vmap: {what} needs the value of one batch entry, which does not exist inside vmap "
        "(the function runs once for the whole batch); keep the computation in tensors"
    )


def _is_batched(x):
    return type(x) is Batched


def _any_batched(args, kwargs):
    for a in args:
        if type(a) is Batched or (isinstance(a, (list, tuple)) and any(type(b) is Batched for b in a)):
            return True
    return any(type(v) is Batched for v in kwargs.values())


# ---- alignment ------------------------------------------------------------------------------


def _union_levels(items):
    levels = set()
    for x in items:
        if _is_batched(x):
            levels.update(x._levels)
    return tuple(sorted(levels))


def _physical(x, levels, rank, expand=False):
    """x's physical tensor with one leading dim per level in `levels` (size 1 where x does not
    vary over it, or the level's size when `expand`), then its logical dims right-aligned to
    `rank`. A plain tensor is left as it is unless it must be expanded (broadcasting aligns it)."""
    if _is_batched(x):
        value, own, shape = x._value, x._levels, x.shape
    elif isinstance(x, Tensor):
        if not expand:
            return x
        value, own, shape = x, (), tuple(x.shape)
    else:
        return x
    sizes = dict(zip(own, value.shape[: len(own)]))
    pad = rank - len(shape)
    if pad < 0:
        pad = 0
    if own == levels and pad == 0 and not expand:
        return value
    batch = [sizes.get(lv, 1) for lv in levels]
    value = value.reshape(*batch, *([1] * pad), *shape)
    if expand:
        full = [sizes.get(lv, _LEVELS[lv]["size"]) for lv in levels]
        value = value.expand(*full, *([-1] * (pad + len(shape))))
    return value


def _logical_rank(x):
    if _is_batched(x):
        return x.dim()
    if isinstance(x, Tensor):
        return x.dim()
    return 0


def _wrap(result, levels):
    if isinstance(result, Tensor):
        return Batched(result, levels)
    if isinstance(result, tuple):
        wrapped = [_wrap(r, levels) for r in result]
        if hasattr(result, "_fields"):
            return type(result)(*wrapped)
        return tuple(wrapped)
    if isinstance(result, list):
        return [_wrap(r, levels) for r in result]
    return result


# ---- rule kinds -----------------------------------------------------------------------------


def _elementwise(op, name):
    """Broadcasting ops: align every tensor argument, run the op once on the physical tensors."""

    def rule(*args, **kwargs):
        tensors = [a for a in list(args) + list(kwargs.values()) if isinstance(a, (Tensor, Batched))]
        levels = _union_levels(tensors)
        rank = max(_logical_rank(t) for t in tensors)
        args = [_physical(a, levels, rank) for a in args]
        kwargs = {k: _physical(v, levels, rank) for k, v in kwargs.items()}
        return _wrap(op(*args, **kwargs), levels)

    return rule


def _shift(dim, k, ndim, name):
    if not isinstance(dim, int):
        raise TypeError(f"vmap: {name} expects an int dim, got {type(dim).__name__}")
    if dim < -max(ndim, 1) or dim >= max(ndim, 1):
        raise IndexError(
            f"{name}: dimension out of range (expected to be in range of [{-max(ndim, 1)}, {max(ndim, 1) - 1}], but got {dim})"
        )
    return dim + k if dim >= 0 else dim + ndim + k


def _reduction(op, name, dim_pos=1, has_keepdim=True, flatten_none=True):
    """Ops over `dim` (an int or a tuple of ints; None means all logical dims)."""

    def rule(x, *args, **kwargs):
        if not _is_batched(x):
            raise NotImplementedError(f"vmap: {name} with a batched argument other than the input is not supported")
        k, nd = x._k, x.dim()
        args = list(args)
        if len(args) >= dim_pos:
            dim = args[dim_pos - 1]
            where = "pos"
        else:
            dim = kwargs.get("dim")
            where = "kw"
        if isinstance(dim, (Tensor, Batched)) and name in ("max", "min"):
            # max(a, b) / min(a, b): the elementwise form
            other = _elementwise(Tensor.maximum if name == "max" else Tensor.minimum, name)
            return other(x, dim)
        value = x._value
        if dim is None and flatten_none:
            keepdim = kwargs.get("keepdim", args[dim_pos] if len(args) > dim_pos and has_keepdim else False)
            value = value.reshape(*value.shape[:k], -1) if nd != 1 else value
            if nd == 0:
                value = value.reshape(*value.shape[:k], 1)
            new_dim = k
            if where == "pos":
                args[dim_pos - 1] = new_dim
            else:
                kwargs["dim"] = new_dim
            out = op(value, *args, **kwargs)
            if name in ("max", "min"):
                out = out[0]  # x.max() without a dim is the value alone
            if keepdim:
                out = _map_tensors(out, lambda t: t.reshape(*t.shape[:k], *([1] * nd)))
            return _wrap(out, x._levels)
        if isinstance(dim, (tuple, list)):
            new_dim = tuple(_shift(d, k, nd, name) for d in dim)
        else:
            new_dim = _shift(dim, k, nd, name)
        if where == "pos":
            args[dim_pos - 1] = new_dim
        else:
            kwargs["dim"] = new_dim
        return _wrap(op(value, *args, **kwargs), x._levels)

    return rule


def _map_tensors(out, fn):
    if isinstance(out, Tensor):
        return fn(out)
    if isinstance(out, tuple):
        mapped = [_map_tensors(o, fn) for o in out]
        return type(out)(*mapped) if hasattr(out, "_fields") else tuple(mapped)
    return out


def _dims_rule(op, name):
    """Ops whose positional args after the input are all dims: transpose, movedim-like."""

    def rule(x, *dims, **kwargs):
        k, nd = x._k, x.dim()
        dims = tuple(_shift(d, k, nd, name) for d in dims)
        kwargs = {key: _shift(v, k, nd, name) if key in ("dim", "dim0", "dim1") else v for key, v in kwargs.items()}
        return _wrap(op(x._value, *dims, **kwargs), x._levels)

    return rule


# ---- purpose-written rules ------------------------------------------------------------------


def _ints(args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _reshape(x, *shape):
    shape = _ints(shape)
    return Batched(x._value.reshape(*x._value.shape[: x._k], *shape), x._levels)


def _expand(x, *sizes):
    sizes = _ints(sizes)
    k = x._k
    value = x._value
    extra = len(sizes) - x.dim()
    if extra < 0:
        raise RuntimeError(f"expand: the number of sizes ({len(sizes)}) must be at least the tensor's dims ({x.dim()})")
    if extra:
        value = value.reshape(*value.shape[:k], *([1] * extra), *x.shape)
    return Batched(value.expand(*([-1] * k), *sizes), x._levels)


def _permute(x, *dims):
    dims = _ints(dims)
    k, nd = x._k, x.dim()
    if len(dims) != nd:
        raise RuntimeError(f"permute: got {len(dims)} dims for a tensor of {nd} dims")
    return Batched(x._value.permute(*range(k), *(_shift(d, k, nd, "permute") for d in dims)), x._levels)


def _t(x):
    if x.dim() < 2:
        return x
    return Batched(x._value.transpose(-1, -2), x._levels)


def _unsqueeze(x, dim):
    nd = x.dim() + 1
    return Batched(x._value.unsqueeze(_shift(dim, x._k, nd, "unsqueeze")), x._levels)


def _squeeze(x, dim=None):
    k = x._k
    if dim is None:
        value = x._value.reshape(*x._value.shape[:k], *[s for s in x.shape if s != 1])
        return Batched(value, x._levels)
    dims = dim if isinstance(dim, (tuple, list)) else (dim,)
    keep = set(_shift(d, 0, x.dim(), "squeeze") for d in dims if x.shape[d] == 1)
    shape = [s for i, s in enumerate(x.shape) if i not in keep]
    return Batched(x._value.reshape(*x._value.shape[:k], *shape), x._levels)


def _flatten(x, start_dim=0, end_dim=-1):
    nd = x.dim()
    if nd == 0:
        return Batched(x._value.reshape(*x._value.shape[: x._k], 1), x._levels)
    k = x._k
    return Batched(x._value.flatten(_shift(start_dim, k, nd, "flatten"), _shift(end_dim, k, nd, "flatten")), x._levels)


def _getitem(x, index):
    if not isinstance(index, tuple):
        index = (index,)
    levels = _union_levels([x, *index])
    tensors = [i for i in index if isinstance(i, (Tensor, Batched))]
    if any(_is_batched(i) for i in tensors):
        raise NotImplementedError("vmap: indexing with a batched index tensor is not supported yet")
    if any(t.dtype == bp.bool for t in tensors):
        raise NotImplementedError("vmap: boolean-mask indexing has a data-dependent shape and is not supported")
    positions = [n for n, i in enumerate(index) if isinstance(i, (Tensor, list))]
    if positions and positions != list(range(positions[0], positions[-1] + 1)):
        raise NotImplementedError(
            "vmap: indexing with index tensors separated by slices moves dims to the front and is not supported"
        )
    return Batched(x._value[(slice(None),) * x._k + index], levels)


def _matmul(a, b):
    levels = _union_levels([a, b])
    ra, rb = _logical_rank(a), _logical_rank(b)
    if ra == 0 or rb == 0:
        raise RuntimeError("matmul: both arguments need at least 1 dimension, got a 0-d tensor")
    rank = max(ra, rb, 2)
    pa = _physical(a, levels, ra, expand=False) if _is_batched(a) else a
    pb = _physical(b, levels, rb, expand=False) if _is_batched(b) else b
    if ra == 1:
        pa = pa.unsqueeze(-2)
    if rb == 1:
        pb = pb.unsqueeze(-1)
    # Right-align logical batch dims of both operands after the vmap dims.
    pa = _pad_logical(pa, a, levels, rank)
    pb = _pad_logical(pb, b, levels, rank)
    out = pa @ pb
    if ra == 1:
        out = out.squeeze(-2)
    if rb == 1:
        out = out.squeeze(-1)
    return Batched(out, levels)


def _pad_logical(p, x, levels, rank):
    """p (physical, matrix-shaped logical part) padded with size-1 logical dims to `rank`."""
    if not _is_batched(x):
        return p
    k = len(levels)
    have = p.dim() - k
    if have < rank:
        p = p.reshape(*p.shape[:k], *([1] * (rank - have)), *p.shape[k:])
    return p


def _linear(input, weight, bias=None):
    if not _is_batched(weight) and not _is_batched(bias):
        return _wrap(_core.linear(input._value, weight, bias), input._levels)
    out = _matmul(input, _t(weight) if _is_batched(weight) else weight.t())
    if bias is not None:
        out = _elementwise(Tensor.__add__, "add")(out, bias)
    return out


_LOSS_PARAMS = {
    "cross_entropy": ("weight", "ignore_index", "reduction", "label_smoothing"),
    "nll_loss": ("weight", "ignore_index", "reduction"),
    "multi_margin_loss": ("p", "margin", "weight", "reduction"),
}


def _per_sample_loss(name, loss):
    """Losses reduce over the sample's own items: compute with reduction='none', then reduce
    each batch entry separately."""
    params = _LOSS_PARAMS[name]

    def rule(input, target, *args, **kwargs):
        if len(args) > len(params):
            raise TypeError(f"{name}() takes at most {len(params) + 2} positional arguments")
        for key, value in zip(params, args):
            if key in kwargs:
                raise TypeError(f"{name}() got multiple values for argument {key!r}")
            kwargs[key] = value
        args = ()
        reduction = kwargs.pop("reduction", "mean")
        weight = kwargs.get("weight")
        if _is_batched(weight):
            raise NotImplementedError(f"vmap: {name} with a batched class weight is not supported")
        levels = _union_levels([input, target])
        rank_in = _logical_rank(input)
        inp = _physical(input, levels, rank_in, expand=True)
        tgt = _physical(target, levels, _logical_rank(target), expand=True)
        k = len(levels)
        batch = tuple(inp.shape[:k])
        n_items = inp.shape[k] if rank_in > 1 else 1
        classes = inp.shape[k + 1 :] if rank_in > 1 else inp.shape[k:]
        flat_in = inp.reshape(-1, *classes)
        flat_t = tgt.reshape(-1, *tgt.shape[k + (1 if rank_in > 1 else 0) :])
        per_item = loss(flat_in, flat_t, *args, reduction="none", **kwargs)
        per_item = per_item.reshape(*batch, n_items, *per_item.shape[1:])
        if reduction == "none":
            out = per_item if rank_in > 1 else per_item.squeeze(k)
        elif reduction == "sum":
            out = per_item.reshape(*batch, -1).sum(-1)
        elif reduction == "mean":
            if name in ("cross_entropy", "nll_loss"):
                ignore = kwargs.get("ignore_index", -100)
                t_items = flat_t.reshape(*batch, -1)
                counted = (t_items != ignore).to(per_item.dtype)
                if weight is not None:
                    safe = _core.where(t_items != ignore, t_items, bp.zeros_like(t_items))
                    counted = counted * weight[safe.reshape(-1)].reshape(*t_items.shape)
                out = per_item.reshape(*batch, -1).sum(-1) / counted.sum(-1)
            else:
                out = per_item.reshape(*batch, -1).mean(-1)
        else:
            raise ValueError(f"{name}: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        return Batched(out, levels)

    return rule


def _mse_loss(input, target, reduction="mean"):
    diff = _elementwise(Tensor.__sub__, "sub")(input, target)
    sq = Batched(diff._value * diff._value, diff._levels)
    if reduction == "none":
        return sq
    if reduction == "sum":
        return _reduction(Tensor.sum, "sum")(sq)
    if reduction == "mean":
        return _reduction(Tensor.mean, "mean")(sq)
    raise ValueError(f"mse_loss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")


def _cat_like(op, name):
    def rule(tensors, dim=0):
        tensors = list(tensors)
        levels = _union_levels(tensors)
        nd = max(_logical_rank(t) for t in tensors)
        out_nd = nd + 1 if name == "stack" else nd
        phys = [_physical(t, levels, _logical_rank(t), expand=True) for t in tensors]
        return Batched(op(phys, _shift(dim, len(levels), out_nd, name)), levels)

    return rule


def _split_like(op, name):
    def rule(x, *args, **kwargs):
        args = list(args)
        if len(args) >= 2:
            args[1] = _shift(args[1], x._k, x.dim(), name)
        elif "dim" in kwargs:
            kwargs["dim"] = _shift(kwargs["dim"], x._k, x.dim(), name)
        else:
            args.append(x._k)
        return _wrap(op(x._value, *args, **kwargs), x._levels)

    return rule


def _unflatten(x, dim, sizes):
    return Batched(x._value.unflatten(_shift(dim, x._k, x.dim(), "unflatten"), sizes), x._levels)


def _unbind(x, dim=0):
    return _wrap(x._value.unbind(_shift(dim, x._k, x.dim(), "unbind")), x._levels)


def _select(x, dim, index):
    return Batched(x._value.select(_shift(dim, x._k, x.dim(), "select"), index), x._levels)


def _narrow(x, dim, start, length):
    return Batched(x._value.narrow(_shift(dim, x._k, x.dim(), "narrow"), start, length), x._levels)


def _index_select(x, dim, index):
    if _is_batched(index):
        raise NotImplementedError("vmap: index_select with a batched index is not supported yet")
    return Batched(x._value.index_select(_shift(dim, x._k, x.dim(), "index_select"), index), x._levels)


def _gather(x, dim, index):
    levels = _union_levels([x, index])
    nd = max(x.dim(), _logical_rank(index))
    px = _physical(x, levels, nd, expand=True)
    pi = _physical(index, levels, nd, expand=True)
    return Batched(px.gather(_shift(dim, len(levels), nd, "gather"), pi), levels)


def _where(cond, a=None, b=None):
    if a is None:
        raise NotImplementedError("vmap: where(cond) with one argument has a data-dependent shape")
    return _elementwise(_core.where, "where")(cond, a, b)


def _dropout(input, p=0.5, training=True, inplace=False):
    if not training or p == 0:
        return input
    mode = _LEVELS[-1]["randomness"]
    if mode == "error":
        raise RuntimeError(
            "vmap: called dropout (a random operation) inside vmap; pass randomness='different' "
            "(independent masks per batch entry) or randomness='same' (one mask for all) to vmap"
        )
    if mode == "different":
        value = _physical(input, tuple(range(len(_LEVELS))), input.dim(), expand=True)
        return Batched(_core.dropout(value, p, True), tuple(range(len(_LEVELS))))
    mask = _core.dropout(bp.ones(*input.shape, dtype=input.dtype, device=input.device), p, True)
    return _elementwise(Tensor.__mul__, "mul")(input, mask)


def _random_like(fn, name):
    def rule(input, *args, **kwargs):
        mode = _LEVELS[-1]["randomness"]
        if mode == "error":
            raise RuntimeError(
                f"vmap: called {name} (a random operation) inside vmap; pass randomness='different' "
                "or randomness='same' to vmap"
            )
        if mode == "same":
            return fn(bp.empty(*input.shape, dtype=input.dtype, device=input.device), *args, **kwargs)
        levels = tuple(range(len(_LEVELS)))
        return Batched(fn(_physical(input, levels, input.dim(), expand=True), *args, **kwargs), levels)

    return rule


def _detach(x):
    return Batched(x._value.detach(), x._levels)


def _same(name):
    """Ops that keep the layout: apply to the physical tensor as is."""

    def rule(x, *args, **kwargs):
        return _wrap(getattr(x._value, name)(*args, **kwargs), x._levels)

    return rule


# ---- the rule table -------------------------------------------------------------------------

_ELEMENTWISE = (
    "add sub mul div pow neg abs exp log sqrt rsqrt sin cos tanh sigmoid relu gelu log1p sign "
    "reciprocal square clamp clip maximum minimum eq ne lt le gt ge remainder floor_divide "
    "logical_and logical_or logical_xor logical_not masked_fill isnan isfinite leaky_relu elu "
    "float double long int bool to cpu floor ceil round exp2 expm1 log2 log10 trunc "
    "silu mish softplus hardtanh relu6 hardsigmoid hardswish softsign logsigmoid selu celu"
).split()
_REDUCTIONS = "sum mean amax amin logsumexp var std argmax argmin max min all any prod cumsum".split()
_DIM_ONLY = {"softmax", "log_softmax", "cumsum"}

_METHOD_RULES = {}
_FUNCTION_RULES = {}


def _build_rules():
    for name in _ELEMENTWISE:
        if hasattr(Tensor, name):
            _METHOD_RULES[name] = _elementwise(getattr(Tensor, name), name)
        elif callable(getattr(_core, name, None)):
            _FUNCTION_RULES[name] = _elementwise(getattr(_core, name), name)
    for dunder in (
        "__add__ __radd__ __sub__ __rsub__ __mul__ __rmul__ __truediv__ __rtruediv__ __pow__ __rpow__ "
        "__neg__ __abs__ __eq__ __ne__ __lt__ __le__ __gt__ __ge__ __and__ __or__ __xor__ __invert__ "
        "__mod__ __floordiv__ __rfloordiv__"
    ).split():
        if hasattr(Tensor, dunder):
            _METHOD_RULES[dunder] = _elementwise(getattr(Tensor, dunder), dunder)
    for name in _REDUCTIONS:
        if hasattr(Tensor, name):
            _METHOD_RULES[name] = _reduction(getattr(Tensor, name), name)
    _METHOD_RULES["norm"] = _reduction(Tensor.norm, "norm", dim_pos=2)
    for name in ("softmax", "log_softmax"):
        if hasattr(Tensor, name):
            _METHOD_RULES[name] = _reduction(getattr(Tensor, name), name, flatten_none=False)
    _METHOD_RULES.update(
        transpose=_dims_rule(Tensor.transpose, "transpose"),
        swapaxes=_dims_rule(Tensor.transpose, "swapaxes"),
        reshape=_reshape,
        view=_reshape,
        expand=_expand,
        permute=_permute,
        t=_t,
        unsqueeze=_unsqueeze,
        squeeze=_squeeze,
        flatten=_flatten,
        matmul=_matmul,
        __matmul__=_matmul,
        __rmatmul__=lambda b, a: _matmul(a, b),
        mm=_matmul,
        dot=_matmul,
        split=_split_like(Tensor.split, "split"),
        chunk=_split_like(Tensor.chunk, "chunk"),
        unbind=_unbind,
        unflatten=_unflatten,
        select=_select,
        narrow=_narrow,
        index_select=_index_select,
        gather=_gather,
        detach=_detach,
        clone=_same("clone"),
        contiguous=_same("contiguous"),
        requires_grad_=_same("requires_grad_"),
    )
    _METHOD_RULES["expand_as"] = lambda x, other: _expand(x, *other.shape)
    _METHOD_RULES["reshape_as"] = lambda x, other: _reshape(x, *other.shape)
    _METHOD_RULES["view_as"] = _METHOD_RULES["reshape_as"]
    _METHOD_RULES["type_as"] = lambda x, other: _METHOD_RULES["to"](x, other.dtype)
    if hasattr(Tensor, "T"):
        Batched.T = property(_t)
        Batched.mT = property(lambda x: Batched(x._value.transpose(-1, -2), x._levels))

    _FUNCTION_RULES.update({name: _METHOD_RULES[name] for name in _METHOD_RULES if not name.startswith("__")})
    import backprop.nn.functional as F

    for name in _ELEMENTWISE:  # functional forms bound straight to a Tensor method (F.relu = Tensor.relu)
        if name not in _FUNCTION_RULES and callable(getattr(F, name, None)) and not _is_python(getattr(F, name)):
            _FUNCTION_RULES[name] = _elementwise(getattr(F, name), name)
    _FUNCTION_RULES.update(
        where=_where,
        is_tensor=lambda x: True,
        numel=lambda x: x.numel(),
        cat=_cat_like(_core.cat, "cat"),
        concat=_cat_like(_core.cat, "cat"),
        stack=_cat_like(bp.stack, "stack"),
        linear=_linear,
        cross_entropy=_per_sample_loss("cross_entropy", _core.cross_entropy),
        nll_loss=_per_sample_loss("nll_loss", _core.nll_loss),
        multi_margin_loss=_per_sample_loss("multi_margin_loss", _core.multi_margin_loss),
        mse_loss=_mse_loss,
        dropout=_dropout,
        softmax=_reduction(_core.softmax, "softmax", flatten_none=False),
        log_softmax=_reduction(_core.log_softmax, "log_softmax", flatten_none=False),
        rand_like=_random_like(bp.rand_like, "rand_like"),
        randn_like=_random_like(bp.randn_like, "randn_like"),
        zeros_like=lambda x, **kw: Batched(bp.zeros_like(x._value, **kw), x._levels),
        ones_like=lambda x, **kw: Batched(bp.ones_like(x._value, **kw), x._levels),
        full_like=lambda x, v, **kw: Batched(bp.full_like(x._value, v, **kw), x._levels),
        empty_like=lambda x, **kw: Batched(bp.empty_like(x._value, **kw), x._levels),
    )

    for name, rule in _METHOD_RULES.items():
        setattr(Batched, name, rule)



# ---- dispatch from module-level functions ---------------------------------------------------

_patched = []


_RULE_OF_ORIGINAL = {}


def resolve(func):
    """The batching rule for `func` when it is one of the functions the rules cover, taken by
    reference before vmap started (`vmap(bp.matmul)`, `vmap(F.cross_entropy)`); else func."""
    if _patched:
        found = _RULE_OF_ORIGINAL.get(id(func))
        if found is not None and found[0] is func:
            return found[1]
    return func


def _dispatcher(name, original, rule):
    def dispatch(*args, **kwargs):
        if _any_batched(args, kwargs):
            return rule(*args, **kwargs)
        return original(*args, **kwargs)

    dispatch.__name__ = name
    dispatch.__doc__ = getattr(original, "__doc__", None)
    dispatch._vmap_original = original
    return dispatch


def _modules():
    import backprop.nn.functional as F

    return (bp, _core, F)


def install():
    """Route the module-level functions (`bp.exp`, `F.linear`, ...) through the batching rules
    while a vmap runs; each falls back to the original when no argument is batched."""
    if _patched:
        return
    for module in _modules():
        for name, original in list(vars(module).items()):
            if name.startswith("_") or not callable(original) or isinstance(original, type):
                continue
            if _is_python(original):
                continue  # Python code made of tensor ops runs on Batched values as it is
            rule = _FUNCTION_RULES.get(name)
            if rule is None:
                rule = _missing_rule(name)
            dispatch = _dispatcher(name, original, rule)
            setattr(module, name, dispatch)
            _patched.append((module, name, original))
            _RULE_OF_ORIGINAL[id(original)] = (original, dispatch)


def _is_python(fn):
    import types

    return isinstance(fn, (types.FunctionType, types.MethodType))


def _missing_rule(name):
    def rule(*args, **kwargs):
        raise NotImplementedError(
            f"vmap: there is no batching rule for {name} yet; compute it outside vmap, or write the "
            "batch out explicitly"
        )

    return rule


def uninstall():
    while _patched:
        module, name, original = _patched.pop()
        setattr(module, name, original)
    _RULE_OF_ORIGINAL.clear()


_build_rules()
