"""check_gradients: a function of tensors against a NumPy forward, a NumPy vjp, and float64
central differences, on each device asked for; optionally the second derivative too."""

from collections.abc import Mapping

import numpy as np

import backprop as bp
from backprop.testing._comparison import _describe, _mismatches, default_tolerances

GRAD_RTOL, GRAD_ATOL = 1e-3, 1e-5
_MAX_BLOCK = 6  # rows and columns of a Jacobian shown in an error


class GradientCheckError(AssertionError):
    """A gradient check failed; the message says which check, on which device and dtype, for
    which input, and shows the values that differ and the inputs that produced them."""


# ---------------------------------------------------------------------------------------
# Inputs: what is differentiated, what is a constant, what is passed through unchanged.


class _Input:
    __slots__ = ("kind", "value", "dtype", "strided")

    def __init__(self, kind, value, dtype=None, strided=False) -> None:
        self.kind = kind  # "diff" (float array differentiated), "const" (array), "other"
        self.value = value  # float64 array for "diff"; array for "const"; the object for "other"
        self.dtype = dtype  # the constant's dtype name, None for floats (they follow the run)
        self.strided = strided


def _classify(x):
    if isinstance(x, bp.Tensor):
        a = x.detach().cpu().numpy()
        strided = not x.is_contiguous()
        if x.requires_grad:
            return _Input("diff", a.astype(np.float64), strided=strided)
        return _Input("const", a, None if x.is_floating_point() else x.dtype.name, strided)
    if isinstance(x, np.ndarray):
        if x.dtype.kind == "f":
            return _Input("diff", x.astype(np.float64))
        return _Input("const", x, x.dtype.name)
    return _Input("other", x)


def _strided(a, dtype, device):
    """`a` as a non-contiguous tensor: the odd elements of a buffer twice as long."""
    if a.ndim == 0 or a.size < 2:
        return bp.tensor(a, dtype=dtype, device=device)
    big = np.zeros((*a.shape[:-1], 2 * a.shape[-1]), dtype=a.dtype)
    big[..., 1::2] = a
    return bp.tensor(big, dtype=dtype, device=device)[..., 1::2]


def _materialise(inputs, arrays, device, dtype, requires_grad):
    """The arguments for `fn`: differentiated arrays (`arrays`, in input order) as tensors of
    `dtype` on `device`, constants on `device` (floats in `dtype`), the rest unchanged."""
    args, diff = [], []
    it = iter(arrays)
    for inp in inputs:
        if inp.kind == "other":
            args.append(inp.value)
            continue
        a = next(it) if inp.kind == "diff" else inp.value
        dt = dtype if inp.dtype is None else getattr(bp, inp.dtype)
        t = _strided(a, dt, device) if inp.strided else bp.tensor(a, dtype=dt, device=device)
        if inp.kind == "diff" and requires_grad:
            t.requires_grad_(True)
            diff.append(t)
        args.append(t)
    return args, diff


def _outputs(result, what):
    outs = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    for i, o in enumerate(outs):
        if not isinstance(o, bp.Tensor):
            raise TypeError(f"check_gradients: {what} must return a tensor or a tuple of tensors; output {i} is {type(o).__name__}")
    return outs


def _np64(t):
    return t.detach().cpu().numpy().astype(np.float64)


# ---------------------------------------------------------------------------------------
# Tolerances: a number, or a mapping from dtype (name or object) to number.


def _tol(value, dtype_name, default):
    if isinstance(value, Mapping):
        for k, v in value.items():
            if (k if isinstance(k, str) else k.name) == dtype_name:
                return v
        return default
    return default if value is None else value


def _device_dtypes(device, dtypes):
    holds = ["float64", "float32"] if str(device) == "cpu" else ["float32"]
    if dtypes is None:
        return holds[:1]
    names = [d if isinstance(d, str) else d.name for d in dtypes]
    return [n for n in names if n in holds]


# ---------------------------------------------------------------------------------------
# The check.


