"""Reading PyTorch's `torch.save` files (`.pt`, `.pth`, `pytorch_model.bin`) without torch.

Two layouts: the zip archive of torch >= 1.6 (`<name>/data.pkl` plus one entry per storage,
`<name>/data/<key>`) and the legacy stream (pickles of a magic number, protocol and system
info, the object, the storage keys, then each storage as an int64 element count and its
bytes). Both pickle the object with storages as persistent ids and tensors rebuilt by
`torch._utils._rebuild_tensor_v2`.

With `weights_only=True` (the default, as in PyTorch >= 2.6) the unpickler admits only
PyTorch's weights-only globals: tensors, parameters, storages, dtypes, `OrderedDict`,
`Counter`, `set`, `complex`, `bytearray`, and plain containers and numbers (which need no
globals). Anything else (`os.system`, a user class) is refused before it is called.
"""

import collections
import io
import pickle
import struct
import zipfile
import zlib

import numpy as np

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# What zipfile raises for a damaged archive (an unsupported version or compression included).
_ZIP_ERRORS = (
    zipfile.BadZipFile, OSError, ValueError, EOFError, zlib.error, NotImplementedError, struct.error, UnicodeDecodeError,
    RuntimeError, OverflowError, MemoryError,  # "File ... is encrypted" (a flipped flag bit), absurd offsets
)

# torch storage class -> NumPy dtype of its elements ("bf16": bfloat16, read as its 16-bit patterns)
_STORAGES = {
    "FloatStorage": "<f4",
    "DoubleStorage": "<f8",
    "HalfStorage": "<f2",
    "BFloat16Storage": "bf16",
    "LongStorage": "<i8",
    "IntStorage": "<i4",
    "ShortStorage": "<i2",
    "CharStorage": "i1",
    "ByteStorage": "u1",
    "BoolStorage": "?",
    "UntypedStorage": "u1",
}
_DTYPE_NAMES = {
    "float32", "float", "float64", "double", "float16", "half", "bfloat16", "int64", "long", "int32", "int",
    "int16", "short", "int8", "uint8", "bool",
}


class _StorageType:
    def __init__(self, name) -> None:
        self.name = name
        self.dtype = _STORAGES[name]


class _Storage:
    """One storage's elements (a flat NumPy array) and the tensors already built on it."""

    def __init__(self, key, array) -> None:
        self.key = key
        self.array = array
        self.views = {}
        self.bfloat16 = False  # `array` holds bfloat16 bit patterns as int16


class _Marker:
    def __init__(self, name) -> None:
        self.name = name


_PARAMETER = _Marker("torch.nn.parameter.Parameter")
_TENSOR = _Marker("torch.Tensor")


def _encode(obj, encoding="latin1"):
    if encoding != "latin1" or not isinstance(obj, str):
        raise pickle.UnpicklingError("_codecs.encode is admitted only for latin1 strings (pickled bytes)")
    return obj.encode("latin1")


def _counter(*args):
    return collections.Counter(*args)


