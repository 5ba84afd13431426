// The shm readers against a hostile peer that writes the region itself (shm_layout.h), as
// tests/fuzz/shm_ring_fuzz.cpp does at random: each check the reader makes of what it reads from
// shared memory, and the regressions that fuzzing found.
#include "transport/shm.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

#include "transport/shm_layout.h"
#include "transport/sockets.h"

namespace remora::transport {
namespace {

using namespace std::chrono_literals;
using namespace shm_layout;

constexpr size_t kRing = 4096, kBulk = 4096;

// A real session's region, with the peer's side played by the test through its own mapping.
class HostilePeer {
 public:
  // `guest_reader`: the reader under test is the guest's reply reader (the peer is a compromised
  // server); otherwise the server's request reader (the peer is a hostile guest).
  explicit HostilePeer(bool guest_reader) : rx_(guest_reader ? kReplies : kRequests) {
    rx_bulk_ = guest_reader ? kServerToGuest : kGuestToServer;
    int s1[2];
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1), 0);
    ShmConfig cfg;
    cfg.ring_bytes = kRing;
    cfg.bulk_bytes = kBulk;
    cfg.spin = 0ns;
    EXPECT_TRUE(shm_serve(Fd(s1[0]), cfg, &server_).ok());
    Fd memfd;
    ShmOffer offer{};
    EXPECT_TRUE(recv_fd(s1[1], &memfd, std::span(reinterpret_cast<uint8_t*>(&offer), sizeof offer), after(5s)).ok());
    socks_[0] = Fd(s1[1]);
    if (guest_reader) {
      int s2[2];
      EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2), 0);
      EXPECT_TRUE(send_fd(s2[0], memfd.get(), std::span(reinterpret_cast<const uint8_t*>(&offer), sizeof offer)).ok());
      EXPECT_TRUE(shm_attach(Fd(s2[1]), after(5s), &guest_).ok());
      socks_[1] = Fd(s2[0]);
    }
    EXPECT_TRUE(make_layout(kRing, kBulk, &layout_).ok());
    void* v = ::mmap(nullptr, layout_.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    EXPECT_NE(v, MAP_FAILED);
    view_ = static_cast<uint8_t*>(v);
    reader_ = guest_reader ? guest_.calls.get() : server_.calls.get();
  }
  ~HostilePeer() {
    guest_ = Connection();
    server_ = Connection();
    ::munmap(view_, layout_.total_bytes);
  }

  Channel* reader() const { return reader_; }
  RingControl& control() const { return reinterpret_cast<ShmHeader*>(view_)->rings[rx_]; }
  BulkControl& bulk_control() const { return reinterpret_cast<ShmHeader*>(view_)->bulks[rx_bulk_]; }
  uint8_t* bulk() const { return view_ + layout_.bulk_offset(rx_bulk_); }

  // Writes words at the peer's head, moves it `advance` bytes (default: past them) and publishes.
  void record(std::initializer_list<uint64_t> words, uint64_t advance = 0) {
    uint64_t pos = head_ & (kRing - 1);
    for (uint64_t w : words) {
      std::memcpy(view_ + layout_.ring_offset(rx_) + pos, &w, sizeof w);
      pos += sizeof w;
    }
    head_ += advance != 0 ? advance : words.size() * sizeof(uint64_t);
    publish(head_);
  }
  void publish(uint64_t head) { control().head.store(head, std::memory_order_release); }
  // A bulk message's bytes, claimed as an honest sender would.
  void fill_bulk(size_t n, uint8_t v) {
    bulk_control().busy.store(1);
    std::memset(bulk(), v, n);
  }

  Status receive(Message* m) { return reader_->receive(m, after(2s)); }

 private:
  int rx_, rx_bulk_;
  Connection server_, guest_;
  Fd socks_[2];
  Layout layout_{};
  uint8_t* view_ = nullptr;
  Channel* reader_ = nullptr;
  uint64_t head_ = 0;
};

// What the reader must say to each hostile write, and that it stays closed afterwards.
void expect_refused(HostilePeer& peer, const char* why) {
  Message m;
  Status st = peer.receive(&m);
  EXPECT_EQ(st.code(), Code::kMalformed) << st.str();
  EXPECT_NE(st.message().find(why), std::string::npos) << st.str();
  EXPECT_EQ(peer.receive(&m).code(), Code::kClosed);
}

class ShmHostile : public ::testing::TestWithParam<bool> {};

TEST_P(ShmHostile, HeadOutOfRange) {
  HostilePeer peer(GetParam());
  peer.publish(kRing + 8);  // more published than the ring holds
  expect_refused(peer, "ring head out of range");
  HostilePeer behind(GetParam());
  behind.publish(~uint64_t{0} - 7);  // behind the reader's tail
  expect_refused(behind, "ring head out of range");
  HostilePeer odd(GetParam());
  odd.publish(12);  // records are 8-aligned
  expect_refused(odd, "ring head out of range");
}

