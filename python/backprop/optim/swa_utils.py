"""Weight averaging with PyTorch's names: stochastic weight averaging (SWA, Izmailov et al.,
2018) and exponential moving averages (EMA) of a model's parameters.

    swa_model = AveragedModel(model)                                   # running mean
    ema_model = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.999))
    ...
    swa_model.update_parameters(model)                                 # after optimizer.step()
    update_bn(train_loader, swa_model)                                 # BatchNorm statistics
"""

from typing import Any

import copy
import itertools
import math

from backprop import _core
from backprop._grad_mode import no_grad
from backprop.nn.module import Module
from backprop.optim.lr_scheduler import LRScheduler, _format_param

__all__ = ["AveragedModel", "SWALR", "get_ema_avg_fn", "get_ema_multi_avg_fn", "get_swa_avg_fn", "get_swa_multi_avg_fn", "update_bn"]


def _lerp_(target, end, weight):
    """`target.lerp_(end, weight)` with torch.lerp's two formulas (each exact at its end)."""
    if abs(weight) < 0.5:
        target.add_((end - target) * weight)
    else:
        target.copy_(end - (end - target) * (1 - weight))


def _check_decay(decay):
    if decay < 0.0 or decay > 1.0:
        raise ValueError(f"Invalid decay value {decay} provided. Please provide a value in [0,1] range.")


def get_ema_multi_avg_fn(decay=0.999):
    """An `AveragedModel(multi_avg_fn=...)` update: `ema = lerp(ema, current, 1 - decay)` for
    every tensor, in place."""
    _check_decay(decay)

    def ema_update(ema_param_list, current_param_list, _num_averaged):
        with no_grad():
            for p_ema, p_model in zip(ema_param_list, current_param_list):
                if p_ema.is_floating_point():
                    _lerp_(p_ema, p_model, 1 - decay)
                else:
                    p_ema.copy_(p_ema * decay + p_model * (1 - decay))

    return ema_update


def get_swa_multi_avg_fn():
    """An `AveragedModel(multi_avg_fn=...)` update: the running mean of every tensor, in place."""

    def swa_update(averaged_param_list, current_param_list, num_averaged):
        n = num_averaged.item() if isinstance(num_averaged, _core.Tensor) else num_averaged
        with no_grad():
            for p_avg, p_model in zip(averaged_param_list, current_param_list):
                if p_avg.is_floating_point():
                    _lerp_(p_avg, p_model, 1 / (n + 1))
                else:
                    p_avg.add_((p_model - p_avg) * (1.0 / (n + 1)))

    return swa_update


def get_ema_avg_fn(decay=0.999):
    """An `AveragedModel(avg_fn=...)` update for one tensor: `decay * ema + (1 - decay) * current`."""
    _check_decay(decay)

    def ema_update(ema_param, current_param, num_averaged):
        with no_grad():
            return ema_param * decay + current_param * (1 - decay)

    return ema_update


def get_swa_avg_fn():
    """An `AveragedModel(avg_fn=...)` update for one tensor: the running mean."""

    def swa_update(averaged_param, current_param, num_averaged):
        n = num_averaged.item() if isinstance(num_averaged, _core.Tensor) else num_averaged
        with no_grad():
            return averaged_param + (current_param - averaged_param) / (n + 1)

    return swa_update


class AveragedModel(Module):
    """A copy of `model` whose parameters are an average of `model`'s over the calls to
    `update_parameters(model)`: the running mean by default (SWA), or what `avg_fn(avg, cur,
    n)` returns per tensor, or what `multi_avg_fn(avgs, curs, n)` does to all in place (EMA:
    `get_ema_multi_avg_fn`). Buffers are copied from `model`, or averaged too with
    `use_buffers=True`. `n_averaged` counts the updates."""

    def __init__(self, model, device=None, avg_fn=None, multi_avg_fn=None, use_buffers=False) -> None:
        super().__init__()
        if avg_fn is not None and multi_avg_fn is not None:
            raise ValueError("AveragedModel: pass only one of avg_fn and multi_avg_fn")
        self.module = copy.deepcopy(model)
        if device is not None:
            self.module = self.module.to(device)
        self.register_buffer("n_averaged", _core.tensor(0, dtype=_core.int64))
        self.avg_fn = avg_fn
        self.multi_avg_fn = multi_avg_fn
        self.use_buffers = use_buffers

    def forward(self, *args, **kwargs):
        return self.module(*args, **kwargs)

    def _tensors(self, model):
        return itertools.chain(model.parameters(), model.buffers()) if self.use_buffers else model.parameters()

    def update_parameters(self, model):
        """Folds `model`'s current parameters (and buffers, with `use_buffers`) into the average."""
        mine = [p.detach() for p in self._tensors(self.module)]
        theirs = [p.detach().to(a.device) for a, p in zip(mine, self._tensors(model))]
        n = int(self.n_averaged.item())
        with no_grad():
            if n == 0:
                for a, p in zip(mine, theirs):
                    a.copy_(p)
            elif self.avg_fn is not None:
                for a, p in zip(mine, theirs):
                    a.copy_(self.avg_fn(a, p, self.n_averaged))
            else:
                (self.multi_avg_fn or get_swa_multi_avg_fn())(mine, theirs, self.n_averaged)
            if not self.use_buffers:
                for b_avg, b_model in zip(self.module.buffers(), model.buffers()):
                    b_avg.detach().copy_(b_model.detach().to(b_avg.device))
            self.n_averaged.add_(1)