def check_gradients(
    fn,
    *inputs,
    numpy_fn=None,
    numpy_vjp=None,
    eps=1e-6,
    atol=GRAD_ATOL,
    rtol=GRAD_RTOL,
    order=1,
    devices=("cpu",),
    dtypes=None,
    forward_rtol=None,
    forward_atol=None,
    upstream=None,
    seed=0,
):
    """Checks `fn` (a function of tensors returning a tensor or a tuple of tensors) at
    `inputs`, on every device in `devices`:

    (a) the forward pass against ``numpy_fn(*arrays)`` (when given; a tuple for several
        outputs);
    (b) autograd's vector-Jacobian product against ``numpy_vjp(grad_output, *arrays)`` (when
        given; it returns one gradient per input, None for an input that is not
        differentiated, and may return it in the output's broadcast shape: it is summed
        down to the input's shape);
    (c) autograd's vector-Jacobian product against float64 central differences of `fn`
        (step `eps`) on the CPU;
    and with ``order=2`` also (c) for the first derivative itself: the vjp of a vjp
    computed with ``create_graph=True`` against central differences of the first vjp.

    Inputs: tensors with ``requires_grad=True`` and NumPy float arrays are differentiated;
    other tensors and arrays are constants; anything else (numbers, None, strings) is passed
    to `fn` unchanged. A non-contiguous input stays non-contiguous on every device.

    Each device runs in each of `dtypes` it can hold (default: float64 on the CPU, float32
    on the GPU, which has no float64). Gradients are compared with
    ``|autograd - reference| <= atol + rtol * |reference|``; forward values with
    `forward_rtol`/`forward_atol` (default: assert_close's tolerances for the dtype). Any
    tolerance may be a number or a mapping from dtype to number, e.g. ``{"float32": 1e-4}``;
    dtypes it does not name keep the default. `upstream` (the output gradient; one array
    per output) defaults to standard-normal draws from `seed`.

    Raises GradientCheckError naming the failing check, device, dtype and input; for (c) it
    shows the blocks of the analytic and numeric Jacobians that differ, the worst element,
    and the inputs. Raises ValueError when nothing is differentiable.
    """
    if order not in (1, 2):
        raise ValueError(f"check_gradients: order must be 1 or 2, got {order}")
    if isinstance(devices, str):
        devices = (devices,)
    specs = [_classify(x) for x in inputs]
    if not any(s.kind == "diff" for s in specs):
        raise ValueError(
            "check_gradients: no input to differentiate; pass tensors with requires_grad=True or NumPy float arrays"
        )
    opts = dict(eps=eps, atol=atol, rtol=rtol, devices=tuple(devices), dtypes=dtypes, fwd=(forward_rtol, forward_atol))
    up = _check_level(fn, specs, upstream, seed, opts, numpy_fn, numpy_vjp, grad_inside=False, what="fn")
    if order == 2:

        def first_derivative(*args):
            outs = _outputs(fn(*args), "fn")
            xs = [a for a, s in zip(args, specs) if s.kind == "diff"]
            pairs = [(o, bp.tensor(u, dtype=o.dtype, device=o.device)) for o, u in zip(outs, up) if o.requires_grad]
            if not pairs:
                return tuple(bp.zeros_like(x) for x in xs)
            grads = bp.autograd.grad([o for o, _ in pairs], xs, [u for _, u in pairs], create_graph=True, allow_unused=True)
            return tuple(bp.zeros_like(x) if g is None else g for x, g in zip(xs, grads))

        _check_level(first_derivative, specs, None, seed + 1, opts, None, None, grad_inside=True, what="the first derivative")


def _check_level(fn, specs, upstream, seed, opts, numpy_fn, numpy_vjp, grad_inside, what):
    base = [s.value for s in specs if s.kind == "diff"]
    np_args = [s.value for s in specs]
    numeric = expected = reference_vjp = None  # the references, computed once when first needed
    up = None
    for device in opts["devices"]:
        for dtype_name in _device_dtypes_or_error(device, opts["dtypes"]):
            dtype = getattr(bp, dtype_name)
            args, xs = _materialise(specs, base, device, dtype, requires_grad=True)
            outs = _outputs(fn(*args), what)
            if up is None:
                up = _upstream(upstream, outs, seed)
            ctx = _Context(what, device, dtype_name, specs)
            if numpy_fn is not None:
                expected = numpy_fn(*np_args) if expected is None else expected
                _check_forward(outs, expected, opts, ctx)
            grads = _vjp(outs, xs, up, ctx)
            if numpy_vjp is not None:
                if reference_vjp is None:
                    reference_vjp = numpy_vjp(up[0] if len(up) == 1 else tuple(up), *np_args)
                _check_numpy_vjp(grads, reference_vjp, specs, opts, ctx)
            if numeric is None:
                numeric = _numeric_jacobians(fn, specs, base, opts["eps"], grad_inside, what)
            _check_numeric(fn, grads, numeric, up, specs, base, device, dtype, opts, ctx)
    return up


