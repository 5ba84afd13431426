#include "server/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/log.h"
#include "common/protocol.h"
#include "server/handshake.h"
#include "server/metrics.h"
#include "server/session_process.h"
#include "server/tenant_usage.h"
#include "transport/tls_relay.h"

namespace remora::server {

bool keys_equal(uint64_t a, uint64_t b) {
  // Every bit is looked at whatever the result, so the time taken says nothing about where a
  // guessed key differs. volatile keeps the compiler from short-circuiting.
  volatile uint64_t diff = a ^ b;
  return diff == 0;
}

std::string default_session_exe(std::string* error) {
  std::error_code ec;
  const std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    *error = "cannot find the session executable: /proc/self/exe: " + ec.message();
    return "";
  }
  return (self.parent_path() / "remora-session").string();
}

namespace {

using transport::Clock;
using transport::Deadline;
using transport::Fd;

// Connections accepted per listener per loop iteration: bounds the time one busy listener can
// hold the loop.
constexpr int kAcceptBurst = 64;
// How long an admin client gets to take its document.
constexpr auto kAdminTimeout = std::chrono::seconds(5);
// Without a signalfd (tests), children are polled at least this often.
constexpr int kReapPollMs = 200;
// Without authentication, tenant names are the guests' choice: past this many, new names share one
// usage block, so a guest cannot make the daemon create blocks without bound.
constexpr size_t kMaxOpenTenants = 256;
constexpr const char* kOverflowTenant = "(other)";
// Metrics clients at once, and how long one gets to send its request and take the answer.
constexpr size_t kMaxHttpClients = 64;
constexpr auto kHttpTimeout = std::chrono::seconds(5);

Status set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return io_error("fcntl(F_GETFL)", errno);
  const int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) != 0) return io_error("fcntl(F_SETFL)", errno);
  return Status::Ok();
}

std::string describe_exit(int status) {
  if (WIFEXITED(status)) return fmt::format("exit status {}", WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return fmt::format("killed by signal {} ({})", WTERMSIG(status), ::strsignal(WTERMSIG(status)));
  return fmt::format("wait status {:#x}", status);
}

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Sends a Refuse without waiting: the socket is non-blocking and the message small. A peer whose
// receive buffer is full just does not learn the reason.
void refuse_now(int fd, const std::string& reason) {
  const std::vector<uint8_t> frame = refuse_frame(reason);
  Status st = write_all(fd, frame, Clock::now());
  if (!st.ok()) log::debug("could not send a refusal: {}", st.str());
}

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

}  // namespace

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

  Status listen_one(const transport::Endpoint& ep, Listener* out);
  void accept_calls(Listener& l);
  void accept_admin();
  void accept_metrics();
  void on_http(HttpClient& c, bool readable);
  Status apply_config(const DaemonConfig& config);
  // A tenant's usage block, with its entry in the scheduler.
  Status new_usage(const std::string& tenant, TenantUsage* out);
  void reload_config();
  // The tenant a new session is accounted to, after authentication; nullptr when it must be refused
  // (*why says why, for the guest and the log).
  TenantState* admit(const protocol::Hello& h, const Pending& p, std::string* key, std::string* auth, std::string* why);
  DaemonMetrics collect_metrics() const;
  void on_tls_pending(Pending& p);
  void refuse(Pending& p, const std::string& reason);
  // A socketpair whose one end goes to a session process and whose other end the relay joins to
  // p's TLS connection (on success p.tls has moved to the relay).
  Status relay_pair(Pending& p, Fd* session_end);
  void on_hello(Pending& p, std::vector<uint8_t> bytes);
  void on_events_hello(Pending& p, const protocol::Hello& h);
  void spawn_session(Pending& p, const protocol::Hello& h, std::vector<uint8_t> hello_bytes, const std::string& tenant,
                     TenantState& t, const std::string& auth);
  void write_admin(AdminClient& c);
  std::string status_json() const;
  void reap(bool log_all);
  void read_signals();
  void shutdown();
  void remove_socket_file(const Listener& l);
};

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>()) { impl_->opt = std::move(options); }

Daemon::~Daemon() {
  if (impl_->mask_changed) ::pthread_sigmask(SIG_SETMASK, &impl_->old_mask, nullptr);
}

void Daemon::reload() {
  const uint64_t one = 1;
  if (impl_->reload_fd.valid()) {
    ssize_t ignored = ::write(impl_->reload_fd.get(), &one, sizeof one);
    (void)ignored;
  }
}

void Daemon::stop() {
  const uint64_t one = 1;
  if (impl_->wake_fd.valid()) {
    ssize_t ignored = ::write(impl_->wake_fd.get(), &one, sizeof one);
    (void)ignored;
  }
}

Status Daemon::Impl::listen_one(const transport::Endpoint& ep, Listener* out) {
  if (Status st = transport::listen_on(ep, &out->fd); !st.ok()) return st;
  if (Status st = transport::bound_endpoint(out->fd.get(), ep, &out->endpoint); !st.ok()) return st;
  if (Status st = set_nonblocking(out->fd.get(), true); !st.ok()) return st;
  if (ep.kind == transport::Endpoint::Kind::kUnix) {
    struct stat s {};
    if (::stat(ep.path.c_str(), &s) == 0) out->inode = s.st_ino;
  }
  return Status::Ok();
}

