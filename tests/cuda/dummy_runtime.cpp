// The CUDA runtime API and cuBLAS of remora's guest library without a GPU: what nvcc's host code does
// at start-up and at a <<<>>> launch (the hidden __cuda* entry points, called by hand here on a small
// fatbin of our own), then runtime calls, run through remora against the recording dummy vendor
// library. dummy_cuda.sh checks what reached the "driver". Prints PASS last when every answer is as
// expected.
#include <cublas_api.h>
#include <cuda_runtime_api.h>
#include <stdio.h>
#include <string.h>

#include <cstdint>

#include "expect.h"

// nvcc's host code declares these itself (crt/host_runtime.h, C++ only with nvcc).
extern "C" {
void** __cudaRegisterFatBinary(void* fat_cubin);
void __cudaRegisterFatBinaryEnd(void** handle);
void __cudaRegisterFunction(void** handle, const char* host_fun, char* device_fun, const char* device_name,
                            int thread_limit, uint3* tid, uint3* bid, dim3* bdim, dim3* gdim, int* wsize);
void __cudaRegisterVar(void** handle, char* host_var, char* device_address, const char* device_name, int ext,
                       size_t size, int constant, int global);
unsigned __cudaPushCallConfiguration(dim3 grid, dim3 block, size_t shared, struct CUstream_st* stream);
cudaError_t __cudaPopCallConfiguration(dim3* grid, dim3* block, size_t* shared, void* stream);
cudaError_t __cudaGetKernel(cudaKernel_t* kernel, const void* func);
cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 grid, dim3 block, void** args, size_t shared,
                               cudaStream_t stream);
}

// A fatbin: its header (magic, version, header size, size of what follows) and 32 bytes of payload.
struct FakeFatbin {
  uint32_t magic = 0xBA55ED50;
  uint16_t version = 1, header_size = 16;
  uint64_t size = 32;
  unsigned char payload[32];
};
static FakeFatbin fatbin;
static struct {
  int magic, version;
  const void* data;
  void* unused;
} wrapper = {0x466243b1, 1, &fatbin, nullptr};

static void kernel_stub(int) {}  // stands in for a kernel's host stub
static int hits;                 // stands in for a __device__ variable's host shadow