class _Context:
    def __init__(self, what, device, dtype, specs) -> None:
        self.what, self.device, self.dtype, self.specs = what, device, dtype, specs

    def where(self):
        return f"{'' if self.what == 'fn' else self.what + ' of '}fn on {self.device} in {self.dtype}"

    def inputs(self):
        lines = ["Inputs:"]
        with np.printoptions(precision=8, threshold=60, linewidth=100):
            for i, s in enumerate(self.specs):
                role = {"diff": "differentiated", "const": "constant", "other": "passed through"}[s.kind]
                v = s.value
                if isinstance(v, np.ndarray):
                    body = np.array2string(v, separator=", ").replace("\n", "\n" + " " * 4)
                    text = f"shape {v.shape}\n    {body}"
                else:
                    text = repr(v)
                lines.append(f"  input {i} ({role}{', non-contiguous' if s.strided else ''}): {text}")
        return "\n".join(lines)


def _upstream(upstream, outs, seed):
    if upstream is None:
        rng = np.random.default_rng(seed)
        return [rng.standard_normal(tuple(o.shape)) for o in outs]
    ups = list(upstream) if isinstance(upstream, (tuple, list)) else [upstream]
    ups = [np.asarray(u.detach().cpu().numpy() if isinstance(u, bp.Tensor) else u, dtype=np.float64) for u in ups]
    for i, (u, o) in enumerate(zip(ups, outs)):
        if u.shape != tuple(o.shape):
            raise ValueError(f"check_gradients: upstream {i} has shape {u.shape} but output {i} has shape {tuple(o.shape)}")
    return ups


def _check_forward(outs, expected, opts, ctx):
    exp = expected if isinstance(expected, tuple) else (expected,)  # a tuple: one per output
    if len(exp) != len(outs):
        raise GradientCheckError(f"{ctx.where()}: {len(outs)} outputs but numpy_fn returned {len(exp)}")
    rtol_d, atol_d = default_tolerances(ctx.dtype)
    rtol = _tol(opts["fwd"][0], ctx.dtype, rtol_d)
    atol = _tol(opts["fwd"][1], ctx.dtype, atol_d)
    for k, (o, e) in enumerate(zip(outs, exp)):
        got = _np64(o)
        want = np.asarray(e.detach().cpu().numpy() if isinstance(e, bp.Tensor) else e, dtype=np.float64)
        if got.shape != want.shape:
            raise GradientCheckError(
                f"forward of {ctx.where()}: output {k} has shape {got.shape} but numpy_fn gives {want.shape}\n{ctx.inputs()}"
            )
        bad = _mismatches(got, want, rtol, atol, equal_nan=True)
        if bad.any():
            raise GradientCheckError(
                f"forward of {ctx.where()}: output {k} differs from numpy_fn\n"
                f"{_describe(got, want, bad, rtol, atol)}\n{ctx.inputs()}"
            )


def _vjp(outs, xs, up, ctx):
    pairs = [(o, bp.tensor(u, dtype=o.dtype, device=o.device)) for o, u in zip(outs, up) if o.requires_grad]
    if not pairs:
        return [np.zeros(tuple(x.shape)) for x in xs]
    grads = bp.autograd.grad([o for o, _ in pairs], xs, [u for _, u in pairs], retain_graph=True, allow_unused=True)
    result = []
    for i, (x, g) in enumerate(zip(xs, grads)):
        if g is None:
            result.append(np.zeros(tuple(x.shape)))
            continue
        if tuple(g.shape) != tuple(x.shape):
            raise GradientCheckError(
                f"{ctx.where()}: the gradient of differentiated input {i} has shape {tuple(g.shape)}, "
                f"but the input has shape {tuple(x.shape)}\n{ctx.inputs()}"
            )
        result.append(_np64(g))
    return result


