"""The IDX file format of MNIST and Fashion-MNIST (plain or gzip-compressed).

A file is a 4-byte magic number (two zero bytes, a type code, the number of dimensions),
one big-endian uint32 per dimension, then the values in row-major order, big-endian.
"""

import gzip
import os
import struct

_GZIP_MAGIC = b"\x1f\x8b"

# type code -> NumPy dtype string (big-endian, as stored)
_TYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


class IDXError(ValueError):
    """A file that is not a valid IDX file (wrong magic number, truncated data...)."""


def _read_bytes(path):
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as e:
            raise IDXError(f"{path}: the gzip stream is corrupt or truncated ({e}); download the file again") from e
    return raw


def read_idx(path):
    """The contents of an IDX file as a NumPy array of its stored type (native byte order).

    Gzip compression is detected from the content, not the file name.
    """
    import numpy as np

    path = os.fspath(path)
    raw = _read_bytes(path)
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _TYPES:
        raise IDXError(f"{path}: not an IDX file (bad magic number {raw[:4].hex() or 'empty file'})")
    code, ndim = raw[2], raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise IDXError(f"{path}: truncated header ({len(raw)} bytes for {ndim} dimensions)")
    shape = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_TYPES[code])
    count = int(np.prod(shape, dtype=np.int64)) if ndim else 1
    expected = header + count * dtype.itemsize
    if len(raw) != expected:
        raise IDXError(
            f"{path}: {len(raw)} bytes, but a {'x'.join(map(str, shape))} array of {dtype.name} needs {expected}; "
            "the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype=dtype, count=count, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="), copy=False) if dtype.byteorder == ">" else data


def write_idx(path, array, compress=None):
    """Writes `array` (uint8, int8, int16, int32, float32 or float64) as an IDX file;
    gzip-compressed when `compress` is true or, by default, when `path` ends in `.gz`."""
    import numpy as np

    path = os.fspath(path)
    array = np.asarray(array)
    codes = {np.dtype(v).newbyteorder("=").str[1:]: k for k, v in _TYPES.items()}
    key = array.dtype.newbyteorder("=").str[1:]
    if key not in codes:
        raise TypeError(f"write_idx: IDX cannot store {array.dtype}; use uint8, int8, int16, int32, float32 or float64")
    code = codes[key]
    body = struct.pack(">BBBB", 0, 0, code, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    body += np.ascontiguousarray(array, dtype=np.dtype(_TYPES[code])).tobytes()
    if compress if compress is not None else path.endswith(".gz"):
        body = gzip.compress(body)
    with open(path, "wb") as f:
        f.write(body)
