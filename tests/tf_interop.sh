#!/usr/bin/env bash
# tf_interop.sh — TensorFlow checkpoints through the CLI, checked against
# tests/tf_ref.py (an independent pure-Python bundle reader; TensorFlow itself
# is not installed): `ckptfs ls` of every real checkpoint in tests/data/tf in
# every form (folder, prefix, .index), `ckptfs convert --format tf` outputs
# verified block by block and CRC by CRC, torch -> tf with tensor bytes
# compared against torch itself, and (when /dev/fuse is there) a mount:
# read, mv, rm -r, and the committed checkpoint.
set -u
CKPTFS=${CKPTFS:?CKPTFS must name the ckptfs binary}
CK_SRC=${CK_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
CK_DATA=${CK_DATA:-$CK_SRC/tests/data}
PYTHON=${PYTHON:-/usr/bin/python3}
REF="$PYTHON $CK_SRC/tests/tf_ref.py"
TFD=$CK_DATA/tf
FAILS=0
W=$(mktemp -d "${TMPDIR:-/tmp}/cktf-interop.XXXXXX")
trap 'rm -rf "$W"' EXIT

fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }
expect_eq() { if [ "$2" == "$3" ]; then ok "$1"; else fail "$1: got [$2], want [$3]"; fi; }

prefix_of() {   # the bundle prefix inside a fixture folder
	if [ -f "$1/variables/variables.index" ]; then echo "$1/variables/variables"; else echo "$1/export"; fi
}

V2="half_plus_two_v2export keras_multiple_inputs_saved_model keras_single_input_saved_model
regression_savedmodel saved_model_counter saved_model_half_plus_three saved_model_half_plus_two_2_versions
saved_model_half_plus_two_cpu saved_model_half_plus_two_mkl saved_model_half_plus_two_tf2_cpu tf_text_regression"

for d in $V2; do
	p=$(prefix_of "$TFD/$d")
	want=$($REF ls "$p") || fail "$d: tf_ref.py cannot read it"
	expect_eq "$d: ls of the folder" "$("$CKPTFS" ls "$TFD/$d")" "$want"
	expect_eq "$d: ls of the prefix" "$("$CKPTFS" ls "$p")" "$want"
	expect_eq "$d: ls of the .index" "$("$CKPTFS" ls "$p.index")" "$want"
	out=$W/$d.tf
	"$CKPTFS" convert "$TFD/$d" -o "$out" --format tf >/dev/null || { fail "$d: convert"; continue; }
	r=$($REF check "$out") || fail "$d: converted bundle fails tf_ref.py check"
	expect_eq "$d: converted bundle checks" "$r" "$($REF check "$p")"
	expect_eq "$d: converted tensors' bytes" "$($REF sums "$out")" "$($REF sums "$p")"
	expect_eq "$d: ls of the converted bundle" "$("$CKPTFS" ls "$out")" "$want"
done

# refusals: one line, exit status 1
err=$("$CKPTFS" ls "$TFD/bad_half_plus_two_v1" 2>&1 >/dev/null)
st=$?
expect_eq "V1 checkpoint: exit status" "$st" 1
expect_eq "V1 checkpoint: one line" "$(printf '%s\n' "$err" | wc -l)" 1
case $err in *"TF V1 checkpoint (SavedTensorSlices table) is not supported"*) ok "V1 message";;
	*) fail "V1 message: $err";; esac
err=$("$CKPTFS" ls "$W/no-such-prefix" 2>&1 >/dev/null)
expect_eq "missing prefix: exit status" "$?" 1

# the TF-1 folder without a `checkpoint` file, several steps
mkdir -p "$W/steps"
for n in 100 2000 300; do
	for t in index data-00000-of-00001; do
		cp "$TFD/half_plus_two_v2export/export.$t" "$W/steps/model.ckpt-$n.$t"
	done