Status Daemon::start() {
  Impl& d = *impl_;
  if (d.opt.listen.empty()) return Status(Code::kInvalid, "nothing to listen on: pass --listen unix:PATH or tcp:HOST:PORT");
  d.wake_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  d.reload_fd.reset(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!d.wake_fd.valid() || !d.reload_fd.valid()) return io_error("eventfd", errno);
  if (d.opt.session_exe.empty()) {
    std::string error;
    d.opt.session_exe = default_session_exe(&error);
    if (d.opt.session_exe.empty()) return Status(Code::kInvalid, error);
  }
  // Checked here rather than met as an exec failure in every session: a daemon that cannot start
  // sessions should not listen.
  if (::access(d.opt.session_exe.c_str(), X_OK) != 0) {
    return Status(Code::kInvalid, "the session executable " + d.opt.session_exe + " is missing or not executable (" +
                                      std::strerror(errno) + "); build it with `make build`");
  }
  if (Status st = DeviceScheduler::create(&d.scheduler); !st.ok()) return Status(st.code(), "the scheduler block: " + st.message());
  if (Status st = d.apply_config(d.opt.config); !st.ok()) return st;
  if (d.opt.handle_signals) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGHUP);
    if (::pthread_sigmask(SIG_BLOCK, &set, &d.old_mask) != 0) return Status(Code::kIo, "pthread_sigmask failed");
    d.mask_changed = true;
    d.signal_fd.reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!d.signal_fd.valid()) return io_error("signalfd", errno);
  }
  const bool any_tls = std::any_of(d.opt.listen.begin(), d.opt.listen.end(), [](const transport::Endpoint& ep) {
    return ep.kind == transport::Endpoint::Kind::kTls;
  });
  if (any_tls) {
    if (Status st = transport::TlsContext::server(d.opt.tls, &d.tls_ctx); !st.ok()) return Status(st.code(), "TLS: " + st.message());
    d.relay = std::make_unique<transport::TlsRelay>();
    if (Status st = d.relay->start(); !st.ok()) return st;
    log::info("TLS: certificate {}; client certificates {}", d.opt.tls.cert,
              d.opt.tls.client_ca.empty() ? std::string("not asked for")
                                          : (d.opt.tls.require_client_cert ? "required" : "optional") +
                                                std::string(", from the CA(s) in ") + d.opt.tls.client_ca);
  } else if (d.opt.tls.enabled()) {
    log::warn("TLS settings given but no tls: endpoint to listen on; they are unused");
  }
  for (const transport::Endpoint& ep : d.opt.listen) {
    Listener l;
    if (Status st = d.listen_one(ep, &l); !st.ok()) return Status(st.code(), "listen on " + ep.str() + ": " + st.message());
    bound_.push_back(l.endpoint);
    d.listeners.push_back(std::move(l));
  }
  if (!d.opt.admin.empty()) {
    transport::Endpoint ep;
    if (Status st = transport::Endpoint::parse(d.opt.admin, &ep); !st.ok()) return Status(st.code(), "--admin: " + st.message());
    if (ep.kind != transport::Endpoint::Kind::kUnix) {
      return Status(Code::kInvalid, "--admin must be a unix socket (unix:PATH): status is for local eyes only");
    }
    if (Status st = d.listen_one(ep, &d.admin); !st.ok()) return Status(st.code(), "admin socket " + ep.str() + ": " + st.message());
    d.has_admin = true;
  }
  if (!d.opt.metrics.empty()) {
    transport::Endpoint ep;
    if (Status st = transport::Endpoint::parse(d.opt.metrics, &ep); !st.ok()) return Status(st.code(), "--metrics: " + st.message());
    if (ep.kind != transport::Endpoint::Kind::kTcp) {
      return Status(Code::kInvalid, "--metrics must be a tcp endpoint (tcp:HOST:PORT): Prometheus scrapes over HTTP");
    }
    if (Status st = d.listen_one(ep, &d.metrics); !st.ok()) return Status(st.code(), "metrics endpoint " + ep.str() + ": " + st.message());
    d.has_metrics = true;
    metrics_bound_ = d.metrics.endpoint.str();
    log::info("metrics on http://{}/metrics", metrics_bound_.substr(4));
  }
  for (const transport::Endpoint& ep : bound_) log::info("listening on {}", ep.str());
  if (d.opt.ready_fd >= 0) {
    std::string lines;
    for (const transport::Endpoint& ep : bound_) lines += ep.str() + "\n";
    Status st = write_all(d.opt.ready_fd, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(lines.data()), lines.size()),
                          transport::after(std::chrono::seconds(5)));
    ::close(d.opt.ready_fd);
    d.opt.ready_fd = -1;
    if (!st.ok()) return Status(st.code(), "reporting readiness: " + st.message());
  }
  return Status::Ok();
}

void Daemon::Impl::accept_calls(Listener& l) {
  const char* kind = l.endpoint.kind == transport::Endpoint::Kind::kTls   ? "tls"
                     : l.endpoint.kind == transport::Endpoint::Kind::kTcp ? "tcp"
                                                                          : "unix";
  for (int i = 0; i < kAcceptBurst; ++i) {
    Fd fd;
    // The listener is non-blocking, so a past deadline makes this a poll: kTimeout when none waits.
    Status st = transport::accept_on(l.fd.get(), &fd, Clock::now());
    if (st.code() == Code::kTimeout) return;
    if (!st.ok()) {
      // EMFILE and friends: log and let the loop go on (the connection stays queued).
      log::warn("accept on {}: {}", l.endpoint.str(), st.str());
      return;
    }
    if (pending.size() >= opt.max_pending) {
      log::warn("{} connections in their handshake already: closing a new one from {}", pending.size(),
                transport::peer_name(fd.get()));
      continue;
    }
    if (Status nb = set_nonblocking(fd.get(), true); !nb.ok()) {
      log::warn("{}", nb.str());
      continue;
    }
    auto p = std::make_unique<Pending>();
    p->peer = transport::peer_name(fd.get());
    p->fd = std::move(fd);
    p->deadline = transport::after(opt.handshake_timeout);
    p->kind = kind;
    log::debug("connection from {} on {}", p->peer, l.endpoint.str());
    pending.push_back(std::move(p));
  }
}

