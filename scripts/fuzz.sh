#!/bin/bash
# fuzz.sh — builds the tests/fuzz harnesses with clang and libFuzzer
# (-fsanitize=fuzzer,address,undefined; the library gets coverage and the
# same sanitizers) and runs each for a while over a seed corpus made from
# tests/data, then prints one summary line per fuzzer.
#
#   scripts/fuzz.sh [SECONDS] [FUZZER...]     default: 60 s each, all fuzzers
#
# env: CK_FUZZ_BUILD   build folder (default: build/fuzz in the source tree)
#      CK_FUZZ_OUT     where corpora, logs and crashes go (default: $CK_FUZZ_BUILD/run)
#      CK_FUZZ_JOBS    parallel fuzzers (default 1)
#      CK_FUZZ_ARGS    extra libFuzzer flags (e.g. "-max_len=65536")
# Installs the Debian packages clang and libclang-rt-14-dev with apt-get
# when clang or its libFuzzer runtime is missing.  A crash, leak, timeout or
# out-of-memory input is saved as $CK_FUZZ_OUT/<fuzzer>/crashes/...; the exit
# status is 1 when any fuzzer found one.
set -u
src=$(cd "$(dirname "$0")/.." && pwd)
secs=${1:-60}
[ $# -gt 0 ] && shift
build=${CK_FUZZ_BUILD:-$src/build/fuzz}
out=${CK_FUZZ_OUT:-$build/run}
jobs=${CK_FUZZ_JOBS:-1}
. "$src/tests/fuzz/corpus.sh"
names=${*:-$CK_FUZZ_NAMES}

have_libfuzzer() {
	command -v clang >/dev/null 2>&1 || return 1
	local t
	t=$(mktemp -d) || return 1
	printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n) { (void)d; return (int)(n & 0); }\n' \
		> "$t/t.c"
	clang -fsanitize=fuzzer,address,undefined "$t/t.c" -o "$t/t" >/dev/null 2>&1
	local rc=$?
	rm -rf "$t"
	return $rc
}

if ! have_libfuzzer; then
	echo "fuzz.sh: clang with libFuzzer not found; installing clang and libclang-rt-14-dev" >&2
	sudo=
	[ "$(id -u)" = 0 ] || sudo=sudo
	$sudo apt-get update -qq && $sudo apt-get install -y -qq clang libclang-rt-14-dev >/dev/null
	have_libfuzzer || { echo "fuzz.sh: still no working clang -fsanitize=fuzzer" >&2; exit 2; }
fi

flags="-g -O1 -fno-omit-frame-pointer -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all"
cmake -S "$src" -B "$build" -DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_COMPILER=clang \
	-DCMAKE_C_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" \
	-DCK_FUZZ_LIBFUZZER=ON >"$build.cmake.log" 2>&1 || { cat "$build.cmake.log"; exit 2; }
targets=
for n in $names; do targets="$targets fuzz_$n"; done
cmake --build "$build" -j"$(nproc)" --target $targets >"$build.build.log" 2>&1 \
	|| { tail -40 "$build.build.log"; exit 2; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

run_one() {
	local n=$1 dir=$out/$1
	mkdir -p "$dir/corpus" "$dir/seeds" "$dir/crashes"
	ck_fuzz_corpus "$n" "$src" "$dir/seeds" /usr/bin/python3 || return 1
	local dict=
	[ -f "$src/tests/fuzz/dict/$n.dict" ] && dict=-dict=$src/tests/fuzz/dict/$n.dict
	# corpus/ keeps what libFuzzer learns between runs; seeds/ is read only
	(cd "$dir" && "$build/tests/fuzz/fuzz_$n" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
		-malloc_limit_mb=1024 -print_final_stats=1 -artifact_prefix="$dir/crashes/" $dict \
		${CK_FUZZ_ARGS:-} "$dir/corpus" "$dir/seeds" >"$dir/log" 2>&1)
	echo $? > "$dir/rc"
}

mkdir -p "$out"
running=0
for n in $names; do
	echo "fuzz.sh: fuzz_$n for ${secs}s ..." >&2
	run_one "$n" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

bad=0
printf '%-18s %10s %8s %8s %6s  %s\n' fuzzer execs exec/s corpus cov result
for n in $names; do
	dir=$out/$n
	log=$dir/log
	execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
	speed=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
	cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*')
	corp=$(find "$dir/corpus" -type f | wc -l)
	found=$(find "$dir/crashes" -type f | wc -l)
	result=ok
	if [ "$(cat "$dir/rc" 2>/dev/null)" != 0 ] || [ "$found" -gt 0 ]; then
		result="FOUND $found: $(grep -m1 -oE 'ERROR: [A-Za-z]+: [a-z-]+|ckptfs fuzz: .{0,80}|SUMMARY: .{0,80}|libFuzzer: .{0,60}' "$log")"
		bad=1
	fi
	printf '%-18s %10s %8s %8s %6s  %s\n' "fuzz_$n" "${execs:-?}" "${speed:-?}" "$corp" "${cov:-?}" "$result"
done
echo "logs and crashes: $out/<fuzzer>/{log,crashes}"
exit $bad
