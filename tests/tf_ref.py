#!/usr/bin/env python3
"""tf_ref.py — an independent pure-Python reader of TensorFlow V2 checkpoints
(tensor bundles), the reference the C reader and writer are checked against
(TensorFlow itself is not installed).  Written from formats.md §5 and LevelDB's
table_format.md, sharing no code with formats/tf*.c.

  tf_ref.py ls PREFIX      KEY DTYPE [d1,d2] per plain tensor, in key order
                           (the `ckptfs ls` line format)
  tf_ref.py check PREFIX   verifies everything: footer, block CRCs, restarts,
                           key order, header, every entry's range, size, and
                           data CRC (string tensors too); prints "ok N entries"
  tf_ref.py sums PREFIX    KEY sha256-of-bytes per plain tensor
  tf_ref.py dump PREFIX    every entry: key, dtype, shape, shard, offset, size, crc
PREFIX is the bundle prefix (PREFIX.index, PREFIX.data-*), or a folder whose
`checkpoint` file names it.
"""
import hashlib
import os
import struct
import sys

MAGIC = bytes.fromhex("57fb808b247547db")
DTYPES = {1: ("float32", 4), 2: ("float64", 8), 3: ("int32", 4), 4: ("uint8", 1),
          5: ("int16", 2), 6: ("int8", 1), 8: ("complex64", 8), 9: ("int64", 8),
          10: ("bool", 1), 11: ("qint8", 1), 12: ("quint8", 1), 13: ("qint32", 4),
          14: ("bfloat16", 2), 17: ("uint16", 2), 18: ("complex128", 16),
          19: ("float16", 2), 22: ("uint32", 4), 23: ("uint64", 8),
          24: ("float8_e5m2", 1), 25: ("float8_e4m3fn", 1)}
DT_STRING = 7


def _table():
    t = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        t.append(c)
    return t


