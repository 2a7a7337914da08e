#!/bin/bash
# gguf_npz_interop.sh — the ckptfs CLI (and, when FUSE is there, a mount)
# against independent readers: tests/data/gguf/ggufref.py (a GGUF parser
# reading tensor bytes with numpy.memmap) and tests/data/npz/npzref.py
# (numpy.load, torch.load).  `ckptfs ls` of every GGUF/.npy/.npz fixture and
# real file equals the reference listing; every broken file is refused with
# exit 1 and one line; GGUF -> GGUF keeps the KV section byte for byte (also
# after a rename); npz/torch -> GGUF and GGUF/torch/npz -> npz give files the
# references read back with equal values, and every npz member is exactly
# what np.save writes.  Exit 77 (skipped) without the binary or numpy.
set -u
CKPTFS=${CKPTFS:-}
CK_DATA=${CK_DATA:-$(dirname "$0")/data}
PYTHON=${PYTHON:-/usr/bin/python3}
G="$CK_DATA/gguf"
N="$CK_DATA/npz"

[ -x "$CKPTFS" ] || { echo "SKIP: no ckptfs binary (CKPTFS)"; exit 77; }
"$PYTHON" -c 'import numpy' 2>/dev/null || { echo "SKIP: $PYTHON has no numpy"; exit 77; }

