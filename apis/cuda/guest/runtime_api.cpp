// The CUDA runtime API over the remoted driver API: devices, errors, memory, streams, events
// (cuda.spec.c, "The CUDA runtime API"). Kernels, launches and symbols are in runtime_modules.cpp.
//
// Every hook returns through rt_result, which keeps the thread's last error as cudart does. cudaError_t
// and CUresult share their numbers, so a driver result is the runtime's result.
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "runtime_state.h"

namespace remora::cuda::guest_glue {
namespace {

// cudart's per-thread state: the device cudaSetDevice chose and the last error.
int& thread_device() {
  thread_local int device = 0;
  return device;
}
cudaError_t& last_error() {
  thread_local cudaError_t error = cudaSuccess;
  return error;
}

cudaError_t init_driver() {
  if (initialized()) return cudaSuccess;
  return static_cast<cudaError_t>(remora_cu_init(0));
}

// Makes the primary context of `device` current on the calling thread, retaining it once per process.
cudaError_t make_primary_current(int device) {
  RuntimeApiState& st = runtime_api_state();
  CUcontext ctx = nullptr;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = st.primary.find(device); it != st.primary.end()) ctx = it->second;
  }
  if (ctx == nullptr) {
    CUdevice dev = 0;
    if (CUresult r = remora_remote_cuDeviceGet(&dev, device); r != CUDA_SUCCESS) return static_cast<cudaError_t>(r);
    if (CUresult r = remora_remote_cuDevicePrimaryCtxRetain(&ctx, dev); r != CUDA_SUCCESS)
      return static_cast<cudaError_t>(r);
    // Two threads may both retain it: the primary context is one per device, a second reference is
    // harmless (the server's exit releases what is left).
    std::lock_guard<std::mutex> lock(st.mu);
    ctx = st.primary.try_emplace(device, ctx).first->second;
  }
  return static_cast<cudaError_t>(remora_cu_ctx_set_current(ctx));
}

// Whether `p` lies in an allocation cudaMalloc made. Device addresses are the server's: a guest host
// pointer that happens to have the same value as one is taken for it (cudaMemcpyDefault only).
bool is_device_pointer(const void* p) {
  RuntimeApiState& st = runtime_api_state();
  const auto a = reinterpret_cast<uintptr_t>(p);
  std::lock_guard<std::mutex> lock(st.mu);
  auto it = st.device_allocations.upper_bound(a);
  if (it == st.device_allocations.begin()) return false;
  --it;
  return a - it->first < it->second;
}

CUdeviceptr dptr(const void* p) { return static_cast<CUdeviceptr>(reinterpret_cast<uintptr_t>(p)); }

// The driver copy for a runtime one, through the same guest paths as the driver API's copies (shared
// regions for page-locked memory and large pageable copies over shm). `stream` is used when async.
cudaError_t copy(void* dst, const void* src, size_t count, cudaMemcpyKind kind, bool async, CUstream stream) {
  if (count == 0) return cudaSuccess;
  if (kind == cudaMemcpyDefault) {
    const bool dst_dev = is_device_pointer(dst), src_dev = is_device_pointer(src);
    kind = src_dev ? (dst_dev ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost)
                   : (dst_dev ? cudaMemcpyHostToDevice : cudaMemcpyHostToHost);
  }
  if (dst == nullptr || src == nullptr) return cudaErrorInvalidValue;
  CUresult r = CUDA_SUCCESS;
  switch (kind) {
    case cudaMemcpyHostToHost:
      if (async) r = remora_remote_cuStreamSynchronize(stream);  // ordered after the stream's work
      if (r == CUDA_SUCCESS) std::memmove(dst, src, count);
      break;
    case cudaMemcpyHostToDevice:
      r = async ? remora_cu_memcpy_htod_async(dptr(dst), src, count, stream)
                : remora_cu_memcpy_htod(dptr(dst), src, count);
      break;
    case cudaMemcpyDeviceToHost:
      r = async ? remora_cu_memcpy_dtoh_async(dst, dptr(src), count, stream)
                : remora_cu_memcpy_dtoh(dst, dptr(src), count);
      break;
    case cudaMemcpyDeviceToDevice:
      r = async ? remora_remote_cuMemcpyDtoDAsync_v2(dptr(dst), dptr(src), count, stream)
                : remora_remote_cuMemcpyDtoD_v2(dptr(dst), dptr(src), count);
      break;
    default: return cudaErrorInvalidMemcpyDirection;
  }
  return static_cast<cudaError_t>(r);
}

