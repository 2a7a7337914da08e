#!/usr/bin/env bash
# cli.sh — the command line's contract (design.md §2) without FUSE: --help and
# --version after every subcommand, usage errors as ONE line with exit 2,
# broken inputs as one line "ckptfs: FILE: cause" with exit 1, and mount
# options that cannot work refused before anything is mounted.
set -u
CKPTFS=${CKPTFS:?CKPTFS must name the ckptfs binary}
CK_SRC=${CK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}
CK_DATA=${CK_DATA:-$CK_SRC/tests/data}
SRC=$CK_DATA/bert_pretrain.bin
[ -f "$SRC" ] || { echo "SKIP: $SRC is missing"; exit 77; }

T=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-cli.XXXXXX")
# a refused mount must mount nothing; should one happen anyway, never leak it
cleanup() {
	while grep -q " $T/m " /proc/mounts 2>/dev/null; do fusermount3 -u "$T/m" 2>/dev/null || break; done
	rm -rf "$T"
}
trap cleanup EXIT
FAILS=0
fail() { echo "FAIL: $*" >&2; FAILS=$((FAILS + 1)); }
ok() { echo "ok: $*"; }

# expect NAME STATUS STDERR_LINE ARGS...: exit status and the whole of stderr
# (one line, a glob pattern; "" for none).
expect() {
	local name=$1 want=$2 line=$3
	shift 3
	"$CKPTFS" "$@" >"$T/out" 2>"$T/err"
	local rc=$? err
	err=$(cat "$T/err")
	[ "$rc" = "$want" ] || { fail "$name: exit $rc, want $want (stderr: $err)"; return; }
	[[ "$err" == $line ]] || { fail "$name: stderr '$err', want '$line'"; return; }
	ok "$name"
}

for sub in "" ls report apply convert umount; do
	for opt in --help --version; do
		"$CKPTFS" $sub $opt >"$T/out" 2>"$T/err"
		rc=$?
		if [ $rc -ne 0 ] || [ -s "$T/err" ] || [ ! -s "$T/out" ]; then
			fail "ckptfs $sub $opt: exit $rc, stderr $(cat "$T/err")"
		fi
	done
	grep -q "^ckptfs [0-9]" "$T/out" || fail "ckptfs $sub --version: $(cat "$T/out")"
done
ok "--help and --version after every subcommand"

# usage errors: one line, exit 2 (the short-option line used to print a byte of a pointer)
expect "unknown short option" 2 "ckptfs: unknown option '-z' (see 'ckptfs --help')" -z "$SRC" "$T"
expect "unknown short option after ls" 2 "ckptfs: unknown option '-q' (see 'ckptfs --help')" ls -q "$SRC"
expect "unknown long option" 2 "ckptfs: unknown option '--bogus' (see 'ckptfs --help')" report "$SRC" --bogus
expect "option without its argument" 2 "ckptfs: option '--output' needs an argument (see 'ckptfs --help')" \
	"$SRC" "$T" --output
expect "-o without OUT" 2 "ckptfs: option '-o' needs an argument (see 'ckptfs --help')" convert "$SRC" -o
expect "missing operands" 2 "ckptfs: need CHECKPOINT and MOUNTPOINT (see 'ckptfs --help')"
expect "convert without -o" 2 "ckptfs: missing -o OUT (see 'ckptfs --help')" convert "$SRC"
expect "extra operand" 2 "ckptfs: unexpected argument 'x' (see 'ckptfs --help')" ls "$SRC" x

# broken inputs: exit 1, one line naming the file as typed
cd "$T" || exit 1
printf 'abc' >three.bin
: >empty.bin
head -c 10000 "$SRC" >trunc.bin
mkdir notckpt && echo hi >notckpt/a.txt
expect "3-byte file" 1 "ckptfs: three.bin: unrecognised checkpoint format" ls three.bin
expect "empty file" 1 "ckptfs: empty.bin: empty file" ls empty.bin
expect "truncated zip" 1 "ckptfs: trunc.bin: truncated zip (no end of central directory)" report trunc.bin
expect "folder that is no checkpoint" 1 "ckptfs: notckpt: unrecognised checkpoint format" ls notckpt
expect "missing file" 1 "ckptfs: missing.bin: no such file or directory" convert missing.bin -o x.bin
expect "convert to an unknown extension" 2 "ckptfs: x.weird: cannot tell the output format from '.weird'; use --format" convert "$SRC" -o x.weird

# mount options that cannot work are refused before mounting (no /dev/fuse needed)
mkdir m
expect "mount --format bogus: usage" 2 \
	"ckptfs: unknown output format 'bogus' (*safetensors*pytorch*)" \
	"$SRC" m --format bogus
expect "mount --format bogus with --output: usage" 2 \
	"ckptfs: unknown output format 'bogus' (*safetensors*pytorch*)" \
	"$SRC" m --output out.bin --format bogus
expect "mount --output in a missing folder" 1 "ckptfs: nofolder/x.bin: the output's folder does not exist" \
	"$SRC" m --output nofolder/x.bin
# regression: the journal beside such an output was written through the mount
# itself from inside a rename, which hung the mount for good
expect "mount --output inside the mount point" 1 "ckptfs: m/out.bin: the output cannot be inside the mount point" \
	"$SRC" m --output m/out.bin
cp "$SRC" m/model.bin
expect "mount over the source's own folder" 1 "ckptfs: *m/model.remapped.bin: the output cannot be inside the mount point" \
	m/model.bin m
rm m/model.bin
grep -q " $T/m " /proc/mounts && fail "something is mounted on $T/m"
[ -e nofolder ] && fail "a refused mount created nofolder"

# --force never deletes the folder that holds the source
mkdir -p keep/sub && cp "$SRC" keep/sub/model.bin
expect "convert -o SOURCE_FOLDER --force" 1 "ckptfs: keep: output would overwrite the source" \
	convert keep/sub/model.bin -o keep --force
cmp -s "$SRC" keep/sub/model.bin && ok "source intact after the refused --force" || fail "source lost"
expect "convert into a missing folder" 1 "ckptfs: nofolder/x.bin: the output's folder does not exist" \
	convert "$SRC" -o nofolder/x.bin

[ "$FAILS" -eq 0 ] || { echo "$FAILS failure(s)"; exit 1; }
echo "all ok"
