// Fuzz target: the shared-memory ring readers (transport/shm.cpp) against a hostile peer, which can
// write the shared region whenever it likes.
//
// Each input sets up a real region: shm_serve, then shm_attach over a second socket with the same
// memfd, so the reader under test is the production ShmChannel. The harness maps the memfd a third
// time as the peer's view. The input's first byte picks the reader (the server's request reader, or
// the guest's reply or event reader) and the region's sizes. The rest is a script of steps, some the
// peer's (messages queued on an honest sender that works like ShmChannel::send; raw bytes anywhere
// the reader looks; ring heads; record words with any flags and lengths; bulk offsets; the bulk
// area's busy word; the closed flag; going away) and some the reader's ("receive one message").
//
// The concurrent peer is modelled deterministically. The reader fetches each shared value it acts on
// once (the ring head, a record's word, a bulk record's offset) and copies at most what it checked,
// so what matters is what the region holds each time the reader looks at it again, and it does that
// after it sleeps. This target is linked with -Wl,--wrap=syscall: when the reader sleeps on its futex,
// __wrap_syscall plays the peer, running the script's next steps (the honest sender first, as a real
// one would have moved meanwhile) until a reader step, which lets the reader go on, as a wake-up would.
// So the peer also acts in the middle of one receive: between the parts of a streamed message, after
// a pad record, after a head the reader found unchanged. Once the script is done the peer goes away.
//
// Checks, beyond ASan and UBSan:
//   - the reader stays in its own part of the region: in the reader's mapping everything but its
//     ring's control block and data, its bulk area's control block and data, and the control block
//     of the ring its channel sends on (close() marks both) is poisoned, so a read or write anywhere
//     else is an ASan report; a lent message must lie inside the reader's bulk area;
//   - the reader ends: every sleep consumes a step or lets the peer go, a receive after that sleeps at
//     most once, and the drain at the end must finish within the messages there can be (a loop that
//     never sleeps is libFuzzer's -timeout);
//   - a channel that refused something (kMalformed, kTooLarge) stays closed, and a failure says why;
//   - no message is larger than max_message_size(), and with an honest peer only (no raw steps) the
//     reader receives exactly what was sent, in order, all of it;
//   - allocation: the process gets 4 GiB of address space above what it had at start (RLIMIT_AS, as a
//     guest under `ulimit -v` or in a small container might), so a streamed total the host cannot back
//     must end the channel with a Status. It used to throw std::bad_alloc out of receive(), which in
//     the guest library's event thread would have ended the application (regress-streamed-total-no-memory).
#include <linux/futex.h>
#include <sanitizer/asan_interface.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <span>
#include <vector>

#include "common/wire.h"
#include "transport/shm.h"
#include "transport/shm_layout.h"
#include "transport/sockets.h"

