"""Stochastic gradient descent with PyTorch's momentum, dampening, Nesterov and weight decay."""

from typing import Any, Callable

from backprop import _core
from backprop.optim.optimizer import Optimizer, _as_float, _check_implementation_flags


class SGD(Optimizer):
    """For each parameter (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                         (if weight_decay)
        b = g on the first step, else momentum * b + (1 - dampening) * g   (if momentum)
        g = g + momentum * b if nesterov else b          (if momentum)
        p = p - lr * g

    Each parameter group is updated by one fused engine call. `lr` may be a one-element
    tensor; `foreach` and `fused` are accepted (the update is always the one fused kernel).
    """

    def __init__(self, params, lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, *, maximize=False,
                 foreach=None, differentiable=False, fused=None) -> None:
        _check_implementation_flags("SGD", foreach=foreach, fused=fused, differentiable=differentiable)
        if _as_float(lr) < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay, nesterov=nesterov,
                        maximize=maximize, foreach=foreach, differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns `closure()` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            params = [p for p in group["params"] if p.grad is not None]
            if not params:
                continue
            momentum = group["momentum"]
            buffers = [self.state[p].get("momentum_buffer") for p in params] if momentum != 0 else [None] * len(params)
            buffers = _core.sgd_step(
                params,
                buffers,
                lr=_as_float(group["lr"]),
                momentum=momentum,
                dampening=group["dampening"],
                weight_decay=group["weight_decay"],
                nesterov=group["nesterov"],
                maximize=group["maximize"],
            )
            if momentum != 0:
                for p, b in zip(params, buffers):
                    self.state[p]["momentum_buffer"] = b
        return loss
