# corpus.sh — which checked-in files seed each fuzzer; sourced by
# tests/fuzz_smoke.sh and scripts/fuzz.sh so both use the same corpus.
#
#   ck_fuzz_corpus NAME SRC OUT [PYTHON]
#
# fills folder OUT with seed files for fuzzer NAME (pickle torch safetensors
# tf gguf npz remap report) taken from SRC/tests/data (and SRC/tests/fuzz/seeds for
# the remap fuzzer, whose input is a journal, not a checkpoint), plus the
# saved reproducers in SRC/tests/fuzz/crashes/NAME.  Files over
# 1 MiB are left out (the harnesses ignore them).  Derived seeds: data.pkl of
# every zip checkpoint and the object pickle of every legacy one (needs
# PYTHON; skipped without it), and for tf each PREFIX.index joined to its data
# shard as INDEX %CKPTFS-TF-DATA% DATA, the layout fuzz_tf.c reads.

CK_FUZZ_NAMES="pickle torch safetensors tf gguf npz remap report"
CK_FUZZ_SEED_MAX=1048576

# Copies each file given (if small enough) into $out under a flattened name.
ck_fuzz__add() {
	local f base
	for f in "$@"; do
		[ -f "$f" ] || continue
		[ "$(stat -c %s "$f")" -le "$CK_FUZZ_SEED_MAX" ] || continue
		base=${f#"$ck_fuzz__src"/}
		cp "$f" "$ck_fuzz__out/$(printf '%s' "$base" | tr '/' '_')"
	done
}

ck_fuzz_corpus() {
	local name=$1 src=$2 out=$3 py=${4:-}
	local d=$src/tests/data
	ck_fuzz__src=$src
	ck_fuzz__out=$out
	mkdir -p "$out" || return 1
	case $name in
	pickle)
		ck_fuzz__add "$d"/pickle/*.pkl
		[ -n "$py" ] && [ -x "$py" ] && "$py" - "$out" "$d"/*.pt "$d"/*.bin "$d"/third_party/*.pt \
			"$d"/third_party/*.th "$d"/third_party/*.pth <<'EOF'
# data.pkl of zip checkpoints, the object pickle (the 4th) of legacy ones
import io, os, pickletools, sys, zipfile
out = sys.argv[1]
for path in sys.argv[2:]:
    stem = os.path.basename(path)
    try:
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as z:
                for n in z.namelist():
                    if n.endswith("/data.pkl") or n == "data.pkl":
                        open(os.path.join(out, stem + ".data.pkl"), "wb").write(z.read(n))
            continue
        b = open(path, "rb").read(1 << 20)
        f = io.BytesIO(b)
        for i in range(4):
            start = f.tell()
            for _ in pickletools.genops(f):
                pass
        open(os.path.join(out, stem + ".object.pkl"), "wb").write(b[start:f.tell()])
    except Exception:
        pass
EOF
		;;
	torch)
		ck_fuzz__add "$d"/*.pt "$d"/*.bin "$d"/third_party/* "$d"/st/tiny.pt "$d"/st/hf_bin_*/*.bin \
			"$d"/npz/torch_views.pt
		;;
	safetensors)
		ck_fuzz__add "$d"/st/*.safetensors "$d"/st/hf_sharded/*.safetensors "$d"/third_party_st/*.safetensors
		;;
	tf)
		local idx p
		while IFS= read -r idx; do
			ck_fuzz__add "$idx"
			p=${idx%.index}
			{ cat "$idx"; printf '%%CKPTFS-TF-DATA%%'; cat "$p".data-00000-of-00001 2>/dev/null; } \
				> "$out/$(printf '%s' "${p#"$src"/}" | tr '/' '_').bundle"
		done < <(find "$d"/tf -name '*.index' | sort)
		ck_fuzz__add "$d"/tf/bad_half_plus_two_v1/export "$d"/tf/session_bundle_half_plus_two_v1/export-00000-of-00001
		;;
	gguf)
		ck_fuzz__add "$d"/gguf/*.gguf "$d"/gguf/broken/*.gguf "$d"/gguf/real/*.gguf
		;;
	npz)
		ck_fuzz__add "$d"/npz/*.npy "$d"/npz/*.npz "$d"/npz/broken/* "$d"/npz/real/*.np?
		;;
	remap)
		ck_fuzz__add "$src"/tests/fuzz/seeds/remap/*
		;;
	report)
		ck_fuzz__add "$d"/report/*.txt "$d"/bert_tiny_reference.txt "$d"/st/basic.safetensors
		;;
	*)
		echo "ck_fuzz_corpus: unknown fuzzer '$name'" >&2
		return 1
		;;
	esac
	# inputs that once broke something stay in every run as regressions
	ck_fuzz__add "$src"/tests/fuzz/crashes/"$name"/*
}
