"""Functional transforms built on `autograd.grad`: jacobian, vjp, jvp, hvp, hessian."""

import backprop as bp


def _tuple(x):
    return (tuple(x), True) if isinstance(x, (tuple, list)) else ((x,), False)


def _prepare(inputs, create_graph):
    inputs, is_tuple = _tuple(inputs)
    prepared = tuple(x if (create_graph and x.requires_grad) else x.detach().requires_grad_() for x in inputs)
    return prepared, is_tuple


def vjp(func, inputs, v=None, create_graph=False):
    """`(func(inputs), v^T J)`."""
    xs, is_tuple = _prepare(inputs, create_graph)
    with bp.enable_grad():
        out = func(*xs)
    outs, out_tuple = _tuple(out)
    vs = _tuple(v)[0] if v is not None else tuple(None for _ in outs)
    grads = bp.autograd.grad(list(outs), list(xs), list(vs), create_graph=create_graph, allow_unused=True)
    grads = tuple(g if g is not None else bp.zeros_like(x) for g, x in zip(grads, xs))
    res_out = out if create_graph else (tuple(o.detach() for o in outs) if out_tuple else outs[0].detach())
    return res_out, grads if is_tuple else grads[0]


def jvp(func, inputs, v=None, create_graph=False):
    """`(func(inputs), J v)`, by the double-vjp trick (reverse mode twice)."""
    xs, is_tuple = _prepare(inputs, create_graph)
    vs = _tuple(v)[0] if v is not None else tuple(bp.ones_like(x) for x in xs)
    with bp.enable_grad():
        out = func(*xs)
        outs, out_tuple = _tuple(out)
        us = [bp.zeros_like(o).requires_grad_() for o in outs]
        g = bp.autograd.grad(list(outs), list(xs), us, create_graph=True, allow_unused=True)
        pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None]
        total = sum((gi * vi).sum() for gi, vi in pairs)
        jv = bp.autograd.grad(total, us, create_graph=create_graph, allow_unused=True)
    jv = tuple(j if j is not None else bp.zeros_like(o) for j, o in zip(jv, outs))
    res_out = tuple(o.detach() for o in outs) if out_tuple else outs[0].detach()
    return res_out, jv if out_tuple else jv[0]


def jacobian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Jacobian of `func` at `inputs`: for one input and one output, a tensor of shape
    `output.shape + input.shape`; tuples of these for several inputs/outputs."""
    del strict, vectorize
    xs, in_tuple = _prepare(inputs, create_graph)
    with bp.enable_grad():
        out = func(*xs)
    outs, out_tuple = _tuple(out)
    result = []
    for o in outs:
        rows = [[] for _ in xs]
        flat = o.reshape(-1)
        for k in range(flat.numel()):
            if o.requires_grad:
                gs = bp.autograd.grad(flat[k], list(xs), retain_graph=True, create_graph=create_graph, allow_unused=True)
            else:
                gs = [None] * len(xs)
            for r, (g, x) in enumerate(zip(gs, xs)):
                rows[r].append(g if g is not None else bp.zeros_like(x))
        per_input = tuple(
            (bp.stack(rows[r]) if rows[r] else bp.zeros(0, *x.shape, dtype=x.dtype)).reshape(*o.shape, *x.shape)
            for r, x in enumerate(xs)
        )
        result.append(per_input if in_tuple else per_input[0])
    return tuple(result) if out_tuple else result[0]


def hessian(func, inputs, create_graph=False, strict=False, vectorize=False):
    """The Hessian of a scalar `func`: the Jacobian of its gradient."""
    del strict, vectorize
    _, in_tuple = _tuple(inputs)

    def grad_fn(*xs):
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError(f"hessian: func must return a single-element tensor, got shape {tuple(out.shape)}")
        g = bp.autograd.grad(out, list(xs), create_graph=True, allow_unused=True)
        g = tuple(gi if gi is not None else bp.zeros_like(x) for gi, x in zip(g, xs))
        return g if in_tuple else g[0]

    return jacobian(grad_fn, inputs, create_graph=create_graph)


def vhp(func, inputs, v, create_graph=False):
    """`(func(inputs), v^T H)` for scalar `func` (equal to `hvp` where the Hessian is symmetric,
    i.e. wherever `func` is twice continuously differentiable)."""
    xs, is_tuple = _prepare(inputs, create_graph)
    vs = _tuple(v)[0]
    if len(vs) != len(xs):
        raise RuntimeError(f"vhp: got {len(vs)} vectors v for {len(xs)} inputs")
    for i, (x, vi) in enumerate(zip(xs, vs)):
        if tuple(vi.shape) != tuple(x.shape):
            raise RuntimeError(f"vhp: v[{i}] has shape {tuple(vi.shape)} but input {i} has shape {tuple(x.shape)}")
    with bp.enable_grad():
        out = func(*xs)
        if out.numel() != 1:
            raise RuntimeError(f"vhp: func must return a single-element tensor, got shape {tuple(out.shape)}")
        g = bp.autograd.grad(out, list(xs), create_graph=True, allow_unused=True)
        pairs = [(gi, vi) for gi, vi in zip(g, vs) if gi is not None and gi.requires_grad]
        if pairs:
            total = sum((gi * vi).sum() for gi, vi in pairs)
            vh = bp.autograd.grad(total, list(xs), create_graph=create_graph, materialize_grads=True)
        else:
            vh = tuple(bp.zeros_like(x) for x in xs)
    return out.detach(), vh if is_tuple else vh[0]


def hvp(func, inputs, v, create_graph=False):
    """`(func(inputs), H v)` for scalar `func`."""
    xs, is_tuple = _prepare(inputs, create_graph)
    vs = _tuple(v)[0]
    with bp.enable_grad():
        out = func(*xs)
        g = bp.autograd.grad(out, list(xs), create_graph=True)
        total = sum((gi * vi).sum() for gi, vi in zip(g, vs))
        hv = bp.autograd.grad(total, list(xs), create_graph=create_graph, allow_unused=True)
    hv = tuple(h if h is not None else bp.zeros_like(x) for h, x in zip(hv, xs))
    return out.detach(), hv if is_tuple else hv[0]