// The text of a runtime error from the server's cudart, cached for the process's lifetime.
const char* error_text(cudaError_t error, int which) {
  RuntimeApiState& st = runtime_api_state();
  const std::pair<int, int> key{static_cast<int>(error), which};
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = st.error_texts.find(key); it != st.error_texts.end()) return it->second.c_str();
  }
  char text[512];
  size_t length = 0;
  const CUresult r = remora_remote_remora_cudaGetErrorText(static_cast<int>(error), which, text, sizeof text, &length);
  if (r != CUDA_SUCCESS) {
    // Never NULL (programs print it); not cached, the server may answer later.
    remora::log::warn("cuda runtime: no text for error {} from the server (result {})", static_cast<int>(error),
                      static_cast<int>(r));
    return which == 0 ? "remora: error name unavailable (the server has no CUDA runtime library)"
                      : "remora: error string unavailable (the server has no CUDA runtime library)";
  }
  text[sizeof text - 1] = '\0';
  std::lock_guard<std::mutex> lock(st.mu);
  return st.error_texts.try_emplace(key, text).first->second.c_str();
}

}  // namespace

cudaError_t rt_result(cudaError_t e) {
  if (e != cudaSuccess) last_error() = e;
  return e;
}

cudaError_t rt_ensure_context() {
  if (cudaError_t e = init_driver(); e != cudaSuccess) return e;
  if (current_context() != nullptr) return cudaSuccess;
  return make_primary_current(thread_device());
}

}  // namespace remora::cuda::guest_glue

using namespace remora::cuda::guest_glue;

// Each hook below: ensure what it needs, call the driver, keep the thread's last error.
#define REMORA_RT_ENSURE_CONTEXT()                                     \
  if (cudaError_t ensure_e = rt_ensure_context(); ensure_e != cudaSuccess) \
  return rt_result(ensure_e)

extern "C" {

// ---- Devices -------------------------------------------------------------------------------------

cudaError_t remora_rt_get_device_count(int* count) {
  if (count == nullptr) return rt_result(cudaErrorInvalidValue);
  *count = 0;
  if (cudaError_t e = init_driver(); e != cudaSuccess) return rt_result(e);
  const cudaError_t e = static_cast<cudaError_t>(remora_remote_cuDeviceGetCount(count));
  if (e == cudaSuccess && *count == 0) return rt_result(cudaErrorNoDevice);
  return rt_result(e);
}

cudaError_t remora_rt_get_device(int* device) {
  if (device == nullptr) return rt_result(cudaErrorInvalidValue);
  if (initialized() && current_context() != nullptr) {
    CUdevice dev = 0;
    if (CUresult r = remora_remote_cuCtxGetDevice(&dev); r != CUDA_SUCCESS) return rt_result(r);
    *device = dev;
    return cudaSuccess;
  }
  *device = thread_device();
  return cudaSuccess;
}

cudaError_t remora_rt_set_device(int device) {
  if (cudaError_t e = init_driver(); e != cudaSuccess) return rt_result(e);
  const cudaError_t e = make_primary_current(device);
  if (e == cudaSuccess) thread_device() = device;
  return rt_result(e == cudaErrorInvalidValue ? cudaErrorInvalidDevice : e);
}

cudaError_t remora_rt_get_device_properties(cudaDeviceProp* prop, int device) {
  if (prop == nullptr) return rt_result(cudaErrorInvalidValue);
  RuntimeApiState& st = runtime_api_state();
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = st.properties.find(device); it != st.properties.end()) {
      *prop = it->second;
      return cudaSuccess;
    }
  }
  cudaDeviceProp fresh;
  std::memset(&fresh, 0, sizeof fresh);
  const CUresult r = remora_remote_remora_cudaGetDeviceProperties(device, &fresh);
  if (r != CUDA_SUCCESS) return rt_result(r);
  *prop = fresh;
  std::lock_guard<std::mutex> lock(st.mu);
  st.properties.try_emplace(device, fresh);
  return cudaSuccess;
}

// cudaDeviceAttr values are CUdevice_attribute's.
cudaError_t remora_rt_device_get_attribute(int* value, cudaDeviceAttr attr, int device) {
  if (cudaError_t e = init_driver(); e != cudaSuccess) return rt_result(e);
  return rt_result(remora_remote_cuDeviceGetAttribute(value, static_cast<CUdevice_attribute>(attr), device));
}

