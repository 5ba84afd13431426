// The shared-memory transport's region layout and record format (shm.cpp describes both). Internal
// to the transport: shm.cpp is the only production user; the ring fuzz target
// (tests/fuzz/shm_ring_fuzz.cpp) and shm_test.cpp include it to play a hostile peer that writes the
// region directly. Nothing outside src/transport and its tests should include it.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace remora::transport::shm_layout {

inline constexpr uint64_t kShmMagic = 0x314d48534152'4d52;  // "RMRASHM1"
inline constexpr uint32_t kShmVersion = 2;
inline constexpr size_t kPageBytes = 4096;
inline constexpr uint64_t kPadFlag = uint64_t{1} << 63;
inline constexpr uint64_t kBulkFlag = uint64_t{1} << 62;
inline constexpr uint64_t kStreamFlag = uint64_t{1} << 61;
inline constexpr uint64_t kLengthMask = kStreamFlag - 1;
// Largest streamed message, as for the stream channels (sockets.h): 16 GiB.
inline constexpr uint64_t kMaxStreamedBytes = uint64_t{1} << 34;
inline constexpr size_t kRecordHeader = sizeof(uint64_t);
inline constexpr size_t kBulkRecord = 2 * sizeof(uint64_t);  // word, offset
// Limits accepted from configuration and from the peer's offer.
inline constexpr size_t kMinRingBytes = 4096;
inline constexpr size_t kMaxRingBytes = size_t{1} << 30;
inline constexpr size_t kMaxBulkBytes = size_t{1} << 36;

enum RingId { kRequests = 0, kReplies = 1, kEvents = 2, kNumRings = 3 };
enum BulkId { kGuestToServer = 0, kServerToGuest = 1, kEventsToGuest = 2, kNumBulks = 3 };

static_assert(std::atomic<uint64_t>::is_always_lock_free && std::atomic<uint32_t>::is_always_lock_free);
static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t), "futex words must be plain u32");

// One ring's control block. Producer- and consumer-written words sit on separate cache lines.
struct RingControl {
  alignas(64) std::atomic<uint64_t> head{0};  // written by the producer (release) once a record is whole
  alignas(64) std::atomic<uint64_t> tail{0};  // written by the consumer (release) once it is done with bytes
  // The consumer sets rx_sleeping before it sleeps on rx_seq; the producer bumps rx_seq and wakes it.
  alignas(64) std::atomic<uint32_t> rx_sleeping{0};
  std::atomic<uint32_t> rx_seq{0};
  // Likewise for a producer waiting for space.
  alignas(64) std::atomic<uint32_t> tx_sleeping{0};
  std::atomic<uint32_t> tx_seq{0};
  // Set by either side's close(); both sides then fail calls on this ring.
  alignas(64) std::atomic<uint32_t> closed{0};
};

// One bulk area's control block: it holds one message at a time.
struct BulkControl {
  alignas(64) std::atomic<uint32_t> busy{0};  // futex word: 1 from a sender's claim until the receiver releases
  std::atomic<uint32_t> waiters{0};           // senders waiting for busy == 0
};

struct ShmHeader {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved;
  uint64_t total_bytes;
  uint64_t ring_bytes;
  uint64_t bulk_bytes;
  RingControl rings[kNumRings];
  BulkControl bulks[kNumBulks];
};

// Sent with the memfd: what the guest needs to map and check the region.
struct ShmOffer {
  uint64_t magic;
  uint32_t version;
  uint32_t reserved;
  uint64_t total_bytes;
  uint64_t ring_bytes;
  uint64_t bulk_bytes;
  int64_t spin_ns;
};

struct Layout {
  size_t header_bytes, ring_bytes, bulk_bytes, total_bytes;
  size_t ring_offset(int i) const { return header_bytes + size_t(i) * ring_bytes; }
  size_t bulk_offset(int i) const { return header_bytes + kNumRings * ring_bytes + size_t(i) * bulk_bytes; }
};

constexpr size_t round_up(size_t n, size_t to) { return (n + to - 1) / to * to; }

inline Status make_layout(size_t ring_bytes, size_t bulk_bytes, Layout* out) {
  if (ring_bytes < kMinRingBytes || ring_bytes > kMaxRingBytes || (ring_bytes & (ring_bytes - 1)) != 0) {
    return Status(Code::kInvalid, "shm ring size " + std::to_string(ring_bytes) +
                                      " must be a power of two from 4 KiB to 1 GiB");
  }
  if (bulk_bytes > kMaxBulkBytes) return Status(Code::kInvalid, "shm bulk size over 64 GiB");
  out->header_bytes = round_up(sizeof(ShmHeader), kPageBytes);
  out->ring_bytes = ring_bytes;
  out->bulk_bytes = round_up(bulk_bytes, kPageBytes);
  out->total_bytes = out->header_bytes + kNumRings * out->ring_bytes + kNumBulks * out->bulk_bytes;
  return Status::Ok();
}

}  // namespace remora::transport::shm_layout
