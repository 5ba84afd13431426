// A static-cudart program built with --default-stream per-thread, through remora against the dummy
// vendor library (dummy_cuda.sh): remora has no per-thread default stream, so the _ptds/_ptsz entry
// points answer cudaErrorNotSupported, and a <<<>>> launch (whose error nvcc's stub would drop) stops
// the program with a message instead of going on without the kernel. Prints PASS before the launch.
#include <cuda_runtime.h>
#include <stdio.h>

__global__ void nothing() {}

int main(void) {
  int* d = nullptr;
  int host[4] = {1, 2, 3, 4};
  int ok = cudaMalloc(&d, sizeof host) == cudaSuccess &&
           cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice) == cudaErrorNotSupported &&  // _ptds
           cudaStreamSynchronize(0) == cudaErrorNotSupported;                                    // _ptsz
  printf("%s\n", ok ? "PASS" : "FAILED");
  fflush(stdout);
  nothing<<<1, 1>>>();
  printf("launched\n");
  return 0;
}
