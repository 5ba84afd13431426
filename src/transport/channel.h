// The transport interface: reliable, ordered, message-oriented channels.
//
// Backends: shm.cpp (shared memory), stream_channel.cpp (unix and tcp), memory_channel.cpp
// (in-process, for tests). Everything above (guest runtime, server sessions) is written against
// Channel only, and the tests run over every backend. A session uses two channels: `calls` (requests and replies) and `events` (server -> guest
// callbacks and deferred data). See common/protocol.h.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/host_block.h"
#include "common/status.h"
#include "common/wire.h"

namespace remora::transport {

using Clock = std::chrono::steady_clock;
// Default time a receiver gives a peer that has begun a message to make progress on it (stream: the
// next bytes of a frame; shm: the next part of a streamed message). Past it the channel breaks with
// kMalformed. It never applies between messages: an idle peer is not a broken one.
inline constexpr std::chrono::milliseconds kMessageTimeout{30000};
// Default time a TCP peer may be unreachable before its socket fails (sockets.h, set_tcp_timeout).
inline constexpr std::chrono::milliseconds kTcpTimeout{25000};
using Deadline = Clock::time_point;
inline Deadline no_deadline() { return Deadline::max(); }
inline Deadline after(std::chrono::nanoseconds d) { return Clock::now() + d; }

// Something that can take back transport memory lent to a Message (shm bulk area).
class Lender {
 public:
  virtual void give_back(uint64_t token) = 0;

 protected:
  ~Lender() = default;
};

// A received message. Its bytes are 8-byte aligned (wire.h relies on it) and stay valid until the
// Message is destroyed, reset or reused by another receive.
class Message {
 public:
  Message() = default;
  Message(const Message&) = delete;
  Message& operator=(const Message&) = delete;
  Message(Message&& o) noexcept { *this = std::move(o); }
  Message& operator=(Message&& o) noexcept;
  ~Message() { reset(); }

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }

  // For backends: fill owned storage (capacity is reused across receives). Throws std::bad_alloc
  // when the host has no memory for it.
  uint8_t* own(size_t size);
  // The same, but null (and the Message empty) when the host has no memory for it. For a receive
  // whose size the peer chose: the peer must not be able to raise an exception in the receiver
  // (the guest library would take the application down with it), only end the channel.
  uint8_t* try_own(size_t size) noexcept;
  // For backends: lend transport memory; `lender->give_back(token)` runs when the Message lets go.
  void lend(const uint8_t* data, size_t size, Lender* lender, uint64_t token);
  void reset();
  // True while the bytes are transport memory lent by a Lender (the shm bulk area), which the peer
  // may still be able to write.
  bool lent() const { return lender_ != nullptr; }

 private:
  HostBlock storage_;  // at least 8-aligned (heap or page-aligned blocks)
  size_t capacity_ = 0;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  Lender* lender_ = nullptr;
  uint64_t token_ = 0;
};

class Channel {
 public:
  virtual ~Channel() = default;

  // Sends one message: the segments concatenated. Callers serialise sends on one channel (the
  // runtime holds a per-channel send lock); a backend need not be thread-safe for concurrent sends.
  // Blocks while the peer's receive space is full. Fails with kClosed once the peer is gone.
  virtual Status send(std::span<const wire::Segment> segments) = 0;

  // Optional zero copy for one large piece of the next message: memory inside the transport, at least
  // `bytes` long, for the caller to fill (a vendor writes a read's result straight into shared
  // memory), or nullptr where the backend has none or not now (the default). The next send() on this
  // channel must come from the same caller; it takes a segment that starts at the returned address
  // without copying it, and ends the reservation whatever the message holds.
  virtual uint8_t* reserve_send(size_t bytes) {
    (void)bytes;
    return nullptr;
  }

  // Waits for the next whole message. kTimeout at the deadline; kClosed when the peer has gone or
  // close() was called. One receiver at a time.
  virtual Status receive(Message* out, Deadline deadline) = 0;

  // The next receive is expected to wait long for a reason of the peer's own (kBatchPauseFollows):
  // it blocks at once, and the adaptive spin (spin.h) does not learn from it. A hint only.
  virtual void expect_pause() {}

  // Makes blocked and later send/receive calls fail with kClosed. Safe from any thread, idempotent.
  virtual void close() = 0;

  // Largest message this channel accepts (sends over it fail with kTooLarge).
  virtual size_t max_message_size() const = 0;

  // Backend name for logs and status ("shm", "unix", "tcp").
  virtual const char* kind() const = 0;
};

class RegionLink;  // transport/shared_region.h

// The two channels of one session plus what is known of the peer.
struct Connection {
  std::unique_ptr<Channel> calls;
  std::unique_ptr<Channel> events;
  // Shared memory regions beside the channels (transport/shared_region.h); null where the transport
  // cannot pass them (everything but shm).
  std::shared_ptr<RegionLink> regions;
  pid_t peer_pid = 0;        // from SO_PEERCRED on unix sockets; 0 over TCP
  std::string peer;          // for logs: "pid 1234" or "10.0.0.2:51234"
};

}  // namespace remora::transport
