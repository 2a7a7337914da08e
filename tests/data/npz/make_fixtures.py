#!/usr/bin/python3
"""Writes the NumPy fixtures of tests/test_npz.c with numpy (/usr/bin/python3,
numpy 1.24): good .npy/.npz files and one broken file per rule.  Run:
    /usr/bin/python3 tests/data/npz/make_fixtures.py
The files are checked in; the test asserts their exact fields, so change the
test with them."""
import io
import os
import struct
import zipfile

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))


def npy_bytes(a, version=None):
    b = io.BytesIO()
    if version is None:
        np.save(b, a)
    else:
        np.lib.format.write_array(b, a, version=version)
    return b.getvalue()


def raw_npy(header, data=b'', major=1, align=64):
    """A .npy with a hand-written header dict (padded to align, ending in '\\n')."""
    h = header.encode('latin1')
    lenfmt = '<H' if major == 1 else '<I'
    pre = 6 + 2 + struct.calcsize(lenfmt)
    pad = (-(pre + len(h) + 1)) % align
    h += b' ' * pad + b'\n'
    return b'\x93NUMPY' + bytes([major, 0]) + struct.pack(lenfmt, len(h)) + h + data


def write(name, data):
    os.makedirs(os.path.dirname(os.path.join(HERE, name)) or HERE, exist_ok=True)
    with open(os.path.join(HERE, name), 'wb') as f:
        f.write(data)


def all_dtypes():
    return {
        'f32': np.array([[0.0, 1.0, 1.5], [2.0, 2.5, -3.0]], dtype='<f4'),
        'f64': np.array([0.1, -2.0], dtype='<f8'),
        'f16': np.array([1.0, 2.0, 3.0], dtype='<f2'),
        'i8': np.array([-1, 2], dtype='i1'),
        'i16': np.array([-300, 300], dtype='<i2'),
        'i32': np.array([[1, 2], [3, 4]], dtype='<i4'),
        'i64': np.array([-5, 6, 7], dtype='<i8'),
        'u8': np.array([0, 255], dtype='u1'),
        'u16': np.array([65535], dtype='<u2'),
        'u32': np.array([4000000000], dtype='<u4'),
        'u64': np.array([18446744073709551615], dtype='<u8'),
        'b': np.array([True, False, True]),
        'c64': np.array([1 + 2j], dtype='<c8'),
        'c128': np.array([3 - 4j], dtype='<c16'),
        'scalar': np.float32(7.5),
        'empty': np.zeros((0, 3), dtype='<f4'),
        'layer.0.weight': np.arange(6, dtype='<f4').reshape(2, 3),
        'fortran2': np.asfortranarray(np.arange(6, dtype='<i4').reshape(2, 3)),
        'fortran3': np.asfortranarray(np.arange(24, dtype='<i2').reshape(2, 3, 4)),
        # numpy's growth spaces push this header past 128 bytes
        'dims15': np.array([1.0, 2.0], dtype='<f4').reshape((1,) * 14 + (2,)),
    }


def main():
    np.savez(os.path.join(HERE, 'all_dtypes.npz'), **all_dtypes())
    np.save(os.path.join(HERE, 'single.npy'), np.arange(6, dtype='<f4').reshape(2, 3))
    write('v2.npy', npy_bytes(np.array([1, 2, 3], dtype='<i8'), (2, 0)))
    write('v3.npy', npy_bytes(np.array([1.5], dtype='<f8'), (3, 0)))
    write('py2long.npy', raw_npy("{'descr': '<i2', 'fortran_order': False, 'shape': (2L, 2L), }",
                                 np.arange(4, dtype='<i2').tobytes()))
    write('old16.npy', raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                               np.array([1, 2], dtype='<f4').tobytes(), align=16))
    write('dq.npy', raw_npy('{"shape": (2,), "fortran_order": False, "descr": "|u1"}', b'\x07\x08'))
    np.savez(os.path.join(HERE, 'empty.npz'))
    np.savez_compressed(os.path.join(HERE, 'broken/compressed.npz'), w=np.arange(4))
    import torch  # a torch source with a transposed view and a tied weight (-> npz in the tests)
    base = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    torch.save({'w': base, 'w_t': base.t(), 'tied': base, 'h': torch.tensor([1.0, -2.0], dtype=torch.float16),
                'n': torch.tensor([3, 4, 5])}, os.path.join(HERE, 'torch_views.pt'))

    good = raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", b'\0' * 8)
    broken = {
        'bad_magic.npy': b'\x93NUMPX' + good[6:],
        'version4.npy': good[:6] + b'\x04\x00' + good[8:],
        'bad_header.npy': raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,) 'x'}", b'\0' * 8),
        'not_dict.npy': raw_npy("['<f4', False, (2,)]", b'\0' * 8),
        'missing_key.npy': raw_npy("{'descr': '<f4', 'shape': (2,), }", b'\0' * 8),
        'extra_key.npy': raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), 'x': 1, }", b'\0' * 8),
        'dup_key.npy': raw_npy("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': (2,), }"),
        'bad_shape.npy': raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2), }", b'\0' * 8),
        'neg_shape.npy': raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", b'\0' * 8),
        'bad_fortran.npy': raw_npy("{'descr': '<f4', 'fortran_order': 0, 'shape': (2,), }", b'\0' * 8),
        'object.npy': npy_bytes(np.array([{}, 1], dtype=object)),
        'big_endian.npy': npy_bytes(np.array([1, 2], dtype='>f4')),
        'structured.npy': npy_bytes(np.zeros(2, dtype=[('a', '<f4'), ('b', '<i2')])),
        'unicode.npy': npy_bytes(np.array(['abc'])),
        'datetime.npy': npy_bytes(np.array(['2020-01-01'], dtype='datetime64[D]')),
        'truncated_data.npy': good[:-3],
        'shape_overflow.npy': raw_npy("{'descr': '<f8', 'fortran_order': False, "
                                      "'shape': (4294967296, 4294967296, 4294967296), }"),
        'dim_too_large.npy': raw_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,), }"),
        'header_past_eof.npy': good[:8] + struct.pack('<H', 5000) + good[10:],
    }
    for name, data in broken.items():
        write('broken/' + name, data)
    # npz defects: a member that is not .npy, two members of one name, a bad npy inside
    with zipfile.ZipFile(os.path.join(HERE, 'broken/not_npy_member.npz'), 'w') as z:
        z.writestr('a.npy', npy_bytes(np.arange(2)))
        z.writestr('readme.txt', 'hello')
    with zipfile.ZipFile(os.path.join(HERE, 'broken/dup_member.npz'), 'w') as z:
        z.writestr('a.npy', npy_bytes(np.arange(2)))
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')
            z.writestr('a.npy', npy_bytes(np.arange(3)))
    with zipfile.ZipFile(os.path.join(HERE, 'broken/bad_member.npz'), 'w') as z:
        z.writestr('a.npy', npy_bytes(np.arange(2)))
        z.writestr('b.npy', broken['big_endian.npy'])
    with zipfile.ZipFile(os.path.join(HERE, 'broken/short_member.npz'), 'w') as z:
        z.writestr('a.npy', good[:-3])


if __name__ == '__main__':
    main()
