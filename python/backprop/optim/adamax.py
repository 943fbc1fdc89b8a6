"""Adamax, the infinity-norm variant of Adam (Kingma & Ba, 2014, section 7)."""

from backprop.optim._rule import RuleOptimizer, _check_betas, _check_non_negative
from backprop.optim.optimizer import _check_implementation_flags


class Adamax(RuleOptimizer):
    """For each parameter at its step t (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                          (if weight_decay)
        m = lerp(m, g, 1 - beta1)
        u = maximum(beta2 * u, |g| + eps)
        p = p - lr / (1 - beta1^t) * m / u

    State per parameter: `step`, `exp_avg` (m), `exp_inf` (u). Each group's update is one
    fused engine call.
    """

    _rule = "adamax"

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, foreach=None, *, maximize=False,
                 differentiable=False, capturable=False) -> None:
        _check_non_negative(("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay))
        _check_betas(betas)
        _check_implementation_flags("Adamax", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        return ["exp_avg", "exp_inf"]

    def _hyper(self, group):
        beta1, beta2 = group["betas"]
        return dict(beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"])
