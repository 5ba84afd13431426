// The per-thread default stream entry points of the runtime API: a program built with
// `--default-stream per-thread` (or defining CUDA_API_PER_THREAD_DEFAULT_STREAM) calls
// cudaMemcpyAsync_ptsz for cudaMemcpyAsync, cudaMemcpy_ptds for cudaMemcpy, __cudaLaunchKernel_ptsz
// for its <<<>>> launches, and so on (cuda_runtime_api.h). Each is the plain function with the NULL
// stream meaning the calling thread's per-thread default stream (per_thread.cpp).
//
// The _ptds forms of the synchronous calls run on that stream and wait for it, which is what cudart
// does: unlike the legacy forms they do not wait for other threads' work.
#include <cuda_runtime_api.h>

#include "runtime_state.h"

using remora::cuda::guest_glue::PerThreadDefaultScope;

// Runs `call` with the NULL stream standing for the per-thread default stream, then waits for that
// stream: a _ptds synchronous call.
#define REMORA_RT_PTDS(call)                                \
  PerThreadDefaultScope scope;                              \
  if (cudaError_t e = (call); e != cudaSuccess) return e; \
  return cudaStreamSynchronize(nullptr)

REMORA_RT_EXPORT cudaError_t cudaMemcpy_ptds(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  REMORA_RT_PTDS(cudaMemcpyAsync(dst, src, count, kind, nullptr));
}
REMORA_RT_EXPORT cudaError_t cudaMemcpyToSymbol_ptds(const void* symbol, const void* src, size_t count, size_t offset,
                                                     cudaMemcpyKind kind) {
  REMORA_RT_PTDS(cudaMemcpyToSymbolAsync(symbol, src, count, offset, kind, nullptr));
}
REMORA_RT_EXPORT cudaError_t cudaMemcpyFromSymbol_ptds(void* dst, const void* symbol, size_t count, size_t offset,
                                                       cudaMemcpyKind kind) {
  REMORA_RT_PTDS(cudaMemcpyFromSymbolAsync(dst, symbol, count, offset, kind, nullptr));
}
REMORA_RT_EXPORT cudaError_t cudaMemset_ptds(void* ptr, int value, size_t count) {
  REMORA_RT_PTDS(cudaMemsetAsync(ptr, value, count, nullptr));
}

REMORA_RT_EXPORT cudaError_t cudaMemcpyAsync_ptsz(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                                                  cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaMemcpyAsync(dst, src, count, kind, stream);
}
REMORA_RT_EXPORT cudaError_t cudaMemcpyToSymbolAsync_ptsz(const void* symbol, const void* src, size_t count,
                                                          size_t offset, cudaMemcpyKind kind, cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaMemcpyToSymbolAsync(symbol, src, count, offset, kind, stream);
}
REMORA_RT_EXPORT cudaError_t cudaMemcpyFromSymbolAsync_ptsz(void* dst, const void* symbol, size_t count, size_t offset,
                                                            cudaMemcpyKind kind, cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaMemcpyFromSymbolAsync(dst, symbol, count, offset, kind, stream);
}
REMORA_RT_EXPORT cudaError_t cudaMemsetAsync_ptsz(void* ptr, int value, size_t count, cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaMemsetAsync(ptr, value, count, stream);
}
REMORA_RT_EXPORT cudaError_t cudaStreamQuery_ptsz(cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaStreamQuery(stream);
}
REMORA_RT_EXPORT cudaError_t cudaStreamSynchronize_ptsz(cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaStreamSynchronize(stream);
}
REMORA_RT_EXPORT cudaError_t cudaStreamWaitEvent_ptsz(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  PerThreadDefaultScope scope;
  return cudaStreamWaitEvent(stream, event, flags);
}
REMORA_RT_EXPORT cudaError_t cudaEventRecord_ptsz(cudaEvent_t event, cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaEventRecord(event, stream);
}
REMORA_RT_EXPORT cudaError_t cudaLaunchKernel_ptsz(const void* func, dim3 grid, dim3 block, void** args,
                                                   size_t shared, cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return cudaLaunchKernel(func, grid, block, args, shared, stream);
}
// nvcc's launch stubs (crt/host_runtime.h) in a per-thread program.
extern "C" cudaError_t __cudaLaunchKernel(cudaKernel_t kernel, dim3 grid, dim3 block, void** args, size_t shared,
                                          cudaStream_t stream);
REMORA_RT_EXPORT cudaError_t __cudaLaunchKernel_ptsz(cudaKernel_t kernel, dim3 grid, dim3 block, void** args,
                                                     size_t shared, cudaStream_t stream) {
  PerThreadDefaultScope scope;
  return __cudaLaunchKernel(kernel, grid, block, args, shared, stream);
}
