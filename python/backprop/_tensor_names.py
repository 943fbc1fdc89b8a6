"""Tensor attributes defined in Python.

`__init__` lives here because the binding's constructor cannot do its part: pyo3 runs it as
`__new__`, before the Python object exists, so a leaf made by `Tensor(data, requires_grad=True)`
could not name that object as its owner (`AccumulateGrad.variable` would hand back another
wrapper). `__init__` runs once the object exists and does it.

`get_device` lives here because the binding cannot hold it: pyo3 names its glue for a
`get_device` method exactly as it names the `device` getter's, so the two collide.

The names PyTorch's `Tensor` has and backprop's lacks are class attributes whose reading
raises the AttributeError that says so. A `__getattr__` would say the same, but a type with
one loses CPython's fast attribute and method lookup for every access, found or not (each
`t.backward()` then builds a bound method through the binding's getattr glue: 3% of a scalar
circuit's time); a descriptor costs nothing until it is read.
"""

from backprop._missing import tensor_attribute_error


def __init__(self, *args, requires_grad=False, **kwargs):
    # Arguments were checked by `__new__`; a subclass's `__new__` may take others, as with
    # `object.__init__`, which tolerates them when `__new__` is overridden.
    if requires_grad:
        self.requires_grad_()


def get_device(self):
    """The device index: -1 for a CPU tensor, 0 for a GPU one (backprop uses one GPU)."""
    return -1 if self.device.type == "cpu" else 0


class _Lacking:
    """A name of PyTorch's Tensor that backprop's lacks: reading it raises AttributeError."""

    __slots__ = ("name",)

    def __init__(self, name):
        self.name = name

    def __get__(self, obj, owner=None):
        err = AttributeError(tensor_attribute_error(self.name))
        err.name, err.obj = self.name, obj
        raise err

    def __repr__(self):
        return f"<name backprop's Tensor lacks: {self.name}>"


def _is_lacking(cls, name):
    return isinstance(cls.__dict__.get(name), _Lacking)


def lacking_names(cls):
    """The names marked on `cls` as PyTorch's and not backprop's: runtime-only, so the type
    stub leaves them out and a type checker reports their use, as it should."""
    return sorted(n for n in vars(cls) if _is_lacking(cls, n))


def install_lacking_names(cls):
    """Marks on `cls` each public `torch.Tensor` name it does not have (once every other
    attribute of `cls` is set), and hides the marks from `dir()`."""
    from backprop._torch_names import NAMES

    for name in NAMES["torch.Tensor"]:
        if not hasattr(cls, name):
            setattr(cls, name, _Lacking(name))
    object_dir = object.__dir__

    def __dir__(self):
        return [n for n in object_dir(self) if not _is_lacking(cls, n)]

    cls.__dir__ = __dir__
