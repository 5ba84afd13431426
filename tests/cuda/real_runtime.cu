// NVIDIA's own CUDA runtime and cuBLAS over remora's libcuda, without a GPU: built by nvcc against the
// shared libcudart.so.13 and libcublas.so.13, which it finds through a DT_RPATH to the toolkit's lib64
// (as libtorch_cuda.so finds the wheel's), and run through remora against the recording dummy vendor
// library (dummy_cuda.sh). The real cudart initialises over remora's driver (cuGetProcAddress, the
// export tables and their integrity check), then allocates, copies, launches a kernel, captures a
// stream into a graph and replays it, and cuBLAS runs an SGEMM; dummy_cuda.sh checks that the calls
// reached the "driver". The dummy runs no kernel and copies nothing, so only the answers are checked.
// Prints PASS last when every answer is as expected.
#include <cublas_v2.h>
#include <cuda_runtime.h>
#include <stdio.h>
#include <string.h>

#include "expect.h"

__device__ int counter;

__global__ void add(int* p, int v) { p[threadIdx.x] += v + counter; }

int main(void) {
  int n = -1, version = 0, driver = 0;
  EXPECT(cudaGetDeviceCount(&n), cudaSuccess);
  EXPECT(n, 1);
  EXPECT(cudaRuntimeGetVersion(&version), cudaSuccess);
  EXPECT(cudaDriverGetVersion(&driver), cudaSuccess);
  EXPECT(driver >= 13000, 1);
  cudaDeviceProp prop;
  memset(&prop, 0, sizeof prop);
  EXPECT(cudaGetDeviceProperties(&prop, 0), cudaSuccess);
  EXPECT(prop.major, 9);
  EXPECT(prop.warpSize, 32);
  printf("device 0: %s, compute capability %d.%d, %d SMs\n", prop.name, prop.major, prop.minor,
         prop.multiProcessorCount);

  int* d = nullptr;
  EXPECT(cudaMalloc(&d, 64 * sizeof(int)), cudaSuccess);
  int host[64];
  for (int i = 0; i < 64; ++i) host[i] = i;
  EXPECT(cudaMemcpy(d, host, sizeof host, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT(cudaMemcpy(host, d, sizeof host, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT(cudaMemset(d, 0, sizeof host), cudaSuccess);

  // A launch: cudart loads the program's fatbin through the driver, finds the kernel, launches it.
  add<<<1, 64>>>(d, 3);
  EXPECT(cudaGetLastError(), cudaSuccess);
  EXPECT(cudaDeviceSynchronize(), cudaSuccess);
  int* counter_address = nullptr;
  EXPECT(cudaGetSymbolAddress((void**)&counter_address, counter), cudaSuccess);
  int one = 1;
  EXPECT(cudaMemcpyToSymbol(counter, &one, sizeof one), cudaSuccess);

  // Streams, events, stream capture into a graph, and the graph's replay.
  cudaStream_t s = nullptr;
  cudaEvent_t start = nullptr, stop = nullptr;
  EXPECT(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  EXPECT(cudaEventCreate(&start), cudaSuccess);
  EXPECT(cudaEventCreate(&stop), cudaSuccess);
  EXPECT(cudaEventRecord(start, s), cudaSuccess);
  EXPECT(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal), cudaSuccess);
  cudaStreamCaptureStatus capturing = cudaStreamCaptureStatusNone;
  EXPECT(cudaStreamIsCapturing(s, &capturing), cudaSuccess);
  add<<<1, 64, 0, s>>>(d, 1);
  EXPECT(cudaMemsetAsync(d, 0, 16, s), cudaSuccess);
  cudaGraph_t graph = nullptr;
  EXPECT(cudaStreamEndCapture(s, &graph), cudaSuccess);
  EXPECT(graph != nullptr, 1);
  cudaGraphExec_t exec = nullptr;
  EXPECT(cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  for (int i = 0; i < 3; ++i) EXPECT(cudaGraphLaunch(exec, s), cudaSuccess);
  EXPECT(cudaEventRecord(stop, s), cudaSuccess);
  EXPECT(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT(cudaEventSynchronize(stop), cudaSuccess);
  EXPECT(cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT(cudaGraphDestroy(graph), cudaSuccess);

  // cuBLAS: its own kernels, loaded and launched through the same driver.
  float* a = nullptr;
  EXPECT(cudaMalloc(&a, 3 * 16 * 16 * sizeof(float)), cudaSuccess);
  cublasHandle_t h = nullptr;
  EXPECT(cublasCreate(&h), CUBLAS_STATUS_SUCCESS);
  EXPECT(cublasSetStream(h, s), CUBLAS_STATUS_SUCCESS);
  const float alpha = 1, beta = 0;
  EXPECT(cublasSgemm(h, CUBLAS_OP_N, CUBLAS_OP_N, 16, 16, 16, &alpha, a, 16, a + 256, 16, &beta, a + 512, 16),
         CUBLAS_STATUS_SUCCESS);
  EXPECT(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT(cublasDestroy(h), CUBLAS_STATUS_SUCCESS);

  // Page-locked host memory is the guest's own.
  void* pinned = nullptr;
  EXPECT(cudaMallocHost(&pinned, 4096), cudaSuccess);
  memset(pinned, 1, 4096);
  EXPECT(cudaMemcpyAsync(a, pinned, 4096, cudaMemcpyHostToDevice, s), cudaSuccess);
  EXPECT(cudaStreamSynchronize(s), cudaSuccess);
  EXPECT(cudaFreeHost(pinned), cudaSuccess);

  EXPECT(cudaEventDestroy(start), cudaSuccess);
  EXPECT(cudaEventDestroy(stop), cudaSuccess);
  EXPECT(cudaStreamDestroy(s), cudaSuccess);
  EXPECT(cudaFree(a), cudaSuccess);
  EXPECT(cudaFree(d), cudaSuccess);
  EXPECT(cudaDeviceReset(), cudaSuccess);
  printf("%s\n", failures == 0 ? "PASS" : "FAILED");
  return failures == 0 ? 0 : 1;
}
