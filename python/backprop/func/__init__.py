"""Composable function transforms, PyTorch's `torch.func`: grad, grad_and_value, vjp, jvp,
jacrev, jacfwd, hessian, functional_call and vmap.

`jvp` runs in one forward pass by forward AD (`backprop.autograd.forward_ad`) and falls back
to the double-vjp trick (two reverse passes) where forward AD cannot serve; `jacfwd` returns
exactly what `jacrev` does. `vmap` runs the function once on whole batches by
batching rules (see `backprop.func._batched`), not by a Python loop over the batch; `grad`
inside `vmap` gives per-sample gradients.
"""

import contextlib

import backprop as bp
from backprop import _core
from backprop._core import Tensor
from backprop.autograd import forward_ad
from backprop.func import _batched
from backprop.func._batched import Batched

__all__ = ["functional_call", "grad", "grad_and_value", "hessian", "jacfwd", "jacrev", "jvp", "vjp", "vmap"]

# How many grad-like transforms are running: inside one, inputs must stay connected to the
# outer graph (and results must carry create_graph) so the outer transform can differentiate.
_GRAD_DEPTH = [0]


# ---- pytrees (tuples, lists, dicts of tensors) ------------------------------------------------


def _flatten(tree):
    if isinstance(tree, (tuple, list)):
        leaves, specs = [], []
        for t in tree:
            lv, sp = _flatten(t)
            leaves += lv
            specs.append(sp)
        return leaves, (type(tree), specs, None)
    if isinstance(tree, dict):
        leaves, specs = [], []
        keys = list(tree.keys())
        for key in keys:
            lv, sp = _flatten(tree[key])
            leaves += lv
            specs.append(sp)
        return leaves, (dict, specs, keys)
    return [tree], None


def _unflatten(leaves, spec):
    it = iter(leaves)
    return _build(it, spec)


def _build(it, spec):
    if spec is None:
        return next(it)
    kind, specs, keys = spec
    children = [_build(it, s) for s in specs]
    if kind is dict:
        return dict(zip(keys, children))
    if hasattr(kind, "_fields"):
        return kind(*children)
    return kind(children)


def _is_tensor(x):
    return isinstance(x, (Tensor, Batched))


# ---- grad and friends -------------------------------------------------------------------------


def _argnums_tuple(argnums, nargs, name):
    nums = (argnums,) if isinstance(argnums, int) else tuple(argnums)
    if not nums:
        raise RuntimeError(f"{name}: argnums must be non-empty")
    for n in nums:
        if not isinstance(n, int):
            raise RuntimeError(f"{name}: argnums must be an int or a tuple of ints, got {argnums!r}")
        if not -nargs <= n < nargs:
            raise RuntimeError(f"{name}: got argnums={argnums} but only {nargs} positional inputs")
    return tuple(n % nargs for n in nums)


def _active_levels():
    return tuple(range(len(_batched._LEVELS)))


def _detached(x):
    """`x.detach()`, keeping the forward-AD tangent `x` carries: a transform running inside
    `jvp`'s forward pass (`jvp(grad(f))`) cuts `x` from the reverse graph, not from the
    tangent that the outer jvp follows. Plain `detach()` drops both, as PyTorch's does."""
    d = x.detach()
    if not _core._is_dual_level_open():
        return d
    tangent = _core._tangent(x)
    return d if tangent is None else forward_ad.make_dual(d, tangent)


def _differentiable_input(x, levels):
    """A tensor to differentiate with respect to, standing for `x`.

    Inside vmap it varies over every active level (a per-sample copy: each batch entry's output
    depends only on its own copy, so the gradient of the summed outputs is each entry's own
    gradient). Inside another grad transform it stays connected to the outer graph."""
    nested = _GRAD_DEPTH[0] > 0
    if levels:
        value = _batched._physical(x, levels, x.dim(), expand=True)
        value = value.clone() if nested else _detached(value.contiguous()).requires_grad_()
        if nested and not value.requires_grad:
            value = value.requires_grad_()
        return Batched(value, levels), value
    if not isinstance(x, Tensor):
        raise TypeError(f"expected a tensor to differentiate with respect to, got {type(x).__name__}")
    if nested and x.requires_grad:
        leaf = x.clone()
    else:
        leaf = _detached(x).requires_grad_()
    return leaf, leaf


