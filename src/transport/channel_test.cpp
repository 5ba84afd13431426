// One suite over every backend: the runtime above sees only Channel, so every backend must behave
// the same way for these cases. Backend-specific cases (shm handshake checks, stream framing) follow.
#include "transport/channel.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <future>
#include <thread>

#include "transport/shm.h"
#include "transport/sockets.h"

namespace remora::transport {
namespace {

using namespace std::chrono_literals;

enum class Backend { kShm, kUnix, kTcp };

constexpr size_t kStreamMax = size_t{64} << 20;

ShmConfig test_shm_config() {
  ShmConfig cfg;
  cfg.ring_bytes = 64 * 1024;        // small, so that wrapping and the bulk path are exercised
  cfg.bulk_bytes = size_t{16} << 20;  // larger messages are streamed through it in parts
  return cfg;
}

std::vector<uint8_t> pattern(size_t n, uint32_t seed) {
  std::vector<uint8_t> v(n);
  uint32_t x = seed * 2654435761u + 1;
  for (size_t i = 0; i < n; ++i) {
    x = x * 1664525u + 1013904223u;
    v[i] = static_cast<uint8_t>(x >> 24);
  }
  return v;
}

Status send_one(Channel* c, const std::vector<uint8_t>& bytes) {
  const wire::Segment seg{bytes.data(), bytes.size()};
  return c->send(std::span<const wire::Segment>(&seg, 1));
}

bool same(const Message& m, const std::vector<uint8_t>& want) {
  return m.size() == want.size() && std::equal(want.begin(), want.end(), m.bytes().begin());
}

// Two connected ends: `a` plays the guest's calls channel, `b` the server's.
struct Ends {
  Connection guest, server;  // shm keeps both channels of each side; stream backends use `calls` only
  Channel* a() { return guest.calls.get(); }
  Channel* b() { return server.calls.get(); }
};

void socket_pair(int fds[2]) { ASSERT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), 0); }

void make_ends(Backend backend, Ends* ends) {
  switch (backend) {
    case Backend::kShm: {
      int fds[2];
      socket_pair(fds);
      // The guest attaches in its own thread, as it would in its own process.
      auto guest = std::async(std::launch::async, [&ends, fd = fds[1]] {
        return shm_attach(Fd(fd), after(5s), &ends->guest);
      });
      Status served = shm_serve(Fd(fds[0]), test_shm_config(), &ends->server);
      Status attached = guest.get();
      ASSERT_TRUE(served.ok()) << served.str();
      ASSERT_TRUE(attached.ok()) << attached.str();
      ASSERT_GT(ends->server.peer_pid, 0);
      return;
    }
    case Backend::kUnix: {
      int fds[2];
      socket_pair(fds);
      ends->guest.calls = make_stream_channel(Fd(fds[0]), "unix", kStreamMax);
      ends->server.calls = make_stream_channel(Fd(fds[1]), "unix", kStreamMax);
      return;
    }
    case Backend::kTcp: {
      Endpoint ep;
      ASSERT_TRUE(Endpoint::parse("tcp:127.0.0.1:0", &ep).ok());
      Fd listener;
      Status st = listen_on(ep, &listener);
      ASSERT_TRUE(st.ok()) << st.str();
      Endpoint bound;
      ASSERT_TRUE(bound_endpoint(listener.get(), ep, &bound).ok());
      ASSERT_NE(bound.port, 0);
      Fd client, accepted;
      st = dial(bound, &client, after(5s));
      ASSERT_TRUE(st.ok()) << st.str();
      st = accept_on(listener.get(), &accepted, after(5s));
      ASSERT_TRUE(st.ok()) << st.str();
      EXPECT_NE(peer_name(accepted.get()).find("127.0.0.1:"), std::string::npos);
      ends->guest.calls = make_stream_channel(std::move(client), "tcp", kStreamMax);
      ends->server.calls = make_stream_channel(std::move(accepted), "tcp", kStreamMax);
      return;
    }
  }
}

class ChannelTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override { ASSERT_NO_FATAL_FAILURE(make_ends(GetParam(), &ends_)); }
  Channel* a() { return ends_.a(); }
  Channel* b() { return ends_.b(); }
  // Drops the server side entirely (as a server that exits would).
  void drop_server() { ends_.server = Connection(); }

  Ends ends_;
};

TEST_P(ChannelTest, SmallMessagesRoundTrip) {
  const std::vector<uint8_t> hello = {'h', 'e', 'l', 'l', 'o'};
  ASSERT_TRUE(send_one(a(), hello).ok());
  Message m;
  Status st = b()->receive(&m, after(5s));
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_TRUE(same(m, hello));
  EXPECT_EQ(reinterpret_cast<uintptr_t>(m.bytes().data()) % 8, 0u);

  ASSERT_TRUE(send_one(b(), {}).ok());  // empty messages are messages too
  ASSERT_TRUE(send_one(b(), hello).ok());
  ASSERT_TRUE(a()->receive(&m, after(5s)).ok());
  EXPECT_EQ(m.size(), 0u);
  ASSERT_TRUE(a()->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, hello));
  EXPECT_STREQ(a()->kind(), b()->kind());
}

TEST_P(ChannelTest, ManyMessagesArriveInOrder) {
  constexpr uint32_t kCount = 20000;
  auto size_of = [](uint32_t i) -> size_t { return i % 997 == 0 ? 100 * 1024 + i % 13 : 4 + i % 3001; };
  std::thread sender([&] {
    for (uint32_t i = 0; i < kCount; ++i) {
      std::vector<uint8_t> msg = pattern(size_of(i), i);
      std::memcpy(msg.data(), &i, sizeof i);
      ASSERT_TRUE(send_one(a(), msg).ok()) << i;
    }
  });
  Message m;
  for (uint32_t i = 0; i < kCount; ++i) {
    Status st = b()->receive(&m, after(10s));
    ASSERT_TRUE(st.ok()) << i << ": " << st.str();
    ASSERT_EQ(m.size(), size_of(i)) << i;
    uint32_t seq;
    std::memcpy(&seq, m.bytes().data(), sizeof seq);
    ASSERT_EQ(seq, i);
    std::vector<uint8_t> want = pattern(size_of(i), i);
    ASSERT_TRUE(std::equal(want.begin() + 4, want.end(), m.bytes().begin() + 4)) << i;
  }
  sender.join();
}

TEST_P(ChannelTest, MultiSegmentMessages) {
  for (size_t big : {size_t{5}, size_t{16 * 1024 + 5}, size_t{3} << 20, size_t{33} << 20}) {
    const auto s1 = pattern(3, 1), s3 = pattern(13, 3), s4 = pattern(big, 4);
    const wire::Segment segs[] = {{s1.data(), s1.size()}, {nullptr, 0}, {s3.data(), s3.size()}, {s4.data(), s4.size()}};
    std::vector<uint8_t> want;
    for (const auto* s : {&s1, &s3, &s4}) want.insert(want.end(), s->begin(), s->end());
    std::thread sender([&] { ASSERT_TRUE(a()->send(segs).ok()); });
    Message m;
    ASSERT_TRUE(b()->receive(&m, after(10s)).ok());
    sender.join();
    EXPECT_TRUE(same(m, want)) << big;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.bytes().data()) % 8, 0u);
  }
}