cudaError_t remora_rt_device_synchronize(void) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuCtxSynchronize());
}

// Destroys the primary context of the thread's device; the next call makes a fresh one. Modules
// loaded in it are forgotten (runtime_modules.cpp loads them again).
cudaError_t remora_rt_device_reset(void) {
  if (cudaError_t e = init_driver(); e != cudaSuccess) return rt_result(e);
  const int device = thread_device();
  RuntimeApiState& st = runtime_api_state();
  CUcontext ctx = nullptr;
  {
    std::lock_guard<std::mutex> lock(st.mu);
    if (auto it = st.primary.find(device); it != st.primary.end()) {
      ctx = it->second;
      st.primary.erase(it);
      for (auto& m : st.modules) m->loaded.erase(ctx);
      for (auto& k : st.kernel_records) k->functions.erase(ctx);
      for (auto& v : st.var_records) v->addresses.erase(ctx);
    }
  }
  if (ctx != nullptr && current_context() == ctx) (void)remora_cu_ctx_set_current(nullptr);
  forget_per_thread_streams();  // every thread's per-thread streams go with the context
  return rt_result(remora_remote_cuDevicePrimaryCtxReset_v2(device));
}

cudaError_t remora_rt_device_get_stream_priority_range(int* least, int* greatest) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuCtxGetStreamPriorityRange(least, greatest));
}

// cudaLimit values are CUlimit's.
cudaError_t remora_rt_device_set_limit(cudaLimit limit, size_t value) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuCtxSetLimit(static_cast<CUlimit>(limit), value));
}

cudaError_t remora_rt_device_get_limit(size_t* value, cudaLimit limit) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuCtxGetLimit(value, static_cast<CUlimit>(limit)));
}

cudaError_t remora_rt_driver_get_version(int* version) {
  if (version == nullptr) return rt_result(cudaErrorInvalidValue);
  return rt_result(remora_remote_cuDriverGetVersion(version));
}

// The runtime API remora implements is the one of the headers it was built with.
cudaError_t remora_rt_runtime_get_version(int* version) {
  if (version == nullptr) return rt_result(cudaErrorInvalidValue);
  *version = CUDART_VERSION;
  return cudaSuccess;
}

// ---- Errors --------------------------------------------------------------------------------------

cudaError_t remora_rt_get_last_error(void) {
  const cudaError_t e = last_error();
  last_error() = cudaSuccess;
  return e;
}

cudaError_t remora_rt_peek_at_last_error(void) { return last_error(); }

const char* remora_rt_get_error_name(cudaError_t error) { return error_text(error, 0); }
const char* remora_rt_get_error_string(cudaError_t error) { return error_text(error, 1); }

// ---- Memory --------------------------------------------------------------------------------------

cudaError_t remora_rt_malloc(void** ptr, size_t size) {
  if (ptr == nullptr) return rt_result(cudaErrorInvalidValue);
  REMORA_RT_ENSURE_CONTEXT();
  if (size == 0) {  // as cudart: success, and a NULL pointer
    *ptr = nullptr;
    return cudaSuccess;
  }
  CUdeviceptr d = 0;
  if (CUresult r = remora_remote_cuMemAlloc_v2(&d, size); r != CUDA_SUCCESS) return rt_result(r);
  *ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(d));
  RuntimeApiState& st = runtime_api_state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.device_allocations[static_cast<uintptr_t>(d)] = size;
  return cudaSuccess;
}

// cudaFree(NULL) is the idiom that initialises the runtime: it makes the context.
cudaError_t remora_rt_free(void* ptr) {
  REMORA_RT_ENSURE_CONTEXT();
  if (ptr == nullptr) return cudaSuccess;
  if (CUresult r = remora_remote_cuMemFree_v2(dptr(ptr)); r != CUDA_SUCCESS) return rt_result(r);
  RuntimeApiState& st = runtime_api_state();
  std::lock_guard<std::mutex> lock(st.mu);
  st.device_allocations.erase(reinterpret_cast<uintptr_t>(ptr));
  return cudaSuccess;
}

// cudaHostAlloc flags are cuMemHostAlloc's; mapped memory is refused there (guest memory).
cudaError_t remora_rt_host_alloc(void** ptr, size_t size, unsigned int flags) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_cu_mem_host_alloc(ptr, size, flags));
}