namespace {

using namespace remora;
using namespace remora::transport;
using namespace remora::transport::shm_layout;
using namespace std::chrono_literals;

[[noreturn]] void fail(const char* why) {
  std::fprintf(stderr, "shm_ring_fuzz: %s\n", why);
  std::abort();
}

void check(bool cond, const char* why) {
  if (!cond) fail(why);
}

// The input, read front to back; past its end every read is zero.
class Script {
 public:
  Script(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool done() const { return at_ >= size_; }
  uint8_t u8() { return at_ < size_ ? data_[at_++] : 0; }
  uint16_t u16() { return static_cast<uint16_t>(u8() | u8() << 8); }
  uint32_t u32() { return u16() | static_cast<uint32_t>(u16()) << 16; }
  uint64_t u64() { return u32() | static_cast<uint64_t>(u32()) << 32; }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

// Which reader, and the rings and bulk area it uses (shm_serve and shm_attach build the same).
struct ReaderSpec {
  int rx, tx, rx_bulk;
};
constexpr ReaderSpec kReaders[] = {
    {kRequests, kReplies, kGuestToServer},  // the server's calls channel: a hostile guest writes
    {kReplies, kRequests, kServerToGuest},  // the guest's calls channel: a compromised server writes
    {kEvents, -1, kEventsToGuest},          // the guest's events channel: likewise
};

enum Op : uint8_t {
  kReceive,  // the reader receives one message (while it sleeps: it goes on)
  kPoll,     // a receive whose deadline has passed (while it sleeps: it goes on)
  kSend,     // the honest sender queues a message; small, bulk or streamed by its size
  kRaw,      // bytes anywhere the reader looks: its ring's control block, its bulk area's, ring, bulk area
  kHead,     // the ring's head: the peer's own, near the reader's tail, or anything
  kRecord,   // a record (any flags and length, and a second word) at the peer's head, published
  kRewrite,  // the last record's word or second word, changed after it was published
  kBusy,     // the bulk area's busy or waiters word
  kClose,    // the ring's closed flag (the peer's close(), or undoing it)
  kGone,     // the peer goes away: its end of the socket is shut
  kHold,     // the test keeps the message it holds, lets go of the other one and receives into that
  kNumOps
};

// Honest traffic per input, so that an input cannot spend long copying.
constexpr uint64_t kMaxHonestBytes = 1 << 20;
constexpr size_t kMaxQueued = 64;

uint8_t pattern(uint32_t message, uint64_t i) { return static_cast<uint8_t>(message * 131 + i * 7 + (i >> 8)); }

class Run;
thread_local Run* t_run = nullptr;  // the run on this thread, for __wrap_syscall

class Run {
 public:
  Run(const uint8_t* data, size_t size) : script_(data + 1, size - 1) {
    const uint8_t config = data[0];
    spec_ = kReaders[(config & 3) % 3];
    const size_t ring_bytes = config & 4 ? 8192 : 4096;
    const size_t bulk_choices[] = {0, 4096, 8192, 65536};
    const size_t bulk_bytes = bulk_choices[(config >> 3) & 3];
    ShmConfig cfg;
    cfg.ring_bytes = ring_bytes;
    cfg.bulk_bytes = bulk_bytes;
    // No spin by default: a single thread spinning on a head nobody else can move only burns time.
    cfg.spin = config & 0x40 ? std::chrono::nanoseconds(5us) : std::chrono::nanoseconds(0);
    const bool server_reader = spec_.rx == kRequests;
    if (server_reader && (config & 0x20)) {
      // A streamed message's next part must already be there: the peer cannot deliver one in time.
      cfg.message_timeout = 0ms;
      cut_short_ = true;
    }
    check(make_layout(ring_bytes, bulk_bytes, &layout_).ok(), "layout");
    max_small_ = ring_bytes / 4;

    int s1[2];
    check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s1) == 0, "socketpair");
    fence(server_reader);
    check(shm_serve(Fd(s1[0]), cfg, &server_).ok(), "shm_serve");
    Fd memfd;
    ShmOffer offer{};
    check(recv_fd(s1[1], &memfd, std::span(reinterpret_cast<uint8_t*>(&offer), sizeof offer), after(5s)).ok(),
          "recv_fd");
    if (server_reader) {
      peer_sock_ = Fd(s1[1]);
      reader_ = server_.calls.get();
    } else {
      server_sock_ = Fd(s1[1]);
      int s2[2];
      check(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s2) == 0, "socketpair");
      check(send_fd(s2[0], memfd.get(), std::span(reinterpret_cast<const uint8_t*>(&offer), sizeof offer)).ok(),
            "send_fd");
      fence(true);
      check(shm_attach(Fd(s2[1]), after(5s), &guest_).ok(), "shm_attach");
      peer_sock_ = Fd(s2[0]);
      reader_ = spec_.rx == kReplies ? guest_.calls.get() : guest_.events.get();
    }
    void* v = ::mmap(nullptr, layout_.total_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, memfd.get(), 0);
    check(v != MAP_FAILED, "mmap peer view");
    view_ = static_cast<uint8_t*>(v);
  }

  ~Run() {
    for (Message& m : slots_) m.reset();
    if (reader_base_ != nullptr) ASAN_UNPOISON_MEMORY_REGION(reader_base_, layout_.total_bytes);
    guest_ = Connection();
    server_ = Connection();
    ::munmap(view_, layout_.total_bytes);
    for (void* f : fences_) ::munmap(f, kFenceBytes);
  }

