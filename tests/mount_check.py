#!/usr/bin/python3
"""mount_check.py -- independent expectations for the ckptfs mount tests.

Reads checkpoints with real torch (torch.load; t.contiguous() bytes), a small
safetensors parser, or numpy (.npz), never with ckptfs itself.

  mount_check.py expect CKPT           one line per leaf: T KEY DTYPE SHAPE NBYTES SHA256
                                       or V KEY TEXT (plain values as Python prints them)
  mount_check.py verify MNT CKPT LS... walks each mount of CKPT and checks every file against
                                       `expect` (bytes, sizes, modes, xattrs, .shape files,
                                       virtual files; root shape = LS, the `ckptfs ls` output);
                                       a format with no independent reader gets the rest only
  mount_check.py compare ORIG OUT MAP  OUT holds ORIG's leaves renamed by MAP ("OLD NEW" or
                                       "OLD -" lines; unlisted keys keep their name), equal
                                       bytes/dtype/shape, and nothing else
  mount_check.py make DIR              writes DIR/model.pt (nested training checkpoint, tied
                                       weights), DIR/model.safetensors (flat state dict) and
                                       DIR/hide.safetensors (keys named shape and _report)
  mount_check.py big PATH              a BERT-base-sized torch.save (~440 MB) for benchmarks
Exit status 0 = ok, 1 = mismatch (each printed), 2 = usage, 3 = no independent reader.
"""
import collections
import hashlib
import json
import os
import stat
import struct
import sys
import zipfile

ST_NAME = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
           "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64",
           "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool",
           "C64": "complex64", "C128": "complex128",
           "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}
VIRTUAL = {"config.json", "_report", "_remap", "shape"}


class NoReader(Exception):
    pass


def shape_text(shape):
    return "[" + ",".join(str(int(d)) for d in shape) + "]"


def tensor_bytes(t):
    import torch
    t = t.detach().contiguous()
    if t.numel() == 0:
        return b""
    flat = t.reshape(-1)
    try:
        return flat.view(torch.uint8).numpy().tobytes()
    except (RuntimeError, TypeError):
        if t.dtype == torch.bfloat16:
            return flat.view(torch.int16).numpy().tobytes()
        return flat.numpy().tobytes()


def py_text(v):
    return str(v)


def flatten(obj, prefix, out):
    import torch
    if isinstance(obj, dict):
        for k, v in obj.items():
            flatten(v, f"{prefix}.{k}" if prefix else str(k), out)
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            flatten(v, f"{prefix}.{i}" if prefix else str(i), out)
    elif isinstance(obj, torch.Tensor):
        data = tensor_bytes(obj)
        out.append(("T", prefix, str(obj.dtype)[6:], shape_text(obj.shape), data))
    elif obj is None or isinstance(obj, (bool, int, float, str)):
        out.append(("V", prefix, py_text(obj)))
    else:
        out.append(("O", prefix, type(obj).__name__))


def st_leaves(path, out):
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n].decode(), object_pairs_hook=collections.OrderedDict)
    hdr.pop("__metadata__", None)
    start = 8 + n
    for k, v in sorted(hdr.items(), key=lambda kv: tuple(kv[1]["data_offsets"])):
        lo, hi = v["data_offsets"]
        out.append(("T", k, ST_NAME[v["dtype"]], shape_text(v["shape"]), b[start + lo:start + hi]))


def shards(path):
    for idx in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        p = os.path.join(path, idx)
        if os.path.exists(p):
            with open(p) as f:
                wm = json.load(f)["weight_map"]
            return [os.path.join(path, s) for s in sorted(set(wm.values()))]
    for w in ("model.safetensors", "pytorch_model.bin"):
        if os.path.exists(os.path.join(path, w)):
            return [os.path.join(path, w)]
    raise NoReader(f"{path}: no weights in folder")


