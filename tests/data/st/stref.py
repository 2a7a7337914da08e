#!/usr/bin/python3
"""stref.py -- an independent pure-Python safetensors reader/writer for the
ckptfs tests (Debian has no `safetensors` package; torch 1.13 and numpy only).

  stref.py ls PATH               KEY DTYPE [d1,d2] per tensor, in data order
                                 (PATH: .safetensors, .bin/.pt, or an HF folder)
  stref.py dump PATH OUTDIR      OUTDIR/<i>.bin = numpy's view of tensor i's bytes,
                                 OUTDIR/ls.txt = the ls output
  stref.py check-torch ORIG OUT  OUT (safetensors or HF folder) holds the tensors
                                 of the torch file ORIG, equal by torch.equal
  stref.py gen DIR               writes the fixtures of tests/data/st

Order: a file's tensors sorted by data_offsets, ties in header order (what
safe_open().offset_keys() gives); a folder's shards in file-name order.
"""
import collections
import json
import os
import struct
import sys

import numpy as np

NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "BF16": "<u2", "I64": "<i8", "I32": "<i4",
      "I16": "<i2", "I8": "i1", "U64": "<u8", "U32": "<u4", "U16": "<u2", "U8": "u1",
      "BOOL": "?", "C64": "<c8", "F8_E4M3": "u1", "F8_E5M2": "u1"}
NAME = {"F64": "float64", "F32": "float32", "F16": "float16", "BF16": "bfloat16",
        "I64": "int64", "I32": "int32", "I16": "int16", "I8": "int8", "U64": "uint64",
        "U32": "uint32", "U16": "uint16", "U8": "uint8", "BOOL": "bool", "C64": "complex64",
        "F8_E4M3": "float8_e4m3fn", "F8_E5M2": "float8_e5m2"}


def st_read(path):
    """-> (metadata or None, [(name, info)] in data order, file bytes, data start)."""
    with open(path, "rb") as f:
        b = f.read()
    n = struct.unpack("<Q", b[:8])[0]
    hdr = json.loads(b[8:8 + n].decode("utf-8"), object_pairs_hook=collections.OrderedDict)
    meta = hdr.pop("__metadata__", None)
    items = sorted(hdr.items(), key=lambda kv: tuple(kv[1]["data_offsets"]))  # stable
    return meta, items, b, 8 + n


def st_array(info, b, start):
    shape = info["shape"]
    count = int(np.prod(shape)) if shape else 1
    begin = info["data_offsets"][0]
    a = np.frombuffer(b, dtype=NP[info["dtype"]], count=count, offset=start + begin)
    return a.reshape(shape)


def st_write(path, tensors, metadata=None, raw_header=None):
    """tensors: [(name, dtype, shape, bytes)] laid out in this order."""
    hdr = collections.OrderedDict()
    if metadata is not None:
        hdr["__metadata__"] = metadata
    at = 0
    for name, dt, shape, data in tensors:
        hdr[name] = {"dtype": dt, "shape": list(shape), "data_offsets": [at, at + len(data)]}
        at += len(data)
    h = raw_header if raw_header is not None else json.dumps(hdr, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(t[3] for t in tensors))


def torch_flat(obj, prefix=""):
    import torch
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += torch_flat(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            out += torch_flat(v, f"{prefix}.{i}" if prefix else str(i))
    elif isinstance(obj, torch.Tensor):
        out.append((prefix, obj))
    else:
        out.append((prefix, obj))
    return out


def folder_shards(path):
    for idx in ("model.safetensors.index.json", "pytorch_model.bin.index.json"):
        p = os.path.join(path, idx)
        if os.path.exists(p):
            with open(p) as f:
                wm = json.load(f)["weight_map"]
            return [os.path.join(path, s) for s in sorted(set(wm.values()))]
    for w in ("model.safetensors", "pytorch_model.bin"):
        if os.path.exists(os.path.join(path, w)):
            return [os.path.join(path, w)]
    raise SystemExit(f"{path}: no weights")


def listing(path):
    """-> [(key, dtypename, shape, numpy bytes or None)]"""
    if os.path.isdir(path):
        out = []
        for s in folder_shards(path):
            out += listing(s)
        return out
    with open(path, "rb") as f:
        magic = f.read(4)
    if magic == b"PK\x03\x04":
        import torch
        out = []
        for k, t in torch_flat(torch.load(path)):
            out.append((k, str(t.dtype)[6:], list(t.shape), None))
        return out
    meta, items, b, start = st_read(path)
    return [(k, NAME[v["dtype"]], v["shape"], st_array(v, b, start).tobytes()) for k, v in items]


def cmd_ls(path):
    for k, dt, shape, _ in listing(path):
        print(f"{k} {dt} [{','.join(str(d) for d in shape)}]")


def cmd_dump(path, outdir):
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "ls.txt"), "w") as ls:
        for i, (k, dt, shape, data) in enumerate(listing(path)):
            ls.write(f"{k} {dt} [{','.join(str(d) for d in shape)}]\n")
            with open(os.path.join(outdir, f"{i}.bin"), "wb") as f:
                f.write(data)


