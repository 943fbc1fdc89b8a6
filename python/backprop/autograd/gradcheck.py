"""Gradient checking: analytical vjps against float64 central differences."""

import backprop as bp
from backprop._grad_mode import no_grad


class GradcheckError(RuntimeError):
    """The analytical and numerical Jacobians differ (the message shows both)."""


def _as_tuple(x):
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def _outputs(fn, inputs):
    return tuple(o for o in _as_tuple(fn(*inputs)) if isinstance(o, bp.Tensor))


def _check_inputs(inputs):
    import numpy as np

    diff = []
    for i, x in enumerate(inputs):
        if not isinstance(x, bp.Tensor) or not x.requires_grad:
            continue
        if x.dtype != bp.float64:
            raise ValueError(
                f"gradcheck: input {i} requires grad but is {x.dtype.name}; central differences need "
                f"float64 inputs (pass x.double())"
            )
        if not np.all(np.isfinite(x.detach().cpu().numpy())):
            raise ValueError(f"gradcheck: input {i} holds NaN or inf values; gradients there are undefined")
        diff.append(i)
    if not diff:
        raise ValueError("gradcheck: no input requires grad; call .requires_grad_() on the inputs to check")
    return diff


def numerical_jacobian(fn, inputs, eps=1e-6):
    """d(outputs)/d(inputs) by central differences: one (n_in, n_out) array per input."""
    import numpy as np

    inputs = _as_tuple(inputs)
    out = []
    for i in _check_inputs(inputs):
        x = inputs[i]
        flat = x.detach()  # shares memory: perturbations are seen by fn
        view = flat.reshape(-1) if flat.is_contiguous() else None
        if view is None:
            raise ValueError(f"gradcheck: input {i} must be contiguous")
        cols = []
        for j in range(x.numel()):
            # fn runs with grad mode as the caller has it (it may use autograd itself).
            orig = view[j].item()
            with no_grad():
                view[j] = orig + eps
            plus = [o.detach().cpu().numpy().astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            with no_grad():
                view[j] = orig - eps
            minus = [o.detach().cpu().numpy().astype(np.float64).ravel() for o in _outputs(fn, inputs)]
            with no_grad():
                view[j] = orig
            cols.append(np.concatenate([(p - m) / (2 * eps) for p, m in zip(plus, minus)]))
        out.append(np.stack(cols) if cols else np.zeros((0, 0)))
    return out


def analytical_jacobian(fn, inputs):
    """d(outputs)/d(inputs) from the vjps, one output element at a time."""
    import numpy as np

    inputs = _as_tuple(inputs)
    diff = _check_inputs(inputs)
    outs = _outputs(fn, inputs)
    n_out = sum(o.numel() for o in outs)
    jac = [np.zeros((inputs[i].numel(), n_out)) for i in diff]
    col = 0
    for o in outs:
        if not o.requires_grad:
            col += o.numel()
            continue
        for k in range(o.numel()):
            seed = bp.zeros(o.numel(), dtype=o.dtype, device=o.device)
            seed[k] = 1.0
            grads = bp.autograd.grad(o, [inputs[i] for i in diff], seed.reshape(o.shape), retain_graph=True, allow_unused=True)
            for r, g in enumerate(grads):
                if g is not None:
                    jac[r][:, col] = g.detach().cpu().numpy().astype(np.float64).ravel()
            col += 1
    return jac


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """True if `fn`'s analytical gradients match float64 central differences at `inputs`;
    otherwise raises `GradcheckError` showing both Jacobians (or returns False)."""
    import numpy as np

    inputs = _as_tuple(inputs)
    numerical = numerical_jacobian(fn, inputs, eps)
    analytical = analytical_jacobian(fn, inputs)
    for idx, (a, n) in enumerate(zip(analytical, numerical)):
        if a.shape != n.shape or not np.allclose(a, n, rtol=rtol, atol=atol):
            if not raise_exception:
                return False
            bad = np.argwhere(~np.isclose(a, n, rtol=rtol, atol=atol))
            where = ", ".join(f"(input elem {r}, output elem {c})" for r, c in bad[:5])
            with np.printoptions(precision=6, suppress=True, threshold=200):
                raise GradcheckError(
                    f"Jacobian mismatch for input {idx} at {where}{' ...' if len(bad) > 5 else ''}\n"
                    f"numerical:\n{n}\nanalytical:\n{a}\n"
                    f"max abs difference: {np.max(np.abs(a - n)):.3g} (atol={atol}, rtol={rtol})"
                )
    return True


def gradgradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True):
    """gradcheck of the first derivative (sum of gradients), checking second derivatives."""
    inputs = _as_tuple(inputs)

    def first(*xs):
        outs = _outputs(fn, xs)
        total = sum((o * o).sum() for o in outs) if len(outs) > 1 else outs[0].sum()
        diff = [x for x in xs if isinstance(x, bp.Tensor) and x.requires_grad]
        return bp.autograd.grad(total, diff, create_graph=True, allow_unused=False)

    return gradcheck(first, inputs, eps, atol, rtol, raise_exception)