TEST_P(ChannelTest, LargeMessagesBothWays) {
  for (size_t n : {size_t{8} << 20, (size_t{1} << 20) + 7, size_t{256} * 1024 /* > the shm ring */,
                   (size_t{40} << 20) + 3 /* > the shm bulk area */}) {
    const auto up = pattern(n, 7), down = pattern(n, 8);
    std::thread guest([&] {
      ASSERT_TRUE(send_one(a(), up).ok());
      Message m;
      ASSERT_TRUE(a()->receive(&m, after(10s)).ok());
      EXPECT_TRUE(same(m, down)) << n;
    });
    Message m;
    ASSERT_TRUE(b()->receive(&m, after(10s)).ok());
    EXPECT_TRUE(same(m, up)) << n;
    m.reset();
    ASSERT_TRUE(send_one(b(), down).ok());
    guest.join();
  }
}

// reserve_send: the server-side reply path of a large read (the vendor fills the reserved space).
TEST_P(ChannelTest, ReservedSendSpaceArrivesWhateverTheMessageHolds) {
  const size_t n = (size_t{2} << 20) + 5;
  uint8_t* space = b()->reserve_send(n);
  if (GetParam() != Backend::kShm) {
    EXPECT_EQ(space, nullptr);  // the stream backends copy anyway
    return;
  }
  ASSERT_NE(space, nullptr);
  EXPECT_EQ(b()->reserve_send(n), nullptr) << "one reservation at a time";
  const auto head = pattern(24, 1), body = pattern(n, 2), tail = pattern(13, 3), big_head = pattern(100 * 1024, 4);
  auto check = [&](std::initializer_list<const std::vector<uint8_t>*> parts, const char* what) {
    std::vector<uint8_t> want;
    for (const auto* p : parts) want.insert(want.end(), p->begin(), p->end());
    Message m;
    Status st = a()->receive(&m, after(5s));
    ASSERT_TRUE(st.ok()) << what << ": " << st.str();
    EXPECT_TRUE(same(m, want)) << what;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(m.bytes().data()) % 8, 0u) << what;
  };
  // In place: the reserved piece is not copied, the rest lands around it.
  std::memcpy(space, body.data(), n);
  const wire::Segment in_place[] = {{head.data(), head.size()}, {space, n}, {tail.data(), tail.size()}};
  ASSERT_TRUE(b()->send(in_place).ok());
  ASSERT_NO_FATAL_FAILURE(check({&head, &body, &tail}, "in place"));

  // Too much before it to stay in place: still delivered whole.
  space = b()->reserve_send(n);
  ASSERT_NE(space, nullptr);
  std::memcpy(space, body.data(), n);
  const wire::Segment moved[] = {{big_head.data(), big_head.size()}, {space, n}, {tail.data(), tail.size()}};
  ASSERT_TRUE(b()->send(moved).ok());
  ASSERT_NO_FATAL_FAILURE(check({&big_head, &body, &tail}, "moved"));

  // A message without the reserved piece (an error reply), small then large, ends the reservation.
  for (const auto* other : {&tail, &big_head}) {
    ASSERT_NE(b()->reserve_send(n), nullptr);
    ASSERT_TRUE(send_one(b(), *other).ok());
    ASSERT_NO_FATAL_FAILURE(check({other}, "without it"));
  }
  // And afterwards the area is free for ordinary large messages.
  ASSERT_TRUE(send_one(b(), body).ok());
  ASSERT_NO_FATAL_FAILURE(check({&body}, "after"));
}

TEST_P(ChannelTest, HeldLargeMessageDoesNotBlockSmallOnes) {
  const auto big1 = pattern(1 << 20, 1), big2 = pattern(1 << 20, 2), small = pattern(100, 3);
  // Sent from another thread: a stream socket's buffer is smaller than a large message, and a second
  // large message may have to wait for the first to be released (shm has one bulk area per direction).
  std::thread sender([&] {
    ASSERT_TRUE(send_one(a(), big1).ok());
    ASSERT_TRUE(send_one(a(), small).ok());
    ASSERT_TRUE(send_one(a(), big2).ok());
  });
  Message held, m;
  ASSERT_TRUE(b()->receive(&held, after(5s)).ok());
  ASSERT_TRUE(b()->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, small));
  EXPECT_TRUE(same(held, big1));
  held.reset();
  ASSERT_TRUE(b()->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, big2));
  sender.join();
}