class Reader:
    """Unpickles one torch.save payload; `fail(tensor, field, why)` raises the LoadError."""

    def __init__(self, fail, weights_only, place) -> None:
        self.fail = fail
        self.weights_only = weights_only
        self.place = place

    # ---- the admitted globals -----------------------------------------------------------

    def globals(self):
        g = {
            ("collections", "OrderedDict"): collections.OrderedDict,
            ("collections", "Counter"): _counter,
            ("builtins", "set"): set,
            ("builtins", "frozenset"): frozenset,
            ("builtins", "complex"): complex,
            ("builtins", "bytearray"): bytearray,
            ("_codecs", "encode"): _encode,
            ("torch", "Size"): tuple,
            ("torch", "device"): lambda *a: ":".join(str(x) for x in a),
            ("torch", "Tensor"): _TENSOR,
            ("torch.nn.parameter", "Parameter"): _PARAMETER,
            ("torch.serialization", "_get_layout"): lambda name: name,
            ("torch._utils", "_rebuild_tensor_v2"): self.rebuild_tensor,
            ("torch._utils", "_rebuild_tensor"): self.rebuild_tensor,
            ("torch._utils", "_rebuild_parameter"): self.rebuild_parameter,
            ("torch._utils", "_rebuild_parameter_with_state"): self.rebuild_parameter,
            ("torch._tensor", "_rebuild_from_type_v2"): self.rebuild_from_type,
        }
        for name in _STORAGES:
            g[("torch", name)] = _StorageType(name)
            g[("torch.storage", name)] = _StorageType(name)
        for name in _DTYPE_NAMES:
            g[("torch", name)] = name
        return g

    def unpickler(self, file, persistent_load):
        allowed = self.globals()
        reader = self

        class Restricted(pickle.Unpickler):
            def find_class(self, module, name):
                if module == "__builtin__":  # protocol 2 (torch.save's) spells builtins the Python 2 way
                    module = "builtins"
                if (module, name) in allowed:
                    return allowed[(module, name)]
                if reader.weights_only or module.split(".")[0] == "torch":
                    reader.fail(
                        None,
                        "pickle",
                        f"refused to load the global {module}.{name}: weights-only loading admits only tensors, "
                        "containers and plain numbers (pass weights_only=False only for a file you trust)",
                    )
                return super().find_class(module, name)

            def persistent_load(self, pid):
                return persistent_load(pid)

        return Restricted(file)

    # ---- rebuilding tensors ---------------------------------------------------------------

    def rebuild_tensor(self, storage, offset, size, stride, requires_grad=False, backward_hooks=None, metadata=None):
        if not isinstance(storage, _Storage):
            self.fail(None, "pickle", "a tensor is rebuilt from something that is not a storage")
        size, stride = tuple(size), tuple(stride)
        key = (offset, size, stride)
        if key in storage.views:  # tied weights: the same view of the same storage is one tensor
            return storage.views[key]
        a = storage.array
        if not (isinstance(offset, int) and len(size) == len(stride) and all(isinstance(v, int) and v >= 0 for v in size + stride)):
            self.fail(None, "size/stride", f"tensor on storage {storage.key} has an invalid layout {size}/{stride}/{offset}")
        extent = 0 if 0 in size else offset + sum((n - 1) * s for n, s in zip(size, stride)) + 1
        if offset < 0 or extent > len(a):
            self.fail(None, "size/stride", f"tensor of size {list(size)} at offset {offset} runs past its storage {storage.key} of {len(a)} elements")
        from backprop import from_numpy

        view = np.lib.stride_tricks.as_strided(a[offset:] if extent else a[:0], size, [s * a.itemsize for s in stride])
        t = from_numpy(np.array(_loadable(view)))
        if storage.bfloat16:
            from backprop import _core, bfloat16

            t = _core._bitcast(t, bfloat16)
        if requires_grad and t.dtype.is_floating_point:
            t.requires_grad_()
        t = self.place(t, storage.location)
        storage.views[key] = t
        return t

    def rebuild_parameter(self, data, requires_grad, backward_hooks, state=None):
        from backprop.nn import Parameter

        return Parameter(data.detach(), requires_grad)

    def rebuild_from_type(self, func, new_type, args, state):
        t = func(*args)
        return t


def _loadable(a):
    """`a` (native byte order) in its own dtype; the unsigned widths backprop lacks (uint16,
    uint32, uint64) widen to int64."""
    if a.dtype.kind == "u" and a.dtype.itemsize > 1:
        return a.astype(np.int64)
    return a


def _storage_array(raw, dtype, numel, big_endian, fail, key):
    if dtype == "bf16":
        itemsize, np_dtype = 2, np.dtype(">u2" if big_endian else "<u2")
    else:
        np_dtype = np.dtype(dtype)
        if big_endian and np_dtype.itemsize > 1:
            np_dtype = np_dtype.newbyteorder(">")
        itemsize = np_dtype.itemsize
    if not isinstance(numel, int) or numel < 0 or len(raw) < numel * itemsize:
        fail(None, "storage", f"storage {key} should hold {numel} elements of {itemsize} bytes but has {len(raw)} bytes")
    a = np.frombuffer(raw, dtype=np_dtype, count=numel)
    if dtype == "bf16":
        return a.astype(np.dtype("=u2")).view(np.int16)
    return a.astype(np_dtype.newbyteorder("="), copy=False)


