#!/usr/bin/env bash
# Builds the probe (cuda_probe.c) as OUT_DIR/libcuda.so.1, standing in for the driver at REAL_DRIVER.
#   tests/gpu/probe/build.sh OUT_DIR [REAL_DRIVER]   (default /usr/local/nvidia/lib64/libcuda.so.1)
set -eu
here="$(cd "$(dirname "$0")" && pwd)"
out="$1"
real="${2:-/usr/local/nvidia/lib64/libcuda.so.1}"
cuda_inc="${CUDA_INCLUDE:-/usr/local/cuda/include}"
mkdir -p "$out/stub"
# A stub whose SONAME is the driver's absolute path: the probe's DT_NEEDED then names that file.
echo 'void probe_stub(void) {}' >"$out/stub/stub.c"
cc -shared -fPIC -o "$out/stub/libreal.so" "$out/stub/stub.c" -Wl,-soname,"$real"
cc -O1 -g -shared -fPIC -I "$cuda_inc" -DPROBE_REAL_DRIVER="\"$real\"" -o "$out/libcuda.so.1" \
  "$here/cuda_probe.c" "$here/probe_tramps.S" -Wl,-soname,libcuda.so.1 -Wl,--no-as-needed "$out/stub/libreal.so" -ldl -lpthread
