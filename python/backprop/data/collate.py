"""`default_collate` and `default_convert`: how samples become a batch, with PyTorch's rules.

default_collate, by the type of the batch's first element:
- Tensor: stacked along a new first dim;
- NumPy array: stacked, as a tensor (string and object arrays are an error);
- NumPy scalar: a 1-D tensor of its dtype; Python float: float64; int: int64; bool: bool;
- str / bytes: left as a list;
- mapping: a mapping of the same type, each key collated;
- namedtuple: the same namedtuple of collated fields;
- other sequences (tuples included, as in PyTorch): a list of collated fields; every sample
  must have the same length.

default_convert turns NumPy arrays and scalars into tensors, recursing through the same
containers, and leaves everything else as it is (the `batch_size=None` collate).
"""

import collections.abc
import copy

import numpy as np

from backprop._core import Tensor

_ERROR = "default_collate: batch must contain tensors, numpy arrays, numbers, dicts or lists; found {}"


def _numpy_is_numeric(a):
    return a.dtype.kind in "biufc"


def default_convert(data):
    """NumPy arrays and scalars in `data` (at any depth of mappings, namedtuples and
    sequences) as tensors; everything else unchanged."""
    from backprop import from_numpy, tensor

    if isinstance(data, Tensor):
        return data
    if isinstance(data, np.ndarray):
        return from_numpy(np.ascontiguousarray(data)) if _numpy_is_numeric(data) else data
    if isinstance(data, np.generic):
        return tensor(np.asarray(data)) if _numpy_is_numeric(np.asarray(data)) else data
    if isinstance(data, collections.abc.Mapping):
        return _same_mapping(data, {k: default_convert(v) for k, v in data.items()})
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return _same_sequence(data, [default_convert(d) for d in data])
    return data


def default_collate(batch):
    """Collates a list of samples into a batch (rules in the module docstring)."""
    from backprop import from_numpy, stack, tensor

    elem = batch[0]
    if isinstance(elem, Tensor):
        return stack(list(batch))
    if isinstance(elem, np.ndarray):
        if not _numpy_is_numeric(elem):
            raise TypeError(_ERROR.format(elem.dtype))
        return from_numpy(np.stack(batch))
    if isinstance(elem, np.generic):
        if not _numpy_is_numeric(np.asarray(elem)):
            raise TypeError(_ERROR.format(type(elem).__name__))
        return from_numpy(np.asarray(batch))
    if isinstance(elem, bool):
        return tensor(list(batch))
    if isinstance(elem, float):
        from backprop import float64

        return tensor(list(batch), dtype=float64)
    if isinstance(elem, int):
        from backprop import int64

        return tensor(list(batch), dtype=int64)
    if isinstance(elem, (str, bytes)):
        return list(batch)
    if isinstance(elem, collections.abc.Mapping):
        return _same_mapping(elem, {key: default_collate([d[key] for d in batch]) for key in elem})
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):
        return type(elem)(*(default_collate(list(samples)) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        size = len(elem)
        if any(len(d) != size for d in batch):
            raise RuntimeError("default_collate: each element in list of batch should be of equal size")
        fields = [default_collate(list(samples)) for samples in zip(*batch)]
        return fields if isinstance(elem, tuple) else _same_sequence(elem, fields)
    raise TypeError(_ERROR.format(type(elem).__name__))


def _same_mapping(like, values):
    """`values` (a dict) as a mapping of `like`'s type where that type can be built."""
    if isinstance(like, collections.abc.MutableMapping):
        try:
            clone = copy.copy(like)
            clone.update(values)
            return clone
        except Exception:
            pass
    try:
        return type(like)(values)
    except TypeError:
        return values


def _same_sequence(like, values):
    if isinstance(like, list):
        return values
    try:
        return type(like)(values)
    except TypeError:
        return values