int main(void) {
  for (int i = 0; i < 32; ++i) fatbin.payload[i] = (unsigned char)i;
  // Start-up, as nvcc's static constructor does it: no server call happens here.
  void** handle = __cudaRegisterFatBinary(&wrapper);
  __cudaRegisterFunction(handle, (const char*)&kernel_stub, nullptr, "kern", -1, nullptr, nullptr, nullptr, nullptr,
                         nullptr);
  __cudaRegisterVar(handle, (char*)&hits, nullptr, "hits", 0, sizeof hits, 0, 0);
  __cudaRegisterFatBinaryEnd(handle);

  int count = 0, version = 0;
  EXPECT(cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT(cudaRuntimeGetVersion(&version), cudaSuccess);
  EXPECT(version, CUDART_VERSION);
  EXPECT(cudaSetDevice(0), cudaSuccess);

  void* d = nullptr;
  unsigned char host[64];
  for (int i = 0; i < 64; ++i) host[i] = (unsigned char)i;
  EXPECT(cudaMalloc(&d, 64), cudaSuccess);
  EXPECT(cudaMemcpy(d, host, 64, cudaMemcpyHostToDevice), cudaSuccess);
  EXPECT(cudaMemcpy(host, d, 16, cudaMemcpyDefault), cudaSuccess);  // device -> host, from cudaMalloc's range
  if (host[0] < 'A' || host[0] > 'Z') printf("FAIL: the copy to the host brought no data back\n"), failures++;
  EXPECT(cudaMemset(d, 0x7f, 64), cudaSuccess);

  cudaStream_t s = nullptr;
  cudaEvent_t e = nullptr;
  EXPECT(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking), cudaSuccess);
  EXPECT(cudaEventCreateWithFlags(&e, cudaEventDisableTiming), cudaSuccess);
  EXPECT(cudaEventRecord(e, s), cudaSuccess);
  EXPECT(cudaMemsetAsync(d, 1, 8, s), cudaSuccess);
  EXPECT(cudaStreamSynchronize(s), cudaSuccess);
  // The per-thread default stream: a stream of this thread's own, made on first use (Flags=0).
  EXPECT(cudaStreamSynchronize(cudaStreamPerThread), cudaSuccess);

  // A device variable: loads the fatbin (48 bytes by its header), looks "hits" up, copies to it. The
  // dummy says the variable has 1 byte: a larger copy is refused in the guest.
  int v = 5;
  EXPECT(cudaMemcpyToSymbol(&hits, &v, 1), cudaSuccess);
  EXPECT(cudaMemcpyToSymbol(&hits, &v, sizeof v), cudaErrorInvalidValue);
  EXPECT(cudaMemcpyToSymbol(&v, &v, sizeof v), cudaErrorInvalidSymbol);  // never registered

  // A <<<1, 32, 0, s>>> launch as nvcc's stub makes it. The dummy's parameter layout is not one a
  // launch can be built from, so the layout query's refusal comes back at once.
  EXPECT(__cudaPushCallConfiguration(dim3(1), dim3(32), 0, s), 0);
  dim3 grid, block;
  size_t shared = 1;
  cudaStream_t popped = nullptr;
  EXPECT(__cudaPopCallConfiguration(&grid, &block, &shared, &popped), cudaSuccess);
  if (block.x != 32 || shared != 0 || popped != s) printf("FAIL: the popped configuration\n"), failures++;
  cudaKernel_t k = nullptr;
  EXPECT(__cudaGetKernel(&k, (const void*)&kernel_stub), cudaSuccess);
  int arg = 42;
  void* args[] = {&arg};
  EXPECT(__cudaLaunchKernel(k, grid, block, args, shared, popped), cudaErrorInvalidValue);
  EXPECT(cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT(cudaGetLastError(), cudaSuccess);
  EXPECT(cudaLaunchKernel((const void*)&main, dim3(1), dim3(1), args, 0, nullptr), cudaErrorInvalidDeviceFunction);
  EXPECT(cudaPeekAtLastError(), cudaErrorInvalidDeviceFunction);
  EXPECT(cudaGetLastError(), cudaErrorInvalidDeviceFunction);

  // Error texts come from the server's cudart (the toolkit's, if this machine has one): never NULL.
  const char* name = cudaGetErrorName(cudaErrorInvalidValue);
  if (name == nullptr || (strcmp(name, "cudaErrorInvalidValue") != 0 && strncmp(name, "remora:", 7) != 0))
    printf("FAIL: cudaGetErrorName: %s\n", name ? name : "NULL"), failures++;

  void* pinned = nullptr;
  EXPECT(cudaMallocHost(&pinned, 4096), cudaSuccess);
  EXPECT(cudaFreeHost(pinned), cudaSuccess);
  EXPECT(cudaMallocManaged(&pinned, 4096, cudaMemAttachGlobal), cudaErrorNotSupported);
  // Functions the spec leaves out are exported all the same and refused (logged once each).
  cudaGraph_t graph = nullptr;
  EXPECT(cudaGraphCreate(&graph, 0), cudaErrorNotSupported);
  EXPECT(cudaGraphCreate(&graph, 0), cudaErrorNotSupported);

  // cuBLAS: the server has none here (REMORA_CUBLAS_LIBRARY names no file): refused, not crashed.
  cublasHandle_t h = nullptr;
  EXPECT(cublasCreate_v2(&h), CUBLAS_STATUS_NOT_SUPPORTED);
  EXPECT(cublasSetPointerMode_v2((cublasHandle_t)&h, CUBLAS_POINTER_MODE_DEVICE), CUBLAS_STATUS_NOT_SUPPORTED);
  const float one = 1;
  EXPECT(cublasSgemv_v2(h, CUBLAS_OP_N, 1, 1, &one, nullptr, 1, nullptr, 1, &one, nullptr, 1),
         CUBLAS_STATUS_NOT_SUPPORTED);  // not in the spec: refused in the guest

  EXPECT(cudaEventDestroy(e), cudaSuccess);
  EXPECT(cudaStreamDestroy(s), cudaSuccess);
  EXPECT(cudaFree(d), cudaSuccess);
  EXPECT(cudaDeviceSynchronize(), cudaSuccess);
  printf(failures == 0 ? "PASS\n" : "FAIL: %d\n", failures);
  return failures == 0 ? 0 : 1;
}
