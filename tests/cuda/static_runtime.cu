// A runtime-API program built by nvcc with its default flags (static cudart), run through remora
// against the recording dummy vendor library (dummy_cuda.sh): nvcc's registration at start-up, a
// <<<>>> launch, a __device__ variable, memory and streams: NVIDIA's own static cudart, unmodified, over
// remora's libcuda (its start-up passes the export tables remora serves). Prints PASS last when every answer is as expected.
#include <cuda_runtime.h>
#include <stdio.h>

#include "expect.h"

__device__ int counter;

__global__ void add(int* p, int v) { p[threadIdx.x] += v + counter; }

int main(void) {
  int n = -1, version = 0;
  EXPECT(cudaGetDeviceCount(&n), cudaSuccess);
  EXPECT(n > 0, 1);
  EXPECT(cudaRuntimeGetVersion(&version), cudaSuccess);
  int* d = nullptr;
  EXPECT(cudaMalloc(&d, 64 * sizeof(int)), cudaSuccess);
  int host[64];
  for (int i = 0; i < 64; ++i) host[i] = i;
  EXPECT(cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);
  cudaStream_t s;
  EXPECT(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  // The launch reaches the driver (dummy_cuda.sh finds it in the dummy's log).
  add<<<1, 64, 0, s>>>(d, 3);
  EXPECT(cudaGetLastError(), cudaSuccess);
  EXPECT(cudaStreamSynchronize(s), cudaSuccess);
  int* counter_address = nullptr;
  EXPECT(cudaGetSymbolAddress((void**)&counter_address, counter), cudaSuccess);
  EXPECT(cudaMemcpy(host, d, 16, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT(cudaStreamDestroy(s), cudaSuccess);
  EXPECT(cudaFree(d), cudaSuccess);
  printf("%s\n", failures == 0 ? "PASS" : "FAILED");
  return failures == 0 ? 0 : 1;
}
