"""NAdam: Adam with Nesterov momentum (Dozat, 2016), with PyTorch's momentum decay and the
optional decoupled weight decay of NAdamW."""

from backprop import _core
from backprop.optim._rule import RuleOptimizer, _check_betas, _check_non_negative
from backprop.optim.optimizer import _check_implementation_flags


class NAdam(RuleOptimizer):
    """For each parameter at its step t (with `g` its gradient, negated when `maximize`):

        p = p * (1 - lr * weight_decay)    (decoupled_weight_decay; else g = g + weight_decay * p)
        mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)), likewise mu_{t+1}
        mu_product = mu_product * mu_t
        m = lerp(m, g, 1 - beta1);  v = beta2 * v + (1 - beta2) * g^2
        denom = sqrt(v / (1 - beta2^t)) + eps
        p = p - lr * (1 - mu_t) / (1 - mu_product) * g / denom
              - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom

    State per parameter: `step`, `mu_product`, `exp_avg`, `exp_avg_sq`. Each group's update is
    one fused engine call.
    """

    _rule = "nadam"
    _scalars = ("step", "mu_product")

    def __init__(self, params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3,
                 decoupled_weight_decay=False, *, foreach=None, maximize=False, capturable=False, differentiable=False) -> None:
        _check_non_negative(("learning rate", lr), ("epsilon value", eps), ("weight_decay value", weight_decay),
                            ("momentum_decay value", momentum_decay))
        _check_betas(betas)
        _check_implementation_flags("NAdam", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay, momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize, foreach=foreach,
                        capturable=capturable, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        return ["exp_avg", "exp_avg_sq"]

    def _new_state(self, p, group):
        return {"step": _core.tensor(0.0), "mu_product": _core.tensor(1.0), "exp_avg": _core.zeros_like(p),
                "exp_avg_sq": _core.zeros_like(p)}

    def _hyper(self, group):
        beta1, beta2 = group["betas"]
        return dict(beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                    momentum_decay=group["momentum_decay"], decoupled_weight_decay=bool(group["decoupled_weight_decay"]))
