"""`save` and `load`: tensors and checkpoints in the safetensors format.

A file is an 8-byte little-endian header length, a JSON header naming each tensor's dtype,
shape and byte range, then the raw little-endian data. Any safetensors reader
(`safetensors.numpy.load_file`, the Rust crate, ...) reads what `save` writes.

A flat `{name: tensor}` mapping (a `state_dict`) is stored as it is. Anything nested (a
checkpoint `{"model": ..., "optimizer": ..., "epoch": 3}`) is stored with its tensors under
dotted names (`model.fc1.weight`, `optimizer.state.0.exp_avg`) and its structure and
non-tensor values (hyperparameters, step counts) as JSON in the header's `__metadata__`, so
`load` gives back the same structure. A tensor that appears twice (tied weights) is stored
once and comes back as one tensor under both names.

`save` to a path writes a temporary file in the same directory, flushes and fsyncs it, then
renames it over the target, so a failure (disk full, interrupt) leaves an existing file as it
was. `load` validates the whole header before reading any data and reports every problem as
one `LoadError` naming the file, the tensor and the field. `load` also reads PyTorch's
`torch.save` files (see `backprop._torch_format`).
"""

from typing import Any

import contextlib
import io
import os
import pickle
import secrets
import struct
from collections import OrderedDict

from backprop import _core
from backprop._core import Tensor, bfloat16, int16


class LoadError(ValueError, pickle.UnpicklingError):
    """A file `load` cannot read: `file`, `tensor` (None for the file as a whole) and `field`
    say where the problem is. Also a `pickle.UnpicklingError`, which PyTorch raises for a
    refused pickle."""

    def __init__(self, file, tensor, field, why) -> None:
        self.file, self.tensor, self.field = file, tensor, field
        where = f"tensor {tensor!r}, field {field!r}" if tensor is not None else f"field {field!r}"
        super().__init__(f"load: {file}: {where}: {why}")

_TREE_KEY = "backprop.tree"
_PT_ZIP = b"PK\x03\x04"
_PT_LEGACY = b"\x80\x02\x8a\x0a" + (0x1950A86A20F9469CFC6C).to_bytes(10, "little")
_TO_CODE = {
    "float32": "F32", "float64": "F64", "float16": "F16", "bfloat16": "BF16", "int64": "I64", "int32": "I32",
    "int16": "I16", "int8": "I8", "uint8": "U8", "bool": "BOOL",
}
# safetensors dtype code -> (NumPy dtype it is stored as, NumPy dtype it loads as). Every
# dtype backprop has loads as itself; BF16 is read as its int16 bit patterns and reinterpreted;
# U16/U32 (which backprop lacks) widen to int64.
_FROM_CODE = {
    "F64": ("<f8", "float64"),
    "F32": ("<f4", "float32"),
    "F16": ("<f2", "float16"),
    "BF16": ("<i2", "int16"),
    "I64": ("<i8", "int64"),
    "I32": ("<i4", "int32"),
    "I16": ("<i2", "int16"),
    "I8": ("i1", "int8"),
    "U32": ("<u4", "int64"),
    "U16": ("<u2", "int64"),
    "U8": ("u1", "uint8"),
    "BOOL": ("?", "bool"),
}


def save(obj: Any, f: Any, metadata: dict[str, str] | None = None) -> None:
    """Writes `obj` to `f` (a path, or a binary file object such as `io.BytesIO`) as a
    safetensors file.

    `obj` is a mapping of names to tensors, or any nesting of dicts, lists and tuples whose
    leaves are tensors, numbers, strings, booleans or None. `metadata` (str -> str) is stored
    in the header's `__metadata__`. Writing to a path replaces the file atomically.
    """
    import json  # imported here: `import backprop` stays free of json's regex machinery

    tensors = OrderedDict()
    meta = {str(k): str(v) for k, v in (metadata or {}).items()}
    if _is_flat_state(obj) and len({_identity(t) for t in obj.values()}) == len(obj):
        tensors.update(obj)
    else:
        meta[_TREE_KEY] = json.dumps(_encode(obj, "", tensors, {}), allow_nan=True)
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
    parts = [struct.pack("<Q", len(raw)), raw] + chunks
    if hasattr(f, "write"):
        _write_parts(f, parts)
    else:
        _write_atomically(os.fspath(f), parts)


def _write_parts(f, parts):
    for part in parts:
        f.write(part)


