#!/usr/bin/env bash
# The recording dummy vendor library end to end: a server that loads the dummy instead of the real
# platform, dummy_calls run through it, and check_dummy_log.py comparing what reached the "vendor"
# with what the application passed.
#
#   dummy_vendor.sh REMORA_BIN DUMMY_LIBRARY DUMMY_CALLS_BIN TRANSPORT
set -u
remora="$1"
dummy="$2"
calls="$3"
transport="$4"
here="$(cd "$(dirname "$0")" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/remora-dummy.XXXXXX")"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill -9 "$serve_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work/server.log" "$work/guest.err" "$work/guest.out"; do
    [ -f "$f" ] && { echo "--- $(basename "$f") (last 30 lines)"; tail -n 30 "$f"; }
  done
  if [ -f "$work/dummy.log" ]; then echo "--- dummy log"; cat "$work/dummy.log"; fi
  exit 1
}
[ -f "$dummy" ] || fail "no dummy vendor library at $dummy"

case "$transport" in
  tcp)
    port="$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    endpoint="tcp:127.0.0.1:$port" ;;
  *) endpoint="unix:$work/s.sock" ;;
esac

REMORA_DUMMY_LOG="$work/dummy.log" "$remora" serve --listen "$endpoint" --vendor-library "$dummy" \
  >"$work/server.log" 2>&1 &
serve_pid=$!
ready=0
for _ in $(seq 200); do
  kill -0 "$serve_pid" 2>/dev/null || fail "remora serve exited at start-up"
  if [ "$transport" = tcp ]; then
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && ready=1
  else
    [ -S "$work/s.sock" ] && ready=1
  fi
  [ "$ready" = 1 ] && break
  sleep 0.1
done
[ "$ready" = 1 ] || fail "remora serve did not listen on $endpoint within 20 s"

# The dummy's platform answers CL_PLATFORM_EXTENSIONS with a letter pattern, not "cl_khr_icd", which
# ocl-icd otherwise requires of a platform before offering it.
OCL_ICD_ASSUME_ICD_EXTENSION=1 timeout --kill-after=10 60 "$remora" run --connect "$endpoint" --transport "$transport" -- "$calls" \
  >"$work/guest.out" 2>"$work/guest.err" </dev/null
rc=$?
[ "$rc" = 0 ] && [ "$(tail -n 1 "$work/guest.out")" = PASS ] || fail "dummy_calls through remora: status $rc"

# The guest's last call (clReleaseContext) is sync or followed by the disconnect; give the server a
# moment to finish the session before reading the log.
kill -TERM "$serve_pid"
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
serve_pid=""
[ -s "$work/dummy.log" ] || fail "the dummy wrote no log (REMORA_DUMMY_LOG not passed to the vendor library?)"
/usr/bin/python3 "$here/check_dummy_log.py" "$work/guest.out" "$work/dummy.log" || fail "the dummy's log does not match"
echo PASS
