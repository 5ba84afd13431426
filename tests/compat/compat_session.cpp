// A session process serving the compat API as one of its specs declares it (compiled once per spec
// against that spec's generated server, tests/compat/CMakeLists.txt). The daemon of compat_test.cpp
// starts it as it would `remora session`.
#include <signal.h>

#include <cstdio>
#include <span>

#include "compat_server.h"  // generated, from compat_v1.spec.c or compat_v2.spec.c
#include "server/session_process.h"

const char* remora_compat_default_vendor_library() { return "libremora-compat-vendor.so"; }
void* remora_compat_server_extension_lookup(const char*) { return nullptr; }

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  remora::server::SessionProcessConfig cfg;
  // The daemon's command line, read as remora-session reads it.
  const std::span<const char* const> args(const_cast<const char* const*>(argv) + 1, argc > 0 ? argc - 1 : 0);
  if (remora::Status st = remora::server::parse_session_arguments(args, &cfg); !st.ok()) {
    std::fprintf(stderr, "compat_session: %s\n", st.message().c_str());
    return 2;
  }
  const remora::server::ApiServer* const apis[] = {&remora::compat::server_api()};
  return remora::server::run_session_process(apis, cfg);
}
