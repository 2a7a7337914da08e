#!/usr/bin/env bash
# mount_crash.sh — the journal makes every acknowledged change survive:
# kill -9 of the daemon, then `ckptfs apply CKPT --remap JOURNAL -o OUT` gives
# the checkpoint a normal commit gives; a leftover journal blocks a new mount
# until it is continued (--remap JOURNAL) or removed; a journal that cannot be
# written refuses the change (ENOSPC) and leaves the tree as it was; a failed
# commit keeps the journal and makes `ckptfs umount` exit non-zero; plain
# `fusermount3 -u` commits too.
. "$(dirname "$0")/lib/mount_common.sh"

$CHECK make "$T/src" || { echo "cannot make fixtures"; exit 1; }
SRC="$T/src/model.pt"
M="$T/m"
mkdir -p "$T/a" "$T/b" "$T/c"

changes() {
	local m=$1
	mv "$m/model/bert/"* "$m/model/" && rmdir "$m/model/bert" &&
	rm -r "$m/model/cls" && mkdir "$m/model/head" &&
	mv "$m/model/pooler/dense/weight" "$m/model/head/weight" &&
	mv "$m/model/encoder/layer/1/attention/self/query/bias" "$m/model/encoder/layer/0/attention/self/query/bias"
}

# 1. reference: the same changes, committed by plain fusermount3 -u
ck_mount "$M" --output "$T/a/ref.pt" "$SRC" || { fail "mount"; finish; }
check "changes (reference run)" changes "$M"
remap_ref=$(cat "$M/_remap")
ck_fusermount "$M"
expect_eq "fusermount3 -u alone: daemon exit status" "$DSTATUS" 0
[ -f "$T/a/ref.pt" ] || fail "fusermount3 -u alone did not commit"
grep -q "wrote $T/a/ref.pt" "$T/log.m" || fail "foreground daemon did not log the output path: $(cat "$T/log.m")"
grep -q "journal: $T/a/ref.pt.journal" "$T/log.m" || fail "journal location not logged at mount"

# 2. the same changes, then kill -9: the journal recovers them
ck_mount "$M" --output "$T/b/out.pt" "$SRC" || { fail "mount"; finish; }
check "changes (crash run)" changes "$M"
expect_eq "same _remap" "$(cat "$M/_remap")" "$remap_ref"
mkdir -p "$T/m2"
"$CKPTFS" -f --output "$T/b/out.pt" "$SRC" "$T/m2" 2>"$T/err"
expect_eq "second mount with the same output: refused" "$?" 1
grep -q "in use" "$T/err" || fail "second mount: message: $(cat "$T/err")"
kill -9 "$MPID"
wait "$MPID" 2>/dev/null
"$CKPTFS" umount "$M" 2>"$T/err"
expect_eq "umount of a dead daemon's mount: exit 1" "$?" 1
is_mounted "$M" && { fail "dead mount not cleaned by ckptfs umount"; fusermount3 -u "$M"; }
[ -f "$T/b/out.pt.journal" ] || fail "no journal after kill -9"
[ -e "$T/b/out.pt" ] && fail "output written by a killed daemon"
printed=$("$CKPTFS" apply "$SRC" --remap "$T/b/out.pt.journal" -o "$T/b/recovered.pt")
expect_eq "apply exit status" "$?" 0
expect_eq "apply prints the output" "$printed" "$T/b/recovered.pt"
$CHECK expect "$T/a/ref.pt" >"$T/ref.txt"
[ -f "$T/b/recovered.pt" ] && $CHECK expect "$T/b/recovered.pt" >"$T/rec.txt"
if [ -s "$T/ref.txt" ] && cmp -s "$T/ref.txt" "$T/rec.txt"; then
	ok "recovered checkpoint = normal commit (torch.load, every leaf)"
else
	fail "recovered checkpoint differs from the normal commit"
	[ -f "$T/rec.txt" ] && diff "$T/ref.txt" "$T/rec.txt" | head
fi