tmp=$(mktemp -d)
mnt="$tmp/mnt"
mpid=
cleanup() {
	if grep -qs " $mnt fuse" /proc/self/mounts; then
		fusermount3 -u -z "$mnt" 2>/dev/null
	fi
	[ -n "$mpid" ] && kill -9 "$mpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
fail=0
checked=0
bad() { echo "FAIL: $*"; fail=1; }

# listing FILE REF: `ckptfs ls` equals `REF ls`, or both refuse (ckptfs with exit 1, one line)
listing() {
	local f=$1 ref=$2 rc
	"$CKPTFS" ls "$f" >"$tmp/mine" 2>"$tmp/err"
	rc=$?
	if "$PYTHON" "$ref" ls "$f" >"$tmp/ref" 2>/dev/null; then
		if [ $rc -ne 0 ]; then
			bad "ckptfs ls $f refused what the reference reads: $(cat "$tmp/err")"
		elif ! cmp -s "$tmp/mine" "$tmp/ref"; then
			bad "listing of $f differs from $(basename "$ref"):"
			diff "$tmp/ref" "$tmp/mine" | head -10
		fi
	else
		refused "$f" "$rc"
	fi
	checked=$((checked + 1))
}

# refused FILE STATUS: exit 1 and exactly one line "ckptfs: FILE: cause"
refused() {
	if [ "$2" -ne 1 ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] || ! grep -q "^ckptfs: $1: " "$tmp/err"; then
		bad "refusal of $1: exit $2, stderr: $(cat "$tmp/err")"
	fi
}

for f in "$G"/*.gguf "$G"/real/*.gguf; do
	listing "$f" "$G/ggufref.py"
done
for f in "$N"/*.npy "$N"/*.npz "$N"/real/*.np?; do
	listing "$f" "$N/npzref.py"
done
for f in "$G"/broken/* "$N"/broken/*; do
	"$CKPTFS" ls "$f" >/dev/null 2>"$tmp/err"
	refused "$f" $?
	checked=$((checked + 1))
done
want="ckptfs: $G/real/ollama-api-test-truncated.gguf: truncated GGUF header (6 bytes; the fixed header needs 24)"
"$CKPTFS" ls "$G/real/ollama-api-test-truncated.gguf" 2>"$tmp/err"
[ "$(cat "$tmp/err")" = "$want" ] || bad "truncated real file: $(cat "$tmp/err")"

# run NAME COMMAND...: the command must succeed
run() {
	local what=$1
	shift
	"$@" >"$tmp/out" 2>&1 || { bad "$what: $(cat "$tmp/out")"; return 1; }
	checked=$((checked + 1))
}

# GGUF -> GGUF: unchanged, the same bytes; renamed, the same KVs and tensor bytes under new names
run "convert tiny.gguf" "$CKPTFS" convert "$G/tiny.gguf" -o "$tmp/same.gguf" &&
	{ cmp -s "$G/tiny.gguf" "$tmp/same.gguf" || bad "tiny.gguf converted to itself differs"; }
run "convert the real llama gguf" "$CKPTFS" convert "$G/real/ollama-llama-2-tiny-random.gguf" -o "$tmp/llama.gguf" &&
	{ cmp -s "$G/real/ollama-llama-2-tiny-random.gguf" "$tmp/llama.gguf" || bad "llama gguf converted to itself differs"; }
printf 'ckptfs-journal 1\nmkdir\tlayers\nrename\tblk/0\tlayers/0\nrename\toutput/bias\toutput/b\n' >"$tmp/journal"
if run "apply a remap to tiny.gguf" "$CKPTFS" apply "$G/tiny.gguf" --remap "$tmp/journal" -o "$tmp/renamed.gguf"; then
	"$PYTHON" "$G/ggufref.py" kv "$G/tiny.gguf" >"$tmp/kv.src"
	"$PYTHON" "$G/ggufref.py" kv "$tmp/renamed.gguf" >"$tmp/kv.out"
	cmp -s "$tmp/kv.src" "$tmp/kv.out" || bad "KVs changed by a rename: $(diff "$tmp/kv.src" "$tmp/kv.out" | head -5)"
	"$PYTHON" "$G/ggufref.py" tensors "$G/tiny.gguf" | sed -e 's/^blk\.0\./layers.0./' -e 's/^output\.bias /output.b /' >"$tmp/t.src"
	"$PYTHON" "$G/ggufref.py" tensors "$tmp/renamed.gguf" >"$tmp/t.out"
	cmp -s "$tmp/t.src" "$tmp/t.out" || bad "tensors after a rename: $(diff "$tmp/t.src" "$tmp/t.out" | head -5)"
	grep -q '^layout ok$' "$tmp/t.out" || bad "renamed.gguf: layout is not ggml's"
fi

# npz -> GGUF: float/int arrays, minimal KVs; a dtype GGUF lacks is refused with one line
if run "convert npz to gguf" "$CKPTFS" convert --format gguf "$N/real/candle-test.npz" -o "$tmp/candle.gguf"; then
	out=$("$PYTHON" "$G/ggufref.py" check-npz "$tmp/candle.gguf" "$N/real/candle-test.npz" 2>&1)
	[ "$out" = ok ] || bad "candle.gguf against numpy: $out"
	"$PYTHON" "$G/ggufref.py" kv "$tmp/candle.gguf" | grep -q "^general.architecture 8 'unknown'$" ||
		bad "candle.gguf: no general.architecture"
fi
"$CKPTFS" convert --format gguf "$N/all_dtypes.npz" -o "$tmp/x.gguf" 2>"$tmp/err"
refused "$tmp/x.gguf" $?
grep -q "GGUF cannot store dtype uint8 of tensor 'u8'" "$tmp/err" || bad "npz with uint8 -> gguf: $(cat "$tmp/err")"
[ -e "$tmp/x.gguf" ] && bad "a refused convert left $tmp/x.gguf"

# GGUF / torch / npz -> npz: numpy reads what the references read; members are np.save's bytes
if run "convert gguf to npz" "$CKPTFS" convert --format npz "$G/real/ollama-llama-2-tiny-random.gguf" -o "$tmp/llama.npz"; then
	out=$("$PYTHON" "$G/ggufref.py" check-npz "$G/real/ollama-llama-2-tiny-random.gguf" "$tmp/llama.npz" 2>&1)
	[ "$out" = ok ] || bad "llama.npz against the gguf: $out"
	out=$("$PYTHON" "$N/npzref.py" members "$tmp/llama.npz" 2>&1)
	[ "$out" = ok ] || bad "llama.npz members: $out"
fi
for src in "$N/torch_views.pt" "$N/all_dtypes.npz"; do
	o="$tmp/$(basename "$src").npz"
	if run "convert $src to npz" "$CKPTFS" convert --format npz "$src" -o "$o"; then
		out=$("$PYTHON" "$N/npzref.py" same "$src" "$o" 2>&1)
		[ "$out" = ok ] || bad "$o against $src: $out"
		out=$("$PYTHON" "$N/npzref.py" members "$o" 2>&1)
		[ "$out" = ok ] || bad "$o members: $out"
	fi
done
run "convert single.npy" "$CKPTFS" convert "$N/single.npy" -o "$tmp/single.npy" &&
	{ cmp -s "$N/single.npy" "$tmp/single.npy" || bad "single.npy converted to itself differs"; }

# The mount: tensor files hold the reference bytes, config.json summarises the KVs, a mv commits
if [ -c /dev/fuse ] && command -v fusermount3 >/dev/null; then
	mkdir -p "$mnt" "$tmp/dump"
	"$CKPTFS" -f --output "$tmp/committed.gguf" "$G/tiny.gguf" "$mnt" 2>"$tmp/mlog" &
	mpid=$!
	for _ in $(seq 1 200); do
		grep -qs " $mnt fuse" /proc/self/mounts && break
		kill -0 "$mpid" 2>/dev/null || break
		sleep 0.05
	done
	if grep -qs " $mnt fuse" /proc/self/mounts; then
		"$PYTHON" "$G/ggufref.py" dump "$G/tiny.gguf" "$tmp/dump"
		cmp -s "$mnt/shape" "$tmp/dump/ls.txt" || bad "mount: shape differs from the reference listing"
		i=0
		while read -r key _; do
			cmp -s "$mnt/${key//.//}" "$tmp/dump/$i.bin" || bad "mount: bytes of $key differ"
			i=$((i + 1))
		done <"$tmp/dump/ls.txt"
		[ $i -eq 9 ] || bad "mount: $i tensors checked, want 9"
		out=$("$PYTHON" - "$mnt/config.json" <<-'EOF'
			import json, sys
			c = json.load(open(sys.argv[1]))
			m = c["metadata"]
			assert c["format"] == "gguf" and c["tensors"] == 9, c
			assert m["t.long"] == {"type": "array", "elem_type": "float32", "length": 100}, m["t.long"]
			assert m["t.arr_str"] == ["a", "bc", ""] and m["general.architecture"] == "llama", m
			assert m["t.f32"] == 1e-05 and m["t.u32"] == 4000000000, m
			print("ok")
		EOF
		)
		[ "$out" = ok ] || bad "mount: config.json: $out"
		[ "$(getfattr --only-values -n user.ckpt.dtype "$mnt/blk/0/ffn/weight" 2>/dev/null)" = q8_0 ] ||
			bad "mount: xattr user.ckpt.dtype of a q8_0 tensor"
		mv "$mnt/blk/1" "$mnt/blk/3" || bad "mount: mv blk/1 blk/3"
		fusermount3 -u "$mnt"
		wait "$mpid" || bad "mount: daemon exit status $?"
		mpid=
		"$PYTHON" "$G/ggufref.py" kv "$tmp/committed.gguf" >"$tmp/kv.commit" 2>&1
		cmp -s "$tmp/kv.src" "$tmp/kv.commit" || bad "mount: the commit changed the KVs"
		"$CKPTFS" ls "$tmp/committed.gguf" | grep -q '^blk\.3\.attn_q\.weight q4_0 \[64\]$' ||
			bad "mount: the commit lacks blk.3.attn_q.weight"
		checked=$((checked + 1))
	else
		bad "mount of tiny.gguf failed: $(cat "$tmp/mlog")"
	fi
else
	echo "note: no /dev/fuse or fusermount3, mount checks skipped"
fi

echo "checked $checked files and conversions"
exit $fail
