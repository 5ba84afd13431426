#!/usr/bin/env bash
# The CUDA stack without a GPU: a server that loads the recording dummy vendor library, dummy_driver
# (a driver-API program linked against libcuda.so.1) and programs over NVIDIA's real cudart and cuBLAS
# run through `remora run`, and the dummy's log checked for what
# must have reached the "driver".
#
#   dummy_cuda.sh REMORA_BIN DUMMY_LIBRARY DUMMY_DRIVER_BIN TRANSPORT [RUNTIME_PROGRAM...]
#   RUNTIME_PROGRAM: programs built by nvcc against NVIDIA's cudart (shared, static, per-thread
#   default stream), each printing PASS last
set -u
remora="$1" dummy="$2" prog="$3" transport="$4"
shift 4
work="$(mktemp -d "${TMPDIR:-/tmp}/remora-cuda-dummy.XXXXXX")"
serve_pid=""
cleanup() {
  [ -n "$serve_pid" ] && kill -9 "$serve_pid" 2>/dev/null
  wait 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT
fail() {
  echo "FAIL: $*"
  for f in "$work/server.log" "$work/guest.err" "$work/guest.out" "$work/dummy.log"; do
    [ -f "$f" ] && { echo "--- $(basename "$f") (last 40 lines)"; tail -n 40 "$f"; }
  done
  exit 1
}
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

launch_guest() {  # program, then extra environment; its status
  local p="$1"
  shift
  env "$@" timeout --kill-after=10 60 "$remora" run --connect "$endpoint" --transport "$transport" -- "$p" \
    >"$work/guest.out" 2>"$work/guest.err" </dev/null
}
# Runs a program that must print PASS last; the dummy log's lines from its calls land in
# $work/runtime.log (the session flushes the log as calls run; a moment more lets the server finish
# the last line).
run_guest() {  # name, program, then extra environment
  local name="$1" p="$2" before=0
  shift 2
  [ -f "$work/dummy.log" ] && before="$(wc -l <"$work/dummy.log")"
  launch_guest "$p" "$@"
  local rc=$?
  [ "$rc" = 0 ] && [ "$(tail -n 1 "$work/guest.out")" = PASS ] || fail "$name through remora: status $rc"
  sleep 0.2
  tail -n +"$((before + 1))" "$work/dummy.log" >"$work/runtime.log"
}

run_guest dummy_driver "$prog"
expect() {
  grep -qE "$1" "$work/dummy.log" || fail "the dummy log lacks a line matching: $1"
}
expect '^cuInit Flags=0$'
expect '^cuDeviceGetName name=<out 64> len=64 dev=[0-9]+$'
expect '^cuDevicePrimaryCtxRetain pctx=<out> dev=[0-9]+$'
expect '^cuMemAlloc_v2 dptr=<out> bytesize=64$'
# The 64 bytes 0..63 the program wrote, by their CRC-32; the PTX text with its NUL (45 bytes).
expect "^cuMemcpyHtoD_v2 dstDevice=[0-9]+ srcHost=<in 64 bytes crc32=$(python3 -c 'import zlib; print("%08x" % zlib.crc32(bytes(range(64))))')> ByteCount=64$"
expect '^cuMemcpyDtoH_v2 dstHost=<out 64> srcDevice=[0-9]+ ByteCount=64$'
expect '^cuModuleLoadData module=<out> image=<in 45 bytes crc32=[0-9a-f]{8}>$'
expect '^cuModuleGetFunction hfunc=<out> hmod=@[0-9]+ name="k"$'
expect '^cuStreamCreate phStream=<out> Flags=0$'
# Two streams with the default flags: the program's own and its per-thread stream (made once, used
# by CU_STREAM_PER_THREAD twice and by a per-thread entry point's NULL stream).
[ "$(grep -c '^cuStreamCreate phStream=<out> Flags=0$' "$work/dummy.log")" = 2 ] ||
  fail "expected the program's stream and one per-thread stream"
expect '^cuStreamSynchronize hStream=NULL$'
expect '^cuEventRecord hEvent=@[0-9]+ hStream=@[0-9]+$'
expect '^cuMemsetD32Async dstDevice=[0-9]+ ui=7 N=4 hStream=@[0-9]+$'
expect '^cuStreamSynchronize hStream=@[0-9]+$'
expect '^cuStreamDestroy_v2 hStream=@[0-9]+$'
expect '^cuMemFree_v2 dptr=[0-9]+$'
# Refused in the guest: never reach the driver.
grep -qE '^cuMemAllocManaged' "$work/dummy.log" && fail "cuMemAllocManaged reached the driver"
# The program's stream once (its second destroy is refused in the guest), the per-thread stream at exit.
[ "$(grep -c '^cuStreamDestroy_v2' "$work/dummy.log")" = 2 ] || fail "expected two stream destroys (the second cuStreamDestroy of the program's stream reached the driver, or the per-thread stream was not destroyed)"
# Not in the spec (REMORA_REFUSE_UNLISTED): called twice, logged once.
refused() {
  [ "$(grep -cF "$1 is not implemented by remora (answers $2)" "$work/guest.err")" = 1 ] ||
    fail "the guest did not log the refusal of $1 exactly once"
}
refused cuArrayDestroy CUDA_ERROR_NOT_SUPPORTED

# NVIDIA's own cudart (and cuBLAS/cuBLASLt) run unmodified over remora's libcuda: its start-up
# passes the export tables remora serves, so its registration, launches and calls reach the driver.
expect_rt() {
  grep -qE "$1" "$work/runtime.log" || { cp "$work/runtime.log" "$work/dummy.log"; fail "the dummy log lacks a line matching: $1"; }
}
for runtime_prog in "$@"; do
  name="$(basename "$runtime_prog")"
  run_guest "$name" "$runtime_prog"
  expect_rt '^cuDevicePrimaryCtxRetain pctx=<out> dev=[0-9]+$'
  expect_rt '^cu(Module|Library)LoadData'
  expect_rt '^cuLaunchKernel'
  grep -q 'unserved entry' "$work/guest.err" && fail "$name called an export-table entry remora does not serve"
  grep -qE '^cuMemAllocManaged' "$work/runtime.log" && fail "$name: cudaMallocManaged reached the driver"
done
echo PASS
