#!/usr/bin/env bash
# Sets up a fresh Debian machine (packages), builds ckptfs twice — Release and
# with AddressSanitizer/UBSan — and runs every test through ctest in each.
# Exits non-zero on any failure.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
jobs=$(nproc)
status=0
"$here/scripts/setup.sh" "$here/build/release" >/dev/null
echo "== Release build: ctest"
ctest --test-dir "$here/build/release" --output-on-failure -j"$jobs" || status=1
"$here/scripts/setup.sh" "$here/build/asan" -DCK_SANITIZE=ON -DCMAKE_BUILD_TYPE=Debug >/dev/null
echo "== ASan/UBSan build: ctest"
ctest --test-dir "$here/build/asan" --output-on-failure -j"$jobs" || status=1
if [ "$status" -ne 0 ]; then echo "test.sh: FAILED" >&2; else echo "test.sh: all tests passed"; fi
exit "$status"
