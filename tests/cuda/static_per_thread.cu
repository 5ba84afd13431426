// A static-cudart program built with --default-stream per-thread, through remora against the dummy
// vendor library (dummy_cuda.sh): NVIDIA's static cudart asks remora's libcuda for the driver's _ptds/_ptsz
// entry points, where the NULL stream is each thread's own per-thread stream (a driver stream the dummy
// log shows being created, used and synchronised). Prints PASS when every answer is as expected.
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
  nothing<<<1, 1>>>();  // cuLaunchKernel_ptsz
  EXPECT(cudaGetLastError(), cudaSuccess);
  EXPECT(cudaStreamSynchronize(0), cudaSuccess);  // _ptsz
  int priority = 0;
  EXPECT(cudaStreamGetPriority(0, &priority), cudaSuccess);  // cuStreamGetPriority_ptsz
  // Another thread gets a per-thread stream of its own.
  std::thread other([] { EXPECT(cudaStreamSynchronize(cudaStreamPerThread), cudaSuccess); });
  other.join();
  EXPECT(cudaStreamDestroy(cudaStreamPerThread), cudaErrorInvalidResourceHandle);
  EXPECT(cudaFree(d), cudaSuccess);
  printf("%s\n", failures == 0 ? "PASS" : "FAILED");
  return failures == 0 ? 0 : 1;
}
