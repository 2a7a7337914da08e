#!/usr/bin/python3
"""torch_ls.py FILE (or --batch DIR FILE...) — what `ckptfs ls FILE` should print, computed by real torch.load.

One line per tensor, in checkpoint order: `KEY DTYPE [d1,d2]`; KEY joins nested
dict keys (str(k)) and list/tuple indexes with '.', and is quoted Python-style
when empty or holding whitespace, control characters or a quote.

The pickle goes through a restricted unpickler (the data-only globals a
checkpoint needs), so third-party files run no code.  A file torch (or the
restricted unpickler) refuses, and any TorchScript archive, gives one line
"FILE: cause" on stderr and exit status 1.
"""
import pickle
import sys
import types
import zipfile

import torch

ALLOWED = {
    ("collections", "OrderedDict"), ("collections", "Counter"),
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "bytearray"),
    ("builtins", "complex"), ("builtins", "slice"), ("builtins", "range"),
    ("_codecs", "encode"),
    ("torch", "Size"), ("torch", "device"), ("torch", "Tensor"),
    ("torch.nn.parameter", "Parameter"),
    ("torch._utils", "_rebuild_tensor"), ("torch._utils", "_rebuild_tensor_v2"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"),
    ("torch._tensor", "_rebuild_from_type_v2"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
}


class SafeUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in ALLOWED or (module == "torch" and name.endswith("Storage")) \
                or (module == "torch" and isinstance(getattr(torch, name, None), torch.dtype)):
            return super().find_class(module, name)
        raise pickle.UnpicklingError("unsupported global '%s.%s'" % (module, name))


def _load(f, **kw):
    return SafeUnpickler(f, **kw).load()


safe_pickle = types.SimpleNamespace(Unpickler=SafeUnpickler, load=_load, __name__="safe_pickle")


def quote(key):
    if key and not any(c.isspace() or ord(c) < 0x20 or c == "'" for c in key):
        return key
    out = []
    for c in key:
        if c in "'\\":
            out.append("\\" + c)
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif ord(c) < 0x20 or ord(c) == 0x7f:
            out.append("\\x%02x" % ord(c))
        else:
            out.append(c)
    return "'" + "".join(out) + "'"


def walk(v, key, out):
    if isinstance(v, torch.Tensor):
        out.append("%s %s [%s]" % (quote(key), str(v.dtype).replace("torch.", ""),
                                   ",".join(str(d) for d in v.shape)))
    elif isinstance(v, dict):
        for k, x in v.items():
            walk(x, "%s.%s" % (key, k) if key else str(k), out)
    elif isinstance(v, (list, tuple)):
        for i, x in enumerate(v):
            walk(x, "%s.%d" % (key, i) if key else str(i), out)


def ls(path):
    """Returns (0, lines) or (1, error line)."""
    try:
        if zipfile.is_zipfile(path):
            names = zipfile.ZipFile(path).namelist()
            if any(n.endswith("/constants.pkl") or "/code/" in n for n in names):
                raise RuntimeError("TorchScript archive: not supported")
        obj = torch.load(path, map_location="cpu", pickle_module=safe_pickle)
    except Exception as e:  # torch raises many types; all mean "refused"
        return 1, "%s: %s" % (path, str(e).splitlines()[0] if str(e) else type(e).__name__)
    out = []
    walk(obj, "", out)
    return 0, out


def main():
    args = sys.argv[1:]
    if len(args) >= 2 and args[0] == "--batch":
        # --batch DIR FILE...: DIR/N.out (lines) or DIR/N.err per file, N from 0;
        # one torch import for many files.
        for i, path in enumerate(args[2:]):
            rc, res = ls(path)
            with open("%s/%d.%s" % (args[1], i, "out" if rc == 0 else "err"), "w") as f:
                f.write("".join(line + "\n" for line in res) if rc == 0 else res + "\n")
        return 0
    if len(args) != 1:
        print("usage: torch_ls.py FILE | torch_ls.py --batch DIR FILE...", file=sys.stderr)
        return 2
    rc, res = ls(args[0])
    if rc:
        print(res, file=sys.stderr)
        return 1
    for line in res:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
