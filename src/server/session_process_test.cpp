#include "server/session_process.h"

#include <gtest/gtest.h>

namespace remora::server {
namespace {

Status parse(const std::vector<std::string>& args, SessionProcessConfig* out) {
  std::vector<const char*> argv;
  for (const std::string& a : args) argv.push_back(a.c_str());
  return parse_session_arguments(argv, out);
}

// The daemon writes the command line with session_arguments and the session reads it back: the two
// ends cannot drift apart.
TEST(SessionArguments, RoundTrip) {
  SessionProcessConfig c;
  c.conn_fd = 5;
  c.control_fd = 6;
  c.usage_fd = 7;
  c.usage_slot = 255;
  c.scheduler_fd = 8;
  c.message_timeout = std::chrono::milliseconds(1234);
  c.tcp_timeout = std::chrono::milliseconds(5678);
  c.max_host_memory = uint64_t{8} << 30;
  SessionProcessConfig back;
  ASSERT_TRUE(parse(session_arguments(c), &back).ok());
  EXPECT_EQ(back.conn_fd, 5);
  EXPECT_EQ(back.control_fd, 6);
  EXPECT_EQ(back.usage_fd, 7);
  EXPECT_EQ(back.usage_slot, 255);
  EXPECT_EQ(back.scheduler_fd, 8);
  EXPECT_EQ(back.message_timeout.count(), 1234);
  EXPECT_EQ(back.tcp_timeout.count(), 5678);
  EXPECT_EQ(back.max_host_memory, uint64_t{8} << 30);

  // Without a tenant block or a scheduler those flags are left out, and stay -1.
  SessionProcessConfig bare;
  bare.conn_fd = 3;
  bare.control_fd = 4;
  SessionProcessConfig bare_back;
  ASSERT_TRUE(parse(session_arguments(bare), &bare_back).ok());
  EXPECT_EQ(bare_back.usage_fd, -1);
  EXPECT_EQ(bare_back.scheduler_fd, -1);
  EXPECT_EQ(bare_back.message_timeout, SessionProcessConfig{}.message_timeout);
}

TEST(SessionArguments, ZeroTimeoutsKeepTheDefaults) {
  SessionProcessConfig c;
  ASSERT_TRUE(parse({"--message-timeout-ms", "0", "--tcp-timeout-ms", "0"}, &c).ok());
  EXPECT_EQ(c.message_timeout, SessionProcessConfig{}.message_timeout);
  EXPECT_EQ(c.tcp_timeout, SessionProcessConfig{}.tcp_timeout);
}

TEST(SessionArguments, RefusesWhatTheDaemonNeverWrites) {
  SessionProcessConfig c;
  EXPECT_EQ(parse({"--conn-fd"}, &c).message(), "--conn-fd needs a value");
  EXPECT_EQ(parse({"--conn-fd", "3x"}, &c).message(), "--conn-fd 3x: not a number");
  EXPECT_EQ(parse({"--conn-fd", "-1"}, &c).message(), "--conn-fd -1: not a number");
  EXPECT_EQ(parse({"--conn-fd", "4294967296"}, &c).message(), "--conn-fd 4294967296: out of range");
  EXPECT_EQ(parse({"session", "3"}, &c).message(), "unknown option session");
  EXPECT_EQ(parse({"--verbose", "1"}, &c).message(), "unknown option --verbose");
}

}  // namespace
}  // namespace remora::server