def _sum_to(g, shape):
    if g.shape == shape:
        return g
    if np.broadcast_shapes(g.shape, shape) != g.shape:
        raise ValueError(f"numpy_vjp returned a gradient of shape {g.shape} for an input of shape {shape}")
    g = g.sum(axis=tuple(range(g.ndim - len(shape)))) if g.ndim > len(shape) else g
    dims = tuple(i for i, d in enumerate(shape) if d == 1 and g.shape[i] != 1)
    return g.sum(axis=dims, keepdims=True) if dims else g


def _check_numpy_vjp(grads, reference, specs, opts, ctx):
    ref = list(reference) if isinstance(reference, (tuple, list)) else [reference]
    diff_pos = [i for i, s in enumerate(specs) if s.kind == "diff"]
    if len(ref) == len(specs):
        ref = [ref[i] for i in diff_pos]
    elif len(ref) != len(diff_pos):
        raise ValueError(
            f"check_gradients: numpy_vjp returned {len(ref)} gradients; give one per input ({len(specs)}) "
            f"or one per differentiated input ({len(diff_pos)})"
        )
    rtol, atol = _tol(opts["rtol"], ctx.dtype, GRAD_RTOL), _tol(opts["atol"], ctx.dtype, GRAD_ATOL)
    for k, (g, r, pos) in enumerate(zip(grads, ref, diff_pos)):
        if r is None:
            continue
        want = _sum_to(np.asarray(r, dtype=np.float64), g.shape)
        bad = _mismatches(g, want, rtol, atol, equal_nan=True)
        if bad.any():
            raise GradientCheckError(
                f"vjp of {ctx.where()}: the gradient of input {pos} (shape {g.shape}) differs from numpy_vjp\n"
                f"{_describe(g, want, bad, rtol, atol)}\n{ctx.inputs()}"
            )


def _evaluate64(fn, specs, arrays, grad_inside, what):
    """`fn` at float64 `arrays` on the CPU, its outputs flattened into one float64 vector."""
    if grad_inside:  # fn differentiates inside: its inputs must require grad
        args, _ = _materialise(specs, arrays, "cpu", bp.float64, requires_grad=True)
        outs = _outputs(fn(*args), what)
    else:
        with bp.no_grad():
            args, _ = _materialise(specs, arrays, "cpu", bp.float64, requires_grad=False)
            outs = _outputs(fn(*args), what)
    return np.concatenate([_np64(o).ravel() for o in outs]) if outs else np.zeros(0)


def _numeric_jacobians(fn, specs, base, eps, grad_inside, what):
    """Per differentiated input, d(outputs)/d(input) by central differences in float64, as
    an (outputs, input elements) array; plus the outputs at `base`."""
    f0 = _evaluate64(fn, specs, base, grad_inside, what)
    jacobians = []
    for i, a in enumerate(base):
        cols = []
        for j in range(a.size):
            shifted = [b.copy() for b in base]
            flat = shifted[i].reshape(-1)
            flat[j] = a.flat[j] + eps
            plus = _evaluate64(fn, specs, shifted, grad_inside, what)
            flat[j] = a.flat[j] - eps
            minus = _evaluate64(fn, specs, shifted, grad_inside, what)
            cols.append((plus - minus) / (2 * eps))
        jacobians.append(np.stack(cols, axis=1) if cols else np.zeros((f0.size, 0)))
    return f0, jacobians


def _check_numeric(fn, grads, numeric, up, specs, base, device, dtype, opts, ctx):
    f0, jacobians = numeric
    u = np.concatenate([x.ravel() for x in up]) if up else np.zeros(0)
    rtol, atol = _tol(opts["rtol"], ctx.dtype, GRAD_RTOL), _tol(opts["atol"], ctx.dtype, GRAD_ATOL)
    # Central differences of each output lose about |f| * 1e-16 / eps to rounding.
    atol_vjp = max(atol, 1e-15 / opts["eps"] * float(np.abs(f0 * u).sum()))
    diff_pos = [i for i, s in enumerate(specs) if s.kind == "diff"]
    failures = []  # every input whose gradient differs, so one run shows them all
    for k, (g, jac, pos) in enumerate(zip(grads, jacobians, diff_pos)):
        want = (u @ jac).reshape(g.shape) if jac.size else np.zeros(g.shape)
        bad = _mismatches(g, want, rtol, atol_vjp, equal_nan=False)
        if bad.any():
            analytic = _analytic_jacobian(fn, specs, base, device, dtype, k, len(u), ctx)
            failures.append(
                f"{ctx.where()}: the gradient of input {pos} (shape {g.shape}) differs from float64 central differences "
                f"(eps={opts['eps']}, atol={atol:g}, rtol={rtol:g})\n"
                f"vjp for the upstream gradient used:\n{_describe(g, want, bad, rtol, atol_vjp)}\n"
                f"{_jacobian_block(analytic, jac, g.shape, up, rtol, atol)}"
            )
    if failures:
        raise GradientCheckError("\n\n".join(failures) + f"\n{ctx.inputs()}")