def leaves(path):
    """-> [("T", key, dtype, shape, bytes) | ("V", key, text) | ("O", key, type)]"""
    out = []
    if os.path.isdir(path):
        for s in shards(path):
            out += leaves(s)
        return out
    with open(path, "rb") as f:
        head = f.read(16)
    if head[:4] == b"PK\x03\x04" and zipfile.is_zipfile(path):
        names = zipfile.ZipFile(path).namelist()
        if any(n.endswith(".npy") for n in names) and not any(n.endswith("data.pkl") for n in names):
            import numpy as np
            with np.load(path, allow_pickle=False) as z:
                for k in z.files:
                    a = z[k]  # tobytes() is C order; ascontiguousarray would make 0-d 1-d
                    out.append(("T", k, str(a.dtype), shape_text(a.shape), a.tobytes(order="C")))
            return out
    if len(head) >= 9 and head[8:16].lstrip(b" \t\r\n")[:1] == b"{" and \
            struct.unpack("<Q", head[:8])[0] < os.path.getsize(path):
        st_leaves(path, out)
        return out
    if head[:4] == b"PK\x03\x04" or head[:1] == b"\x80":
        import torch
        try:
            obj = torch.load(path, map_location="cpu")
        except Exception as e:  # torch refuses it: nothing independent to compare with
            raise NoReader(f"{path}: torch.load: {e}")
        flatten(obj, "", out)
        return out
    raise NoReader(f"{path}: no independent reader for this format")


def expect_lines(path):
    lines = []
    for leaf in leaves(path):
        if leaf[0] == "T":
            _, k, dt, sh, data = leaf
            lines.append(f"T {k} {dt} {sh} {len(data)} {hashlib.sha256(data).hexdigest()}")
        elif leaf[0] == "V":
            lines.append(f"V {leaf[1]} {leaf[2]!r}")
        else:
            lines.append(f"O {leaf[1]} {leaf[2]}")
    return lines


def cmd_expect(path):
    for line in expect_lines(path):
        print(line)


def xattr(path, name):
    try:
        return os.getxattr(path, name).decode()
    except OSError:
        return None


def sha_file(path):
    h = hashlib.sha256()
    n = 0
    with open(path, "rb") as f:
        while True:
            b = f.read(1 << 20)
            if not b:
                break
            h.update(b)
            n += len(b)
    return n, h.hexdigest()


def verify_virtual(mnt, ckpt, lsfile):
    """What needs no reader: shape = ckptfs ls, virtual files and their sizes."""
    bad = []
    with open(os.path.join(mnt, "shape"), "rb") as f, open(lsfile, "rb") as g:
        if f.read() != g.read():
            bad.append("shape differs from ckptfs ls")
    root = os.listdir(mnt)
    if ".shape" in root:
        bad.append(".shape listed at the root")
    for v in sorted(VIRTUAL):
        p = os.path.join(mnt, v)
        if not os.path.isfile(p):
            bad.append(f"no {v}")
            continue
        with open(p, "rb") as f:
            n = len(f.read())
        if os.stat(p).st_size != n:
            bad.append(f"{v}: st_size {os.stat(p).st_size} != {n} bytes read")
    with open(os.path.join(mnt, "config.json")) as f:
        try:
            json.load(f)
        except ValueError as e:
            bad.append(f"config.json: not JSON: {e}")
    for b in bad:
        print("MISMATCH", ckpt, b)
    return 1 if bad else 0


def cmd_verify(*triples):
    if len(triples) % 3:
        raise SystemExit("verify: MNT CKPT LS triples")
    status = 0
    for i in range(0, len(triples), 3):
        mnt, ckpt, ls = triples[i:i + 3]
        status |= verify_virtual(mnt, ckpt, ls)
        try:
            status |= verify_one(mnt, ckpt)
        except NoReader as e:
            print(f"verify: {ckpt}: bytes not compared ({e})")
    return status


