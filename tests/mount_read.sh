#!/usr/bin/env bash
# mount_read.sh — mounts every fixture under tests/data (third_party* too) and
# checks what the mount shows against independent readers (real torch, a
# python safetensors parser, numpy): every tensor file's bytes, sizes, modes,
# xattrs, plain values, hidden .shape files; `cat shape` equals `ckptfs ls`;
# the source is unchanged after mount + unmount.  A fixture that ckptfs cannot
# open must fail to mount with exit 1, one "ckptfs: FILE: cause" line and no mount.
. "$(dirname "$0")/lib/mount_common.sh"

fixtures=()
while IFS= read -r -d '' f; do
	fixtures+=("$f")
done < <(find "$CK_DATA" -type f \( -name '*.safetensors' -o -name '*.pt' -o -name '*.bin' \
	-o -name '*.pth' -o -name '*.th' -o -name '*.npz' -o -name '*.gguf' -o -name '*.ckpt' \
	-o \( -name '*.index' ! -name '*.json' \) \) -print0 | sort -z)
# Hugging Face folders: config.json beside weights
while IFS= read -r -d '' c; do
	d=$(dirname "$c")
	if ls "$d" | grep -qE '\.(safetensors|bin)$'; then
		fixtures+=("$d")
	fi
done < <(find "$CK_DATA" -name config.json -print0 | sort -z)

if [ ${#fixtures[@]} -eq 0 ]; then
	echo "SKIP: no fixtures under $CK_DATA"
	exit 77
fi

# sha256 of every file of fixtures FIRST..LAST
sums() {
	local n
	for n in $(seq "$1" "$2"); do
		find "${fixtures[$((n - 1))]}" -type f -print0
	done | sort -z | xargs -0 sha256sum
}

# Mounts fixtures FIRST..LAST (1-based) at once, checks them, unmounts them.
# Batches keep the number of live daemons (and an ASan build's memory) bounded.
run_batch() {
	local first=$1 last=$2 n f name mnt st lines i pending
	local triples=()
	declare -A pid
	sums "$first" "$last" >"$T/sums.before"
	# 1. start every mount of the batch at once (each daemon with -f, in the background)
	for n in $(seq "$first" "$last"); do
		f="${fixtures[$((n - 1))]}"
		name="${f#$CK_DATA/}"
		mnt="$T/m$n"
		mkdir -p "$T/out$n" "$mnt"
		if ! "$CKPTFS" ls "$f" >"$T/ls$n" 2>/dev/null; then
			# not readable by ckptfs: mounting must fail cleanly
			"$CKPTFS" -f --output "$T/out$n/x" "$f" "$mnt" 2>"$T/err$n"
			st=$?
			lines=$(wc -l <"$T/err$n")
			if [ "$st" -eq 1 ] && [ "$lines" -eq 1 ] && grep -q '^ckptfs: ' "$T/err$n" && ! is_mounted "$mnt"; then
				ok "$name: refused ($(cat "$T/err$n"))"
			else
				fail "$name: refusal: exit $st, $lines lines: $(cat "$T/err$n")"
			fi
			continue
		fi
		MOUNTS+=("$mnt")
		"$CKPTFS" -f --output "$T/out$n/commit" "$f" "$mnt" 2>"$T/log$n" &
		pid[$n]=$!
		PIDS+=("$!")
	done

	# 2. wait until all are mounted (10 s), checking the daemons are alive
	for i in $(seq 1 200); do
		pending=0
		for n in "${!pid[@]}"; do
			grep -qs " $T/m$n fuse" /proc/self/mounts || { kill -0 "${pid[$n]}" 2>/dev/null && pending=1; }
		done
		[ "$pending" -eq 0 ] && break
		sleep 0.05
	done
	for n in "${!pid[@]}"; do
		f="${fixtures[$((n - 1))]}"
		if is_mounted "$T/m$n"; then
			triples+=("$T/m$n" "$f" "$T/ls$n")
		else
			fail "${f#$CK_DATA/}: not mounted: $(cat "$T/log$n")"
		fi
	done

	# 3. every file against independent readers, shape against `ckptfs ls` (one python for all)
	if [ ${#triples[@]} -gt 0 ]; then
		check "$((${#triples[@]} / 3)) mounts agree with independent readers and ckptfs ls" \
			$CHECK verify "${triples[@]}"
	fi

	# 4. unmount each: daemons exit 0, nothing committed, sources unchanged
	for n in "${!pid[@]}"; do
		is_mounted "$T/m$n" && fusermount3 -u "$T/m$n"
	done
	for n in "${!pid[@]}"; do
		wait "${pid[$n]}" || fail "${fixtures[$((n - 1))]#$CK_DATA/}: daemon exit status $?"
		is_mounted "$T/m$n" && fail "$T/m$n: still mounted"
	done
	sums "$first" "$last" >"$T/sums.after"
	cmp -s "$T/sums.before" "$T/sums.after" && ok "sources unchanged after mount + unmount" ||
		fail "sources changed: $(diff "$T/sums.before" "$T/sums.after" | head -3)"
}

BATCH=64
for first in $(seq 1 $BATCH ${#fixtures[@]}); do
	last=$((first + BATCH - 1))
	[ "$last" -gt ${#fixtures[@]} ] && last=${#fixtures[@]}
	run_batch "$first" "$last"
done
expect_eq "nothing written without a change" "$(find "$T"/out* -mindepth 1 | head -3)" ""

# mount errors: missing checkpoint, missing mount point, unknown option
err=$("$CKPTFS" -f "$T/nonexistent.bin" "$T/m1" 2>&1)
expect_eq "missing checkpoint: exit 1" "$?" 1
expect_eq "missing checkpoint: one line naming it" "$(echo "$err" | wc -l):${err%%:*}" "1:ckptfs"
echo "$err" | grep -q "nonexistent.bin" || fail "missing checkpoint: message names the file: $err"
first="${fixtures[0]}"
err=$("$CKPTFS" -f "$first" "$T/no-such-dir" 2>&1)
expect_eq "missing mount point: exit 1" "$?" 1
echo "$err" | grep -q "no-such-dir" || fail "missing mount point: message: $err"
echo "not a checkpoint" >"$T/junk.bin"
err=$("$CKPTFS" -f "$T/junk.bin" "$T/m1" 2>&1)
expect_eq "unrecognised checkpoint: exit 1" "$?" 1
expect_eq "unrecognised checkpoint: one line" "$(echo "$err" | wc -l)" 1
err=$("$CKPTFS" -f -o no_such_fuse_option "$first" "$T/m1" 2>&1)
expect_eq "unknown -o option: exit 2" "$?" 2
expect_eq "unknown -o option: one line" "$(echo "$err" | wc -l):$(echo "$err" | grep -c '^ckptfs: .*no_such_fuse_option')" 1:1
is_mounted "$T/m1" && fail "something mounted after errors"
finish
