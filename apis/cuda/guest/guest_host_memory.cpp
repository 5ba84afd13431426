// Page-locked host memory and copies between host and device (cuda.spec.c, "Host memory").
//
// Over shm the session has a region link (transport/shared_region.h):
//  - cuMemAllocHost/cuMemHostAlloc return a shared region the server registered with its driver, and
//    a copy whose host range lies in one travels as (region, offset): the driver's own DMA from or to
//    memory the application reads and writes directly, with native semantics (an async copy is queued
//    on its stream and completes there; nothing waits in between).
//  - Copies from and to pageable memory of at least kStageMin bytes go through a staging region in
//    two halves, so the application-side memcpy of one chunk overlaps the DMA of the other.
// Without a link (tcp, unix), page-locked memory is plain guest memory and copies carry their bytes
// in the messages (the generated stubs).
#include <sys/mman.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "common/log.h"
#include "transport/spin.h"
#include "guest_glue.h"

namespace remora::cuda::guest_glue {
namespace {

// Smaller copies go in the messages: below this the transport's own copy costs less than a round
// trip per chunk.
constexpr size_t kStageMin = size_t{512} << 10;
// One staging half (REMORA_CUDA_STAGE_CHUNK overrides it). Large enough that a chunk's DMA dwarfs the
// round trip that starts it, small enough that both halves stay in the last-level cache (where the
// application-side copy writes or reads them and the DMA finds them).
constexpr size_t kStageChunk = size_t{2} << 20;
constexpr size_t kMinStageChunk = size_t{256} << 10, kMaxStageChunk = size_t{64} << 20;
// Threads that copy between the application's memory and the staging region, the caller included
// (REMORA_CUDA_COPY_THREADS overrides it): up to 4 (on the H100 host, 1 thread: 6-8 GB/s, 2: 9-13,
// 4: 12-17 against the driver's own 8-13 for pageable copies), and no more than a quarter of the
// cores, so a small machine keeps its cores for the application.
constexpr unsigned kMaxCopyThreads = 8;
unsigned default_copy_threads() { return std::clamp(std::thread::hardware_concurrency() / 4, 1u, 4u); }
// Below this a copy is not split between threads.
constexpr size_t kMinSplitBytes = size_t{512} << 10;

size_t env_size(const char* name, size_t fallback, size_t lo, size_t hi) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  if (end == nullptr || *end != '\0' || n < lo || n > hi) {
    log::warn("ignoring {}={}: must be a number from {} to {}", name, v, lo, hi);
    return fallback;
  }
  return static_cast<size_t>(n);
}
// How long the guest waits for a region's descriptor after the server said it sent it.
constexpr auto kRegionReceiveTimeout = std::chrono::seconds(10);

// Creates a region on the server and maps it here. NOT_SUPPORTED where the transport has no link.
CUresult create_region(size_t bytes, remora_cu_host_region* region, std::unique_ptr<transport::SharedRegion>* mapping) {
  guest::Runtime& rt = remora_cuda_runtime();
  if (!rt.ensure_connected().ok()) return CUDA_ERROR_DEVICE_UNAVAILABLE;
  transport::RegionLink* link = rt.regions();
  // REMORA_CUDA_HOST_REGIONS=0 turns regions off (comparisons, and a way out should a driver refuse
  // shared memory): everything goes in messages as over tcp.
  const char* enabled = std::getenv("REMORA_CUDA_HOST_REGIONS");
  if (link == nullptr || (enabled != nullptr && std::strcmp(enabled, "0") == 0)) return CUDA_ERROR_NOT_SUPPORTED;
  std::lock_guard lock(host_memory().create_mu);
  remora_cu_host_region h = nullptr;
  CUresult r = remora_remote_remora_cuHostRegionCreate(&h, bytes);
  if (r != CUDA_SUCCESS) return r;
  transport::Fd fd;
  uint64_t size = 0;
  Status st = link->receive_region(&fd, &size, transport::after(kRegionReceiveTimeout));
  // The server rounds up to whole pages; anything else is not this call's region.
  if (st.ok() && (size < bytes || size - bytes >= 4096)) st = Status(Code::kMalformed, "region of an unexpected size");
  if (st.ok()) st = transport::map_shared_region(fd, size, mapping);
  if (!st.ok()) {
    log::error("cannot map a shared host region from the server: {}", st.message());
    (void)remora_remote_remora_cuHostRegionDestroy(h);
    rt.objects().retire(guest::Objects::as_object(h));
    return CUDA_ERROR_OPERATING_SYSTEM;
  }
  *region = h;
  return CUDA_SUCCESS;
}

void destroy_region(remora_cu_host_region region) {
  if (remora_remote_remora_cuHostRegionDestroy(region) == CUDA_SUCCESS)
    remora_cuda_runtime().objects().retire(guest::Objects::as_object(region));
}

// The region holding [p, p + bytes) and the offset of p in it, or false.
bool find_region(const void* p, size_t bytes, remora_cu_host_region* region, uint64_t* offset) {
  if (p == nullptr || bytes == 0) return false;
  const auto at = reinterpret_cast<uintptr_t>(p);
  HostMemory& hm = host_memory();
  std::lock_guard lock(hm.mu);
  auto it = hm.allocations.upper_bound(at);
  if (it == hm.allocations.begin()) return false;
  --it;
  const HostAllocation& a = it->second;
  if (a.region == nullptr) return false;
  const uint64_t off = at - it->first;
  if (off >= a.bytes || bytes > a.bytes - off) return false;
  *region = a.region;
  *offset = off;
  return true;
}

// The staging region with its mutex held, or nullptr (no link, or it could not be made).
Staging* lock_staging(std::unique_lock<std::mutex>* lock) {
  Staging& s = host_memory().staging;
  *lock = std::unique_lock(s.mu);
  if (!s.tried) {
    s.tried = true;
    s.chunk = env_size("REMORA_CUDA_STAGE_CHUNK", kStageChunk, kMinStageChunk, kMaxStageChunk) / 4096 * 4096;
    const CUresult r = create_region(2 * s.chunk, &s.region, &s.mapping);
    if (r != CUDA_SUCCESS && r != CUDA_ERROR_NOT_SUPPORTED)
      log::warn("no staging region for host copies (error {}): large copies go in messages", static_cast<int>(r));
    if (r == CUDA_SUCCESS)
      s.copier = std::make_unique<Copier>(
          static_cast<unsigned>(env_size("REMORA_CUDA_COPY_THREADS", default_copy_threads(), 1, kMaxCopyThreads)) - 1);
  }
  if (s.region == nullptr) {
    lock->unlock();
    return nullptr;
  }
  return &s;
}

// A chunk's mode. One chunk: the plain copy (`stream` null: the synchronous API's), or the copy and a
// wait for its stream. Several: each call waits for the stream (so the chunk before it is done and
// its half free again) before it queues its own chunk, and the last waits for its own as well.
unsigned int chunk_mode(size_t done, size_t chunk, size_t total, CUstream stream) {
  if (chunk == total) return stream == nullptr ? REMORA_CU_COPY_SYNC : REMORA_CU_COPY_ASYNC_WAIT;
  return done + chunk == total ? REMORA_CU_COPY_ASYNC_WAIT : REMORA_CU_COPY_WAIT_ASYNC;
}

// Host to device through the staging region, done when it returns (cuMemcpyHtoD's contract).
CUresult staged_htod(Staging& s, CUdeviceptr dst, const uint8_t* src, size_t bytes, CUstream stream) {
  for (size_t done = 0, k = 0; done < bytes; ++k) {
    const size_t chunk = std::min(s.chunk, bytes - done);
    const uint64_t half = (k % 2) * s.chunk;
    // Free: the call for the chunk before waited for the stream, so the DMA from this half is done.
    // The server waits for this chunk's call meanwhile.
    remora_cuda_runtime().announce_pause();
    s.copier->copy(s.mapping->base() + half, src + done, chunk);
    const CUresult r = remora_remote_remora_cuMemcpyHtoDRegion(dst + done, s.region, half, chunk, stream,
                                                               chunk_mode(done, chunk, bytes, stream));
    if (r != CUDA_SUCCESS) return r;
    done += chunk;
  }
  return CUDA_SUCCESS;
}

// Device to host through the staging region: the call for chunk k returns once chunk k - 1 is in its
// half (it waited for the stream), and that half is read out while chunk k's DMA runs.
CUresult staged_dtoh(Staging& s, uint8_t* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  size_t pending = 0, pending_at = 0;  // the chunk in flight: its size and where it goes
  uint64_t pending_half = 0;
  auto copy_out = [&] {
    remora_cuda_runtime().announce_pause();  // the server waits for the next call meanwhile
    s.copier->copy(dst + pending_at, s.mapping->base() + pending_half, pending);
  };
  for (size_t done = 0, k = 0; done < bytes; ++k) {
    const size_t chunk = std::min(s.chunk, bytes - done);
    const uint64_t half = (k % 2) * s.chunk;
    const CUresult r = remora_remote_remora_cuMemcpyDtoHRegion(s.region, half, src + done, chunk, stream,
                                                               chunk_mode(done, chunk, bytes, stream));
    if (r != CUDA_SUCCESS) return r;
    if (pending != 0) copy_out();
    pending = chunk;
    pending_at = done;
    pending_half = half;
    done += chunk;
  }
  // The last call waited for its own chunk too.
  if (pending != 0) copy_out();
  return CUDA_SUCCESS;
}

}  // namespace

