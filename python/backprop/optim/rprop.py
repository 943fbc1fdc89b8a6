"""Resilient backpropagation (Riedmiller & Braun, 1993), PyTorch's `Rprop`."""

from backprop import _core
from backprop.optim._rule import RuleOptimizer, _check_non_negative
from backprop.optim.optimizer import _as_float, _check_implementation_flags


class Rprop(RuleOptimizer):
    """Each weight has its own step size, grown while its gradient keeps its sign and shrunk
    when the sign flips (with `g` its gradient, negated when `maximize`):

        factor = eta_plus if g * prev > 0, eta_minus if g * prev < 0, else 1
        step_size = clamp(step_size * factor, *step_sizes)
        g = 0 where factor == eta_minus                   (after a flip: no move this step)
        p = p - sign(g) * step_size;  prev = g

    State per parameter: `step`, `prev`, `step_size` (starting at `lr`). Each group's update is
    one fused engine call.
    """

    _rule = "rprop"

    def __init__(self, params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, capturable=False, foreach=None,
                 maximize=False, differentiable=False) -> None:
        _check_non_negative(("learning rate", lr))
        if not 0.0 < etas[0] < 1.0 < etas[1]:
            raise ValueError(f"Invalid eta values: {etas[0]}, {etas[1]}")
        _check_implementation_flags("Rprop", foreach=foreach, differentiable=differentiable)
        defaults = dict(lr=lr, etas=tuple(etas), step_sizes=tuple(step_sizes), foreach=foreach, maximize=maximize,
                        differentiable=differentiable, capturable=capturable)
        super().__init__(params, defaults)

    def _state_names(self, group):
        return ["prev", "step_size"]

    def _new_state(self, p, group):
        return {"step": _core.tensor(0.0), "prev": _core.zeros_like(p),
                "step_size": _core.full_like(p, _as_float(group["lr"]))}

    def _hyper(self, group):
        (eta_minus, eta_plus), (step_min, step_max) = group["etas"], group["step_sizes"]
        return dict(eta_minus=eta_minus, eta_plus=eta_plus, step_min=step_min, step_max=step_max)
