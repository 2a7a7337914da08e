#!/usr/bin/python3
"""make-fixtures.py — writes the PyTorch test fixtures in tests/data/.

Run with the system python that has torch 1.13:  /usr/bin/python3 scripts/make-fixtures.py
Everything is seeded, so re-running gives the same tensors and the same zip
files byte for byte; legacy files differ in their storage keys (torch names
storages by memory address) and torchscript.pt in its debug records.  Files:

  bert_pretrain.bin          tiny BertForPreTraining state dict (bert. prefix, cls head,
                             decoder weight/bias tied to word embeddings / predictions.bias)
  bert_pretrain_legacy.bin   the same, _use_new_zipfile_serialization=False
  bert_gamma_beta_legacy.bin the same with 2018-style LayerNorm.gamma/beta names (legacy)
  ddp_module.pt              a tiny BertModel state dict under DDP's module. prefix
  bert_tiny_reference.txt    "KEY [d1,d2]" of the tiny BertModel (for report tests)
  training.pt                {epoch, model_state_dict, optimizer_state_dict (Adam, stepped), loss}
  views.pt / views_legacy.pt views (transposed, offsets, shared), every dtype, 0-d, empty,
                             a Parameter, nested list/tuple, non-tensor values
  odd_keys.pt                '', 'a b', int keys, nested list
  root_tensor.pt             a bare tensor as the whole checkpoint
  legacy_view_meta.pt        hand-made legacy file with view_metadata storage slices
  torchscript.pt             torch.jit.save of a tiny scripted module (must be refused)
  broken_*.pt                one defect each (see BROKEN below); tests/test_torch.c
                             lists the error each must give.
"""
import collections
import io
import os
import pickle
import struct
import sys
import zipfile

import torch

OUT = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "tests", "data")
OUT = os.path.abspath(OUT)

V, H, P, I, L = 32, 8, 16, 16, 2   # vocab, hidden, positions, intermediate, layers


def linear(o, i):
    return torch.nn.Linear(i, o)


