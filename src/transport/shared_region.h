// Shared memory regions beside a session's channels, for APIs whose host memory the device should
// reach directly (CUDA's page-locked allocations and copy staging: apis/cuda/guest/guest_host_memory.cpp).
//
// The server creates a region (a sealed memfd), maps it, and passes its descriptor to the guest over
// the session's RegionLink; the guest checks and maps it too. Data then moves through the region
// without passing through any message: a call names (region, offset, length) and the server, after
// checking them against the region's size, lets the vendor read or write there.
//
// Optional per transport: only shm sessions have a link (their unix socket can carry descriptors).
// Connection::regions is null elsewhere, and API glue falls back to sending bytes in messages.
//
// Trust: the server creates, sizes and seals the memfd itself, so a guest cannot shrink it under the
// server (no SIGBUS); the guest can write the region's bytes at any time, as it can its own memory,
// so the server never interprets them. The guest checks what it receives as well (size and seals).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "common/status.h"
#include "transport/channel.h"
#include "transport/sockets.h"

namespace remora::transport {

// One mapping of a region, unmapped when destroyed.
class SharedRegion {
 public:
  SharedRegion(uint8_t* base, size_t bytes) : base_(base), bytes_(bytes) {}
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  ~SharedRegion();
  uint8_t* base() const { return base_; }
  size_t size() const { return bytes_; }

 private:
  uint8_t* base_;
  size_t bytes_;
};

// Largest region either side creates or accepts.
inline constexpr uint64_t kMaxSharedRegionBytes = uint64_t{1} << 36;  // 64 GiB

// Server: a fresh region of `bytes` (rounded up to whole pages), mapped, with its descriptor for
// sending. The memfd is sealed against growing and shrinking.
Status create_shared_region(uint64_t bytes, Fd* fd, std::unique_ptr<SharedRegion>* out);
// Guest: maps a region received from the server after checking that it is `bytes` long and sealed.
// How the guest's page tables fill: kPopulate at once (a region whose pages the server already
// touched, e.g. registered with a driver), kOnTouch page by page as the guest uses them (a region
// that may be large and mostly unused: its memory is allocated only where someone writes).
enum class Populate { kPopulate, kOnTouch };
Status map_shared_region(const Fd& fd, uint64_t bytes, std::unique_ptr<SharedRegion>* out,
                         Populate populate = Populate::kPopulate);

// Carries region descriptors from the server to the guest. Sends are serialised by the caller (one
// region in flight per session); the guest receives each region right after the call that created
// it returned, so the next descriptor on the link is always that call's.
class RegionLink {
 public:
  virtual ~RegionLink() = default;
  // Server: passes `fd` of a region of `bytes`.
  virtual Status send_region(int fd, uint64_t bytes) = 0;
  // Guest: the next region's descriptor and size.
  virtual Status receive_region(Fd* fd, uint64_t* bytes, Deadline deadline) = 0;
};

// A link over a connected unix socket that stays owned elsewhere (the shm transport's liveness
// socket); `keep` keeps its owner alive as long as the link.
std::shared_ptr<RegionLink> make_socket_region_link(int sock, std::shared_ptr<void> keep);

}  // namespace remora::transport