# 3. a leftover journal blocks a new mount, --remap JOURNAL continues it
"$CKPTFS" -f --output "$T/b/out.pt" "$SRC" "$M" 2>"$T/err"
expect_eq "leftover journal: mount refused (exit 1)" "$?" 1
grep -q "journal" "$T/err" || fail "leftover journal: message: $(cat "$T/err")"
is_mounted "$M" && fail "mounted despite a leftover journal"
ck_mount "$M" --output "$T/b/out.pt" --remap "$T/b/out.pt.journal" "$SRC" || fail "continue with --remap JOURNAL"
expect_eq "continued session shows the journaled changes" "$(cat "$M/_remap")" "$remap_ref"
mv "$M/epoch" "$M/epochs" || fail "change in a continued session"
tail -1 "$T/b/out.pt.journal" | grep -qxF $'rename\tepoch\tepochs' || fail "continued session appends to the journal"
expect_eq "ckptfs umount of the continued session" "$("$CKPTFS" umount "$M")" "$T/b/out.pt"
wait "$MPID"
[ -e "$T/b/out.pt.journal" ] && fail "journal left after a successful commit"
check "continued commit = reference + the new rename" $PYTHON -c "
import torch
a, b = torch.load('$T/a/ref.pt'), torch.load('$T/b/out.pt')
assert b.pop('epochs') == a.pop('epoch') == 3
assert sorted(a['model']) == sorted(b['model'])
"

# 3b. --remap remap.json, then a crash: the journal alone has both the remap and the new change
[ -f "$T/a/ref.pt.remap.json" ] || fail "no remap.json beside the reference commit"
ck_mount "$M" --output "$T/c/seed.pt" --remap "$T/a/ref.pt.remap.json" "$SRC" || fail "mount --remap remap.json"
expect_eq "--remap remap.json: _remap as before" "$(cat "$M/_remap")" "$remap_ref"
mv "$M/epoch" "$M/epochs" || fail "change after --remap"
kill -9 "$MPID"
wait "$MPID" 2>/dev/null
fusermount3 -u "$M"
"$CKPTFS" apply "$SRC" --remap "$T/c/seed.pt.journal" -o "$T/c/seed-rec.pt" >/dev/null ||
	fail "apply of a journal seeded by --remap"
check "journal of a --remap session replays remap + changes" $PYTHON -c "
import torch
a, b = torch.load('$T/a/ref.pt'), torch.load('$T/c/seed-rec.pt')
assert b.pop('epochs') == a.pop('epoch') == 3
assert sorted(a['model']) == sorted(b['model']), (sorted(a['model']), sorted(b['model']))
"

# 4. a commit that fails (output exists, no --force): umount says why, journal kept
ck_mount "$M" --output "$T/a/ref.pt" "$SRC" || fail "mount over an existing output"
grep -q "exists" "$T/log.m" || fail "no note that the output exists"
mv "$M/epoch" "$M/epochs"
ref_sum=$(sha256sum <"$T/a/ref.pt")
"$CKPTFS" umount "$M" >"$T/out" 2>"$T/err"
expect_eq "failed commit: ckptfs umount exit 1" "$?" 1
grep -q "commit failed" "$T/err" || fail "failed commit: reason not printed: $(cat "$T/err")"
wait "$MPID"
expect_eq "failed commit: daemon exit status" "$?" 1
[ -f "$T/a/ref.pt.journal" ] || fail "failed commit: journal not kept"
expect_eq "failed commit: existing output untouched" "$(sha256sum <"$T/a/ref.pt")" "$ref_sum"
rm -f "$T/a/ref.pt.journal"

# 4a. the same with only --remap's changes: nothing was journaled, so umount names
# the remap file, not a journal that is not there (regression)
ck_mount "$M" --output "$T/a/ref.pt" --remap "$T/a/ref.pt.remap.json" "$SRC" || fail "mount --remap over an existing output"
"$CKPTFS" umount "$M" >"$T/out" 2>"$T/err"
expect_eq "failed commit of --remap changes: ckptfs umount exit 1" "$?" 1
wait "$MPID"
grep -qF "the changes are kept in $T/a/ref.pt.remap.json" "$T/err" ||
	fail "failed commit of --remap changes: says they are kept in: $(cat "$T/err")"
[ -e "$T/a/ref.pt.journal" ] && fail "failed commit of --remap changes left an empty journal"

