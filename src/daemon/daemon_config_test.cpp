#include "daemon/daemon_config.h"

#include <gtest/gtest.h>

namespace remora::daemon {
namespace {

// printf %s secret | sha256sum
constexpr const char* kSecretSha = "2bb80d537b1da3e38bd30361aa855686bde0eacd7162fef6a25fe97bf527a25b";

TEST(DaemonConfig, ParsesServerAndTenants) {
  const std::string text = std::string(R"(
[server]
listen = ["unix:/tmp/r.sock", "tcp:127.0.0.1:0"]
admin = "unix:/tmp/r-admin.sock"
metrics = "tcp:127.0.0.1:9470"

[tenants.alice]
token_sha256 = ")") + kSecretSha + R"("
device_memory = "8GiB"
max_sessions = 4
calls_per_second = 1000
weight = 3

devices = [0, 2]

[tenants.bob]
token = "hunter2"
device_memory = 1048576
devices = []
)";
  DaemonConfig c;
  Status st = DaemonConfig::parse(text, "t.toml", &c);
  ASSERT_TRUE(st.ok()) << st.str();
  ASSERT_EQ(c.listen.size(), 2u);
  EXPECT_EQ(c.listen[1], "tcp:127.0.0.1:0");
  EXPECT_EQ(c.admin, "unix:/tmp/r-admin.sock");
  EXPECT_EQ(c.metrics, "tcp:127.0.0.1:9470");
  ASSERT_EQ(c.tenants.size(), 2u);
  const TenantConfig& a = c.tenants.at("alice");
  EXPECT_EQ(a.limits.device_memory, uint64_t{8} << 30);
  EXPECT_EQ(a.limits.max_sessions, 4u);
  EXPECT_EQ(a.limits.calls_per_second, 1000u);
  EXPECT_EQ(a.limits.weight, 3u);
  EXPECT_EQ(c.tenants.at("bob").limits.device_memory, 1048576u);
  EXPECT_EQ(c.tenants.at("bob").limits.weight, 1u);
  EXPECT_TRUE(a.limits.restrict_devices);
  EXPECT_EQ(a.limits.visible_devices, 0b101u);
  EXPECT_TRUE(c.tenants.at("bob").limits.restrict_devices);
  EXPECT_EQ(c.tenants.at("bob").limits.visible_devices, 0u);
  EXPECT_TRUE(c.authenticates());

  EXPECT_EQ(c.authenticate("alice", "secret"), &a);
  EXPECT_EQ(c.authenticate("alice", "Secret"), nullptr);
  EXPECT_EQ(c.authenticate("alice", ""), nullptr);
  EXPECT_EQ(c.authenticate("bob", "hunter2"), &c.tenants.at("bob"));
  EXPECT_EQ(c.authenticate("bob", "secret"), nullptr);
  EXPECT_EQ(c.authenticate("carol", "secret"), nullptr);
  EXPECT_EQ(c.authenticate("", ""), nullptr);
}

TEST(DaemonConfig, NoTenantsMeansNoAuthentication) {
  DaemonConfig c;
  ASSERT_TRUE(DaemonConfig::parse("[server]\nlisten = [\"unix:/tmp/x\"]\n", "t.toml", &c).ok());
  EXPECT_FALSE(c.authenticates());
}

struct BadCase {
  const char* text;
  const char* error;  // expected substring
};

TEST(DaemonConfig, ErrorsNameTheKeyAndLine) {
  const BadCase cases[] = {
      {"[tenants.a]\ndevice_memory = 1\n", "t.toml:1: tenant 'a': needs token_sha256"},
      {"[tenants.a]\ntoken_sha256 = \"abc\"\n", "t.toml:2: tenant 'a': token_sha256 must be 64 hex digits"},
      {"[tenants.a]\ntoken = \"x\"\ndevice_memory = \"lots\"\n", "t.toml:3: tenant 'a': device_memory = \"lots\" is not a size"},
      {"[tenants.a]\ntoken = \"x\"\nmax_sessions = -1\n", "tenant 'a': max_sessions = -1 is out of range"},
      {"[tenants.a]\ntoken = \"x\"\nweight = 0\n", "weight must be at least 1"},
      {"[tenants.a]\ntoken = \"x\"\ndevices = 0\n", "t.toml:3: tenant 'a': devices must be an array of device indices"},
      {"[tenants.a]\ntoken = \"x\"\ndevices = [\"pocl\"]\n", "each entry must be a device index from 0 to 63"},
      {"[tenants.a]\ntoken = \"x\"\ndevices = [64]\n", "each entry must be a device index from 0 to 63"},
      {"[tenants.a]\ntoken = \"x\"\nquota = 1\n", "unknown key \"quota\""},
      {"[server]\nlisten = \"unix:/x\"\n", "t.toml:2: server.listen must be an array"},
      {"[server]\nport = 1\n", "unknown key server.port"},
      {"[sever]\n", "unknown table or key \"sever\""},
      {"[server\n", "t.toml:1:"},
  };
  for (const BadCase& c : cases) {
    DaemonConfig cfg;
    Status st = DaemonConfig::parse(c.text, "t.toml", &cfg);
    EXPECT_FALSE(st.ok()) << c.text;
    EXPECT_NE(st.message().find(c.error), std::string::npos) << "got: " << st.message() << "\nwanted: " << c.error;
  }
}

TEST(DaemonConfig, ByteSizes) {
  uint64_t v = 0;
  EXPECT_TRUE(parse_byte_size("512MiB", &v));
  EXPECT_EQ(v, uint64_t{512} << 20);
  EXPECT_TRUE(parse_byte_size("2G", &v));
  EXPECT_EQ(v, 2000000000u);
  EXPECT_TRUE(parse_byte_size("7", &v));
  EXPECT_EQ(v, 7u);
  EXPECT_FALSE(parse_byte_size("", &v));
  EXPECT_FALSE(parse_byte_size("MiB", &v));
  EXPECT_FALSE(parse_byte_size("5 parsecs", &v));
  EXPECT_FALSE(parse_byte_size("99999999999999999999", &v));
  EXPECT_FALSE(parse_byte_size("20000000000TiB", &v));
}

TEST(DaemonConfig, MissingFile) {
  DaemonConfig c;
  Status st = DaemonConfig::load("/nonexistent/remora.toml", &c);
  EXPECT_NE(st.message().find("cannot read the config file /nonexistent/remora.toml"), std::string::npos);
}

}  // namespace
}  // namespace remora::daemon