  void run() {
    t_run = this;
    // The reader is waiting for its first message when the peer starts; its first sleep also says
    // where its mapping is (reader_sleeps).
    (void)receive(no_deadline());
    check(reader_base_ != nullptr, "the reader's first receive did not wait");
    while (!script_.done()) {
      pump();
      const uint8_t op = script_.u8() % kNumOps;
      if (op == kReceive || op == kPoll) {
        (void)receive(op == kPoll ? Clock::now() : no_deadline());
      } else {
        peer_step(op);
      }
    }
    // The test lets go of what it held (so the bulk area is free again), then receives until the
    // channel fails: every message the peer published, then the end.
    for (Message& m : slots_) m.reset();
    const size_t bound = queued_.size() + layout_.ring_bytes / kRecordHeader + 4;
    Status st;
    for (size_t i = 0; i < bound && st.ok(); ++i) st = receive(no_deadline());
    check(!st.ok(), "the reader keeps returning messages after the peer went away");
    if (!hostile_ && !cut_short_) {
      check(received_ == published_.size(), "a message the honest peer published was not received");
      check(st.code() == Code::kClosed, "an honest session did not end with kClosed");
    }
    t_run = nullptr;
  }

  // __wrap_syscall: the reader is about to sleep on `word`. Plays the peer meanwhile.
  long reader_sleeps(const uint32_t* word) {
    const size_t seq_offset = reinterpret_cast<const uint8_t*>(&header()->rings[spec_.rx].rx_seq) - view_;
    const uint8_t* base = reinterpret_cast<const uint8_t*>(word) - seq_offset;
    if (reader_base_ == nullptr) {
      check(reinterpret_cast<uintptr_t>(base) % kPageBytes == 0, "the reader sleeps on an unexpected word");
      reader_base_ = const_cast<uint8_t*>(base);
      poison();
    }
    check(base == reader_base_, "the reader sleeps on a word other than its ring's rx_seq");
    if (gone_) {
      check(++sleeps_since_gone_ <= 1, "a receive sleeps again after the peer went away");
      return 0;
    }
    for (;;) {
      const bool moved = pump();
      if (script_.done()) {
        if (!moved) go_away();
        return 0;
      }
      const uint8_t op = script_.u8() % kNumOps;
      if (op == kReceive || op == kPoll) return 0;
      peer_step(op);
    }
  }

 private:
  static constexpr size_t kFenceBytes = 64 * 1024;

  struct Outgoing {
    uint32_t id;
    uint64_t size;
    uint64_t sent = 0;  // streamed: bytes of parts published
    bool header = false;  // streamed: the stream record is published
  };