TEST_P(ChannelTest, ReceiveTimesOut) {
  Message m;
  const auto start = Clock::now();
  Status st = b()->receive(&m, after(30ms));
  EXPECT_EQ(st.code(), Code::kTimeout) << st.str();
  EXPECT_GE(Clock::now() - start, 29ms);  // not early
  EXPECT_EQ(b()->receive(&m, Clock::now()).code(), Code::kTimeout);
  // The channel still works afterwards.
  ASSERT_TRUE(send_one(a(), pattern(10, 1)).ok());
  ASSERT_TRUE(b()->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, pattern(10, 1)));
}

TEST_P(ChannelTest, PeerCloseEndsReceiveAndSend) {
  drop_server();
  Message m;
  Status st = a()->receive(&m, after(5s));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
  // TCP may accept a write or two into its buffer before the reset arrives; it must fail soon after.
  const auto chunk = pattern(64 * 1024, 1);
  for (int i = 0; i < 100 && st.code() != Code::kOk; ++i) {
    st = send_one(a(), chunk);
    if (!st.ok()) break;
    std::this_thread::sleep_for(1ms);
  }
  for (int i = 0; i < 1000 && st.ok(); ++i) {
    st = send_one(a(), chunk);
    if (st.ok()) std::this_thread::sleep_for(1ms);
  }
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
}

TEST_P(ChannelTest, CloseFromAnotherThreadUnblocksReceive) {
  auto blocked = std::async(std::launch::async, [&] {
    Message m;
    return b()->receive(&m, no_deadline());
  });
  EXPECT_EQ(blocked.wait_for(50ms), std::future_status::timeout);  // it really blocks
  b()->close();
  ASSERT_EQ(blocked.wait_for(5s), std::future_status::ready);
  Status st = blocked.get();
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
  b()->close();  // idempotent
  EXPECT_EQ(send_one(b(), pattern(8, 1)).code(), Code::kClosed);
  Message m;
  EXPECT_EQ(b()->receive(&m, after(1s)).code(), Code::kClosed);
  // The peer sees the close too.
  st = a()->receive(&m, after(5s));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
}

TEST_P(ChannelTest, OversizedSendIsRefused) {
  const size_t max = a()->max_message_size();
  ASSERT_GE(max, size_t{8} << 20);
  // The size is checked before any byte is read, so the segment need not be backed by memory.
  const uint8_t byte = 0;
  const wire::Segment too_big[] = {{&byte, 1}, {&byte, max}};
  EXPECT_EQ(a()->send(too_big).code(), Code::kTooLarge);
  // Nothing was sent and the channel still works.
  ASSERT_TRUE(send_one(a(), pattern(9, 9)).ok());
  Message m;
  ASSERT_TRUE(b()->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, pattern(9, 9)));
}

INSTANTIATE_TEST_SUITE_P(AllBackends, ChannelTest, ::testing::Values(Backend::kShm, Backend::kUnix, Backend::kTcp),
                         [](const ::testing::TestParamInfo<Backend>& info) {
                           switch (info.param) {
                             case Backend::kShm:
                               return "shm";
                             case Backend::kUnix:
                               return "unix";
                             case Backend::kTcp:
                               return "tcp";
                           }
                           return "unknown";
                         });

// --- stream-specific ---

TEST(StreamChannel, IncomingFrameOverTheLimitIsRefused) {
  int fds[2];
  socket_pair(fds);
  auto sender = make_stream_channel(Fd(fds[0]), "unix", 1 << 20);
  auto receiver = make_stream_channel(Fd(fds[1]), "unix", 1024);
  ASSERT_TRUE(send_one(sender.get(), pattern(2048, 1)).ok());
  Message m;
  EXPECT_EQ(receiver->receive(&m, after(5s)).code(), Code::kTooLarge);
}

