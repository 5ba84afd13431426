#include "daemon/daemon.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <thread>

#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace remora::daemon {

namespace {

// Without a signalfd (tests), children are polled at least this often.
constexpr int kReapPollMs = 200;

}  // namespace

Status set_nonblocking(int fd, bool on) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0) return io_error("fcntl(F_GETFL)", errno);
  const int want = on ? (flags | O_NONBLOCK) : (flags & ~O_NONBLOCK);
  if (want != flags && ::fcntl(fd, F_SETFL, want) != 0) return io_error("fcntl(F_SETFL)", errno);
  return Status::Ok();
}

Daemon::Daemon(DaemonOptions options) : impl_(std::make_unique<Impl>()) { impl_->opt = std::move(options); }

Daemon::~Daemon() { impl_->restore_signals(); }

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
    if (Status st = d.take_signals(); !st.ok()) return st;
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
    Status st = server::write_all(d.opt.ready_fd, std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(lines.data()), lines.size()),
                          transport::after(std::chrono::seconds(5)));
    ::close(d.opt.ready_fd);
    d.opt.ready_fd = -1;
    if (!st.ok()) return Status(st.code(), "reporting readiness: " + st.message());
  }
  return Status::Ok();
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
  end_sessions();
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

}  // namespace remora::daemon
