#!/usr/bin/python3
"""Checks a data.pkl written by ck_pickle_dump with real torch.load.

usage: check_writer.py full|weights DATA.PKL
Builds a torch zip around DATA.PKL (each storage data/<key> filled with
arange + 100*key in its dtype), loads it with torch.load (weights_only=True
for 'weights') and asserts the tree test_pickle.c built (t_python_check).
Exit 0 = all good; any assertion prints and exits 1.
"""
import collections
import io
import os
import pickle
import sys
import tempfile
import zipfile

try:
    import torch
except ImportError:
    print('no torch')
    sys.exit(77)

mode, path = sys.argv[1], sys.argv[2]
data = open(path, 'rb').read()
assert data[:2] == b'\x80\x02', 'not protocol 2'

storages = {}


class Probe(pickle.Unpickler):
    """First pass: learn each storage's class and numel from the persistent ids."""
    def persistent_load(self, pid):
        typ, cls, key, loc, numel = pid
        assert typ == 'storage' and loc == 'cpu', pid
        storages[key] = (cls, numel)
        return cls(numel)


Probe(io.BytesIO(data)).load()


def fill(cls, key, numel):
    dtype = cls(0).dtype
    t = torch.arange(numel, dtype=torch.float64) + 100 * int(key)
    if dtype == torch.bool:
        t = torch.arange(numel) % 2 == 1
    return t.to(dtype).view(torch.uint8).numpy().tobytes()


tmp = tempfile.mkdtemp()
zpath = os.path.join(tmp, 'out.pt')
with zipfile.ZipFile(zpath, 'w', zipfile.ZIP_STORED) as z:
    z.writestr('archive/data.pkl', data)
    for key, (cls, numel) in storages.items():
        z.writestr('archive/data/' + key, fill(cls, key, numel))
    z.writestr('archive/version', '3\n')

r = torch.load(zpath, weights_only=(mode == 'weights'))
os.unlink(zpath)
os.rmdir(tmp)

ar = torch.arange(6, dtype=torch.float32).reshape(2, 3)
assert type(r) is collections.OrderedDict, type(r)
if mode == 'weights':
    assert list(r.keys()) == ['w', 'tied', 'view', 'b', 7], list(r.keys())
else:
    assert list(r.keys()) == ['w', 'tied', 'view', 't', 'b', 'i', 'h', 'bf', 'bool', 'meta'], list(r.keys())
w = r['w']
assert type(w) is torch.Tensor and w.dtype == torch.float32 and torch.equal(w, ar), w
assert r['tied'] is w, 'tied tensor is not the same object'
assert torch.equal(r['view'], ar[1]) and r['view'].storage_offset() == 3
assert r['view'].storage().data_ptr() == w.storage().data_ptr(), 'view does not share storage'
b = r['b']
assert isinstance(b, torch.nn.Parameter) and b.requires_grad and b.dtype == torch.float32, b
assert torch.equal(b.data, torch.tensor([100.0, 101.0])), b
if mode == 'weights':
    assert r[7] == 'seven'
else:
    assert torch.equal(r['t'], ar.t()) and r['t'].stride() == (1, 3)
    assert r['i'].dtype == torch.int64 and r['i'].shape == () and r['i'].item() == 200
    assert r['h'].dtype == torch.float16 and r['h'].tolist() == [300.0, 301.0]
    assert r['bf'].dtype == torch.bfloat16
    assert r['bf'].tolist() == torch.tensor([400.0, 401.0]).to(torch.bfloat16).tolist()
    assert r['bool'].dtype == torch.bool and r['bool'].tolist() == [False, True, False]
    m = r['meta']
    assert type(m) is dict, type(m)
    assert list(m.keys()) == [1, 'f', 'big', 'neg', 'bytes', 'set', 'tup', 'none', 'yes', 'lst'], list(m.keys())
    assert m[1] == 'one' and m['f'] == 0.001 and m['big'] == 2 ** 70 and m['neg'] == -2 ** 40
    assert m['bytes'] == b'\x00\xff' and m['set'] == {3} and m['tup'] == (1, 2, 3, 4, 5)
    assert m['none'] is None and m['yes'] is True and m['lst'] == [1.5, 'x']
    md = r._metadata
    assert type(md) is collections.OrderedDict and md == {'': {'version': 1}}, md
print('ok', mode, len(storages), 'storages')
