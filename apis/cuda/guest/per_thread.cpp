// The per-thread default stream, for the driver and runtime APIs alike.
//
// CUDA has two default streams: the legacy NULL stream, which synchronises with every blocking stream
// of its context, and a per-thread one. A program reaches the second through the handle
// CU_STREAM_PER_THREAD (cudaStreamPerThread: the same value), or by calling the *_ptsz/*_ptds entry
// points (cuda.h / cuda_runtime_api.h map the API names to them under --default-stream per-thread or
// CUDA_API_PER_THREAD_DEFAULT_STREAM; cuGetProcAddress hands them out for
// CU_GET_PROC_ADDRESS_PER_THREAD_DEFAULT_STREAM), in which the NULL stream means the per-thread one.
// CU_STREAM_LEGACY (cudaStreamLegacy) always names the legacy stream.
//
// On the server a guest thread's calls run on whichever session thread serves them, so the server's
// own per-thread stream would be the wrong one. The guest gives each of its threads, per context, a
// stream of its own instead: created on first use with the default flags (so it synchronises with
// the legacy NULL stream, as the per-thread stream does, and not with other threads' streams) and
// destroyed when the thread ends. The generated stubs meet the special handle values in
// Objects::to_id, which asks special_stream() below what they stand for.
//
// The *_ptds forms of synchronous copies and memsets keep the legacy form's behaviour (they wait for
// the legacy stream too): more synchronisation than natively, never less.
#include <atomic>
#include <cstring>
#include <map>
#include <string_view>

#include "guest_glue.h"

namespace remora::cuda::guest_glue {
namespace {

thread_local bool t_per_thread_default = false;
// Bumped when contexts may have gone (cuCtxDestroy, primary context reset or release): streams made
// before are forgotten, neither used nor destroyed.
std::atomic<uint64_t> g_epoch{0};

// The calling thread's per-thread streams, by context.
struct ThreadStreams {
  uint64_t epoch = 0;
  std::map<CUcontext, CUstream> streams;
  ~ThreadStreams() {
    if (epoch != g_epoch.load()) return;
    for (const auto& [ctx, stream] : streams) (void)remora_remote_cuStreamDestroy_v2(stream);
  }
};
thread_local ThreadStreams t_streams;

// The calling thread's per-thread stream in its current context; nullptr without a context or when
// the stream cannot be made.
CUstream per_thread_stream() {
  CUcontext ctx = current_context();
  if (ctx == nullptr) return nullptr;
  if (const uint64_t epoch = g_epoch.load(); t_streams.epoch != epoch) {
    t_streams.streams.clear();
    t_streams.epoch = epoch;
  }
  if (auto it = t_streams.streams.find(ctx); it != t_streams.streams.end()) return it->second;
  CUstream s = nullptr;
  if (remora_remote_cuStreamCreate(&s, CU_STREAM_DEFAULT) != CUDA_SUCCESS) return nullptr;
  t_streams.streams.emplace(ctx, s);
  return s;
}

}  // namespace

PerThreadDefaultScope::PerThreadDefaultScope() : previous_(t_per_thread_default) { t_per_thread_default = true; }
PerThreadDefaultScope::~PerThreadDefaultScope() { t_per_thread_default = previous_; }

void forget_per_thread_streams() { g_epoch.fetch_add(1); }

bool special_stream(const void* handle, const void** resolved) {
  if (handle == CU_STREAM_LEGACY) {
    *resolved = nullptr;
    return true;
  }
  if (handle == CU_STREAM_PER_THREAD || (handle == nullptr && t_per_thread_default)) {
    *resolved = per_thread_stream();
    return *resolved != nullptr;
  }
  *resolved = handle;
  return handle == nullptr;
}

}  // namespace remora::cuda::guest_glue

using remora::cuda::guest_glue::PerThreadDefaultScope;

// ---- The driver API's per-thread entry points ----------------------------------------------------------

