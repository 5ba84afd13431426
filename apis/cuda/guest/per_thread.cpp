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

#include "glue.h"

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

#define REMORA_CU_PER_THREAD(entry, function, params, args) \
  extern "C" __attribute__((visibility("default"))) CUresult entry params { \
    PerThreadDefaultScope scope;                                            \
    return function args;                                                   \
  }

REMORA_CU_PER_THREAD(cuMemcpy_ptds, cuMemcpy, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n))
REMORA_CU_PER_THREAD(cuMemcpyHtoD_v2_ptds, cuMemcpyHtoD, (CUdeviceptr dst, const void* src, size_t n), (dst, src, n))
REMORA_CU_PER_THREAD(cuMemcpyDtoH_v2_ptds, cuMemcpyDtoH, (void* dst, CUdeviceptr src, size_t n), (dst, src, n))
REMORA_CU_PER_THREAD(cuMemcpyDtoD_v2_ptds, cuMemcpyDtoD, (CUdeviceptr dst, CUdeviceptr src, size_t n), (dst, src, n))
REMORA_CU_PER_THREAD(cuMemcpyHtoDAsync_v2_ptsz, cuMemcpyHtoDAsync,
                     (CUdeviceptr dst, const void* src, size_t n, CUstream s), (dst, src, n, s))
REMORA_CU_PER_THREAD(cuMemcpyDtoHAsync_v2_ptsz, cuMemcpyDtoHAsync,
                     (void* dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s))
REMORA_CU_PER_THREAD(cuMemcpyDtoDAsync_v2_ptsz, cuMemcpyDtoDAsync,
                     (CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s), (dst, src, n, s))
REMORA_CU_PER_THREAD(cuMemsetD8_v2_ptds, cuMemsetD8, (CUdeviceptr dst, unsigned char v, size_t n), (dst, v, n))
REMORA_CU_PER_THREAD(cuMemsetD16_v2_ptds, cuMemsetD16, (CUdeviceptr dst, unsigned short v, size_t n), (dst, v, n))
REMORA_CU_PER_THREAD(cuMemsetD32_v2_ptds, cuMemsetD32, (CUdeviceptr dst, unsigned int v, size_t n), (dst, v, n))
REMORA_CU_PER_THREAD(cuMemsetD8Async_ptsz, cuMemsetD8Async, (CUdeviceptr dst, unsigned char v, size_t n, CUstream s),
                     (dst, v, n, s))
REMORA_CU_PER_THREAD(cuMemsetD16Async_ptsz, cuMemsetD16Async,
                     (CUdeviceptr dst, unsigned short v, size_t n, CUstream s), (dst, v, n, s))
REMORA_CU_PER_THREAD(cuMemsetD32Async_ptsz, cuMemsetD32Async, (CUdeviceptr dst, unsigned int v, size_t n, CUstream s),
                     (dst, v, n, s))
REMORA_CU_PER_THREAD(cuStreamWaitEvent_ptsz, cuStreamWaitEvent, (CUstream s, CUevent e, unsigned int flags),
                     (s, e, flags))
REMORA_CU_PER_THREAD(cuStreamQuery_ptsz, cuStreamQuery, (CUstream s), (s))
REMORA_CU_PER_THREAD(cuStreamSynchronize_ptsz, cuStreamSynchronize, (CUstream s), (s))
REMORA_CU_PER_THREAD(cuEventRecord_ptsz, cuEventRecord, (CUevent e, CUstream s), (e, s))
REMORA_CU_PER_THREAD(cuLaunchKernel_ptsz, cuLaunchKernel,
                     (CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                      unsigned shared, CUstream s, void** params, void** extra),
                     (f, gx, gy, gz, bx, by, bz, shared, s, params, extra))

namespace remora::cuda::guest_glue {

void* per_thread_entry(std::string_view name) {
  struct Entry {
    std::string_view name;  // as cuGetProcAddress is asked for it
    void* entry;
  };
  static const Entry kEntries[] = {
      {"cuMemcpy", reinterpret_cast<void*>(&cuMemcpy_ptds)},
      {"cuMemcpyHtoD", reinterpret_cast<void*>(&cuMemcpyHtoD_v2_ptds)},
      {"cuMemcpyDtoH", reinterpret_cast<void*>(&cuMemcpyDtoH_v2_ptds)},
      {"cuMemcpyDtoD", reinterpret_cast<void*>(&cuMemcpyDtoD_v2_ptds)},
      {"cuMemcpyHtoDAsync", reinterpret_cast<void*>(&cuMemcpyHtoDAsync_v2_ptsz)},
      {"cuMemcpyDtoHAsync", reinterpret_cast<void*>(&cuMemcpyDtoHAsync_v2_ptsz)},
      {"cuMemcpyDtoDAsync", reinterpret_cast<void*>(&cuMemcpyDtoDAsync_v2_ptsz)},
      {"cuMemsetD8", reinterpret_cast<void*>(&cuMemsetD8_v2_ptds)},
      {"cuMemsetD16", reinterpret_cast<void*>(&cuMemsetD16_v2_ptds)},
      {"cuMemsetD32", reinterpret_cast<void*>(&cuMemsetD32_v2_ptds)},
      {"cuMemsetD8Async", reinterpret_cast<void*>(&cuMemsetD8Async_ptsz)},
      {"cuMemsetD16Async", reinterpret_cast<void*>(&cuMemsetD16Async_ptsz)},
      {"cuMemsetD32Async", reinterpret_cast<void*>(&cuMemsetD32Async_ptsz)},
      {"cuStreamWaitEvent", reinterpret_cast<void*>(&cuStreamWaitEvent_ptsz)},
      {"cuStreamQuery", reinterpret_cast<void*>(&cuStreamQuery_ptsz)},
      {"cuStreamSynchronize", reinterpret_cast<void*>(&cuStreamSynchronize_ptsz)},
      {"cuEventRecord", reinterpret_cast<void*>(&cuEventRecord_ptsz)},
      {"cuLaunchKernel", reinterpret_cast<void*>(&cuLaunchKernel_ptsz)},
  };
  for (const Entry& e : kEntries)
    if (e.name == name) return e.entry;
  return nullptr;
}

}  // namespace remora::cuda::guest_glue
