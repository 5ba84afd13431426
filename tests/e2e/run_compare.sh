#!/usr/bin/env bash
# Runs a command natively and through remora, and compares what the application printed.
#
#   run_compare.sh [--filter CMD] [--timeout SECONDS] REMORA_BIN TRANSPORT -- CMD [ARGS...]
#
# CMD runs twice, each under a timeout (default 120 s, or $E2E_TIMEOUT): natively, then as
# `REMORA_BIN run --transport TRANSPORT -- CMD`. The test passes when both exit with the same status,
# the native run exits 0, and both stdouts are identical (after `--filter CMD`, a command that reads
# stdin and writes stdout, if given: for clients whose output legitimately varies; a filter that
# exits non-zero fails the test, so it can also assert). On a mismatch it
# prints the diff and the tail of both stderrs. stderr is never compared: remora logs there.
set -u

filter=""
timeout_s="${E2E_TIMEOUT:-120}"
while [ $# -gt 0 ]; do
  case "$1" in
    --filter) filter="$2"; shift 2 ;;
    --timeout) timeout_s="$2"; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -lt 4 ] || [ "$3" != "--" ]; then
  echo "usage: $0 [--filter CMD] [--timeout S] REMORA_BIN TRANSPORT -- CMD [ARGS...]" >&2
  exit 2
fi
remora="$1"
transport="$2"
shift 3

work="$(mktemp -d "${TMPDIR:-/tmp}/remora-e2e.XXXXXX")"
trap 'rm -rf "$work"' EXIT

run() {  # run NAME CMD...: stdout, stderr and the exit status into $work/NAME.*
  local name="$1"
  shift
  # --kill-after: a guest stuck in a blocking call must not outlive the test.
  timeout --kill-after=10 "$timeout_s" "$@" >"$work/$name.out" 2>"$work/$name.err" </dev/null
  echo $? >"$work/$name.rc"
}

apply_filter() {  # apply_filter NAME: the compared form of NAME's stdout; a failing filter fails the test
  if [ -n "$filter" ]; then
    bash -c "$filter" <"$work/$1.out" >"$work/$1.cmp" || echo "$1" >>"$work/filter_failed"
  else
    cp "$work/$1.out" "$work/$1.cmp"
  fi
}

run native "$@"
run remora "$remora" run --transport "$transport" -- "$@"
apply_filter native
apply_filter remora
native_rc="$(cat "$work/native.rc")"
remora_rc="$(cat "$work/remora.rc")"

status=0
if [ -f "$work/filter_failed" ]; then
  echo "FAIL: the output filter rejected the output of: $(tr '\n' ' ' <"$work/filter_failed")"
  status=1
fi
if [ "$native_rc" != 0 ]; then
  echo "FAIL: the native run exited with status $native_rc (the test itself is broken natively)"
  status=1
fi
if [ "$native_rc" != "$remora_rc" ]; then
  echo "FAIL: exit status differs: native $native_rc, through remora ($transport) $remora_rc"
  [ "$remora_rc" = 124 ] || [ "$remora_rc" = 137 ] && echo "      (the remora run timed out after ${timeout_s} s)"
  status=1
fi
if ! diff -u --label native --label "remora-$transport" "$work/native.cmp" "$work/remora.cmp" >"$work/diff"; then
  echo "FAIL: stdout differs between the native run and the run through remora ($transport):"
  cat "$work/diff"
  status=1
fi

if [ "$status" != 0 ]; then
  echo "--- native stderr (last 20 lines)"
  tail -n 20 "$work/native.err"
  echo "--- remora stderr (last 40 lines)"
  tail -n 40 "$work/remora.err"
  exit 1
fi
echo "same output natively and through remora ($transport): $(wc -l <"$work/native.cmp") lines, exit status $native_rc"
exit 0