def _physical_of(x, levels):
    if isinstance(x, Batched):
        return _batched._physical(x, levels, x.dim(), expand=True)
    if levels:
        return _batched._physical(x, levels, x.dim(), expand=True)
    return x


def _reverse(func, args, argnums, name, has_aux=False):
    """Runs func with fresh differentiable copies of args[argnums]; returns
    (output, aux, flat leaves, per-argnum pytree specs, physical leaves, levels)."""
    argnums = _argnums_tuple(argnums, len(args), name)
    levels = _active_levels()
    args = list(args)
    physical, specs, logical = [], [], []
    for n in argnums:
        leaves, spec = _flatten(args[n])
        new_leaves = []
        for leaf in leaves:
            if not _is_tensor(leaf):
                raise TypeError(f"{name}: argument {n} holds a {type(leaf).__name__}; only tensors can be differentiated")
            lg, ph = _differentiable_input(leaf, levels)
            new_leaves.append(lg)
            physical.append(ph)
        logical.append(new_leaves)
        specs.append(spec)
        args[n] = _unflatten(new_leaves, spec)
    _GRAD_DEPTH[0] += 1
    try:
        with bp.enable_grad():
            out = func(*args)
    finally:
        _GRAD_DEPTH[0] -= 1
    aux = None
    if has_aux:
        if not (isinstance(out, tuple) and len(out) == 2):
            raise RuntimeError(f"{name}(f, has_aux=True): f must return a tuple (output, aux), got {type(out).__name__}")
        out, aux = out
    return out, aux, physical, specs, argnums, levels


def _grads_to_args(grads, physical, specs, argnums, levels):
    pos = 0
    per_arg = []
    for spec, n in zip(specs, argnums):
        count = len(_flatten(_unflatten([None] * _count(spec), spec))[0])
        leaves = []
        for g, ph in zip(grads[pos : pos + count], physical[pos : pos + count]):
            g = bp.zeros_like(ph) if g is None else g
            leaves.append(Batched(g, levels) if levels else g)
        pos += count
        per_arg.append(_unflatten(leaves, spec))
    return per_arg


def _count(spec):
    if spec is None:
        return 1
    return sum(_count(s) for s in spec[1])


def _detach_out(x):
    if _GRAD_DEPTH[0] > 0:
        return x
    if isinstance(x, Tensor):
        return _detached(x)
    if isinstance(x, Batched):
        return Batched(_detached(x._value), x._levels)
    return x


def grad_and_value(func, argnums=0, has_aux=False):
    """`grad_and_value(f)(*args)` returns `(gradient, f(*args))`; with `has_aux=True`, f returns
    `(output, aux)` and the result is `(gradient, (output, aux))`. `argnums` (an int or a tuple of
    ints) picks the arguments to differentiate; each may be a tensor or a tuple/list/dict of
    tensors, and its gradient has the same structure. f must return a 0-d tensor."""

    def wrapper(*args, **kwargs):
        out, aux, physical, specs, nums, levels = _reverse(
            lambda *a: func(*a, **kwargs), args, argnums, "grad", has_aux
        )
        if not _is_tensor(out):
            raise RuntimeError(f"grad: f must return a tensor, got {type(out).__name__}")
        if out.dim() != 0:
            raise RuntimeError(
                f"grad: expected f(*args) to return a scalar (0-d) tensor, got one of shape {tuple(out.shape)}; "
                "use vjp or jacrev for other outputs"
            )
        phys_out = _physical_of(out, levels)
        if phys_out.requires_grad:
            grads = bp.autograd.grad(
                phys_out.sum(), physical, create_graph=_GRAD_DEPTH[0] > 0, allow_unused=True
            )
        else:
            grads = [None] * len(physical)
        per_arg = _grads_to_args(grads, physical, specs, nums, levels)
        g = per_arg[0] if isinstance(argnums, int) else tuple(per_arg)
        value = _detach_out(out)
        if has_aux:
            aux = _map(aux, _detach_out)
            return g, (value, aux)
        return g, value

    return wrapper


def grad(func, argnums=0, has_aux=False):
    """`grad(f)(*args)`: the gradient of scalar `f` with respect to `args[argnums]`.
    With `has_aux=True` f returns `(output, aux)` and the result is `(gradient, aux)`."""
    gv = grad_and_value(func, argnums, has_aux)

    def wrapper(*args, **kwargs):
        g, value = gv(*args, **kwargs)
        return (g, value[1]) if has_aux else g

    return wrapper