class Embeddings(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.register_buffer("position_ids", torch.arange(P).expand((1, -1)))
        self.word_embeddings = torch.nn.Embedding(V, H)
        self.position_embeddings = torch.nn.Embedding(P, H)
        self.token_type_embeddings = torch.nn.Embedding(2, H)
        self.LayerNorm = torch.nn.LayerNorm(H)


class SelfAttention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.key, self.value = linear(H, H), linear(H, H), linear(H, H)


class DenseNorm(torch.nn.Module):
    def __init__(self, i):
        super().__init__()
        self.dense = linear(H, i)
        self.LayerNorm = torch.nn.LayerNorm(H)


class Attention(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.self = SelfAttention()
        self.output = DenseNorm(H)


class Intermediate(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = linear(I, H)


class Layer(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = Attention()
        self.intermediate = Intermediate()
        self.output = DenseNorm(I)


class Encoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.ModuleList([Layer() for _ in range(L)])


class Pooler(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dense = linear(H, H)


class BertModel(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embeddings = Embeddings()
        self.encoder = Encoder()
        self.pooler = Pooler()


class LMHead(torch.nn.Module):
    def __init__(self, emb):
        super().__init__()
        self.bias = torch.nn.Parameter(torch.zeros(V))
        self.transform = DenseNorm(H)
        self.decoder = torch.nn.Linear(H, V)
        self.decoder.weight = emb.weight      # tied, as HF does
        self.decoder.bias = self.bias


class PreTrainingHeads(torch.nn.Module):
    def __init__(self, emb):
        super().__init__()
        self.predictions = LMHead(emb)
        self.seq_relationship = linear(2, H)


class BertForPreTraining(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.bert = BertModel()
        self.cls = PreTrainingHeads(self.bert.embeddings.word_embeddings)


def path(name):
    return os.path.join(OUT, name)


def save(obj, name, legacy=False):
    torch.save(obj, path(name), _use_new_zipfile_serialization=not legacy)


def randomize(module):
    """LayerNorm/bias init is constant; make every value distinct so mixups show."""
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn_like(p))


def bert_files():
    torch.manual_seed(0)
    m = BertForPreTraining()
    randomize(m)
    sd = m.state_dict()
    save(sd, "bert_pretrain.bin")
    save(sd, "bert_pretrain_legacy.bin", legacy=True)
    old = collections.OrderedDict()
    for k, v in sd.items():
        if ".LayerNorm." in k:
            k = k.replace("LayerNorm.weight", "LayerNorm.gamma").replace("LayerNorm.bias", "LayerNorm.beta")
        old[k] = v
    save(old, "bert_gamma_beta_legacy.bin", legacy=True)

    torch.manual_seed(1)
    base = BertModel()
    randomize(base)
    bsd = base.state_dict()
    save(collections.OrderedDict(("module." + k, v) for k, v in bsd.items()), "ddp_module.pt")
    with open(path("bert_tiny_reference.txt"), "w") as f:
        f.write("# tiny BertModel (scripts/make-fixtures.py): KEY [shape]\n")
        for k, v in bsd.items():
            f.write("%s [%s]\n" % (k, ",".join(str(d) for d in v.shape)))


def training_file():
    torch.manual_seed(2)
    model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
    opt = torch.optim.Adam(model.parameters(), lr=0.001)
    x = torch.randn(5, 4)
    loss = model(x).pow(2).mean()
    loss.backward()
    opt.step()
    save({"epoch": 7, "model_state_dict": model.state_dict(), "optimizer_state_dict": opt.state_dict(),
          "loss": 0.25}, "training.pt")


def views_obj():
    torch.manual_seed(3)
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    return {
        "base": base,
        "transposed": base.t(),
        "row": base[1],
        "col": base[:, 2],
        "narrow": base[1:3, 2:5],
        "half": torch.randn(3, 4).half(),
        "bf16": torch.randn(5).bfloat16(),
        "f64": torch.randn(2, 2, dtype=torch.float64),
        "i8": torch.tensor([-3, 0, 5], dtype=torch.int8),
        "i16": torch.tensor([-300, 7], dtype=torch.int16),
        "i32": torch.tensor([[1, -2], [3, 4]], dtype=torch.int32),
        "i64": torch.arange(6).reshape(2, 3),
        "u8": torch.tensor([0, 255, 7], dtype=torch.uint8),
        "flag": torch.tensor([True, False, True, True]),
        "c64": torch.tensor([1 + 2j, -3j], dtype=torch.complex64),
        "scalar": torch.tensor(2.5),
        "empty": torch.zeros(0),
        "empty2d": torch.zeros(2, 0, dtype=torch.int64),
        "param": torch.nn.Parameter(torch.randn(2, 3)),
        "list": [torch.ones(2), torch.zeros(1, 1)],
        "tuple": (torch.full((3,), 4.0),),
        "note": "hello",
        "count": 3,
        "ratio": 0.5,
        "none": None,
        "yes": True,
    }


def odd_keys_obj():
    t = torch.arange(3, dtype=torch.float32)
    return collections.OrderedDict([
        ("", t), ("a b", torch.ones(2)), (5, torch.zeros(1)),
        ("x", {0: torch.full((2, 2), 3.0), "y": [torch.ones(1), torch.ones(2, 1)]}),
        ("tab\there", torch.ones(1)),
    ])


# ---- hand-made files ----------------------------------------------------------

class Storage:
    """A storage as a persistent id; data is its raw bytes."""
    def __init__(self, cls, key, numel, data=b"", view=None):
        self.cls, self.key, self.numel, self.data, self.view = cls, key, numel, data, view


class Tensor:
    def __init__(self, storage, offset, size, stride):
        self.args = (storage, offset, tuple(size), tuple(stride), False, collections.OrderedDict())

    def __reduce__(self):
        return (torch._utils._rebuild_tensor_v2, self.args)


class Pickler(pickle.Pickler):
    legacy = False

    def persistent_id(self, obj):
        if not isinstance(obj, Storage):
            return None
        pid = ("storage", obj.cls, obj.key, "cpu", obj.numel)
        return pid + (obj.view,) if self.legacy else pid


def dumps(obj, legacy=False):
    b = io.BytesIO()
    p = Pickler(b, protocol=2)
    p.legacy = legacy
    p.dump(obj)
    return b.getvalue()


def write_zip(name, records, prefix=None, deflate=()):
    prefix = prefix or os.path.splitext(name)[0]
    with zipfile.ZipFile(path(name), "w") as z:
        for rec, data in records:
            info = zipfile.ZipInfo(prefix + "/" + rec, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED if rec in deflate else zipfile.ZIP_STORED
            z.writestr(info, data)


def f32(*vals):
    return struct.pack("<%df" % len(vals), *vals)


def write_legacy(name, obj, storages, magic=0x1950a86a20f9469cfc6c, little=True, counts=None, cut=0):
    out = io.BytesIO()
    pickle.dump(magic, out, protocol=2)
    pickle.dump(1001, out, protocol=2)
    pickle.dump({"protocol_version": 1001, "little_endian": little,
                 "type_sizes": {"short": 2, "int": 4, "long": 4}}, out, protocol=2)
    out.write(dumps(obj, legacy=True))
    keys = sorted(s.key for s in storages)
    pickle.dump(keys, out, protocol=2)
    by_key = {s.key: s for s in storages}
    for k in keys:
        s = by_key[k]
        n = counts[k] if counts and k in counts else s.numel
        out.write(struct.pack("<q", n))
        out.write(s.data)
    data = out.getvalue()
    with open(path(name), "wb") as f:
        f.write(data[:len(data) - cut] if cut else data)


def handmade_files():
    fs = torch.FloatStorage
    # legacy storage slices: 'v1' and 'v2' are views of root storage 'r' (elements 2.. and 5..)
    r = Storage(fs, "r", 8, f32(*range(8)))
    v1 = Storage(fs, "r", 8, view=("v1", 2, 4))
    v2 = Storage(fs, "r", 8, view=("v2", 5, 3))
    write_legacy("legacy_view_meta.pt", collections.OrderedDict([
        ("whole", Tensor(r, 0, [8], [1])),
        ("mid", Tensor(v1, 1, [2], [1])),        # elements 3, 4 of r
        ("tail", Tensor(v2, 0, [3], [1])),       # elements 5, 6, 7
        ("mid_again", Tensor(v1, 0, [2, 2], [2, 1])),
    ]), [r])

    good = Storage(fs, "0", 4, f32(1, 2, 3, 4))
    ok_pkl = dumps({"w": Tensor(good, 0, [2, 2], [2, 1])})
    write_zip("broken_big_byteorder.pt", [("data.pkl", ok_pkl), ("byteorder", b"big"),
                                          ("data/0", good.data), ("version", b"3\n")])
    write_zip("broken_deflated.pt", [("data.pkl", ok_pkl), ("data/0", good.data * 8), ("version", b"3\n")],
              deflate=("data/0",))
    # deflated data.pkl is fine (libzip inflates it); only storages must be stored
    write_zip("deflated_pickle.pt", [("data.pkl", ok_pkl), ("data/0", good.data), ("version", b"3\n")],
              deflate=("data.pkl",))
    write_zip("broken_missing_record.pt", [("data.pkl", ok_pkl), ("version", b"3\n")])
    write_zip("broken_short_record.pt", [("data.pkl", ok_pkl), ("data/0", good.data[:12]), ("version", b"3\n")])
    write_zip("broken_offset_past.pt", [("data.pkl", dumps({"w": Tensor(good, 3, [2], [1])})),
                                        ("data/0", good.data), ("version", b"3\n")])
    huge = Storage(fs, "0", 1 << 62)
    write_zip("broken_absurd_numel.pt", [("data.pkl", dumps({"w": Tensor(huge, 0, [2], [1])})),
                                         ("data/0", good.data), ("version", b"3\n")])
    with zipfile.ZipFile(path("broken_no_folder.pt"), "w") as z:
        z.writestr(zipfile.ZipInfo("data.pkl", date_time=(1980, 1, 1, 0, 0, 0)), ok_pkl)
    write_zip("broken_version.pt", [("data.pkl", ok_pkl), ("data/0", good.data), ("version", b"99\n")])
    write_zip("broken_unsafe.pt", [("data.pkl", pickle.dumps(os.getcwd, protocol=2)),
                                   ("version", b"3\n")])

    lt = collections.OrderedDict([("w", Tensor(good, 0, [4], [1]))])
    write_legacy("broken_legacy_magic.pt", lt, [good], magic=0x1950a86a20f9469cfc6d)
    write_legacy("broken_legacy_truncated.pt", lt, [good], cut=3)
    write_legacy("broken_legacy_count.pt", lt, [good], counts={"0": 1 << 61})
    write_legacy("broken_legacy_big_endian.pt", lt, [good], little=False)


def torchscript_file():
    class M(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(2, 2)

        def forward(self, x):
            return self.lin(x)
    torch.manual_seed(4)
    torch.jit.save(torch.jit.script(M()), path("torchscript.pt"))


def main():
    os.makedirs(OUT, exist_ok=True)
    bert_files()
    training_file()
    save(views_obj(), "views.pt")
    save(views_obj(), "views_legacy.pt", legacy=True)
    save(odd_keys_obj(), "odd_keys.pt")
    torch.manual_seed(5)
    save(torch.randn(2, 3), "root_tensor.pt")
    handmade_files()
    torchscript_file()


if __name__ == "__main__":
    main()
