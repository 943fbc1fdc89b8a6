"""Activation checkpointing, PyTorch's `torch.utils.checkpoint`: trade compute for memory by not
keeping a segment's intermediates and recomputing them during backward."""

import backprop as bp
from backprop._core import Tensor
from backprop._grad_mode import enable_grad
from backprop.autograd.function import Function

__all__ = ["checkpoint", "checkpoint_sequential"]


def _random_seed():
    return int(bp.randint(0, 2**31 - 1, (1,)).item())


class _Checkpoint(Function):
    """Runs the segment under no_grad (nothing saved but the inputs); backward reruns it with
    grad on and backpropagates through the recomputed graph."""

    @staticmethod
    def forward(ctx, run, seed, n_inputs, *tensors_and_params):
        ctx.run = run
        ctx.seed = seed
        ctx.n_inputs = n_inputs
        ctx.save_for_backward(*tensors_and_params)
        if seed is not None:
            bp.manual_seed(seed)
        outputs = run(tensors_and_params[:n_inputs], tensors_and_params[n_inputs:])
        ctx.single = isinstance(outputs, Tensor)
        return outputs

    @staticmethod
    def backward(ctx, *grad_outputs):
        saved = ctx.saved_tensors
        copies = [t.detach().requires_grad_(t.requires_grad) if isinstance(t, Tensor) else t for t in saved]
        resume = None
        if ctx.seed is not None:
            resume = _random_seed()  # where the caller's random stream continues afterwards
            bp.manual_seed(ctx.seed)
        try:
            with enable_grad():
                outputs = ctx.run(tuple(copies[: ctx.n_inputs]), tuple(copies[ctx.n_inputs :]))
        finally:
            if resume is not None:
                bp.manual_seed(resume)
        outputs = (outputs,) if isinstance(outputs, Tensor) else tuple(outputs)
        pairs = [
            (o, g) for o, g in zip(outputs, grad_outputs) if isinstance(o, Tensor) and o.requires_grad and g is not None
        ]
        if pairs:
            # A backward (not autograd.grad): tensors the segment reads from its closure, not
            # passed as inputs, get their gradients accumulated into .grad, as in PyTorch.
            bp.autograd.backward([o for o, _ in pairs], [g for _, g in pairs])
        grads = [c.grad if isinstance(c, Tensor) and c.requires_grad else None for c in copies]
        return (None, None, None, *grads)


def _module_of(function):
    if isinstance(function, bp.nn.Module):
        return function
    owner = getattr(function, "__self__", None)
    return owner if isinstance(owner, bp.nn.Module) else None


def checkpoint(function, *args, use_reentrant=None, preserve_rng_state=True, context_fn=None,
               determinism_check="default", debug=False, **kwargs):
    """`checkpoint(function, *args)` returns `function(*args, **kwargs)` without keeping its
    intermediate results: backward runs `function` again (with grad on) and backpropagates
    through that recomputation, so memory for the segment's activations is traded for one more
    forward.

    Gradients reach the tensor arguments and, when `function` is an `nn.Module` (or a method of
    one), its parameters, by the ordinary graph: `autograd.grad` sees them. Other tensors that
    `function` reads from its closure get their gradients accumulated into `.grad` during
    backward (PyTorch's reentrant behaviour). Backward through a checkpoint is not itself
    differentiable (no double backward). With `preserve_rng_state=True` the forward and its
    recomputation see the same random numbers (same dropout masks): the segment runs from a
    seed drawn from the global generator, which is then moved on by a second draw, so the random
    stream after a checkpoint differs from an unchecked run's. `use_reentrant` is accepted for
    PyTorch compatibility; both values behave as described. `context_fn` and
    `determinism_check` other than their defaults are not supported (a clear error).
    """
    del use_reentrant, debug
    if context_fn is not None:
        raise NotImplementedError("checkpoint: context_fn is not supported (it needs saved-tensor hooks)")
    if determinism_check not in ("default", "none"):
        raise ValueError(f"checkpoint: determinism_check must be 'default' or 'none', got {determinism_check!r}")
    module = _module_of(function)
    names = []
    params = []
    if module is not None:
        for name, p in module.named_parameters():
            names.append(name)
            params.append(p)
    tensor_pos = [i for i, a in enumerate(args) if isinstance(a, Tensor)]

    def run(tensors, param_values):
        full = list(args)
        for i, t in zip(tensor_pos, tensors):
            full[i] = t
        if module is None or not names:
            return function(*full, **kwargs)
        from backprop.func import functional_call

        replaced = dict(zip(names, param_values))
        if module is function:
            return functional_call(module, replaced, tuple(full), kwargs)
        # A bound method: call it while the module holds the given parameters.
        return functional_call(_Call(function), {"owner." + k: v for k, v in replaced.items()}, tuple(full), kwargs)

    if not bp.is_grad_enabled():
        return function(*args, **kwargs)  # nothing to recompute: no graph is recorded
    seed = _random_seed() if preserve_rng_state else None
    return _Checkpoint.apply(run, seed, len(tensor_pos), *[args[i] for i in tensor_pos], *params)


class _Call(bp.nn.Module):
    """Wraps a bound method of a module so functional_call can swap the module's parameters."""

    def __init__(self, method):
        super().__init__()
        self.owner = method.__self__
        self.method = method

    def forward(self, *args, **kwargs):
        return self.method(*args, **kwargs)


def checkpoint_sequential(functions, segments, input, use_reentrant=None, **kwargs):
    """Runs `functions` (an `nn.Sequential` or a list of modules/functions) on `input` in
    `segments` chunks, checkpointing every chunk but the last (its activations are needed at
    once by backward anyway), as PyTorch does."""
    if isinstance(functions, bp.nn.Sequential):
        functions = list(functions.children())
    functions = list(functions)
    if not isinstance(segments, int) or segments < 1:
        raise ValueError(f"checkpoint_sequential: segments must be a positive int, got {segments!r}")
    size = max(len(functions) // segments, 1)
    end = -1
    for start in range(0, size * (segments - 1), size):
        end = start + size - 1
        if end >= len(functions) - 1:
            break
        chunk = bp.nn.Sequential(*functions[start : end + 1]) if all(
            isinstance(f, bp.nn.Module) for f in functions[start : end + 1]
        ) else _chain(functions[start : end + 1])
        input = checkpoint(chunk, input, use_reentrant=use_reentrant, **kwargs)
    for f in functions[end + 1 :]:
        input = f(input)
    return input


def _chain(fns):
    def run(x):
        for f in fns:
            x = f(x)
        return x

    return run
