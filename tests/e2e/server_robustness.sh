#!/usr/bin/env bash
# Server robustness: one shared `remora serve`, three guests.
#
#   server_robustness.sh REMORA_BIN LONG_GUEST_BIN unix|tcp
#
# A loops kernels for ~5 s; B starts alongside and is killed with SIGKILL mid-run (while it holds
# contexts, buffers and queued work on the server). A must still finish with correct results, the
# server must still be running, and a new guest C must work afterwards.
set -u
remora="$1"
guest="$2"
kind="$3"
. "$(dirname "$0")/lib.sh"
serve_pid=""
pids=()
E2E_KILL="pids[@] serve_pid"
e2e_workdir robust
e2e_endpoint "$kind" || { echo "usage: $0 REMORA_BIN LONG_GUEST_BIN unix|tcp" >&2; exit 2; }

# info: the session processes log what they released at the end (checked below).
REMORA_LOG=info "$remora" serve --listen "$endpoint" >"$work/server.log" 2>&1 &
serve_pid=$!

# Ready when the endpoint accepts connections (bounded: 20 s).
ready=0
for _ in $(seq 200); do
  kill -0 "$serve_pid" 2>/dev/null || fail "remora serve exited at start-up"
  if [ "$kind" = unix ]; then
    [ -S "$work/s.sock" ] && ready=1
  else
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && ready=1
  fi
  [ "$ready" = 1 ] && break
  sleep 0.1
done
[ "$ready" = 1 ] || fail "remora serve did not listen on $endpoint within 20 s"

# TODO(e2e): `--transport` with `--connect` is assumed to pick the session's transport (unix or
# tcp matching the endpoint); adjust if the CLI infers it from the endpoint instead.
guest_run() {  # guest_run NAME ARGS...: a guest through the shared server, in the background
  local name="$1"
  shift
  timeout --kill-after=10 120 "$remora" run --connect "$endpoint" --transport "$kind" -- "$guest" "$@" \
    >"$work/$name.out" 2>"$work/$name.log" </dev/null &
  pids+=($!)
}

guest_run A 5
a_pid=$!
guest_run B 60 "$work/b.pid"
b_wrapper=$!

# Kill B once it has finished a checked iteration (its pid file appears then), a moment later.
for _ in $(seq 600); do
  [ -s "$work/b.pid" ] && break
  kill -0 "$b_wrapper" 2>/dev/null || fail "guest B exited before it got going: $(cat "$work/B.out")"
  sleep 0.1
done
[ -s "$work/b.pid" ] || fail "guest B did not start within 60 s"
sleep 0.5
b_pid="$(cat "$work/b.pid")"
kill -9 "$b_pid" || fail "could not kill guest B (pid $b_pid)"
echo "killed guest B mid-run"
wait "$b_wrapper" 2>/dev/null

# B's session process released everything B held (contexts, queues, buffers, kernels...).
# (The reason depends on the transport: "guest disconnected", "peer closed the connection"...)
released() { grep -E 'session ended \([^)]+\): [0-9]+ calls, [1-9][0-9]* objects released' "$work/server.log" | grep -v '(goodbye)'; }
for _ in $(seq 100); do
  [ -n "$(released)" ] && break
  sleep 0.1
done
[ -n "$(released)" ] || fail "no session of the killed guest B logged the objects it released"
echo "guest B's session: $(released | grep -Eo '[0-9]+ objects released' | head -n 1)"

wait "$a_pid"
a_rc=$?
[ "$a_rc" = 0 ] || fail "guest A exited with status $a_rc: $(cat "$work/A.out")"
[ "$(tail -n 1 "$work/A.out")" = PASS ] || fail "guest A did not print PASS: $(cat "$work/A.out")"
echo "guest A: PASS"

kill -0 "$serve_pid" 2>/dev/null || fail "the server died after guest B was killed"

guest_run C 1
c_pid=$!
wait "$c_pid"
c_rc=$?
[ "$c_rc" = 0 ] && [ "$(tail -n 1 "$work/C.out")" = PASS ] || fail "guest C after the kill: status $c_rc: $(cat "$work/C.out")"
echo "guest C: PASS"

kill -0 "$serve_pid" 2>/dev/null || fail "the server died after guest C"
kill -TERM "$serve_pid"
for _ in $(seq 100); do kill -0 "$serve_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$serve_pid" 2>/dev/null && fail "remora serve did not exit within 10 s of SIGTERM"
serve_pid=""
echo "PASS"
