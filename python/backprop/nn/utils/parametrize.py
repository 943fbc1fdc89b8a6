"""Parametrizations, PyTorch's `torch.nn.utils.parametrize`: a module's tensor is replaced by
a function of unconstrained tensors, recomputed on each access.

`register_parametrization(m, "weight", P)` moves the weight to
`m.parametrizations.weight.original` (state_dict key `parametrizations.weight.original`) and
makes `m.weight` a property returning `P(original)`. A parametrization with a
`right_inverse` decides the stored originals (several, as `original0`, `original1`, ...,
when it returns a tuple), and assigning to `m.weight` goes through it.
"""

from contextlib import contextmanager

from backprop._core import Tensor
from backprop._grad_mode import no_grad
from backprop.nn.container import ModuleDict, ModuleList
from backprop.nn.parameter import Parameter

_cache_enabled = 0
_cache = {}


@contextmanager
def cached():
    """Within the block, each parametrized tensor is computed once and reused."""
    global _cache_enabled
    _cache_enabled += 1
    try:
        yield
    finally:
        _cache_enabled -= 1
        if not _cache_enabled:
            _cache.clear()


def _store(module, name, value, like):
    if isinstance(like, Parameter) or like is None:
        module.register_parameter(name, Parameter(value, like.requires_grad if like is not None else True))
    else:
        module.register_buffer(name, value)


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the originals they act on."""

    def __init__(self, modules, original, unsafe=False) -> None:
        if len(modules) == 0:
            raise ValueError("ParametrizationList requires one or more modules.")
        super().__init__(modules)
        self.unsafe = unsafe
        with no_grad():
            new = original
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    new = module.right_inverse(new)
        if isinstance(new, Tensor):
            self.is_tensor = True
            self.ntensors = 1
            if new is original or (isinstance(original, Parameter) and new.shape == original.shape and new.dtype == original.dtype):
                if new is not original:
                    with no_grad():
                        original.copy_(new)
                if isinstance(original, Parameter):
                    self.register_parameter("original", original)
                else:
                    self.register_buffer("original", original)
            else:
                _store(self, "original", new.detach(), original)
        elif isinstance(new, (tuple, list)):
            self.is_tensor = False
            self.ntensors = len(new)
            for i, t in enumerate(new):
                if not isinstance(t, Tensor):
                    raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). Got element {i} of the sequence with type {type(t).__name__}.")
                _store(self, f"original{i}", t.detach(), original)
        else:
            raise ValueError(f"'right_inverse' must return a Tensor or a Sequence of tensors (list, tuple...). Got {type(new).__name__}")
        if not unsafe:
            self._check_consistent(original)

    def _check_consistent(self, original):
        with no_grad():
            z = self()
        if not isinstance(z, Tensor):
            raise ValueError(f"A parametrization must return a tensor. Got {type(z).__name__}.")
        if tuple(z.shape) != tuple(original.shape) or z.dtype != original.dtype:
            raise ValueError(
                "Registering a parametrization may not change the shape or dtype of the tensor, unless `unsafe` flag is enabled.\n"
                f"unparametrized dtype: {original.dtype}\nunparametrized shape: {tuple(original.shape)}\n"
                f"parametrized dtype: {z.dtype}\nparametrized shape: {tuple(z.shape)}"
            )

    def originals(self):
        """The unconstrained tensors the parametrizations are computed from (`original`, or `original0, original1, ...`)."""
        if self.is_tensor:
            return (self.original,)
        return tuple(getattr(self, f"original{i}") for i in range(self.ntensors))

    def right_inverse(self, value):
        """Stores `value` (through each right_inverse, last parametrization first)."""
        with no_grad():
            for module in reversed(list(self)):
                if hasattr(module, "right_inverse"):
                    value = module.right_inverse(value)
                elif not isinstance(module, ModuleList):
                    raise RuntimeError(f"parametrization {type(module).__name__} does not implement right_inverse.")
            values = (value,) if self.is_tensor else tuple(value)
            if len(values) != self.ntensors:
                raise ValueError(f"'right_inverse' must return a sequence of {self.ntensors} tensors, got {len(values)}")
            for target, v in zip(self.originals(), values):
                if tuple(target.shape) != tuple(v.shape):
                    raise ValueError(f"when assigning to a parametrized tensor, right_inverse returned shape {tuple(v.shape)} for an original of shape {tuple(target.shape)}")
                target.copy_(v)

    def forward(self):
        mods = list(self)
        x = mods[0](*self.originals())
        for m in mods[1:]:
            x = m(x)
        return x


def _inject_new_class(module):
    cls = module.__class__

    def getstate(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through state_dict().")

    module.__class__ = type(f"Parametrized{cls.__name__}", (cls,), {"__getstate__": getstate, "_parametrized_base": cls})


def _inject_property(module, tensor_name):
    def get(self):
        if _cache_enabled:
            key = (id(self), tensor_name)
            if key not in _cache:
                _cache[key] = self.parametrizations[tensor_name]()
            return _cache[key]
        return self.parametrizations[tensor_name]()

    def set_(self, value):
        self.parametrizations[tensor_name].right_inverse(value)

    setattr(module.__class__, tensor_name, property(get, set_))


def is_parametrized(module, tensor_name=None):
    """Whether `module` has any parametrization (or one for `tensor_name`)."""
    parametrizations = module.__dict__.get("_modules", {}).get("parametrizations")
    if parametrizations is None or not isinstance(parametrizations, ModuleDict):
        return False
    return len(parametrizations) > 0 if tensor_name is None else tensor_name in parametrizations


def type_before_parametrizations(module):
    """The class `module` had before `register_parametrization` gave it a parametrized subclass."""
    return module.__class__._parametrized_base if is_parametrized(module) else type(module)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Replaces `module.<tensor_name>` by `parametrization(original)`; a second registration on
    the same tensor chains after the first. Returns the module."""
    parametrization.train(module.training)
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            with no_grad():
                before = getattr(module, tensor_name)
                after = parametrization(before)
            if not isinstance(after, Tensor) or tuple(after.shape) != tuple(before.shape) or after.dtype != before.dtype:
                raise ValueError("Registering a parametrization may not change the shape or dtype of the tensor, unless `unsafe` flag is enabled.")
        plist.append(parametrization)
        plist.unsafe |= unsafe
    elif tensor_name in module._parameters or tensor_name in module._buffers:
        original = getattr(module, tensor_name)
        plist = ParametrizationList([parametrization], original, unsafe=unsafe)
        delattr(module, tensor_name)
        if not is_parametrized(module):
            _inject_new_class(module)
            module.parametrizations = ModuleDict()
        _inject_property(module, tensor_name)
        module.parametrizations[tensor_name] = plist
    else:
        raise ValueError(f"Module '{module}' does not have a parameter, a buffer, or a parametrized element with name '{tensor_name}'")
    return module


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undoes `register_parametrization`: the tensor becomes a plain parameter (or buffer)
    again, holding the parametrized value (or, with `leave_parametrized=False`, the original)."""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {module} does not have a parametrization on {tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                value = getattr(module, tensor_name)
            if tuple(value.shape) == tuple(original.shape) and value.dtype == original.dtype:
                with no_grad():
                    original.copy_(value)
            else:
                original = Parameter(value.detach(), original.requires_grad) if isinstance(original, Parameter) else value.detach()
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            value = getattr(module, tensor_name)
        first = plist.original0
        original = Parameter(value.detach(), first.requires_grad) if isinstance(first, Parameter) else value.detach()
    delattr(module.__class__, tensor_name)
    del module.parametrizations[tensor_name]
    if isinstance(original, Parameter):
        module.register_parameter(tensor_name, original)
    else:
        module.register_buffer(tensor_name, original)
    if not is_parametrized(module):
        delattr(module, "parametrizations")
        module.__class__ = module.__class__._parametrized_base
    return module
