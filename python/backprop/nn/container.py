"""Containers: `Sequential` (a chain of modules), `ModuleList` and `ModuleDict` (registered
collections of modules), `ParameterList` and `ParameterDict` (of parameters)."""

import operator
from collections import OrderedDict

from backprop._core import Tensor
from backprop.nn.module import Module
from backprop.nn.parameter import Parameter


def _checked_index(idx, n):
    idx = operator.index(idx)
    if not -n <= idx < n:
        raise IndexError(f"index {idx} is out of range for a container of {n} modules")
    return idx % n


class _ModuleSequence(Module):
    """What Sequential and ModuleList share: modules in registration order, numbered."""

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def __dir__(self):
        return [k for k in super().__dir__() if not k.isdigit()]

    def append(self, module):
        """Adds `module` at the end."""
        self.add_module(str(len(self)), module)
        return self

    def extend(self, modules):
        """Appends every module of an iterable."""
        for m in modules:
            self.append(m)
        return self

    def _set_modules(self, items):
        """Replaces the registry with `items` (name, module), keeping attributes in step."""
        d = self.__dict__
        for name in self._modules:
            d.pop(name, None)
        self._modules.clear()
        for name, m in items:
            self._modules[name] = m
            object.__setattr__(self, name, m)

    def _renumber(self):
        self._set_modules([(str(i), m) for i, m in enumerate(self._modules.values())])

    def insert(self, index, module):
        """Inserts `module` before position `index` (negative counts from the end)."""
        if not isinstance(module, Module):
            raise AssertionError(f"module should be of type: {Module}")
        n = len(self)
        index = operator.index(index)
        if not -n <= index <= n:
            raise IndexError(f"Index out of range: {index}")
        if index < 0:
            index += n
        mods = list(self._modules.values())
        mods.insert(index, module)
        self._set_modules([(str(i), m) for i, m in enumerate(mods)])
        return self

    def pop(self, key):
        """Removes and returns the module at `key` (an index or a slice)."""
        value = self[key]
        del self[key]
        return value

    def __delitem__(self, idx):
        keys = list(self._modules)
        for key in keys[idx] if isinstance(idx, slice) else [keys[_checked_index(idx, len(self))]]:
            delattr(self, key)
        self._renumber()

    def __iadd__(self, other):
        return self.extend(other)


class Sequential(_ModuleSequence):
    """Calls its modules in order, each on the previous one's output.

    `Sequential(a, b, c)` names them "0", "1", "2"; `Sequential(OrderedDict(...))` uses the keys.
    """

    def __init__(self, *args) -> None:
        super().__init__()
        if len(args) == 1 and isinstance(args[0], OrderedDict):
            for name, module in args[0].items():
                self.add_module(name, module)
        else:
            for i, module in enumerate(args):
                self.add_module(str(i), module)

    def forward(self, input):
        for module in self._modules.values():
            input = module(input)
        return input

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return Sequential(OrderedDict(list(self._modules.items())[idx]))
        return list(self._modules.values())[_checked_index(idx, len(self))]

    def __setitem__(self, idx, module):
        key = list(self._modules)[_checked_index(idx, len(self))]
        setattr(self, key, module)

    def __add__(self, other):
        if not isinstance(other, Sequential):
            raise ValueError(f"add operator supports only objects of Sequential class, but {type(other)} is given.")
        return Sequential(*self, *other)

    def __mul__(self, other):
        if not isinstance(other, int) or other <= 0:
            raise ValueError(f"Non-positive multiplication factor {other} for Sequential")
        return Sequential(*(list(self) * other))


class ModuleList(_ModuleSequence):
    """A list of modules whose parameters the parent module sees."""

    def __init__(self, modules=None) -> None:
        super().__init__()
        if modules is not None:
            self.extend(modules)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ModuleList(list(self._modules.values())[idx])
        return self._modules[str(_checked_index(idx, len(self)))]

    def __setitem__(self, idx, module):
        setattr(self, str(_checked_index(idx, len(self))), module)

    def __add__(self, other):
        return ModuleList(list(self) + list(other))


