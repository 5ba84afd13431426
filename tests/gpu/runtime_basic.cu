// The CUDA runtime API (cudart) over remora: device queries, memory, <<<>>> launches, streams, events,
// a device global, and a launch error, as an ordinary nvcc-built program. run.sh builds it twice: with
// nvcc's default static cudart and with -cudart shared.
#include <cuda_runtime.h>
#include <stdio.h>
#include <stdlib.h>
#include <vector>

#include "runtime_check.h"

__device__ int hits;

__global__ void saxpy(float a, const float* x, float* y, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) y[i] = a * x[i] + y[i];
}

__global__ void count_hits(int by) { atomicAdd(&hits, by); }

template <typename T>
__global__ void fill(T* p, T v, int n) {
  int i = blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) p[i] = v;
}

int main() {
  int count = 0, runtime = 0, driver = 0;
  CHECK(cudaGetDeviceCount(&count));
  CHECK(cudaRuntimeGetVersion(&runtime));
  CHECK(cudaDriverGetVersion(&driver));
  printf("devices: %d, runtime >= 13000: %s, driver >= runtime: %s\n", count, runtime >= 13000 ? "yes" : "no",
         driver >= runtime ? "yes" : "no");
  cudaDeviceProp prop;
  CHECK(cudaGetDeviceProperties(&prop, 0));
  printf("device 0: %s, sm_%d%d, %d SMs\n", prop.name, prop.major, prop.minor, prop.multiProcessorCount);
  CHECK(cudaSetDevice(0));

  const int n = 1 << 20;
  std::vector<float> x(n), y(n);
  for (int i = 0; i < n; ++i) {
    x[i] = (float)i;
    y[i] = 1.0f;
  }
  float *dx, *dy;
  CHECK(cudaMalloc(&dx, n * sizeof(float)));
  CHECK(cudaMalloc(&dy, n * sizeof(float)));
  CHECK(cudaMemcpy(dx, x.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaMemcpy(dy, y.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  saxpy<<<(n + 255) / 256, 256>>>(2.0f, dx, dy, n);
  CHECK(cudaGetLastError());
  CHECK(cudaMemcpy(y.data(), dy, n * sizeof(float), cudaMemcpyDeviceToHost));
  int bad = 0;
  for (int i = 0; i < n; ++i) bad += y[i] != 2.0f * i + 1.0f;
  printf("saxpy: %d wrong, y[12345] = %.1f\n", bad, y[12345]);

  // Streams, events, pinned memory, async copies.
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  float* pinned;
  CHECK(cudaMallocHost(&pinned, n * sizeof(float)));
  cudaEvent_t start, stop;
  CHECK(cudaEventCreate(&start));
  CHECK(cudaEventCreate(&stop));
  CHECK(cudaEventRecord(start, s));
  fill<float><<<(n + 255) / 256, 256, 0, s>>>(dy, 7.0f, n);
  CHECK(cudaMemcpyAsync(pinned, dy, n * sizeof(float), cudaMemcpyDeviceToHost, s));
  CHECK(cudaEventRecord(stop, s));
  CHECK(cudaStreamSynchronize(s));
  float ms = -1;
  CHECK(cudaEventElapsedTime(&ms, start, stop));
  printf("stream: pinned[0] = %.1f, pinned[n-1] = %.1f, elapsed measured: %s, query: %d\n", pinned[0],
         pinned[n - 1], ms >= 0 ? "yes" : "no", (int)cudaStreamQuery(s));

  // A device global through cudaMemcpyToSymbol / FromSymbol.
  int h = 5;
  CHECK(cudaMemcpyToSymbol(hits, &h, sizeof h));
  count_hits<<<4, 32>>>(3);
  CHECK(cudaDeviceSynchronize());
  CHECK(cudaMemcpyFromSymbol(&h, hits, sizeof h));
  printf("hits: %d\n", h);

  // Memset, device-to-device copy.
  CHECK(cudaMemset(dx, 0, n * sizeof(float)));
  CHECK(cudaMemcpy(dy, dx, 16 * sizeof(float), cudaMemcpyDeviceToDevice));
  CHECK(cudaMemcpy(y.data(), dy, 16 * sizeof(float), cudaMemcpyDeviceToHost));
  printf("memset+dtod: y[0] = %.1f, y[15] = %.1f\n", y[0], y[15]);

  // Errors: a launch with too many threads is reported by cudaGetLastError.
  saxpy<<<1, 4096>>>(1.0f, dx, dy, n);
  cudaError_t e = cudaGetLastError();
  printf("launch with 4096 threads: %s\n", cudaGetErrorName(e));
  size_t free_b = 0, total_b = 0;
  CHECK(cudaMemGetInfo(&free_b, &total_b));
  printf("memory info: free <= total: %s\n", free_b <= total_b ? "yes" : "no");

  CHECK(cudaEventDestroy(start));
  CHECK(cudaEventDestroy(stop));
  CHECK(cudaStreamDestroy(s));
  CHECK(cudaFreeHost(pinned));
  CHECK(cudaFree(dx));
  CHECK(cudaFree(dy));
  printf("PASS\n");
  return 0;
}
