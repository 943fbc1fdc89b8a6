"""Adagrad (Duchi et al., 2011) with PyTorch's learning-rate decay and initial accumulator."""

from backprop import _core
from backprop.optim._rule import RuleOptimizer, _check_non_negative
from backprop.optim.optimizer import _as_float, _check_implementation_flags


class Adagrad(RuleOptimizer):
    """For each parameter at its step t (with `g` its gradient, negated when `maximize`):

        g = g + weight_decay * p                     (if weight_decay)
        clr = lr / (1 + (t - 1) * lr_decay)
        s = s + g^2
        p = p - clr * g / (sqrt(s) + eps)

    State per parameter (made at construction, as PyTorch does): `step`, `sum` (starting at
    `initial_accumulator_value`). Each group's update is one fused engine call.
    """

    _rule = "adagrad"

    def __init__(self, params, lr=1e-2, lr_decay=0, weight_decay=0, initial_accumulator_value=0, eps=1e-10,
                 foreach=None, *, maximize=False, differentiable=False, fused=None) -> None:
        _check_non_negative(("learning rate", lr), ("lr_decay value", lr_decay), ("weight_decay value", weight_decay),
                            ("initial_accumulator_value value", initial_accumulator_value), ("epsilon value", eps))
        _check_implementation_flags("Adagrad", foreach=foreach, fused=fused, differentiable=differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, foreach=foreach, maximize=maximize,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(self._new_state(p, group))

    def _state_names(self, group):
        return ["sum"]

    def _new_state(self, p, group):
        return {"step": _core.tensor(0.0), "sum": _core.full_like(p, _as_float(group["initial_accumulator_value"]))}

    def _hyper(self, group):
        return dict(lr_decay=group["lr_decay"], eps=group["eps"], weight_decay=group["weight_decay"])
