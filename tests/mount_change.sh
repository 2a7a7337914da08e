#!/usr/bin/env bash
# mount_change.sh — issue 4 through the mount: mv/rm/rmdir/mkdir with POSIX
# semantics and errnos, refusals (EPERM, EROFS, EINVAL, ENOTEMPTY), _remap and
# the journal after changes, `ckptfs umount` waiting for the commit and
# printing its path, and the committed checkpoint as real torch.load sees it.
. "$(dirname "$0")/lib/mount_common.sh"

$CHECK make "$T/src" || { echo "cannot make fixtures"; exit 1; }
SRC="$T/src/model.pt"
M="$T/m"
OUT="$T/out/model.fixed.pt"
mkdir -p "$T/out"
src_sum=$(sha256sum <"$SRC")

ck_mount "$M" --output "$OUT" "$SRC" || { fail "mount"; finish; }

# ---- reading ----
expect_eq "cat epoch" "$(cat "$M/epoch")" 3
expect_eq "cat lr" "$(cat "$M/lr")" 0.001
expect_eq "cat name" "$(cat "$M/name")" run-1
expect_eq "cat best" "$(cat "$M/best")" None
expect_eq "cat done" "$(cat "$M/done")" True
expect_eq "root listing" "$(ls "$M" | tr '\n' ' ')" "_remap _report best config.json done epoch lr model name optimizer shape "
expect_eq ".shape not listed" "$(ls -a "$M/model/bert" | grep -c '^\.shape$')" 0
expect_eq ".shape of a folder" "$(cat "$M/model/bert/encoder/layer/0/.shape")" \
"attention.self.query.weight float32 [8,8]
attention.self.query.bias float32 [8]
output.dense.weight float32 [16,8]"
expect_eq "xattr shape" "$($PYTHON -c 'import os,sys; print(os.getxattr(sys.argv[1], "user.ckpt.shape").decode())' \
	"$M/model/bert/pooler/dense/weight")" "[8,8]"
expect_eq "_remap empty before changes" "$(cat "$M/_remap")" ""
[ -s "$OUT.journal" ] && fail "journal records something before any change"

# ---- refusals ----
W="$M/model/bert/pooler/dense/weight"
expect_eq "chmod: EPERM" "$(errno_of "os.chmod('$W', 0o644)")" EPERM
expect_eq "open for writing: EPERM" "$(errno_of "open('$W', 'r+b')")" EPERM
expect_eq "truncate: EPERM" "$(errno_of "os.truncate('$W', 0)")" EPERM
expect_eq "utime: EPERM" "$(errno_of "os.utime('$W', (0, 0))")" EPERM
expect_eq "create: EPERM" "$(errno_of "open('$M/model/new', 'w')")" EPERM
expect_eq "mknod: EPERM" "$(errno_of "os.mknod('$M/model/fifo', 0o600 | 0o10000)")" EPERM
expect_eq "symlink: EPERM" "$(errno_of "os.symlink('x', '$M/model/link')")" EPERM
expect_eq "link: EPERM" "$(errno_of "os.link('$W', '$M/model/hard')")" EPERM
expect_eq "setxattr: EPERM" "$(errno_of "os.setxattr('$W', 'user.x', b'1')")" EPERM
expect_eq "mv virtual file: EPERM" "$(errno_of "os.rename('$M/_report', '$M/model/r')")" EPERM
expect_eq "rm virtual file: EPERM" "$(errno_of "os.unlink('$M/shape')")" EPERM
expect_eq "mv onto virtual file: EPERM" "$(errno_of "os.rename('$M/epoch', '$M/_remap')")" EPERM
expect_eq "mkdir over virtual file: EEXIST" "$(errno_of "os.mkdir('$M/shape')")" EEXIST
expect_eq "rmdir non-empty: ENOTEMPTY" "$(errno_of "os.rmdir('$M/model/bert')")" ENOTEMPTY
expect_eq "mv folder onto non-empty folder: ENOTEMPTY" \
	"$(errno_of "os.rename('$M/model/bert/encoder/layer/0', '$M/model/bert/encoder/layer/1')")" ENOTEMPTY
