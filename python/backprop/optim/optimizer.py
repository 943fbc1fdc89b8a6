"""`Optimizer`: parameter groups, per-parameter state, `zero_grad`, state dicts (PyTorch's
layout and keys, so a PyTorch optimizer's state loads) and step / state-dict hooks.

Subclasses implement `step` as one fused engine call per parameter group; the Python here
only gathers which parameters have gradients and their state. `step` is wrapped once per
class (as PyTorch does) so the pre- and post-step hooks run around it.
"""

from typing import Any, Callable

import copy
import functools
from collections import OrderedDict, defaultdict
from itertools import chain

from backprop import _core
from backprop._core import Tensor
from backprop.nn.module import RemovableHandle

_global_step_pre_hooks = OrderedDict()
_global_step_post_hooks = OrderedDict()

# One-element state that stays a CPU float tensor whatever the parameter's device (PyTorch's
# non-capturable layout): the fused steps read it on the host to work out each step's scalars.
_SCALAR_STATE = ("step", "mu_product", "eta", "mu")


def register_optimizer_step_pre_hook(hook):
    """Registers `hook(optimizer, args, kwargs)` to run before every optimizer's `step`; it may
    return `(new_args, new_kwargs)`. Returns a handle whose `remove()` unregisters it."""
    handle = RemovableHandle(_global_step_pre_hooks)
    _global_step_pre_hooks[handle.id] = hook
    return handle


def register_optimizer_step_post_hook(hook):
    """Registers `hook(optimizer, args, kwargs)` to run after every optimizer's `step`."""
    handle = RemovableHandle(_global_step_post_hooks)
    _global_step_post_hooks[handle.id] = hook
    return handle


def _with_step_hooks(step):
    @functools.wraps(step)
    def hooked_step(self, *args, **kwargs):
        self._follow_moves()
        for hook in chain(_global_step_pre_hooks.values(), self._optimizer_step_pre_hooks.values()):
            result = hook(self, args, kwargs)
            if result is not None:
                if not (isinstance(result, tuple) and len(result) == 2):
                    raise RuntimeError(f"{hook} must return None or a tuple of (new_args, new_kwargs), but got {result}.")
                args, kwargs = result
        out = step(self, *args, **kwargs)
        for hook in chain(self._optimizer_step_post_hooks.values(), _global_step_post_hooks.values()):
            hook(self, args, kwargs)
        return out

    hooked_step._step_hooks = True
    return hooked_step


def _check_implementation_flags(name, foreach=None, fused=None, differentiable=False):
    """PyTorch's `foreach` and `fused` choose among implementations of one rule; backprop has
    one, already fused (one engine call per parameter group), so both are accepted and change
    nothing. `differentiable=True` asks for an update autograd can see through, which the
    in-place fused update is not: refused rather than silently ignored."""
    if fused and foreach:
        raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
    if differentiable:
        raise NotImplementedError(
            f"{name}(differentiable=True): backprop's optimizer updates are fused in-place engine calls outside "
            "autograd, so gradients cannot flow through a step; write the update with tensor operations to "
            "differentiate through it"
        )


def _moved_state(value, param):
    """An optimizer state entry moved next to `param` after `Module.to()` moved it: tensors
    (alone or in a list, as LBFGS keeps its history) go to its device, floating ones to its
    dtype; the scalar step counters stay on the CPU, as PyTorch keeps them."""
    if isinstance(value, (list, tuple)):
        return type(value)(_moved_state(v, param) for v in value)
    if not isinstance(value, Tensor) or (value.dim() == 0 and value.device.type == "cpu"):
        return value
    dtype = param.dtype if value.is_floating_point() else value.dtype
    if value.device == param.device and value.dtype == dtype:
        return value
    return value.detach().to(device=param.device, dtype=dtype)


def _as_float(value):
    """A hyperparameter as a Python float (learning rates may be one-element tensors)."""
    return value.item() if isinstance(value, Tensor) else float(value)


