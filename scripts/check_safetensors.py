#!/usr/bin/python3
"""Independent, strict reader/validator for safetensors files.

Usage:
    python3 scripts/check_safetensors.py FILE [--expect-tensors name1,name2,...]

Checks performed:
  * 8-byte little-endian header length, within the file;
  * header is UTF-8 JSON object without duplicate keys; optional
    "__metadata__" must map strings to strings;
  * every tensor has dtype in {F64,F32,F16,BF16,I64,I32,I16,I8,U8,U16,U32},
    a shape of non-negative integers and data_offsets [begin, end] with
    end - begin == prod(shape) * dtype size;
  * the data ranges are in bounds, non-overlapping, contiguous and cover the
    whole data section exactly;
  * if __metadata__["crc32c"] exists it must be a JSON-encoded object mapping
    tensor names to 8 lowercase hex digits; the CRC-32C (Castagnoli) of each
    listed tensor's raw bytes is verified;
  * with --expect-tensors, every named tensor must be present.

On success prints "ok FILE: N tensors, M bytes, crc32c verified K" and exits 0;
otherwise prints "error: FILE: <what>" to stderr and exits 1.

Pure Python 3 (no third-party packages needed).
"""
import json
import re
import struct
import sys

DTYPE_SIZES = {
    "F64": 8, "F32": 4, "F16": 2, "BF16": 2,
    "I64": 8, "I32": 4, "I16": 2, "I8": 1,
    "U8": 1, "U16": 2, "U32": 4,
}

# ---------------------------------------------------------------------------
# CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, slicing-by-8.
# ---------------------------------------------------------------------------
_POLY = 0x82F63B78


def _make_tables():
    t0 = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ _POLY if c & 1 else c >> 1
        t0.append(c)
    tables = [t0]
    for _ in range(7):
        prev = tables[-1]
        tables.append([(prev[i] >> 8) ^ t0[prev[i] & 0xFF] for i in range(256)])
    return tables


_T = _make_tables()


def crc32c(data, crc=0):
    """CRC-32C of bytes-like `data`, continuing from a previous result `crc`."""
    t0, t1, t2, t3, t4, t5, t6, t7 = _T
    c = crc ^ 0xFFFFFFFF
    mv = memoryview(data).cast("B")
    n = len(mv)
    n8 = n - (n % 8)
    if n8:
        for (w,) in struct.iter_unpack("<Q", mv[:n8]):
            lo = (w & 0xFFFFFFFF) ^ c
            hi = w >> 32
            c = (t7[lo & 0xFF] ^ t6[(lo >> 8) & 0xFF] ^ t5[(lo >> 16) & 0xFF] ^ t4[lo >> 24] ^
                 t3[hi & 0xFF] ^ t2[(hi >> 8) & 0xFF] ^ t1[(hi >> 16) & 0xFF] ^ t0[hi >> 24])
    for b in mv[n8:]:
        c = (c >> 8) ^ t0[(c ^ b) & 0xFF]
    return c ^ 0xFFFFFFFF


assert crc32c(b"123456789") == 0xE3069283

# ---------------------------------------------------------------------------


class CheckError(Exception):
    pass


