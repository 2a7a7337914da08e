#!/usr/bin/env bash
# Benchmarks ckptfs on a BERT-base-sized checkpoint (~440 MB, 207 tensors, a tied
# decoder weight) against its peers, in one run:
#   listing / mount      ckptfs ls, mount-ready time, vs `fuse-zip` mount
#   reading every tensor through the mount  vs `cat` of the same bytes, vs fuse-zip
#   daemon RSS after reading everything
#   commit after `mv bert/* .; rm -r cls`   vs `cp` of the file, vs torch.load/torch.save
# Usage: scripts/bench.sh [WORKDIR]   (default /tmp/ckptfs-bench; the checkpoint is cached there)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
build=$("$here/scripts/setup.sh" "$here/build/release" | tail -n 1)
ckptfs="$build/ckptfs"
work=${1:-/tmp/ckptfs-bench}
mkdir -p "$work"
big="$work/bert-base.bin"
[ -s "$big" ] || /usr/bin/python3 "$here/scripts/make-big.py" "$big"
mnt="$work/mnt" zmnt="$work/zmnt"
mkdir -p "$mnt" "$zmnt"
cleanup() {
  mountpoint -q "$mnt" && fusermount3 -u "$mnt"
  mountpoint -q "$zmnt" && fusermount3 -u "$zmnt"
  rm -f "$work"/out.* "$work"/bert-base.remapped.bin* "$work"/*.journal
}
trap cleanup EXIT
cleanup

now() { date +%s.%N; }
secs() { echo "$2 - $1" | bc -l; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { echo "scale=2; $1 / $2" | bc -l; }
size=$(stat -c %s "$big")
echo "checkpoint: $big ($((size / 1048576)) MiB, $("$ckptfs" ls "$big" | wc -l) tensors)"
cat "$big" >/dev/null  # every measurement below starts from a warm page cache

# -- listing and mounting ---------------------------------------------------
ls_t=$(for i in 1 2 3 4 5; do s=$(now); "$ckptfs" ls "$big" >/dev/null; secs "$s" "$(now)"; done | median)
mount_t=$(for i in 1 2 3 4 5; do
  s=$(now); "$ckptfs" -o ro "$big" "$mnt"; e=$(now); fusermount3 -u "$mnt"; secs "$s" "$e"; done | median)
zip_mount_t=$(for i in 1 2 3 4 5; do
  s=$(now); fuse-zip -r "$big" "$zmnt"; e=$(now); fusermount3 -u "$zmnt"; secs "$s" "$e"; done | median)

# -- reading every tensor ------------------------------------------------------
"$ckptfs" -o ro "$big" "$mnt"
fuse-zip -r "$big" "$zmnt"
read_mount() { find "$mnt" -mindepth 2 -type f -print0 | xargs -0 cat >/dev/null; }
read_zip() { find "$zmnt" -path '*/data/*' -type f -print0 | xargs -0 cat >/dev/null; }
read_cat() { cat "$big" >/dev/null; }
best() { local b=""; for i in 1 2 3; do s=$(now); "$1"; t=$(secs "$s" "$(now)"); b=$(printf '%s\n%s\n' "$b" "$t" | grep . | sort -g | head -1); done; echo "$b"; }
first_mount=$(s=$(now); read_mount; secs "$s" "$(now)")   # first pass: through FUSE, cold kernel cache
cat_t=$(best read_cat)
mount_read_t=$(best read_mount)
zip_read_t=$(best read_zip)
pid=$(pgrep -f -n "ckptfs -o ro $big $mnt" || true)
rss_kb=$( [ -n "$pid" ] && awk '/VmHWM/ {print $2}' "/proc/$pid/status" || echo "?")
fusermount3 -u "$mnt"; fusermount3 -u "$zmnt"

# -- committing a remap ----------------------------------------------------------
commit_t=$(for i in 1 2 3; do
  rm -f "$work"/bert-base.remapped.bin*
  "$ckptfs" "$big" "$mnt"
  mv "$mnt"/bert/* "$mnt"/ && rm -r "$mnt"/cls
  s=$(now); "$ckptfs" umount "$mnt" >/dev/null; secs "$s" "$(now)"; done | median)
commit_rss=$(/usr/bin/time -f %M bash -c "\"$ckptfs\" -f \"$big\" \"$mnt\" & sleep 1; mv \"$mnt\"/bert/* \"$mnt\"/; rm -r \"$mnt\"/cls; rm -f \"$work\"/bert-base.remapped.bin*; \"$ckptfs\" umount \"$mnt\" >/dev/null; wait" 2>&1 | tail -1)
cp_t=$(for i in 1 2 3; do s=$(now); cp "$big" "$work/out.cp"; sync -f "$work/out.cp"; e=$(now); rm -f "$work/out.cp"; secs "$s" "$e"; done | median)
py_t=$(for i in 1 2 3; do s=$(now); /usr/bin/python3 - "$big" "$work/out.py" <<'EOF'
import sys, torch
sd = torch.load(sys.argv[1])
sd = {k[len("bert."):] if k.startswith("bert.") else k: v for k, v in sd.items() if not k.startswith("cls.")}
torch.save(sd, sys.argv[2])
EOF
  sync -f "$work/out.py"; e=$(now); rm -f "$work/out.py"; secs "$s" "$e"; done | median)
py_rss=$(/usr/bin/time -f %M /usr/bin/python3 -c "import torch; torch.save(torch.load('$big'), '$work/out.py')" 2>&1 | tail -1)
rm -f "$work/out.py"

mb=$(echo "$size / 1048576" | bc -l)
printf '\n%-44s %10s %12s\n' "measurement (median/best of runs)" "seconds" "vs peer"
printf '%-44s %10.4f\n' "ckptfs ls" "$ls_t"
printf '%-44s %10.4f %12s\n' "mount ready (ckptfs)" "$mount_t" "x$(ratio "$mount_t" "$zip_mount_t") fuse-zip"
printf '%-44s %10.4f\n' "mount ready (fuse-zip)" "$zip_mount_t"
printf '%-44s %10.4f\n' "read all tensors, first pass through FUSE" "$first_mount"
printf '%-44s %10.4f %12s\n' "read all tensors via ckptfs (warm)" "$mount_read_t" "x$(ratio "$mount_read_t" "$cat_t") cat"
printf '%-44s %10.4f %12s\n' "read all storages via fuse-zip (warm)" "$zip_read_t" "x$(ratio "$zip_read_t" "$cat_t") cat"
printf '%-44s %10.4f   %.0f MB/s\n' "cat of the file" "$cat_t" "$(echo "$mb / $cat_t" | bc -l)"
printf '%-44s %10s\n' "daemon peak RSS after reading all (KiB)" "$rss_kb"
printf '%-44s %10.4f %12s\n' "commit after mv+rm (ckptfs umount)" "$commit_t" "x$(ratio "$commit_t" "$cp_t") cp"
printf '%-44s %10.4f\n' "cp + sync of the file" "$cp_t"
printf '%-44s %10.4f %12s\n' "torch.load + rename + torch.save + sync" "$py_t" "x$(ratio "$py_t" "$commit_t") ckptfs"
printf '%-44s %10s\n' "peak RSS of the commit session (KiB)" "$commit_rss"
printf '%-44s %10s\n' "peak RSS of torch.load+save (KiB)" "$py_rss"
