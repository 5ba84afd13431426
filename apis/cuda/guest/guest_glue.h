// State shared by the hand-written parts of the CUDA guest library (apis/cuda/guest).
//
// All of it hangs off the one Runtime that library.cpp owns; nothing here is a global of its own,
// except the calling thread's context stack, which is CUDA's own per-thread state (contexts.cpp).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_set>
#include <utility>

#include "cuda_guest.h"  // generated: remote stubs, X-macro lists, handle type ids
#include "guest_host_memory.h"

namespace remora::cuda::guest_glue {

struct GlueState {
  std::mutex mu;
  bool initialized = false;                    // cuInit succeeded; guarded by mu
  // Error texts the server's driver gave, by (code, which): the strings stay put for the process's
  // lifetime, as cuGetErrorString's contract requires. Guarded by mu.
  std::map<std::pair<int, int>, std::string> error_texts;
};
GlueState& glue_state();

bool initialized();
// The calling thread's current context (top of its stack), or nullptr.
CUcontext current_context();

// context_storage.cpp: what the CUDA runtimes keep per context (export table c693336e) and the
// primary contexts they use.
// Stores `value` under (ctx, key); `dtor` (a void (*)(CUcontext, void*, void*), may be null) runs when
// the context goes (context_destroyed) with the key and value.
void context_storage_put(CUcontext ctx, void* key, void* value, void* dtor);
void context_storage_delete(CUcontext ctx, void* key);
bool context_storage_get(CUcontext ctx, void* key, void** value);
// The context is going (cuCtxDestroy, a primary context's reset): runs and drops its entries' destructors.
void context_destroyed(CUcontext ctx);
// The primary context of `dev`, retained once for the process's life on first use.
CUresult primary_context(CUdevice dev, CUcontext* out);

// capture.cpp: the calling thread's stream capture mode (cuThreadExchangeStreamCaptureMode), which
// every call carries in the thread state.
CUstreamCaptureMode thread_capture_mode();

// modules.cpp: a module from an image in the application's memory (cubin, fatbin or PTX).
CUresult load_module_image(CUmodule* module, const void* image);

// per_thread.cpp: the per-thread default stream.
// While in scope, the calling thread's NULL stream is its per-thread default stream (the *_ptsz and
// *_ptds entry points of both APIs).
class PerThreadDefaultScope {
 public:
  PerThreadDefaultScope();
  ~PerThreadDefaultScope();
  PerThreadDefaultScope(const PerThreadDefaultScope&) = delete;
  PerThreadDefaultScope& operator=(const PerThreadDefaultScope&) = delete;

 private:
  bool previous_;
};
// What a CUstream handle below the first page stands for (Objects::SpecialHandleFn): CU_STREAM_LEGACY
// is the NULL stream; CU_STREAM_PER_THREAD, and the NULL stream within a PerThreadDefaultScope, the
// calling thread's per-thread stream in its current context.
bool special_stream(const void* handle, const void** resolved);
// Contexts went away (cuCtxDestroy, a primary context reset or release): per-thread streams are
// made anew.
void forget_per_thread_streams();
// The per-thread entry point cuGetProcAddress hands out for an API name, or nullptr where remora has
// none (a function without stream semantics: its plain entry point serves).
void* per_thread_entry(std::string_view name);

}  // namespace remora::cuda::guest_glue
