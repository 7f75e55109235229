"""safetensors files with numpy: the layout hessnorm's C writer uses.

    [8 bytes: N, little-endian] [N bytes: JSON header] [data buffer]

`write_safetensors` sorts the tensors by name (header and data), writes the
header as compact JSON with the keys dtype, shape, data_offsets, escapes
only '"', '\\' and control characters (as \\u00XX) exactly as
src/formats/safetensors_write.c does, pads it with spaces to a multiple of
8 bytes and writes the file atomically.  For the same arrays the bytes are
the C writer's (tests/python_roundtrip.sh checks it).

`read_safetensors` checks what docs/format.md section 5 lists (header
length, JSON object without duplicate keys, entries, sizes, tensors tiling
the buffer exactly) and refuses anything else with a FormatError whose
message is one line: "<file>: <field>: <what is wrong>".
"""
import json
import os
import struct
import tempfile

import numpy as np

from .errors import FormatError

# safetensors dtype <-> numpy dtype (little-endian).  BF16 and the F8/F6/F4
# kinds have no numpy dtype: the reader refuses them by name.
_NP = {
    "F64": "<f8", "F32": "<f4", "F16": "<f2",
    "I64": "<i8", "I32": "<i4", "I16": "<i2", "I8": "i1",
    "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
    "BOOL": "?",
}
# element sizes of every dtype of the specification (for the size check)
_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2,
         "I8": 1, "U64": 8, "U32": 4, "U16": 2, "U8": 1, "BOOL": 1, "C64": 8,
         "F8_E4M3": 1, "F8_E5M2": 1, "F8_E8M0": 1}
_FROM_NP = {np.dtype(v).newbyteorder("<") if np.dtype(v).itemsize > 1 else np.dtype(v): k
            for k, v in _NP.items()}

MAX_HEADER = 100 * 1024 * 1024   # HN_ST_MAX_HEADER of include/hessnorm/safetensors.h
MAX_DIMS = 8                     # HN_ST_MAX_DIMS


def _json_string(s):
    """A JSON string escaped as the C writer's sb_json_string does."""
    out = ['"']
    for ch in s:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def _dtype_name(name, a):
    dt = a.dtype
    key = dt.newbyteorder("<") if dt.itemsize > 1 else dt
    if key not in _FROM_NP:
        raise FormatError('tensor "%s": numpy dtype %s has no safetensors dtype '
                          "(use float64, float32 or int64)" % (name, dt))
    return _FROM_NP[key]


def encode_safetensors(tensors):
    """The file's bytes for {name: array-like}, as write_safetensors writes them."""
    if not isinstance(tensors, dict):
        raise FormatError("safetensors: tensors must be a dict {name: array}")
    parts, blobs, off = [], [], 0
    for name in sorted(tensors):
        if not isinstance(name, str) or not name or name == "__metadata__":
            raise FormatError("safetensors: invalid tensor name %r" % (name,))
        a = np.asarray(tensors[name])
        if a.ndim > MAX_DIMS:
            raise FormatError('tensor "%s": %d dimensions, at most %d' % (name, a.ndim, MAX_DIMS))
        dt = _dtype_name(name, a)
        blob = np.ascontiguousarray(a, dtype=np.dtype(_NP[dt])).tobytes()
        parts.append('%s:{"dtype":"%s","shape":[%s],"data_offsets":[%d,%d]}'
                     % (_json_string(name), dt, ",".join(str(int(d)) for d in a.shape),
                        off, off + len(blob)))
        blobs.append(blob)
        off += len(blob)
    h = ("{" + ",".join(parts) + "}").encode("utf-8")
    h += b" " * ((-len(h)) % 8)
    return struct.pack("<Q", len(h)) + h + b"".join(blobs)