def verify_one(mnt, ckpt):
    want = {}
    for leaf in leaves(ckpt):
        want[leaf[1]] = leaf
    bad = []
    seen = set()
    tensor_files = 0
    for dirpath, dirs, files in os.walk(mnt):
        rel = os.path.relpath(dirpath, mnt)
        st = os.stat(dirpath)
        if not stat.S_ISDIR(st.st_mode) or st.st_mode & 0o222 and st.st_mode & 0o777 != 0o755:
            bad.append(f"{rel}: folder mode {oct(st.st_mode)}")
        if ".shape" in files or ".shape" in dirs:
            bad.append(f"{rel}: .shape is listed")
        for name in files:
            p = os.path.join(dirpath, name)
            key = xattr(p, "user.ckpt.key")
            if key is None:
                if rel == "." and name in VIRTUAL:
                    continue
                bad.append(f"{rel}/{name}: no user.ckpt.key")
                continue
            st = os.stat(p)
            if stat.S_IMODE(st.st_mode) != 0o444 or not stat.S_ISREG(st.st_mode):
                bad.append(f"{key}: mode {oct(st.st_mode)}")
            w = want.get(key)
            if w is None:
                bad.append(f"{key}: not in the checkpoint")
                continue
            if key in seen:
                bad.append(f"{key}: shown twice")
            seen.add(key)
            if w[0] == "T":
                tensor_files += 1
                n, h = sha_file(p)
                if (n, h) != (len(w[4]), hashlib.sha256(w[4]).hexdigest()):
                    bad.append(f"{key}: bytes differ ({n} bytes read, {len(w[4])} expected)")
                if st.st_size != len(w[4]):
                    bad.append(f"{key}: st_size {st.st_size} != {len(w[4])}")
                if st.st_blocks * 512 < st.st_size:
                    bad.append(f"{key}: st_blocks {st.st_blocks} too small")
                if xattr(p, "user.ckpt.dtype") != w[2] or xattr(p, "user.ckpt.shape") != w[3]:
                    bad.append(f"{key}: xattrs {xattr(p, 'user.ckpt.dtype')} {xattr(p, 'user.ckpt.shape')}"
                               f" != {w[2]} {w[3]}")
                names = set(os.listxattr(p))
                if not {"user.ckpt.dtype", "user.ckpt.shape", "user.ckpt.key"} <= names:
                    bad.append(f"{key}: listxattr {sorted(names)}")
                try:
                    os.getxattr(p, "user.nonexistent")
                    bad.append(f"{key}: user.nonexistent answered")
                except OSError as e:
                    if e.errno != 61:  # ENODATA
                        bad.append(f"{key}: user.nonexistent gave errno {e.errno}")
            elif w[0] == "V":
                with open(p, "rb") as f:
                    got = f.read().decode()
                if got != w[2] + "\n":
                    bad.append(f"{key}: text {got!r} != {w[2] + chr(10)!r}")
    missing = [k for k, w in want.items() if k not in seen and w[0] in "TV"]
    for k in missing:
        bad.append(f"{k}: not shown in the mount")
    # every folder's hidden .shape: readable, lines are the folder's tensors
    with open(os.path.join(mnt, "shape")) as f:
        root_lines = f.read().splitlines()
    for dirpath, dirs, files in os.walk(mnt):
        if dirpath == mnt:
            continue
        with open(os.path.join(dirpath, ".shape")) as f:
            text = f.read()
        lines = text.splitlines()
        ntensors = 0
        for dp, _, fs in os.walk(dirpath):
            for fn in fs:
                k = xattr(os.path.join(dp, fn), "user.ckpt.dtype")
                ntensors += k is not None
        rel = os.path.relpath(dirpath, mnt)
        if len(lines) != ntensors:
            bad.append(f"{rel}/.shape: {len(lines)} lines for {ntensors} tensors")
        for line in lines:
            if not any(r == line or r.endswith("." + line) or r.endswith("/" + line) for r in root_lines):
                bad.append(f"{rel}/.shape: line {line!r} matches nothing in shape")
                break
        if os.stat(os.path.join(dirpath, ".shape")).st_size != len(text.encode()):
            bad.append(f"{rel}/.shape: st_size differs from its text")
    for b in bad:
        print("MISMATCH", ckpt, b)
    print(f"verify: {ckpt}: {tensor_files} tensor files, {len(seen) - tensor_files} value files,",
          "ok" if not bad else f"{len(bad)} problems")
    return 1 if bad else 0


def cmd_compare(orig, out, mapfile):
    ren = {}
    with open(mapfile) as f:
        for line in f:
            if line.strip():
                old, new = line.split()
                ren[old] = None if new == "-" else new
    want = {}
    for leaf in leaves(orig):
        k = leaf[1]
        if k in ren and ren[k] is None:
            continue
        want[ren.get(k, k)] = leaf
    got = {leaf[1]: leaf for leaf in leaves(out)}
    bad = []
    for k, w in want.items():
        g = got.get(k)
        if g is None:
            bad.append(f"{k}: missing in output")
        elif w[0] != g[0] or w[2:] != g[2:]:
            bad.append(f"{k}: differs: {w[:4]} vs {g[:4]}")
    for k in got:
        if k not in want:
            bad.append(f"{k}: unexpected in output")
    for b in bad:
        print("MISMATCH", b)
    print(f"compare: {len(want)} leaves,", "ok" if not bad else f"{len(bad)} problems")
    return 1 if bad else 0