def _device_dtypes_or_error(device, dtypes):
    names = _device_dtypes(device, dtypes)
    if not names:
        raise ValueError(f"check_gradients: none of dtypes={list(dtypes)} can run on {device} (it holds float32 only)")
    return names


def _analytic_jacobian(fn, specs, base, device, dtype, k, n_out, ctx):
    """d(outputs)/d(differentiated input k) from autograd, one output element at a time."""
    args, xs = _materialise(specs, base, device, dtype, requires_grad=True)
    outs = _outputs(fn(*args), ctx.what)
    jac = np.zeros((n_out, int(np.prod(xs[k].shape, dtype=np.int64))))
    row = 0
    for o in outs:
        n = o.numel()
        if not o.requires_grad:
            row += n
            continue
        for e in range(n):
            seed = np.zeros(n)
            seed[e] = 1.0
            (g,) = bp.autograd.grad([o], [xs[k]], [bp.tensor(seed.reshape(tuple(o.shape)), dtype=o.dtype, device=o.device)], retain_graph=True, allow_unused=True)
            if g is not None:
                jac[row] = _np64(g).ravel()
            row += 1
    return jac


def _jacobian_block(analytic, numeric, in_shape, up, rtol, atol):
    out_shapes = [u.shape for u in up]
    bad = ~(np.abs(analytic - numeric) <= atol + rtol * np.abs(numeric))
    if not bad.any():
        return "The Jacobians agree element by element; only their product with the upstream gradient differs (rounding)."
    err = np.where(bad, np.abs(analytic - numeric), 0.0)
    r0, c0 = np.unravel_index(int(np.argmax(err)), err.shape)
    rows = [r0] + [r for r in np.flatnonzero(bad.any(axis=1)) if r != r0][: _MAX_BLOCK - 1]
    cols = [c0] + [c for c in np.flatnonzero(bad.any(axis=0)) if c != c0][: _MAX_BLOCK - 1]
    rows, cols = sorted(rows), sorted(cols)
    n_rows, n_cols = int(bad.any(axis=1).sum()), int(bad.any(axis=0).sum())

    def out_label(r):
        for i, s in enumerate(out_shapes):
            n = int(np.prod(s, dtype=np.int64))
            if r < n:
                idx = tuple(int(v) for v in np.unravel_index(r, s)) if s else ()
                return f"out{i}{list(idx)}" if len(out_shapes) > 1 else f"out{list(idx)}"
            r -= n
        return f"out#{r}"

    def in_label(c):
        return f"in{[int(v) for v in np.unravel_index(c, in_shape)]}" if in_shape else "in[]"

    def table(m):
        head = [""] + [in_label(c) for c in cols]
        body = [[out_label(r)] + [f"{m[r, c]:.6g}" for c in cols] for r in rows]
        widths = [max(len(line[j]) for line in [head] + body) for j in range(len(head))]
        return "\n".join("    " + "  ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in [head] + body)

    worst = (
        f"Worst element: d {out_label(r0)} / d {in_label(c0)}: autograd {analytic[r0, c0]:.6g}, "
        f"central differences {numeric[r0, c0]:.6g}"
    )
    return (
        f"Jacobian d(output)/d(input): {int(bad.sum())} of {bad.size} elements differ "
        f"({n_rows} output rows, {n_cols} input columns; up to {_MAX_BLOCK} of each shown)\n{worst}\n"
        f"  analytic (autograd):\n{table(analytic)}\n  numeric (central differences):\n{table(numeric)}"
    )
