"""RAdam: Adam with the variance of its adaptive rate rectified (Liu et al., 2019), with the
optional decoupled weight decay of RAdamW."""

from backprop.optim._rule import RuleOptimizer, _check_betas, _check_non_negative
from backprop.optim.optimizer import _check_implementation_flags


class RAdam(RuleOptimizer):
    """For each parameter at its step t (with `g` its gradient, negated when `maximize`):

        p = p * (1 - lr * weight_decay)    (decoupled_weight_decay; else g = g + weight_decay * p)
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g^2
        rho_inf = 2 / (1 - beta2) - 1;  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
        if rho_t > 5:
            r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
            p = p - m / (1 - beta1^t) * lr * sqrt(1 - beta2^t) / (sqrt(v) + eps) * r
        else:
            p = p - m / (1 - beta1^t) * lr

    State per parameter: `step`, `exp_avg`, `exp_avg_sq`. Each group's update is one fused
    engine call.
    """

    _rule = "radam"

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *,
                 foreach=None, maximize=False, capturable=False, differentiable=False) -> None:
        _check_non_negative(("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay))
        _check_betas(betas)
        _check_implementation_flags("RAdam", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, decoupled_weight_decay=decoupled_weight_decay,
                        differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        return ["exp_avg", "exp_avg_sq"]

    def _hyper(self, group):
        beta1, beta2 = group["betas"]
        return dict(beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                    decoupled_weight_decay=bool(group["decoupled_weight_decay"]))