def _no_dup_object(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise CheckError(f"duplicate JSON key {k!r}")
        d[k] = v
    return d


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def check_file(path, expect=()):
    try:
        with open(path, "rb") as f:
            blob = f.read()
    except OSError as e:
        raise CheckError(f"cannot read: {e.strerror}")
    size = len(blob)
    if size < 8:
        raise CheckError(f"file too short ({size} bytes) for header length")
    (hlen,) = struct.unpack_from("<Q", blob, 0)
    if hlen == 0:
        raise CheckError("header length is 0")
    if hlen > size - 8:
        raise CheckError(f"header length {hlen} exceeds file size {size}")
    hbytes = blob[8:8 + hlen]
    try:
        htext = hbytes.decode("utf-8")
    except UnicodeDecodeError as e:
        raise CheckError(f"header is not valid UTF-8 ({e.reason} at byte {e.start})")
    if not htext.startswith("{"):
        raise CheckError("header does not start with '{'")
    try:
        header = json.loads(htext, object_pairs_hook=_no_dup_object)
    except json.JSONDecodeError as e:
        raise CheckError(f"header is not valid JSON: {e.msg} at offset {e.pos}")
    if not isinstance(header, dict):
        raise CheckError("header is not a JSON object")

    meta = header.pop("__metadata__", None)
    if meta is not None:
        if not isinstance(meta, dict):
            raise CheckError("__metadata__ is not an object")
        for k, v in meta.items():
            if not isinstance(v, str):
                raise CheckError(f"__metadata__[{k!r}] is not a string")

    data = memoryview(blob)[8 + hlen:]
    dsize = len(data)
    ranges = []
    for name, info in header.items():
        if not isinstance(info, dict):
            raise CheckError(f"tensor {name!r}: entry is not an object")
        extra = set(info) - {"dtype", "shape", "data_offsets"}
        if extra:
            raise CheckError(f"tensor {name!r}: unexpected keys {sorted(extra)}")
        dtype = info.get("dtype")
        if dtype not in DTYPE_SIZES:
            raise CheckError(f"tensor {name!r}: unsupported dtype {dtype!r}")
        shape = info.get("shape")
        if not isinstance(shape, list) or not all(_is_int(d) and d >= 0 for d in shape):
            raise CheckError(f"tensor {name!r}: invalid shape {shape!r}")
        offs = info.get("data_offsets")
        if (not isinstance(offs, list) or len(offs) != 2
                or not all(_is_int(o) for o in offs)):
            raise CheckError(f"tensor {name!r}: invalid data_offsets {offs!r}")
        begin, end = offs
        if begin < 0 or end < begin:
            raise CheckError(f"tensor {name!r}: bad data_offsets [{begin}, {end}]")
        if end > dsize:
            raise CheckError(f"tensor {name!r}: data_offsets [{begin}, {end}] out of bounds "
                             f"(data section is {dsize} bytes)")
        numel = 1
        for d in shape:
            numel *= d
        want = numel * DTYPE_SIZES[dtype]
        if end - begin != want:
            raise CheckError(f"tensor {name!r}: byte size {end - begin} != "
                             f"prod({shape}) * {DTYPE_SIZES[dtype]} = {want}")
        ranges.append((begin, end, name))

    ranges.sort()
    pos = 0
    prev = None
    for begin, end, name in ranges:
        if begin < pos:
            raise CheckError(f"tensor {name!r} [{begin}, {end}] overlaps tensor {prev!r}")
        if begin > pos:
            raise CheckError(f"gap in data section before tensor {name!r} "
                             f"(bytes {pos}..{begin})")
        pos = end
        prev = name
    if pos != dsize:
        raise CheckError(f"data section is {dsize} bytes but tensors cover {pos}")

    for name in expect:
        if name not in header:
            raise CheckError(f"expected tensor {name!r} not found")

    verified = 0
    if meta is not None and "crc32c" in meta:
        try:
            crcs = json.loads(meta["crc32c"], object_pairs_hook=_no_dup_object)
        except json.JSONDecodeError as e:
            raise CheckError(f"__metadata__ crc32c is not valid JSON: {e.msg}")
        if not isinstance(crcs, dict):
            raise CheckError("__metadata__ crc32c is not a JSON object")
        for name, hexval in crcs.items():
            if name not in header:
                raise CheckError(f"crc32c listed for unknown tensor {name!r}")
            if not isinstance(hexval, str) or not re.fullmatch(r"[0-9a-f]{8}", hexval):
                raise CheckError(f"crc32c for tensor {name!r} is not 8 lowercase hex "
                                 f"digits: {hexval!r}")
            begin, end = header[name]["data_offsets"]
            got = crc32c(data[begin:end])
            if got != int(hexval, 16):
                raise CheckError(f"crc32c mismatch for tensor {name!r}: "
                                 f"stored {hexval}, computed {got:08x}")
            verified += 1

    return len(header), size, verified


def main(argv):
    args = argv[1:]
    expect = []
    files = []
    i = 0
    while i < len(args):
        a = args[i]
        if a == "--expect-tensors":
            if i + 1 >= len(args):
                print("error: --expect-tensors needs an argument", file=sys.stderr)
                return 2
            expect += [s for s in args[i + 1].split(",") if s]
            i += 2
        elif a.startswith("--expect-tensors="):
            expect += [s for s in a.split("=", 1)[1].split(",") if s]
            i += 1
        elif a in ("-h", "--help"):
            print(__doc__)
            return 0
        else:
            files.append(a)
            i += 1
    if len(files) != 1:
        print("usage: check_safetensors.py FILE [--expect-tensors name1,name2,...]",
              file=sys.stderr)
        return 2
    path = files[0]
    try:
        n, m, k = check_file(path, expect)
    except CheckError as e:
        print(f"error: {path}: {e}", file=sys.stderr)
        return 1
    print(f"ok {path}: {n} tensors, {m} bytes, crc32c verified {k}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
