"""The errors for names backprop lacks: when PyTorch has the name, the error says that
backprop does not implement it yet, instead of Python's bare "has no attribute" (or a
"did you mean" that points at a different function)."""

# backprop's namespaces and the PyTorch namespace each one mirrors.
_MIRRORS = {
    "backprop": "torch",
    "backprop.nn": "torch.nn",
    "backprop.nn.functional": "torch.nn.functional",
    "backprop.optim": "torch.optim",
}


def _torch_has(namespace, name):
    from backprop._torch_names import NAMES

    return name in NAMES.get(namespace, ())


def module_attribute_error(module, name):
    """The AttributeError for `module.name` (`module` a backprop module's `__name__`)."""
    torch_ns = _MIRRORS.get(module)
    if torch_ns is not None and _torch_has(torch_ns, name):
        err = AttributeError(f"backprop does not implement {torch_ns}.{name} yet (module {module!r} has no attribute {name!r})")
    else:
        err = AttributeError(f"module {module!r} has no attribute {name!r}")
    err.name, err.obj = name, None
    return err


def tensor_attribute_error(name):
    """The message of the AttributeError for a missing `Tensor` attribute `name`."""
    if _torch_has("torch.Tensor", name):
        return f"backprop does not implement torch.Tensor.{name} yet ('Tensor' object has no attribute {name!r})"
    return f"'Tensor' object has no attribute {name!r}"
