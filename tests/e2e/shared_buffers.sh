#!/usr/bin/env bash
# Shared buffer storage (apis/opencl/guest/guest_shared_buffers.cpp) is really used over shm, and the
# programs that exercise buffers give native output with it on every buffer and with it off.
#
#   shared_buffers.sh REMORA_BIN E2E_BIN_DIR
#
# 1. `transfers` (4 MiB buffers) through shm with REMORA_LOG=debug: the guest must report buffers whose
#    storage is shared, and the server that the device qualified.
# 2. The same with REMORA_SHARED_BUFFERS=0: no buffer may be shared, output still native.
# (run_compare.sh with REMORA_SHARED_BUFFER_MIN_BYTES=1 covers the other programs: CMakeLists.txt.)
set -u
remora="$1"
bins="$2"
work="$(mktemp -d "${TMPDIR:-/tmp}/remora-shared.XXXXXX")"
trap 'rm -rf "$work"' EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work"/*.err; do [ -f "$f" ] && { echo "--- $(basename "$f") (last 20 lines)"; tail -n 20 "$f"; }; done
  exit 1
}

"$bins/transfers" >"$work/native.out" 2>"$work/native.err" || fail "transfers fails natively"

REMORA_LOG=debug timeout --kill-after=10 120 "$remora" run --transport shm -- "$bins/transfers" \
  >"$work/shared.out" 2>"$work/shared.err" || fail "transfers failed through remora with shared buffers"
cmp -s "$work/native.out" "$work/shared.out" || fail "output differs from native with shared buffers"
grep -q "buffer storage can be shared with the guest" "$work/shared.err" ||
  fail "the server did not find the device's buffer storage shareable"
n="$(grep -c "storage shared with the server" "$work/shared.err")"
[ "$n" -ge 2 ] || fail "expected the 4 MiB buffers to be shared, $n were"

REMORA_LOG=debug REMORA_SHARED_BUFFERS=0 timeout --kill-after=10 120 "$remora" run --transport shm -- \
  "$bins/transfers" >"$work/off.out" 2>"$work/off.err" || fail "transfers failed through remora without shared buffers"
cmp -s "$work/native.out" "$work/off.out" || fail "output differs from native without shared buffers"
if grep -q "storage shared with the server" "$work/off.err"; then fail "REMORA_SHARED_BUFFERS=0 still shared buffers"; fi

echo "PASS: $n buffers shared; output native with and without"
