#!/usr/bin/env bash
# `make bench-gpu`: the CUDA benchmarks (bench/cuda_micro.c) natively and through `remora run` on each
# transport, in one run; prints native, remora and their ratio per figure and writes the JSON.
#
#   bench/gpu_run.sh [BUILD_DIR] [--quick]
#     BUILD_DIR (default build) must hold bin/remora and lib/libremora-cuda.so. Results go to
#     BUILD_DIR/gpu-bench/results.json. TRANSPORTS (default "shm tcp") picks the transports, ROUNDS
#     (default 3) how many times each benchmark runs in each setting (the median is reported).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
quick="${2:-}"
remora="$build/bin/remora"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
cuda_inc="${CUDA_INCLUDE:-/usr/local/cuda/include}"
out="$build/gpu-bench"
mkdir -p "$out"
[ -x "$remora" ] || { echo "FAIL: no $remora (make build)"; exit 1; }
arch="${GPU_ARCH:-sm_90}"
"$nvcc" -cubin -arch="$arch" -o "$out/cuda_kernels.cubin" "$here/cuda_kernels.cu" || { echo "FAIL: nvcc"; exit 1; }
cc -O2 -std=c11 -I "$cuda_inc" -o "$out/cuda_micro" "$here/cuda_micro.c" -L "$(dirname "$cuda_inc")/lib64/stubs" -lcuda -lm ||
  { echo "FAIL: building cuda_micro"; exit 1; }

failed=0
: >"$out/raw.jsonl"
# One benchmark in one setting: each JSON line it prints is tagged with the setting; the process's
# wall time (start-up and teardown included) is recorded as <bench>_wall.
run_one() {  # setting, bench, command...
  local setting="$1" bench="$2"
  shift 2
  local t0 t1
  t0=$(date +%s%N)
  if ! timeout 600 "$@" "$out/cuda_kernels.cubin" "$bench" $quick >"$out/$bench.$setting.out" 2>"$out/$bench.$setting.err"; then
    echo "FAIL: $bench ($setting)"; tail -n 20 "$out/$bench.$setting.err"; failed=1; return
  fi
  t1=$(date +%s%N)
  sed "s/^{/{\"setting\": \"$setting\", /" "$out/$bench.$setting.out" >>"$out/raw.jsonl"
  printf '{"setting": "%s", "bench": "%s_wall", "value": %s, "unit": "s"}\n' "$setting" "$bench" \
    "$(((t1 - t0) / 1000000000)).$(printf '%09d' $(((t1 - t0) % 1000000000)))" >>"$out/raw.jsonl"
}
# ROUNDS (default 3) rounds per benchmark, native and remora interleaved: the lent machine's figures
# drift by 10-20% between minutes (native launches/s 2.3e5-3.0e5 in one session), so each figure is the
# median over the rounds, and the report shows how far the per-round ratios spread.
for bench in check launch sync memcpy e2e; do
  for _ in $(seq "${ROUNDS:-3}"); do
    run_one native "$bench" "$out/cuda_micro"
    for t in ${TRANSPORTS:-shm tcp}; do
      run_one "$t" "$bench" "$remora" run --transport "$t" -- "$out/cuda_micro"
    done
  done
done
python3 "$here/gpu_report.py" "$out/raw.jsonl" "$out/results.json" || failed=1
exit "$failed"
