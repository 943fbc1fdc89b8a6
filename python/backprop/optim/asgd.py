"""Averaged stochastic gradient descent (Polyak & Juditsky, 1992), PyTorch's `ASGD`."""

from backprop import _core
from backprop.optim._rule import RuleOptimizer, _check_non_negative
from backprop.optim.optimizer import _as_float, _check_implementation_flags


class ASGD(RuleOptimizer):
    """For each parameter at its step t (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                          (if weight_decay)
        p = p * (1 - lambd * eta) - eta * g
        ax = ax + mu * (p - ax)                           (ax = p while mu == 1)
        eta = lr / (1 + lambd * lr * t)^alpha;  mu = 1 / max(1, t - t0)

    `ax` is the running average of the iterates (averaging starts after step `t0`). State per
    parameter: `step`, `eta`, `mu`, `ax`. Each group's update is one fused engine call.
    """

    _rule = "asgd"
    _scalars = ("step", "eta", "mu")

    def __init__(self, params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, foreach=None, maximize=False,
                 differentiable=False, capturable=False) -> None:
        _check_non_negative(("learning rate", lr), ("weight_decay value", weight_decay))
        _check_implementation_flags("ASGD", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay, foreach=foreach,
                        maximize=maximize, differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        return ["ax"]

    def _new_state(self, p, group):
        return {"step": _core.tensor(0.0), "eta": _core.tensor(_as_float(group["lr"])), "mu": _core.tensor(1.0),
                "ax": _core.zeros_like(p)}

    def _hyper(self, group):
        return dict(lambd=group["lambd"], alpha=group["alpha"], t0=group["t0"], weight_decay=group["weight_decay"])