// ---- Copier -------------------------------------------------------------------------------------------

Copier::Copier(unsigned helpers) : parts_(helpers) {
  for (unsigned i = 0; i < helpers; ++i) threads_.emplace_back([this, i] { helper(i); });
}

Copier::~Copier() {
  {
    std::lock_guard lock(mu_);
    stopping_ = true;
  }
  work_cv_.notify_all();
  for (std::thread& t : threads_) t.join();
}

namespace {

// How long a helper waits for the next copy, and the caller for the helpers, before sleeping.
constexpr auto kSpin = std::chrono::microseconds(200);

template <typename Ready>
bool spin_briefly(Ready ready) {
  return ready() || remora::transport::spin_until(std::chrono::steady_clock::now() + kSpin, ready);
}

}  // namespace

void Copier::copy(uint8_t* dst, const uint8_t* src, size_t bytes) {
  const size_t helpers = threads_.size();
  if (helpers == 0 || bytes < kMinSplitBytes) {
    std::memcpy(dst, src, bytes);
    return;
  }
  // Equal parts on 4 KiB boundaries; the caller takes the first and whatever is left over.
  const size_t part = bytes / (helpers + 1) / 4096 * 4096;
  for (size_t i = 0; i < helpers; ++i) {
    const size_t at = bytes - (helpers - i) * part;
    parts_[i] = Part{dst + at, src + at, part};
  }
  pending_.store(static_cast<unsigned>(helpers), std::memory_order_relaxed);
  {
    // Under the lock, so a helper that found no work and is about to sleep sees the change first.
    std::lock_guard lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);  // publishes parts_ and pending_
  }
  work_cv_.notify_all();
  std::memcpy(dst, src, bytes - helpers * part);
  if (spin_briefly([this] { return pending_.load(std::memory_order_acquire) == 0; })) return;
  std::unique_lock lock(mu_);
  done_cv_.wait(lock, [this] { return pending_.load(std::memory_order_acquire) == 0; });
}

