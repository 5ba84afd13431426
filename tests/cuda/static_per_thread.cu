// A static-cudart program built with --default-stream per-thread, through remora against the dummy
// vendor library (dummy_cuda.sh): its _ptds/_ptsz entry points reach remora's, where the NULL stream
// is each thread's own per-thread stream (a driver stream the dummy log shows being created, used and
// synchronised); the _ptsz variant of a function remora lacks answers cudaErrorNotSupported. Prints
// PASS when every answer is as expected.
#include <cuda_runtime.h>
#include <stdio.h>

#include <thread>

#include "expect.h"

__global__ void nothing() {}

int main(void) {
  int* d = nullptr;
  int host[4] = {1, 2, 3, 4};
  EXPECT(cudaMalloc(&d, sizeof host), cudaSuccess);
  EXPECT(cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);  // cudaMemcpy_ptds
  EXPECT(cudaMemsetAsync(d, 0, sizeof host, 0), cudaSuccess);                     // _ptsz
  // The dummy's parameter layout is not one a launch can be built from (__cudaLaunchKernel_ptsz).
  nothing<<<1, 1>>>();
  EXPECT(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT(cudaStreamSynchronize(0), cudaSuccess);  // _ptsz
  int priority = 0;
  EXPECT(cudaStreamGetPriority(0, &priority), cudaErrorNotSupported);  // not implemented by remora
  // Another thread gets a per-thread stream of its own.
  std::thread other([] { EXPECT(cudaStreamSynchronize(cudaStreamPerThread), cudaSuccess); });
  other.join();
  EXPECT(cudaStreamDestroy(cudaStreamPerThread), cudaErrorInvalidResourceHandle);
  EXPECT(cudaFree(d), cudaSuccess);
  printf("%s\n", failures == 0 ? "PASS" : "FAILED");
  return failures == 0 ? 0 : 1;
}