  // Inaccessible pages either side of the reader's mapping: the kernel places mappings top-down, so
  // a hole exactly the region's size between two fences is where the next mapping of that size
  // usually lands. Then a read past either end of the region faults instead of reading a neighbour.
  void fence(bool reader_maps_next) {
    if (!reader_maps_next) return;
    const size_t span = layout_.total_bytes + 2 * kFenceBytes;
    void* p = ::mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED) return;
    auto* b = static_cast<uint8_t*>(p);
    ::munmap(b + kFenceBytes, layout_.total_bytes);
    fences_.push_back(b);
    fences_.push_back(b + kFenceBytes + layout_.total_bytes);
  }

  ShmHeader* header() const { return reinterpret_cast<ShmHeader*>(view_); }
  RingControl& ring_control() const { return header()->rings[spec_.rx]; }
  BulkControl& bulk_control() const { return header()->bulks[spec_.rx_bulk]; }
  uint8_t* ring() const { return view_ + layout_.ring_offset(spec_.rx); }
  uint8_t* bulk() const { return view_ + layout_.bulk_offset(spec_.rx_bulk); }

  // In the reader's mapping, everything the reader has no business touching.
  void poison() {
    uint8_t* b = reader_base_;
    const auto* h = reinterpret_cast<const ShmHeader*>(view_);
    auto offset = [&](const void* p) { return static_cast<size_t>(static_cast<const uint8_t*>(p) - view_); };
    ASAN_POISON_MEMORY_REGION(b, layout_.total_bytes);
    ASAN_UNPOISON_MEMORY_REGION(b + offset(&h->rings[spec_.rx]), sizeof(RingControl));
    if (spec_.tx >= 0) ASAN_UNPOISON_MEMORY_REGION(b + offset(&h->rings[spec_.tx]), sizeof(RingControl));
    ASAN_UNPOISON_MEMORY_REGION(b + offset(&h->bulks[spec_.rx_bulk]), sizeof(BulkControl));
    ASAN_UNPOISON_MEMORY_REGION(b + layout_.ring_offset(spec_.rx), layout_.ring_bytes);
    ASAN_UNPOISON_MEMORY_REGION(b + layout_.bulk_offset(spec_.rx_bulk), layout_.bulk_bytes);
  }

  Status receive(Deadline deadline) {
    Message& m = slots_[slot_];
    sleeps_since_gone_ = 0;
    receiving_ = &m;
    const Status st = reader_->receive(&m, deadline);
    receiving_ = nullptr;
    if (!st.ok()) {
      check(!st.message().empty(), "a failed receive says nothing");
      if (st.code() == Code::kMalformed || st.code() == Code::kTooLarge) refused_ = true;
      // An honest peer's traffic is never refused; it only times out (kPoll) or ends (kClosed).
      if (!hostile_ && !cut_short_) {
        check(st.code() == Code::kTimeout || st.code() == Code::kClosed, "the reader refused an honest message");
      }
      return st;
    }
    check(!refused_, "a receive succeeded after the channel refused the peer");
    check(m.size() <= reader_->max_message_size(), "a message over the channel's limit");
    const uint8_t* p = m.bytes().data();
    if (m.lent()) {
      const uint8_t* area = reader_base_ + layout_.bulk_offset(spec_.rx_bulk);
      const bool inside = p >= area && m.size() <= layout_.bulk_bytes &&
                          static_cast<size_t>(p - area) <= layout_.bulk_bytes - m.size();
      check(inside, "a lent message outside the reader's bulk area");
    }
    if (m.size() != 0) check(reinterpret_cast<uintptr_t>(p) % wire::kAlign == 0, "a message not 8-aligned");
    // Every byte is read, so ASan sees the whole message (a lent one is the reader's mapping).
    if (!hostile_) {
      check(received_ < published_.size(), "the reader made up a message");
      const Outgoing& want = published_[received_];
      check(m.size() == want.size, "a message of the wrong size");
      for (size_t i = 0; i < m.size(); ++i) check(p[i] == pattern(want.id, i), "a message with the wrong bytes");
    } else {
      volatile uint8_t sum = 0;
      for (size_t i = 0; i < m.size(); ++i) sum = static_cast<uint8_t>(sum + p[i]);
    }
    ++received_;
    return st;
  }

  // Room the honest sender sees in the ring, from the tail the reader released.
  uint64_t room() const {
    const uint64_t used = peer_head_ - ring_control().tail.load(std::memory_order_acquire);
    return used > layout_.ring_bytes ? 0 : layout_.ring_bytes - used;
  }

  // As ShmChannel::reserve: a pad record first if the record would cross the ring's end. False
  // (nothing written) if there is no room for both.
  bool reserve(uint64_t record, uint64_t* pos) {
    *pos = peer_head_ & (layout_.ring_bytes - 1);
    const uint64_t pad = *pos + record > layout_.ring_bytes ? layout_.ring_bytes - *pos : 0;
    if (room() < pad + record) return false;
    if (pad != 0) {
      put_word(*pos, kPadFlag);
      peer_head_ += pad;
      *pos = 0;
    }
    return true;
  }

  void put_word(uint64_t pos, uint64_t word) {
    if (pos + sizeof word <= layout_.ring_bytes) std::memcpy(ring() + pos, &word, sizeof word);
  }
  void publish() { ring_control().head.store(peer_head_, std::memory_order_release); }

  // The honest sender: publishes what it has queued as far as ring room and the bulk area allow,
  // like a ShmChannel sender that was running meanwhile. Whether it published anything.
  bool pump() {
    bool moved = false;
    while (!queued_.empty() && !gone_) {
      Outgoing& m = queued_.front();
      if (m.size <= max_small_) {
        const uint64_t record = kRecordHeader + wire::pad8(m.size);
        uint64_t pos;
        if (!reserve(record, &pos)) break;
        put_word(pos, m.size);
        for (uint64_t i = 0; i < m.size; ++i) ring()[pos + kRecordHeader + i] = pattern(m.id, i);
        last_record_ = pos;
        peer_head_ += record;
        publish();
      } else if (m.size <= layout_.bulk_bytes || m.header) {
        // The bulk area first (claimed until the reader releases it), then the record.
        const uint64_t part = std::min<uint64_t>(layout_.bulk_bytes, m.size - m.sent);
        uint64_t pos;
        if (bulk_control().busy.load(std::memory_order_acquire) != 0 || !reserve(kBulkRecord, &pos)) break;
        bulk_control().busy.store(1, std::memory_order_release);
        for (uint64_t i = 0; i < part; ++i) bulk()[i] = pattern(m.id, m.sent + i);
        put_word(pos, kBulkFlag | part);
        put_word(pos + 8, 0);
        last_record_ = pos;
        peer_head_ += kBulkRecord;
        publish();
        m.sent += part;
        moved = true;
        if (m.sent < m.size) continue;
      } else {
        uint64_t pos;
        if (!reserve(kRecordHeader, &pos)) break;
        put_word(pos, kStreamFlag | m.size);
        last_record_ = pos;
        peer_head_ += kRecordHeader;
        publish();
        m.header = true;
        moved = true;
        continue;
      }
      moved = true;
      published_.push_back(m);
      queued_.pop_front();
    }
    return moved;
  }

  void go_away() {
    if (gone_) return;
    gone_ = true;
    ::shutdown(peer_sock_.get(), SHUT_RDWR);
  }

  void peer_step(uint8_t op) {
    switch (op) {
      case kSend: {
        const uint8_t cls = script_.u8() % 3;
        const uint16_t n = script_.u16();
        uint64_t size = n % (max_small_ + 1);
        if (cls == 1 && layout_.bulk_bytes > max_small_) size = max_small_ + 1 + n % (layout_.bulk_bytes - max_small_);
        if (cls == 2 && layout_.bulk_bytes != 0) size = layout_.bulk_bytes + 1 + n % (4 * layout_.bulk_bytes);
        if (honest_bytes_ + size > kMaxHonestBytes || queued_.size() >= kMaxQueued) return;
        honest_bytes_ += size;
        queued_.push_back(Outgoing{next_id_++, size});
        pump();
        return;
      }
      case kRaw: {
        hostile_ = true;
        // The reader's ring control block, its bulk area's, its ring and its bulk area, end to end.
        uint8_t* const areas[] = {reinterpret_cast<uint8_t*>(&ring_control()),
                                  reinterpret_cast<uint8_t*>(&bulk_control()), ring(), bulk()};
        const size_t sizes[] = {sizeof(RingControl), sizeof(BulkControl), layout_.ring_bytes, layout_.bulk_bytes};
        size_t at = script_.u32() % (sizes[0] + sizes[1] + sizes[2] + sizes[3]);
        const size_t len = 1 + script_.u8() % 16;
        int a = 0;
        while (at >= sizes[a]) at -= sizes[a++];
        for (size_t i = 0; i < len && at + i < sizes[a]; ++i) areas[a][at + i] = script_.u8();
        return;
      }
      case kHead: {
        hostile_ = true;
        const uint8_t mode = script_.u8() % 4;
        const uint64_t v = script_.u64();
        const uint64_t tail = ring_control().tail.load(std::memory_order_relaxed);
        const uint64_t head = mode == 0   ? peer_head_
                              : mode == 1 ? tail + (v & 0xffff)
                              : mode == 2 ? tail - (v & 0xffff)
                                          : v;
        ring_control().head.store(head, std::memory_order_release);
        return;
      }
      case kRecord: {
        hostile_ = true;
        const uint8_t flags = script_.u8();
        const uint32_t length = script_.u32();
        const uint64_t second = script_.u64();
        const uint8_t advance = script_.u8();
        // Flags in the top three bits; a few more length bits, so that streamed totals and bulk
        // lengths can be anything up to 2^37.
        const uint64_t word =
            static_cast<uint64_t>(flags & 0xe0) << 56 | static_cast<uint64_t>(flags & 0x1f) << 32 | length;
        const uint64_t pos = peer_head_ & (layout_.ring_bytes - 1);
        put_word(pos, word);
        put_word(pos + 8, second);
        last_record_ = pos;
        uint64_t size = advance * uint64_t{8};
        if (advance == 0) {
          size = word & kPadFlag ? layout_.ring_bytes - pos
                 : word & kStreamFlag ? kRecordHeader
                 : word & kBulkFlag ? kBulkRecord
                 : std::min<uint64_t>(kRecordHeader + wire::pad8(length), layout_.ring_bytes);
        }
        peer_head_ += size;
        publish();
        return;
      }
      case kRewrite: {
        hostile_ = true;
        const uint8_t which = script_.u8();
        put_word(last_record_ + (which & 1) * 8, script_.u64());
        return;
      }
      case kBusy: {
        hostile_ = true;
        const uint8_t which = script_.u8();
        const uint32_t v = script_.u32();
        (which & 1 ? bulk_control().waiters : bulk_control().busy).store(v, std::memory_order_release);
        return;
      }
      case kClose:
        cut_short_ = true;
        ring_control().closed.store(script_.u8() & 1 ? 0 : 1, std::memory_order_release);
        return;
      case kGone:
        go_away();
        return;
      case kHold:
        slot_ ^= 1;
        // Not the Message a receive in progress (this step runs while the reader sleeps) fills.
        if (receiving_ != &slots_[slot_]) slots_[slot_].reset();
        return;
      default:
        return;
    }
  }

  Script script_;
  ReaderSpec spec_{};
  Layout layout_{};
  size_t max_small_ = 0;
  Connection server_, guest_;
  Fd peer_sock_;    // the peer's end of the reader's liveness socket
  Fd server_sock_;  // guest readers: the end the (idle) server's region watches
  Channel* reader_ = nullptr;
  uint8_t* view_ = nullptr;         // the peer's mapping
  uint8_t* reader_base_ = nullptr;  // the reader's mapping, from its first sleep
  std::vector<void*> fences_;

  uint64_t peer_head_ = 0;  // the peer's own head counter (the region's copy is only published)
  uint64_t last_record_ = 0;
  std::deque<Outgoing> queued_;
  std::vector<Outgoing> published_;  // whole messages whose records are all published, in order
  uint32_t next_id_ = 1;
  uint64_t honest_bytes_ = 0;
  size_t received_ = 0;
  bool hostile_ = false;    // a raw step ran: no oracle for contents
  bool cut_short_ = false;  // the peer closed the ring early: nothing to say about completeness
  bool gone_ = false;
  bool refused_ = false;
  int sleeps_since_gone_ = 0;
  Message slots_[2];
  int slot_ = 0;
  Message* receiving_ = nullptr;  // the slot a receive in progress fills
};

}  // namespace

