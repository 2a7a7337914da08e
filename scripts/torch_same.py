#!/usr/bin/python3
"""torch_same.py [--loose-views] A B [A B ...] — checks that torch.load gives the same object for
each pair: same Python types (dict/OrderedDict, list/tuple, int/float/bool, int
dict keys), same keys in order, same state_dict _metadata, tensors with equal dtype, shape, stride, storage
offset, storage size, requires_grad and values, and the same storage sharing
(tied weights).  B must also be a clean zip (CRCs) whose folder is B's stem.
Prints one line per failing pair; exit 1 if any failed.

--loose-views: for legacy files with view_metadata, whose storage slices the
reader folds into the root storage (offsets then count from the root): only
values, shapes and dtypes must match, and sharing in A must be kept in B.
"""
import os
import sys
import zipfile

import numpy
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_ls import safe_pickle  # noqa: E402


def tensors(v, out):
    if isinstance(v, torch.Tensor):
        out.append(v)
    elif isinstance(v, dict):
        for x in v.values():
            tensors(x, out)
    elif isinstance(v, (list, tuple)):
        for x in v:
            tensors(x, out)
    return out


LOOSE = False


def same(a, b, where):
    if type(a) is not type(b):
        raise AssertionError("%s: type %s vs %s" % (where, type(a).__name__, type(b).__name__))
    if isinstance(a, torch.Tensor):
        for attr in ("dtype", "shape", "requires_grad"):
            if getattr(a, attr) != getattr(b, attr):
                raise AssertionError("%s: %s %s vs %s" % (where, attr, getattr(a, attr), getattr(b, attr)))
        if not LOOSE and (a.stride() != b.stride() or a.storage_offset() != b.storage_offset()):
            raise AssertionError("%s: view differs" % where)
        if not LOOSE and a.storage().size() != b.storage().size():
            raise AssertionError("%s: storage size differs" % where)
        x, y = a.detach(), b.detach()
        if x.is_complex():
            x, y = torch.view_as_real(x), torch.view_as_real(y)
        if x.is_floating_point():
            ok = torch.equal(x.isnan(), y.isnan()) and torch.equal(x.nan_to_num(0), y.nan_to_num(0))
        else:
            ok = torch.equal(x, y)
        if not ok:
            raise AssertionError("%s: values differ" % where)
    elif isinstance(a, dict):
        if getattr(a, "_metadata", None) != getattr(b, "_metadata", None):
            raise AssertionError("%s: state_dict _metadata differs" % where)
        ka, kb = list(a.keys()), list(b.keys())
        if ka != kb or [type(k) for k in ka] != [type(k) for k in kb]:
            raise AssertionError("%s: keys differ" % where)
        for k in ka:
            same(a[k], b[k], "%s.%s" % (where, k))
    elif isinstance(a, (list, tuple)):
        if len(a) != len(b):
            raise AssertionError("%s: length differs" % where)
        for i, (x, y) in enumerate(zip(a, b)):
            same(x, y, "%s.%d" % (where, i))
    elif isinstance(a, numpy.ndarray):
        if a.dtype != b.dtype or not numpy.array_equal(a, b):
            raise AssertionError("%s: arrays differ" % where)
    elif isinstance(a, float) and a != a:
        if b == b:
            raise AssertionError("%s: nan vs %r" % (where, b))
    elif a != b:
        raise AssertionError("%s: %r vs %r" % (where, a, b))


def check(pa, pb):
    a = torch.load(pa, map_location="cpu", pickle_module=safe_pickle)
    b = torch.load(pb, map_location="cpu", pickle_module=safe_pickle)
    same(a, b, "")
    ta, tb = tensors(a, []), tensors(b, [])
    pa_ = [t.storage().data_ptr() for t in ta]
    pb_ = [t.storage().data_ptr() for t in tb]
    for i in range(len(ta)):
        for j in range(i):
            if (pa_[i] == pa_[j]) != (pb_[i] == pb_[j]) and not (LOOSE and pb_[i] == pb_[j]):
                raise AssertionError("storage sharing differs (tensors %d, %d)" % (j, i))
    with zipfile.ZipFile(pb) as z:
        bad = z.testzip()
        if bad:
            raise AssertionError("bad CRC in %s" % bad)
        stem = os.path.splitext(os.path.basename(pb))[0]
        if not all(n.startswith(stem + "/") for n in z.namelist()):
            raise AssertionError("entries not under %s/" % stem)


def main():
    global LOOSE
    args = sys.argv[1:]
    if args and args[0] == "--loose-views":
        LOOSE, args = True, args[1:]
    failed = 0
    for pa, pb in zip(args[::2], args[1::2]):
        try:
            check(pa, pb)
        except Exception as e:
            print("FAIL %s -> %s: %s" % (pa, pb, e))
            failed += 1
    print("torch_same: %d pairs, %d failed" % (len(args) // 2, failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