def _map(tree, fn):
    leaves, spec = _flatten(tree)
    return _unflatten([fn(x) for x in leaves], spec)


def vjp(func, *primals, has_aux=False):
    """`output, vjp_fn = vjp(f, *primals)`; `vjp_fn(cotangents)` returns one gradient per
    primal (a tuple), each cotangent shaped like the matching output."""
    out, aux, physical, specs, nums, levels = _reverse(func, primals, tuple(range(len(primals))), "vjp", has_aux)
    out_leaves, out_spec = _flatten(out)

    def vjp_fn(cotangents):
        cots, cot_spec = _flatten(cotangents)
        if len(cots) != len(out_leaves):
            raise RuntimeError(f"vjp: expected {len(out_leaves)} cotangents (one per output), got {len(cots)}")
        outs, gs = [], []
        for i, (o, c) in enumerate(zip(out_leaves, cots)):
            if tuple(c.shape) != tuple(o.shape):
                raise RuntimeError(
                    f"vjp: cotangent {i} has shape {tuple(c.shape)} but the output has shape {tuple(o.shape)}"
                )
            po = _physical_of(o, levels)
            if po.requires_grad:
                outs.append(po)
                gs.append(_physical_of(c, levels))
        if outs:
            grads = bp.autograd.grad(outs, physical, gs, retain_graph=True, create_graph=_GRAD_DEPTH[0] > 0 or
                                     any(isinstance(c, Tensor) and c.requires_grad for c in gs), allow_unused=True)
        else:
            grads = [None] * len(physical)
        return tuple(_grads_to_args(grads, physical, specs, nums, levels))

    result = _map(out, _detach_out)
    if has_aux:
        return result, vjp_fn, _map(aux, _detach_out)
    return result, vjp_fn


def jvp(func, primals, tangents, *, has_aux=False):
    """`(f(*primals), J @ tangents)`, in one forward pass by forward AD: each op computes its
    output's tangent as it runs (`backprop.autograd.forward_ad`).

    Where forward AD cannot serve, the double-vjp trick computes the same: the vjp is linear
    in its cotangent u, and the gradient of <vjp(u), tangent> with respect to u is
    J @ tangent (two reverse passes). That is inside vmap or another transform (whose graph
    must reach the result), inside an open dual level (one at a time), for non-float inputs
    or inputs and tangents that require grad, and when an op on the way has no jvp rule (a
    custom Function without `jvp`): f then runs a second time."""
    if not isinstance(primals, (tuple, list)) or not isinstance(tangents, (tuple, list)):
        raise RuntimeError("jvp: primals and tangents must be tuples (e.g. jvp(f, (x,), (t,)))")
    if len(primals) != len(tangents):
        raise RuntimeError(f"jvp: got {len(primals)} primals but {len(tangents)} tangents")
    primal_leaves, tangent_leaves = _flatten(primals)[0], _flatten(tangents)[0]
    for i, (p, t) in enumerate(zip(primal_leaves, tangent_leaves)):
        if tuple(p.shape) != tuple(t.shape):
            raise RuntimeError(f"jvp: tangent {i} has shape {tuple(t.shape)} but its primal has shape {tuple(p.shape)}")
    if _forward_ad_serves(primal_leaves, tangent_leaves):
        result = _jvp_forward(func, primals, tangents, has_aux)
        if result is not None:
            return result
    return _jvp_double_vjp(func, primals, tangents, has_aux)


def _forward_ad_serves(primal_leaves, tangent_leaves):
    if _active_levels() or _GRAD_DEPTH[0] or _core._is_dual_level_open():
        return False
    for x in primal_leaves + tangent_leaves:
        if not isinstance(x, Tensor) or not x.dtype.is_floating_point or x.requires_grad:
            return False
    return all(p.dtype == t.dtype and p.device == t.device for p, t in zip(primal_leaves, tangent_leaves))


