#!/usr/bin/python3
"""An independent GGUF reader (numpy only) the tests compare ckptfs with.

    ggufref.py ls FILE          KEY DTYPE [d1,...] per tensor (torch order: ne reversed)
    ggufref.py dump FILE DIR    DIR/ls.txt and DIR/<i>.bin = tensor i's bytes (numpy.memmap
                                of the data section)
    ggufref.py kv FILE          version, KV count and sha256 of the raw KV section, then
                                one line per KV: key type value (arrays: type and length)
    ggufref.py tensors FILE     per tensor: name ggml_type ne offset sha256(bytes)
    ggufref.py check-npz GGUF NPZ   every npz array equals the GGUF tensor of that name
It follows the spec (docs/gguf.md) and ggml's stricter layout rule: each
tensor's offset must equal the running, aligned sum ("layout ok" in `tensors`)."""
import hashlib
import os
import struct
import sys

import numpy as np

# ggml id -> (ckptfs dtype name, elements per block, bytes per block, numpy dtype or None)
TYPES = {
    0: ('float32', 1, 4, '<f4'), 1: ('float16', 1, 2, '<f2'), 2: ('q4_0', 32, 18, None),
    3: ('q4_1', 32, 20, None), 6: ('q5_0', 32, 22, None), 7: ('q5_1', 32, 24, None),
    8: ('q8_0', 32, 34, None), 9: ('q8_1', 32, 36, None), 10: ('q2_K', 256, 84, None),
    11: ('q3_K', 256, 110, None), 12: ('q4_K', 256, 144, None), 13: ('q5_K', 256, 176, None),
    14: ('q6_K', 256, 210, None), 15: ('q8_K', 256, 292, None), 24: ('int8', 1, 1, '<i1'),
    25: ('int16', 1, 2, '<i2'), 26: ('int32', 1, 4, '<i4'), 27: ('int64', 1, 8, '<i8'),
    28: ('float64', 1, 8, '<f8'), 30: ('bfloat16', 1, 2, None),
}
SCALAR = {0: '<B', 1: '<b', 2: '<H', 3: '<h', 4: '<I', 5: '<i', 6: '<f', 7: '<?', 10: '<Q', 11: '<q',
          12: '<d'}


class Reader:
    def __init__(self, path):
        self.b = open(path, 'rb').read()
        self.pos = 0
        assert self.b[:4] == b'GGUF', 'bad magic'
        self.version, n_tensors, n_kv = struct.unpack_from('<IQQ', self.b, 4)
        assert self.version in (2, 3), 'version %d' % self.version
        self.pos = 24
        self.kvs = []
        self.alignment = 32
        for _ in range(n_kv):
            key = self.str().decode()
            t = self.u('<I')
            v = self.value(t)
            self.kvs.append((key, t, v))
            if key == 'general.alignment':
                self.alignment = v
        self.kv_raw = self.b[24:self.pos]
        self.tensors = []
        for _ in range(n_tensors):
            name = self.str().decode()
            nd = self.u('<I')
            ne = [self.u('<Q') for _ in range(nd)]
            self.tensors.append((name, ne, self.u('<I'), self.u('<Q')))
        self.data = (self.pos + self.alignment - 1) // self.alignment * self.alignment

    def u(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def str(self):
        n = self.u('<Q')
        s = self.b[self.pos:self.pos + n]
        assert len(s) == n, 'truncated string'
        self.pos += n
        return s

    def value(self, t):
        if t == 8:
            return self.str()
        if t == 9:
            et, n = self.u('<I'), self.u('<Q')
            return (et, [self.value(et) for _ in range(n)])
        return self.u(SCALAR[t])

    def nbytes(self, ne, t):
        _, block, size, _ = TYPES[t]
        n = ne[0] // block * size
        for d in ne[1:]:
            n *= d
        return n

    def tensor(self, i):
        name, ne, t, off = self.tensors[i]
        n = self.nbytes(ne, t)
        mm = np.memmap(self.path_, dtype=np.uint8, mode='r', offset=self.data + off, shape=(n,)) if n else b''
        return bytes(mm)


def open_reader(path):
    r = Reader(path)
    r.path_ = path
    return r


def listing(r):
    out = []
    for name, ne, t, _ in r.tensors:
        out.append('%s %s [%s]\n' % (name, TYPES[t][0], ','.join(str(d) for d in reversed(ne))))
    return ''.join(out)


def show(t, v):
    if t == 9:
        return 'array[%d] of %d' % (len(v[1]), v[0])
    if t == 8:
        return repr(v.decode('utf-8', 'replace'))
    return repr(v)


def main(argv):
    cmd = argv[1]
    if cmd == 'ls':
        sys.stdout.write(listing(open_reader(argv[2])))
    elif cmd == 'dump':
        r = open_reader(argv[2])
        with open(os.path.join(argv[3], 'ls.txt'), 'w') as f:
            f.write(listing(r))
        for i in range(len(r.tensors)):
            with open(os.path.join(argv[3], '%d.bin' % i), 'wb') as f:
                f.write(r.tensor(i))
    elif cmd == 'kv':
        r = open_reader(argv[2])
        print('version %d kvs %d sha256 %s' % (r.version, len(r.kvs), hashlib.sha256(r.kv_raw).hexdigest()))
        for key, t, v in r.kvs:
            print(key, t, show(t, v))
    elif cmd == 'tensors':
        r = open_reader(argv[2])
        at, ok = 0, True
        for i, (name, ne, t, off) in enumerate(r.tensors):
            ok = ok and off == at
            at = (at + r.nbytes(ne, t) + r.alignment - 1) // r.alignment * r.alignment
            print(name, t, ne, off, hashlib.sha256(r.tensor(i)).hexdigest())
        print('layout ok' if ok else 'layout has gaps')
    elif cmd == 'check-npz':
        r = open_reader(argv[2])
        z = np.load(argv[3])
        by_name = {t[0]: i for i, t in enumerate(r.tensors)}
        assert sorted(z.files) == sorted(by_name), (z.files, list(by_name))
        for k in z.files:
            i = by_name[k]
            name, ne, t, _ = r.tensors[i]
            a = np.frombuffer(r.tensor(i), dtype=TYPES[t][3]).reshape(list(reversed(ne)))
            assert z[k].dtype == a.dtype and z[k].shape == a.shape, k
            assert z[k].tobytes() == a.tobytes(), k
        print('ok')
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main(sys.argv)