def _write_atomically(path, parts):
    """Writes `parts` to a new file beside `path`, fsyncs it and renames it over `path`."""
    path = os.path.realpath(path)  # through a symlink, not over it
    directory = os.path.dirname(path)
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as out:
            _write_parts(out, parts)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    with contextlib.suppress(OSError):  # make the rename itself durable where the OS allows
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def load(f: Any, map_location: Any = None, weights_only: bool | None = None) -> Any:
    """Reads what `save` wrote, a safetensors file from elsewhere (an ordered
    `{name: tensor}` dict) or a PyTorch `torch.save` file (`.pt`, `.pth`, `.bin`; zip or
    legacy format), from a path or a binary file object.

    map_location: where tensors go: None (the CPU), a device or its name, a dict mapping
        the saved location (`"cuda:0"`) to a device, or a callable `(tensor, location)`
        returning the tensor to use. PyTorch files saved on a GPU load on the CPU unless
        map_location says otherwise.
    weights_only: for PyTorch files, True (the default, as in PyTorch >= 2.6) admits only
        tensors, containers and plain numbers; False also unpickles other objects, running
        their code: only for files you trust. safetensors files hold no code either way.
    Raises LoadError (a ValueError) for a file that is malformed or refused.
    """
    name, data = _read_source(f)
    place = _placer(map_location)
    fail = _failer(name)
    if data[:4] == _PT_ZIP or data[: len(_PT_LEGACY)] == _PT_LEGACY:
        from backprop import _torch_format

        reader = _torch_format.read_zip if data[:4] == _PT_ZIP else _torch_format.read_legacy
        return reader(data, fail, weights_only is not False, place)
    import json

    tensors, meta = _parse_safetensors(data, name)
    tensors = OrderedDict((k, place(v, "cpu")) for k, v in tensors.items())
    if _TREE_KEY in meta:
        try:
            tree = json.loads(meta[_TREE_KEY])
        except (ValueError, RecursionError) as e:
            raise LoadError(name, None, "__metadata__", f"backprop's structure entry is not JSON ({e})") from None
        try:
            return _decode(tree, tensors, name)
        except LoadError:
            raise
        except (TypeError, ValueError, KeyError, IndexError, AttributeError, RecursionError) as e:
            raise LoadError(name, None, "__metadata__", f"backprop's structure entry is malformed ({type(e).__name__}: {e})") from None
    return tensors


def load_metadata(f):
    """The `__metadata__` strings of a safetensors file (without backprop's own entries)."""
    name, data = _read_source(f)
    _, meta = _parse_safetensors(data, name, with_data=False)
    return {k: v for k, v in meta.items() if k != _TREE_KEY}


def _read_source(f):
    if hasattr(f, "read"):
        data = f.read()
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise TypeError(f"load: the file object must be opened in binary mode (read() gave {type(data).__name__})")
        return getattr(f, "name", None) or "<file object>", bytes(data)
    path = os.fspath(f)
    with open(path, "rb") as fh:
        return path, fh.read()


def _failer(name):
    def fail(tensor, field, why):
        raise LoadError(name, tensor, field, why)

    return fail


def _placer(map_location):
    if map_location is None:
        return lambda t, location: t
    if callable(map_location) and not isinstance(map_location, (str, bytes)) and not hasattr(map_location, "type"):
        def place(t, location):
            out = map_location(t, location)
            return t if out is None else out

        return place
    if isinstance(map_location, dict):
        return lambda t, location: t.to(map_location[location]) if location in map_location else t
    return lambda t, location: t.to(map_location)


def _is_flat_state(obj):
    return hasattr(obj, "items") and all(isinstance(k, str) and isinstance(v, Tensor) for k, v in obj.items())


def _identity(t):
    """What makes two tensors the same data: the same memory and layout (a parameter and
    its `.detach()`, tied weights), or, off the CPU, the same object."""
    if not isinstance(t, Tensor):
        return ("object", id(t))
    if t.device.type == "cpu" and t.numel() > 0 and t.dtype != bfloat16:  # empty tensors may share a dangling pointer
        a = t.detach().numpy()
        return (a.__array_interface__["data"][0], a.shape, a.strides, t.dtype.name)
    return ("object", id(t))


def _tensor_bytes(name, t):
    if not isinstance(t, Tensor):
        raise TypeError(f"save: entry {name!r} is {type(t).__name__}, not a tensor")
    t = t.detach().cpu().contiguous()
    a = (_core._bitcast(t, int16) if t.dtype == bfloat16 else t).numpy()
    return a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()


