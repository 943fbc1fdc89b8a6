"""RMSprop (Hinton's lecture 6e), with PyTorch's centered and momentum variants."""

from backprop.optim._rule import RuleOptimizer, _check_non_negative
from backprop.optim.optimizer import _check_implementation_flags


class RMSprop(RuleOptimizer):
    """For each parameter (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                           (if weight_decay)
        v = alpha * v + (1 - alpha) * g^2
        m = lerp(m, g, 1 - alpha); v~ = v - m^2            (centered; else v~ = v)
        d = g / (sqrt(v~) + eps)
        b = momentum * b + d; p = p - lr * b               (momentum > 0; else p = p - lr * d)

    State per parameter: `step`, `square_avg`, and `grad_avg` (centered), `momentum_buffer`
    (momentum > 0). Each group's update is one fused engine call.
    """

    _rule = "rmsprop"

    def __init__(self, params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False,
                 capturable=False, foreach=None, maximize=False, differentiable=False) -> None:
        _check_non_negative(("learning rate", lr), ("epsilon value", eps), ("momentum value", momentum),
                            ("weight_decay value", weight_decay), ("alpha value", alpha))
        _check_implementation_flags("RMSprop", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, momentum=momentum, alpha=alpha, eps=eps, centered=centered, weight_decay=weight_decay,
                        capturable=capturable, foreach=foreach, maximize=maximize, differentiable=differentiable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        names = ["square_avg"]
        if group["centered"]:
            names.append("grad_avg")
        if group["momentum"] > 0:
            names.append("momentum_buffer")
        return names

    def _hyper(self, group):
        return dict(alpha=group["alpha"], eps=group["eps"], momentum=group["momentum"], centered=bool(group["centered"]),
                    weight_decay=group["weight_decay"])
