// State shared by the hand-written parts of the CUDA server glue (apis/cuda/server).
#pragma once

#include "server/session.h"

namespace remora::cuda::server_glue {

// The session whose call the calling thread is serving (set by the REMORA_THREAD_STATE hook at the
// start of every dispatch), for REMORA_SERVER hooks, whose signature is the API function's.
remora::server::Session* current_session();

}  // namespace remora::cuda::server_glue
