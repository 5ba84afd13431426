// The CUDA guest library's process-wide state, cuInit, the per-thread context stack and error texts
// (page-locked host memory and host copies: host_memory.cpp).
#include <cstdlib>
#include <cstring>
#include <vector>

#include "common/log.h"
#include "guest_glue.h"
#include "spec_helpers.h"

namespace {

using remora::cuda::guest_glue::GlueState;

// The process's one CUDA guest, built on first use. CUDA handles are read by nobody but remora, so
// Objects need no dispatch table.
struct Guest {
  Guest() {
    runtime.objects().set_special_handles(remora::cuda::kType_CUstream, &remora::cuda::guest_glue::special_stream);
  }
  remora::guest::Runtime runtime{remora_cuda_api, nullptr};
  GlueState glue;
  remora::cuda::guest_glue::HostMemory host_memory;  // host_memory.cpp
};

Guest& the_guest() { return remora::guest::process_guest<Guest>(); }

// The calling thread's context stack (cuCtxPushCurrent/PopCurrent; SetCurrent replaces the top).
// CUDA defines it per thread, so it is thread_local by nature; it holds guest Objects, never freed
// while the process lives (retired ones stay readable, see guest/runtime.h).
std::vector<CUcontext>& context_stack() {
  thread_local std::vector<CUcontext> stack;
  return stack;
}

bool live_context(CUcontext ctx) {
  uint64_t id = 0;
  return remora_cuda_runtime().objects().to_id(ctx, remora::cuda::kType_CUcontext, &id);
}

}  // namespace

remora::guest::Runtime& remora_cuda_runtime() { return the_guest().runtime; }

namespace remora::cuda::guest_glue {

GlueState& glue_state() { return the_guest().glue; }
HostMemory& host_memory() { return the_guest().host_memory; }

bool initialized() {
  std::lock_guard<std::mutex> lock(glue_state().mu);
  return glue_state().initialized;
}

CUcontext current_context() {
  const auto& stack = context_stack();
  return stack.empty() ? nullptr : stack.back();
}

}  // namespace remora::cuda::guest_glue

using remora::cuda::guest_glue::current_context;
using remora::cuda::guest_glue::glue_state;
using remora::cuda::guest_glue::initialized;

// REMORA_THREAD_STATE: the id of the calling thread's current context. A context this thread still
// has on its stack but that was destroyed (on another thread) goes as an id no object has, so the
// server runs the call with no context and the driver reports it.
//
// Bits 60-61 carry the thread's stream capture mode (capture.cpp; REMORA_CU_THREAD_STATE_* in
// spec_helpers.h): object ids never reach them (the server's count up from kServerIdBit, the guest's
// from 1).
uint64_t remora_cuda_guest_thread_state(remora::guest::Runtime& rt) {
  CUcontext ctx = current_context();
  uint64_t id = 0;
  if (ctx != nullptr && !rt.objects().to_id(ctx, remora::cuda::kType_CUcontext, &id)) id = REMORA_CU_THREAD_STATE_NO_CONTEXT;
  return id | (static_cast<uint64_t>(remora::cuda::guest_glue::thread_capture_mode()) << REMORA_CU_THREAD_STATE_MODE_SHIFT);
}