TEST_P(ShmHostile, RecordLengths) {
  HostilePeer big(GetParam());
  big.record({kRing / 4 + 1});  // larger than a ring message may be
  expect_refused(big, "ring record length out of range");
  HostilePeer past(GetParam());
  past.record({64}, 16);  // the head says 16 bytes, the record needs 72
  expect_refused(past, "ring record length out of range");
  HostilePeer pad(GetParam());
  pad.record({kPadFlag}, 8);  // skips to the ring's end, which is not published
  expect_refused(pad, "pad record past the head");
}

TEST_P(ShmHostile, BulkReferences) {
  HostilePeer outside(GetParam());
  outside.record({kBulkFlag | 64, kBulk - 56});  // runs past the bulk area's end
  expect_refused(outside, "bulk message outside the bulk area");
  HostilePeer wrap(GetParam());
  wrap.record({kBulkFlag | 64, ~uint64_t{0} - 7});  // offset + length overflows
  expect_refused(wrap, "bulk message outside the bulk area");
  HostilePeer unaligned(GetParam());
  unaligned.record({kBulkFlag | 64, 4});
  expect_refused(unaligned, "bulk message outside the bulk area");
  HostilePeer half(GetParam());
  half.record({kBulkFlag | 64}, 8);  // the offset word is not published
  expect_refused(half, "bulk record past the head");
  // A second bulk message while the first is still lent.
  HostilePeer twice(GetParam());
  twice.fill_bulk(64, 1);
  twice.record({kBulkFlag | 64, 0});
  twice.record({kBulkFlag | 64, 0});
  Message held, m;
  ASSERT_TRUE(twice.receive(&held).ok());
  EXPECT_TRUE(held.lent());
  Status st = twice.receive(&m);
  EXPECT_EQ(st.code(), Code::kMalformed) << st.str();
  EXPECT_NE(st.message().find("bulk area reused before release"), std::string::npos) << st.str();
}

TEST_P(ShmHostile, StreamedMessages) {
  HostilePeer small(GetParam());
  small.record({kStreamFlag | kBulk});  // fits the bulk area: not a streamed message
  expect_refused(small, "streamed message size out of range");
  HostilePeer huge(GetParam());
  huge.record({kStreamFlag | (kMaxStreamedBytes + 1)});
  expect_refused(huge, "streamed message size out of range");
  HostilePeer part(GetParam());
  part.record({kStreamFlag | (kBulk + 8), 16});  // then a small record instead of a bulk part
  expect_refused(part, "bad part of a streamed message");
  HostilePeer over(GetParam());
  over.fill_bulk(kBulk, 2);
  over.record({kStreamFlag | (kBulk + 8), kBulkFlag | kBulk, 0, kBulkFlag | 16, 0});  // 16 > the 8 left
  expect_refused(over, "bad part of a streamed message");
}

// regress-stream-cut-then-reopened (shm_ring_fuzz): a streamed receive ended by the ring's closed
// flag lost its framing, but the channel stayed open; a peer that cleared the flag again then had
// the rest of the message received as a message of its own.
TEST_P(ShmHostile, StreamCutShortEndsTheChannel) {
  HostilePeer peer(GetParam());
  peer.fill_bulk(kBulk, 3);
  peer.record({kStreamFlag | (kBulk + 100), kBulkFlag | kBulk, 0});
  peer.control().closed.store(1);
  Message m;
  EXPECT_EQ(peer.receive(&m).code(), Code::kClosed);
  peer.control().closed.store(0);
  peer.fill_bulk(100, 4);
  peer.record({kBulkFlag | 100, 0});
  Status st = peer.receive(&m);
  EXPECT_EQ(st.code(), Code::kClosed) << st.str() << " (" << m.size() << " bytes received)";
}

// 0 if a streamed total the host cannot back ends the channel with kTooLarge, in a process with 1 GiB
// more address space than it has.
int receive_streamed_without_memory(bool guest_reader) {
  long pages = 0;
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 2;
  const bool read = std::fscanf(f, "%ld", &pages) == 1;
  std::fclose(f);
  if (!read) return 2;
  HostilePeer peer(guest_reader);
  rlimit lim{};
  lim.rlim_cur = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE) + (rlim_t{1} << 30);
  lim.rlim_max = RLIM_INFINITY;
  if (::setrlimit(RLIMIT_AS, &lim) != 0) return 3;
  peer.record({kStreamFlag | (uint64_t{8} << 30)});  // 8 GiB, within kMaxStreamedBytes
  Message m;
  const Status st = peer.receive(&m);
  if (st.code() != Code::kTooLarge || st.message().find("no host memory") == std::string::npos) return 1;
  return peer.receive(&m).code() == Code::kClosed ? 0 : 1;
}

// regress-streamed-total-no-memory (shm_ring_fuzz): a streamed total the host cannot back threw
// std::bad_alloc out of receive(); on the guest's event thread that ends the application. Now the
// channel ends with kTooLarge. In a child, whose address space is limited.
TEST_P(ShmHostile, StreamedTotalTheHostCannotHoldEndsTheChannel) {
  EXPECT_EXIT(::_exit(receive_streamed_without_memory(GetParam())), ::testing::ExitedWithCode(0), "");
}

INSTANTIATE_TEST_SUITE_P(BothReaders, ShmHostile, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "guest_replies" : "server_requests";
                         });

}  // namespace
}  // namespace remora::transport
