#!/usr/bin/env bash
# `make test-gpu`: on a machine with an NVIDIA GPU, builds the driver-API test programs (and their
# kernels, with nvcc) and the runtime-API programs (with nvcc's default static cudart and with
# -cudart shared; cuBLAS both ways), runs each natively and through `remora run` over shm and tcp, and
# compares the outputs line for line.
#
#   tests/gpu/run.sh [BUILD_DIR]     (default: build; needs BUILD_DIR/bin/remora and lib/libremora-cuda.so)
#   CUDA_RUNTIME_LIBS: a directory with libcudart.so.13 and libcublas.so.13 when the toolkit's lib64
#   has none (PyTorch's wheel: site-packages/nvidia/cu13/lib).
set -u
here="$(cd "$(dirname "$0")" && pwd)"
build="$(cd "${1:-build}" && pwd)"
remora="$build/bin/remora"
nvcc="${NVCC:-$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)}"
cuda_inc="${CUDA_INCLUDE:-/usr/local/cuda/include}"
out="$build/gpu-tests"
mkdir -p "$out"
[ -x "$remora" ] || { echo "FAIL: no $remora (make build)"; exit 1; }
[ -f "$build/lib/libremora-cuda.so" ] || { echo "FAIL: no $build/lib/libremora-cuda.so"; exit 1; }

arch="${GPU_ARCH:-sm_90}"
"$nvcc" -cubin -arch="$arch" -o "$out/kernels.cubin" "$here/kernels.cu" || { echo "FAIL: nvcc -cubin"; exit 1; }
"$nvcc" -ptx -arch="compute_${arch#sm_}" -o "$out/kernels.ptx" "$here/kernels.cu" || { echo "FAIL: nvcc -ptx"; exit 1; }
# The programs link libcuda.so.1 as any driver-API program does; which one they get is the run's choice.
stubs="$(dirname "$cuda_inc")/lib64/stubs"
for prog in device_query kernels_driver; do
  cc -O2 -std=c11 -I "$cuda_inc" -o "$out/$prog" "$here/$prog.c" -L "$stubs" -lcuda -lm ||
    { echo "FAIL: building $prog"; exit 1; }
done

# Runtime-API programs, with nvcc's default static cudart (redirected to remora's runtime API by the
# preload `remora run` adds) and with -cudart shared. cuBLAS is optional (a toolkit without it skips it).
runtime_progs=()
build_runtime() {  # program name, source, then nvcc flags
  local name="$1" src="$2"
  shift 2
  "$nvcc" -arch="$arch" "$@" -o "$out/$name" "$here/$src" || { echo "FAIL: building $name"; exit 1; }
  runtime_progs+=("$name")
}
build_runtime runtime_basic_static runtime_basic.cu
build_runtime runtime_basic_shared runtime_basic.cu -cudart shared
build_runtime runtime_streams runtime_streams.cu
build_runtime runtime_streams_per_thread runtime_streams.cu --default-stream per-thread
build_runtime runtime_streams_per_thread_shared runtime_streams.cu --default-stream per-thread -cudart shared
if [ -f "$cuda_inc/cublas_v2.h" ]; then
  for variant in static shared; do
    flags=(-lcublas)
    [ "$variant" = shared ] && flags+=(-cudart shared)
    if "$nvcc" -arch="$arch" "${flags[@]}" -o "$out/runtime_cublas_$variant" "$here/runtime_cublas.cu"; then
      runtime_progs+=("runtime_cublas_$variant")
    else
      echo "skip: runtime_cublas_$variant (cannot link cuBLAS)"
    fi
  done
fi
runtime_libs="${CUDA_RUNTIME_LIBS:-$(dirname "$cuda_inc")/lib64}"

failed=0
run_one() {  # name, then the command
  local name="$1"
  shift
  if ! timeout 120 "$@" >"$out/$name.native" 2>"$out/$name.native.err"; then
    echo "FAIL: $name natively"; cat "$out/$name.native" "$out/$name.native.err"; failed=1; return
  fi
  for t in shm tcp; do
    if ! timeout 120 "$remora" run --transport "$t" -- "$@" >"$out/$name.$t" 2>"$out/$name.$t.err"; then
      echo "FAIL: $name through remora ($t)"; cat "$out/$name.$t" "$out/$name.$t.err" | tail -n 30; failed=1; continue
    fi
    if ! diff -u "$out/$name.native" "$out/$name.$t" >"$out/$name.$t.diff"; then
      echo "FAIL: $name through remora ($t) differs from native:"; cat "$out/$name.$t.diff"; failed=1; continue
    fi
    echo "ok: $name ($t): $(wc -l <"$out/$name.$t") lines identical to native"
  done
  echo "--- $name output:"; cat "$out/$name.native"
}
run_one device_query "$out/device_query"
run_one kernels_driver "$out/kernels_driver" "$out/kernels.cubin" "$out/kernels.ptx"
# The runtime API: remora's libcudart.so.13 (and libcublas.so.13) in the program, the real ones in the
# server (found on the same library path, which the private server keeps).
for prog in "${runtime_progs[@]}"; do
  LD_LIBRARY_PATH="$runtime_libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" run_one "$prog" "$out/$prog"
done
# remora's answers where it differs from a native driver on purpose.
cat >"$out/unsupported.c" <<'C'
#include <cuda.h>
#include <stdio.h>
int main(void) {
  CUdevice d; CUcontext c; CUdeviceptr p;
  if (cuInit(0) || cuDeviceGet(&d, 0) || cuDevicePrimaryCtxRetain(&c, d) || cuCtxSetCurrent(c)) return 1;
  printf("cuMemAllocManaged: %d\n", (int)cuMemAllocManaged(&p, 4096, CU_MEM_ATTACH_GLOBAL));
  return 0;
}
C
cc -I "$cuda_inc" -o "$out/unsupported" "$out/unsupported.c" -L "$stubs" -lcuda
got="$("$remora" run -- "$out/unsupported" 2>/dev/null)"
if [ "$got" = "cuMemAllocManaged: $(printf '%d' 801)" ]; then echo "ok: managed memory answers CUDA_ERROR_NOT_SUPPORTED"; else echo "FAIL: managed memory: $got"; failed=1; fi
[ "$failed" = 0 ] && echo "test-gpu: PASS" || echo "test-gpu: FAIL"
exit "$failed"
