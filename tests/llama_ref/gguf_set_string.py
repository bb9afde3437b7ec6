"""Copies a GGUF v3 file with one string metadata value replaced (Python standard library only), so tests can
label a vocabulary with another pre-tokenizer for llama.cpp.
  python3 gguf_set_string.py IN.gguf OUT.gguf KEY VALUE
"""
import struct
import sys

SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


def skip_value(buf, at, t):
    if t == 8:
        n = struct.unpack_from("<Q", buf, at)[0]
        return at + 8 + n
    if t == 9:
        et, n = struct.unpack_from("<IQ", buf, at)
        at += 12
        for _ in range(n):
            at = skip_value(buf, at, et)
        return at
    return at + SIZES[t]


def main():
    src, dst, key, value = sys.argv[1:5]
    buf = open(src, "rb").read()
    magic, version, n_tensors, n_kv = struct.unpack_from("<4sIQQ", buf, 0)
    assert magic == b"GGUF" and version == 3, "not a GGUF v3 file"
    at, out, found, alignment = 24, bytearray(buf[:24]), False, 32
    for _ in range(n_kv):
        n = struct.unpack_from("<Q", buf, at)[0]
        name = buf[at + 8:at + 8 + n].decode()
        t = struct.unpack_from("<I", buf, at + 8 + n)[0]
        start, end = at, skip_value(buf, at + 12 + n, t)
        if name == "general.alignment":
            alignment = struct.unpack_from("<I", buf, at + 12 + n)[0]
        if name == key:
            assert t == 8, f"{key} is not a string"
            v = value.encode()
            out += buf[start:at + 12 + n] + struct.pack("<Q", len(v)) + v
            found = True
        else:
            out += buf[start:end]
        at = end
    assert found, f"{key} is not in {src}"
    info_start = at
    for _ in range(n_tensors):
        n = struct.unpack_from("<Q", buf, at)[0]
        dims = struct.unpack_from("<I", buf, at + 8 + n)[0]
        at += 8 + n + 4 + 8 * dims + 4 + 8
    out += buf[info_start:at]
    data = (at + alignment - 1) // alignment * alignment
    out += b"\0" * ((-len(out)) % alignment)
    out += buf[data:]
    open(dst, "wb").write(out)


if __name__ == "__main__":
    main()
