#!/usr/bin/env bash
# The main job on the bundled sample, end to end: a BERT pre-training
# checkpoint (`bert.` prefix, `cls.` head) is fixed for a plain BertModel.
# Mount, look, mv, report, unmount, show the new checkpoint.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$("$here/scripts/setup.sh" "$here/build/release" | tail -n 1)
ckptfs="$build/ckptfs"
sample="$here/tests/data/bert_pretrain.bin"
reference="$here/tests/data/bert_tiny_reference.txt"
work=$(mktemp -d /tmp/ckptfs-demo.XXXXXX)
mnt="$work/mnt"
mkdir -p "$mnt"
cleanup() { mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt"; rm -rf "$work"; }
trap cleanup EXIT
cp "$sample" "$work/model.bin"   # keep the demo's output out of the repo

run() { printf '\n$ %s\n' "$*"; "$@"; }
cd "$work"
run "$ckptfs" ls model.bin
run "$ckptfs" model.bin mnt --reference "$reference"
run ls mnt mnt/bert
run head -n 5 mnt/shape
run cat mnt/config.json
run stat -c '%n %s bytes' mnt/bert/embeddings/word_embeddings/weight
run getfattr -d mnt/bert/embeddings/word_embeddings/weight 2>/dev/null || true
run cat mnt/_report
printf '\n$ mv mnt/bert/* mnt/\n'; mv mnt/bert/* mnt/
run rmdir mnt/bert
run rm -r mnt/cls
run cat mnt/_remap
run cat mnt/_report
run "$ckptfs" umount mnt
run ls -l "$work"
run "$ckptfs" ls model.remapped.bin
run /usr/bin/python3 -c 'import torch; sd = torch.load("model.remapped.bin"); print(len(sd), "tensors, e.g.", next(iter(sd)))'
run "$ckptfs" report model.remapped.bin --reference "$reference"
