#!/usr/bin/python3
"""Writes the small pickle fixtures of tests/test_pickle.c into tests/data/pickle/.

Run with the system python (torch 1.13, numpy): /usr/bin/python3 scripts/make-pickle-fixtures.py
Every file is made by real Python/torch pickling; nothing is hand-assembled.
The assertions in tests/test_pickle.c follow the objects built here.
"""
import builtins
import collections
import io
import os
import pickle
import subprocess
import sys
import zipfile

import numpy as np
import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'tests', 'data', 'pickle')


def write(name, data):
    with open(os.path.join(OUT, name), 'wb') as f:
        f.write(data)


def values(proto):
    shared = ['x']
    v = {
        'int': 7, 'neg': -3, 'i16': 40000, 'i32': -100000, 'i64': 2 ** 40,
        'big': 2 ** 70, 'negbig': -2 ** 64 - 1, 'float': 0.001, 'true': True,
        'false': False, 'none': None, 'str': 'h\u00e9llo \u20ac', 'bytes': b'\x00\xffab',
        'empty_bytes': b'', 'tuple': (1, 'a', 2.5), 'tuple4': (1, 2, 3, 4),
        'list': [1, [2, 3]], 'set': {5}, 'frozen': frozenset({6}),
        'odict': collections.OrderedDict([('a', 1), ('b', 2)]),
        3: 'int key', (1, 2): 'tuple key', 'shared': [shared, shared],
    }
    if proto >= 5:
        v['ba'] = bytearray(b'xy')
    return v


def values_p0():
    return {'int': 7, 'big': 2 ** 70, 'neg': -5, 'float': 0.25, 'str': 'h\u00e9\n',
            'list': [1, 2], 'tuple': (1, 'a'), 'none': None, 'true': True,
            'nested': {'k': [None]}, 'bytes': b'\x01\xff'}


def torch_data_pkl(obj):
    b = io.BytesIO()
    torch.save(obj, b)
    z = zipfile.ZipFile(b)
    return z.read('archive/data.pkl')


def torch_sd():
    torch.manual_seed(0)
    lin = torch.nn.Linear(3, 2)
    sd = lin.state_dict()
    return {
        'model': sd, 'tied': sd['weight'], 'view': sd['weight'][1],
        'transposed': sd['weight'].t(), 'step': torch.tensor(5),
        'half': torch.zeros(2, dtype=torch.float16), 'param': torch.nn.Parameter(torch.ones(2)),
        'epoch': 3, 'lr': 0.001,
        'opt': {'state': {0: {'step': 1}}, 'param_groups': [{'params': [0, 1], 'betas': (0.9, 0.999)}]},
    }


class Stor:
    """Stands for a storage; pickled as a torch persistent id."""
    def __init__(self, key, cls, numel):
        self.key, self.cls, self.numel = key, cls, numel


class Rebuild:
    """An object whose pickle is fn(*args), for torch rebuild calls 1.13 never emits."""
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


class TorchPickler(pickle.Pickler):
    def persistent_id(self, obj):
        if isinstance(obj, Stor):
            return ('storage', obj.cls, obj.key, 'cpu', obj.numel)
        return None


def fake_global(module, name):
    """A stand-in for a torch 2.x global (uint16, _rebuild_tensor_v3) so pickle names it."""
    mod = sys.modules[module]
    if hasattr(mod, name):
        return getattr(mod, name)

    class G:
        def __reduce__(self):
            return name

        def __call__(self, *args):
            raise RuntimeError('stand-in only')
    g = G()
    G.__module__ = module
    setattr(mod, name, g)
    return g


def torch_rebuilds():
    odict = collections.OrderedDict
    v2 = torch._utils._rebuild_tensor_v2
    f0 = Stor('0', torch.FloatStorage, 4)
    u1 = Stor('1', torch.UntypedStorage if hasattr(torch, 'UntypedStorage') else torch.storage._UntypedStorage, 12)
    v3 = fake_global('torch._utils', '_rebuild_tensor_v3')
    u16 = fake_global('torch', 'uint16')
    with_state = fake_global('torch._utils', '_rebuild_parameter_with_state')
    obj = {
        'sub': Rebuild(torch._tensor._rebuild_from_type_v2,
                       (v2, torch.Tensor, (f0, 0, (2, 2), (2, 1), False, odict()), {})),
        'subparam': Rebuild(torch._tensor._rebuild_from_type_v2,
                            (v2, torch.nn.Parameter, (f0, 1, (3,), (1,), True, odict()), {})),
        'legacy': Rebuild(torch._utils._rebuild_tensor, (f0, 2, (2,), (1,))),
        'withstate': Rebuild(with_state,
                             (Rebuild(v2, (f0, 0, (4,), (1,), False, odict())), True, odict(), {'x': 1})),
        'u16': Rebuild(v3, (u1, 0, (2, 3), (3, 1), False, odict(), u16)),
        'size': torch.Size([4, 5]),
        'device': torch.device('cpu'),
    }
    b = io.BytesIO()
    TorchPickler(b, protocol=2).dump(obj)
    return b.getvalue()


class Evil:
    def __init__(self, fn, args):
        self.fn, self.args = fn, args

    def __reduce__(self):
        return (self.fn, self.args)


def main():
    os.makedirs(OUT, exist_ok=True)
    for p in (2, 4, 5):
        write('values_p%d.pkl' % p, pickle.dumps(values(p), protocol=p))
    write('values_p0.pkl', pickle.dumps(values_p0(), protocol=0))
    write('torch_sd.pkl', torch_data_pkl(torch_sd()))
    write('torch_rebuilds.pkl', torch_rebuilds())
    write('numpy_p2.pkl', pickle.dumps({'scalar': np.float64(1.5), 'arr': np.arange(3, dtype=np.int32),
                                        'dt': np.dtype('f4')}, protocol=2))
    write('evil_os_system.pkl', pickle.dumps(Evil(os.system, ('echo pwned',)), protocol=2))
    write('evil_eval.pkl', pickle.dumps(Evil(builtins.eval, ('1+1',)), protocol=2))
    write('evil_popen_p4.pkl', pickle.dumps(Evil(subprocess.Popen, (['true'],)), protocol=4))


if __name__ == '__main__':
    main()
