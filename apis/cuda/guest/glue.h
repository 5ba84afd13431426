// State shared by the hand-written parts of the CUDA guest library (apis/cuda/guest).
//
// All of it hangs off the one Runtime that library.cpp owns; nothing here is a global of its own,
// except the calling thread's context stack, which is CUDA's own per-thread state (contexts.cpp).
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>

#include "cuda_guest.h"  // generated: remote stubs, X-macro lists, handle type ids
#include "host_memory.h"

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

}  // namespace remora::cuda::guest_glue