def write_bytes_atomic(path, data):
    """Write data to path through a temporary file in the same folder,
    fsync'ed and renamed over path (complete or absent, as hessnorm does)."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=os.path.basename(path) + ".tmp.", dir=d)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def write_safetensors(path, tensors):
    """Write {name: numpy array} to path (sorted by name, header padded to 8
    bytes with spaces, atomically).  float64, float32, int64, int32 and the
    other numpy dtypes of the specification are kept as they are."""
    try:
        data = encode_safetensors(tensors)
    except FormatError as e:
        raise FormatError("%s: %s" % (path, e)) from None
    write_bytes_atomic(path, data)


def _no_dup_object(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise FormatError("duplicate key %s" % json.dumps(k))
        d[k] = v
    return d


def _is_uint(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def parse_header(raw, source):
    """(header dict without __metadata__, data offset) of the bytes raw."""
    if len(raw) < 8:
        raise FormatError("%s: %d bytes: too short for the 8-byte header length" % (source, len(raw)))
    n = struct.unpack("<Q", raw[:8])[0]
    if n == 0 or n > MAX_HEADER:
        raise FormatError("%s: header length: %d bytes %s" % (
            source, n, "is zero" if n == 0 else "exceeds the limit of %d" % MAX_HEADER))
    if 8 + n > len(raw):
        raise FormatError("%s: header length: %d bytes but the file has %d after the length"
                          % (source, n, len(raw) - 8))
    try:
        text = raw[8:8 + n].decode("utf-8")
        header = json.loads(text, object_pairs_hook=_no_dup_object)
    except UnicodeDecodeError:
        raise FormatError("%s: header: not valid UTF-8" % source) from None
    except FormatError as e:
        raise FormatError("%s: header: %s" % (source, e)) from None
    except ValueError as e:
        raise FormatError("%s: header: invalid JSON: %s" % (source, e)) from None
    if not isinstance(header, dict):
        raise FormatError("%s: header: not a JSON object" % source)
    meta = header.pop("__metadata__", None)
    if meta is not None and not (isinstance(meta, dict)
                                 and all(isinstance(v, str) for v in meta.values())):
        raise FormatError("%s: __metadata__: must be an object of strings" % source)
    buflen = len(raw) - 8 - n
    spans = []
    for name, e in header.items():
        where = '%s: tensor "%s"' % (source, name)
        if not isinstance(e, dict):
            raise FormatError("%s: not an object" % where)
        for key in ("dtype", "shape", "data_offsets"):
            if key not in e:
                raise FormatError("%s: missing %s" % (where, key))
        dt, shape, offs = e["dtype"], e["shape"], e["data_offsets"]
        if not isinstance(dt, str):
            raise FormatError("%s: dtype: must be a string" % where)
        if not (isinstance(shape, list) and len(shape) <= MAX_DIMS and all(_is_uint(d) for d in shape)):
            raise FormatError("%s: shape: must be at most %d non-negative integers" % (where, MAX_DIMS))
        if not (isinstance(offs, list) and len(offs) == 2 and all(_is_uint(v) for v in offs)
                and offs[0] <= offs[1] <= buflen):
            raise FormatError("%s: data_offsets: must be [begin, end] with begin <= end <= %d"
                              % (where, buflen))
        count = 1
        for d in shape:
            count *= d
        if dt in _SIZE and offs[1] - offs[0] != count * _SIZE[dt]:
            raise FormatError("%s: data_offsets: %d bytes for %d elements of %s (%d expected)"
                              % (where, offs[1] - offs[0], count, dt, count * _SIZE[dt]))
        spans.append((offs[0], offs[1], name))
    pos = 0
    for b, e, name in sorted(spans):
        if b != pos:
            raise FormatError('%s: tensor "%s": data_offsets: starts at %d, expected %d (%s)'
                              % (source, name, b, pos, "gap" if b > pos else "overlap"))
        pos = e
    if pos != buflen:
        raise FormatError("%s: data buffer: %d bytes after the last tensor" % (source, buflen - pos))
    return header, 8 + n


def decode_safetensors(raw, source="safetensors"):
    """{name: numpy array} of the bytes of a safetensors file, in name order."""
    header, base = parse_header(raw, source)
    out = {}
    for name in sorted(header):
        e = header[name]
        if e["dtype"] not in _NP:
            raise FormatError('%s: tensor "%s": dtype %s cannot be read into numpy'
                              % (source, name, e["dtype"]))
        b, end = e["data_offsets"]
        a = np.frombuffer(raw[base + b:base + end], dtype=np.dtype(_NP[e["dtype"]]))
        out[name] = a.reshape(e["shape"]).copy()
    return out


def read_safetensors(path):
    """{name: numpy array} (native byte order, a copy) of a safetensors file."""
    with open(path, "rb") as f:
        raw = f.read()
    return decode_safetensors(raw, path)


def describe_safetensors(path):
    """[(name, dtype, shape)] of a file, in name order, without converting
    any data (any dtype of the specification)."""
    with open(path, "rb") as f:
        raw = f.read()
    header, _ = parse_header(raw, path)
    return [(n, header[n]["dtype"], tuple(header[n]["shape"])) for n in sorted(header)]
