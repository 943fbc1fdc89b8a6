"""`Module`: the base class of layers and models, with PyTorch's contract.

Assigning a `Parameter`, a `Module` or (through `register_buffer`) a tensor to an attribute
registers it. Registered objects are also kept in the instance `__dict__`, so `self.fc1` in a
`forward` is a plain attribute read, not a `__getattr__` fallback.
"""

from __future__ import annotations

from collections import OrderedDict, namedtuple
from typing import Any, Callable, Iterator, Mapping, Self

from backprop._core import Tensor
from backprop._grad_mode import no_grad
from backprop.nn.parameter import Parameter

_IncompatibleKeys = namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])


class RemovableHandle:
    """Removes the hook it was returned for (`handle.remove()`, or as a context manager)."""

    _next_id = 0

    def __init__(self, hooks) -> None:
        self._hooks = hooks
        self.id = RemovableHandle._next_id
        RemovableHandle._next_id += 1

    def remove(self) -> None:
        """Unregisters the hook this handle was returned for (a second call does nothing)."""
        self._hooks.pop(self.id, None)
        for extra in getattr(self, "_extra", ()):
            extra.discard(self.id)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


class Module:
    """Base class for all neural-network modules; subclasses define `forward`."""

    training: bool

    def __init__(self) -> None:
        d = self.__dict__
        d["training"] = True
        d["_parameters"] = OrderedDict()
        d["_buffers"] = OrderedDict()
        d["_non_persistent_buffers"] = set()
        d["_modules"] = OrderedDict()
        d["_forward_pre_hooks"] = OrderedDict()
        d["_forward_hooks"] = OrderedDict()
        d["_forward_pre_hooks_with_kwargs"] = set()
        d["_forward_hooks_with_kwargs"] = set()
        d["_forward_hooks_always_called"] = set()
        d["_backward_pre_hooks"] = OrderedDict()
        d["_backward_hooks"] = OrderedDict()
        d["_state_dict_pre_hooks"] = OrderedDict()
        d["_state_dict_hooks"] = OrderedDict()
        d["_load_state_dict_pre_hooks"] = OrderedDict()
        d["_load_state_dict_post_hooks"] = OrderedDict()

    # ---- calling ------------------------------------------------------------------------

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation of this module: override it in a subclass. Call the module (`module(x)`), not `forward`, so hooks run.

        Returns:
            Whatever the module computes (usually a tensor).
        """
        raise NotImplementedError(f'Module [{type(self).__name__}] is missing the required "forward" function')

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        d = self.__dict__
        if d["_forward_pre_hooks"] or d["_forward_hooks"] or d["_backward_hooks"] or d["_backward_pre_hooks"]:
            return self._call_with_hooks(args, kwargs)
        return self.forward(*args, **kwargs)

    def _call_with_hooks(self, args, kwargs):
        for hook_id, hook in list(self._forward_pre_hooks.items()):
            if hook_id in self._forward_pre_hooks_with_kwargs:
                result = hook(self, args, kwargs)
                if result is not None:
                    if not (isinstance(result, tuple) and len(result) == 2):
                        raise RuntimeError(f"forward pre-hook must return None or a tuple of (new_args, new_kwargs), but got {result}.")
                    args, kwargs = result
            else:
                result = hook(self, args)
                if result is not None:
                    args = result if isinstance(result, tuple) else (result,)
        backward_hook = None
        if self._backward_hooks or self._backward_pre_hooks:
            from backprop.nn._backward_hooks import BackwardHook

            backward_hook = BackwardHook(self)
            args = backward_hook.setup_input(args)
        try:
            output = self.forward(*args, **kwargs)
        except Exception:
            for hook_id, hook in list(self._forward_hooks.items()):
                if hook_id in self._forward_hooks_always_called:
                    try:
                        self._run_forward_hook(hook_id, hook, args, kwargs, None)
                    except Exception:
                        pass  # the forward's own error is the one to report
            raise
        for hook_id, hook in list(self._forward_hooks.items()):
            result = self._run_forward_hook(hook_id, hook, args, kwargs, output)
            if result is not None:
                output = result
        if backward_hook is not None:
            output = backward_hook.setup_output(output)
        return output

    def _run_forward_hook(self, hook_id, hook, args, kwargs, output):
        if hook_id in self._forward_hooks_with_kwargs:
            return hook(self, args, kwargs, output)
        return hook(self, args, output)

    def _add_hook(self, registry, hook, prepend=False):
        handle = RemovableHandle(registry)
        registry[handle.id] = hook
        if prepend:
            registry.move_to_end(handle.id, last=False)
        return handle

    def register_forward_pre_hook(self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False) -> RemovableHandle:
        """`hook(module, args)` runs before `forward` and may return replacement args; with
        `with_kwargs=True` it is `hook(module, args, kwargs)` and may return `(args, kwargs)`.
        `prepend=True` runs it before the hooks already registered."""
        handle = self._add_hook(self._forward_pre_hooks, hook, prepend)
        if with_kwargs:
            self._forward_pre_hooks_with_kwargs.add(handle.id)
        handle._extra = (self._forward_pre_hooks_with_kwargs,)
        return handle

    def register_forward_hook(
        self, hook: Callable[..., Any], *, prepend: bool = False, with_kwargs: bool = False, always_call: bool = False
    ) -> RemovableHandle:
        """`hook(module, args, output)` runs after `forward` and may return a replacement
        output; `with_kwargs=True` passes `(module, args, kwargs, output)`; `always_call=True`
        runs it even when `forward` raises (with output None)."""
        handle = self._add_hook(self._forward_hooks, hook, prepend)
        if with_kwargs:
            self._forward_hooks_with_kwargs.add(handle.id)
        if always_call:
            self._forward_hooks_always_called.add(handle.id)
        handle._extra = (self._forward_hooks_with_kwargs, self._forward_hooks_always_called)
        return handle

    def register_full_backward_pre_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """`hook(module, grad_output)` runs when the gradients of the module's outputs are
        known; it may return replacement gradients (a tuple)."""
        return self._add_hook(self._backward_pre_hooks, hook, prepend)

    def register_full_backward_hook(self, hook: Callable[..., Any], prepend: bool = False) -> RemovableHandle:
        """`hook(module, grad_input, grad_output)` runs once the gradients with respect to the
        module's tensor inputs are computed; it may return replacement `grad_input`."""
        return self._add_hook(self._backward_hooks, hook, prepend)

    def register_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, prefix, keep_vars)` runs before `state_dict` collects this module."""
        return self._add_hook(self._state_dict_pre_hooks, hook)

    def register_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, state_dict, prefix, local_metadata)` runs after `state_dict` collected
        this module and its children; it may edit `state_dict` in place."""
        return self._add_hook(self._state_dict_hooks, hook)

    def _register_state_dict_hook(self, hook):
        """Like `register_state_dict_post_hook`, but the hook may return a new state dict."""
        return self._add_hook(self._state_dict_hooks, hook)

    def register_load_state_dict_pre_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, state_dict, prefix, local_metadata, strict, missing_keys,
        unexpected_keys, error_msgs)` runs before this module's entries are loaded; it may
        edit `state_dict` (a copy of the caller's)."""
        return self._add_hook(self._load_state_dict_pre_hooks, hook)

    def register_load_state_dict_post_hook(self, hook: Callable[..., Any]) -> RemovableHandle:
        """`hook(module, incompatible_keys)` runs after loading; it may edit the
        `missing_keys` and `unexpected_keys` lists (which strict loading then reports)."""
        return self._add_hook(self._load_state_dict_post_hooks, hook)

    # ---- registration -------------------------------------------------------------------

    def _registries(self):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(f"cannot assign parameters or modules before {type(self).__name__}.__init__() calls super().__init__()")
        return d["_parameters"], d["_modules"], d["_buffers"]

    def __setattr__(self, name, value):
        d = self.__dict__
        params = d.get("_parameters")
        if isinstance(value, Parameter):
            params, modules, buffers = self._registries()
            modules.pop(name, None)
            buffers.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params, modules, buffers = self._registries()
            params.pop(name, None)
            buffers.pop(name, None)
            modules[name] = value
        elif params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' (a backprop.nn.Parameter or None is expected)")
            params[name] = None
        elif params is not None and name in d["_modules"]:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module '{name}' (a backprop.nn.Module or None is expected)")
            d["_modules"][name] = None
        elif params is not None and name in d["_buffers"]:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' (a Tensor or None is expected)")
            d["_buffers"][name] = value
        object.__setattr__(self, name, value)

    def __delattr__(self, name):
        d = self.__dict__
        for registry in ("_parameters", "_modules", "_buffers"):
            d.get(registry, {}).pop(name, None)
        d.get("_non_persistent_buffers", set()).discard(name)
        object.__delattr__(self, name)

    def _check_new_name(self, name, kind):
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string, got {type(name).__name__}")
        if name == "" or "." in name:
            raise KeyError(f"{kind} name can't be empty or contain '.', got {name!r}")
        params, modules, buffers = self._registries()
        if name in self.__dict__ and name not in params and name not in modules and name not in buffers:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Registers `param` (a Parameter, or None for an absent one such as a disabled bias)."""
        self._check_new_name(name, "parameter")
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"cannot assign {type(param).__name__} as parameter '{name}' (a backprop.nn.Parameter or None is expected)")
        self.__dict__["_modules"].pop(name, None)
        self.__dict__["_buffers"].pop(name, None)
        self._parameters[name] = param
        object.__setattr__(self, name, param)

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Registers state that is not learned but is moved by `to` and (if persistent) saved."""
        self._check_new_name(name, "buffer")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"cannot assign {type(tensor).__name__} as buffer '{name}' (a Tensor or None is expected)")
        self.__dict__["_parameters"].pop(name, None)
        self.__dict__["_modules"].pop(name, None)
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)
        object.__setattr__(self, name, tensor)

    def add_module(self, name: str, module: Module | None) -> None:
        """Registers `module` as a child called `name`."""
        self._check_new_name(name, "module")
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        self.__dict__["_parameters"].pop(name, None)
        self.__dict__["_buffers"].pop(name, None)
        self._modules[name] = module
        object.__setattr__(self, name, module)

    register_module = add_module

    # ---- traversal ----------------------------------------------------------------------

    def named_modules(self, memo: set[int] | None = None, prefix: str = "", remove_duplicate: bool = True) -> Iterator[tuple[str, Module]]:
        """`(name, module)` for this module and every descendant, each module once."""
        if memo is None:
            memo = set()
        if remove_duplicate:
            if id(self) in memo:
                return
            memo.add(id(self))
        yield prefix, self
        for name, module in self._modules.items():
            if module is None:
                continue
            yield from module.named_modules(memo, prefix + ("." if prefix else "") + name, remove_duplicate)

    def modules(self) -> Iterator[Module]:
        """Iterates over this module and every descendant, each once (pre-order).

        Example:
            >>> " ".join(type(m).__name__ for m in nn.Sequential(nn.Linear(2, 2), nn.ReLU()).modules())
            'Sequential Linear ReLU'
        """
        for _, m in self.named_modules():
            yield m

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Iterates over `(name, module)` for the direct submodules, each once."""
        seen = set()
        for name, m in self._modules.items():
            if m is not None and id(m) not in seen:
                seen.add(id(m))
                yield name, m

    def children(self) -> Iterator[Module]:
        """Iterates over the direct submodules, each once."""
        for _, m in self.named_children():
            yield m

    def _named_members(self, registry, prefix, recurse, remove_duplicate):
        seen = set()
        modules = self.named_modules(prefix=prefix, remove_duplicate=remove_duplicate) if recurse else [(prefix, self)]
        for module_prefix, module in modules:
            for name, value in getattr(module, registry).items():
                if value is None or (remove_duplicate and id(value) in seen):
                    continue
                seen.add(id(value))
                yield module_prefix + ("." if module_prefix else "") + name, value

    def named_parameters(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True) -> Iterator[tuple[str, Parameter]]:
        """`(dotted name, parameter)` pairs; a parameter shared by two layers appears once."""
        return self._named_members("_parameters", prefix, recurse, remove_duplicate)

    def parameters(self, recurse: bool = True) -> Iterator[Parameter]:
        """Iterates over the parameters (with `recurse`, of every descendant too), each once.

        Args:
            recurse: include the parameters of submodules (default True).

        Returns:
            An iterator of Parameters, in registration order; pass it to an optimizer.
        """
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True, remove_duplicate: bool = True) -> Iterator[tuple[str, Tensor]]:
        """Iterates over `(dotted name, buffer)` pairs (running statistics and other registered state).

        Args:
            prefix: prepended to every name.
            recurse: include the buffers of submodules (default True).
            remove_duplicate: yield a buffer shared by several modules only once (default True).
        """
        return self._named_members("_buffers", prefix, recurse, remove_duplicate)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Iterates over the registered buffers (with `recurse`, of every descendant too)."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def get_submodule(self, target: str) -> Module:
        """The descendant at dotted path `target` (`""` is this module)."""
        module = self
        for item in target.split(".") if target else []:
            child = module._modules.get(item)
            if child is None:
                raise AttributeError(f"{module._get_name()} has no submodule `{item}` (looking up '{target}')")
            module = child
        return module

    def get_parameter(self, target: str) -> Parameter:
        """The parameter at dotted path `target` (e.g. `"0.weight"`); AttributeError when there is none."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._parameters:
            raise AttributeError(f"{module._get_name()} has no parameter `{name}`")
        return module._parameters[name]

    def get_buffer(self, target: str) -> Tensor:
        """The buffer at dotted path `target` (e.g. `"1.running_mean"`); AttributeError when there is none."""
        path, _, name = target.rpartition(".")
        module = self.get_submodule(path)
        if name not in module._buffers:
            raise AttributeError(f"{module._get_name()} has no buffer `{name}`")
        return module._buffers[name]

    def apply(self, fn: Callable[[Module], None]) -> Self:
        """Calls `fn` on every descendant, then on this module (how custom init is applied)."""
        for child in self.children():
            child.apply(fn)
        fn(self)
        return self

    # ---- modes and gradients ------------------------------------------------------------

    def train(self, mode: bool = True) -> Self:
        """Sets training mode (dropout active) on this module and all descendants."""
        if not isinstance(mode, bool):
            raise ValueError(f"train: mode is expected to be a bool, got {type(mode).__name__}")
        for m in self.modules():
            m.__dict__["training"] = mode
        return self

    def eval(self) -> Self:
        """Evaluation mode: dropout becomes the identity. Same as `train(False)`."""
        return self.train(False)

    def requires_grad_(self, requires_grad: bool = True) -> Self:
        """Sets `requires_grad` on every parameter (False freezes the module); returns `self`."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clears the gradients of all parameters (drops them, or zeroes them in place)."""
        for p in self.parameters():
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                g = p.grad
                if g.grad_fn is not None:
                    g = g.detach()
                    p.grad = g
                g.zero_()

    # ---- state --------------------------------------------------------------------------

    def state_dict(self, *, destination: dict[str, Any] | None = None, prefix: str = "", keep_vars: bool = False) -> dict[str, Any]:
        """Parameters and persistent buffers by dotted name, sharing memory with the module."""
        if destination is None:
            destination = OrderedDict()
        for hook in list(self._state_dict_pre_hooks.values()):
            hook(self, prefix, keep_vars)
        for name, p in self._parameters.items():
            if p is not None:
                destination[prefix + name] = p if keep_vars else p.detach()
        for name, b in self._buffers.items():
            if b is not None and name not in self._non_persistent_buffers:
                destination[prefix + name] = b if keep_vars else b.detach()
        for name, m in self._modules.items():
            if m is not None:
                m.state_dict(destination=destination, prefix=prefix + name + ".", keep_vars=keep_vars)
        for hook in list(self._state_dict_hooks.values()):
            result = hook(self, destination, prefix, {"version": getattr(type(self), "_version", 1)})
            if result is not None:
                destination = result
        return destination

    @staticmethod
    def _state_entries(modules):
        """(key, tensor) of every parameter and persistent buffer, state_dict's keys without
        its hooks (what loading fills)."""
        for module_prefix, module in modules:
            p = module_prefix + "." if module_prefix else ""
            for name, t in module._parameters.items():
                if t is not None:
                    yield p + name, t
            for name, t in module._buffers.items():
                if t is not None and name not in module._non_persistent_buffers:
                    yield p + name, t

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        """Copies values from `state_dict` into this module's parameters and buffers.

        Every problem (missing or unexpected keys when `strict`, a shape mismatch, a value that
        is not a tensor) is collected first and reported together; nothing is copied unless
        all of it fits. With `assign=True` the module takes the given tensors instead of copying.
        Load-state-dict pre hooks see (and may edit) a copy of `state_dict` first; post hooks
        see the missing and unexpected keys after the copy and may clear them.
        """
        if not hasattr(state_dict, "keys"):
            raise TypeError(f"load_state_dict: expected a mapping of names to tensors, got {type(state_dict).__name__}")
        state_dict = OrderedDict(state_dict)
        modules = list(self.named_modules(remove_duplicate=False))
        hook_errors = []
        missing, unexpected = [], []
        for module_prefix, module in modules:
            for hook in list(module._load_state_dict_pre_hooks.values()):
                p = module_prefix + "." if module_prefix else ""
                hook(module, state_dict, p, {}, strict, missing, unexpected, hook_errors)
        own = OrderedDict(self._state_entries(modules))
        missing += [k for k in own if k not in state_dict]
        unexpected += [k for k in state_dict if k not in own]
        errors = list(hook_errors)
        for key, target in own.items():
            if key not in state_dict:
                continue
            value = state_dict[key]
            if not isinstance(value, Tensor):
                errors.append(f'While copying the parameter named "{key}", expected a Tensor from the checkpoint but got {type(value).__name__}.')
            elif tuple(value.shape) != tuple(target.shape):
                errors.append(
                    f"size mismatch for {key}: copying a param with shape {list(value.shape)} from checkpoint, "
                    f"the shape in current model is {list(target.shape)}."
                )
        post_hooks = [(m, h) for _, m in modules for h in m._load_state_dict_post_hooks.values()]

        def key_errors():
            out = []
            if strict:
                if unexpected:
                    out.append("Unexpected key(s) in state_dict: " + ", ".join(f'"{k}"' for k in unexpected) + ".")
                if missing:
                    out.append("Missing key(s) in state_dict: " + ", ".join(f'"{k}"' for k in missing) + ".")
            return out

        def fail(problems):
            raise RuntimeError(f"Error(s) in loading state_dict for {self._get_name()}:\n\t" + "\n\t".join(problems))

        if errors or (not post_hooks and key_errors()):
            fail(key_errors() + errors)
        owners = {}
        for module_prefix, module in modules:
            for registry in ("_parameters", "_buffers"):
                for name in getattr(module, registry):
                    owners[module_prefix + ("." if module_prefix else "") + name] = (module, registry, name)
        with no_grad():
            for key, target in own.items():
                if key not in state_dict:
                    continue
                value = state_dict[key]
                module, registry, name = owners[key]
                if assign:
                    new = Parameter(value.detach(), target.requires_grad) if registry == "_parameters" else value
                    getattr(module, registry)[name] = new
                    object.__setattr__(module, name, new)
                else:
                    target.copy_(value.detach().to(target.device))
        incompatible = _IncompatibleKeys(missing, unexpected)
        for module, hook in post_hooks:
            hook(module, incompatible)
        if key_errors():
            fail(key_errors())
        return incompatible

    # ---- devices and dtypes -------------------------------------------------------------

    def _apply(self, fn):
        """Applies `fn` to every parameter and buffer where that changes device or dtype. A
        parameter stays the same object (its `data` and its grad move, as in PyTorch's
        `_apply`), so references to it (an optimizer's, shared modules') stay valid."""
        for module in self.modules():
            for p in module._parameters.values():
                if p is None:
                    continue
                data = fn(p.detach())
                if data.device == p.device and data.dtype == p.dtype:
                    continue
                grad = p.grad
                p.data = data
                if grad is not None:
                    p.grad = fn(grad.detach())
            for name, b in module._buffers.items():
                if b is None:
                    continue
                data = fn(b)
                if data.device != b.device or data.dtype != b.dtype:
                    module._buffers[name] = data
                    object.__setattr__(module, name, data)
        return self

    def to(self, *args: Any, **kwargs: Any) -> Self:
        """Moves and/or casts every parameter and buffer; returns `self`.

        Forms: `to(device)`, `to(dtype)`, `to(device, dtype)`, `to(tensor)` (its device and
        dtype), and the keywords `device=`, `dtype=`, `non_blocking=` (accepted, ignored). A
        dtype applies to floating-point tensors only, as in PyTorch.

        Each parameter stays the same object: its data (and grad) move, as in PyTorch, so
        references to it stay valid. An optimizer created before the move keeps working: its
        next `step()` moves its state next to the parameters.

        Example:
            >>> model = nn.Linear(2, 3).double()
            >>> model.weight.dtype
            backprop.float64
        """
        device, dtype = _parse_to(args, kwargs)

        def convert(t):
            cast = dtype if dtype is not None and t.is_floating_point() else None
            if device is None and cast is None:
                return t
            return t.to(device=device, dtype=cast)

        return self._apply(convert)

    def cpu(self) -> Self:
        """Moves every parameter and buffer to the CPU; returns `self`."""
        return self.to("cpu")

    def gpu(self) -> Self:
        """Moves every parameter and buffer to the GPU (the wgpu device); returns `self`."""
        return self.to("gpu")

    def cuda(self, device: Any = None) -> Self:
        """PyTorch's name for `gpu()`: moves the module to the GPU (`device` is accepted and ignored: there is one GPU); returns `self`."""
        return self.to("gpu")

    def float(self) -> Self:
        """Casts floating-point parameters and buffers to float32; returns `self`."""
        from backprop import float32

        return self.to(float32)

    def double(self) -> Self:
        """Casts floating-point parameters and buffers to float64; returns `self`."""
        from backprop import float64

        return self.to(float64)

    def half(self) -> Self:
        """Casts floating-point parameters and buffers to float16 (where the engine has it)."""
        return self.to(_low_precision("float16"))

    def bfloat16(self) -> Self:
        """Casts floating-point parameters and buffers to bfloat16 (where the engine has it); returns `self`."""
        return self.to(_low_precision("bfloat16"))

    def type(self, dst_type: Any) -> Self:
        """Casts floating-point parameters and buffers to `dst_type` (a dtype); returns `self`."""
        return self.to(dst_type)

    # ---- printing -----------------------------------------------------------------------

    def _get_name(self):
        return type(self).__name__

    def extra_repr(self) -> str:
        """The part of the repr inside the parentheses, e.g. `in_features=784, ...`."""
        return ""

    def __repr__(self):
        extra = self.extra_repr()
        lines = extra.split("\n") if extra else []
        children = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            children.append(f"({name}): {child}")
        body = lines + children
        if not body:
            return self._get_name() + "()"
        if len(lines) == 1 and not children:
            return f"{self._get_name()}({lines[0]})"
        return self._get_name() + "(\n  " + "\n  ".join(body) + "\n)"


def _low_precision(name):
    from backprop import _core

    dt = getattr(_core, name, None)
    if dt is None:
        raise TypeError(f"{name} tensors are not supported by this build of backprop; use float() or double()")
    return dt


def _parse_to(args, kwargs):
    from backprop._core import device as device_type, dtype as dtype_type

    device = kwargs.pop("device", None)
    dtype = kwargs.pop("dtype", None)
    kwargs.pop("non_blocking", None)
    if kwargs:
        raise TypeError(f"to: unexpected keyword argument(s) {', '.join(kwargs)}")
    for a in args:
        if isinstance(a, Tensor):
            device, dtype = a.device, a.dtype
        elif isinstance(a, dtype_type):
            dtype = a
        elif isinstance(a, (str, device_type)):
            device = a
        elif a is not None:
            raise TypeError(f"to: expected a device, a dtype or a tensor, got {a!r}")
    return device, dtype
