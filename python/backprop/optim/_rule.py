"""The base of the optimizers whose update is one fused engine rule (`_core.rule_step`):
RMSprop, Adagrad, Adadelta, Adamax, NAdam, RAdam, ASGD and Rprop.

A subclass names its rule, the state tensors it keeps per parameter (PyTorch's keys, in the
order the engine takes them) and how they start; `step` gathers the parameters that have a
gradient and makes one engine call per group.
"""

from typing import Any, Callable

from backprop import _core
from backprop.optim.optimizer import Optimizer, _as_float


def _check_non_negative(*labelled):
    """PyTorch's argument checks: `("learning rate", lr)` -> "Invalid learning rate: -1"."""
    for label, value in labelled:
        if not 0.0 <= _as_float(value):
            raise ValueError(f"Invalid {label}: {value}")


def _check_betas(betas):
    for i, beta in enumerate(betas):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {i}: {beta}")


class RuleOptimizer(Optimizer):
    _rule = ""  # the engine's name for the rule
    _scalars = ("step",)  # one-element CPU float state the engine advances

    def _state_names(self, group):
        """The state tensors of one parameter, in the engine's order."""
        raise NotImplementedError

    def _new_state(self, p, group):
        """Every state entry of a parameter before its first step (tensors and scalars)."""
        return {"step": _core.tensor(0.0), **{k: _core.zeros_like(p) for k in self._state_names(group)}}

    def _hyper(self, group):
        """The group's hyperparameters as the engine names them (see `_core.rule_step`)."""
        raise NotImplementedError

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Updates every parameter that has a gradient; returns `closure()` if given."""
        loss = self._closure_loss(closure)
        for group in self.param_groups:
            names = self._state_names(group)
            params, states, scalars = [], [], []
            for p in group["params"]:
                if p.grad is None:
                    continue
                s = self.state[p]
                if any(k not in s for k in (*names, *self._scalars)):
                    for k, v in self._new_state(p, group).items():
                        s.setdefault(k, v)
                params.append(p)
                states.append([s[k] for k in names])
                scalars.append([s[k] for k in self._scalars])
            if params:
                hyper = self._hyper(group)
                hyper.update(lr=_as_float(group["lr"]), maximize=bool(group["maximize"]))
                _core.rule_step(self._rule, params, states, scalars, hyper)
        return loss
