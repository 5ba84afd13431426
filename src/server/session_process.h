// One guest's API server process (remora-session, server/main.cpp; started by the daemon, never by
// hand).
//
// The daemon accepts a connection, reads its Hello, and fork+execs `remora-session --conn-fd N
// --control-fd M ...` (session_arguments below): exec gives each guest a fresh image with no
// inherited threads, locks or vendor state, and a crash here harms that guest only. The session
// executable links the API servers, the server runtime and the plain transports only: no config
// parser, no JSON and no TLS (the daemon terminates TLS) in a process that runs the vendor's code
// for a guest. The daemon then sends, over the control socket:
//   1. a ControlRecord (framed like a handshake message: u64 length, then the record);
//   2. for a stream session only, later: the events connection's descriptor (SCM_RIGHTS, with the
//      session id as payload), once the guest has dialled it with the session's key.
//
// The process answers the guest's Hello with a Refuse (reason) or a Welcome, sets up the transport
// the Hello asked for, and runs a server::Session until the guest leaves. Over a stream transport the
// events connection is welcomed too (a Welcome with the same session id), so the guest learns that
// the events channel is in place before it issues calls that may need it.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/status.h"
#include "server/handshake.h"
#include "server/session.h"

namespace remora::server {

struct SessionProcessConfig {
  int conn_fd = -1;     // the guest's connection (blocking); owned from here on
  int control_fd = -1;  // the daemon's control socket; owned from here on
  // The tenant's shared usage block (server/tenant_usage.h) and this session's slot in it; owned from
  // here on. -1: none (the session runs without limits and reports no counters).
  int usage_fd = -1;
  int usage_slot = -1;
  // The daemon's DeviceScheduler block (fair sharing of device time); owned from here on. -1: none.
  int scheduler_fd = -1;
  // How long to wait for the control record, and for the events connection of a stream session.
  std::chrono::milliseconds setup_timeout{10000};
  // The daemon's SessionLimits (daemon/daemon_config.h), passed on its command line.
  std::chrono::milliseconds message_timeout{30000};
  std::chrono::milliseconds tcp_timeout{25000};
  uint64_t max_host_memory = 0;  // address space added after setup; 0: unlimited
};

// Caps the process's address space (RLIMIT_AS) at what it maps now plus `extra` bytes, so that a
// transfer the session cannot hold fails its allocation (and the call, with the API's no-memory
// error) instead of drawing the machine's OOM killer. What is mapped already (the vendor library,
// the shm region's sparse bulk areas) does not count against `extra`.
Status limit_host_memory(uint64_t extra);

// The session process's command line after the program name, as the daemon writes it and the session
// executables (server/main.cpp, the tests' fake session) read it: one place for both ends.
//   --conn-fd N --control-fd N [--usage-fd N --usage-slot K] [--scheduler-fd N]
//   --message-timeout-ms MS --tcp-timeout-ms MS --max-host-memory BYTES
std::vector<std::string> session_arguments(const SessionProcessConfig& config);
// The reverse; an unknown flag, a missing value or one that is not a number is an error (the daemon
// never writes one: such a command line did not come from it).
Status parse_session_arguments(std::span<const char* const> args, SessionProcessConfig* out);

// Serves one guest. `apis` is the list of APIs this binary can serve (server/main.cpp builds it).
// Returns the process exit status: 0 when the session ended in order, 1 otherwise (always logged).
int run_session_process(std::span<const ApiServer* const> apis, const SessionProcessConfig& config);

}  // namespace remora::server