def st_torch(path):
    import torch
    tt = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
          "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8,
          "U8": torch.uint8, "BOOL": torch.bool, "C64": torch.complex64}
    out = []
    for p in (folder_shards(path) if os.path.isdir(path) else [path]):
        meta, items, b, start = st_read(p)
        if meta is not None and meta.get("format") not in ("pt", "tf", "flax", "mlx"):
            raise SystemExit(f"{p}: transformers would refuse __metadata__ {meta}")
        for k, v in items:
            lo, hi = v["data_offsets"]
            buf = bytearray(b[start + lo:start + hi])
            t = torch.frombuffer(buf, dtype=tt[v["dtype"]]) if buf else torch.empty(0, dtype=tt[v["dtype"]])
            out.append((k, t.reshape(v["shape"])))
    return out


def cmd_check_torch(orig, out):
    import torch
    want = torch_flat(torch.load(orig))
    got = st_torch(out)
    bad = 0
    if [k for k, _ in want] != [k for k, _ in got]:
        print("keys differ:", [k for k, _ in want], [k for k, _ in got])
        bad = 1
    for (k, a), (_, b) in zip(want, got):
        if a.dtype != b.dtype or a.shape != b.shape or not torch.equal(a, b):
            print(f"{k}: {a.dtype}{list(a.shape)} != {b.dtype}{list(b.shape)}")
            bad = 1
    print("ok" if not bad else "MISMATCH")
    sys.exit(bad)