cudaError_t remora_rt_malloc_host(void** ptr, size_t size) { return remora_rt_host_alloc(ptr, size, 0); }

cudaError_t remora_rt_free_host(void* ptr) {
  if (ptr == nullptr) return cudaSuccess;
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_cu_mem_free_host(ptr));
}

cudaError_t remora_rt_mem_get_info(size_t* free, size_t* total) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuMemGetInfo_v2(free, total));
}

cudaError_t remora_rt_memcpy(void* dst, const void* src, size_t count, cudaMemcpyKind kind) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(copy(dst, src, count, kind, false, nullptr));
}

cudaError_t remora_rt_memcpy_async(void* dst, const void* src, size_t count, cudaMemcpyKind kind,
                                   cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(copy(dst, src, count, kind, true, stream));
}

cudaError_t remora_rt_memset(void* ptr, int value, size_t count) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuMemsetD8_v2(dptr(ptr), static_cast<unsigned char>(value), count));
}

cudaError_t remora_rt_memset_async(void* ptr, int value, size_t count, cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuMemsetD8Async(dptr(ptr), static_cast<unsigned char>(value), count, stream));
}

static cudaError_t not_supported(const char* what, const char* why) {
  remora::log::error("{} is not supported by remora: {}", what, why);
  return rt_result(cudaErrorNotSupported);
}
static constexpr const char* kRemoteHostMemory = "host memory is the application's, on another machine than the device";
cudaError_t remora_rt_malloc_managed(void**, size_t, unsigned int) {
  return not_supported("cudaMallocManaged", "managed memory needs the device to page the application's memory");
}
cudaError_t remora_rt_host_register(void*, size_t, unsigned int) {
  return not_supported("cudaHostRegister", kRemoteHostMemory);
}
cudaError_t remora_rt_host_get_device_pointer(void**, void*, unsigned int) {
  return not_supported("cudaHostGetDevicePointer", kRemoteHostMemory);
}

// ---- Symbols: copies to and from a device variable's address ------------------------------------

static cudaError_t symbol_range(const void* symbol, size_t count, size_t offset, void** where) {
  CUdeviceptr address = 0;
  size_t size = 0;
  if (cudaError_t e = rt_symbol(symbol, &address, &size); e != cudaSuccess) return e;
  if (offset > size || count > size - offset) return cudaErrorInvalidValue;
  *where = reinterpret_cast<void*>(static_cast<uintptr_t>(address + offset));
  return cudaSuccess;
}

static cudaError_t to_symbol(const void* symbol, const void* src, size_t count, size_t offset, cudaMemcpyKind kind,
                             bool async, cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  if (kind == cudaMemcpyDefault) kind = is_device_pointer(src) ? cudaMemcpyDeviceToDevice : cudaMemcpyHostToDevice;
  if (kind != cudaMemcpyHostToDevice && kind != cudaMemcpyDeviceToDevice)
    return rt_result(cudaErrorInvalidMemcpyDirection);
  void* where = nullptr;
  if (cudaError_t e = symbol_range(symbol, count, offset, &where); e != cudaSuccess) return rt_result(e);
  return rt_result(copy(where, src, count, kind, async, stream));
}

static cudaError_t from_symbol(void* dst, const void* symbol, size_t count, size_t offset, cudaMemcpyKind kind,
                               bool async, cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  if (kind == cudaMemcpyDefault) kind = is_device_pointer(dst) ? cudaMemcpyDeviceToDevice : cudaMemcpyDeviceToHost;
  if (kind != cudaMemcpyDeviceToHost && kind != cudaMemcpyDeviceToDevice)
    return rt_result(cudaErrorInvalidMemcpyDirection);
  void* where = nullptr;
  if (cudaError_t e = symbol_range(symbol, count, offset, &where); e != cudaSuccess) return rt_result(e);
  return rt_result(copy(dst, where, count, kind, async, stream));
}