void Copier::helper(unsigned index) {
  uint64_t seen = 0;
  for (;;) {
    auto has_work = [&] { return stopping_.load() || generation_.load(std::memory_order_acquire) != seen; };
    if (!spin_briefly(has_work)) {
      std::unique_lock lock(mu_);
      work_cv_.wait(lock, has_work);
    }
    if (stopping_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    const Part p = parts_[index];
    std::memcpy(p.dst, p.src, p.bytes);
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard lock(mu_);  // the caller checks pending_ under it before it sleeps
      done_cv_.notify_one();
    }
  }
}

}  // namespace remora::cuda::guest_glue

using namespace remora::cuda::guest_glue;

extern "C" {

// ---- Page-locked allocations ------------------------------------------------------------------------

CUresult remora_cu_mem_host_alloc(void** pp, size_t bytesize, unsigned int flags) {
  if (!initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  if (current_context() == nullptr) return CUDA_ERROR_INVALID_CONTEXT;
  if (pp == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  // A device-mapped allocation would need the device to reach the application's memory.
  if ((flags & CU_MEMHOSTALLOC_DEVICEMAP) != 0) return CUDA_ERROR_NOT_SUPPORTED;
  if ((flags & ~(CU_MEMHOSTALLOC_PORTABLE | CU_MEMHOSTALLOC_WRITECOMBINED)) != 0) return CUDA_ERROR_INVALID_VALUE;
  HostAllocation a;
  a.bytes = bytesize;
  void* p = nullptr;
  const CUresult r = create_region(bytesize, &a.region, &a.mapping);
  if (r == CUDA_SUCCESS) {
    p = a.mapping->base();
  } else if (r == CUDA_ERROR_NOT_SUPPORTED) {  // no shared regions here: plain memory
    if (::posix_memalign(&p, 4096, bytesize) != 0) return CUDA_ERROR_OUT_OF_MEMORY;
  } else {
    return r;
  }
  {
    std::lock_guard lock(host_memory().mu);
    host_memory().allocations.emplace(reinterpret_cast<uintptr_t>(p), std::move(a));
  }
  *pp = p;
  return CUDA_SUCCESS;
}

CUresult remora_cu_mem_alloc_host(void** pp, size_t bytesize) { return remora_cu_mem_host_alloc(pp, bytesize, 0); }

CUresult remora_cu_mem_free_host(void* p) {
  if (!initialized()) return CUDA_ERROR_NOT_INITIALIZED;
  HostAllocation a;
  {
    std::lock_guard lock(host_memory().mu);
    auto it = host_memory().allocations.find(reinterpret_cast<uintptr_t>(p));
    if (it == host_memory().allocations.end()) return CUDA_ERROR_INVALID_VALUE;
    a = std::move(it->second);
    host_memory().allocations.erase(it);
  }
  if (a.region == nullptr) {
    std::free(p);
    return CUDA_SUCCESS;
  }
  a.mapping.reset();  // our view first; the server then unregisters and unmaps its own
  destroy_region(a.region);
  return CUDA_SUCCESS;
}

// ---- Copies ------------------------------------------------------------------------------------------

namespace {

// What a synchronous copy of `bytes` lets the calling thread expect of its reply (spin.h): the DMA at
// a conservative 10 GB/s plus a round trip, so the reply is caught by spinning, not by a wake-up.
remora::transport::ExpectedWait expect_copy(size_t bytes) {
  return remora::transport::ExpectedWait(std::chrono::microseconds(20) + std::chrono::nanoseconds(bytes / 10));
}

}  // namespace

CUresult remora_cu_memcpy_htod(CUdeviceptr dst, const void* src, size_t bytes) {
  const remora::transport::ExpectedWait wait = expect_copy(bytes);
  remora_cu_host_region region;
  uint64_t offset;
  if (find_region(src, bytes, &region, &offset))
    return remora_remote_remora_cuMemcpyHtoDRegion(dst, region, offset, bytes, nullptr, REMORA_CU_COPY_SYNC);
  if (src != nullptr && bytes >= kStageMin) {
    std::unique_lock<std::mutex> lock;
    if (Staging* s = lock_staging(&lock))
      return staged_htod(*s, dst, static_cast<const uint8_t*>(src), bytes, nullptr);
  }
  return remora_remote_cuMemcpyHtoD_v2(dst, src, bytes);
}

CUresult remora_cu_memcpy_dtoh(void* dst, CUdeviceptr src, size_t bytes) {
  const remora::transport::ExpectedWait wait = expect_copy(bytes);
  remora_cu_host_region region;
  uint64_t offset;
  if (find_region(dst, bytes, &region, &offset))
    return remora_remote_remora_cuMemcpyDtoHRegion(region, offset, src, bytes, nullptr, REMORA_CU_COPY_SYNC);
  if (dst != nullptr && bytes >= kStageMin) {
    std::unique_lock<std::mutex> lock;
    if (Staging* s = lock_staging(&lock)) return staged_dtoh(*s, static_cast<uint8_t*>(dst), src, bytes, nullptr);
  }
  return remora_remote_cuMemcpyDtoH_v2(dst, src, bytes);
}

// From pageable memory the bytes still go in the message: the driver's own contract for such a copy
// is to stage the source before returning, without waiting for the stream, and the server's copy of
// the message is that staging.
CUresult remora_cu_memcpy_htod_async(CUdeviceptr dst, const void* src, size_t bytes, CUstream stream) {
  remora_cu_host_region region;
  uint64_t offset;
  if (find_region(src, bytes, &region, &offset))
    return remora_remote_remora_cuMemcpyHtoDRegion(dst, region, offset, bytes, stream, REMORA_CU_COPY_ASYNC);
  return remora_remote_cuMemcpyHtoDAsync_v2(dst, src, bytes, stream);
}

// Into page-locked memory the copy is queued and completes on the stream, as natively. Into pageable
// memory the call waits for the stream (as the message path does: the data must be in place before
// anything can observe the copy's completion).
CUresult remora_cu_memcpy_dtoh_async(void* dst, CUdeviceptr src, size_t bytes, CUstream stream) {
  const remora::transport::ExpectedWait wait = expect_copy(bytes);
  remora_cu_host_region region;
  uint64_t offset;
  if (find_region(dst, bytes, &region, &offset))
    return remora_remote_remora_cuMemcpyDtoHRegion(region, offset, src, bytes, stream, REMORA_CU_COPY_ASYNC);
  if (dst != nullptr && bytes >= kStageMin) {
    std::unique_lock<std::mutex> lock;
    if (Staging* s = lock_staging(&lock)) return staged_dtoh(*s, static_cast<uint8_t*>(dst), src, bytes, stream);
  }
  return remora_remote_cuMemcpyDtoHAsync_v2(dst, src, bytes, stream);
}

}  // extern "C"