// Limits the process to 1 GiB more address space than it has (for a child: see below).
bool limit_address_space() {
  long pages = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return false;
  const bool read = std::fscanf(f, "%ld", &pages) == 1;
  std::fclose(f);
  rlimit lim{};
  lim.rlim_cur = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE) + (rlim_t{1} << 30);
  lim.rlim_max = RLIM_INFINITY;
  return read && ::setrlimit(RLIMIT_AS, &lim) == 0;
}

// 0 if a frame whose length the host cannot back ends the channel with kTooLarge.
int receive_frame_without_memory() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) return 2;
  auto receiver = make_stream_channel(Fd(fds[1]), "unix");  // the default limit: 16 GiB
  if (!limit_address_space()) return 3;
  const uint64_t length = uint64_t{8} << 30;
  if (::send(fds[0], &length, sizeof length, 0) != sizeof length) return 2;
  Message m;
  const Status st = receiver->receive(&m, after(5s));
  if (st.code() != Code::kTooLarge || st.message().find("no host memory") == std::string::npos) return 1;
  return receiver->receive(&m, after(5s)).code() == Code::kClosed ? 0 : 1;
}

// regress-length-no-memory (stream_frame_fuzz): a length within the limit that the host cannot back
// threw std::bad_alloc out of receive(); in the guest library that ends the application. Now the
// channel ends with kTooLarge. In a child, whose address space is limited.
TEST(StreamChannel, IncomingFrameTheHostCannotHoldEndsTheChannel) {
  EXPECT_EXIT(::_exit(receive_frame_without_memory()), ::testing::ExitedWithCode(0), "");
}

TEST(StreamChannel, ReadsNoFurtherThanOneFrame) {
  int fds[2];
  socket_pair(fds);
  auto sender = make_stream_channel(Fd(fds[0]), "unix");
  ASSERT_TRUE(send_one(sender.get(), pattern(40, 1)).ok());
  const char trailer[] = "after";
  ASSERT_EQ(::send(fds[0], trailer, sizeof trailer, 0), static_cast<ssize_t>(sizeof trailer));
  const int raw = ::dup(fds[1]);
  auto receiver = make_stream_channel(Fd(fds[1]), "unix");
  Message m;
  ASSERT_TRUE(receiver->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, pattern(40, 1)));
  char got[sizeof trailer] = {};
  ASSERT_EQ(::recv(raw, got, sizeof got, MSG_DONTWAIT), static_cast<ssize_t>(sizeof trailer));
  EXPECT_STREQ(got, trailer);
  ::close(raw);
}

TEST(Sockets, UnixListenerReplacesStaleSocketAndRefusesLiveOne) {
  char dir[] = "/tmp/remora-test-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  Endpoint ep;
  ASSERT_TRUE(Endpoint::parse(std::string("unix:") + dir + "/s.sock", &ep).ok());
  {
    Fd first;
    ASSERT_TRUE(listen_on(ep, &first).ok());
    Fd second;
    Status st = listen_on(ep, &second);
    EXPECT_EQ(st.code(), Code::kIo);
    EXPECT_NE(st.message().find("address in use"), std::string::npos) << st.str();
    // A connection works, and its peer is this process.
    Fd client, server;
    ASSERT_TRUE(dial(ep, &client, after(5s)).ok());
    ASSERT_TRUE(accept_on(first.get(), &server, after(5s)).ok());
    EXPECT_EQ(peer_pid(server.get()), ::getpid());
    EXPECT_EQ(peer_name(server.get()), "pid " + std::to_string(::getpid()));
  }
  // The first listener is gone but its socket file remains: it is stale and gets replaced.
  Fd again;
  Status st = listen_on(ep, &again);
  EXPECT_TRUE(st.ok()) << st.str();
  Fd none;
  EXPECT_EQ(accept_on(again.get(), &none, after(20ms)).code(), Code::kTimeout);
  again.reset();
  ::unlink(ep.path.c_str());
  EXPECT_FALSE(dial(ep, &none, after(1s)).ok());
  ::rmdir(dir);
}