done
expect_eq "highest step chosen" "$("$CKPTFS" ls "$W/steps")" "$($REF ls "$W/steps/model.ckpt-2000")"

# torch -> tf: the same bytes as torch sees them
if $PYTHON -c 'import torch' 2>/dev/null; then
	"$CKPTFS" convert "$CK_DATA/bert_pretrain.bin" -o "$W/bert.tf" --format tf >/dev/null || fail "torch convert"
	expect_eq "torch -> tf bundle checks" "$($REF check "$W/bert.tf" | cut -d' ' -f1)" ok
	want=$($PYTHON - "$CK_DATA/bert_pretrain.bin" <<'EOF'
import hashlib, sys, torch
sd = torch.load(sys.argv[1], map_location="cpu")
for k in sorted(sd, key=lambda s: s.encode()):
    print(k, hashlib.sha256(sd[k].contiguous().numpy().tobytes()).hexdigest())
EOF
)
	expect_eq "torch -> tf: bytes match torch" "$($REF sums "$W/bert.tf")" "$want"
else
	echo "skip: no torch"
fi

# ---- the mount (a subshell: mount_common.sh skips with 77 when there is no FUSE) ----
(
	. "$CK_SRC/tests/lib/mount_common.sh"
	SRC=$T/src
	mkdir -p "$SRC"
	cp -r "$TFD/keras_multiple_inputs_saved_model/." "$SRC/"
	M=$T/m
	OUT=$T/out.tf
	ck_mount "$M" --output "$OUT" "$SRC" || { fail "mount"; finish; }
	expect_eq "shape file" "$(cat "$M/shape")" "$("$CKPTFS" ls "$SRC")"
	expect_eq "root listing" "$(ls "$M" | tr '\n' ' ')" \
		"_CHECKPOINTABLE_OBJECT_GRAPH _remap _report config.json keras_api layer_with_weights-1 optimizer shape trainable_variables "
	expect_eq "object graph placeholder" "$(cat "$M/_CHECKPOINTABLE_OBJECT_GRAPH")" "<tf string tensor [], 4516 bytes>"
	K="trainable_variables/0/.ATTRIBUTES/VARIABLE_VALUE"
	expect_eq "tensor bytes" "$(od -An -tx1 "$M/$K")" \
		"$(od -An -tx1 -j52 -N60 "$SRC/variables/variables.data-00000-of-00001")"
	expect_eq "tensor size" "$(stat -c %s "$M/$K")" 60
	expect_eq "xattr shape" "$($PYTHON -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.ckpt.shape").decode())' \
		"$M/$K")" "[5,3]"
	check "mv a folder" mv "$M/trainable_variables" "$M/dense"
	check "rm -r a folder" rm -r "$M/keras_api"
	printed=$("$CKPTFS" umount "$M")
	expect_eq "umount prints the output" "$printed" "$OUT"
	expect_eq "committed bundle checks" "$($REF check "$OUT" | cut -d' ' -f1)" ok
	expect_eq "committed keys" "$($REF dump "$OUT" | cut -d' ' -f1 | grep -c '^dense/')" 6
	expect_eq "no keras_api left" "$($REF dump "$OUT" | grep -c '^keras_api')" 0
	expect_eq "object graph kept" "$($REF dump "$OUT" | grep -c '^_CHECKPOINTABLE_OBJECT_GRAPH dtype=7')" 1
	expect_eq "source untouched" "$(cd "$SRC" && sha256sum variables/*)" \
		"$(cd "$TFD/keras_multiple_inputs_saved_model" && sha256sum variables/*)"
	finish
)
mst=$?
if [ "$mst" -eq 77 ]; then
	echo "skip: mount part (no FUSE)"
elif [ "$mst" -ne 0 ]; then
	fail "mount part"
fi

if [ "$FAILS" -ne 0 ]; then
	echo "$FAILS check(s) failed"
	exit 1
fi
echo "all checks passed"
