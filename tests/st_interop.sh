#!/bin/bash
# st_interop.sh — the ckptfs CLI against an independent Python reader
# (tests/data/st/stref.py, numpy + torch 1.13): `ckptfs ls` of every real
# safetensors file and HF folder equals the reference listing; `ckptfs convert`
# of a torch file to safetensors loads in torch with equal values; a sharded
# folder converted to a folder lists the same and keeps its shard files.
# Exit 77 (skipped) when the binary or Python with numpy is missing.
set -u
CKPTFS=${CKPTFS:-}
CK_DATA=${CK_DATA:-$(dirname "$0")/data}
PYTHON=${PYTHON:-/usr/bin/python3}
REF="$CK_DATA/st/stref.py"

[ -x "$CKPTFS" ] || { echo "SKIP: no ckptfs binary (CKPTFS)"; exit 77; }
"$PYTHON" -c 'import numpy' 2>/dev/null || { echo "SKIP: $PYTHON has no numpy"; exit 77; }

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail=0
checked=0

same_listing() { # PATH
	if ! "$CKPTFS" ls "$1" >"$tmp/mine" 2>"$tmp/err"; then
		echo "FAIL: ckptfs ls $1: $(cat "$tmp/err")"
		fail=1
		return
	fi
	"$PYTHON" "$REF" ls "$1" >"$tmp/ref" || { echo "FAIL: stref.py ls $1"; fail=1; return; }
	if ! cmp -s "$tmp/mine" "$tmp/ref"; then
		echo "FAIL: listing of $1 differs from the reference:"
		diff "$tmp/ref" "$tmp/mine" | head -20
		fail=1
	fi
	[ -s "$tmp/mine" ] || { echo "FAIL: empty listing for $1"; fail=1; }
	checked=$((checked + 1))
}

for f in "$CK_DATA"/third_party_st/*.safetensors "$CK_DATA"/st/*.safetensors; do
	same_listing "$f"
done
for d in "$CK_DATA"/third_party_st/*/ "$CK_DATA"/st/hf_sharded "$CK_DATA"/st/hf_bin_sharded "$CK_DATA"/st/hf_bin_single; do
	same_listing "${d%/}"
done

# torch -> safetensors, values compared by torch
if "$CKPTFS" convert -o "$tmp/tiny.safetensors" "$CK_DATA/st/tiny.pt" >/dev/null 2>"$tmp/err"; then
	out=$("$PYTHON" "$REF" check-torch "$CK_DATA/st/tiny.pt" "$tmp/tiny.safetensors")
	[ "$out" = ok ] || { echo "FAIL: torch check of converted tiny.pt: $out"; fail=1; }
	same_listing "$tmp/tiny.safetensors"
else
	echo "FAIL: ckptfs convert tiny.pt: $(cat "$tmp/err")"
	fail=1
fi

# sharded folder -> folder: same shard files, same listing, tokenizer copied
if "$CKPTFS" convert -o "$tmp/hf_out" "$CK_DATA/st/hf_sharded" >/dev/null 2>"$tmp/err"; then
	same_listing "$tmp/hf_out"
	for f in model-00001-of-00002.safetensors model-00002-of-00002.safetensors tokenizer.json config.json; do
		cmp -s "$CK_DATA/st/hf_sharded/$f" "$tmp/hf_out/$f" || { echo "FAIL: hf_out/$f differs"; fail=1; }
	done
else
	echo "FAIL: ckptfs convert hf_sharded: $(cat "$tmp/err")"
	fail=1
fi

# a broken file: exit status 1 and one line naming the file and the rule
printf '\x14\x00\x00\x00\x00\x00\x00\x00{"a":{"dtype":"F7"}}' >"$tmp/bad.safetensors"
"$CKPTFS" ls "$tmp/bad.safetensors" >/dev/null 2>"$tmp/err"
rc=$?
if [ $rc -ne 1 ] || ! grep -q "bad.safetensors: .*unknown dtype 'F7'" "$tmp/err"; then
	echo "FAIL: broken file: exit $rc, stderr: $(cat "$tmp/err")"
	fail=1
fi

echo "checked $checked listings"
exit $fail
