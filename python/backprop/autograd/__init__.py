"""Autograd: custom Functions, `grad`, gradient checking and functional transforms."""

from backprop import _core
from backprop._core import FunctionCtx
from backprop._grad_mode import enable_grad, no_grad, set_grad_enabled
from backprop.autograd import forward_ad, functional, graph
from backprop.autograd.anomaly_mode import (
    detect_anomaly,
    is_anomaly_check_nan_enabled,
    is_anomaly_enabled,
    set_detect_anomaly,
)
from backprop.autograd.function import Function, once_differentiable
from backprop.autograd.gradcheck import GradcheckError, gradcheck, gradgradcheck


def grad(
    outputs,
    inputs,
    grad_outputs=None,
    retain_graph=None,
    create_graph=False,
    allow_unused=None,
    is_grads_batched=False,
    materialize_grads=False,
):
    """Gradients of `outputs` with respect to `inputs`, returned rather than accumulated.

    `materialize_grads=True` returns zeros (not None) for inputs the outputs do not depend on;
    it implies `allow_unused=True` (passing `allow_unused=False` with it is a ValueError, as in
    PyTorch). `is_grads_batched=True` reads the first dimension of every grad_output as a batch
    of vectors and returns a batch of vjps; the engine's backward is not batchable from Python,
    so this runs one backward per batch entry (over a retained graph) and stacks the results.
    """
    from backprop import Tensor, stack, zeros_like

    if materialize_grads:
        if allow_unused is False:
            raise ValueError(
                "autograd.grad: expected allow_unused to be True or not passed when materialize_grads=True, "
                "but got: allow_unused=False"
            )
        allow_unused = True
    allow_unused = bool(allow_unused)
    single_input = isinstance(inputs, Tensor)
    input_list = [inputs] if single_input else list(inputs)
    if not is_grads_batched:
        grads = _core.grad(outputs, input_list, grad_outputs, retain_graph, create_graph, allow_unused)
    else:
        output_list = [outputs] if isinstance(outputs, Tensor) else list(outputs)
        if grad_outputs is None:
            raise ValueError("autograd.grad: is_grads_batched=True needs grad_outputs (a batch of vectors per output)")
        batched = [grad_outputs] if isinstance(grad_outputs, Tensor) else list(grad_outputs)
        if len(batched) != len(output_list):
            raise ValueError(
                f"autograd.grad: got {len(batched)} grad_outputs for {len(output_list)} outputs"
            )
        sizes = set()
        for i, (g, o) in enumerate(zip(batched, output_list)):
            if g.dim() != o.dim() + 1 or tuple(g.shape[1:]) != tuple(o.shape):
                raise RuntimeError(
                    "autograd.grad: if is_grads_batched=True, the first dimension of each grad_output is the "
                    f"batch dimension and the rest must match the output, but grad_output[{i}] has shape "
                    f"{tuple(g.shape)} and output[{i}] has shape {tuple(o.shape)}"
                )
            sizes.add(g.shape[0])
        if len(sizes) != 1:
            raise RuntimeError(f"autograd.grad: is_grads_batched=True needs one batch size, got {sorted(sizes)}")
        (n,) = sizes
        per_entry = []
        for b in range(n):
            keep = True if b < n - 1 else retain_graph
            per_entry.append(
                _core.grad(output_list, input_list, [g[b] for g in batched], keep, create_graph, allow_unused)
            )
        if n == 0:
            grads = tuple(zeros_like(x).unsqueeze(0)[:0] for x in input_list)
        else:
            grads = tuple(
                None if any(e[k] is None for e in per_entry) else stack([e[k] for e in per_entry])
                for k in range(len(input_list))
            )
    if materialize_grads:
        grads = tuple(zeros_like(x) if g is None else g for g, x in zip(grads, input_list))
    return tuple(grads)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph=False, inputs=None):
    """`autograd.backward(tensors, grad_tensors)`: backward from several outputs at once."""
    from backprop import Tensor

    if isinstance(tensors, Tensor):
        tensors = [tensors]
        grad_tensors = [grad_tensors] if grad_tensors is not None else None
    tensors = list(tensors)
    grad_tensors = list(grad_tensors) if grad_tensors is not None else [None] * len(tensors)
    if len(tensors) == 1:
        tensors[0].backward(grad_tensors[0], retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)
        return
    # Several roots: one pass over a sum of <output, gradient> products.
    from backprop import ones_like

    total = None
    for t, g in zip(tensors, grad_tensors):
        g = ones_like(t) if g is None else g
        term = (t * g).sum()
        total = term if total is None else total + term
    total.backward(retain_graph=retain_graph, create_graph=create_graph, inputs=inputs)


__all__ = [
    "Function",
    "FunctionCtx",
    "GradcheckError",
    "backward",
    "detect_anomaly",
    "enable_grad",
    "forward_ad",
    "functional",
    "grad",
    "gradcheck",
    "gradgradcheck",
    "graph",
    "is_anomaly_check_nan_enabled",
    "is_anomaly_enabled",
    "no_grad",
    "once_differentiable",
    "set_detect_anomaly",
    "set_grad_enabled",
]
