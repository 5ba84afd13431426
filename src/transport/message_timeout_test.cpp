// A peer that begins a message and never finishes it (half a frame on a socket, the first parts of a
// streamed message over shm) is given up after the message timeout; a peer that is merely idle
// between messages is not.
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

#include "transport/shm.h"
#include "transport/sockets.h"

namespace remora::transport {
namespace {

using namespace std::chrono_literals;

constexpr auto kTimeout = 300ms;

TEST(MessageTimeout, StreamHalfFrameBreaksTheChannel) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  Fd guest(fds[1]);
  auto server = make_stream_channel(Fd(fds[0]), "unix", size_t{1} << 20, kTimeout);
  // A frame that announces 100 bytes and carries 10.
  uint8_t half[8 + 10] = {};
  const uint64_t length = 100;
  std::memcpy(half, &length, sizeof length);
  ASSERT_EQ(::write(guest.get(), half, sizeof half), static_cast<ssize_t>(sizeof half));

  Message m;
  const auto start = Clock::now();
  const Status st = server->receive(&m, after(30s));
  const auto took = Clock::now() - start;
  EXPECT_EQ(st.code(), Code::kMalformed) << st.str();
  EXPECT_NE(st.message().find("message timeout"), std::string::npos) << st.str();
  EXPECT_GE(took, kTimeout);
  EXPECT_LT(took, 5s);
  // Broken for good: the framing is lost.
  EXPECT_EQ(server->receive(&m, after(10ms)).code(), Code::kClosed);
}

TEST(MessageTimeout, StreamIdlePeerIsNotDropped) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  auto guest = make_stream_channel(Fd(fds[1]), "unix");
  auto server = make_stream_channel(Fd(fds[0]), "unix", size_t{1} << 20, kTimeout);
  Message m;
  // Idle for several message timeouts: each receive times out, the channel stays.
  for (int i = 0; i < 3; ++i) EXPECT_EQ(server->receive(&m, after(kTimeout * 2)).code(), Code::kTimeout);
  const uint8_t bytes[16] = {1, 2, 3};
  const wire::Segment seg{bytes, sizeof bytes};
  ASSERT_TRUE(guest->send(std::span<const wire::Segment>(&seg, 1)).ok());
  ASSERT_TRUE(server->receive(&m, after(5s)).ok());
  EXPECT_EQ(m.size(), sizeof bytes);
}

// A guest process that stops (SIGSTOP) in the middle of a streamed message: the server's receive
// ends after the message timeout instead of waiting for the rest forever.
TEST(MessageTimeout, ShmHalfStreamedMessageBreaksTheChannel) {
  int fds[2];
  ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0);
  ShmConfig cfg;
  cfg.ring_bytes = 64 * 1024;
  cfg.bulk_bytes = 64 * 1024;
  cfg.spin = 0ns;
  cfg.message_timeout = kTimeout;
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    ::close(fds[0]);
    Connection conn;
    if (!shm_attach(Fd(fds[1]), after(10s), &conn).ok()) _exit(1);
    // Four bulk-sized parts: the sender publishes one, then waits for the server to take it.
    std::vector<uint8_t> big(4 * cfg.bulk_bytes, 0x5a);
    const wire::Segment seg{big.data(), big.size()};
    (void)conn.calls->send(std::span<const wire::Segment>(&seg, 1));
    _exit(0);
  }
  ::close(fds[1]);
  Connection server;
  ASSERT_TRUE(shm_serve(Fd(fds[0]), cfg, &server).ok());
  std::this_thread::sleep_for(500ms);  // the guest publishes the first part and waits
  ASSERT_EQ(::kill(child, SIGSTOP), 0);

  Message m;
  const auto start = Clock::now();
  const Status st = server.calls->receive(&m, after(30s));
  const auto took = Clock::now() - start;
  ::kill(child, SIGKILL);
  int status = 0;
  ::waitpid(child, &status, 0);
  EXPECT_EQ(st.code(), Code::kMalformed) << st.str();
  EXPECT_NE(st.message().find("message timeout"), std::string::npos) << st.str();
  EXPECT_GE(took, kTimeout);
  EXPECT_LT(took, 5s);
}

}  // namespace
}  // namespace remora::transport