void Daemon::Impl::refuse(Pending& p, const std::string& reason) {
  if (!p.tls) return refuse_now(p.fd.get(), reason);
  // Through TLS, without waiting: the frame is small and the handshake has just emptied the socket's
  // send buffer, so it goes at once or the guest does not learn the reason.
  const std::vector<uint8_t> frame = refuse_frame(reason);
  size_t written = 0;
  if (p.tls->write(frame.data(), frame.size(), &written) != transport::TlsServerConn::Step::kDone || written != frame.size()) {
    log::debug("could not send a refusal over TLS: {}", p.tls->error());
  }
  p.tls->close_notify();
}

Status Daemon::Impl::relay_pair(Pending& p, Fd* session_end) {
  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) return io_error("socketpair", errno);
  Fd ours(sv[0]);
  session_end->reset(sv[1]);
  // Plaintext that followed the Hello in the TLS stream (none from a well-behaved guest, which waits
  // for the Welcome) goes first.
  relay->add(std::move(p.tls), std::move(ours), std::move(p.tls_in), p.peer);
  return Status::Ok();
}

void Daemon::Impl::on_tls_pending(Pending& p) {
  using Step = transport::TlsServerConn::Step;
  if (!p.tls) {
    // A TLS client opens with a handshake record (content type 22). Anything else is most likely a
    // guest dialling tcp: at a tls: port: tell it so in its own framing rather than fail the handshake.
    uint8_t first = 0;
    const ssize_t n = ::recv(p.fd.get(), &first, 1, MSG_PEEK | MSG_DONTWAIT);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
      p.done = true;
      return;
    }
    if (n < 0) return;
    if (first != 0x16) {
      log::warn("refusing {}: not a TLS client on a tls: endpoint", p.peer);
      p.done = true;
      return refuse_now(p.fd.get(), "this endpoint speaks TLS: connect with tls:HOST:PORT (and trust its CA with --tls-ca)");
    }
    if (Status st = transport::TlsServerConn::create(*tls_ctx, std::move(p.fd), &p.tls); !st.ok()) {
      log::error("TLS for {}: {}", p.peer, st.str());
      p.done = true;
      return;
    }
  }
  if (!p.tls_ready) {
    switch (p.tls->handshake()) {
      case Step::kWantRead:
        p.events = POLLIN;
        return;
      case Step::kWantWrite:
        p.events = POLLOUT;
        return;
      case Step::kError: {
        log::warn("dropping a connection from {}: {}", p.peer, p.tls->error());
        // The alert is sent; half-close and take what the guest already sent, so that closing does
        // not answer it with a reset that could overtake the alert.
        ::shutdown(p.tls->fd(), SHUT_WR);
        char sink[4096];
        while (::recv(p.tls->fd(), sink, sizeof sink, MSG_DONTWAIT) > 0) {
        }
        p.done = true;
        return;
      }
      case Step::kDone:
        p.tls_ready = true;
        p.cert_subject = p.tls->peer().subject;
        if (!p.cert_subject.empty()) log::debug("{}: client certificate {}", p.peer, p.cert_subject);
        break;
    }
  }
  // The Hello's frame: u64 length, then the message (as over a plain socket).
  const size_t want = sizeof(uint64_t) + kMaxHelloBytes;
  const Step r = p.tls->read(&p.tls_in, want > p.tls_in.size() ? want - p.tls_in.size() : 1);
  if (r == Step::kWantRead || r == Step::kWantWrite) {
    p.events = r == Step::kWantRead ? POLLIN : POLLOUT;
    return;
  }
  if (r == Step::kError) {
    log::info("dropping a connection from {}: {}", p.peer, p.tls->error());
    p.done = true;
    return;
  }
  p.events = POLLIN;
  if (p.tls_in.size() < sizeof(uint64_t)) return;
  uint64_t length = 0;
  std::memcpy(&length, p.tls_in.data(), sizeof length);
  if (length > kMaxHelloBytes) {
    log::info("dropping a connection from {}: a Hello of {} bytes (the limit is {})", p.peer, length, kMaxHelloBytes);
    p.done = true;
    return;
  }
  if (p.tls_in.size() < sizeof length + length) return;
  const auto* begin = reinterpret_cast<const uint8_t*>(p.tls_in.data()) + sizeof length;
  std::vector<uint8_t> bytes(begin, begin + length);
  p.tls_in.erase(0, sizeof length + length);
  on_hello(p, std::move(bytes));
}

