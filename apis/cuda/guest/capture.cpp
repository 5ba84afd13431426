// Stream capture's per-thread state and the capture info the driver hands out by pointer.
//
// The capture mode (cuThreadExchangeStreamCaptureMode) belongs to the calling thread. The server's
// threads take turns serving a guest's threads, so the guest keeps each thread's mode and sends it with
// every call in the thread state (library.cpp), and the server applies it on the thread that runs the
// call (server_hooks.cpp).
#include <vector>

#include "guest_glue.h"

namespace remora::cuda::guest_glue {
namespace {
thread_local CUstreamCaptureMode t_capture_mode = CU_STREAM_CAPTURE_MODE_GLOBAL;
}  // namespace

CUstreamCaptureMode thread_capture_mode() { return t_capture_mode; }

}  // namespace remora::cuda::guest_glue

extern "C" {

CUresult remora_cu_thread_exchange_stream_capture_mode(CUstreamCaptureMode* mode) {
  using remora::cuda::guest_glue::t_capture_mode;
  if (mode == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const CUstreamCaptureMode want = *mode;
  if (want != CU_STREAM_CAPTURE_MODE_GLOBAL && want != CU_STREAM_CAPTURE_MODE_THREAD_LOCAL &&
      want != CU_STREAM_CAPTURE_MODE_RELAXED)
    return CUDA_ERROR_INVALID_VALUE;
  *mode = t_capture_mode;
  t_capture_mode = want;
  return CUDA_SUCCESS;
}

// The dependencies stay in the calling thread's storage until its next call of this (the driver
// documents its own as valid until the stream's next capture operation).
CUresult remora_cu_stream_get_capture_info(CUstream stream, CUstreamCaptureStatus* status, cuuint64_t* id,
                                           CUgraph* graph, const CUgraphNode** dependencies,
                                           const CUgraphEdgeData** edges, size_t* count) {
  thread_local std::vector<CUgraphNode> t_deps;
  thread_local std::vector<CUgraphEdgeData> t_edges;
  const bool want_deps = dependencies != nullptr || edges != nullptr;
  size_t n = 0;
  size_t capacity = want_deps ? 16 : 0;
  CUresult r = CUDA_SUCCESS;
  for (int attempt = 0; attempt < 2; ++attempt) {
    t_deps.resize(capacity);
    t_edges.resize(capacity);
    r = remora_remote_remora_cuStreamGetCaptureInfo(stream, status, id, graph, want_deps ? t_deps.data() : nullptr,
                                                    want_deps ? t_edges.data() : nullptr, capacity, &n);
    if (r != CUDA_SUCCESS || !want_deps || n <= capacity) break;
    capacity = n;  // more dependencies than room: once more with room for all
  }
  if (r != CUDA_SUCCESS) return r;
  if (dependencies != nullptr) *dependencies = n > 0 ? t_deps.data() : nullptr;
  if (edges != nullptr) *edges = n > 0 ? t_edges.data() : nullptr;
  if (count != nullptr) *count = n;
  return CUDA_SUCCESS;
}

}  // extern "C"
