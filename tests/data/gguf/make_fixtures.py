#!/usr/bin/python3
"""Writes the GGUF fixtures of tests/test_gguf.c: small good files and one
broken file per rule, each from this self-contained GGUF writer (no gguf
package is installed; python3-gguf is not in Debian 12).  Run from anywhere:
    /usr/bin/python3 tests/data/gguf/make_fixtures.py
The files are checked in; the test asserts their exact fields, so change the
test with them."""
import os
import struct

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)
FMT = {U8: '<B', I8: '<b', U16: '<H', I16: '<h', U32: '<I', I32: '<i', F32: '<f', BOOL: '<B',
       U64: '<Q', I64: '<q', F64: '<d'}
# ggml type id -> (elements per block, bytes per block)
GGML = {0: (1, 4), 1: (1, 2), 2: (32, 18), 3: (32, 20), 8: (32, 34), 12: (256, 144), 24: (1, 1),
        26: (1, 4), 28: (1, 8), 30: (1, 2)}


def gstr(s):
    b = s if isinstance(s, bytes) else s.encode()
    return struct.pack('<Q', len(b)) + b


def value(t, v):
    if t == STR:
        return gstr(v)
    if t == ARR:
        et, items = v
        out = struct.pack('<IQ', et, len(items))
        return out + b''.join(value(et, x) for x in items)
    return struct.pack(FMT[t], v)


def kv(key, t, v):
    return gstr(key) + struct.pack('<I', t) + value(t, v)


def tensor_bytes(gtype, ne, seed):
    """Deterministic contents: byte i = (seed * 31 + i * 7) & 0xff."""
    block, size = GGML.get(gtype, (1, 4))
    n = ne[0] // block * size
    for d in ne[1:]:
        n *= d
    return bytes(((seed * 31 + i * 7) & 0xff) for i in range(n))


def build(kvs, tensors, version=3, align=32, magic=b'GGUF', n_tensors=None, n_kv=None, raw_kv=None,
          infos_extra=b''):
    """tensors: [(name, ne, ggml_type, data or None, offset or None)]; returns the file bytes."""
    kvb = raw_kv if raw_kv is not None else b''.join(kv(*x) for x in kvs)
    infos, datas, off = b'', [], 0
    for name, ne, gt, data, fixed_off in tensors:
        if data is None:
            data = tensor_bytes(gt, ne, len(datas) + 1)
        o = off if fixed_off is None else fixed_off
        infos += gstr(name) + struct.pack('<I', len(ne)) + b''.join(struct.pack('<Q', d) for d in ne)
        infos += struct.pack('<IQ', gt, o)
        datas.append((o, data))
        off = (off + len(data) + align - 1) // align * align
    head = magic + struct.pack('<I', version)
    head += struct.pack('<QQ', len(tensors) if n_tensors is None else n_tensors,
                        len(kvs) if n_kv is None else n_kv)
    head += kvb + infos + infos_extra
    pad = (-len(head)) % align
    body = bytearray(head + b'\0' * pad)
    base = len(body)
    for o, data in datas:
        if not data:
            continue
        end = base + o + len(data)
        if len(body) < end:
            body += b'\0' * (end - len(body))
        body[base + o:base + o + len(data)] = data
    body += b'\0' * ((-len(body)) % align)
    return bytes(body)


def f16(vals):
    return np.array(vals, dtype='<f2').tobytes()


TINY_KVS = [
    ('general.architecture', STR, 'llama'),
    ('general.name', STR, 'ckptfs tiny'),
    ('t.u8', U8, 200), ('t.i8', I8, -5), ('t.u16', U16, 60000), ('t.i16', I16, -30000),
    ('t.u32', U32, 4000000000), ('t.i32', I32, -2000000000), ('t.f32', F32, 1e-5),
    ('t.bool', BOOL, 1), ('t.u64', U64, 18446744073709551615), ('t.i64', I64, -9000000000000000000),
    ('t.f64', F64, 0.1),
    ('t.arr_i32', ARR, (I32, [1, -2, 3])),
    ('t.arr_str', ARR, (STR, ['a', 'bc', ''])),
    ('t.nested', ARR, (ARR, [(U8, [1, 2]), (U8, [3])])),
    ('t.long', ARR, (F32, [float(i) for i in range(100)])),
    ('t.empty', ARR, (STR, [])),
    ('general.quantization_version', U32, 2),
]

TINY_TENSORS = [
    ('token_embd.weight', [3, 2], 0, np.arange(6, dtype='<f4').tobytes(), None),
    ('blk.0.attn_q.weight', [4, 2], 1, f16([0, 1, 2, 3, -1, -2, 0.5, 65504]), None),
    ('blk.0.ffn.weight', [32, 2], 8, None, None),
    ('blk.1.attn_q.weight', [64], 2, None, None),
    ('output.bias', [5], 30, None, None),
    ('pos', [2, 2, 2], 26, np.arange(8, dtype='<i4').tobytes(), None),
    ('idx', [3], 24, b'\x01\xff\x7f', None),
    ('scale', [1], 28, struct.pack('<d', 2.5), None),
    ('big.q4_k', [256, 1], 12, None, None),
]


