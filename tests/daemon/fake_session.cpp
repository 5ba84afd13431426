// remora-session for the fake API (fake_api.h): what the daemon under test fork+execs per guest.
#include <signal.h>

#include <atomic>
#include <cstdio>
#include <span>
#include <string>

#include "fake_api.h"
#include "server/session.h"
#include "server/session_process.h"

namespace {

using namespace remora;
using namespace remora::server;

void op_alloc(Call& call) {
  const uint64_t bytes = call.args.get_u64();
  if (!call.args.ok()) return call.malformed("alloc: truncated");
  if (!call.session.charge(ResourceKind::kDeviceMemory, bytes)) {
    call.reply.put_u64(0);
    call.reply.put<int64_t>(test::kQuotaError);
    return;
  }
  // Distinct fake "real" pointers: the handle table maps them back to ids.
  static std::atomic<uintptr_t> next_real{0x1000};
  const uint64_t id = call.session.handles().insert_new(1, reinterpret_cast<void*>(next_real += 16));
  call.session.handles().set_charge(id, ResourceKind::kDeviceMemory, bytes);
  call.reply.put_u64(id);
  call.reply.put<int64_t>(0);
}

void op_release(Call& call) {
  const uint64_t id = call.args.get_u64();
  if (!call.args.ok()) return call.malformed("release: truncated");
  call.reply.put<int64_t>(call.session.release_handle(id) ? 0 : test::kInvalidObject);
}

void op_noop(Call& call) { call.reply.put<int64_t>(0); }

const DispatchFn kDispatch[] = {nullptr, op_alloc, op_release, op_noop};
const char* const kNames[] = {"", "alloc", "release", "noop"};
const HandleTypeInfo kTypes[] = {{"", nullptr}, {"fake_mem", nullptr}};

bool load_vendor(const std::string&, std::string*) { return true; }

const ApiServer kFake = {test::kFakeApi, {4, kNames, test::kFakeSignatures}, 4, kDispatch, kNames, 1, kTypes, load_vendor};

}  // namespace

int main(int argc, char** argv) {
  ::signal(SIGPIPE, SIG_IGN);
  SessionProcessConfig cfg;
  // The daemon's command line, read as remora-session reads it (server/session_process.h).
  const std::span<const char* const> args(const_cast<const char* const*>(argv) + 1, argc > 0 ? argc - 1 : 0);
  if (Status st = parse_session_arguments(args, &cfg); !st.ok()) {
    std::fprintf(stderr, "remora_fake_session: %s\n", st.message().c_str());
    return 2;
  }
  const ApiServer* const apis[] = {&kFake};
  return run_session_process(apis, cfg);
}