def update_bn(loader, model, device=None):
    """Recomputes the running statistics of every batch-norm layer of `model` with one pass
    over `loader` (batches, or tuples whose first element is the input), as a cumulative
    average (momentum None); a model without batch norm is left as it was."""
    momenta = {}
    for module in model.modules():
        if hasattr(module, "running_mean") and hasattr(module, "reset_running_stats"):
            module.reset_running_stats()
            momenta[module] = module.momentum
    if not momenta:
        return
    was_training = model.training
    model.train()
    for module in momenta:
        module.momentum = None
    with no_grad():
        for batch in loader:
            if isinstance(batch, (list, tuple)):
                batch = batch[0]
            if device is not None:
                batch = batch.to(device)
            model(batch)
    for module, momentum in momenta.items():
        module.momentum = momentum
    model.train(was_training)


class SWALR(LRScheduler):
    """Anneals each group's learning rate to `swa_lr` over `anneal_epochs` epochs (cosine or
    linear), then holds it: the schedule of the SWA phase."""

    def __init__(self, optimizer, swa_lr, anneal_epochs=10, anneal_strategy="cos", last_epoch=-1) -> None:
        for lr, group in zip(_format_param("swa_lr", optimizer, swa_lr), optimizer.param_groups):
            group["swa_lr"] = lr
        if anneal_strategy not in ["cos", "linear"]:
            raise ValueError(f"anneal_strategy must be one of 'cos' or 'linear', instead got {anneal_strategy}")
        self._set_anneal_func(anneal_strategy)
        if not isinstance(anneal_epochs, int) or anneal_epochs < 0:
            raise ValueError(f"anneal_epochs must be equal or greater than 0, got {anneal_epochs}")
        self.anneal_epochs = anneal_epochs
        super().__init__(optimizer, last_epoch)

    @staticmethod
    def _linear_anneal(t):
        return t

    @staticmethod
    def _cosine_anneal(t):
        return (1 - math.cos(math.pi * t)) / 2

    @staticmethod
    def _get_initial_lr(lr, swa_lr, alpha):
        if alpha == 1:
            return swa_lr
        return (lr - alpha * swa_lr) / (1 - alpha)

    def _set_anneal_func(self, strategy):
        self._anneal_strategy = strategy
        self.anneal_func = self._cosine_anneal if strategy == "cos" else self._linear_anneal

    def get_lr(self) -> list[float]:
        self._warn_if_outside_step()
        step = self._step_count - 1
        if self.anneal_epochs == 0:
            step = max(1, step)
        prev_alpha = self.anneal_func(max(0, min(1, (step - 1) / max(1, self.anneal_epochs))))
        prev_lrs = [self._get_initial_lr(g["lr"], g["swa_lr"], prev_alpha) for g in self.optimizer.param_groups]
        alpha = self.anneal_func(max(0, min(1, step / max(1, self.anneal_epochs))))
        return [g["swa_lr"] * alpha + lr * (1 - alpha) for g, lr in zip(self.optimizer.param_groups, prev_lrs)]

    def state_dict(self) -> dict[str, Any]:
        """The scheduler's state, without the optimizer and the annealing function (rebuilt on load)."""
        return {k: v for k, v in self.__dict__.items() if k not in ("optimizer", "anneal_func")}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores the scheduler from a `state_dict()`."""
        self.__dict__.update(state_dict)
        self._set_anneal_func(self._anneal_strategy)
