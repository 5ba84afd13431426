// Server-side glue of the CUDA stack: the default vendor library, the thread-state hook that makes the
// guest thread's context current, and the REMORA_SERVER hooks named in cuda.spec.c.
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "cuda_server.h"  // generated
#include "spec_helpers.h"
#include "server_glue.h"

using remora::cuda::vendor;

const char* remora_cuda_default_vendor_library() { return "libcuda.so.1"; }

// The driver API resolves everything through dlsym: no extension lookup.
void* remora_cuda_server_extension_lookup(const char*) { return nullptr; }

void* remora::cuda::server_glue::open_library(const char* what, const char* env, const char* fallback) {
  const char* name = std::getenv(env);
  if (name == nullptr || *name == '\0') name = fallback;
  void* lib = ::dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) {
    remora::log::error("{}: cannot load {} on the server ({}); set {}", what, name, ::dlerror(), env);
    return nullptr;
  }
  // remora's own guest library exports the same names: it must never be the one loaded here.
  if (::dlsym(lib, "remora_cuda_guest_marker") != nullptr) {
    remora::log::error("{}: {} on the server is remora's guest library, not the real one", what, name);
    return nullptr;
  }
  return lib;
}

CUresult remora::cuda::server_glue::copy_error_text(const char* s, char* text, size_t capacity, size_t* length) {
  if (s == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const size_t n = std::strlen(s) + 1;
  *length = n;
  if (text != nullptr && capacity > 0) {
    const size_t k = n < capacity ? n : capacity;
    std::memcpy(text, s, k);
    text[k - 1] = '\0';
  }
  return CUDA_SUCCESS;
}

// REMORA_THREAD_STATE: every call runs in the context that is current on the guest's calling thread.
// The server's threads take turns serving a guest (leader/follower), so the context is set per call;
// asking the driver first keeps the common case (already current) to one thread-local read.
void remora_cuda_server_thread_state(remora::server::Call& c, uint64_t state) {
  if (vendor().cuCtxGetCurrent == nullptr || vendor().cuCtxSetCurrent == nullptr) return;
  // An unknown id (a context destroyed meanwhile) runs the call with none: the driver reports it.
  CUcontext want = state == 0 ? nullptr : static_cast<CUcontext>(c.session.handles().lookup(state, remora::cuda::kType_CUcontext));
  CUcontext have = nullptr;
  if (vendor().cuCtxGetCurrent(&have) != CUDA_SUCCESS) return;  // before cuInit: nothing to set
  if (have != want) (void)vendor().cuCtxSetCurrent(want);
}

// REMORA_SERVER hooks (declared by the generated cuda_server.h). The vendor functions each calls are
// its REMORA_REQUIRES in cuda.spec.c: the dispatch answers CUDA_ERROR_NOT_SUPPORTED before the hook
// when the loaded library lacks one (the dummy vendor library exports only what the spec forwards).
CUresult remora_cu_server_ctx_create(remora::server::Call&, CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return vendor().cuCtxCreate_v4(pctx, nullptr, flags, dev);
}

CUresult remora_cu_server_module_load_data_ex(remora::server::Call&, CUmodule* module, const void* image, unsigned int num_options,
                                              const CUjit_option* options, const uint64_t* values) {
  std::vector<CUjit_option> opts(options, options + num_options);
  std::vector<void*> slots(num_options);
  for (unsigned int i = 0; i < num_options; ++i) {
    // A guest-chosen pointer must never reach the driver as a buffer to write.
    if (remora_cu_jit_option_is_pointer(options[i])) return CUDA_ERROR_NOT_SUPPORTED;
    slots[i] = reinterpret_cast<void*>(static_cast<uintptr_t>(values[i]));
  }
  return vendor().cuModuleLoadDataEx(module, image, num_options, opts.data(), slots.data());
}

CUresult remora_cu_server_memcpy_dtoh_async(remora::server::Call&, void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  const CUresult r = vendor().cuMemcpyDtoHAsync_v2(dst, src, bytes, stream);
  if (r != CUDA_SUCCESS) return r;
  // `dst` is the reply's scratch: the bytes must be there before the reply goes.
  return vendor().cuStreamSynchronize(stream);
}

CUresult remora_cu_server_get_error_text(remora::server::Call&, CUresult error, int which, char* text, size_t capacity, size_t* length) {
  const char* s = nullptr;
  const CUresult r = which == 0 ? vendor().cuGetErrorName(error, &s) : vendor().cuGetErrorString(error, &s);
  if (r != CUDA_SUCCESS) return r;
  return remora::cuda::server_glue::copy_error_text(s, text, capacity, length);
}

CUresult remora_cu_server_func_get_param_layout(remora::server::Call&, CUfunction f, unsigned int capacity, uint64_t* layout,
                                                unsigned int* count) {
  size_t end = 0;
  unsigned int n = 0;
  for (;; ++n) {
    size_t offset = 0, size = 0;
    const CUresult r = vendor().cuFuncGetParamInfo(f, n, &offset, &size);
    if (r == CUDA_ERROR_INVALID_VALUE) break;  // past the last parameter
    if (r != CUDA_SUCCESS) return r;
    // The layout must be a parameter buffer the launch can be built from (spec_helpers.h).
    if (offset < end || size > REMORA_CU_MAX_PARAM_BYTES || offset + size > REMORA_CU_MAX_PARAM_BYTES)
      return CUDA_ERROR_INVALID_VALUE;
    end = offset + size;
    if (layout != nullptr && n < capacity) layout[n] = (uint64_t{offset} << 32) | size;
  }
  if (count != nullptr) *count = n;
  return CUDA_SUCCESS;
}

CUresult remora_cu_server_launch_packed(remora::server::Call&, CUfunction f, unsigned int gx, unsigned int gy, unsigned int gz,
                                        unsigned int bx, unsigned int by, unsigned int bz, unsigned int shared,
                                        CUstream stream, const uint8_t* params, size_t params_size) {
  if (params_size > REMORA_CU_MAX_PARAM_BYTES) return CUDA_ERROR_INVALID_VALUE;
  // The wire gives no alignment: the driver reads the buffer as the kernel's parameter block. On the
  // stack (32 KiB at most): a heap block per launch was measurable at 250 000 launches/s.
  alignas(16) uint8_t buffer[REMORA_CU_MAX_PARAM_BYTES];
  if (params_size > 0) std::memcpy(buffer, params, params_size);
  size_t size = params_size;
  void* extra[] = {CU_LAUNCH_PARAM_BUFFER_POINTER, buffer, CU_LAUNCH_PARAM_BUFFER_SIZE, &size,
                   CU_LAUNCH_PARAM_END};
  return vendor().cuLaunchKernel(f, gx, gy, gz, bx, by, bz, shared, stream, nullptr, extra);
}

