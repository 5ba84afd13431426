#include "daemon/metrics.h"

#include <fmt/format.h>

namespace remora::daemon {

std::string escape_label(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') out += "\\\\";
    else if (c == '"') out += "\\\"";
    else if (c == '\n') out += "\\n";
    else out += c;
  }
  return out;
}

namespace {

// One metric family: its HELP/TYPE header, then one sample per tenant.
template <typename Get>
void family(std::string* out, const DaemonMetrics& m, const char* name, const char* type, const char* help, Get get) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
  for (const TenantMetrics& t : m.tenants) {
    fmt::format_to(std::back_inserter(*out), "{}{{tenant=\"{}\"}} {}\n", name, escape_label(t.name), get(t));
  }
}

}  // namespace

std::string render_prometheus(const DaemonMetrics& m) {
  std::string out;
  fmt::format_to(std::back_inserter(out),
                 "# HELP remora_auth_failures_total Sessions refused for a wrong or missing tenant credential.\n"
                 "# TYPE remora_auth_failures_total counter\nremora_auth_failures_total {}\n"
                 "# HELP remora_session_limit_refusals_total Sessions refused because the tenant was at max_sessions.\n"
                 "# TYPE remora_session_limit_refusals_total counter\nremora_session_limit_refusals_total {}\n",
                 m.auth_failures, m.session_refusals);
  family(&out, m, "remora_sessions", "gauge", "Sessions running now.", [](const TenantMetrics& t) { return t.sessions; });
  family(&out, m, "remora_sessions_started_total", "counter", "Sessions started.",
         [](const TenantMetrics& t) { return t.sessions_started; });
  family(&out, m, "remora_calls_total", "counter", "API calls served.", [](const TenantMetrics& t) { return t.usage.calls; });
  family(&out, m, "remora_received_bytes_total", "counter", "Bytes received from guests on the calls channel.",
         [](const TenantMetrics& t) { return t.usage.bytes_in; });
  family(&out, m, "remora_sent_bytes_total", "counter", "Bytes of replies sent to guests.",
         [](const TenantMetrics& t) { return t.usage.bytes_out; });
  family(&out, m, "remora_errors_total", "counter", "API calls that failed (asynchronous failures reported later).",
         [](const TenantMetrics& t) { return t.usage.errors; });
  family(&out, m, "remora_device_memory_bytes", "gauge", "Device memory held by the tenant's objects.",
         [](const TenantMetrics& t) { return t.usage.device_memory_in_use; });
  family(&out, m, "remora_device_memory_limit_bytes", "gauge", "The tenant's device memory limit (0: unlimited).",
         [](const TenantMetrics& t) { return t.usage.device_memory_limit; });
  family(&out, m, "remora_quota_refusals_total", "counter", "Allocations refused for the tenant's device memory limit.",
         [](const TenantMetrics& t) { return t.usage.quota_refusals; });
  family(&out, m, "remora_rate_delays_total", "counter", "Calls delayed by the tenant's calls_per_second limit.",
         [](const TenantMetrics& t) { return t.usage.rate_delays; });
  family(&out, m, "remora_device_time_seconds_total", "counter", "Device time measured for the tenant's commands.",
         [](const TenantMetrics& t) { return fmt::format("{:.9f}", t.usage.device_time_ns / 1e9); });
  family(&out, m, "remora_fair_share_waits_total", "counter",
         "Launches the fair-share gate delayed because the tenant was ahead of its share of device time.",
         [](const TenantMetrics& t) { return t.usage.fair_waits; });
  family(&out, m, "remora_fair_share_wait_seconds_total", "counter", "Time launches waited at the fair-share gate.",
         [](const TenantMetrics& t) { return fmt::format("{:.9f}", t.usage.fair_wait_ns / 1e9); });
  family(&out, m, "remora_weight", "gauge", "The tenant's fair-share weight.", [](const TenantMetrics& t) { return t.weight; });
  return out;
}

size_t http_head_end(std::string_view buffered) {
  const size_t at = buffered.find("\r\n\r\n");
  return at == std::string_view::npos ? at : at + 4;
}

HttpTarget classify_request(std::string_view head) {
  const size_t eol = head.find("\r\n");
  const std::string_view line = head.substr(0, eol);
  const size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return HttpTarget::kBadRequest;
  const size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos || line.substr(sp2 + 1).rfind("HTTP/1.", 0) != 0) return HttpTarget::kBadRequest;
  const std::string_view method = line.substr(0, sp1);
  std::string_view path = line.substr(sp1 + 1, sp2 - sp1 - 1);
  if (const size_t q = path.find('?'); q != std::string_view::npos) path = path.substr(0, q);
  if (method != "GET") return HttpTarget::kBadMethod;
  return path == "/metrics" ? HttpTarget::kMetrics : HttpTarget::kNotFound;
}

std::string http_response(HttpTarget target, const std::string& metrics_body) {
  const char* status = "200 OK";
  std::string body;
  const char* type = "text/plain; version=0.0.4; charset=utf-8";
  switch (target) {
    case HttpTarget::kMetrics:
      body = metrics_body;
      break;
    case HttpTarget::kNotFound:
      status = "404 Not Found";
      body = "remora serves only /metrics\n";
      type = "text/plain; charset=utf-8";
      break;
    case HttpTarget::kBadMethod:
      status = "405 Method Not Allowed";
      body = "only GET\n";
      type = "text/plain; charset=utf-8";
      break;
    case HttpTarget::kBadRequest:
      status = "400 Bad Request";
      body = "bad request\n";
      type = "text/plain; charset=utf-8";
      break;
  }
  return fmt::format("HTTP/1.1 {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: close\r\n{}\r\n{}", status,
                     type, body.size(), target == HttpTarget::kBadMethod ? "Allow: GET\r\n" : "", body);
}

}  // namespace remora::daemon