def _jvp_forward(func, primals, tangents, has_aux):
    """`jvp` by forward AD; None when forward AD failed on the way (an op without a jvp rule,
    an in-place op on a tensor carrying a tangent), for the double-vjp path to compute it."""
    try:
        with forward_ad.dual_level():
            duals = []
            for pt, tt in zip(primals, tangents):
                (p_leaves, spec), t_leaves = _flatten(pt), _flatten(tt)[0]
                duals.append(_unflatten([forward_ad.make_dual(p.detach(), t.detach()) for p, t in zip(p_leaves, t_leaves)], spec))
            out = func(*duals)
            aux = None
            if has_aux:
                if not (isinstance(out, tuple) and len(out) == 2):
                    raise RuntimeError(f"jvp(f, has_aux=True): f must return a tuple (output, aux), got {type(out).__name__}")
                out, aux = out
            out_leaves, out_spec = _flatten(out)
            values, jv = [], []
            for o in out_leaves:
                if not isinstance(o, Tensor):
                    raise RuntimeError(f"jvp: f must return tensors (or tuples, lists, dicts of them), got {type(o).__name__}")
                tangent = _core._tangent(o)
                values.append(o.detach())
                jv.append(bp.zeros_like(o) if tangent is None else tangent)
            aux = _map(aux, lambda a: a.detach() if isinstance(a, Tensor) else a)
    except RuntimeError:
        return None  # the double-vjp path runs f again and reports what is really wrong
    result = (_unflatten(values, out_spec), _unflatten(jv, out_spec))
    return result + (aux,) if has_aux else result


def _jvp_double_vjp(func, primals, tangents, has_aux):
    out, aux, physical, specs, nums, levels = _reverse(func, primals, tuple(range(len(primals))), "jvp", has_aux)
    out_leaves, out_spec = _flatten(out)
    tangent_leaves = [_physical_of(t, levels) for t in _flatten(tangents)[0]]
    with bp.enable_grad():
        phys_outs = [_physical_of(o, levels) for o in out_leaves]
        us = [bp.zeros_like(po).requires_grad_() for po in phys_outs]
        live = [(po, u) for po, u in zip(phys_outs, us) if po.requires_grad]
        if live:
            g = bp.autograd.grad([po for po, _ in live], physical, [u for _, u in live], create_graph=True,
                                 allow_unused=True)
            terms = [(gi * ti).sum() for gi, ti in zip(g, tangent_leaves) if gi is not None and gi.requires_grad]
        else:
            terms = []
        if terms:
            total = terms[0]
            for t in terms[1:]:
                total = total + t
            jv = bp.autograd.grad(total, us, create_graph=_GRAD_DEPTH[0] > 0, materialize_grads=True)
        else:
            jv = [bp.zeros_like(po) for po in phys_outs]
    jv = [Batched(j, levels) if levels else j for j in jv]
    result = (_map(out, _detach_out), _unflatten(jv, out_spec))
    if has_aux:
        return result + (_map(aux, _detach_out),)
    return result


def jacrev(func, argnums=0, *, has_aux=False, chunk_size=None):
    """The Jacobian of f with respect to `args[argnums]` by reverse mode: for one output and one
    input, a tensor of shape `output.shape + input.shape` (nested tuples for several). One
    forward, then one vjp per output element over the retained graph (`autograd.grad` with
    `is_grads_batched=True`; the engine's backward cannot be batched from Python)."""

    def wrapper(*args, **kwargs):
        out, aux, physical, specs, nums, levels = _reverse(
            lambda *a: func(*a, **kwargs), args, argnums, "jacrev", has_aux
        )
        out_leaves, out_spec = _flatten(out)
        per_out = []
        for o in out_leaves:
            po = _physical_of(o, levels)
            k = len(levels)
            batch = tuple(po.shape[:k])
            n = o.numel()
            if po.requires_grad and n:
                eye = bp.eye(n, dtype=po.dtype, device=po.device).reshape(n, *([1] * k), *o.shape)
                eye = eye.expand(n, *batch, *o.shape)
                rows = bp.autograd.grad(po, physical, eye, retain_graph=True, create_graph=_GRAD_DEPTH[0] > 0,
                                        allow_unused=True, is_grads_batched=True)
            else:
                rows = [None] * len(physical)
            leaves = []
            for r, ph in zip(rows, physical):
                logical_in = tuple(ph.shape[k:])
                if r is None:
                    r = bp.zeros(n, *ph.shape, dtype=ph.dtype, device=ph.device)
                # r: (n, *batch, *in) -> (*batch, *out, *in)
                r = r.permute(*range(1, k + 1), 0, *range(k + 1, r.dim()))
                r = r.reshape(*batch, *o.shape, *logical_in)
                leaves.append(Batched(r, levels) if levels else r)
            per_arg = _grads_to_args_leaves(leaves, specs)
            per_out.append(per_arg[0] if isinstance(argnums, int) else tuple(per_arg))
        jac = _unflatten(per_out, out_spec)
        if has_aux:
            return jac, _map(aux, _detach_out)
        return jac

    return wrapper


