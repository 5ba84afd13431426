// The shared-memory transport (see shm.h for the design).
//
// Region layout (declared in shm_layout.h; one memfd, sealed against resizing so a peer cannot make
// the other side fault):
//   [header page(s): ShmHeader with ring and bulk control blocks]
//   [ring: requests g->s][ring: replies s->g][ring: events s->g]
//   [bulk g->s][bulk s->g: replies][bulk s->g: events]
//
// Rings: head and tail are byte counts since creation (u64, so they never wrap in practice); the
// position is count & (ring_bytes - 1). A record is a u64 word and, for a small message, the payload
// padded to 8. The word is the payload length, or kBulkFlag | length followed by a second word, the
// message's 8-aligned offset in the bulk area (no payload in the ring), or kPadFlag, which skips to
// the ring's start: a record never wraps. A message larger than the bulk area is streamed:
// kStreamFlag | total, then one bulk record per bulk-sized part; the receiver copies the parts into
// the Message's own storage.
//
// Replies and events have bulk areas of their own, so a reply's space can be reserved before the
// vendor call that fills it (reserve_send) while deferred data still goes out on the events channel.
//
// Trust: each side keeps its own copy of the counter it writes (head for the producer, tail for the
// consumer) and validates everything it reads from the region, since the server must survive a
// hostile guest. What it cannot prevent: a guest rewriting a bulk message while the server reads it
// (TODO(security): the server-side decoder must read each bulk field once, or copy small parts out).
#include "transport/shm.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <poll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstring>
#include <new>
#include <utility>
#include <vector>

#include "common/log.h"
#include "transport/shared_region.h"
#include "transport/shm_layout.h"
#include "transport/spin.h"