_T = _table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _T[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(c):
    return ((((c >> 15) | (c << 17)) & 0xFFFFFFFF) + 0xA282EAD8) & 0xFFFFFFFF


class Bad(Exception):
    pass


def varint(b, p, limit=10):
    v = shift = 0
    for i in range(limit):
        if p >= len(b):
            raise Bad("truncated varint")
        x = b[p]
        p += 1
        v |= (x & 0x7F) << shift
        shift += 7
        if not x & 0x80:
            return v, p
    raise Bad("overlong varint")


def snappy(b):
    n, p = varint(b, 0, 5)
    out = bytearray()
    while p < len(b):
        t = b[p]
        p += 1
        if t & 3 == 0:
            ln = t >> 2
            if ln >= 60:
                k = ln - 59
                ln = int.from_bytes(b[p:p + k], "little")
                p += k
            ln += 1
            out += b[p:p + ln]
            p += ln
            continue
        if t & 3 == 1:
            ln, off = ((t >> 2) & 7) + 4, ((t >> 5) << 8) | b[p]
            p += 1
        elif t & 3 == 2:
            ln, off = (t >> 2) + 1, int.from_bytes(b[p:p + 2], "little")
            p += 2
        else:
            ln, off = (t >> 2) + 1, int.from_bytes(b[p:p + 4], "little")
            p += 4
        if off == 0 or off > len(out):
            raise Bad("bad snappy copy")
        for _ in range(ln):
            out.append(out[-off])
    if len(out) != n:
        raise Bad("snappy length")
    return bytes(out)


def block(f, off, size):
    if off + size + 5 > len(f) - 48:
        raise Bad("block past end")
    raw, typ = f[off:off + size], f[off + size]
    (crc,) = struct.unpack("<I", f[off + size + 1:off + size + 5])
    if mask(crc32c(raw + bytes([typ]))) != crc:
        raise Bad("block checksum mismatch at %d" % off)
    if typ == 1:
        return snappy(raw)
    if typ != 0:
        raise Bad("compression %d" % typ)
    return raw


def entries(b):
    (nr,) = struct.unpack("<I", b[-4:])
    end = len(b) - 4 - 4 * nr
    restarts = set(struct.unpack("<%dI" % nr, b[end:len(b) - 4]))
    p, key, out = 0, b"", []
    while p < end:
        start = p
        sh, p = varint(b, p, 5)
        ns, p = varint(b, p, 5)
        vl, p = varint(b, p, 5)
        if start in restarts:
            restarts.discard(start)
            if sh:
                raise Bad("restart with shared prefix")
        if sh > len(key) or p + ns + vl > end:
            raise Bad("bad entry")
        key = key[:sh] + b[p:p + ns]
        p += ns
        out.append((key, b[p:p + vl]))
        p += vl
    if restarts - {0}:
        raise Bad("restart not at an entry")
    return out


def proto(b):
    p, r = 0, []
    while p < len(b):
        tag, p = varint(b, p)
        f, w = tag >> 3, tag & 7
        if w == 0:
            v, p = varint(b, p)
        elif w == 2:
            n, p = varint(b, p)
            v, p = b[p:p + n], p + n
        elif w == 5:
            (v,) = struct.unpack("<I", b[p:p + 4])
            p += 4
        elif w == 1:
            (v,) = struct.unpack("<Q", b[p:p + 8])
            p += 8
        else:
            raise Bad("wire type %d" % w)
        r.append((f, v))
    return r


def table(path):
    f = open(path, "rb").read()
    if len(f) < 48 or f[-8:] != MAGIC:
        raise Bad("bad magic")
    ft = f[-48:]
    _, p = varint(ft, 0)
    _, p = varint(ft, p)
    io, p = varint(ft, p)
    isz, p = varint(ft, p)
    res, prev = [], None
    for ikey, v in entries(block(f, io, isz)):
        o, q = varint(v, 0)
        s, q = varint(v, q)
        for k, val in entries(block(f, o, s)):
            if prev is not None and k <= prev:
                raise Bad("keys out of order")
            if k > ikey:
                raise Bad("key past its index entry")
            prev = k
            res.append((k, val))
    return res


def prefix_of(arg):
    if os.path.isdir(arg):
        cp = os.path.join(arg, "checkpoint")
        for line in open(cp):
            if line.startswith("model_checkpoint_path:"):
                name = line.split(":", 1)[1].strip().strip('"')
                return name if os.path.isabs(name) else os.path.join(arg, name)
        raise Bad("no model_checkpoint_path")
    return arg[:-6] if arg.endswith(".index") else arg


def bundle(prefix):
    ents = table(prefix + ".index")
    if not ents or ents[0][0] != b"":
        raise Bad("no header")
    hdr = dict(proto(ents[0][1]))
    nshards = hdr.get(1, 0)
    if hdr.get(2, 0) != 0:
        raise Bad("big endian")
    out = []
    for k, v in ents[1:]:
        d, shape = {}, []
        for f, x in proto(v):
            if f == 2:
                for g, dim in proto(x):
                    if g == 2:
                        shape.append(dict(proto(dim)).get(1, 0))
            else:
                d[f] = x
        if 7 in d:
            raise Bad("sliced")
        e = dict(key=k.decode(), dtype=d.get(1, 0), shape=shape, shard=d.get(3, 0),
                 offset=d.get(4, 0), size=d.get(5, 0), crc=d.get(6, 0))
        out.append(e)
    return nshards, out


def data_of(prefix, nshards, e):
    path = "%s.data-%05d-of-%05d" % (prefix, e["shard"], nshards)
    with open(path, "rb") as fp:
        fp.seek(e["offset"])
        b = fp.read(e["size"])
    if len(b) != e["size"]:
        raise Bad("%s: range past end of %s" % (e["key"], path))
    return b


def data_crc(e, b):
    if e["dtype"] != DT_STRING:
        return mask(crc32c(b))
    n = 1
    for d in e["shape"]:
        n *= d
    p, c = 0, 0
    for _ in range(n):
        ln, p = varint(b, p)
        c = crc32c(struct.pack("<Q" if ln > 0xFFFFFFFF else "<I", ln), c)
    return mask(crc32c(b[p:], c))


def main():
    mode, arg = sys.argv[1], sys.argv[2]
    prefix = prefix_of(arg)
    nshards, ents = bundle(prefix)
    for e in ents:
        dt = DTYPES.get(e["dtype"])
        shape = "[" + ",".join(str(d) for d in e["shape"]) + "]"
        if mode == "ls" and dt:
            print("%s %s %s" % (e["key"], dt[0], shape))
        elif mode == "dump":
            print("%s dtype=%d shape=%s shard=%d offset=%d size=%d crc=0x%08x" % (
                e["key"], e["dtype"], shape, e["shard"], e["offset"], e["size"], e["crc"]))
        elif mode in ("check", "sums"):
            b = data_of(prefix, nshards, e)
            if dt:
                n = 1
                for d in e["shape"]:
                    n *= d
                if n * dt[1] != e["size"]:
                    raise Bad("%s: size %d for %s %s" % (e["key"], e["size"], dt[0], shape))
            if mode == "check" and data_crc(e, b) != e["crc"]:
                raise Bad("%s: data checksum mismatch" % e["key"])
            if mode == "sums" and dt:
                print("%s %s" % (e["key"], hashlib.sha256(b).hexdigest()))
    if mode == "check":
        print("ok %d entries" % len(ents))


if __name__ == "__main__":
    try:
        main()
    except (Bad, OSError) as ex:
        print("tf_ref.py: %s" % ex, file=sys.stderr)
        sys.exit(1)