expect_eq "mv folder into itself: EINVAL" \
	"$(errno_of "os.rename('$M/model/bert/encoder', '$M/model/bert/encoder/layer/x')")" EINVAL
expect_eq "mv tensor onto folder: EISDIR" "$(errno_of "os.rename('$W', '$M/model/bert/encoder')")" EISDIR
expect_eq "rm folder as file: EISDIR" "$(errno_of "os.unlink('$M/model/bert')")" EISDIR
expect_eq "rmdir file: ENOTDIR" "$(errno_of "os.rmdir('$W')")" ENOTDIR
renameat2="import ctypes; l = ctypes.CDLL(None, use_errno=True)
    r = l.renameat2(-100, b'$M/epoch', -100, b'$M/lr', FLAGS)
    if r: raise OSError(ctypes.get_errno(), 'renameat2')"
expect_eq "RENAME_NOREPLACE onto existing: EEXIST" "$(errno_of "${renameat2/FLAGS/1}")" EEXIST
expect_eq "RENAME_EXCHANGE: EINVAL" "$(errno_of "${renameat2/FLAGS/2}")" EINVAL
expect_eq "no change recorded by refusals" "$(cat "$M/_remap")" ""

# ---- changes ----
do_changes() {
	local m=$1
	mv "$m/model/bert/"* "$m/model/" &&
	rmdir "$m/model/bert" &&
	rm "$m/model/cls/predictions/bias" &&
	mv "$m/model/encoder/layer/1/attention/self/query/bias" "$m/model/encoder/layer/0/attention/self/query/bias" &&
	rm "$m/model/encoder/layer/1/output/dense/weight" &&
	mkdir "$m/model/head" &&
	mv "$m/model/pooler/dense/weight" "$m/model/head/weight" &&
	rm -r "$m/optimizer" &&
	mv "$m/epoch" "$m/epochs"
}
check "mv, rm, rm -r, rmdir, mkdir" do_changes "$M"
expect_eq "renamed folder readable" "$(ls "$M/model" | tr '\n' ' ')" "cls embeddings encoder head pooler "
expect_eq "replaced tensor now has the moved bytes" "$(sha256sum <"$M/model/encoder/layer/0/attention/self/query/bias")" \
	"$($PYTHON -c "
import torch, hashlib, sys
t = torch.load('$SRC')['model']['bert.encoder.layer.1.attention.self.query.bias']
sys.stdout.write(hashlib.sha256(t.contiguous().numpy().tobytes()).hexdigest() + '  -')")"
expect_eq "moved scalar" "$(cat "$M/epochs")" 3
expect_eq "xattr key keeps the original key" \
	"$($PYTHON -c "import os; print(os.getxattr('$M/model/head/weight', 'user.ckpt.key').decode())")" \
	"model.bert.pooler.dense.weight"
remap=$(cat "$M/_remap")
for line in "model.bert.embeddings.word_embeddings.weight -> model.embeddings.word_embeddings.weight" \
	"model.cls.predictions.bias -> (deleted)" \
	"model.bert.encoder.layer.0.attention.self.query.bias -> (deleted)" \
	"model.bert.encoder.layer.1.attention.self.query.bias -> model.encoder.layer.0.attention.self.query.bias" \
	"model.bert.pooler.dense.weight -> model.head.weight" \
	"optimizer.state.0.exp_avg -> (deleted)" \
	"epoch -> epochs"; do
	grep -qxF "$line" <<<"$remap" || fail "_remap lacks: $line"
done
expect_eq "_remap size as stat says" "$(stat -c %s "$M/_remap")" "$(cat "$M/_remap" | wc -c)"
grep -q "^status: " "$M/_report" || fail "_report has no status line"
[ -f "$OUT.journal" ] || fail "no journal at $OUT.journal"
expect_eq "journal header" "$(head -1 "$OUT.journal")" "ckptfs-journal 1"
expect_eq "journal: one line per change" "$(grep -c $'^\(rename\|unlink\|rmdir\|mkdir\)\t' "$OUT.journal")" \
	"$(($(wc -l <"$OUT.journal") - 1))"