def _grads_to_args_leaves(leaves, specs):
    pos, per_arg = 0, []
    for spec in specs:
        c = _count(spec)
        per_arg.append(_unflatten(leaves[pos : pos + c], spec))
        pos += c
    return per_arg


def jacfwd(func, argnums=0, has_aux=False, *, randomness="error"):
    """The Jacobian of f (see `jacrev`), computed by `jacrev` (reverse mode, one vjp per output
    element over one retained graph); the result is what forward mode would give. Forward mode
    here would need `vmap` over dual tensors, which the engine's single dual level does not have."""
    del randomness
    return jacrev(func, argnums, has_aux=has_aux)


def hessian(func, argnums=0):
    """The Hessian of scalar f with respect to `args[argnums]`: `jacfwd(jacrev(f))`."""
    return jacfwd(jacrev(func, argnums), argnums)


# ---- functional_call --------------------------------------------------------------------------


def functional_call(module, parameter_and_buffer_dicts, args=None, kwargs=None, *, tie_weights=True, strict=False):
    """Calls `module(*args, **kwargs)` with its parameters and buffers replaced by the tensors in
    `parameter_and_buffer_dicts` (a dict name -> tensor, or a tuple of dicts whose keys must not
    overlap); the module itself is unchanged afterwards. With `tie_weights=True` (the default) a
    tensor shared by several names (tied weights) is replaced everywhere by the one given for
    any of its names. A name that is neither a parameter nor a buffer is set as a plain
    attribute for the call (PyTorch's rule); `strict=True` instead requires the names to be
    exactly the module's parameters and buffers."""
    dicts = parameter_and_buffer_dicts
    if isinstance(dicts, dict):
        dicts = (dicts,)
    merged = {}
    for d in dicts:
        for key, value in d.items():
            if key in merged:
                raise ValueError(f"functional_call: {key!r} appears in more than one of the given dicts")
            merged[key] = value
    if args is None:
        args = ()
    elif not isinstance(args, tuple):
        args = (args,)
    kwargs = kwargs or {}

    # Every name under which each parameter/buffer object is reachable (tied weights share one).
    names_of = {}
    for prefix, mod in _named_modules(module):
        for attr in list(mod._parameters) + list(mod._buffers):
            t = mod._parameters.get(attr) if attr in mod._parameters else mod._buffers.get(attr)
            if t is None:
                continue
            names_of.setdefault(id(t), []).append(prefix + attr)
    all_names = {n for names in names_of.values() for n in names}
    unknown = [k for k in merged if k not in all_names]
    if strict:
        missing = sorted(n for n in all_names if n not in merged and not (tie_weights and _tied_given(n, names_of, merged)))
        if missing or unknown:
            lines = [f"Error(s) in reparametrizing for {type(module).__name__}:"]
            if unknown:
                lines.append("\tUnexpected key(s): " + ", ".join(repr(k) for k in sorted(unknown)) + ".")
            if missing:
                lines.append("\tMissing key(s): " + ", ".join(repr(k) for k in missing) + ".")
            raise RuntimeError("\n".join(lines))
    replacement = dict(merged)
    if tie_weights:
        for names in names_of.values():
            given = [n for n in names if n in merged]
            if len(given) > 1 and len({id(merged[n]) for n in given}) > 1:
                raise ValueError(f"functional_call: tied names {given} were given different tensors")
            if given:
                for n in names:
                    replacement.setdefault(n, merged[given[0]])

    saved = []
    try:
        for name in unknown:
            mod, attr = _owner(module, name)
            saved.append((mod, None, attr, None, mod.__dict__.get(attr, _MISSING)))
            mod.__dict__[attr] = replacement.pop(name)
        for name, value in replacement.items():
            mod, attr = _owner(module, name)
            table = mod._parameters if attr in mod._parameters else mod._buffers
            # Registered tensors live in the registry and (for fast attribute reads) in __dict__.
            saved.append((mod, table, attr, table[attr], mod.__dict__.get(attr, _MISSING)))
            table[attr] = value
            mod.__dict__[attr] = value
        return module(*args, **kwargs)
    finally:
        for mod, table, attr, old, old_attr in reversed(saved):
            if table is not None:
                table[attr] = old
            if old_attr is _MISSING:
                mod.__dict__.pop(attr, None)
            else:
                mod.__dict__[attr] = old_attr


