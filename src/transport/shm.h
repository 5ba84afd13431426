// The shared-memory transport: one memfd holding three rings (requests, replies, events) and three
// bulk areas (requests, replies, events), set up over a unix socket that afterwards only watches for
// the peer's death.
//
// Rings are single-producer single-consumer byte rings with 8-aligned records. A receiver spins
// briefly, then sleeps on a futex, so an idle guest or server uses no CPU; a sender wakes the futex
// only when the receiver said it is sleeping. Messages too large for a ring go through the bulk area
// of that direction: the sender copies once into it and the receiver gets a Message that points into
// it (lent until released), so a large buffer transfer costs one copy, not a stream of small ones.
// A reply's large result can even be written into the replies area before it is sent (reserve_send),
// which makes that copy the vendor's own.
#pragma once

#include <memory>

#include "common/status.h"
#include "transport/channel.h"
#include "transport/sockets.h"

namespace remora::transport {

struct ShmConfig {
  size_t ring_bytes = size_t{1} << 20;   // per ring
  // Per direction; larger messages are sent in bulk-sized parts, reassembled in the receiver's own
  // (fresh) memory. Large enough for the transfers applications make (clpeak: 512 MiB) so that they
  // are lent straight from shared memory. Only address space until touched: the memfd is sparse, and
  // holds at most the largest message sent so far per direction once touched.
  size_t bulk_bytes = size_t{1} << 30;
  // The longest a receiver spins before sleeping. Kept short: on a 2-core machine a spinning receiver
  // competes with the sender it waits for. Each receiver shortens its own window, down to none, while
  // spinning does not pay (see ShmChannel::adapt_spin).
  std::chrono::nanoseconds spin = std::chrono::microseconds(20);
  // How long the server waits for the next part of a streamed request it has begun to receive
  // (channel.h, kMessageTimeout). The shm equivalent of half a frame on a socket.
  std::chrono::milliseconds message_timeout = kMessageTimeout;
};

// Server side: creates the region, sends it over `sock` (after the Welcome was sent), and returns the
// server's ends: calls (receives requests, sends replies) and events (sends). `sock` is kept inside to
// detect the guest going away.
Status shm_serve(Fd sock, const ShmConfig& cfg, Connection* out);
// Guest side: receives the region over `sock` (after the Welcome was received) and returns the guest's
// ends: calls (sends requests, receives replies) and events (receives).
Status shm_attach(Fd sock, Deadline deadline, Connection* out);

}  // namespace remora::transport
