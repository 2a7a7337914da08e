#!/usr/bin/python3
"""numpy's view of .npy/.npz files, which the tests compare ckptfs with.

    npzref.py ls FILE           KEY DTYPE [d1,...] per array (a .npy's key is the file's stem)
    npzref.py dump FILE DIR     DIR/ls.txt and DIR/<i>.bin = array i's bytes in C order
    npzref.py same A B          exit 0 when A and B hold the same keys (in order), dtypes,
                                shapes and values (.npy/.npz, or a torch file for A)
    npzref.py members FILE      exit 0 when every member of the .npz FILE is byte for byte
                                what np.save writes for its array
"""
import io
import os
import sys
import zipfile

import numpy as np


def arrays(path):
    if path.endswith('.npy'):
        stem = os.path.basename(path)[:-4]
        return [(stem, np.load(path))]
    if path.endswith('.npz'):
        with np.load(path) as z:
            return [(k, z[k]) for k in z.files]
    import torch  # a torch checkpoint: a flat dict of tensors
    sd = torch.load(path, map_location='cpu')
    if isinstance(sd, torch.Tensor):
        sd = {'arr_0': sd}
    return [(k, v.numpy()) for k, v in sd.items()]


def listing(arrs):
    return ''.join('%s %s [%s]\n' % (k, a.dtype.name, ','.join(str(d) for d in a.shape)) for k, a in arrs)


def main(argv):
    cmd = argv[1]
    if cmd == 'ls':
        sys.stdout.write(listing(arrays(argv[2])))
    elif cmd == 'dump':
        arrs = arrays(argv[2])
        with open(os.path.join(argv[3], 'ls.txt'), 'w') as f:
            f.write(listing(arrs))
        for i, (_, a) in enumerate(arrs):
            with open(os.path.join(argv[3], '%d.bin' % i), 'wb') as f:
                f.write(a.tobytes(order='C'))
    elif cmd == 'same':
        a, b = arrays(argv[2]), arrays(argv[3])
        if [k for k, _ in a] != [k for k, _ in b]:
            sys.exit('keys differ: %s vs %s' % ([k for k, _ in a], [k for k, _ in b]))
        for (k, x), (_, y) in zip(a, b):
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes(order='C') != y.tobytes(order='C'):
                sys.exit('array %s differs: %s%s vs %s%s' % (k, x.dtype, x.shape, y.dtype, y.shape))
        print('ok')
    elif cmd == 'members':
        with zipfile.ZipFile(argv[2]) as zf:
            for info in zf.infolist():
                data = zf.read(info)
                a = np.load(io.BytesIO(data))
                want = io.BytesIO()
                np.save(want, a)
                if info.compress_type != zipfile.ZIP_STORED or data != want.getvalue():
                    sys.exit('member %s differs from np.save' % info.filename)
        print('ok')
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main(sys.argv)
