#include "daemon/metrics.h"

#include <gtest/gtest.h>

namespace remora::daemon {
namespace {

TEST(Metrics, RendersPerTenantFamilies) {
  DaemonMetrics m;
  m.auth_failures = 3;
  TenantMetrics t;
  t.name = "a\"b";
  t.sessions = 2;
  t.usage.calls = 42;
  t.usage.device_memory_in_use = 1024;
  t.usage.device_time_ns = 1'500'000'000;
  t.usage.fair_waits = 7;
  m.tenants.push_back(t);
  const std::string text = render_prometheus(m);
  EXPECT_NE(text.find("remora_auth_failures_total 3\n"), std::string::npos) << text;
  EXPECT_NE(text.find("# TYPE remora_calls_total counter\nremora_calls_total{tenant=\"a\\\"b\"} 42\n"), std::string::npos) << text;
  EXPECT_NE(text.find("remora_sessions{tenant=\"a\\\"b\"} 2\n"), std::string::npos);
  EXPECT_NE(text.find("remora_device_memory_bytes{tenant=\"a\\\"b\"} 1024\n"), std::string::npos);
  EXPECT_NE(text.find("remora_device_time_seconds_total{tenant=\"a\\\"b\"} 1.500000000\n"), std::string::npos);
  EXPECT_NE(text.find("remora_fair_share_waits_total{tenant=\"a\\\"b\"} 7\n"), std::string::npos) << text;
}

TEST(Metrics, EscapesLabels) { EXPECT_EQ(escape_label("a\\b\"c\nd"), "a\\\\b\\\"c\\nd"); }

TEST(Metrics, ClassifiesRequests) {
  EXPECT_EQ(classify_request("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), HttpTarget::kMetrics);
  EXPECT_EQ(classify_request("GET /metrics?x=1 HTTP/1.0\r\n\r\n"), HttpTarget::kMetrics);
  EXPECT_EQ(classify_request("GET / HTTP/1.1\r\n\r\n"), HttpTarget::kNotFound);
  EXPECT_EQ(classify_request("POST /metrics HTTP/1.1\r\n\r\n"), HttpTarget::kBadMethod);
  EXPECT_EQ(classify_request("hello\r\n\r\n"), HttpTarget::kBadRequest);
  EXPECT_EQ(classify_request("GET /metrics SPDY\r\n\r\n"), HttpTarget::kBadRequest);
  EXPECT_EQ(http_head_end("GET / HTTP/1.1\r\n"), std::string::npos);
  EXPECT_EQ(http_head_end("GET / HTTP/1.1\r\n\r\nrest"), 18u);
}

TEST(Metrics, ResponsesHaveLengthAndClose) {
  const std::string r = http_response(HttpTarget::kMetrics, "x 1\n");
  EXPECT_EQ(r, "HTTP/1.1 200 OK\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: 4\r\n"
               "Connection: close\r\n\r\nx 1\n");
  EXPECT_NE(http_response(HttpTarget::kBadMethod, "").find("405 Method Not Allowed\r\n"), std::string::npos);
  EXPECT_NE(http_response(HttpTarget::kBadMethod, "").find("Allow: GET\r\n"), std::string::npos);
}

}  // namespace
}  // namespace remora::daemon