# 4b. output folder not writable: the journal goes to $XDG_STATE_HOME/ckptfs/, the commit fails
if mkdir -p "$T/rodir" && mount -t tmpfs -o ro,size=64k tmpfs "$T/rodir" 2>/dev/null; then
	MOUNTS+=("$T/rodir")
	export XDG_STATE_HOME="$T/state"
	ck_mount "$M" --output "$T/rodir/out.pt" "$SRC" || fail "mount with a read-only output folder"
	unset XDG_STATE_HOME
	J=$(ls "$T/state/ckptfs/"*out.pt.journal 2>/dev/null)
	[ -n "$J" ] || fail "no journal under \$XDG_STATE_HOME/ckptfs"
	grep -qF "journal: $J" "$T/log.m" || fail "state journal location not logged: $(cat "$T/log.m")"
	mv "$M/epoch" "$M/epochs"
	grep -qxF $'rename\tepoch\tepochs' "$J" || fail "state journal lacks the change"
	"$CKPTFS" umount "$M" >/dev/null 2>"$T/err"
	expect_eq "read-only output folder: ckptfs umount exit 1" "$?" 1
	grep -q "$J" "$T/err" || fail "umount does not say where the changes are: $(cat "$T/err")"
	wait "$MPID"
	[ -s "$J" ] || fail "journal not kept after the failed commit"
	umount "$T/rodir"
else
	echo "note: cannot mount a read-only tmpfs; journal fallback case not run"
fi

# 5. SIGTERM to a foreground daemon unmounts and commits
ck_mount "$M" --output "$T/c/term.pt" "$SRC" || fail "mount for SIGTERM"
mv "$M/epoch" "$M/epochs"
kill -TERM "$MPID"
wait "$MPID"
expect_eq "SIGTERM: daemon exit status" "$?" 0
is_mounted "$M" && fail "SIGTERM: still mounted"
check "SIGTERM: committed" $PYTHON -c "import torch; assert torch.load('$T/c/term.pt')['epochs'] == 3"

# 6. a journal that cannot be written refuses the change and leaves the tree as it was
if mkdir -p "$T/tiny" && mount -t tmpfs -o size=64k tmpfs "$T/tiny" 2>/dev/null; then
	MOUNTS+=("$T/tiny")
	J="$T/tiny/out.pt.journal"
	ck_mount "$M" --output "$T/tiny/out.pt" "$SRC" || fail "mount with output on a tiny tmpfs"
	dd if=/dev/zero of="$T/tiny/fill" bs=4k 2>/dev/null
	expect_eq "full disk: first change fails with ENOSPC" "$(errno_of "os.rename('$M/epoch', '$M/epochs')")" ENOSPC
	[ -f "$M/epoch" ] && [ ! -e "$M/epochs" ] || fail "full disk: tree changed anyway"
	expect_eq "full disk: _remap unchanged" "$(cat "$M/_remap")" ""
	expect_eq "full disk: unlink fails too" "$(errno_of "os.unlink('$M/name')")" ENOSPC
	expect_eq "full disk: value still readable" "$(cat "$M/name")" run-1
	[ -s "$J" ] && fail "full disk: the journal records a refused change"
	rm "$T/tiny/fill"
	mv "$M/epoch" "$M/epochs" || fail "change after space came back"
	# fill again, then rename back and forth until the journal itself runs out of room
	dd if=/dev/zero of="$T/tiny/fill" bs=1k 2>/dev/null
	res=$($PYTHON -c "
import errno, os
a, b = '$M/lr', '$M/lr2'
for i in range(5000):
    try:
        os.rename(a, b)
    except OSError as e:
        print(i, errno.errorcode[e.errno], os.path.exists(a), os.path.exists(b))
        break
    a, b = b, a
")
	set -- $res
	expect_eq "journal full: the failing rename gives ENOSPC" "${2:-none}" ENOSPC
	expect_eq "journal full: the file stays where it was" "${3:-}:${4:-}" "True:False"
	expect_eq "journal full: every line complete, one per accepted change" \
		"$(tail -c 1 "$J" | od -An -c | tr -d ' '):$(($(wc -l <"$J") - 1))" "\\n:$((${1:-0} + 1))"
	rm "$T/tiny/fill"
	expect_eq "space back: rename works again" "$(errno_of "os.rename('$M/name', '$M/name2')")" OK
	ck_fusermount "$M"
	expect_eq "commit after journal trouble" "$DSTATUS" 0
	check "commit after journal trouble has the accepted changes" $PYTHON -c "
import torch
c = torch.load('$T/tiny/out.pt')
assert c['epochs'] == 3 and c['name2'] == 'run-1' and 'epoch' not in c, sorted(c)
assert ('lr' in c) != ('lr2' in c), sorted(c)
"
	umount "$T/tiny"
else
	echo "note: cannot mount a tmpfs; journal-full case not run"
fi
finish