grep -qxF $'rename\tmodel/pooler/dense/weight\tmodel/head/weight' "$OUT.journal" || fail "journal lacks the rename"
grep -qxF $'rmdir\toptimizer' "$OUT.journal" || fail "journal lacks rmdir optimizer"
expect_eq "root xattr names the journal" \
	"$($PYTHON -c "import os; print(os.getxattr('$M', 'user.ckptfs.journal').decode())")" "$OUT.journal"

# ---- ckptfs umount: waits for the commit, prints its path ----
printed=$("$CKPTFS" umount "$M")
expect_eq "ckptfs umount exit status" "$?" 0
expect_eq "ckptfs umount prints the output path" "$printed" "$OUT"
is_mounted "$M" && fail "still mounted after ckptfs umount"
kill -0 "$MPID" 2>/dev/null && fail "daemon still running after ckptfs umount returned"
wait "$MPID"
expect_eq "daemon exit status" "$?" 0
[ -f "$OUT" ] || fail "no output written"
[ -f "$OUT.remap.json" ] || fail "no $OUT.remap.json"
[ -e "$OUT.journal" ] && fail "journal not removed after a successful commit"
expect_eq "source unchanged" "$(sha256sum <"$SRC")" "$src_sum"

cat >"$T/map" <<'EOF'
model.bert.embeddings.word_embeddings.weight model.embeddings.word_embeddings.weight
model.bert.embeddings.LayerNorm.weight model.embeddings.LayerNorm.weight
model.bert.embeddings.LayerNorm.bias model.embeddings.LayerNorm.bias
model.bert.encoder.layer.0.attention.self.query.weight model.encoder.layer.0.attention.self.query.weight
model.bert.encoder.layer.0.attention.self.query.bias -
model.bert.encoder.layer.0.output.dense.weight model.encoder.layer.0.output.dense.weight
model.bert.encoder.layer.1.attention.self.query.weight model.encoder.layer.1.attention.self.query.weight
model.bert.encoder.layer.1.attention.self.query.bias model.encoder.layer.0.attention.self.query.bias
model.bert.encoder.layer.1.output.dense.weight -
model.bert.pooler.dense.weight model.head.weight
model.cls.predictions.bias -
optimizer.state.0.step -
optimizer.state.0.exp_avg -
optimizer.param_groups.0.lr -
optimizer.param_groups.0.params.0 -
epoch epochs
EOF
check "torch.load of the commit has the renamed keys, same tensors" $CHECK compare "$SRC" "$OUT" "$T/map"
check "tied weights still share one storage" $PYTHON -c "
import torch
m = torch.load('$OUT')['model']
a, b = m['embeddings.word_embeddings.weight'], m['cls.predictions.decoder.weight']
assert a.data_ptr() == b.data_ptr(), 'tie lost'
assert isinstance(torch.load('$OUT')['epochs'], int)
"

# ---- -o ro: every change fails with EROFS, nothing committed ----
ck_mount "$M" -o ro --output "$T/out/ro.pt" "$SRC" || fail "mount -o ro"
expect_eq "ro: mv EROFS" "$(errno_of "os.rename('$M/epoch', '$M/e2')")" EROFS
expect_eq "ro: rm EROFS" "$(errno_of "os.unlink('$M/epoch')")" EROFS
expect_eq "ro: mkdir EROFS" "$(errno_of "os.mkdir('$M/d')")" EROFS
expect_eq "ro: rmdir EROFS" "$(errno_of "os.rmdir('$M/model')")" EROFS
expect_eq "ro: chmod EROFS" "$(errno_of "os.chmod('$M/epoch', 0o600)")" EROFS
expect_eq "ro: folders 0555" "$(stat -c %a "$M/model")" 555
expect_eq "ro: reads still work" "$(cat "$M/epoch")" 3
printed=$("$CKPTFS" umount "$M")
expect_eq "ro: ckptfs umount exit 0" "$?" 0
expect_eq "ro: prints nothing" "$printed" ""
wait "$MPID"
[ -e "$T/out/ro.pt" ] && fail "ro: something was committed"

