"""Module backward hooks (`register_full_backward_hook` / `_pre_hook`), PyTorch's way: the
module's tensor inputs and outputs pass through identity functions whose backwards see the
gradients with respect to all outputs and all inputs at once."""

from backprop._core import Tensor, is_grad_enabled
from backprop.autograd import Function


def _tensor_positions(values):
    return [i for i, v in enumerate(values) if isinstance(v, Tensor)]


class _Identity(Function):
    """Passes tensors through unchanged; its backward hands the gradients to `on_backward`."""

    @staticmethod
    def forward(ctx, on_backward, *tensors):
        ctx.on_backward = on_backward
        ctx.set_materialize_grads(False)
        out = tuple(t.view_as(t) for t in tensors)
        return out if len(out) != 1 else out[0]

    @staticmethod
    def backward(ctx, *grads):
        return (None,) + tuple(ctx.on_backward(grads))


class BackwardHook:
    """One module call's hook state: the output gradients, kept until the input gradients
    arrive."""

    def __init__(self, module) -> None:
        self.module = module
        self.grad_output = None
        self.n_inputs = 0
        self.input_wrapped = False

    def _wrap(self, values, on_backward):
        positions = _tensor_positions(values)
        if not positions or not is_grad_enabled() or not any(values[i].requires_grad for i in positions):
            return values, False
        out = _Identity.apply(on_backward, *[values[i] for i in positions])
        out = out if isinstance(out, tuple) else (out,)
        values = list(values)
        for i, t in zip(positions, out):
            values[i] = t
        return values, True

    def setup_input(self, args):
        self.n_inputs = len(_tensor_positions(args))
        wrapped, self.input_wrapped = self._wrap(args, self._input_backward)
        return tuple(wrapped)

    def setup_output(self, output):
        single = isinstance(output, Tensor)
        values = [output] if single else list(output) if isinstance(output, (tuple, list)) else None
        if values is None:
            return output
        wrapped, _ = self._wrap(values, self._output_backward)
        if single:
            return wrapped[0]
        return type(output)(wrapped) if isinstance(output, tuple) else list(wrapped)

    def _output_backward(self, grads):
        grads = tuple(grads)
        for hook in list(self.module._backward_pre_hooks.values()):
            result = hook(self.module, grads)
            if result is not None:
                grads = _checked(result, len(grads), "backward pre hook", "grad_output")
        self.grad_output = grads
        if not self.input_wrapped:
            # No input needs a gradient: the hooks run now, with grad_input all None.
            self._run_hooks((None,) * self.n_inputs)
        return grads

    def _input_backward(self, grads):
        return self._run_hooks(tuple(grads))

    def _run_hooks(self, grad_input):
        for hook in list(self.module._backward_hooks.values()):
            result = hook(self.module, grad_input, self.grad_output)
            if result is not None:
                grad_input = _checked(result, len(grad_input), "backward hook", "grad_input")
        return grad_input


def _checked(result, n, kind, what):
    result = tuple(result) if isinstance(result, (tuple, list)) else (result,)
    if len(result) != n:
        raise RuntimeError(f"{kind} returned an invalid number of {what} (got {len(result)}, but expected {n})")
    return result
