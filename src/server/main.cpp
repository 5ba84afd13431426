// remora-session: one guest's API server process. The daemon (`remora serve`, src/daemon) fork+execs
// it for each admitted guest, beside its own binary (daemon/daemon.h); it is never started by hand.
//
// It links what serving a guest takes and nothing else: the server runtime, the plain transports
// and every API's generated server with its glue. No TOML, JSON or OpenSSL code is in this process,
// which runs the vendor's library for a guest that is not trusted (tests/linkage checks it).
#include <signal.h>

#include <cstdio>
#include <span>

#include "common/log.h"
#include "opencl_server.h"
#ifdef REMORA_WITH_CUDA
#include "cuda_server.h"
#endif
#include "server/session_process.h"

int main(int argc, char** argv) {
  // The APIs this binary serves. The one list: the session process picks from it by Hello.api.
  const remora::server::ApiServer* const apis[] = {
      &remora::opencl::server_api(),
#ifdef REMORA_WITH_CUDA
      &remora::cuda::server_api(),
#endif
  };
  // Writes to a guest that went away must fail with EPIPE, not end the session (the daemon ignores
  // SIGPIPE too, and that is inherited, but this process must not depend on it).
  ::signal(SIGPIPE, SIG_IGN);
  remora::server::SessionProcessConfig config;
  const std::span<const char* const> args(const_cast<const char* const*>(argv) + 1, argc > 0 ? argc - 1 : 0);
  if (remora::Status st = remora::server::parse_session_arguments(args, &config); !st.ok()) {
    std::fprintf(stderr, "remora-session: %s (it is started by the daemon, remora serve, not by hand)\n",
                 st.message().c_str());
    return 2;
  }
  return remora::server::run_session_process(apis, config);
}
