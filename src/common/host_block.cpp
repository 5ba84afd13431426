#include "common/host_block.h"

#include <sys/mman.h>

#include <map>
#include <mutex>
#include <new>

namespace remora {

namespace {

constexpr size_t kPageBytes = 4096;

struct Pool {
  std::mutex mu;
  std::multimap<size_t, uint8_t*> free;  // by mapping size; guarded by mu
  size_t bytes = 0;                      // sum of free's sizes; guarded by mu
  size_t limit = kDefaultPoolBytes;      // guarded by mu
};

Pool& pool() {
  static Pool* p = new Pool;  // never destroyed: blocks may be released during exit
  return *p;
}

// Unmaps kept blocks, largest first, until at most `keep` bytes are kept. Called with p.mu held.
void shrink_locked(Pool& p, size_t keep) {
  while (!p.free.empty() && p.bytes > keep) {
    auto last = std::prev(p.free.end());
    ::munmap(last->second, last->first);
    p.bytes -= last->first;
    p.free.erase(last);
  }
}

}  // namespace

HostBlock acquire_host_block(size_t bytes) noexcept {
  if (bytes == 0) bytes = 1;
  if (bytes < kPooledMinBytes) return HostBlock(new (std::nothrow) uint8_t[bytes], HostBlockDeleter{0});
  if (bytes > SIZE_MAX - kPageBytes) return HostBlock(nullptr, HostBlockDeleter{0});
  const size_t want = (bytes + kPageBytes - 1) / kPageBytes * kPageBytes;
  {
    Pool& p = pool();
    std::lock_guard lock(p.mu);
    // The smallest kept block that fits, unless it is so much larger that keeping it for a bigger
    // request is better.
    auto it = p.free.lower_bound(want);
    if (it != p.free.end() && it->first / 4 * 3 <= want) {
      const size_t size = it->first;
      uint8_t* block = it->second;
      p.free.erase(it);
      p.bytes -= size;
      return HostBlock(block, HostBlockDeleter{size});
    }
  }
  void* m = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED) {
    // The kept blocks may be what stands in the way (RLIMIT_AS): give them back and try once more.
    {
      Pool& p = pool();
      std::lock_guard lock(p.mu);
      if (p.free.empty()) return HostBlock(nullptr, HostBlockDeleter{0});
      shrink_locked(p, 0);
    }
    m = ::mmap(nullptr, want, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return HostBlock(nullptr, HostBlockDeleter{0});
  }
  return HostBlock(static_cast<uint8_t*>(m), HostBlockDeleter{want});
}

void HostBlockDeleter::operator()(uint8_t* p) const noexcept {
  if (p == nullptr) return;
  if (bytes == 0) {
    delete[] p;
    return;
  }
  Pool& pl = pool();
  {
    std::lock_guard lock(pl.mu);
    // Room is made by dropping the largest kept blocks first; a block larger than the whole pool
    // is not kept.
    if (bytes <= pl.limit) shrink_locked(pl, pl.limit - bytes);
    if (pl.bytes + bytes <= pl.limit) {
      pl.free.emplace(bytes, p);
      pl.bytes += bytes;
      return;
    }
  }
  ::munmap(p, bytes);
}

void set_host_block_pool_limit(size_t bytes) noexcept {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  p.limit = bytes;
  shrink_locked(p, bytes);
}

size_t host_block_pool_limit() noexcept {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  return p.limit;
}

size_t pooled_host_bytes() noexcept {
  Pool& p = pool();
  std::lock_guard lock(p.mu);
  return p.bytes;
}

}  // namespace remora
