"""Minimal GGUF v3 reading (metadata only) and writing (metadata and F32 tensors), for the hybrid oracle.

Enough for train/export_gguf_hybrid.py to copy a shipped model's tokenizer.ggml.* keys and write an F32
`qwen35` file that llama.cpp loads; ternspec's own reader and writer are the C++ ones in target/formats/.
"""
import struct

import numpy as np

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
_SCALAR = {U8: "<B", I8: "<b", U16: "<H", I16: "<h", U32: "<I", I32: "<i", F32: "<f", BOOL: "<?", U64: "<Q",
           I64: "<q", F64: "<d"}
ALIGN = 32


def _read_value(f, t):
    if t == STR:
        n = struct.unpack("<Q", f.read(8))[0]
        return f.read(n).decode("utf-8")
    if t == ARR:
        et, n = struct.unpack("<IQ", f.read(12))
        return (et, [_read_value(f, et) for _ in range(n)])
    fmt = _SCALAR[t]
    return struct.unpack(fmt, f.read(struct.calcsize(fmt)))[0]


def read_metadata(path):
    """key -> (type, value); arrays as (ARR, (element type, list))."""
    with open(path, "rb") as f:
        magic, version, _, nkv = struct.unpack("<4sIQQ", f.read(24))
        if magic != b"GGUF" or version not in (2, 3):
            raise ValueError(f"{path}: not a GGUF v2/v3 file")
        out = {}
        for _ in range(nkv):
            key = _read_value(f, STR)
            t = struct.unpack("<I", f.read(4))[0]
            out[key] = (t, _read_value(f, t))
        return out


def _write_value(f, t, v):
    if t == STR:
        b = v.encode("utf-8")
        f.write(struct.pack("<Q", len(b)) + b)
    elif t == ARR:
        et, items = v
        f.write(struct.pack("<IQ", et, len(items)))
        for x in items:
            _write_value(f, et, x)
    else:
        f.write(struct.pack(_SCALAR[t], v))


def write_f32(path, metadata, tensors):
    """metadata: key -> (type, value); tensors: name -> numpy array in row-major [rows, cols] order (GGUF lists
    dimensions fastest first, so a [rows, cols] array is written as ne = (cols, rows))."""
    with open(path, "wb") as f:
        f.write(struct.pack("<4sIQQ", b"GGUF", 3, len(tensors), len(metadata)))
        for k, (t, v) in metadata.items():
            _write_value(f, STR, k)
            f.write(struct.pack("<I", t))
            _write_value(f, t, v)
        offset, blobs = 0, []
        for name, a in tensors.items():
            a = np.ascontiguousarray(a, dtype=np.float32)
            _write_value(f, STR, name)
            f.write(struct.pack("<I", a.ndim))
            for d in reversed(a.shape):
                f.write(struct.pack("<Q", d))
            f.write(struct.pack("<IQ", 0, offset))  # type 0: F32
            blobs.append(a)
            offset += (a.nbytes + ALIGN - 1) // ALIGN * ALIGN
        f.write(b"\0" * ((-f.tell()) % ALIGN))
        for a in blobs:
            f.write(a.tobytes())
            f.write(b"\0" * ((-a.nbytes) % ALIGN))
