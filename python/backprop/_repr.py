"""Printing and pickling tensors (NumPy's formatting, PyTorch's layout)."""


def tensor_repr(t):
    import numpy as np

    a = _host_array(t)
    prefix = "tensor("
    if a.size == 0:
        body = f"[], size={tuple(a.shape)}"
    else:
        body = np.array2string(a, separator=", ", prefix=prefix, threshold=1000, edgeitems=3, precision=4)
    extras = []
    if t.device.type != "cpu":
        extras.append(f"device='{t.device.type}'")
    if t.dtype.name not in ("float32", "int64", "bool"):
        extras.append(f"dtype=backprop.{t.dtype.name}")
    if t.grad_fn is not None:
        extras.append(f"grad_fn=<{t.grad_fn.name()}>")
    elif t.requires_grad:
        extras.append("requires_grad=True")
    return prefix + body + "".join(", " + e for e in extras) + ")"


def _host_array(t):
    """A NumPy array of `t`'s values; bfloat16, which NumPy lacks, as its exact float32 values."""
    t = t.detach().cpu()
    return (t.float() if t.dtype.name == "bfloat16" else t).numpy()


def tensor_reduce(t):
    return (_rebuild, (_host_array(t).copy(), t.requires_grad and t.is_leaf, t.device.type, t.dtype.name))


def _rebuild(array, requires_grad, device, dtype=None):
    import backprop

    x = backprop.tensor(array, device=device, dtype=getattr(backprop, dtype) if dtype else None)
    if requires_grad:
        x.requires_grad_()
    return x