def gen(d):
    import torch
    os.makedirs(d, exist_ok=True)
    f32 = lambda a: np.asarray(a, "<f4").tobytes()
    # basic: every common dtype, a scalar, a zero-size tensor, metadata.
    st_write(os.path.join(d, "basic.safetensors"), [
        ("a.weight", "F32", [2, 3], f32(np.arange(6) * 0.5)),
        ("a.bias", "F16", [3], np.asarray([1, 2, 3], "<f2").tobytes()),
        ("b.emb", "BF16", [2, 2], torch.arange(4, dtype=torch.bfloat16).view(torch.int16).numpy().tobytes()),
        ("count", "I64", [], np.asarray(42, "<i8").tobytes()),
        ("mask", "BOOL", [3], np.asarray([1, 0, 1], "u1").tobytes()),
        ("empty", "U8", [0], b""),
        ("c.idx", "I32", [2, 1, 2], np.asarray([-2, -1, 0, 1], "<i4").tobytes()),
    ], metadata={"format": "pt", "source": "ckptfs-test"})
    # all_dtypes: each safetensors dtype ckptfs maps, two elements each.
    rows = []
    for dt in ("BOOL", "U8", "I8", "F8_E5M2", "F8_E4M3", "I16", "U16", "F16", "BF16",
               "I32", "U32", "F32", "C64", "F64", "I64", "U64"):
        if dt in ("BF16", "F8_E5M2", "F8_E4M3"):
            raw = bytes([0x3f, 0x80, 0x40, 0x00]) if dt == "BF16" else bytes([0x38, 0x40])
        elif dt == "C64":
            raw = np.asarray([1 + 2j, -3.5j], "<c8").tobytes()
        else:
            raw = np.asarray([1, 2], NP[dt]).tobytes()
        rows.append((dt.lower(), dt, [2], raw))
    st_write(os.path.join(d, "all_dtypes.safetensors"), rows, metadata={"format": "pt"})
    # reorder: header order differs from data order; two zero-size ties; no
    # metadata; whitespace around the JSON; an unknown field serde ignores.
    hdr = (b' \n{"z":{"dtype":"F32","shape":[2],"data_offsets":[8,16]},'
           b'"y":{"dtype":"F32","shape":[2],"data_offsets":[0,8],"extra":[1.5,{"k":2}]},'
           b'"e2":{"dtype":"U8","shape":[0],"data_offsets":[16,16]},'
           b'"e1":{"dtype":"U8","shape":[0,3],"data_offsets":[16,16]}}\t')
    st_write(os.path.join(d, "reorder.safetensors"),
             [("", "", [], f32([1, 2])), ("", "", [], f32([3, 4]))], raw_header=hdr)
    # tiny.pt: a torch state dict with a tied weight and a transposed view.
    emb = torch.arange(12, dtype=torch.float32).reshape(4, 3) / 4
    sd = collections.OrderedDict()
    sd["embed.weight"] = emb
    sd["lm_head.weight"] = emb
    sd["proj.weight"] = torch.arange(6, dtype=torch.float32).reshape(2, 3).t()
    sd["proj.bias"] = torch.arange(3, dtype=torch.float16)
    sd["norm.weight"] = torch.ones(3, dtype=torch.bfloat16)
    sd["steps"] = torch.tensor(7, dtype=torch.int64)
    torch.save(sd, os.path.join(d, "tiny.pt"))
    # hf_bin_single: that state dict as one pytorch_model.bin beside a config.
    h = os.path.join(d, "hf_bin_single")
    os.makedirs(h, exist_ok=True)
    with open(os.path.join(h, "config.json"), "w") as f:
        f.write('{"model_type": "tiny", "tie_word_embeddings": true}\n')
    torch.save(sd, os.path.join(h, "pytorch_model.bin"))
    # hf_sharded: a tiny model in 2 safetensors shards + index + tokenizer files.
    h = os.path.join(d, "hf_sharded")
    os.makedirs(h, exist_ok=True)
    with open(os.path.join(h, "config.json"), "w") as f:
        f.write('{\n  "model_type": "tiny",\n  "hidden_size": 4,\n  "vocab_size": 5\n}\n')
    with open(os.path.join(h, "tokenizer.json"), "w") as f:
        f.write('{"version":"1.0","model":{"type":"WordLevel","vocab":{"a":0,"b":1,"c":2,"d":3,"e":4}}}\n')
    with open(os.path.join(h, "tokenizer_config.json"), "w") as f:
        f.write('{"model_max_length": 8}\n')
    shards = {
        "model-00001-of-00002.safetensors": [
            ("embed.weight", "F32", [5, 4], f32(np.arange(20) / 8)),
            ("layers.0.weight", "F32", [4, 4], f32(np.arange(16) - 8)),
            ("layers.0.bias", "F16", [4], np.asarray([0.5, 1, 1.5, 2], "<f2").tobytes())],
        "model-00002-of-00002.safetensors": [
            ("layers.1.weight", "F32", [4, 4], f32(np.arange(16) * 2)),
            ("norm.weight", "F32", [4], f32([1, 1, 1, 1]))],
    }
    wm, total = {}, 0
    for name, ts in shards.items():
        st_write(os.path.join(h, name), ts, metadata={"format": "pt"})
        for t in ts:
            wm[t[0]] = name
            total += len(t[3])
    with open(os.path.join(h, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2, sort_keys=True)
    # hf_bin_sharded: the same model as torch .bin shards.
    h = os.path.join(d, "hf_bin_sharded")
    os.makedirs(h, exist_ok=True)
    with open(os.path.join(h, "config.json"), "w") as f:
        f.write('{"model_type": "tiny"}\n')
    wm = {}
    for i, (name, ts) in enumerate(shards.items()):
        bn = f"pytorch_model-0000{i + 1}-of-00002.bin"
        sd = collections.OrderedDict()
        for k, dt, shape, raw in ts:
            sd[k] = torch.from_numpy(np.frombuffer(raw, NP[dt]).reshape(shape).copy())
            wm[k] = bn
        torch.save(sd, os.path.join(h, bn))
    with open(os.path.join(h, "pytorch_model.bin.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": wm}, f, indent=2, sort_keys=True)


if __name__ == "__main__":
    a = sys.argv[1:]
    if a and a[0] == "ls" and len(a) == 2:
        cmd_ls(a[1])
    elif a and a[0] == "dump" and len(a) == 3:
        cmd_dump(a[1], a[2])
    elif a and a[0] == "check-torch" and len(a) == 3:
        cmd_check_torch(a[1], a[2])
    elif a and a[0] == "gen" and len(a) == 2:
        gen(a[1])
    else:
        sys.exit(__doc__)
