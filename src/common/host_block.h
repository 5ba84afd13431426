// Host memory for message-sized data: received messages (transport::Message), a non-blocking
// write's bytes kept until its command completes and a non-blocking read's result kept until it is
// sent (the generated server's REMORA_DEFERRED parameters, server::DeferredOp::data).
//
// Small blocks come from the heap. Large ones (>= kPooledMinBytes) are mappings kept in a small
// per-process pool when released, so that a program streaming large non-blocking transfers reuses
// pages that are already there: a fresh mapping per call costs a page fault and a zeroed page for
// every 4 KiB (on this project's VMs, over half the server's time for 256 MiB non-blocking writes).
// The pool holds at most its limit (kDefaultPoolBytes unless set_host_block_pool_limit; the API server
// raises it, an application process keeps the default); a block is reused for a request of at least
// 3/4 its size, and when the host refuses a new mapping the pool is emptied and the request retried
// (an address-space limit counts pooled blocks too).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

namespace remora {

inline constexpr size_t kPooledMinBytes = size_t{1} << 20;
inline constexpr size_t kDefaultPoolBytes = size_t{256} << 20;

struct HostBlockDeleter {
  size_t bytes = 0;  // the block's whole size (pooled blocks: the mapping's), 0 for a heap block
  void operator()(uint8_t* p) const noexcept;
};
using HostBlock = std::unique_ptr<uint8_t[], HostBlockDeleter>;

// A block of at least `bytes` (0 is taken as 1), or null when the host has no memory for it.
HostBlock acquire_host_block(size_t bytes) noexcept;

// Bytes the pool currently keeps for reuse (tests, status).
size_t pooled_host_bytes() noexcept;
// The most the pool keeps; lowering it drops what is over.
void set_host_block_pool_limit(size_t bytes) noexcept;
size_t host_block_pool_limit() noexcept;

}  // namespace remora
