"""Adadelta (Zeiler, 2012)."""

from backprop.optim._rule import RuleOptimizer, _check_non_negative
from backprop.optim.optimizer import _check_implementation_flags


class Adadelta(RuleOptimizer):
    """For each parameter (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                          (if weight_decay)
        v = rho * v + (1 - rho) * g^2
        d = sqrt(u + eps) / sqrt(v + eps) * g
        u = rho * u + (1 - rho) * d^2
        p = p - lr * d

    State per parameter: `step`, `square_avg` (v), `acc_delta` (u). Each group's update is
    one fused engine call.
    """

    _rule = "adadelta"

    def __init__(self, params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, foreach=None, *, capturable=False,
                 maximize=False, differentiable=False) -> None:
        _check_non_negative(("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay))
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_implementation_flags("Adadelta", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize, capturable=capturable,
                        foreach=foreach, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        return ["square_avg", "acc_delta"]

    def _hyper(self, group):
        return dict(rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"])
