#include "transport/endpoint.h"

#include <gtest/gtest.h>

namespace remora::transport {
namespace {

TEST(Endpoint, ParsesUnix) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("unix:/run/remora.sock", &ep).ok());
  EXPECT_EQ(ep.kind, Endpoint::Kind::kUnix);
  EXPECT_EQ(ep.path, "/run/remora.sock");
  EXPECT_EQ(ep.str(), "unix:/run/remora.sock");
}

TEST(Endpoint, ParsesTls) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("tls:gpu-host.example:7443", &ep).ok());
  EXPECT_EQ(ep.kind, Endpoint::Kind::kTls);
  EXPECT_TRUE(ep.is_inet());
  EXPECT_EQ(ep.host, "gpu-host.example");
  EXPECT_EQ(ep.port, 7443);
  EXPECT_EQ(ep.str(), "tls:gpu-host.example:7443");
  ASSERT_TRUE(Endpoint::parse("tls:[::1]:7443", &ep).ok());
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.str(), "tls:[::1]:7443");
  EXPECT_FALSE(Endpoint::parse("tls:", &ep).ok());
  EXPECT_FALSE(Endpoint::parse("tls:host", &ep).ok());
}

TEST(Endpoint, ParsesTcp) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("tcp:gpu-host.example:7000", &ep).ok());
  EXPECT_EQ(ep.kind, Endpoint::Kind::kTcp);
  EXPECT_EQ(ep.host, "gpu-host.example");
  EXPECT_EQ(ep.port, 7000);
  EXPECT_EQ(ep.str(), "tcp:gpu-host.example:7000");
  ASSERT_TRUE(Endpoint::parse("tcp:127.0.0.1:0", &ep).ok());
  EXPECT_EQ(ep.port, 0);
}

TEST(Endpoint, ParsesBracketedIpv6) {
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse("tcp:[::1]:65535", &ep).ok());
  EXPECT_EQ(ep.host, "::1");
  EXPECT_EQ(ep.port, 65535);
  EXPECT_EQ(ep.str(), "tcp:[::1]:65535");
}

TEST(Endpoint, RejectsMalformedWithTheExpectedForm) {
  for (const char* bad : {"", "unix:", "udp:host:1", "tcp:host", "tcp::7000", "tcp:host:70000", "tcp:host:7x",
                          "tcp:host:", "tcp:::1:7000", "tcp:[::1]7000", "tcp:[::1:7000", "/path/only"}) {
    Endpoint ep;
    Status st = Endpoint::parse(bad, &ep);
    EXPECT_EQ(st.code(), Code::kInvalid) << bad;
    EXPECT_NE(st.message().find("expected \"unix:/path/to.sock\""), std::string::npos) << st.message();
  }
  Endpoint ep;
  EXPECT_EQ(Endpoint::parse("unix:/" + std::string(200, 'x'), &ep).code(), Code::kInvalid);
}

TEST(TransportKind, ParsesAndNames) {
  TransportKind k;
  for (TransportKind want : {TransportKind::kShm, TransportKind::kUnix, TransportKind::kTcp}) {
    ASSERT_TRUE(parse_transport_kind(transport_kind_name(want), &k).ok());
    EXPECT_EQ(k, want);
  }
  Status st = parse_transport_kind("rdma", &k);
  EXPECT_EQ(st.code(), Code::kInvalid);
  EXPECT_NE(st.message().find("shm, unix or tcp"), std::string::npos);
}

}  // namespace
}  // namespace remora::transport