void Daemon::Impl::on_hello(Pending& p, std::vector<uint8_t> bytes) {
  p.done = true;
  protocol::Hello h;
  if (Status st = parse_hello(bytes, &h); !st.ok()) {
    log::warn("refusing {}: {}", p.peer, st.message());
    return refuse(p, st.message());
  }
  // What the daemon itself must agree on: the framing version, the ABI and the channel. The API and
  // its version are the session process's to check (it knows the APIs).
  if (h.wire_version != protocol::kWireVersion || h.abi != protocol::kAbiTag || h.channel > 1) {
    const std::string why = protocol::check_hello(h, h.api, h.api_version);
    log::warn("refusing {} (pid {}, program \"{}\"): {}", p.peer, h.pid, h.program, why);
    return refuse(p, why);
  }
  if (h.channel == 1) return on_events_hello(p, h);
  std::string tenant, auth, why;
  TenantState* t = admit(h, p, &tenant, &auth, &why);
  if (t == nullptr) return refuse(p, why);
  spawn_session(p, h, std::move(bytes), tenant, *t, auth);
}

TenantState* Daemon::Impl::admit(const protocol::Hello& h, const Pending& p, std::string* key, std::string* auth,
                                 std::string* why) {
  const std::string& peer = p.peer;
  TenantState* t = nullptr;
  *auth = "none";
  if (opt.config.authenticates()) {
    // A verified client certificate that a tenant lists is a credential of its own; otherwise the
    // Hello's tenant and token must match.
    const TenantConfig* tc = opt.config.authenticate_cert(p.cert_subject);
    if (tc != nullptr && !h.tenant.empty() && h.tenant != tc->name) {
      ++auth_failures;
      *why = "the client certificate (" + p.cert_subject + ") is tenant '" + tc->name + "''s, but the guest names tenant '" +
             h.tenant + "'";
      log::warn("refusing {} (pid {}, program \"{}\"): {}", peer, h.pid, h.program, *why);
      return nullptr;
    }
    if (tc != nullptr) {
      *auth = "client certificate " + p.cert_subject;
    } else {
      tc = opt.config.authenticate(h.tenant, h.token);
      *auth = "token";
    }
    if (tc == nullptr) {
      ++auth_failures;
      // The same answer for an unknown tenant, a wrong token and none: it must not tell which names
      // exist. The token itself is never logged.
      const bool certs = p.tls && !opt.tls.client_ca.empty();
      if (!p.cert_subject.empty() && h.tenant.empty()) {
        *why = "the client certificate (" + p.cert_subject + ") is not listed for any tenant, and no tenant and token "
               "were given";
      } else if (h.tenant.empty()) {
        *why = certs ? "this server requires a tenant and its token (remora run --tenant NAME --token-file FILE) or a "
                       "client certificate it knows (--tls-cert/--tls-key)"
                     : "this server requires a tenant and its token (remora run --tenant NAME --token-file FILE)";
      } else {
        *why = "tenant '" + h.tenant + "': wrong or missing token";
      }
      log::warn("refusing {} (pid {}, program \"{}\"): {}", peer, h.pid, h.program, *why);
      return nullptr;
    }
    *key = tc->name;
    t = &tenants.at(tc->name);
  } else {
    *key = h.tenant.empty() ? "default" : h.tenant;
    auto it = tenants.find(*key);
    if (it == tenants.end() && tenants.size() >= kMaxOpenTenants) {
      *key = kOverflowTenant;
      it = tenants.find(*key);
    }
    if (it == tenants.end()) {
      TenantState fresh;
      if (Status st = new_usage(*key, &fresh.usage); !st.ok()) {
        log::error("tenant '{}': creating its usage block: {}", *key, st.str());
        *why = "the server is out of resources";
        return nullptr;
      }
      it = tenants.emplace(*key, std::move(fresh)).first;
    }
    t = &it->second;
  }
  if (t->limits.max_sessions != 0 && t->sessions >= t->limits.max_sessions) {
    ++session_refusals;
    *why = fmt::format("tenant '{}': at its limit of {} session(s)", *key, t->limits.max_sessions);
    log::warn("refusing {} (pid {}, program \"{}\"): {}", peer, h.pid, h.program, *why);
    return nullptr;
  }
  return t;
}

Status Daemon::Impl::apply_config(const DaemonConfig& config) {
  // Blocks for new tenants first: nothing changes unless all of them could be made.
  std::map<std::string, TenantUsage> fresh;
  for (const auto& [name, tc] : config.tenants) {
    if (tenants.count(name) != 0) continue;
    TenantUsage u;
    if (Status st = new_usage(name, &u); !st.ok()) return Status(st.code(), "tenant '" + name + "': " + st.message());
    fresh.emplace(name, std::move(u));
  }
  for (auto& [name, u] : fresh) tenants[name].usage = std::move(u);
  for (auto& [name, t] : tenants) {
    auto it = config.tenants.find(name);
    t.configured = it != config.tenants.end();
    // A tenant dropped from the config keeps running sessions (SIGHUP drops no session) but gets no
    // new ones: authenticate() no longer knows it.
    t.limits = t.configured ? it->second.limits : TenantLimits{};
    if (t.limits.max_sessions > kUsageSlots || t.limits.max_sessions == 0) {
      if (t.limits.max_sessions > kUsageSlots) {
        log::warn("tenant '{}': max_sessions {} is above the daemon's {} slots per tenant; using {}", name,
                  t.limits.max_sessions, kUsageSlots, kUsageSlots);
      }
      t.limits.max_sessions = kUsageSlots;
    }
    t.usage.set_limits(t.limits);
  }
  opt.config = config;
  return Status::Ok();
}

Status Daemon::Impl::new_usage(const std::string& tenant, TenantUsage* out) {
  if (Status st = TenantUsage::create(tenant, out); !st.ok()) return st;
  const int entry = scheduler.valid() ? scheduler.add_tenant() : -1;
  if (entry < 0) log::warn("tenant '{}': no scheduler entry left; its device time is not fair-shared", tenant);
  out->set_scheduler_entry(entry);
  return Status::Ok();
}