_MISSING = object()


def _tied_given(name, names_of, merged):
    return any(name in names and any(n in merged for n in names) for names in names_of.values())


def _named_modules(module):
    out, stack = [], [("", module)]
    seen = set()
    while stack:
        prefix, mod = stack.pop()
        if id(mod) in seen and prefix:
            out.append((prefix, mod))
            continue
        seen.add(id(mod))
        out.append((prefix, mod))
        for name, child in reversed(list(mod._modules.items())):
            if child is not None:
                stack.append((prefix + name + ".", child))
    return out


def _owner(module, name):
    *path, attr = name.split(".")
    mod = module
    for p in path:
        if mod._modules.get(p) is None:
            raise KeyError(f"functional_call: {name!r} names no submodule of {type(module).__name__} (no {p!r})")
        mod = mod._modules[p]
    return mod, attr


# ---- vmap -------------------------------------------------------------------------------------


def _broadcast_dims(dims, tree, name):
    """in_dims/out_dims (an int, None, or a pytree prefix of the values) expanded to one entry
    per leaf of `tree`."""
    if dims is None or isinstance(dims, int):
        return [dims] * len(_flatten(tree)[0])
    if isinstance(dims, (tuple, list)) and isinstance(tree, (tuple, list)):
        if len(dims) != len(tree):
            raise ValueError(f"vmap: {name}={dims!r} has {len(dims)} entries but there are {len(tree)} values")
        return [d for sub_d, sub_t in zip(dims, tree) for d in _broadcast_dims(sub_d, sub_t, name)]
    if isinstance(dims, dict) and isinstance(tree, dict):
        return [d for key in tree for d in _broadcast_dims(dims[key], tree[key], name)]
    raise ValueError(f"vmap: {name}={dims!r} does not match the structure of the values ({type(tree).__name__})")


def _move_in(x, d, level):
    """The leaf x (a Tensor or a Batched of outer levels), batched over `level` along its logical
    dim d: that dim moves to just after x's existing batch dims."""
    if isinstance(x, Batched):
        value, levels, nd = x._value, x._levels, x.dim()
    else:
        value, levels, nd = x, (), x.dim()
    k = len(levels)
    phys = d + k if d >= 0 else d + nd + k
    order = list(range(value.dim()))
    order.pop(phys)
    order.insert(k, phys)
    return Batched(value.permute(*order) if order != list(range(value.dim())) else value, levels + (level,))


def _move_out(x, d, level, size):
    """The inverse of `_move_in` for one output leaf: the `level` batch dim goes to logical
    position d of the result, which stays batched over the outer levels."""
    if not isinstance(x, Batched) or level not in x._levels:
        # Does not vary over the batch: every entry is the same value.
        if isinstance(x, Batched):
            value = x._value.unsqueeze(x._k).expand(*x._value.shape[: x._k], size, *x.shape)
            x = Batched(value, x._levels + (level,))
        elif isinstance(x, Tensor):
            x = Batched(x.unsqueeze(0).expand(size, *x.shape), (level,))
        else:
            raise ValueError(f"vmap: the function must return tensors, got {type(x).__name__}")
    value, levels = x._value, list(x._levels)
    j = levels.index(level)
    levels.pop(j)
    k = len(levels)
    nd = value.dim() - k  # logical dims of the result, the batch dim included
    if d is None:
        raise ValueError("vmap: out_dims=None is only allowed for outputs that do not vary over the batch")
    pos = d + k if d >= 0 else d + nd + k
    if not k <= pos < k + nd:
        raise ValueError(f"vmap: out_dims={d} is out of range for an output of {nd - 1} dims")
    order = list(range(value.dim()))
    order.pop(j)
    order.insert(pos, j)
    value = value.permute(*order) if order != list(range(value.dim())) else value
    return Batched(value, tuple(levels)) if levels else value


@contextlib.contextmanager
def _level(size, randomness):
    if not _batched._LEVELS:
        _batched.install()
    _batched._LEVELS.append({"size": size, "randomness": randomness})
    try:
        yield len(_batched._LEVELS) - 1
    finally:
        _batched._LEVELS.pop()
        if not _batched._LEVELS:
            _batched.uninstall()