// X(name as cuGetProcAddress is asked for it, per-thread entry point, plain function, parameters, arguments)
#define REMORA_CU_PER_THREAD_FUNCTIONS(X)                                                                     \
  X(cuMemcpy, cuMemcpy_ptds, cuMemcpy, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n))            \
  X(cuMemcpyHtoD, cuMemcpyHtoD_v2_ptds, cuMemcpyHtoD, (CUdeviceptr dst, const void* src, size_t n), (dst, src, n)) \
  X(cuMemcpyDtoH, cuMemcpyDtoH_v2_ptds, cuMemcpyDtoH, (void* dst, CUdeviceptr src, size_t n), (dst, src, n))   \
  X(cuMemcpyDtoD, cuMemcpyDtoD_v2_ptds, cuMemcpyDtoD, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n)) \
  X(cuMemcpyHtoDAsync, cuMemcpyHtoDAsync_v2_ptsz, cuMemcpyHtoDAsync,                                          \
    (CUdeviceptr dst, const void* src, size_t n, CUstream s), (dst, src, n, s))                                \
  X(cuMemcpyDtoHAsync, cuMemcpyDtoHAsync_v2_ptsz, cuMemcpyDtoHAsync,                                          \
    (void* dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s))                                      \
  X(cuMemcpyDtoDAsync, cuMemcpyDtoDAsync_v2_ptsz, cuMemcpyDtoDAsync,                                          \
    (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s))                                \
  X(cuMemsetD8, cuMemsetD8_v2_ptds, cuMemsetD8, (CUdeviceptr dst, unsigned char v, size_t n), (dst, v, n))     \
  X(cuMemsetD16, cuMemsetD16_v2_ptds, cuMemsetD16, (CUdeviceptr dst, unsigned short v, size_t n), (dst, v, n)) \
  X(cuMemsetD32, cuMemsetD32_v2_ptds, cuMemsetD32, (CUdeviceptr dst, unsigned int v, size_t n), (dst, v, n))   \
  X(cuMemsetD8Async, cuMemsetD8Async_ptsz, cuMemsetD8Async,                                                    \
    (CUdeviceptr dst, unsigned char v, size_t n, CUstream s), (dst, v, n, s))                                  \
  X(cuMemsetD16Async, cuMemsetD16Async_ptsz, cuMemsetD16Async,                                                 \
    (CUdeviceptr dst, unsigned short v, size_t n, CUstream s), (dst, v, n, s))                                 \
  X(cuMemsetD32Async, cuMemsetD32Async_ptsz, cuMemsetD32Async,                                                 \
    (CUdeviceptr dst, unsigned int v, size_t n, CUstream s), (dst, v, n, s))                                   \
  X(cuStreamWaitEvent, cuStreamWaitEvent_ptsz, cuStreamWaitEvent, (CUstream s, CUevent e, unsigned int flags), \
    (s, e, flags))                                                                                             \
  X(cuStreamQuery, cuStreamQuery_ptsz, cuStreamQuery, (CUstream s), (s))                                        \
  X(cuStreamSynchronize, cuStreamSynchronize_ptsz, cuStreamSynchronize, (CUstream s), (s))                      \
  X(cuEventRecord, cuEventRecord_ptsz, cuEventRecord, (CUevent e, CUstream s), (e, s))                          \
  X(cuLaunchKernel, cuLaunchKernel_ptsz, cuLaunchKernel,                                                       \
    (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,               \
     unsigned shared, CUstream s, void** params, void** extra),                                                \
    (f, gx, gy, gz, bx, by, bz, shared, s, params, extra))

#define REMORA_CU_DEFINE_PER_THREAD(api_name, entry, function, params, args) \
  extern "C" __attribute__((visibility("default"))) CUresult entry params {  \
    PerThreadDefaultScope scope;                                             \
    return function args;                                                    \
  }
REMORA_CU_PER_THREAD_FUNCTIONS(REMORA_CU_DEFINE_PER_THREAD)
#undef REMORA_CU_DEFINE_PER_THREAD

namespace remora::cuda::guest_glue {

void* per_thread_entry(std::string_view name) {
#define REMORA_CU_MATCH_PER_THREAD(api_name, entry, function, params, args) \
  if (name == #api_name) return reinterpret_cast<void*>(&entry);
  REMORA_CU_PER_THREAD_FUNCTIONS(REMORA_CU_MATCH_PER_THREAD)
#undef REMORA_CU_MATCH_PER_THREAD
  return nullptr;
}

}  // namespace remora::cuda::guest_glue
