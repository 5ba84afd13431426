#!/usr/bin/env bash
# The server out of host memory for a transfer: `remora serve --max-session-host-memory 256MiB` caps
# what each session process may map after setup (RLIMIT_AS). A guest asks for a 1 GiB read; the
# session cannot allocate the result, the call fails with CL_OUT_OF_HOST_MEMORY, and the session and
# the daemon keep running (host_memory_fault_guest.c checks the calls after it).
#
#   host_memory_fault.sh REMORA_BIN GUEST_BIN unix|tcp
set -u
remora="$1"
guest="$2"
kind="$3"
. "$(dirname "$0")/lib.sh"
serve_pid=""
E2E_KILL="serve_pid"
e2e_workdir hostmem
e2e_endpoint "$kind" || { echo "usage: $0 REMORA_BIN GUEST_BIN unix|tcp" >&2; exit 2; }
REMORA_LOG=info "$remora" serve --listen "$endpoint" --admin "unix:$work/admin.sock" \
  --max-session-host-memory 256MiB >"$work/server.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do [ -S "$work/admin.sock" ] && break; sleep 0.1; done
[ -S "$work/admin.sock" ] || fail "remora serve did not start"

timeout --kill-after=5 120 "$remora" run --connect "$endpoint" --transport "$kind" -- "$guest" \
  >"$work/guest.out" 2>"$work/guest.log" </dev/null
rc=$?
cat "$work/guest.out"
[ "$rc" = 0 ] || fail "the guest exited with status $rc"
[ "$(tail -n 1 "$work/guest.out")" = PASS ] || fail "the guest did not print PASS"
grep -q "out of host memory" "$work/server.log" || fail "the server did not log the out-of-host-memory call"
grep -q "host memory: .* at most 256 MiB more" "$work/server.log" || fail "the session did not apply the limit"
for _ in $(seq 100); do [ -z "$(pgrep -P "$serve_pid")" ] && break; sleep 0.1; done
[ -z "$(pgrep -P "$serve_pid")" ] || fail "the session process did not exit after its guest"
grep -q "ended: pid .*exit status 0" "$work/server.log" || fail "the session process did not end cleanly"
kill -0 "$serve_pid" 2>/dev/null || fail "the daemon died"
echo "PASS"