def vmap(func, in_dims=0, out_dims=0, randomness="error", *, chunk_size=None):
    """`vmap(f)(xs)` is f applied to every slice of xs along `in_dims`, stacked along `out_dims`,
    computed by running f ONCE on the whole batch: each op maps to the same op on the batched
    tensor (batching rules). Nest vmaps for several batch dims; put `grad` inside for per-sample
    gradients. `in_dims` is an int, None (not batched) or a tuple/dict matching the arguments;
    `out_dims` likewise for the outputs. `randomness` is 'error' (random ops raise), 'different'
    (independent per entry) or 'same' (one draw shared by the batch). `chunk_size` runs the batch
    in chunks of that many entries (less memory, same result). An op without a batching rule
    raises NotImplementedError naming it.

    While a vmap runs, the module-level functions of `backprop`, `backprop._core` and
    `backprop.nn.functional` are routed through the batching rules (unbatched calls go straight
    to the original), so run vmaps from one thread at a time.
    """
    if randomness not in ("error", "different", "same"):
        raise ValueError(f"vmap: randomness must be 'error', 'different' or 'same', got {randomness!r}")
    if chunk_size is not None and (not isinstance(chunk_size, int) or chunk_size < 1):
        raise ValueError(f"vmap: chunk_size must be a positive int or None, got {chunk_size!r}")

    def wrapper(*args, **kwargs):
        if isinstance(in_dims, (tuple, list)) and len(in_dims) != len(args):
            raise ValueError(f"vmap: in_dims={in_dims!r} has {len(in_dims)} entries but the function got {len(args)} arguments")
        dims = _broadcast_dims(in_dims if not isinstance(in_dims, list) else tuple(in_dims), args, "in_dims")
        leaves, spec = _flatten(args)
        size = None
        for i, (leaf, d) in enumerate(zip(leaves, dims)):
            if d is None:
                continue
            if not _is_tensor(leaf):
                raise ValueError(f"vmap: in_dims gives dim {d} for argument leaf {i}, which is a {type(leaf).__name__}, not a tensor")
            nd = leaf.dim()
            if not -nd <= d < nd:
                raise ValueError(f"vmap: in_dim {d} is out of range for an input of {nd} dims (shape {tuple(leaf.shape)})")
            s = leaf.shape[d]
            if size is not None and s != size:
                raise ValueError(f"vmap: inputs have different sizes along their mapped dims: {size} and {s}")
            size = s
        if size is None:
            raise ValueError("vmap: at least one argument must be batched (in_dims are all None)")
        if chunk_size is None or chunk_size >= size:
            return _run(func, leaves, dims, spec, kwargs, size, out_dims, randomness)
        pieces = []
        for start in range(0, size, chunk_size):
            n = min(chunk_size, size - start)
            sliced = [leaf if d is None else leaf.narrow(d, start, n) for leaf, d in zip(leaves, dims)]
            pieces.append(_run(func, sliced, dims, spec, kwargs, n, out_dims, randomness))
        out_leaves = [_flatten(p)[0] for p in pieces]
        out_spec = _flatten(pieces[0])[1]
        odims = _broadcast_dims(out_dims, pieces[0], "out_dims")
        joined = [
            first if od is None else bp.cat([p[i] for p in out_leaves], od)
            for i, (first, od) in enumerate(zip(out_leaves[0], odims))
        ]
        return _unflatten(joined, out_spec)

    return wrapper


def _run(func, leaves, dims, spec, kwargs, size, out_dims, randomness):
    with _level(size, randomness) as level:
        batched = [leaf if d is None else _move_in(leaf, d, level) for leaf, d in zip(leaves, dims)]
        out = _batched.resolve(func)(*_unflatten(batched, spec), **kwargs)
        odims = _broadcast_dims(out_dims, out, "out_dims")
        out_leaves, out_spec = _flatten(out)
        moved = []
        for o, od in zip(out_leaves, odims):
            if od is None:
                if isinstance(o, Batched) and level in o._levels:
                    raise ValueError("vmap: out_dims=None for an output that varies over the batch")
                moved.append(o)
            else:
                moved.append(_move_out(o, od, level, size))
        return _unflatten(moved, out_spec)