cudaError_t remora_rt_memcpy_to_symbol(const void* symbol, const void* src, size_t count, size_t offset,
                                       cudaMemcpyKind kind) {
  return to_symbol(symbol, src, count, offset, kind, false, nullptr);
}
cudaError_t remora_rt_memcpy_from_symbol(void* dst, const void* symbol, size_t count, size_t offset,
                                         cudaMemcpyKind kind) {
  return from_symbol(dst, symbol, count, offset, kind, false, nullptr);
}
cudaError_t remora_rt_memcpy_to_symbol_async(const void* symbol, const void* src, size_t count, size_t offset,
                                             cudaMemcpyKind kind, cudaStream_t stream) {
  return to_symbol(symbol, src, count, offset, kind, true, stream);
}
cudaError_t remora_rt_memcpy_from_symbol_async(void* dst, const void* symbol, size_t count, size_t offset,
                                               cudaMemcpyKind kind, cudaStream_t stream) {
  return from_symbol(dst, symbol, count, offset, kind, true, stream);
}

cudaError_t remora_rt_get_symbol_address(void** ptr, const void* symbol) {
  if (ptr == nullptr) return rt_result(cudaErrorInvalidValue);
  REMORA_RT_ENSURE_CONTEXT();
  CUdeviceptr address = 0;
  size_t size = 0;
  if (cudaError_t e = rt_symbol(symbol, &address, &size); e != cudaSuccess) return rt_result(e);
  *ptr = reinterpret_cast<void*>(static_cast<uintptr_t>(address));
  return cudaSuccess;
}

cudaError_t remora_rt_get_symbol_size(size_t* size, const void* symbol) {
  if (size == nullptr) return rt_result(cudaErrorInvalidValue);
  REMORA_RT_ENSURE_CONTEXT();
  CUdeviceptr address = 0;
  return rt_result(rt_symbol(symbol, &address, size));
}

// ---- Streams -------------------------------------------------------------------------------------

// cudaStream flags are CU_STREAM_* flags.
cudaError_t remora_rt_stream_create_with_flags(cudaStream_t* stream, unsigned int flags) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuStreamCreate(stream, flags));
}
cudaError_t remora_rt_stream_create(cudaStream_t* stream) { return remora_rt_stream_create_with_flags(stream, 0); }

cudaError_t remora_rt_stream_create_with_priority(cudaStream_t* stream, unsigned int flags, int priority) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuStreamCreateWithPriority(stream, flags, priority));
}

cudaError_t remora_rt_stream_destroy(cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  // The NULL stream and the per-thread default stream are not the program's to destroy.
  if (stream == nullptr || stream == cudaStreamLegacy || stream == cudaStreamPerThread)
    return rt_result(cudaErrorInvalidResourceHandle);
  return rt_result(remora_remote_cuStreamDestroy_v2(stream));
}

cudaError_t remora_rt_stream_synchronize(cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuStreamSynchronize(stream));
}

// cudaErrorNotReady is an answer, not an error: cudart does not record it either.
cudaError_t remora_rt_stream_query(cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  const cudaError_t e = static_cast<cudaError_t>(remora_remote_cuStreamQuery(stream));
  return e == cudaErrorNotReady ? e : rt_result(e);
}

cudaError_t remora_rt_stream_wait_event(cudaStream_t stream, cudaEvent_t event, unsigned int flags) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuStreamWaitEvent(stream, event, flags));
}

// ---- Events (cudaEvent flags are CU_EVENT_* flags) -----------------------------------------------

cudaError_t remora_rt_event_create_with_flags(cudaEvent_t* event, unsigned int flags) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuEventCreate(event, flags));
}
cudaError_t remora_rt_event_create(cudaEvent_t* event) { return remora_rt_event_create_with_flags(event, 0); }

cudaError_t remora_rt_event_record(cudaEvent_t event, cudaStream_t stream) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuEventRecord(event, stream));
}

cudaError_t remora_rt_event_synchronize(cudaEvent_t event) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuEventSynchronize(event));
}

cudaError_t remora_rt_event_query(cudaEvent_t event) {
  REMORA_RT_ENSURE_CONTEXT();
  const cudaError_t e = static_cast<cudaError_t>(remora_remote_cuEventQuery(event));
  return e == cudaErrorNotReady ? e : rt_result(e);
}

cudaError_t remora_rt_event_elapsed_time(float* ms, cudaEvent_t start, cudaEvent_t end) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuEventElapsedTime_v2(ms, start, end));
}

cudaError_t remora_rt_event_destroy(cudaEvent_t event) {
  REMORA_RT_ENSURE_CONTEXT();
  return rt_result(remora_remote_cuEventDestroy_v2(event));
}

}  // extern "C"

// Exported so that a server can tell this library from a real cudart (server/runtime_library.cpp).
extern "C" __attribute__((visibility("default"))) const int remora_cuda_guest_marker = 1;
