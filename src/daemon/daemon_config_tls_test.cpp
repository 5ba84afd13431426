// The config's TLS parts: [tls] and tenants' client_cert_subjects (daemon_config.h).
#include <gtest/gtest.h>

#include "daemon/daemon_config.h"

namespace remora::daemon {
namespace {

TEST(DaemonConfigTls, ParsesTlsTableAndCertificateTenants) {
  DaemonConfig c;
  const Status st = DaemonConfig::parse(R"(
[tls]
cert = "/etc/remora/server.crt"
key = "/etc/remora/server.key"
client_ca = "/etc/remora/clients.crt"
require_client_cert = true

[tenants.alice]
client_cert_subjects = ["CN=alice", "CN=alice-ci,O=Example"]

[tenants.bob]
token = "hunter2"
client_cert_subjects = ["CN=bob"]
)", "t.toml", &c);
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(c.tls.cert, "/etc/remora/server.crt");
  EXPECT_EQ(c.tls.key, "/etc/remora/server.key");
  EXPECT_EQ(c.tls.client_ca, "/etc/remora/clients.crt");
  EXPECT_TRUE(c.tls.require_client_cert);
  ASSERT_NE(c.authenticate_cert("CN=alice-ci,O=Example"), nullptr);
  EXPECT_EQ(c.authenticate_cert("CN=alice-ci,O=Example")->name, "alice");
  EXPECT_EQ(c.authenticate_cert("CN=bob")->name, "bob");
  // Exact subjects only: no prefix, no case folding, and no certificate at all matches nothing.
  EXPECT_EQ(c.authenticate_cert("CN=alice-ci"), nullptr);
  EXPECT_EQ(c.authenticate_cert("cn=alice"), nullptr);
  EXPECT_EQ(c.authenticate_cert(""), nullptr);
  // A certificate-only tenant has no token: no token (not even an empty one) logs in as alice.
  EXPECT_EQ(c.authenticate("alice", ""), nullptr);
  EXPECT_EQ(c.authenticate("alice", "x"), nullptr);
  EXPECT_NE(c.authenticate("bob", "hunter2"), nullptr);
}

TEST(DaemonConfigTls, RefusesBadTlsSettings) {
  DaemonConfig c;
  Status st = DaemonConfig::parse("[tls]\ncert = 1\n", "t.toml", &c);
  EXPECT_NE(st.message().find("tls.cert must be a string"), std::string::npos) << st.str();
  st = DaemonConfig::parse("[tls]\nciphers = \"x\"\n", "t.toml", &c);
  EXPECT_NE(st.message().find("unknown key tls.ciphers"), std::string::npos) << st.str();
  st = DaemonConfig::parse("[tenants.a]\nclient_cert_subjects = []\n", "t.toml", &c);
  EXPECT_NE(st.message().find("needs token_sha256 (or token), or client_cert_subjects"), std::string::npos) << st.str();
  st = DaemonConfig::parse("[tenants.a]\nclient_cert_subjects = [\"\"]\n", "t.toml", &c);
  EXPECT_FALSE(st.ok());
}

}  // namespace
}  // namespace remora::daemon