// --- shm-specific ---

TEST(Shm, EventsFlowServerToGuestOnly) {
  Ends ends;
  ASSERT_NO_FATAL_FAILURE(make_ends(Backend::kShm, &ends));
  const auto small = pattern(100, 1), big = pattern(1 << 20, 2);
  ASSERT_TRUE(send_one(ends.server.events.get(), small).ok());
  ASSERT_TRUE(send_one(ends.server.events.get(), big).ok());
  Message m;
  ASSERT_TRUE(ends.guest.events->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, small));
  ASSERT_TRUE(ends.guest.events->receive(&m, after(5s)).ok());
  EXPECT_TRUE(same(m, big));
  EXPECT_EQ(send_one(ends.guest.events.get(), small).code(), Code::kInvalid);
  EXPECT_EQ(ends.server.events->receive(&m, after(1s)).code(), Code::kInvalid);
}

TEST(Shm, LentMessageOutlivesItsChannels) {
  Ends ends;
  ASSERT_NO_FATAL_FAILURE(make_ends(Backend::kShm, &ends));
  const auto big = pattern(1 << 20, 5);
  ASSERT_TRUE(send_one(ends.a(), big).ok());
  Message m;
  ASSERT_TRUE(ends.b()->receive(&m, after(5s)).ok());
  ends = Ends();  // both sides gone; the loan keeps the mapping
  EXPECT_TRUE(same(m, big));
}

TEST(Shm, AttachRejectsABadOffer) {
  int fds[2];
  socket_pair(fds);
  Fd keep(fds[0]);
  const int memfd = ::memfd_create("bogus", MFD_CLOEXEC);
  ASSERT_GE(memfd, 0);
  ASSERT_EQ(::ftruncate(memfd, 1 << 20), 0);
  const uint64_t garbage[7] = {0x1234, 1, 1 << 20, 4096, 0, 0, 0};
  ASSERT_TRUE(send_fd(fds[0], memfd, std::span(reinterpret_cast<const uint8_t*>(garbage), sizeof garbage)).ok());
  ::close(memfd);
  Connection c;
  Status st = shm_attach(Fd(fds[1]), after(5s), &c);
  EXPECT_EQ(st.code(), Code::kRefused) << st.str();
  EXPECT_EQ(c.calls, nullptr);
}

TEST(Shm, ServerNoticesAGuestThatDiesWithoutClosing) {
  int fds[2];
  socket_pair(fds);
  Connection server;
  ASSERT_TRUE(shm_serve(Fd(fds[0]), test_shm_config(), &server).ok());
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    // The guest: attach, send one request, and die without running any destructor.
    Connection guest;
    const uint8_t req[8] = {1};
    const wire::Segment seg{req, sizeof req};
    const bool ok = shm_attach(Fd(fds[1]), after(5s), &guest).ok() && guest.calls->send({&seg, 1}).ok();
    ::_exit(ok ? 0 : 1);
  }
  ::close(fds[1]);
  Message m;
  Status st = server.calls->receive(&m, after(5s));
  ASSERT_TRUE(st.ok()) << st.str();
  EXPECT_EQ(m.size(), 8u);
  int wstatus = 0;
  ASSERT_EQ(::waitpid(child, &wstatus, 0), child);
  EXPECT_EQ(WEXITSTATUS(wstatus), 0);
  st = server.calls->receive(&m, after(5s));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
  // A sender blocked on a full ring notices too.
  for (int i = 0; i < 100 && st.code() != Code::kClosed; ++i) st = send_one(server.calls.get(), pattern(8000, 1));
  EXPECT_EQ(st.code(), Code::kClosed) << st.str();
}

}  // namespace
}  // namespace remora::transport