extern "C" {

CUresult remora_cu_init(unsigned int flags) {
  // Inside a remora server, libcuda.so.1 must be the driver: this library there means the server's
  // library path reaches a `remora run` directory, and forwarding would loop back into remora.
  if (std::getenv("REMORA_SERVER_PROCESS") != nullptr) {
    remora::log::error("remora's libcuda was loaded inside a remora server (LD_LIBRARY_PATH names a `remora run` "
                       "directory?): refusing to forward to itself");
    return CUDA_ERROR_NO_DEVICE;
  }
  const CUresult r = remora_remote_cuInit(flags);
  if (r == CUDA_SUCCESS) {
    std::lock_guard<std::mutex> lock(glue_state().mu);
    glue_state().initialized = true;
  }
  return r;
}

// ---- Contexts -----------------------------------------------------------------------------------

CUresult remora_cu_ctx_create(CUcontext* pctx, CUctxCreateParams* params, unsigned int flags, CUdevice dev) {
  if (params != nullptr) return CUDA_ERROR_NOT_SUPPORTED;  // holds pointers; see cuda.spec.c
  const CUresult r = remora_remote_remora_cuCtxCreate(pctx, flags, dev);
  // The driver makes the new context current on the calling thread.
  if (r == CUDA_SUCCESS && pctx != nullptr) context_stack().push_back(*pctx);
  return r;
}

CUresult remora_cu_ctx_create_v2(CUcontext* pctx, unsigned int flags, CUdevice dev) {
  return remora_cu_ctx_create(pctx, nullptr, flags, dev);
}

CUresult remora_cu_ctx_destroy(CUcontext ctx) {
  // The runtimes' state of the context goes first, while it can still make calls in it.
  remora::cuda::guest_glue::context_destroyed(ctx);
  const CUresult r = remora_remote_cuCtxDestroy_v2(ctx);
  if (r == CUDA_SUCCESS) {
    std::erase(context_stack(), ctx);  // no longer current anywhere on this thread
    remora::cuda::guest_glue::forget_per_thread_streams();
  }
  return r;
}

CUresult remora_cu_ctx_set_current(CUcontext ctx) {
  if (!initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  auto& stack = context_stack();
  if (ctx == nullptr) {  // as the driver: pops the top, if any
    if (!stack.empty()) stack.pop_back();
    return CUDA_SUCCESS;
  }
  if (!live_context(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  if (stack.empty())
    stack.push_back(ctx);
  else
    stack.back() = ctx;
  return CUDA_SUCCESS;
}

CUresult remora_cu_ctx_get_current(CUcontext* pctx) {
  if (!initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = current_context();
  return CUDA_SUCCESS;
}

CUresult remora_cu_ctx_push_current(CUcontext ctx) {
  if (!initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (ctx == nullptr || !live_context(ctx)) return CUDA_ERROR_INVALID_CONTEXT;
  context_stack().push_back(ctx);
  return CUDA_SUCCESS;
}

CUresult remora_cu_ctx_pop_current(CUcontext* pctx) {
  if (!initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  auto& stack = context_stack();
  if (stack.empty()) return CUDA_ERROR_INVALID_CONTEXT;
  if (pctx != nullptr) *pctx = stack.back();
  stack.pop_back();
  return CUDA_SUCCESS;
}

// ---- Modules -------------------------------------------------------------------------------------

CUresult remora_cu_module_load_data_ex(CUmodule* module, const void* image, unsigned int num_options,
                                       CUjit_option* options, void** values) {
  if (num_options > 0 && (options == nullptr || values == nullptr)) return CUDA_ERROR_INVALID_VALUE;
  std::vector<uint64_t> slots(num_options);
  for (unsigned int i = 0; i < num_options; ++i) {
    if (remora_cu_jit_option_is_pointer(options[i])) return CUDA_ERROR_NOT_SUPPORTED;  // see cuda.spec.c
    slots[i] = static_cast<uint64_t>(reinterpret_cast<uintptr_t>(values[i]));
  }
  return remora_remote_remora_cuModuleLoadDataEx(module, image, num_options, options, slots.data());
}

// ---- Error texts: the server's driver's own, cached ---------------------------------------------

static CUresult error_text(CUresult error, int which, const char** pstr) {
  if (pstr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  GlueState& g = glue_state();
  const std::pair<int, int> key{static_cast<int>(error), which};
  {
    std::lock_guard<std::mutex> lock(g.mu);
    if (auto it = g.error_texts.find(key); it != g.error_texts.end()) {
      *pstr = it->second.c_str();
      return CUDA_SUCCESS;
    }
  }
  char text[512];
  size_t length = 0;
  const CUresult r = remora_remote_remora_cuGetErrorText(error, which, text, sizeof text, &length);
  if (r != CUDA_SUCCESS) {
    *pstr = nullptr;
    return r;
  }
  text[sizeof text - 1] = '\0';
  std::lock_guard<std::mutex> lock(g.mu);
  *pstr = g.error_texts.try_emplace(key, text).first->second.c_str();
  return CUDA_SUCCESS;
}

CUresult remora_cu_get_error_name(CUresult error, const char** pstr) { return error_text(error, 0, pstr); }
CUresult remora_cu_get_error_string(CUresult error, const char** pstr) { return error_text(error, 1, pstr); }

}  // extern "C"
