// What the daemon shows: the admin socket's JSON document (`remora status`, `remora top`) and the
// metrics endpoint's HTTP responder (GET /metrics, rendered by metrics.h). Both answer from the
// poll loop without blocking: a client that does not read costs one descriptor until its deadline.
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <nlohmann/json.hpp>

#include "common/log.h"
#include "daemon/daemon_impl.h"

namespace remora::daemon {

namespace {

// How long an admin client gets to take its document.
constexpr auto kAdminTimeout = std::chrono::seconds(5);
// Admin clients at once.
constexpr size_t kMaxAdminClients = 64;
// Metrics clients at once, and how long one gets to send its request and take the answer.
constexpr size_t kMaxHttpClients = 64;
constexpr auto kHttpTimeout = std::chrono::seconds(5);

std::string iso_time(std::chrono::system_clock::time_point t) {
  const std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  ::gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

}  // namespace

void Daemon::Impl::accept_admin() {
  for (int i = 0; i < kAcceptBurst; ++i) {
    Fd fd;
    Status st = transport::accept_on(admin.fd.get(), &fd, Clock::now());
    if (!st.ok()) {
      if (st.code() != Code::kTimeout) log::warn("accept on the admin socket: {}", st.str());
      return;
    }
    if (admin_clients.size() >= kMaxAdminClients || !set_nonblocking(fd.get(), true).ok()) continue;
    auto c = std::make_unique<AdminClient>();
    c->fd = std::move(fd);
    c->out = status_json();
    c->deadline = transport::after(kAdminTimeout);
    admin_clients.push_back(std::move(c));
  }
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

}  // namespace remora::daemon
