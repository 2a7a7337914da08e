#!/bin/bash
# interop_ls.sh — `ckptfs ls` against real torch.load (scripts/torch_ls.py) for
# every PyTorch fixture and every real file in tests/data/third_party: the same
# lines (keys, order, dtypes, shapes).  Where torch refuses a file, and for the
# deliberately broken fixtures and TorchScript archives, ckptfs must refuse with
# exactly one line naming the file and exit status 1.
set -u
: "${CKPTFS:?}" "${CK_SRC:?}" "${CK_DATA:?}"
PYTHON=${PYTHON:-/usr/bin/python3}
[ -x "$CKPTFS" ] || { echo "skip: no ckptfs binary"; exit 77; }
"$PYTHON" -c 'import torch' 2>/dev/null || { echo "skip: no torch"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

files=()
for f in "$CK_DATA"/*.pt "$CK_DATA"/*.bin "$CK_DATA"/third_party/*; do
	case $f in *.md|*.txt) ;; *) files+=("$f") ;; esac
done
mkdir "$tmp/want"
"$PYTHON" "$CK_SRC/scripts/torch_ls.py" --batch "$tmp/want" "${files[@]}" || exit 1

fail=0 compared=0 refused=0
refuse_check() { # FILE WHY: ckptfs must print one line naming FILE and exit 1
	local f=$1 why=$2
	"$CKPTFS" ls "$f" >"$tmp/got" 2>"$tmp/err"
	local rc=$?
	if [ $rc -ne 1 ] || [ -s "$tmp/got" ] || [ "$(wc -l <"$tmp/err")" -ne 1 ] ||
	   ! grep -qF -- "$f" "$tmp/err"; then
		echo "FAIL $f ($why): want one error line and exit 1, got exit $rc:"
		cat "$tmp/err" "$tmp/got" | head -5
		fail=$((fail + 1))
		return 1
	fi
	refused=$((refused + 1))
}

for i in "${!files[@]}"; do
	f=${files[$i]}
	case $(basename "$f") in
	broken_*) refuse_check "$f" "broken fixture"; continue ;;
	*torchscript*)
		refuse_check "$f" "TorchScript" && ! grep -q "TorchScript archive: not supported" "$tmp/err" &&
			{ echo "FAIL $f: refusal does not say TorchScript: $(cat "$tmp/err")"; fail=$((fail + 1)); }
		continue ;;
	esac
	if [ -e "$tmp/want/$i.err" ]; then
		refuse_check "$f" "torch refuses: $(cat "$tmp/want/$i.err")"
		continue
	fi
	if ! "$CKPTFS" ls "$f" >"$tmp/got" 2>"$tmp/err"; then
		echo "FAIL $f: ckptfs refuses what torch loads: $(cat "$tmp/err")"
		fail=$((fail + 1))
		continue
	fi
	if ! cmp -s "$tmp/want/$i.out" "$tmp/got"; then
		echo "FAIL $f: ckptfs ls differs from torch.load"
		diff "$tmp/want/$i.out" "$tmp/got" | head -10
		fail=$((fail + 1))
		continue
	fi
	compared=$((compared + 1))
done
echo "interop_ls: $compared files equal to torch.load, $refused refused as expected, $fail failures"
[ $compared -gt 0 ] && [ $fail -eq 0 ]
