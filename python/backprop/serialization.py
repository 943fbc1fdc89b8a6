"""`save` and `load`: tensors and checkpoints in the safetensors format.

A file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and byte range, then the raw little-endian data. Any safetensors reader
(`safetensors.numpy.load_file`, the Rust crate, ...) reads what `save` writes.

A flat `{name: tensor}` mapping (a `state_dict`) is stored as it is. Anything nested (a
checkpoint `{"model": ..., "optimizer": ..., "epoch": 3}`) is stored with its tensors under
dotted names (`model.fc1.weight`, `optimizer.state.0.exp_avg`) and its structure and
non-tensor values (hyperparameters, step counts) as JSON in the header's `__metadata__`, so
`load` gives back the same structure.
"""

import os
import struct
from collections import OrderedDict

from backprop._core import Tensor

_TREE_KEY = "backprop.tree"
_TO_CODE = {"float32": "F32", "float64": "F64", "int64": "I64", "bool": "BOOL"}
# safetensors dtype code -> (NumPy dtype it is stored as, NumPy dtype it loads as)
_FROM_CODE = {
    "F64": ("<f8", "float64"),
    "F32": ("<f4", "float32"),
    "F16": ("<f2", "float32"),
    "I64": ("<i8", "int64"),
    "I32": ("<i4", "int64"),
    "I16": ("<i2", "int64"),
    "I8": ("i1", "int64"),
    "U32": ("<u4", "int64"),
    "U16": ("<u2", "int64"),
    "U8": ("u1", "int64"),
    "BOOL": ("?", "bool"),
}


def save(obj, path, metadata=None):
    """Writes `obj` to `path` as a safetensors file.

    `obj` is a mapping of names to tensors, or any nesting of dicts, lists and tuples whose
    leaves are tensors, numbers, strings, booleans or None. `metadata` (str -> str) is stored
    in the header's `__metadata__`.
    """
    import json  # imported here: `import backprop` stays free of json's regex machinery

    tensors = OrderedDict()
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if _is_flat_state(obj):
        tensors.update(obj)
    else:
        meta[_TREE_KEY] = json.dumps(_encode(obj, "", tensors), allow_nan=True)
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        data = _tensor_bytes(name, t)
        header[name] = {"dtype": _TO_CODE[t.dtype.name], "shape": list(t.shape), "data_offsets": [offset, offset + len(data)]}
        chunks.append(data)
        offset += len(data)
    if meta:
        header["__metadata__"] = meta
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    raw += b" " * (-len(raw) % 8)  # the data then starts 8-byte aligned, as safetensors writes it
    with open(os.fspath(path), "wb") as f:
        f.write(struct.pack("<Q", len(raw)))
        f.write(raw)
        for data in chunks:
            f.write(data)


def load(path, map_location=None):
    """Reads a safetensors file: the structure `save` was given, or (for files written
    elsewhere) an ordered `{name: tensor}` dict. `map_location` moves tensors to a device."""
    import json

    tensors, meta = _read(os.fspath(path))
    if map_location is not None:
        tensors = OrderedDict((k, v.to(map_location)) for k, v in tensors.items())
    if _TREE_KEY in meta:
        return _decode(json.loads(meta[_TREE_KEY]), tensors, path)
    return tensors


def load_metadata(path):
    """The `__metadata__` strings of a safetensors file (without backprop's own entries)."""
    _, meta = _read(os.fspath(path), with_data=False)
    return {k: v for k, v in meta.items() if k != _TREE_KEY}


def _is_flat_state(obj):
    return hasattr(obj, "items") and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _tensor_bytes(name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"save: entry {name!r} is {type(t).__name__}, not a tensor")
    a = t.detach().cpu().contiguous().numpy()
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def _encode(obj, name, tensors):
    """JSON for `obj`, with its tensors moved into `tensors` under dotted names."""
    if isinstance(obj, Tensor):
        if name in tensors:
            raise ValueError(f"save: two entries would both be stored as {name!r}; rename one of them")
        tensors[name] = obj
        return {"$tensor": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    child = lambda key: f"{name}.{key}" if name else str(key)  # noqa: E731
    if hasattr(obj, "items"):
        for k in obj:
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"save: dict keys must be strings or numbers, got {type(k).__name__} in {name or 'the top level'}")
        return {"$dict": [[k, _encode(v, child(k), tensors)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, child(i), tensors) for i, v in enumerate(obj)]
        return {"$tuple" if isinstance(obj, tuple) else "$list": items}
    raise TypeError(
        f"save: cannot store {type(obj).__name__} (at {name or 'the top level'}); store tensors, numbers, strings, "
        "None, and dicts, lists or tuples of them"
    )


def _decode(node, tensors, path):
    if isinstance(node, dict):
        if "$tensor" in node:
            key = node["$tensor"]
            if key not in tensors:
                raise ValueError(f"load: {path} is inconsistent: its structure names a tensor {key!r} that the file lacks")
            return tensors[key]
        if "$dict" in node:
            return OrderedDict((k, _decode(v, tensors, path)) for k, v in node["$dict"])
        if "$list" in node:
            return [_decode(v, tensors, path) for v in node["$list"]]
        if "$tuple" in node:
            return tuple(_decode(v, tensors, path) for v in node["$tuple"])
        raise ValueError(f"load: {path} has an unknown structure entry {sorted(node)}")
    return node


def _read(path, with_data=True):
    import json

    import numpy as np

    from backprop import from_numpy

    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            raise ValueError(f"load: {path} is not a safetensors file (shorter than its 8-byte header length)")
        (n,) = struct.unpack("<Q", head)
        size = os.fstat(f.fileno()).st_size
        if n > size - 8:
            raise ValueError(f"load: {path} is not a safetensors file (header length {n} exceeds the file's {size} bytes)")
        try:
            header = json.loads(f.read(n).decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ValueError(f"load: {path} is not a safetensors file (its header is not JSON: {e})") from e
        meta = header.pop("__metadata__", None) or {}
        if not with_data:
            return None, meta
        data = bytearray(size - 8 - n)
        if f.readinto(data) != len(data):
            raise ValueError(f"load: {path} is truncated")
    tensors = OrderedDict()
    for name, info in header.items():
        code, shape, (start, end) = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _FROM_CODE:
            raise ValueError(f"load: tensor {name!r} in {path} has dtype {code}, which backprop cannot hold (it has {sorted(_FROM_CODE)})")
        stored, loaded = _FROM_CODE[code]
        count = int(np.prod(shape, dtype=np.int64))
        if not 0 <= start <= end <= len(data) or end - start != count * np.dtype(stored).itemsize:
            raise ValueError(f"load: tensor {name!r} in {path} has byte range [{start}, {end}) that does not fit its shape {shape} or the file")
        a = np.frombuffer(data, dtype=stored, count=count, offset=start).reshape(shape)
        if a.dtype != np.dtype(loaded) or not a.dtype.isnative:
            a = a.astype(loaded)
        tensors[name] = from_numpy(a)
    return tensors, meta
