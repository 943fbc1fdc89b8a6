"""Adam and AdamW with PyTorch's update rules (including AMSGrad and `maximize`)."""

from typing import Any, Callable

from backprop import _core
from backprop.optim.optimizer import Optimizer, _as_float, _check_implementation_flags


class Adam(Optimizer):
    """For each parameter, at its step t (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                      (L2 penalty; AdamW decays p instead)
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g^2
        v_max = max(v_max, v)                         (amsgrad; then v_max replaces v below)
        p = p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)

    Each parameter group is updated by one fused engine call (one pass over memory per
    parameter). State per parameter: `step`, `exp_avg`, `exp_avg_sq` (and `max_exp_avg_sq`).
    `decoupled_weight_decay=True` is AdamW. `lr` may be a one-element tensor; `foreach`,
    `fused` and `capturable` are accepted (the update is always the one fused kernel).
    """

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False, *, foreach=None,
                 maximize=False, capturable=False, differentiable=False, fused=None, decoupled_weight_decay=False) -> None:
        _check_implementation_flags(type(self).__name__, foreach=foreach, fused=fused, differentiable=differentiable)
        if isinstance(lr, _core.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        lr_value = _as_float(lr)
        if lr_value < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if eps < 0.0:
            raise ValueError(f"Invalid epsilon value: {eps}")
        betas = tuple(_as_float(b) for b in betas)
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize,
                        foreach=foreach, capturable=capturable, differentiable=differentiable, fused=fused,
                        decoupled_weight_decay=decoupled_weight_decay)
        super().__init__(params, defaults)

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns `closure()` if given."""
        loss = self._closure_loss(closure)
        state = self.state
        for group in self.param_groups:
            amsgrad = group["amsgrad"]
            params, exp_avgs, exp_avg_sqs, max_sqs, steps = [], [], [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                s = state[p]
                if not s:
                    s["step"] = _core.tensor(0.0)
                    s["exp_avg"] = _core.zeros_like(p)
                    s["exp_avg_sq"] = _core.zeros_like(p)
                    if amsgrad:
                        s["max_exp_avg_sq"] = _core.zeros_like(p)
                elif amsgrad and "max_exp_avg_sq" not in s:
                    s["max_exp_avg_sq"] = _core.zeros_like(p)
                params.append(p)
                exp_avgs.append(s["exp_avg"])
                exp_avg_sqs.append(s["exp_avg_sq"])
                steps.append(s["step"])
                if amsgrad:
                    max_sqs.append(s["max_exp_avg_sq"])
            if not params:
                continue
            beta1, beta2 = (_as_float(b) for b in group["betas"])
            _core.adam_step(
                params,
                exp_avgs,
                exp_avg_sqs,
                max_sqs if amsgrad else None,
                steps,
                lr=_as_float(group["lr"]),
                beta1=beta1,
                beta2=beta2,
                eps=group["eps"],
                weight_decay=group["weight_decay"],
                amsgrad=amsgrad,
                maximize=group["maximize"],
                decoupled_weight_decay=bool(group.get("decoupled_weight_decay", False)),
            )
        return loss


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter): each step first shrinks the
    parameter, `p = p * (1 - lr * weight_decay)`, instead of adding an L2 term to the gradient."""

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False,
                 foreach=None, capturable=False, differentiable=False, fused=None) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, foreach=foreach,
                         maximize=maximize, capturable=capturable, differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)
