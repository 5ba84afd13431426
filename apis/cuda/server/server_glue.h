// State shared by the hand-written parts of the CUDA server glue (apis/cuda/server).
#pragma once

#include <cstddef>

#include "cuda.h"
#include "server/session.h"

namespace remora::cuda::server_glue {

// An error name or text `s` into the guest's `text` (`capacity` bytes, NUL-terminated, truncated),
// with the whole length, NUL included, in *length: the remora_*GetErrorText calls.
CUresult copy_error_text(const char* s, char* text, size_t capacity, size_t* length);

}  // namespace remora::cuda::server_glue