void Daemon::Impl::reload_config() {
  if (opt.config_path.empty()) {
    log::warn("reload asked for, but the daemon was started without --config: nothing to re-read");
    return;
  }
  DaemonConfig fresh;
  if (Status st = DaemonConfig::load(opt.config_path, &fresh); !st.ok()) {
    log::error("reloading {}: {}; keeping the configuration in force", opt.config_path, st.message());
    return;
  }
  if (fresh.listen != opt.config.listen || fresh.admin != opt.config.admin || fresh.metrics != opt.config.metrics) {
    log::warn("reloading {}: endpoints changed in the file, but only tenants and limits are reloaded; restart the "
              "daemon to move its endpoints", opt.config_path);
  }
  const bool was_authenticating = opt.config.authenticates();
  if (Status st = apply_config(fresh); !st.ok()) {
    log::error("reloading {}: {}; keeping the configuration in force", opt.config_path, st.message());
    return;
  }
  if (was_authenticating != opt.config.authenticates()) {
    log::warn("reloading {}: authentication is now {}", opt.config_path, opt.config.authenticates() ? "on" : "OFF");
  }
  log::info("reloaded {}: {} tenant(s)", opt.config_path, opt.config.tenants.size());
}

void Daemon::Impl::on_events_hello(Pending& p, const protocol::Hello& h) {
  auto it = sessions.find(h.session);
  // One answer for an unknown session and a wrong key: the refusal must not tell which ids exist.
  if (it == sessions.end() || !keys_equal(it->second.key, h.session_key)) {
    log::warn("refusing an events connection from {}: unknown session {} or wrong key", p.peer, h.session);
    return refuse(p, "unknown session or wrong session key for the events channel");
  }
  SessionEntry& s = it->second;
  if (s.events_passed) {
    log::warn("refusing a second events connection for session {} from {}", s.id, p.peer);
    return refuse(p, "the session already has its events channel");
  }
  Fd conn;  // what the session gets: the socket itself, or with TLS its end of the relay
  if (p.tls) {
    if (Status st = relay_pair(p, &conn); !st.ok()) {
      log::error("session {}: {}", s.id, st.str());
      return refuse(p, "the server is out of resources");
    }
  } else {
    if (Status st = set_nonblocking(p.fd.get(), false); !st.ok()) return refuse(p, st.message());
    conn = std::move(p.fd);
  }
  EventsHandoff handoff{s.id};
  Status st = transport::send_fd(s.control.get(), conn.get(),
                                 std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&handoff), sizeof handoff));
  if (!st.ok()) {
    log::warn("passing the events connection to session {}: {}", s.id, st.str());
    if (!p.tls && !p.fd.valid()) p.fd = std::move(conn);
    return refuse(p, "the session is gone");
  }
  s.events_passed = true;
  log::debug("session {}: events connection passed on", s.id);
}

