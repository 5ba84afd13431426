// The daemon (`remora serve`): accepts guests and starts one session process per guest.
//
// One thread, one poll() loop over the listeners, the connections still in their handshake, the
// admin socket and its clients, a signalfd (SIGCHLD, SIGINT, SIGTERM) and a wake-up eventfd. The
// daemon never blocks on a client: a Hello is read incrementally from a non-blocking socket, capped
// in size (kMaxHelloBytes) and in time (handshake_timeout), so a silent or slow client costs one
// descriptor until its deadline and delays nobody.
//
// Per connection, by the Hello's channel:
//   0 (a new session's calls channel): the daemon picks a session id and a random 64-bit key, and
//     fork+execs the session executable (`remora-session --conn-fd N --control-fd M ...`,
//     server/session_process.h) with a socketpair as the control socket, over which it sends the
//     ControlRecord. The session process does the rest of the handshake (API check, Welcome or
//     Refuse). The daemon links no API: what a session serves is remora-session's business.
//   1 (the events channel of a stream session): the session must exist and the key match (compared
//     in constant time); the descriptor is then passed to that session's process over its control
//     socket, once per session. Otherwise the daemon answers with a Refuse and closes.
// A Hello of another wire version or ABI is refused by the daemon itself, naming both versions.
//
// Tenants (daemon/daemon_config.h; admission.cpp). With a config that names tenants, a new
// session's Hello must carry a tenant and its token; a wrong or missing one is refused ("tenant 'x':
// wrong or missing token"), as is a tenant at its max_sessions. Each tenant has a shared usage block
// (server/tenant_usage.h) that the daemon creates and passes to the tenant's session processes
// (`--usage-fd N --usage-slot K`): they enforce the tenant's device memory quota and call rate there,
// and add their counters to it. One more block for the whole daemon, the DeviceScheduler
// (`--scheduler-fd N`), holds every tenant's progress for fair sharing of device time. Without tenants in the config (or without a config) nobody
// authenticates and each Hello's tenant name (or "default") gets a usage block with no limits.
// SIGHUP re-reads the config file: tokens and limits change for new sessions and limits for running
// ones at once; endpoints stay as they are. A config that fails to load leaves the old one in force.
//
// TLS (tls: endpoints, transport/tls.h): the daemon runs the TLS handshake and reads the Hello in the
// same poll loop (a slow handshake costs one descriptor until handshake_timeout, as a slow Hello
// does), then relays the connection's plaintext to the session process over a unix socketpair
// (transport/tls_relay.h, its own thread). A connection whose first byte is not a TLS handshake
// record gets a plain Refuse saying the endpoint wants TLS. A verified client certificate whose
// subject a tenant lists (client_cert_subjects) authenticates as that tenant without a token; the
// admin socket's JSON says per session how it authenticated ("auth").
//
// Metrics (daemon/metrics.h): GET /metrics on the optional metrics endpoint, answered from the same
// poll loop; the admin socket's JSON carries the same per-tenant numbers.
//
// Children are reaped on SIGCHLD; their start and end are logged. On SIGINT/SIGTERM (or stop()) the
// daemon stops listening, sends SIGTERM to every session, waits for them a bounded time (then
// SIGKILL), removes its unix socket files and returns.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "daemon/daemon_config.h"
#include "transport/endpoint.h"
#include "transport/sockets.h"
#include "transport/tls.h"

namespace remora::daemon {

struct DaemonOptions {
  std::vector<transport::Endpoint> listen;  // at least one
  std::string admin;                        // unix endpoint for `remora status`; empty: none
  std::string metrics;                      // tcp endpoint serving GET /metrics; empty: none
  DaemonConfig config;                      // tenants (none: no authentication)
  transport::TlsServerConfig tls;           // for tls: endpoints (the config's [tls] and --tls-* flags)
  std::string config_path;                  // re-read on SIGHUP; empty: no reload
  std::string vendor_library;               // passed to sessions; empty: the API's default
  SessionLimits session;                    // passed to sessions (not re-read on SIGHUP)
  // The session executable; empty: remora-session beside this process's own binary
  // (default_session_exe()). Checked at start().
  std::string session_exe;
  std::chrono::milliseconds handshake_timeout{10000};
  // How long sessions get to end after SIGTERM at shutdown before they are killed.
  std::chrono::milliseconds shutdown_grace{3000};
  size_t max_pending = 1024;  // connections in their handshake; beyond it new ones are closed
  int ready_fd = -1;          // if >= 0: the bound endpoints, one per line, then closed
  // Take SIGINT/SIGTERM/SIGCHLD through a signalfd (the `remora serve` process). Off in tests that
  // run a Daemon on a thread of a bigger process; stop() still works and children are polled.
  bool handle_signals = true;
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Listens on every endpoint and the admin socket, and reports readiness on ready_fd.
  Status start();
  // The endpoints actually bound (tcp port 0 resolved), after start().
  const std::vector<transport::Endpoint>& bound() const { return bound_; }
  // Serves until a termination signal or stop(), then shuts down as described above.
  Status run();
  // Asks run() to return. Thread-safe and async-signal-safe.
  void stop();
  // Asks run() to re-read config_path (what SIGHUP does). Thread-safe and async-signal-safe.
  void reload();
  // The metrics endpoint actually bound, after start() (empty without --metrics).
  const std::string& metrics_endpoint() const { return metrics_bound_; }

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  std::vector<transport::Endpoint> bound_;
  std::string metrics_bound_;
};

// remora-session in the directory of /proc/self/exe (build/bin beside build/bin/remora), or "" with
// *error set when /proc/self/exe cannot be read.
std::string default_session_exe(std::string* error);

}  // namespace remora::daemon
