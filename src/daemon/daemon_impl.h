// The daemon's state, shared by the files that serve one concern each (internal to src/daemon):
//   daemon.cpp      start, the poll loop, shutdown
//   signals.cpp     SIGCHLD/SIGINT/SIGTERM/SIGHUP through a signalfd
//   accept.cpp      accepting, TLS termination, reading Hellos, routing events connections
//   admission.cpp   which tenant a new session is accounted to, the config's tenants and its reload
//   sessions.cpp    spawning session processes and reaping them
//   admin.cpp       the admin socket's JSON and the metrics endpoint's HTTP
// Everything runs on the daemon's one thread: nothing here is locked.
#pragma once

#include <poll.h>
#include <signal.h>
#include <sys/types.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "daemon/daemon.h"
#include "daemon/metrics.h"
#include "server/handshake.h"
#include "server/tenant_usage.h"
#include "transport/sockets.h"
#include "transport/tls.h"
#include "transport/tls_relay.h"

namespace remora::daemon {

using server::DeviceScheduler;
using server::FrameReader;
using server::kMaxHelloBytes;
using server::TenantLimits;
using server::TenantUsage;
using transport::Clock;
using transport::Deadline;
using transport::Fd;

// Connections accepted per listener per loop iteration: bounds the time one busy listener can
// hold the loop.
inline constexpr int kAcceptBurst = 64;

Status set_nonblocking(int fd, bool on);

struct Listener {
  Fd fd;
  transport::Endpoint endpoint;  // as bound
  ino_t inode = 0;               // unix: the socket file we created, removed at exit if still ours
};

struct Pending {
  Fd fd;  // until a TLS handshake starts; then tls owns the socket
  FrameReader reader{kMaxHelloBytes};
  Deadline deadline;
  const char* kind;  // "unix", "tcp" or "tls"
  std::string peer;
  bool done = false;
  // tls: endpoints only.
  std::unique_ptr<transport::TlsServerConn> tls;
  bool tls_ready = false;   // handshake done
  std::string tls_in;       // plaintext read so far: the Hello's frame, then whatever followed it
  std::string cert_subject;  // a verified client certificate's subject; empty: none
  short events = POLLIN;

  bool is_tls() const { return std::strcmp(kind, "tls") == 0; }
  int poll_fd() const { return tls ? tls->fd() : fd.get(); }
};

struct AdminClient {
  Fd fd;
  std::string out;
  size_t sent = 0;
  Deadline deadline;
  bool done = false;
};

struct HttpClient {
  Fd fd;
  std::string in;
  std::string out;
  size_t sent = 0;
  Deadline deadline;
  bool done = false;
};

// What the daemon keeps per tenant. Entries outlive a tenant's removal from the config while it still
// has sessions (their usage blocks must stay valid), and are kept afterwards for its counters.
struct TenantState {
  TenantUsage usage;
  TenantLimits limits;
  bool configured = false;  // named in the current config
  uint32_t sessions = 0;
  uint64_t sessions_started = 0;
};

struct SessionEntry {
  uint64_t id = 0;
  uint64_t key = 0;
  pid_t pid = 0;
  int32_t guest_pid = 0;
  std::string program;
  std::string tenant;  // the key in Impl::tenants
  int usage_slot = -1;
  std::string transport;
  std::string peer;
  std::string auth;  // "token", "client certificate CN=...", or "none" (a daemon without tenants)
  std::chrono::system_clock::time_point started;
  Fd control;
  bool events_passed = false;
};

struct Daemon::Impl {
  DaemonOptions opt;
  std::vector<Listener> listeners;
  Listener admin;
  bool has_admin = false;
  std::vector<std::unique_ptr<Pending>> pending;
  std::vector<std::unique_ptr<AdminClient>> admin_clients;
  Listener metrics;
  bool has_metrics = false;
  std::vector<std::unique_ptr<HttpClient>> http_clients;
  std::map<uint64_t, SessionEntry> sessions;
  std::map<std::string, TenantState> tenants;
  DeviceScheduler scheduler;  // fair sharing of device time across tenants (tenant_usage.h)
  uint64_t auth_failures = 0;
  uint64_t session_refusals = 0;
  Fd signal_fd;
  Fd wake_fd;
  Fd reload_fd;
  sigset_t old_mask{};
  bool mask_changed = false;
  uint64_t next_session = 1;
  bool stopping = false;
  std::shared_ptr<transport::TlsContext> tls_ctx;  // with a tls: listener
  std::unique_ptr<transport::TlsRelay> relay;      // with a tls: listener

  // daemon.cpp
  Status listen_one(const transport::Endpoint& ep, Listener* out);
  void shutdown();
  void remove_socket_file(const Listener& l);
  // signals.cpp
  Status take_signals();     // blocks them in this thread and opens signal_fd
  void restore_signals();    // the mask take_signals() found
  void read_signals();
  // accept.cpp
  void accept_calls(Listener& l);
  void on_tls_pending(Pending& p);
  void refuse(Pending& p, const std::string& reason);
  // A socketpair whose one end goes to a session process and whose other end the relay joins to
  // p's TLS connection (on success p.tls has moved to the relay).
  Status relay_pair(Pending& p, Fd* session_end);
  void on_hello(Pending& p, std::vector<uint8_t> bytes);
  void on_events_hello(Pending& p, const protocol::Hello& h);
  // admission.cpp
  Status apply_config(const DaemonConfig& config);
  // A tenant's usage block, with its entry in the scheduler.
  Status new_usage(const std::string& tenant, TenantUsage* out);
  void reload_config();
  // The tenant a new session is accounted to, after authentication; nullptr when it must be refused
  // (*why says why, for the guest and the log).
  TenantState* admit(const protocol::Hello& h, const Pending& p, std::string* key, std::string* auth, std::string* why);
  // sessions.cpp
  void spawn_session(Pending& p, const protocol::Hello& h, std::vector<uint8_t> hello_bytes, const std::string& tenant,
                     TenantState& t, const std::string& auth);
  void reap(bool log_all);
  // SIGTERM to every session, a bounded wait (opt.shutdown_grace), then SIGKILL; reaps them all.
  void end_sessions();
  // admin.cpp
  void accept_admin();
  void write_admin(AdminClient& c);
  std::string status_json() const;
  DaemonMetrics collect_metrics() const;
  void accept_metrics();
  void on_http(HttpClient& c, bool readable);
};

}  // namespace remora::daemon
