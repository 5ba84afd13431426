// A session process serving the compat API as one of its specs declares it (compiled once per spec
// against that spec's generated server, tests/compat/CMakeLists.txt). The daemon of compat_test.cpp
// starts it as it would `remora session`.
#include <signal.h>

#include <cstdlib>
#include <cstring>

#include "compat_server.h"  // generated, from compat_v1.spec.c or compat_v2.spec.c
#include "server/session_process.h"

const char* remora_compat_default_vendor_library() { return "libremora-compat-vendor.so"; }
void* remora_compat_server_extension_lookup(const char*) { return nullptr; }

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  remora::server::SessionProcessConfig cfg;
  for (int i = 2; i + 1 < argc; i += 2) {
    const int v = std::atoi(argv[i + 1]);
    if (std::strcmp(argv[i], "--conn-fd") == 0) cfg.conn_fd = v;
    else if (std::strcmp(argv[i], "--control-fd") == 0) cfg.control_fd = v;
    else if (std::strcmp(argv[i], "--usage-fd") == 0) cfg.usage_fd = v;
    else if (std::strcmp(argv[i], "--usage-slot") == 0) cfg.usage_slot = v;
    else if (std::strcmp(argv[i], "--scheduler-fd") == 0) cfg.scheduler_fd = v;
  }
  const remora::server::ApiServer* const apis[] = {&remora::compat::server_api()};
  return remora::server::run_session_process(apis, cfg);
}