void Daemon::Impl::spawn_session(Pending& p, const protocol::Hello& h, std::vector<uint8_t> hello_bytes,
                                  const std::string& tenant, TenantState& t, const std::string& auth) {
  SessionEntry s;
  s.id = next_session++;
  do {
    if (::getrandom(&s.key, sizeof s.key, 0) != static_cast<ssize_t>(sizeof s.key)) {
      log::error("getrandom failed: {}; refusing {}", std::strerror(errno), p.peer);
      return refuse(p, "the server could not make a session key");
    }
  } while (s.key == 0);
  s.guest_pid = h.pid;
  s.program = h.program;
  s.tenant = tenant;
  s.transport = h.transport == protocol::kTransportShm ? "shm" : p.kind;
  s.peer = p.peer;
  s.auth = auth;
  s.started = std::chrono::system_clock::now();

  int sv[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0) {
    log::error("socketpair: {}", std::strerror(errno));
    return refuse(p, "the server is out of resources");
  }
  s.control.reset(sv[0]);
  Fd theirs(sv[1]);

  // The record goes into the socket before the child exists; it is far smaller than the socket
  // buffer, so this does not wait.
  ControlRecord record;
  record.session = s.id;
  record.session_key = s.key;
  record.hello = std::move(hello_bytes);
  record.vendor_library = opt.vendor_library;
  record.conn_kind = p.kind;
  wire::Writer w;
  encode(record, &w);
  std::vector<uint8_t> body = w.flatten();
  const uint64_t length = body.size();
  std::vector<uint8_t> frame(sizeof length + body.size());
  std::memcpy(frame.data(), &length, sizeof length);
  std::memcpy(frame.data() + sizeof length, body.data(), body.size());
  Status st = set_nonblocking(s.control.get(), true);
  if (st.ok()) st = write_all(s.control.get(), frame, Clock::now());
  // The guest's socket goes to the child blocking; O_NONBLOCK belongs to the shared file description.
  // Over TLS the child gets its end of a socketpair instead, which the relay joins to the guest.
  Fd relay_end;
  int conn_fd = p.fd.get();
  if (st.ok() && p.tls) {
    int pair[2];
    if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) != 0) {
      st = io_error("socketpair", errno);
    } else {
      relay_end.reset(pair[0]);
      p.fd.reset(pair[1]);  // p.fd is free: the TLS connection owns the guest's socket
      conn_fd = p.fd.get();
    }
  }
  if (st.ok()) st = set_nonblocking(conn_fd, false);
  if (!st.ok()) {
    log::error("preparing session {}: {}", s.id, st.str());
    return refuse(p, "the server could not start a session");
  }

  // Everything the child needs is built before fork: between fork and exec only async-signal-safe
  // calls are allowed (the process may have other threads, in tests).
  s.usage_slot = t.usage.acquire_slot();
  if (s.usage_slot < 0) {
    // max_sessions is capped at the slot count, so this means a bookkeeping error; refuse rather than
    // run a session outside its tenant's quota.
    log::error("tenant '{}': no free usage slot with {} session(s) running", tenant, t.sessions);
    return refuse(p, "the server could not start a session");
  }
  SessionProcessConfig child;
  child.conn_fd = conn_fd;
  child.control_fd = theirs.get();
  child.usage_fd = t.usage.fd();
  child.usage_slot = s.usage_slot;
  child.scheduler_fd = scheduler.fd();
  // 0 (a config that says so) keeps the session's defaults.
  if (opt.session.message_timeout_ms > 0) child.message_timeout = std::chrono::milliseconds(opt.session.message_timeout_ms);
  if (opt.session.tcp_timeout_ms > 0) child.tcp_timeout = std::chrono::milliseconds(opt.session.tcp_timeout_ms);
  child.max_host_memory = opt.session.max_host_memory;
  std::vector<std::string> args = session_arguments(child);
  args.insert(args.begin(), opt.session_exe);
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int usage_fd = child.usage_fd;
  const int scheduler_fd = child.scheduler_fd;
  const pid_t pid = ::fork();
  if (pid < 0) {
    log::error("fork: {}", std::strerror(errno));
    t.usage.release_slot(s.usage_slot);
    return refuse(p, "the server could not start a session");
  }
  if (pid == 0) {
    sigset_t none;
    sigemptyset(&none);
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::fcntl(conn_fd, F_SETFD, 0);
    ::fcntl(theirs.get(), F_SETFD, 0);
    ::fcntl(usage_fd, F_SETFD, 0);
    ::fcntl(scheduler_fd, F_SETFD, 0);
    ::execv(argv[0], argv.data());
    _exit(127);
  }
  s.pid = pid;
  if (p.tls) {
    // The Welcome comes from the session through the relay; later plaintext flows the same way.
    relay->add(std::move(p.tls), std::move(relay_end), std::move(p.tls_in), p.peer);
  }
  ++t.sessions;
  ++t.sessions_started;
  log::info("session {} started: pid {}, guest pid {}, program \"{}\", tenant \"{}\" ({}), transport {}, from {}", s.id,
            pid, s.guest_pid, s.program, s.tenant, s.auth, s.transport, s.peer);
  sessions.emplace(s.id, std::move(s));
  // p.fd and theirs close here: the child has its own copies.
}

void Daemon::Impl::accept_admin() {
  for (int i = 0; i < kAcceptBurst; ++i) {
    Fd fd;
    Status st = transport::accept_on(admin.fd.get(), &fd, Clock::now());
    if (!st.ok()) {
      if (st.code() != Code::kTimeout) log::warn("accept on the admin socket: {}", st.str());
      return;
    }
    if (admin_clients.size() >= 64 || !set_nonblocking(fd.get(), true).ok()) continue;
    auto c = std::make_unique<AdminClient>();
    c->fd = std::move(fd);
    c->out = status_json();
    c->deadline = transport::after(kAdminTimeout);
    admin_clients.push_back(std::move(c));
  }
}

DaemonMetrics Daemon::Impl::collect_metrics() const {
  DaemonMetrics m;
  m.auth_failures = auth_failures;
  m.session_refusals = session_refusals;
  for (const auto& [name, t] : tenants) {
    TenantMetrics tm;
    tm.name = name;
    tm.sessions = t.sessions;
    tm.sessions_started = t.sessions_started;
    tm.weight = t.limits.weight;
    tm.usage = t.usage.snapshot();
    m.tenants.push_back(std::move(tm));
  }
  return m;
}

void Daemon::Impl::accept_metrics() {
  for (int i = 0; i < kAcceptBurst; ++i) {
    Fd fd;
    Status st = transport::accept_on(metrics.fd.get(), &fd, Clock::now());
    if (!st.ok()) {
      if (st.code() != Code::kTimeout) log::warn("accept on the metrics endpoint: {}", st.str());
      return;
    }
    if (http_clients.size() >= kMaxHttpClients || !set_nonblocking(fd.get(), true).ok()) continue;
    auto c = std::make_unique<HttpClient>();
    c->fd = std::move(fd);
    c->deadline = transport::after(kHttpTimeout);
    http_clients.push_back(std::move(c));
  }
}

// Reads the request head, then answers and closes (Connection: close): one request per connection
// is all a scraper needs, and it keeps this responder to a few lines.
void Daemon::Impl::on_http(HttpClient& c, bool readable) {
  if (c.out.empty()) {
    if (!readable) return;
    char buf[2048];
    const ssize_t n = ::recv(c.fd.get(), buf, sizeof buf, 0);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK)) {
      c.done = true;
      return;
    }
    if (n < 0) return;
    c.in.append(buf, static_cast<size_t>(n));
    const size_t end = http_head_end(c.in);
    if (end == std::string::npos) {
      if (c.in.size() > kMaxHttpRequest) {
        c.out = http_response(HttpTarget::kBadRequest, "");
      } else {
        return;
      }
    } else {
      const HttpTarget target = classify_request(std::string_view(c.in).substr(0, end));
      c.out = http_response(target, target == HttpTarget::kMetrics ? render_prometheus(collect_metrics()) : "");
    }
  }
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    break;
  }
  c.done = true;
}