def cmd_make(d):
    import torch
    torch.manual_seed(7)
    os.makedirs(d, exist_ok=True)
    sd = collections.OrderedDict()
    sd["bert.embeddings.word_embeddings.weight"] = torch.randn(30, 8)
    sd["bert.embeddings.LayerNorm.weight"] = torch.ones(8)
    sd["bert.embeddings.LayerNorm.bias"] = torch.zeros(8)
    for i in range(2):
        p = f"bert.encoder.layer.{i}."
        sd[p + "attention.self.query.weight"] = torch.randn(8, 8)
        sd[p + "attention.self.query.bias"] = torch.randn(8)
        sd[p + "output.dense.weight"] = torch.randn(8, 16).t()  # a transposed view
    sd["bert.pooler.dense.weight"] = torch.randn(8, 8).half()
    sd["cls.predictions.bias"] = torch.randn(30)
    sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]  # tied
    ckpt = {"model": sd, "epoch": 3, "lr": 0.001, "name": "run-1", "best": None, "done": True,
            "optimizer": {"state": {0: {"step": 5, "exp_avg": torch.randn(8)}},
                          "param_groups": [{"lr": 0.001, "params": [0]}]}}
    torch.save(ckpt, os.path.join(d, "model.pt"))
    # flat safetensors: same model, contiguous copies, no tie
    hdr, blobs, at = collections.OrderedDict(), [], 0
    names = {"float32": "F32", "float16": "F16"}
    for k, t in sd.items():
        if k == "cls.predictions.decoder.weight":
            continue
        data = tensor_bytes(t)
        hdr[k] = {"dtype": names[str(t.dtype)[6:]], "shape": list(t.shape), "data_offsets": [at, at + len(data)]}
        blobs.append(data)
        at += len(data)
    hdr["__metadata__"] = {"format": "pt"}
    st_write(os.path.join(d, "model.safetensors"), hdr, blobs)
    # real keys named like the virtual files: they win and hide them
    hide = collections.OrderedDict()
    hide["shape"] = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
    hide["_report"] = {"dtype": "F32", "shape": [3], "data_offsets": [8, 20]}
    hide["x.y"] = {"dtype": "F32", "shape": [1], "data_offsets": [20, 24]}
    st_write(os.path.join(d, "hide.safetensors"), hide, [bytes(range(24))])


def st_write(path, hdr, blobs):
    h = json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


def cmd_big(path):
    """BERT-base shapes (~110M float32 parameters, ~440 MB)."""
    import torch
    torch.manual_seed(0)
    sd = collections.OrderedDict()
    H, I, V = 768, 3072, 30522
    sd["bert.embeddings.word_embeddings.weight"] = torch.randn(V, H)
    sd["bert.embeddings.position_embeddings.weight"] = torch.randn(512, H)
    sd["bert.embeddings.token_type_embeddings.weight"] = torch.randn(2, H)
    sd["bert.embeddings.LayerNorm.weight"] = torch.ones(H)
    sd["bert.embeddings.LayerNorm.bias"] = torch.zeros(H)
    for i in range(12):
        p = f"bert.encoder.layer.{i}."
        for n in ("attention.self.query", "attention.self.key", "attention.self.value",
                  "attention.output.dense"):
            sd[p + n + ".weight"] = torch.randn(H, H)
            sd[p + n + ".bias"] = torch.randn(H)
        sd[p + "attention.output.LayerNorm.weight"] = torch.ones(H)
        sd[p + "attention.output.LayerNorm.bias"] = torch.zeros(H)
        sd[p + "intermediate.dense.weight"] = torch.randn(I, H)
        sd[p + "intermediate.dense.bias"] = torch.randn(I)
        sd[p + "output.dense.weight"] = torch.randn(H, I)
        sd[p + "output.dense.bias"] = torch.randn(H)
        sd[p + "output.LayerNorm.weight"] = torch.ones(H)
        sd[p + "output.LayerNorm.bias"] = torch.zeros(H)
    sd["bert.pooler.dense.weight"] = torch.randn(H, H)
    sd["bert.pooler.dense.bias"] = torch.randn(H)
    torch.save(sd, path)


def main(argv):
    cmds = {"expect": (cmd_expect, 1), "verify": (cmd_verify, -1), "compare": (cmd_compare, 3),
            "make": (cmd_make, 1), "big": (cmd_big, 1)}
    if len(argv) < 1 or argv[0] not in cmds or cmds[argv[0]][1] not in (-1, len(argv) - 1):
        print(__doc__, file=sys.stderr)
        return 2
    try:
        return cmds[argv[0]][0](*argv[1:]) or 0
    except NoReader as e:
        print(f"mount_check.py: {e}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
