"""Tensor products built from matmul, views and broadcasting: `einsum`, `tensordot`, `kron`,
`cdist`, `cross`. Every contraction becomes one batched matmul over reshaped operands, so
`einsum("bij,bjk->bik", a, b)` runs as `a @ b`."""

import string
from math import prod

from backprop import _core

_LETTERS = set(string.ascii_letters)


def _parse(equation, operands):
    """Subscripts per operand and for the output, with `...` expanded to fresh capital-free
    placeholder labels (broadcast dims, aligned from the right)."""
    eq = equation.replace(" ", "")
    if "->" in eq:
        lhs, rhs = eq.split("->")
    else:
        lhs, rhs = eq, None
    terms = lhs.split(",")
    if len(terms) != len(operands):
        raise ValueError(f"einsum(): {len(terms)} subscripts in the equation but {len(operands)} operands were given")
    ell_labels = [chr(0x100 + i) for i in range(64)]  # labels that cannot clash with letters
    max_ell = 0
    parsed = []
    for term, op in zip(terms, operands):
        if term.count("...") > 1 or "." in term.replace("...", ""):
            raise ValueError(f"einsum(): invalid ellipsis in subscript {term!r}")
        for ch in term.replace("...", ""):
            if ch not in _LETTERS:
                raise ValueError(f"einsum(): invalid subscript {ch!r} in {equation!r}: use letters a-z, A-Z")
        named = len(term.replace("...", ""))
        if "..." in term:
            n_ell = op.ndim - named
            if n_ell < 0:
                raise ValueError(f"einsum(): operand of {op.ndim} dims has too many subscripts in {term!r}")
            max_ell = max(max_ell, n_ell)
            head, tail = term.split("...")
            labels = list(head) + ell_labels[64 - n_ell:] + list(tail) if n_ell else list(head) + list(tail)
        else:
            if named != op.ndim:
                raise ValueError(
                    f"einsum(): the number of subscripts in {term!r} ({named}) does not match the operand's dimensions ({op.ndim})"
                )
            labels = list(term)
        parsed.append(labels)
    ell = ell_labels[64 - max_ell:] if max_ell else []
    if rhs is None:
        counts = {}
        for labels in parsed:
            for ch in labels:
                counts[ch] = counts.get(ch, 0) + 1
        out = ell + sorted(ch for ch, n in counts.items() if n == 1 and ch in _LETTERS)
    else:
        if rhs.count("...") > 1:
            raise ValueError("einsum(): more than one ellipsis in the output")
        head, _, tail = rhs.partition("...")
        out = list(head) + (ell if "..." in rhs else []) + list(tail)
        present = {ch for labels in parsed for ch in labels}
        for ch in out:
            if ch not in present:
                raise ValueError(f"einsum(): output subscript {ch!r} does not appear in the inputs")
        if len(set(out)) != len(out):
            raise ValueError("einsum(): output subscript appears more than once")
    return parsed, out


def _take_diagonals(t, labels):
    """Repeated labels in one operand (`ii`) become one dim: the diagonal."""
    labels = list(labels)
    while True:
        seen = {}
        for i, ch in enumerate(labels):
            if ch in seen:
                j = seen[ch]
                t = _core.diagonal(t, 0, j, i)  # the diagonal moves to the end
                labels = [c for k, c in enumerate(labels) if k not in (i, j)] + [ch]
                break
            seen[ch] = i
        else:
            return t, labels


def _sum_out(t, labels, keep):
    drop = [i for i, ch in enumerate(labels) if ch not in keep]
    if drop:
        t = t.sum(dim=drop)
        labels = [ch for i, ch in enumerate(labels) if i not in drop]
    return t, labels


def _size_of(ch, pairs):
    sizes = [t.shape[ls.index(ch)] for t, ls in pairs if ch in ls]
    big = [s for s in sizes if s != 1]
    if len(set(big)) > 1:
        raise _core.ShapeError(f"einsum(): subscript {ch!r} has sizes {sizes} that cannot be broadcast")
    return big[0] if big else 1


def _contract(a, la, b, lb, keep):
    """`a` and `b` contracted over labels they share that `keep` does not need, as one matmul."""
    batch = [ch for ch in la if ch in lb and ch in keep]
    summed = [ch for ch in la if ch in lb and ch not in keep]
    left = [ch for ch in la if ch not in lb]
    right = [ch for ch in lb if ch not in la]
    pairs = [(a, la), (b, lb)]
    size = {ch: _size_of(ch, pairs) for ch in batch + summed}

    def arrange(t, ls, order):
        t = t.permute(*[ls.index(ch) for ch in order]) if order != ls else t
        target = [size.get(ch, t.shape[i]) for i, ch in enumerate(order)]
        return t.expand(*target) if list(t.shape) != target else t

    a2 = arrange(a, la, batch + left + summed)
    b2 = arrange(b, lb, batch + summed + right)
    nb, nl, ns, nr = (
        [size[ch] for ch in batch],
        list(a2.shape[len(batch):len(batch) + len(left)]),
        [size[ch] for ch in summed],
        list(b2.shape[len(batch) + len(summed):]),
    )
    out = a2.reshape(prod(nb), prod(nl), prod(ns)) @ b2.reshape(prod(nb), prod(ns), prod(nr))
    return out.reshape(*nb, *nl, *nr), batch + left + right