void Daemon::Impl::write_admin(AdminClient& c) {
  while (c.sent < c.out.size()) {
    const ssize_t n = ::send(c.fd.get(), c.out.data() + c.sent, c.out.size() - c.sent, MSG_NOSIGNAL);
    if (n > 0) {
      c.sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    c.done = true;  // peer went away
    return;
  }
  c.done = true;
}

std::string Daemon::Impl::status_json() const {
  nlohmann::json doc;
  doc["pid"] = ::getpid();
  doc["listen"] = nlohmann::json::array();
  for (const Listener& l : listeners) doc["listen"].push_back(l.endpoint.str());
  doc["sessions"] = nlohmann::json::array();
  const auto now = std::chrono::system_clock::now();
  for (const auto& [id, s] : sessions) {
    doc["sessions"].push_back({
        {"id", s.id},
        {"pid", s.pid},
        {"guest_pid", s.guest_pid},
        {"program", s.program},
        {"tenant", s.tenant},
        {"transport", s.transport},
        {"peer", s.peer},
        {"auth", s.auth},
        {"started", iso_time(s.started)},
        {"uptime_s", std::chrono::duration_cast<std::chrono::seconds>(now - s.started).count()},
    });
  }
  if (has_metrics) doc["metrics"] = metrics.endpoint.str();
  doc["authentication"] = opt.config.authenticates();
  doc["tenants"] = nlohmann::json::array();
  for (const TenantMetrics& t : collect_metrics().tenants) {
    doc["tenants"].push_back({
        {"name", t.name},
        {"sessions", t.sessions},
        {"sessions_started", t.sessions_started},
        {"weight", t.weight},
        {"calls", t.usage.calls},
        {"bytes_in", t.usage.bytes_in},
        {"bytes_out", t.usage.bytes_out},
        {"errors", t.usage.errors},
        {"device_memory", t.usage.device_memory_in_use},
        {"device_memory_limit", t.usage.device_memory_limit},
        {"calls_per_second_limit", t.usage.calls_per_second},
        {"quota_refusals", t.usage.quota_refusals},
        {"rate_delays", t.usage.rate_delays},
        {"device_time_s", t.usage.device_time_ns / 1e9},
        {"fair_share_waits", t.usage.fair_waits},
        {"fair_share_wait_s", t.usage.fair_wait_ns / 1e9},
    });
  }
  // Invalid UTF-8 in a guest-supplied name must not make the dump throw.
  return doc.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

void Daemon::Impl::reap(bool log_all) {
  for (auto it = sessions.begin(); it != sessions.end();) {
    int status = 0;
    const pid_t r = ::waitpid(it->second.pid, &status, WNOHANG);
    if (r != it->second.pid) {
      ++it;
      continue;
    }
    const SessionEntry& s = it->second;
    if (auto t = tenants.find(s.tenant); t != tenants.end()) {
      if (t->second.sessions > 0) --t->second.sessions;
      if (const uint64_t left = t->second.usage.release_slot(s.usage_slot); left != 0) {
        log::info("session {}: returned {} bytes of device memory it still held to tenant '{}'", s.id, left, s.tenant);
      }
    }
    const auto secs = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now() - s.started);
    const bool clean = WIFEXITED(status) && WEXITSTATUS(status) == 0;
    if (clean || log_all) {
      log::info("session {} ended: pid {}, program \"{}\", tenant \"{}\", {}, after {:.1f} s", s.id, s.pid, s.program,
                s.tenant, describe_exit(status), secs.count() / 1000.0);
    } else {
      log::warn("session {} ended: pid {}, program \"{}\", tenant \"{}\", {}, after {:.1f} s", s.id, s.pid, s.program,
                s.tenant, describe_exit(status), secs.count() / 1000.0);
    }
    it = sessions.erase(it);
  }
}

void Daemon::Impl::read_signals() {
  signalfd_siginfo info{};
  while (::read(signal_fd.get(), &info, sizeof info) == static_cast<ssize_t>(sizeof info)) {
    if (info.ssi_signo == SIGCHLD) {
      reap(false);
    } else if (info.ssi_signo == SIGHUP) {
      reload_config();
    } else {
      log::info("signal {}: shutting down", info.ssi_signo);
      stopping = true;
    }
  }
}

void Daemon::Impl::remove_socket_file(const Listener& l) {
  if (l.endpoint.kind != transport::Endpoint::Kind::kUnix || l.inode == 0) return;
  // Only our own socket: a later server may have replaced the file meanwhile.
  struct stat s {};
  if (::lstat(l.endpoint.path.c_str(), &s) == 0 && S_ISSOCK(s.st_mode) && s.st_ino == l.inode) {
    ::unlink(l.endpoint.path.c_str());
  }
}

void Daemon::Impl::shutdown() {
  for (const Listener& l : listeners) remove_socket_file(l);
  listeners.clear();
  if (has_admin) remove_socket_file(admin);
  admin.fd.reset();
  metrics.fd.reset();
  pending.clear();
  admin_clients.clear();
  http_clients.clear();
  if (sessions.empty()) {
    relay.reset();
    return;
  }
  log::info("ending {} session(s)", sessions.size());
  for (const auto& [id, s] : sessions) ::kill(s.pid, SIGTERM);
  const Deadline deadline = transport::after(opt.shutdown_grace);
  while (!sessions.empty() && Clock::now() < deadline) {
    reap(true);
    if (!sessions.empty()) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  for (const auto& [id, s] : sessions) {
    log::warn("session {} (pid {}) did not end within {} ms of SIGTERM: killing it", id, s.pid, opt.shutdown_grace.count());
    ::kill(s.pid, SIGKILL);
  }
  for (auto& [id, s] : sessions) {
    int status = 0;
    while (::waitpid(s.pid, &status, 0) < 0 && errno == EINTR) {
    }
  }
  sessions.clear();
  relay.reset();  // the sessions are gone: their relays have nothing left to carry
}

Status Daemon::run() {
  Impl& d = *impl_;
  // What each pollfd stands for.
  enum class Kind { kWake, kReload, kSignal, kListener, kAdmin, kMetrics, kPending, kAdminClient, kHttpClient };
  struct Tag {
    Kind kind;
    size_t index;
  };
  std::vector<pollfd> fds;
  std::vector<Tag> tags;
  while (!d.stopping) {
    fds.clear();
    tags.clear();
    auto add = [&](int fd, short events, Kind kind, size_t index) {
      fds.push_back(pollfd{fd, events, 0});
      tags.push_back(Tag{kind, index});
    };
    add(d.wake_fd.get(), POLLIN, Kind::kWake, 0);
    add(d.reload_fd.get(), POLLIN, Kind::kReload, 0);
    if (d.has_metrics) add(d.metrics.fd.get(), POLLIN, Kind::kMetrics, 0);
    for (size_t i = 0; i < d.http_clients.size(); ++i) {
      const HttpClient& c = *d.http_clients[i];
      add(c.fd.get(), c.out.empty() ? POLLIN : POLLOUT, Kind::kHttpClient, i);
    }
    if (d.signal_fd.valid()) add(d.signal_fd.get(), POLLIN, Kind::kSignal, 0);
    for (size_t i = 0; i < d.listeners.size(); ++i) add(d.listeners[i].fd.get(), POLLIN, Kind::kListener, i);
    if (d.has_admin) add(d.admin.fd.get(), POLLIN, Kind::kAdmin, 0);
    Deadline next = Deadline::max();
    for (size_t i = 0; i < d.pending.size(); ++i) {
      add(d.pending[i]->poll_fd(), d.pending[i]->events, Kind::kPending, i);
      next = std::min(next, d.pending[i]->deadline);
    }
    for (size_t i = 0; i < d.admin_clients.size(); ++i) {
      add(d.admin_clients[i]->fd.get(), POLLOUT, Kind::kAdminClient, i);
      next = std::min(next, d.admin_clients[i]->deadline);
    }
    for (const auto& c : d.http_clients) next = std::min(next, c->deadline);
    int timeout = -1;
    if (next != Deadline::max()) {
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now()).count();
      timeout = static_cast<int>(std::clamp<int64_t>(left, 0, 60 * 1000));
    }
    if (!d.signal_fd.valid() && !d.sessions.empty()) timeout = timeout < 0 ? kReapPollMs : std::min(timeout, kReapPollMs);

    const int n = ::poll(fds.data(), fds.size(), timeout);
    if (n < 0 && errno != EINTR) return io_error("poll", errno);
    for (size_t i = 0; n > 0 && i < fds.size(); ++i) {
      if (fds[i].revents == 0) continue;
      const Tag t = tags[i];
      switch (t.kind) {
        case Kind::kWake:
          d.stopping = true;
          break;
        case Kind::kReload: {
          uint64_t n = 0;
          ssize_t ignored = ::read(d.reload_fd.get(), &n, sizeof n);
          (void)ignored;
          d.reload_config();
          break;
        }
        case Kind::kMetrics:
          d.accept_metrics();
          break;
        case Kind::kHttpClient:
          d.on_http(*d.http_clients[t.index], (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0);
          break;
        case Kind::kSignal:
          d.read_signals();
          break;
        case Kind::kListener:
          d.accept_calls(d.listeners[t.index]);
          break;
        case Kind::kAdmin:
          d.accept_admin();
          break;
        case Kind::kPending: {
          Pending& p = *d.pending[t.index];
          if (p.is_tls()) {
            d.on_tls_pending(p);
            break;
          }
          switch (p.reader.read_some(p.fd.get())) {
            case FrameReader::Result::kMore:
              break;
            case FrameReader::Result::kDone:
              d.on_hello(p, p.reader.take_message());
              break;
            case FrameReader::Result::kError:
              log::info("dropping a connection from {}: {}", p.peer, p.reader.error());
              p.done = true;
              break;
          }
          break;
        }
        case Kind::kAdminClient:
          d.write_admin(*d.admin_clients[t.index]);
          break;
      }
    }
    const Deadline now = Clock::now();
    for (auto& p : d.pending) {
      if (!p->done && p->deadline <= now) {
        log::info("dropping a connection from {}: no Hello within {} ms", p->peer, d.opt.handshake_timeout.count());
        p->done = true;
      }
    }
    for (auto& c : d.admin_clients) {
      if (c->deadline <= now) c->done = true;
    }
    for (auto& c : d.http_clients) {
      if (c->deadline <= now) c->done = true;
    }
    std::erase_if(d.http_clients, [](const auto& c) { return c->done; });
    std::erase_if(d.pending, [](const auto& p) { return p->done; });
    std::erase_if(d.admin_clients, [](const auto& c) { return c->done; });
    if (!d.signal_fd.valid()) d.reap(false);
  }
  d.shutdown();
  return Status::Ok();
}

}  // namespace remora::server