def tiny(**kw):
    return build(TINY_KVS, TINY_TENSORS, **kw)


def small(kvs=None, tensors=None, **kw):
    """A minimal file to hang one defect on."""
    kvs = [('general.architecture', STR, 'llama')] if kvs is None else kvs
    tensors = [('a.weight', [4, 2], 0, None, None)] if tensors is None else tensors
    return build(kvs, tensors, **kw)


def nested(depth):
    v = (U8, [1])
    for _ in range(depth - 1):
        v = (ARR, [v])
    return v


def main():
    good = {
        'tiny.gguf': tiny(),
        'v2_align64.gguf': build([('general.architecture', STR, 'gpt2'), ('general.alignment', U32, 64)],
                                 [('w', [3], 0, np.array([1.5, -2, 4], dtype='<f4').tobytes(), None),
                                  ('b.c', [2, 1], 1, f16([1, 2]), None)], version=2, align=64),
        'long_name.gguf': small(tensors=[('n' * 100, [2], 0, None, None)]),
        'no_tensors.gguf': build([('general.architecture', STR, 'bert'),
                                  ('tokenizer.ggml.tokens', ARR, (STR, ['t%d' % i for i in range(1000)]))], []),
        'empty.gguf': build([], []),
    }
    a = small()
    broken = {
        'bad_magic.gguf': b'GGUX' + a[4:],
        'version1.gguf': small(version=1),
        'version4.gguf': small(version=4),
        'byteswapped.gguf': a[:4] + struct.pack('>I', 3) + a[8:],
        'huge_tensor_count.gguf': small(n_tensors=1 << 62),
        'huge_kv_count.gguf': small(n_kv=1 << 62),
        'huge_string.gguf': small(raw_kv=gstr('general.architecture') + struct.pack('<IQ', STR, 1 << 62) + b'x'),
        'huge_key.gguf': small(raw_kv=gstr('k' * 70000) + struct.pack('<IB', U8, 1)),
        'huge_array.gguf': small(raw_kv=gstr('a') + struct.pack('<IIQ', ARR, U32, 1 << 40) + b'\0' * 64),
        'deep_nest.gguf': small(kvs=[('a', ARR, nested(9))]),
        'bad_kv_type.gguf': small(raw_kv=gstr('obj') + struct.pack('<I', 13) + b'\0' * 16),
        'bad_elem_type.gguf': small(raw_kv=gstr('arr') + struct.pack('<IIQ', ARR, 13, 1) + b'\0' * 16),
        'bad_bool.gguf': small(kvs=[('flag', BOOL, 2)]),
        'dup_key.gguf': small(kvs=[('a', U8, 1), ('b', U8, 2), ('a', U8, 3)]),
        'align_not_pow2.gguf': small(kvs=[('general.alignment', U32, 48)], align=48),
        'align_zero.gguf': small(kvs=[('general.alignment', U32, 0)]),
        'align_type.gguf': small(kvs=[('general.alignment', U64, 32)]),
        'offset_unaligned.gguf': small(tensors=[('a', [4], 0, None, 4)]),
        'offset_past_eof.gguf': small(tensors=[('a', [4], 0, None, None), ('b', [4], 0, b'', 1 << 20)]),
        'ndims5.gguf': small(tensors=[('a', [1, 1, 1, 1, 2], 0, b'\0' * 8, None)]),
        'unknown_type.gguf': small(tensors=[('a', [4], 99, b'\0' * 16, None)]),
        'removed_type.gguf': small(tensors=[('a', [32], 4, b'\0' * 20, None)]),
        'unsupported_type.gguf': small(tensors=[('a', [64], 40, b'\0' * 36, None)]),
        'ne0_block.gguf': small(tensors=[('a', [33, 1], 8, b'\0' * 34, None)]),
        'dup_tensor.gguf': small(tensors=[('a', [4], 0, None, None), ('a', [4], 0, None, None)]),
        'neg_dim.gguf': small(tensors=[('a', [1 << 63], 0, b'', None)]),
        'size_overflow.gguf': small(tensors=[('a', [1 << 32, 1 << 32, 1 << 32], 0, b'', None)]),
        'name_cap.gguf': small(tensors=[('n' * 5000, [4], 0, None, None)]),
        'name_nul.gguf': small(tensors=[('a\0b', [4], 0, None, None)]),
    }
    for d, files in (('', good), ('broken', broken)):
        os.makedirs(os.path.join(HERE, d), exist_ok=True)
        for name, data in files.items():
            with open(os.path.join(HERE, d, name), 'wb') as f:
                f.write(data)


if __name__ == '__main__':
    main()