class Optimizer:
    """Base class: `Optimizer(params, defaults)` where `params` is an iterable of tensors or
    of dicts (parameter groups with their own hyperparameters)."""

    def __init__(self, params, defaults) -> None:
        self.defaults = defaults
        self.state = defaultdict(dict)
        self.param_groups = []
        self._seen_data_moves = _core._data_moves()
        self._optimizer_step_pre_hooks = OrderedDict()
        self._optimizer_step_post_hooks = OrderedDict()
        self._optimizer_state_dict_pre_hooks = OrderedDict()
        self._optimizer_state_dict_post_hooks = OrderedDict()
        self._optimizer_load_state_dict_pre_hooks = OrderedDict()
        self._optimizer_load_state_dict_post_hooks = OrderedDict()
        cls = type(self)
        if not getattr(cls.step, "_step_hooks", False):
            cls.step = _with_step_hooks(cls.step)
        if isinstance(params, Tensor):
            raise TypeError(
                f"params argument given to the optimizer should be an iterable of Tensors or dicts, but got {type(params).__name__}"
            )
        groups = list(params)
        if not groups:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(groups[0], dict):
            groups = [{"params": groups}]
        for group in groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Adds a group of parameters (a dict with "params" and optional hyperparameters)."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, got {type(param_group).__name__}")
        group = dict(param_group)
        params = group["params"]
        group["params"] = [params] if isinstance(params, Tensor) else list(params)
        for p in group["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor (it was computed from other tensors); optimize its leaves")
        for name, default in self.defaults.items():
            group.setdefault(name, default)
        seen = {id(p) for g in self.param_groups for p in g["params"]}
        if len({id(p) for p in group["params"]}) != len(group["params"]):
            raise ValueError("a parameter group contains the same parameter more than once")
        if any(id(p) in seen for p in group["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(group)

    # ---- hooks ------------------------------------------------------------------------

    def _register(self, hooks, hook, prepend=False):
        handle = RemovableHandle(hooks)
        hooks[handle.id] = hook
        if prepend:
            hooks.move_to_end(handle.id, last=False)
        return handle

    def register_step_pre_hook(self, hook):
        """Registers `hook(optimizer, args, kwargs)` to run before this optimizer's `step`; it may
        return `(new_args, new_kwargs)` to replace step's arguments. Returns a removable handle."""
        return self._register(self._optimizer_step_pre_hooks, hook)

    def register_step_post_hook(self, hook):
        """Registers `hook(optimizer, args, kwargs)` to run after this optimizer's `step`."""
        return self._register(self._optimizer_step_post_hooks, hook)

    def register_state_dict_pre_hook(self, hook, prepend=False):
        """`hook(optimizer)` runs before `state_dict()` builds its result."""
        return self._register(self._optimizer_state_dict_pre_hooks, hook, prepend)

    def register_state_dict_post_hook(self, hook, prepend=False):
        """`hook(optimizer, state_dict)` runs on the result of `state_dict()`; it may return a
        replacement."""
        return self._register(self._optimizer_state_dict_post_hooks, hook, prepend)

    def register_load_state_dict_pre_hook(self, hook, prepend=False):
        """`hook(optimizer, state_dict)` runs before `load_state_dict`; it may return a
        replacement state dict."""
        return self._register(self._optimizer_load_state_dict_pre_hooks, hook, prepend)

    def register_load_state_dict_post_hook(self, hook, prepend=False):
        """`hook(optimizer)` runs after `load_state_dict`."""
        return self._register(self._optimizer_load_state_dict_post_hooks, hook, prepend)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Drops every parameter's gradient (or zeroes it in place with `set_to_none=False`)."""
        for group in self.param_groups:
            for p in group["params"]:
                if set_to_none:
                    p.grad = None
                elif p.grad is not None:
                    g = p.grad
                    if g.grad_fn is not None:
                        g = g.detach()
                        p.grad = g
                    g.zero_()

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Performs one update of every parameter that has a gradient; subclasses implement it.

        Args:
            closure: a function that re-evaluates the model and returns the loss (needed by LBFGS).

        Returns:
            The closure's loss, or None.
        """
        raise NotImplementedError(f"{type(self).__name__} does not implement step()")

    def _follow_moves(self):
        """Moves each parameter's state next to it after `Module.to()` (or `p.data = ...`)
        changed its device or dtype, so an optimizer created before `model.to(device)` keeps
        working. Free when nothing moved since the last step: the engine counts such moves."""
        moves = _core._data_moves()
        if moves == self._seen_data_moves:
            return
        self._seen_data_moves = moves
        for group in self.param_groups:
            for p in group["params"]:
                state = self.state.get(p)
                if state:
                    for name, value in state.items():
                        state[name] = _moved_state(value, p)

    def _closure_loss(self, closure):
        if closure is None:
            return None
        from backprop._grad_mode import enable_grad

        with enable_grad():
            return closure()

    # ---- state dicts --------------------------------------------------------------------

    def state_dict(self) -> dict[str, Any]:
        """`{"state": {index: {...}}, "param_groups": [{..., "params": [indices]}]}` with
        parameters numbered in group order, like PyTorch's (state tensors are shared, not copied)."""
        for hook in self._optimizer_state_dict_pre_hooks.values():
            hook(self)
        index = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            for p in group["params"]:
                index.setdefault(id(p), len(index))
            packed["params"] = [index[id(p)] for p in group["params"]]
            groups.append(packed)
        state = {index[id(p)]: s for p, s in self.state.items() if id(p) in index}
        result = {"state": state, "param_groups": groups}
        for hook in self._optimizer_state_dict_post_hooks.values():
            replaced = hook(self, result)
            if replaced is not None:
                result = replaced
        return result

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restores hyperparameters and state saved by `state_dict` (for the same parameters,
        in the same order). State tensors are copied onto each parameter's device and dtype;
        a state dict saved by PyTorch (its tensors converted to backprop tensors, as `bp.load`
        does) loads too: the keys are PyTorch's."""
        for hook in self._optimizer_load_state_dict_pre_hooks.values():
            replaced = hook(self, state_dict)
            if replaced is not None:
                state_dict = replaced
        saved_groups = state_dict["param_groups"]
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"loaded state dict has {len(saved_groups)} parameter groups, but the optimizer has {len(self.param_groups)}"
            )
        for i, (mine, saved) in enumerate(zip(self.param_groups, saved_groups)):
            if len(mine["params"]) != len(saved["params"]):
                raise ValueError(
                    f"loaded state dict contains a parameter group ({i}) of {len(saved['params'])} parameters that doesn't "
                    f"match the size of the optimizer's group ({len(mine['params'])})"
                )
        by_index = {}
        for mine, saved in zip(self.param_groups, saved_groups):
            by_index.update(zip(saved["params"], mine["params"]))
        new_state = defaultdict(dict)
        for key, values in state_dict["state"].items():
            key = int(key)
            if key not in by_index:
                raise ValueError(f"loaded state dict has state for parameter {key}, which is in no parameter group")
            p = by_index[key]
            new_state[p] = {name: self._cast_state(p, name, v) for name, v in values.items()}
        for mine, saved in zip(self.param_groups, saved_groups):
            for k, v in saved.items():
                if k != "params":
                    mine[k] = copy.deepcopy(v)
        self.state = new_state
        for hook in self._optimizer_load_state_dict_post_hooks.values():
            hook(self)

    @staticmethod
    def _cast_state(param, name, value):
        if not isinstance(value, Tensor):
            if name in _SCALAR_STATE and isinstance(value, (int, float)):
                from backprop._core import tensor

                return tensor(float(value))
            return copy.deepcopy(value)
        if name in _SCALAR_STATE and value.numel() == 1:
            value = value.detach().cpu()
            return (value if value.is_floating_point() else value.float()).clone().reshape(())
        if tuple(value.shape) != tuple(param.shape):
            raise ValueError(
                f"loaded optimizer state '{name}' has shape {list(value.shape)}, but its parameter has shape {list(param.shape)}"
            )
        dtype = param.dtype if value.is_floating_point() else None
        return value.detach().to(device=param.device, dtype=dtype).clone()

    def __repr__(self):
        lines = [type(self).__name__ + " ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)