def _encode(obj, name, tensors, stored):
    """JSON for `obj`, with its tensors moved into `tensors` under dotted names; a tensor
    seen before (`stored`: identity -> name) is referred to, not stored again."""
    if isinstance(obj, Tensor):
        key = _identity(obj)
        if key in stored:
            return {"$tensor": stored[key]}
        if name in tensors:
            raise ValueError(f"save: two entries would both be stored as {name!r}; rename one of them")
        tensors[name] = obj
        stored[key] = name
        return {"$tensor": name}
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    child = lambda key: f"{name}.{key}" if name else str(key)  # noqa: E731
    if hasattr(obj, "items"):
        for k in obj:
            if not (k is None or isinstance(k, (bool, int, float, str))):
                raise TypeError(f"save: dict keys must be strings or numbers, got {type(k).__name__} in {name or 'the top level'}")
        return {"$dict": [[k, _encode(v, child(k), tensors, stored)] for k, v in obj.items()]}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, child(i), tensors, stored) for i, v in enumerate(obj)]
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
                raise LoadError(path, key, "__metadata__", "the structure names a tensor that the file lacks")
            return tensors[key]
        if "$dict" in node:
            pairs = node["$dict"]
            if not isinstance(pairs, list) or not all(isinstance(p, list) and len(p) == 2 for p in pairs):
                raise LoadError(path, None, "__metadata__", "a $dict entry must be a list of [key, value] pairs")
            return OrderedDict((k, _decode(v, tensors, path)) for k, v in pairs)
        if "$list" in node:
            return [_decode(v, tensors, path) for v in node["$list"]]
        if "$tuple" in node:
            return tuple(_decode(v, tensors, path) for v in node["$tuple"])
        raise LoadError(path, None, "__metadata__", f"unknown structure entry {sorted(node)}")
    return node


def _parse_safetensors(data, name, with_data=True):
    """(tensors, metadata) of a safetensors file's bytes, the whole header validated first."""
    import json

    import numpy as np

    from backprop import from_numpy

    if len(data) < 8:
        raise LoadError(name, None, "header length", "not a safetensors file (shorter than its 8-byte header length)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise LoadError(name, None, "header length", f"not a safetensors file (header length {n} exceeds the file's {len(data)} bytes)")
    try:
        header = json.loads(data[8 : 8 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError) as e:
        raise LoadError(name, None, "header", f"not a safetensors file (its header is not JSON: {e})") from None
    if not isinstance(header, dict):
        raise LoadError(name, None, "header", f"not a safetensors file (its header is a JSON {type(header).__name__}, not an object)")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise LoadError(name, None, "__metadata__", "must map strings to strings")
    if not with_data:
        return None, meta
    body = memoryview(data)[8 + n :]
    entries = [(*_check_entry(name, key, info, len(body)), key) for key, info in header.items()]
    end_so_far, last = 0, None
    for start, end, _, _, key in sorted(entries, key=lambda e: (e[0], e[1])):
        if start < end_so_far:
            raise LoadError(name, key, "data_offsets", f"bytes [{start}, {end}) overlap tensor {last!r}, which ends at {end_so_far}")
        if end > end_so_far:
            end_so_far, last = end, key
    tensors = OrderedDict()
    for start, end, stored, shape, key in entries:
        loaded = _FROM_CODE[header[key]["dtype"]][1]
        count = end - start
        a = np.frombuffer(body, dtype=stored, count=count // np.dtype(stored).itemsize, offset=start).reshape(shape)
        t = from_numpy(a.astype(loaded) if a.dtype != np.dtype(loaded) or not a.dtype.isnative else a.copy())
        tensors[key] = _core._bitcast(t, bfloat16) if header[key]["dtype"] == "BF16" else t
    return tensors, meta


def _check_entry(name, key, info, body_len):
    """(start, end, stored NumPy dtype, shape) of one header entry, or a LoadError."""
    import numpy as np

    if not isinstance(info, dict):
        raise LoadError(name, key, "entry", f"must be an object with dtype, shape and data_offsets, got {type(info).__name__}")
    for field in ("dtype", "shape", "data_offsets"):
        if field not in info:
            raise LoadError(name, key, field, "is missing")
    code = info["dtype"]
    if not isinstance(code, str) or code not in _FROM_CODE:
        raise LoadError(name, key, "dtype", f"{code!r} is not a dtype backprop can hold (it reads {sorted(_FROM_CODE)})")
    shape = info["shape"]
    if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
        raise LoadError(name, key, "shape", f"must be a list of non-negative integers, got {shape!r:.80}")
    offsets = info["data_offsets"]
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(isinstance(o, int) and not isinstance(o, bool) for o in offsets)):
        raise LoadError(name, key, "data_offsets", f"must be a list of two integers, got {offsets!r:.80}")
    start, end = offsets
    if not 0 <= start <= end <= body_len:
        raise LoadError(name, key, "data_offsets", f"[{start}, {end}) is not a byte range inside the {body_len} data bytes")
    stored = _FROM_CODE[code][0]
    count = 1
    for d in shape:
        count *= d
    need = count * np.dtype(stored).itemsize
    if end - start != need:
        raise LoadError(name, key, "data_offsets", f"holds {end - start} bytes, but shape {shape} of {code} needs {need}")
    return start, end, stored, shape