def read_zip(data, fail, weights_only, place):
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        names = archive.namelist()
    except _ZIP_ERRORS as e:
        fail(None, "zip", f"is not a readable zip archive ({type(e).__name__}: {e})")
    pkl = [n for n in names if n.endswith("data.pkl") and n.count("/") == 1]
    if not pkl:
        fail(None, "data.pkl", "is a zip archive without a data.pkl: not a torch.save file")
    prefix = pkl[0][: -len("data.pkl")]

    def read(entry):
        try:
            return archive.read(entry)
        except _ZIP_ERRORS as e:
            fail(None, "zip", f"entry {entry} cannot be read ({type(e).__name__}: {e})")

    big_endian = False
    if prefix + "byteorder" in names:
        big_endian = read(prefix + "byteorder").strip() == b"big"
    reader = Reader(fail, weights_only, place)
    storages = {}

    def persistent_load(pid):
        if not (isinstance(pid, tuple) and len(pid) == 5 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            fail(None, "pickle", f"has a persistent id that is not a storage: {pid!r:.80}")
        _, stype, key, location, numel = pid
        if key not in storages:
            entry = f"{prefix}data/{key}"
            if entry not in names:
                fail(None, "storage", f"names storage {key}, which the archive lacks")
            s = _Storage(key, _storage_array(read(entry), stype.dtype, numel, big_endian, fail, key))
            s.location = str(location)
            s.bfloat16 = stype.dtype == "bf16"
            storages[key] = s
        return storages[key]

    return _unpickle(reader, io.BytesIO(read(pkl[0])), persistent_load, fail)


def read_legacy(data, fail, weights_only, place):
    from backprop.serialization import LoadError

    f = io.BytesIO(data)
    reader = Reader(fail, True, place)
    try:
        magic, protocol, sys_info = (reader.unpickler(f, _no_persistent(fail)).load() for _ in range(3))
    except LoadError:
        raise
    except Exception as e:
        fail(None, "header", f"is not a legacy torch.save stream ({type(e).__name__}: {e})")
    if magic != LEGACY_MAGIC or protocol != 1001 or not isinstance(sys_info, dict):
        fail(None, "header", "is not a legacy torch.save stream (wrong magic number or protocol)")
    big_endian = not sys_info.get("little_endian", True)
    # The storages' bytes follow the object, so: skip over the object once (storages as
    # placeholders), read the bytes, then unpickle the object for real.
    start = f.tell()
    seen = {}

    def placeholder(pid):
        if not (isinstance(pid, tuple) and len(pid) == 6 and pid[0] == "storage" and isinstance(pid[1], _StorageType)):
            fail(None, "pickle", f"has a persistent id that is not a storage: {pid!r:.80}")
        if pid[5] is not None:
            fail(None, "storage", "uses storage views (files from torch < 0.4), which backprop does not read")
        seen[pid[2]] = pid
        return _Storage(pid[2], np.zeros(0))

    skim = Reader(fail, weights_only, lambda t, loc: t)
    skim.rebuild_tensor = skim.rebuild_parameter = lambda *a, **k: None
    skim.rebuild_from_type = lambda *a, **k: None
    _unpickle(skim, f, placeholder, fail)
    keys = _unpickle(reader, f, _no_persistent(fail), fail)
    if not isinstance(keys, list):
        fail(None, "storage", "has no list of storage keys after the object")
    storages = {}
    for key in keys:
        head = f.read(8)
        if len(head) != 8 or key not in seen:
            fail(None, "storage", f"storage {key} is missing or truncated")
        (numel,) = struct.unpack("<q", head)
        stype, location = seen[key][1], seen[key][3]
        itemsize = 2 if stype.dtype == "bf16" else np.dtype(stype.dtype).itemsize
        nbytes = numel * itemsize
        if not 0 <= nbytes <= len(data) - f.tell():
            fail(None, "storage", f"storage {key} claims {numel} elements, more than the file holds")
        s = _Storage(key, _storage_array(f.read(nbytes), stype.dtype, numel, big_endian, fail, key))
        s.location = str(location)
        storages[key] = s

    def persistent_load(pid):
        if pid[2] not in storages:
            fail(None, "storage", f"storage {pid[2]} has no data in the file")
        return storages[pid[2]]

    f.seek(start)
    return _unpickle(Reader(fail, weights_only, place), f, persistent_load, fail)


def _no_persistent(fail):
    def persistent_load(pid):
        fail(None, "pickle", "has a persistent id where none belongs")

    return persistent_load


def _unpickle(reader, f, persistent_load, fail):
    from backprop.serialization import LoadError

    try:
        return reader.unpickler(f, persistent_load).load()
    except LoadError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, KeyError, IndexError, AttributeError,
            struct.error, RecursionError, OverflowError, MemoryError, zipfile.BadZipFile, OSError, zlib.error, UnicodeDecodeError) as e:
        # MemoryError too: a corrupt length field asks for an absurd allocation
        fail(None, "pickle", f"could not be unpickled ({type(e).__name__}: {e})")
