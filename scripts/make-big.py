#!/usr/bin/env python3
"""Writes a BERT-base-sized pre-training state dict (about 440 MB of float32)
for benchmarks: `bert.` prefix, a `cls.` head and the decoder weight tied to
the word embeddings, like a real bert-base-uncased pytorch_model.bin.
Usage: /usr/bin/python3 scripts/make-big.py OUT.bin [layers]"""
import collections
import sys

import torch

out = sys.argv[1]
layers = int(sys.argv[2]) if len(sys.argv) > 2 else 12
h, inter, vocab = 768, 3072, 30522
g = torch.Generator().manual_seed(0)
sd = collections.OrderedDict()


def p(name, *shape):
    sd[name] = torch.empty(*shape).uniform_(-0.1, 0.1, generator=g)


p("bert.embeddings.word_embeddings.weight", vocab, h)
p("bert.embeddings.position_embeddings.weight", 512, h)
p("bert.embeddings.token_type_embeddings.weight", 2, h)
p("bert.embeddings.LayerNorm.weight", h)
p("bert.embeddings.LayerNorm.bias", h)
for i in range(layers):
    b = f"bert.encoder.layer.{i}."
    for m in ("attention.self.query", "attention.self.key", "attention.self.value",
              "attention.output.dense"):
        p(b + m + ".weight", h, h)
        p(b + m + ".bias", h)
    p(b + "attention.output.LayerNorm.weight", h)
    p(b + "attention.output.LayerNorm.bias", h)
    p(b + "intermediate.dense.weight", inter, h)
    p(b + "intermediate.dense.bias", inter)
    p(b + "output.dense.weight", h, inter)
    p(b + "output.dense.bias", h)
    p(b + "output.LayerNorm.weight", h)
    p(b + "output.LayerNorm.bias", h)
p("bert.pooler.dense.weight", h, h)
p("bert.pooler.dense.bias", h)
p("cls.predictions.bias", vocab)
p("cls.predictions.transform.dense.weight", h, h)
p("cls.predictions.transform.dense.bias", h)
p("cls.predictions.transform.LayerNorm.weight", h)
p("cls.predictions.transform.LayerNorm.bias", h)
sd["cls.predictions.decoder.weight"] = sd["bert.embeddings.word_embeddings.weight"]
p("cls.seq_relationship.weight", 2, h)
p("cls.seq_relationship.bias", 2)
torch.save(sd, out)