namespace remora::transport {

namespace {

using namespace std::chrono_literals;

using namespace shm_layout;  // the region's layout and record format (shm_layout.h)

// A reserved piece of a message (reserve_send) starts this far into the bulk area, leaving room for
// what the message holds before it (a reply's headers and first results: a few dozen bytes).
constexpr size_t kReservedOffset = 64 * 1024;
// The guest's longest spin for a reply (reply_spin).
constexpr auto kGuestReplySpin = std::chrono::nanoseconds(100us);
// A sleeping waiter wakes at least this often to check that the peer is still alive.
constexpr auto kSleepSlice = 50ms;

// FUTEX_WAIT without FUTEX_PRIVATE_FLAG: the words are shared between processes.
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, std::chrono::nanoseconds timeout) {
  const auto ns = std::max<int64_t>(timeout.count(), 0);
  timespec ts{static_cast<time_t>(ns / 1000000000), static_cast<long>(ns % 1000000000)};
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake(std::atomic<uint32_t>* word, int count) {
  ::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

// The mapping, the liveness socket, and the bulk loans; shared by a side's calls and events channels
// and kept alive by any Message that still borrows bulk memory.
class Region final : public Lender, public std::enable_shared_from_this<Region> {
 public:
  Region(Fd sock, uint8_t* base, const Layout& layout, std::chrono::nanoseconds spin)
      : sock_(std::move(sock)), base_(base), layout_(layout), spin_(spin) {}
  ~Region() { ::munmap(base_, layout_.total_bytes); }

  ShmHeader* header() const { return reinterpret_cast<ShmHeader*>(base_); }
  RingControl* ring_control(int i) const { return &header()->rings[i]; }
  uint8_t* ring_data(int i) const { return base_ + layout_.ring_offset(i); }
  BulkControl* bulk_control(int i) const { return &header()->bulks[i]; }
  uint8_t* bulk_data(int i) const { return base_ + layout_.bulk_offset(i); }
  const Layout& layout() const { return layout_; }
  std::chrono::nanoseconds spin() const { return spin_; }
  int sock_fd() const { return sock_.get(); }

  // True once the peer's end of the socket is closed: it exited, crashed or dropped the session.
  bool peer_gone() const {
    pollfd p{sock_.get(), POLLIN | POLLRDHUP, 0};
    if (::poll(&p, 1, 0) <= 0) return false;
    if (p.revents & (POLLHUP | POLLRDHUP | POLLERR | POLLNVAL)) return true;
    char c;
    return ::recv(sock_.get(), &c, 1, MSG_PEEK | MSG_DONTWAIT) == 0;
  }

  // Lends bulk area `id`'s message to `out`. False if the area is already lent: the peer broke the
  // protocol by sending a second bulk message before the first was released.
  bool lend_bulk(int id, size_t offset, size_t size, Message* out) {
    out->reset();  // may release an earlier loan of this very area
    if (lent_[id].exchange(true, std::memory_order_acq_rel)) return false;
    keep_[id] = shared_from_this();
    out->lend(bulk_data(id) + offset, size, this, static_cast<uint64_t>(id));
    return true;
  }

  void give_back(uint64_t token) override {
    const int id = static_cast<int>(token);
    // Held until return: this may be the last reference, and the region must outlive the stores below.
    std::shared_ptr<Region> keep = std::move(keep_[id]);
    lent_[id].store(false, std::memory_order_release);
    release_bulk(id);
  }

  bool bulk_lent(int id) const { return lent_[id].load(std::memory_order_acquire); }

  // Hands bulk area `id` back to its senders.
  void release_bulk(int id) {
    BulkControl* b = bulk_control(id);
    b->busy.store(0, std::memory_order_seq_cst);
    if (b->waiters.load(std::memory_order_seq_cst) != 0) futex_wake(&b->busy, INT_MAX);
  }

 private:
  Fd sock_;
  uint8_t* base_;
  Layout layout_;
  std::chrono::nanoseconds spin_;
  // One loan per bulk area at a time; a loan keeps the region mapped even after its channels close.
  std::atomic<bool> lent_[kNumBulks] = {};
  std::shared_ptr<Region> keep_[kNumBulks];
};

// One side's end of a channel: receives on ring `rx` (or none), sends on ring `tx` (or none), sends
// large messages through bulk area `tx_bulk` and receives them from `rx_bulk`.
class ShmChannel final : public Channel {
 public:
  // `rx_spin`: the receiver's longest spin (spin.h); region_->spin() unless given.
  ShmChannel(std::shared_ptr<Region> region, int rx, int tx, int rx_bulk, int tx_bulk,
             std::chrono::milliseconds message_timeout = kMessageTimeout,
             std::chrono::nanoseconds rx_spin = std::chrono::nanoseconds(-1))
      : region_(std::move(region)), rx_(rx), tx_(tx), rx_bulk_(rx_bulk), tx_bulk_(tx_bulk),
        message_timeout_(message_timeout) {
    ring_bytes_ = region_->layout().ring_bytes;
    max_small_ = ring_bytes_ / 4;
    bulk_bytes_ = region_->layout().bulk_bytes;
    rx_spin_.set_max(rx_spin.count() >= 0 ? rx_spin : region_->spin());
    // The region is fresh, so both counters start at zero; afterwards only this object writes them.
    if (rx_ >= 0) rx_tail_ = region_->ring_control(rx_)->tail.load(std::memory_order_relaxed);
    if (tx_ >= 0) tx_head_ = region_->ring_control(tx_)->head.load(std::memory_order_relaxed);
  }
  ~ShmChannel() override { close(); }

  Status send(std::span<const wire::Segment> segments) override;
  uint8_t* reserve_send(size_t bytes) override;
  Status receive(Message* out, Deadline deadline) override;
  void expect_pause() override { rx_spin_.skip_next(); }
  void close() override;
  size_t max_message_size() const override { return bulk_bytes_ != 0 ? kMaxStreamedBytes : max_small_; }
  const char* kind() const override { return "shm"; }

 private:
  bool ring_closed(int ring) const {
    return region_->ring_control(ring)->closed.load(std::memory_order_acquire) != 0;
  }
  // kClosed if this channel or the ring was closed, or the peer died; Ok otherwise.
  Status check_open(int ring, bool check_peer) const;
  Status wait_readable(Deadline deadline, uint64_t* head);
  Status next_record(Deadline deadline, uint64_t* word, uint64_t* pos, uint64_t* avail);
  Status receive_streamed(Message* out, uint64_t total);
  Status bulk_record(uint64_t pos, uint64_t avail, uint64_t length, uint64_t* offset);
  Status send_bulk_part(std::span<const wire::Segment> segments, size_t* seg, size_t* seg_off, uint64_t part,
                        bool claimed);
  Status send_reserved(std::span<const wire::Segment> segments, uint64_t total);
  Status publish_bulk(uint64_t offset, uint64_t length);
  Status wait_writable(uint64_t need);
  Status reserve(uint64_t record, uint8_t** at);
  void publish();
  void release_tail();
  Status claim_bulk();
  Status malformed(const char* why);
  Status no_memory(uint64_t bytes);
  Status malformed_timeout();

  std::shared_ptr<Region> region_;
  const int rx_, tx_, rx_bulk_, tx_bulk_;
  const std::chrono::milliseconds message_timeout_;  // for each part of a streamed message
  size_t ring_bytes_ = 0, max_small_ = 0, bulk_bytes_ = 0;
  uint64_t rx_tail_ = 0;  // authoritative; the region's copy is for the producer only
  uint64_t tx_head_ = 0;  // authoritative; likewise
  AdaptiveSpin rx_spin_;  // the receiver's spin window (spin.h), at most region_->spin()
  // reserve_send's space: the tx bulk area is claimed, and the next send() on this channel uses it.
  uint8_t* reserved_ = nullptr;
  size_t reserved_bytes_ = 0;
  std::atomic<bool> closed_{false};
};

Status ShmChannel::check_open(int ring, bool check_peer) const {
  if (closed_.load(std::memory_order_acquire)) return Status(Code::kClosed, "shm channel closed");
  if (ring_closed(ring)) return Status(Code::kClosed, "peer closed the shm channel");
  if (check_peer && region_->peer_gone()) return Status(Code::kClosed, "peer went away");
  return Status::Ok();
}

Status ShmChannel::malformed(const char* why) {
  log::warn("shm: peer broke the ring protocol ({}); closing the channel", why);
  close();
  return Status(Code::kMalformed, std::string("shm: ") + why);
}

// The peer chose the size (a streamed total, or a ring record in a ring it sized): a host that cannot
// hold it ends the channel with a Status, never with an exception in the receiving thread.
Status ShmChannel::no_memory(uint64_t bytes) {
  const std::string why = "no host memory for an incoming message of " + std::to_string(bytes) + " bytes";
  log::warn("shm: {}; closing the channel", why);
  close();
  return Status(Code::kTooLarge, "shm: " + why);
}

Status ShmChannel::malformed_timeout() {
  const std::string why = "peer sent part of a streamed message and nothing more for " +
                          std::to_string(message_timeout_.count()) + " ms (message timeout)";
  log::warn("shm: {}; closing the channel", why);
  close();
  return Status(Code::kMalformed, "shm: " + why);
}

Status ShmChannel::wait_readable(Deadline deadline, uint64_t* head) {
  RingControl* c = region_->ring_control(rx_);
  *head = c->head.load(std::memory_order_acquire);
  if (*head != rx_tail_) return Status::Ok();
  // Spin briefly: a reply to a short call usually comes within microseconds, and a futex sleep and
  // wake cost several of those. How long is adaptive (spin.h).
  const std::chrono::nanoseconds spin = rx_spin_.next_window();
  if (spin.count() > 0) {
    const auto until = Clock::now() + spin;
    if (spin_until(until, [&] { return (*head = c->head.load(std::memory_order_acquire)) != rx_tail_; })) {
      rx_spin_.record(Clock::now() <= until);  // a late hit is a miss: see spin.h
      return Status::Ok();
    }
  }
  auto woke = [&] {
    if (spin.count() > 0) rx_spin_.record(false);
    return Status::Ok();
  };
  for (;;) {
    if (Status st = check_open(rx_, false); !st.ok()) return st;
    const uint32_t seq = c->rx_seq.load(std::memory_order_acquire);
    c->rx_sleeping.store(1, std::memory_order_relaxed);
    // Pairs with the producer's fence in publish(): either it sees rx_sleeping == 1 and wakes us, or
    // we see its new head here.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    *head = c->head.load(std::memory_order_acquire);
    if (*head != rx_tail_) {
      c->rx_sleeping.store(0, std::memory_order_relaxed);
      return woke();
    }
    const auto now = Clock::now();
    if (now >= deadline) {
      c->rx_sleeping.store(0, std::memory_order_relaxed);
      return Status(Code::kTimeout, "shm receive timed out");
    }
    const auto slice = deadline == Deadline::max()
                           ? std::chrono::nanoseconds(kSleepSlice)
                           : std::min<std::chrono::nanoseconds>(kSleepSlice, deadline - now);
    futex_wait(&c->rx_seq, seq, slice);
    c->rx_sleeping.store(0, std::memory_order_relaxed);
    *head = c->head.load(std::memory_order_acquire);
    if (*head != rx_tail_) return woke();
    // Messages the peer sent before it went away are still delivered: the head is checked first.
    if (Status st = check_open(rx_, true); !st.ok()) return st;
  }
}

void ShmChannel::release_tail() {
  RingControl* c = region_->ring_control(rx_);
  c->tail.store(rx_tail_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wait_writable's fence
  if (c->tx_sleeping.load(std::memory_order_relaxed) != 0) {
    c->tx_seq.fetch_add(1, std::memory_order_release);
    futex_wake(&c->tx_seq, 1);
  }
}

// Waits for the next record other than padding and reads its word once (the peer may change the
// memory under us); `pos` is its offset in the ring and `avail` the published bytes from there.
Status ShmChannel::next_record(Deadline deadline, uint64_t* word, uint64_t* pos, uint64_t* avail) {
  const uint8_t* data = region_->ring_data(rx_);
  for (;;) {
    uint64_t head;
    if (Status st = wait_readable(deadline, &head); !st.ok()) return st;
    *avail = head - rx_tail_;
    if (*avail > ring_bytes_ || *avail % 8 != 0) return malformed("ring head out of range");
    *pos = rx_tail_ & (ring_bytes_ - 1);
    *word = __atomic_load_n(reinterpret_cast<const uint64_t*>(data + *pos), __ATOMIC_RELAXED);
    if (!(*word & kPadFlag)) return Status::Ok();
    if (ring_bytes_ - *pos > *avail) return malformed("pad record past the head");
    rx_tail_ += ring_bytes_ - *pos;
  }
}

Status ShmChannel::receive(Message* out, Deadline deadline) {
  if (rx_ < 0) return Status(Code::kInvalid, "this shm channel only sends");
  if (closed_.load(std::memory_order_acquire)) return Status(Code::kClosed, "shm channel closed");
  uint64_t word, pos, avail;
  if (Status st = next_record(deadline, &word, &pos, &avail); !st.ok()) return st;
  const uint64_t length = word & kLengthMask;
  if (word & (kBulkFlag | kStreamFlag)) {
    if (rx_bulk_ < 0) return malformed("bulk record on a ring without a bulk area");
    if (word & kStreamFlag) {
      rx_tail_ += kRecordHeader;
      release_tail();
      return receive_streamed(out, length);
    }
    uint64_t offset;
    if (Status st = bulk_record(pos, avail, length, &offset); !st.ok()) return st;
    if (!region_->lend_bulk(rx_bulk_, offset, length, out)) return malformed("bulk area reused before release");
    return Status::Ok();
  }
  const uint64_t record = kRecordHeader + wire::pad8(length);
  if (length > max_small_ || record > avail || pos + record > ring_bytes_) {
    return malformed("ring record length out of range");
  }
  // Copied out so the ring space is free at once, whatever the caller does with the Message.
  uint8_t* dst = out->try_own(length);
  if (dst == nullptr) return no_memory(length);
  std::memcpy(dst, region_->ring_data(rx_) + pos + kRecordHeader, length);
  rx_tail_ += record;
  release_tail();
  return Status::Ok();
}

// Reads a bulk record's offset word (once: the peer may change it), checks that the message lies in
// the bulk area, and consumes the record.
Status ShmChannel::bulk_record(uint64_t pos, uint64_t avail, uint64_t length, uint64_t* offset) {
  if (kBulkRecord > avail || pos + kBulkRecord > ring_bytes_) return malformed("bulk record past the head");
  *offset = __atomic_load_n(reinterpret_cast<const uint64_t*>(region_->ring_data(rx_) + pos + kRecordHeader),
                            __ATOMIC_RELAXED);
  if (length > bulk_bytes_ || *offset > bulk_bytes_ - length || *offset % wire::kAlign != 0) {
    return malformed("bulk message outside the bulk area");
  }
  rx_tail_ += kBulkRecord;
  release_tail();
  return Status::Ok();
}

// Collects a streamed message's parts. Once the first record is in, the caller's deadline no longer
// applies (a timeout mid-message would lose the framing); peer death, the ring's closed flag and
// close() still end the wait, and so does a peer that sends no next part within message_timeout_
// (half a message, then nothing). Any of them ends the channel too: the framing is lost.
// TODO(perf): the parts go through one bulk area in turn, so sender and receiver copies do not
// overlap; two half-size slots would let them.
Status ShmChannel::receive_streamed(Message* out, uint64_t total) {
  if (total > kMaxStreamedBytes || total <= bulk_bytes_) return malformed("streamed message size out of range");
  uint8_t* dst = out->try_own(total);
  if (dst == nullptr) return no_memory(total);
  for (uint64_t got = 0; got < total;) {
    uint64_t word, pos, avail;
    if (Status st = next_record(after(message_timeout_), &word, &pos, &avail); !st.ok()) {
      out->reset();
      if (st.code() == Code::kTimeout) return malformed_timeout();
      // The framing went with the rest of the message: close, so that a later receive cannot take
      // the remaining parts for messages (a peer can clear the ring's closed flag again).
      close();
      return st;
    }
    const uint64_t part = word & kLengthMask;
    if ((word & (kBulkFlag | kStreamFlag)) != kBulkFlag || part == 0 || part > bulk_bytes_ || part > total - got) {
      out->reset();
      return malformed("bad part of a streamed message");
    }
    if (region_->bulk_lent(rx_bulk_)) {
      out->reset();
      return malformed("bulk area reused before release");
    }
    uint64_t offset;
    if (Status st = bulk_record(pos, avail, part, &offset); !st.ok()) {
      out->reset();
      return st;
    }
    std::memcpy(dst + got, region_->bulk_data(rx_bulk_) + offset, part);
    region_->release_bulk(rx_bulk_);
    got += part;
  }
  return Status::Ok();
}

Status ShmChannel::wait_writable(uint64_t need) {
  RingControl* c = region_->ring_control(tx_);
  auto has_room = [&](Status* bad) {
    const uint64_t used = tx_head_ - c->tail.load(std::memory_order_acquire);
    if (used > ring_bytes_) {
      *bad = malformed("ring tail out of range");
      return true;
    }
    return ring_bytes_ - used >= need;
  };
  Status bad;
  if (has_room(&bad)) return bad;
  if (spin_until(Clock::now() + region_->spin(), [&] { return has_room(&bad); })) return bad;
  for (;;) {
    if (Status st = check_open(tx_, false); !st.ok()) return st;
    const uint32_t seq = c->tx_seq.load(std::memory_order_acquire);
    c->tx_sleeping.store(1, std::memory_order_relaxed);
    std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with release_tail's fence
    if (has_room(&bad)) {
      c->tx_sleeping.store(0, std::memory_order_relaxed);
      return bad;
    }
    futex_wait(&c->tx_seq, seq, kSleepSlice);
    c->tx_sleeping.store(0, std::memory_order_relaxed);
    if (has_room(&bad)) return bad;
    if (Status st = check_open(tx_, true); !st.ok()) return st;
  }
}

// Makes room for a record of `record` bytes (writing a pad record first if it would cross the ring's
// end) and returns where it goes. The record becomes visible only at publish().
Status ShmChannel::reserve(uint64_t record, uint8_t** at) {
  uint8_t* data = region_->ring_data(tx_);
  uint64_t pos = tx_head_ & (ring_bytes_ - 1);
  const uint64_t pad = pos + record > ring_bytes_ ? ring_bytes_ - pos : 0;
  if (Status st = wait_writable(pad + record); !st.ok()) return st;
  if (pad != 0) {
    __atomic_store_n(reinterpret_cast<uint64_t*>(data + pos), kPadFlag, __ATOMIC_RELAXED);
    tx_head_ += pad;
    pos = 0;
  }
  *at = data + pos;
  return Status::Ok();
}

void ShmChannel::publish() {
  RingControl* c = region_->ring_control(tx_);
  c->head.store(tx_head_, std::memory_order_release);
  std::atomic_thread_fence(std::memory_order_seq_cst);  // pairs with wait_readable's fence
  if (c->rx_sleeping.load(std::memory_order_relaxed) != 0) {
    c->rx_seq.fetch_add(1, std::memory_order_release);
    futex_wake(&c->rx_seq, 1);
  }
}

// Waits until this direction's bulk area is free and takes it. A compare-and-swap: reserve_send
// claims it too, from the thread serving a call.
Status ShmChannel::claim_bulk() {
  BulkControl* b = region_->bulk_control(tx_bulk_);
  uint32_t expected = 0;
  if (b->busy.compare_exchange_strong(expected, 1, std::memory_order_acquire)) return Status::Ok();
  // Spin first, like a receiver: back-to-back large sends find the receiver releasing the previous
  // message moments later, and a futex round trip costs more than that.
  if (spin_until(Clock::now() + region_->spin(), [&] {
        expected = 0;
        return b->busy.load(std::memory_order_relaxed) == 0 &&
               b->busy.compare_exchange_strong(expected, 1, std::memory_order_acquire);
      }))
    return Status::Ok();
  b->waiters.fetch_add(1, std::memory_order_seq_cst);
  Status st;
  for (;;) {
    expected = 0;
    if (b->busy.compare_exchange_strong(expected, 1, std::memory_order_acquire)) break;
    // Returns at once if busy is no longer 1; give_back stores 0 before it checks `waiters`.
    futex_wait(&b->busy, 1, kSleepSlice);
    if (st = check_open(tx_, true); !st.ok()) break;
  }
  b->waiters.fetch_sub(1, std::memory_order_seq_cst);
  return st;
}

// The reserved space is inside the claimed tx bulk area, at kReservedOffset, so the message that
// holds it needs no other claim: if a segment starts there, the bytes before it go just below and
// the rest after it, and the reserved piece itself is not copied.
uint8_t* ShmChannel::reserve_send(size_t bytes) {
  if (tx_ < 0 || tx_bulk_ < 0 || reserved_ != nullptr || bytes <= max_small_) return nullptr;
  if (bulk_bytes_ < kReservedOffset || bytes > bulk_bytes_ - kReservedOffset) return nullptr;
  if (check_open(tx_, false).code() != Code::kOk) return nullptr;
  // Only if free now: waiting here, before the vendor call, could wait on the guest, which may be
  // waiting for this very call.
  uint32_t expected = 0;
  if (!region_->bulk_control(tx_bulk_)->busy.compare_exchange_strong(expected, 1, std::memory_order_acquire)) {
    return nullptr;
  }
  reserved_ = region_->bulk_data(tx_bulk_) + kReservedOffset;
  reserved_bytes_ = bytes;
  return reserved_;
}

Status ShmChannel::send(std::span<const wire::Segment> segments) {
  if (tx_ < 0) return Status(Code::kInvalid, "this shm channel only receives");
  uint64_t total = 0;
  for (const wire::Segment& s : segments) total += s.size;
  if (reserved_ != nullptr) return send_reserved(segments, total);
  if (Status st = check_open(tx_, false); !st.ok()) return st;

  if (total <= max_small_) {
    const uint64_t record = kRecordHeader + wire::pad8(total);
    uint8_t* at;
    if (Status st = reserve(record, &at); !st.ok()) return st;
    std::memcpy(at, &total, sizeof total);
    uint8_t* p = at + kRecordHeader;
    for (const wire::Segment& s : segments) {
      if (s.size != 0) std::memcpy(p, s.data, s.size);
      p += s.size;
    }
    tx_head_ += record;
    publish();
    return Status::Ok();
  }

  if (bulk_bytes_ == 0 || total > kMaxStreamedBytes) {
    return Status(Code::kTooLarge, "message of " + std::to_string(total) + " bytes exceeds the shm channel's limit of " +
                                       std::to_string(max_message_size()));
  }
  size_t seg = 0, seg_off = 0;
  if (total <= bulk_bytes_) return send_bulk_part(segments, &seg, &seg_off, total, false);
  uint8_t* at;
  if (Status st = reserve(kRecordHeader, &at); !st.ok()) return st;
  const uint64_t word = kStreamFlag | total;
  std::memcpy(at, &word, sizeof word);
  tx_head_ += kRecordHeader;
  publish();
  for (uint64_t sent = 0; sent < total;) {
    const uint64_t part = std::min<uint64_t>(bulk_bytes_, total - sent);
    if (Status st = send_bulk_part(segments, &seg, &seg_off, part, false); !st.ok()) return st;
    sent += part;
  }
  return Status::Ok();
}

// Sends a message while holding a reservation; the reservation ends here whatever happens.
Status ShmChannel::send_reserved(std::span<const wire::Segment> segments, uint64_t total) {
  uint8_t* const reserved = std::exchange(reserved_, nullptr);
  const size_t reserved_bytes = std::exchange(reserved_bytes_, 0);
  if (Status st = check_open(tx_, false); !st.ok()) {
    region_->release_bulk(tx_bulk_);
    return st;
  }
  size_t at = segments.size();
  uint64_t before = 0;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (segments[i].data == reserved && segments[i].size != 0) {
      at = i;
      break;
    }
    before += segments[i].size;
  }
  const bool in_place = at < segments.size() && segments[at].size <= reserved_bytes && before <= kReservedOffset &&
                        before % wire::kAlign == 0 && total - before <= bulk_bytes_ - kReservedOffset;
  if (!in_place) {
    // The reply did not use the space as planned (an error result, a short answer, a second large
    // result before it): send it as usual. Reserved bytes in it are copied out first, since the copy
    // into the area below may overwrite them.
    std::vector<uint8_t> copy;
    std::vector<wire::Segment> moved;
    std::span<const wire::Segment> segs = segments;
    if (at < segments.size()) {
      copy.assign(segments[at].data, segments[at].data + segments[at].size);
      moved.assign(segments.begin(), segments.end());
      moved[at].data = copy.data();
      segs = moved;
    }
    if (total > max_small_ && total <= bulk_bytes_) {
      size_t seg = 0, seg_off = 0;
      return send_bulk_part(segs, &seg, &seg_off, total, /*claimed=*/true);
    }
    region_->release_bulk(tx_bulk_);
    return send(segs);
  }
  uint8_t* p = reserved - before;
  for (size_t i = 0; i < segments.size(); ++i) {
    if (i != at && segments[i].size != 0) std::memcpy(p, segments[i].data, segments[i].size);
    p += segments[i].size;
  }
  return publish_bulk(kReservedOffset - before, total);
}

Status ShmChannel::publish_bulk(uint64_t offset, uint64_t length) {
  uint8_t* at;
  if (Status st = reserve(kBulkRecord, &at); !st.ok()) return st;
  const uint64_t record[2] = {kBulkFlag | length, offset};
  std::memcpy(at, record, sizeof record);
  tx_head_ += kBulkRecord;
  publish();
  return Status::Ok();
}

// Copies the next `part` bytes of the segments (from segment *seg, offset *seg_off) into the bulk area
// (claiming it first unless `claimed`) and publishes a bulk record for them.
Status ShmChannel::send_bulk_part(std::span<const wire::Segment> segments, size_t* seg, size_t* seg_off,
                                  uint64_t part, bool claimed) {
  if (!claimed) {
    if (Status st = claim_bulk(); !st.ok()) return st;
  }
  uint8_t* p = region_->bulk_data(tx_bulk_);
  for (uint64_t left = part; left > 0;) {
    const wire::Segment& s = segments[*seg];
    const size_t n = std::min<uint64_t>(left, s.size - *seg_off);
    if (n != 0) std::memcpy(p, s.data + *seg_off, n);
    p += n;
    left -= n;
    *seg_off += n;
    if (*seg_off == s.size) {
      ++*seg;
      *seg_off = 0;
    }
  }
  return publish_bulk(0, part);
}

void ShmChannel::close() {
  if (closed_.exchange(true, std::memory_order_acq_rel)) return;
  // Mark the rings closed for both sides, then wake every waiter that could be blocked on them so it
  // sees the flag now rather than at its next liveness check.
  for (int ring : {rx_, tx_}) {
    if (ring < 0) continue;
    RingControl* c = region_->ring_control(ring);
    c->closed.store(1, std::memory_order_seq_cst);
    c->rx_seq.fetch_add(1, std::memory_order_release);
    c->tx_seq.fetch_add(1, std::memory_order_release);
    futex_wake(&c->rx_seq, INT_MAX);
    futex_wake(&c->tx_seq, INT_MAX);
  }
  for (int bulk : {rx_bulk_, tx_bulk_}) {
    if (bulk >= 0) futex_wake(&region_->bulk_control(bulk)->busy, INT_MAX);
  }
}

// How long the guest spins for a reply: longer than the server spins for a request. A call is in
// flight, so the reply will come, and a blocking one (a small write, a launch + clFinish) takes the
// vendor 10-40 us on a CPU device. Sleeping through it costs more than the wake-up: the guest's core
// goes idle, the vendor's worker threads are then woken onto it through the hypervisor (30-40 us
// here), and so is the guest. With a 20 us window such calls were caught only while the vendor was
// fast, so the window collapsed once and stayed collapsed (a 4-byte write: 13 us -> 80 us). The
// adaptive policy (spin.h) still gives the window up when it does not pay.
std::chrono::nanoseconds reply_spin(std::chrono::nanoseconds offered) {
  return offered.count() == 0 ? offered : std::max<std::chrono::nanoseconds>(offered, kGuestReplySpin);
}

Status map_region(int fd, size_t bytes, uint8_t** out) {
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) return io_error("mmap shm region", errno);
  *out = static_cast<uint8_t*>(p);
  return Status::Ok();
}

}  // namespace

Status shm_serve(Fd sock, const ShmConfig& cfg, Connection* out) {
  Layout layout;
  if (Status st = make_layout(cfg.ring_bytes, cfg.bulk_bytes, &layout); !st.ok()) return st;
  Fd memfd(::memfd_create("remora-shm", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!memfd.valid()) return io_error("memfd_create", errno);
  if (::ftruncate(memfd.get(), static_cast<off_t>(layout.total_bytes)) != 0) return io_error("ftruncate shm", errno);
  // Sealed: the guest holds the descriptor too, and shrinking it would make our accesses fault.
  if (::fcntl(memfd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    return io_error("seal shm region", errno);
  }
  uint8_t* base;
  if (Status st = map_region(memfd.get(), layout.total_bytes, &base); !st.ok()) return st;
  auto* h = new (base) ShmHeader{};
  h->magic = kShmMagic;
  h->version = kShmVersion;
  h->total_bytes = layout.total_bytes;
  h->ring_bytes = layout.ring_bytes;
  h->bulk_bytes = layout.bulk_bytes;
  const ShmOffer offer{kShmMagic, kShmVersion, 0, layout.total_bytes, layout.ring_bytes, layout.bulk_bytes,
                       static_cast<int64_t>(cfg.spin.count())};
  out->peer_pid = peer_pid(sock.get());
  out->peer = peer_name(sock.get());
  auto region = std::make_shared<Region>(std::move(sock), base, layout, cfg.spin);  // owns the mapping now
  Status st = send_fd(region->sock_fd(), memfd.get(),
                      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&offer), sizeof offer));
  if (!st.ok()) return st;
  out->calls =
      std::make_unique<ShmChannel>(region, kRequests, kReplies, kGuestToServer, kServerToGuest, cfg.message_timeout);
  out->events = std::make_unique<ShmChannel>(region, -1, kEvents, -1, kEventsToGuest);
  out->regions = make_socket_region_link(region->sock_fd(), region);
  return Status::Ok();
}

Status shm_attach(Fd sock, Deadline deadline, Connection* out) {
  ShmOffer offer{};
  Fd memfd;
  Status st = recv_fd(sock.get(), &memfd, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&offer), sizeof offer),
                      deadline);
  if (!st.ok()) return st;
  if (offer.magic != kShmMagic || offer.version != kShmVersion) {
    return Status(Code::kRefused, "shm region version " + std::to_string(offer.version) + " (server) does not match " +
                                      std::to_string(kShmVersion) + " (guest), or bad magic");
  }
  Layout layout;
  if (st = make_layout(offer.ring_bytes, offer.bulk_bytes, &layout); !st.ok()) return st;
  if (layout.total_bytes != offer.total_bytes || layout.bulk_bytes != offer.bulk_bytes) {
    return Status(Code::kMalformed, "shm offer sizes are inconsistent");
  }
  struct stat sb {};
  if (::fstat(memfd.get(), &sb) != 0) return io_error("fstat shm region", errno);
  if (static_cast<uint64_t>(sb.st_size) != layout.total_bytes) {
    return Status(Code::kMalformed, "shm region is " + std::to_string(sb.st_size) + " bytes, offer says " +
                                        std::to_string(layout.total_bytes));
  }
  const int seals = ::fcntl(memfd.get(), F_GET_SEALS);
  if (seals < 0 || !(seals & F_SEAL_SHRINK)) return Status(Code::kMalformed, "shm region is not sealed against shrinking");
  uint8_t* base;
  if (st = map_region(memfd.get(), layout.total_bytes, &base); !st.ok()) return st;
  const auto spin = std::chrono::nanoseconds(std::clamp<int64_t>(offer.spin_ns, 0, 1000000));
  out->peer_pid = peer_pid(sock.get());
  out->peer = peer_name(sock.get());
  auto region = std::make_shared<Region>(std::move(sock), base, layout, spin);
  const ShmHeader* h = region->header();
  if (h->magic != kShmMagic || h->version != kShmVersion || h->total_bytes != layout.total_bytes ||
      h->ring_bytes != layout.ring_bytes || h->bulk_bytes != layout.bulk_bytes) {
    return Status(Code::kMalformed, "shm region header does not match the offer");
  }
  out->calls = std::make_unique<ShmChannel>(region, kReplies, kRequests, kServerToGuest, kGuestToServer,
                                            kMessageTimeout, reply_spin(spin));
  out->events = std::make_unique<ShmChannel>(region, kEvents, -1, kEventsToGuest, -1);
  out->regions = make_socket_region_link(region->sock_fd(), region);
  return Status::Ok();
}

}  // namespace remora::transport
