#!/bin/bash
# fuzz_smoke.sh — replays every fuzz harness (tests/fuzz) over its seed
# corpus from tests/data, plus a few deterministic mutations of each seed,
# through the standalone driver: a reader that crashes, leaks (ASan build),
# trips UBSan or breaks a harness invariant on a checked-in fixture fails
# this test.  Needs no clang or libFuzzer; scripts/fuzz.sh is the real fuzzer.
#
# env: CKPTFS (the build's binary: the harnesses are in its tests/fuzz),
#      CK_SRC, PYTHON (optional: data.pkl seeds), CK_FUZZ_DIR (harness folder),
#      CK_FUZZ_SMOKE_MUTATIONS (per seed; default 12).
# Must finish in well under 30 s.
set -u
src=${CK_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
dir=${CK_FUZZ_DIR:-$(dirname "${CKPTFS:-$src/build/ckptfs}")/tests/fuzz}
[ -d "$dir" ] && dir=$(cd "$dir" && pwd)   # the harnesses run from a scratch folder
mutations=${CK_FUZZ_SMOKE_MUTATIONS:-12}
. "$src/tests/fuzz/corpus.sh"

work=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-fuzz-smoke.XXXXXX") || exit 1
keep=0
trap '[ $keep = 1 ] || rm -rf "$work"' EXIT

fail=0
start=$(date +%s.%N)
for name in $CK_FUZZ_NAMES; do
	bin=$dir/fuzz_$name
	if [ ! -x "$bin" ]; then
		echo "FAIL fuzz_$name: no harness at $bin (build the 'fuzzers' target)"
		fail=1
		continue
	fi
	corpus=$work/corpus-$name
	ck_fuzz_corpus "$name" "$src" "$corpus" "${PYTHON:-}" || { fail=1; continue; }
	nseeds=$(find "$corpus" -type f | wc -l)
	if [ "$nseeds" -eq 0 ]; then
		echo "FAIL fuzz_$name: empty seed corpus"
		fail=1
		continue
	fi
	crashes=$work/crashes-$name
	mkdir -p "$crashes"
	# a libFuzzer build takes files (not folders) and runs each once
	out=$(cd "$work" && CK_FUZZ_MUTATIONS=$mutations CK_FUZZ_CRASH_DIR=$crashes \
		"$bin" $(find "$corpus" -type f | sort) 2>&1)
	rc=$?
	summary=$(printf '%s\n' "$out" | grep '^standalone:' | tail -1)
	if [ $rc -ne 0 ]; then
		printf '%s\n' "$out" | tail -40
		echo "FAIL fuzz_$name: exit $rc over $nseeds seeds; input kept in $crashes"
		keep=1
		fail=1
	else
		echo "ok   fuzz_$name: $nseeds seeds${summary:+ (${summary#standalone: })}"
	fi
done
end=$(date +%s.%N)
echo "fuzz_smoke: $(echo "$end - $start" | bc 2>/dev/null || echo '?') s"
exit $fail
