# mount_common.sh — shared helpers for the FUSE mount tests (sourced, not run).
#
# Mounts are started with -f in the background and waited for with a timeout
# while checking the daemon is alive; an EXIT trap unmounts everything this
# test mounted and kills its daemons, so a failing test never leaks a mount.
# Environment (set by ctest): CKPTFS, CK_SRC, CK_DATA, PYTHON.

set -u
CKPTFS=${CKPTFS:?CKPTFS must name the ckptfs binary}
CK_SRC=${CK_SRC:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
CK_DATA=${CK_DATA:-$CK_SRC/tests/data}
PYTHON=${PYTHON:-/usr/bin/python3}
CHECK="$PYTHON $CK_SRC/tests/mount_check.py"

if [ ! -c /dev/fuse ] || ! command -v fusermount3 >/dev/null; then
	echo "SKIP: no /dev/fuse or fusermount3"
	exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/ckptfs-test.XXXXXX")
MOUNTS=()        # mount points to clean up
PIDS=()          # daemon pids to clean up
FAILS=0

ck_cleanup() {
	local m p
	for m in "${MOUNTS[@]}"; do
		if grep -qs " $m fuse" /proc/self/mounts; then
			fusermount3 -u -z "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${PIDS[@]}"; do
		kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$T"
}
trap ck_cleanup EXIT
trap 'exit 130' INT TERM

fail() {
	echo "FAIL: $*" >&2
	FAILS=$((FAILS + 1))
}

ok() {
	echo "ok: $*"
}

# check DESCRIPTION COMMAND...: runs the command, counts a failure if it fails.
check() {
	local what=$1
	shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}

# expect_eq DESCRIPTION GOT WANT
expect_eq() {
	if [ "$2" == "$3" ]; then
		ok "$1"
	else
		fail "$1: got [$2], want [$3]"
	fi
}

is_mounted() {
	grep -qs " $1 fuse" /proc/self/mounts
}

# ck_mount MNT ARGS... : starts `ckptfs -f ARGS... MNT` in the background, waits
# up to 10 s for the mount; sets MPID.  The daemon's stderr goes to $T/log.<name>.
ck_mount() {
	local mnt=$1
	shift
	mkdir -p "$mnt"
	MOUNTS+=("$mnt")
	local log="$T/log.$(basename "$mnt")"
	"$CKPTFS" -f "$@" "$mnt" 2>"$log" &
	MPID=$!
	PIDS+=("$MPID")
	local i
	for i in $(seq 1 200); do
		if is_mounted "$mnt"; then
			return 0
		fi
		if ! kill -0 "$MPID" 2>/dev/null; then
			wait "$MPID"
			echo "daemon exited with $? before mounting:" >&2
			cat "$log" >&2
			return 1
		fi
		sleep 0.05
	done
	echo "mount of $mnt timed out" >&2
	cat "$log" >&2
	return 1
}

# ck_wait_daemon PID: waits for a daemon to exit (up to 60 s); returns its status.
ck_wait_daemon() {
	local pid=$1 i
	for i in $(seq 1 1200); do
		if ! kill -0 "$pid" 2>/dev/null; then
			wait "$pid"
			return $?
		fi
		sleep 0.05
	done
	echo "daemon $pid did not exit" >&2
	return 124
}

# ck_fusermount MNT: plain `fusermount3 -u`, then wait for the daemon (status in DSTATUS).
ck_fusermount() {
	fusermount3 -u "$1"
	ck_wait_daemon "$MPID"
	DSTATUS=$?
}

# errno_of PYTHON-STATEMENTS: prints the errno name the statements raise, or OK.
errno_of() {
	$PYTHON -c "
import errno, os, sys
try:
    $1
    print('OK')
except OSError as e:
    print(errno.errorcode.get(e.errno, e.errno))
"
}

finish() {
	if [ "$FAILS" -ne 0 ]; then
		echo "$FAILS check(s) failed"
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
