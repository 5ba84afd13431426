// The daemon's observability: Prometheus text exposition and the tiny HTTP/1.1 responder that serves
// it (`remora serve --metrics tcp:HOST:PORT`, GET /metrics). Pure functions; the daemon's poll loop
// does the I/O.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "server/tenant_usage.h"

namespace remora::daemon {

// One tenant's row, as the daemon sees it now.
struct TenantMetrics {
  std::string name;
  uint32_t sessions = 0;
  uint64_t sessions_started = 0;
  uint32_t weight = 1;
  server::UsageSnapshot usage;
};

struct DaemonMetrics {
  uint64_t auth_failures = 0;    // refused Hellos with a wrong/missing credential (no tenant label:
                                 // the name is the unauthenticated peer's choice)
  uint64_t session_refusals = 0;  // refused for max_sessions
  std::vector<TenantMetrics> tenants;
};

// Prometheus text format 0.0.4.
std::string render_prometheus(const DaemonMetrics& m);

// Escapes a label value (backslash, double quote, newline).
std::string escape_label(std::string_view v);

// The answer to one HTTP request (the bytes up to and including the blank line): a whole HTTP/1.1
// response with Connection: close. `metrics_body` is rendered only for GET /metrics.
enum class HttpTarget { kMetrics, kNotFound, kBadMethod, kBadRequest };
HttpTarget classify_request(std::string_view request_head);
std::string http_response(HttpTarget target, const std::string& metrics_body);

// Where the request head ends (just past "\r\n\r\n"), or npos.
size_t http_head_end(std::string_view buffered);
inline constexpr size_t kMaxHttpRequest = 8 * 1024;

}  // namespace remora::daemon