// Every syscall() call in this executable's own objects, remora_transport's futex calls among them,
// comes here (-Wl,--wrap=syscall). A futex wait by the reader under test hands over to the peer
// instead of sleeping; wakes are moot, with one thread playing both sides. Everything else goes on
// to libc.
extern "C" long __real_syscall(long number, ...);
extern "C" long __wrap_syscall(long number, ...) {
  va_list ap;
  va_start(ap, number);
  long a[6];
  for (long& x : a) x = va_arg(ap, long);
  va_end(ap);
  if (number == SYS_futex && t_run != nullptr) {
    const int op = static_cast<int>(a[1]) & FUTEX_CMD_MASK;
    if (op == FUTEX_WAKE) return 0;
    if (op == FUTEX_WAIT) return t_run->reader_sleeps(reinterpret_cast<const uint32_t*>(a[0]));
  }
  return __real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  ::setenv("REMORA_LOG", "error", 0);  // read once, at the first log call
  // 4 GiB of address space above what the process (ASan's reservations included) holds now.
  long pages = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld", &pages) != 1) pages = 0;
    std::fclose(f);
  }
  rlimit lim{};
  if (pages > 0 && ::getrlimit(RLIMIT_AS, &lim) == 0) {
    const rlim_t want = static_cast<rlim_t>(pages) * ::sysconf(_SC_PAGESIZE) + (rlim_t{4} << 30);
    if (lim.rlim_max == RLIM_INFINITY || want < lim.rlim_max) {
      lim.rlim_cur = want;
      ::setrlimit(RLIMIT_AS, &lim);
    }
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1 || size > 64 * 1024) return 0;
  Run run(data, size);
  run.run();
  return 0;
}