def einsum(equation, *operands):
    """Einstein summation, as `torch.einsum`: `einsum("ij,jk->ik", a, b)`, with `...` for
    broadcast dims, implicit output (labels appearing once, sorted) when `->` is omitted,
    repeated labels for diagonals. Operands are contracted pairwise, left to right, each pair
    as one batched matmul."""
    if len(operands) == 1 and isinstance(operands[0], (list, tuple)):
        operands = tuple(operands[0])
    if not operands:
        raise ValueError("einsum(): must provide at least one operand")
    parsed, out = _parse(equation, operands)
    tensors = []
    for t, ls in zip(operands, parsed):
        tensors.append(_take_diagonals(t, ls))
    # Labels needed later: the output and every operand not yet consumed.
    t, ls = tensors[0]
    for k in range(1, len(tensors) + 1):
        later = set(out)
        for _, l2 in tensors[k:]:
            later.update(l2)
        if k == len(tensors):
            t, ls = _sum_out(t, ls, later)
            break
        u, lu = tensors[k]
        later_after = set(out)
        for _, l2 in tensors[k + 1:]:
            later_after.update(l2)
        t, ls = _sum_out(t, ls, later_after | set(lu))
        u, lu = _sum_out(u, lu, later_after | set(ls))
        t, ls = _contract(t, ls, u, lu, later_after)
    if ls != out:
        t = t.permute(*[ls.index(ch) for ch in out])
    return t


def tensordot(a, b, dims=2):
    """Sums products over the last `dims` dims of `a` and the first `dims` of `b`, or over the
    dims listed in `dims = (dims_a, dims_b)`."""
    if isinstance(dims, int):
        if dims < 0:
            raise ValueError(f"tensordot expects dims >= 0, but got dims={dims}")
        da, db = list(range(a.ndim - dims, a.ndim)), list(range(dims))
    else:
        da, db = ([dims[0]] if isinstance(dims[0], int) else list(dims[0])), ([dims[1]] if isinstance(dims[1], int) else list(dims[1]))
    if len(da) != len(db):
        raise RuntimeError(f"both dimension lists should have same length, got {da} and {db}")
    da, db = [d % a.ndim for d in da], [d % b.ndim for d in db]
    for x, y in zip(da, db):
        if a.shape[x] != b.shape[y]:
            raise _core.ShapeError(f"contracted dimensions need to match, but first has size {a.shape[x]} in dim {x} and second has size {b.shape[y]} in dim {y}")
    free_a = [d for d in range(a.ndim) if d not in da]
    free_b = [d for d in range(b.ndim) if d not in db]
    k = prod(a.shape[d] for d in da)
    a2 = a.permute(*free_a, *da).reshape(prod(a.shape[d] for d in free_a), k)
    b2 = b.permute(*db, *free_b).reshape(k, prod(b.shape[d] for d in free_b))
    return (a2 @ b2).reshape(*[a.shape[d] for d in free_a], *[b.shape[d] for d in free_b])


def kron(a, b):
    """The Kronecker product: blocks `a[i, j] * b`, for tensors of any (padded) rank."""
    nd = max(a.ndim, b.ndim)
    a = a.reshape(*([1] * (nd - a.ndim)), *a.shape)
    b = b.reshape(*([1] * (nd - b.ndim)), *b.shape)
    ia = [s for d in a.shape for s in (d, 1)]
    ib = [s for d in b.shape for s in (1, d)]
    return (a.reshape(*ia) * b.reshape(*ib)).reshape(*[x * y for x, y in zip(a.shape, b.shape)])


def cdist(x1, x2, p=2.0, compute_mode=None):
    """Pairwise `p`-norm distances between the rows of `x1: [..., P, M]` and `x2: [..., R, M]`."""
    if x1.ndim < 2 or x2.ndim < 2:
        raise _core.ShapeError(f"cdist only supports at least 2D tensors, X1 got: {x1.ndim}D, X2 got: {x2.ndim}D")
    if x1.shape[-1] != x2.shape[-1]:
        raise _core.ShapeError(f"X1 and X2 must have the same number of columns. X1: {x1.shape[-1]} X2: {x2.shape[-1]}")
    if p < 0:
        raise ValueError(f"cdist only supports non-negative p values, got {p}")
    from backprop.linalg import vector_norm

    return vector_norm(x1.unsqueeze(-2) - x2.unsqueeze(-3), p, dim=-1)


def cross(input, other, dim=None):
    """The cross product along `dim` (the first dim of size 3 when None, as PyTorch)."""
    from backprop.linalg import cross as linalg_cross

    if dim is None:
        dim = next((d for d, n in enumerate(input.shape) if n == 3), None)
        if dim is None:
            raise _core.ShapeError(f"no dimension of size 3 in input of shape {tuple(input.shape)}")
    return linalg_cross(input, other, dim=dim)