class ModuleDict(Module):
    """An ordered dict of modules, registered under their keys."""

    def __init__(self, modules=None) -> None:
        super().__init__()
        if modules is not None:
            self.update(modules)

    def __getitem__(self, key):
        return self._modules[key]

    def __setitem__(self, key, module):
        self.add_module(key, module)

    def __delitem__(self, key):
        delattr(self, key)

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def __contains__(self, key):
        return key in self._modules

    def clear(self):
        """Removes every module."""
        for key in list(self._modules):
            delattr(self, key)

    def pop(self, key):
        """Removes the module under `key` and returns it."""
        value = self[key]
        del self[key]
        return value

    def keys(self):
        """The names, in insertion order."""
        return self._modules.keys()

    def items(self):
        """The `(name, module)` pairs, in insertion order."""
        return self._modules.items()

    def values(self):
        """The modules, in insertion order."""
        return self._modules.values()

    def update(self, modules):
        """Adds (or replaces) the modules of a mapping or an iterable of (key, module) pairs."""
        if hasattr(modules, "items"):
            pairs = modules.items()
        else:
            pairs = []
            for j, pair in enumerate(modules):
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise ValueError(f"ModuleDict update sequence element #{j} should be a (key, module) pair, got {pair!r}")
                pairs.append(pair)
        for key, module in pairs:
            self[key] = module


def _as_parameter(value):
    if isinstance(value, Tensor) and not isinstance(value, Parameter):
        return Parameter(value)
    return value


def _parameter_repr(p):
    kind = "Parameter containing" if isinstance(p, Parameter) else "Tensor"
    size = "x".join(str(s) for s in p.shape)
    return f"{kind}: [backprop.{p.dtype.name if hasattr(p.dtype, 'name') else p.dtype} of size {size}{' (' + p.device.type + ')' if p.device.type != 'cpu' else ''}]"


class ParameterList(Module):
    """A list of parameters the parent module sees; plain tensors become Parameters."""

    def __init__(self, values=None) -> None:
        super().__init__()
        self.__dict__["_size"] = 0
        if values is not None:
            self.extend(values)

    def _key(self, idx):
        n = self._size
        idx = operator.index(idx)
        if not -n <= idx < n:
            raise IndexError(f"index {idx} is out of range for a ParameterList of {n}")
        return str(idx % n)

    def __getitem__(self, idx):
        if isinstance(idx, slice):
            return ParameterList([self[i] for i in range(self._size)[idx]])
        return getattr(self, self._key(idx))

    def __setitem__(self, idx, value):
        key = self._key(idx)
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self.register_parameter(key, value)
        else:
            self._parameters.pop(key, None)
            object.__setattr__(self, key, value)

    def __len__(self):
        return self._size

    def __iter__(self):
        return (self[i] for i in range(self._size))

    def __iadd__(self, values):
        return self.extend(values)

    def append(self, value):
        """Appends `value` (a tensor becomes a Parameter); returns `self`."""
        self.__dict__["_size"] += 1
        self[self._size - 1] = value
        return self

    def extend(self, values):
        """Appends every item of `values`; returns `self`."""
        for v in values:
            self.append(v)
        return self

    def extra_repr(self):
        return "\n".join(f"  ({i}): {_parameter_repr(p) if isinstance(p, Tensor) else 'Object of type: ' + type(p).__name__}" for i, p in enumerate(self))


class ParameterDict(Module):
    """An ordered dict of parameters the parent module sees; plain tensors become Parameters."""

    def __init__(self, parameters=None) -> None:
        super().__init__()
        self.__dict__["_keys"] = OrderedDict()
        if parameters is not None:
            self.update(parameters)

    def __getitem__(self, key):
        return getattr(self, key)

    def __setitem__(self, key, value):
        self._keys[key] = None
        value = _as_parameter(value)
        if isinstance(value, Parameter):
            self.register_parameter(key, value)
        else:
            self._parameters.pop(key, None)
            object.__setattr__(self, key, value)

    def __delitem__(self, key):
        del self._keys[key]
        delattr(self, key)

    def __len__(self):
        return len(self._keys)

    def __iter__(self):
        return iter(self._keys)

    def __contains__(self, key):
        return key in self._keys

    def keys(self):
        """The names, in insertion order."""
        return self._keys.keys()

    def items(self):
        """The `(name, parameter)` pairs, in insertion order."""
        return ((k, self[k]) for k in self._keys)

    def values(self):
        """The parameters, in insertion order."""
        return (self[k] for k in self._keys)

    def get(self, key, default=None):
        """The parameter under `key`, or `default` when there is none."""
        return self[key] if key in self else default

    def pop(self, key):
        """Removes the parameter under `key` and returns it."""
        value = self[key]
        del self[key]
        return value

    def clear(self):
        """Removes every parameter."""
        for key in list(self._keys):
            del self[key]

    def update(self, parameters):
        """Adds or replaces entries from a mapping or an iterable of `(name, tensor)` pairs."""
        pairs = parameters.items() if hasattr(parameters, "items") else parameters
        for key, value in pairs:
            self[key] = value

    def extra_repr(self):
        return "\n".join(f"  ({k}): {_parameter_repr(p) if isinstance(p, Tensor) else 'Object of type: ' + type(p).__name__}" for k, p in self.items())