# ---- background mode, a safetensors checkpoint: commit stays safetensors ----
ST="$T/src/model.safetensors"
MOUNTS+=("$M")
"$CKPTFS" --output "$T/out/st.safetensors" "$ST" "$M" 2>"$T/bg.log"
expect_eq "background mount: exit status" "$?" 0
# no waiting: the command returns only once the mount is ready
is_mounted "$M" && ok "background mount ready when the command returns" || fail "background: not mounted on return"
bgpid=$($PYTHON -c "import os; print(os.getxattr('$M', 'user.ckptfs.pid').decode())")
PIDS+=("$bgpid")
grep -q "journal: $T/out/st.safetensors.journal" "$T/bg.log" || fail "background: journal location not logged"
mv "$M/bert/"* "$M/" && rmdir "$M/bert" && rm -r "$M/cls" || fail "safetensors changes"
expect_eq "background: ckptfs umount prints the path" "$("$CKPTFS" umount "$M")" "$T/out/st.safetensors"
# exited (a zombie until init reaps it) before ckptfs umount returned
state=$(sed 's/.*) //' "/proc/$bgpid/stat" 2>/dev/null | cut -c1)
[ -z "$state" ] || [ "$state" == Z ] || fail "background daemon still running ($state) after ckptfs umount returned"
sed -n 's/^model\.bert\.\([^ ]*\) model\.\(.*\)$/bert.\1 \2/p' "$T/map" | grep -v ' -$' >"$T/stmap"
cat >>"$T/stmap" <<'EOF'
bert.encoder.layer.0.attention.self.query.bias encoder.layer.0.attention.self.query.bias
bert.encoder.layer.1.output.dense.weight encoder.layer.1.output.dense.weight
bert.pooler.dense.weight pooler.dense.weight
bert.encoder.layer.1.attention.self.query.bias encoder.layer.1.attention.self.query.bias
cls.predictions.bias -
EOF
grep -v '^bert.encoder.layer.1.attention.self.query.bias encoder.layer.0' "$T/stmap" >"$T/stmap2"
check "safetensors commit has the renamed keys" $CHECK compare "$ST" "$T/out/st.safetensors" "$T/stmap2"

# ---- real keys hide virtual files of the same name ----
ck_mount "$M" --output "$T/out/hide.safetensors" "$T/src/hide.safetensors" || fail "mount hide"
expect_eq "hide: listing" "$(ls "$M" | tr '\n' ' ')" "_remap _report config.json shape x "
expect_eq "hide: real shape is the tensor" "$(od -An -tu1 "$M/shape" | tr -s ' ')" " 0 1 2 3 4 5 6 7"
expect_eq "hide: real _report is the tensor" "$(stat -c %s "$M/_report")" 12
expect_eq "hide: xattr of the real shape" \
	"$($PYTHON -c "import os; print(os.getxattr('$M/shape', 'user.ckpt.key').decode())")" shape
expect_eq "hide: _remap is still virtual" "$(cat "$M/_remap")" ""
mv "$M/shape" "$M/shape_tensor" || fail "hide: mv the real shape away"
expect_eq "hide: virtual shape appears" "$(cat "$M/shape")" \
"shape_tensor float32 [2]
_report float32 [3]
x.y float32 [1]"
expect_eq "hide: the virtual one cannot be moved" "$(errno_of "os.rename('$M/shape', '$M/s2')")" EPERM
rm "$M/_report" || fail "hide: rm the real _report"
grep -q "^status: " "$M/_report" || fail "hide: virtual _report appears after rm"
ck_fusermount "$M"
expect_eq "hide: commit" "$DSTATUS" 0

# ---- umount errors ----
mkdir -p "$T/plain"
"$CKPTFS" umount "$T/plain" 2>"$T/err"
expect_eq "umount of a plain folder: exit 1" "$?" 1
grep -q "not a ckptfs mount" "$T/err" || fail "umount of a plain folder: $(cat "$T/err")"
finish
