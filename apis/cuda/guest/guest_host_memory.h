// Page-locked host memory and host copies in the CUDA guest (host_memory.cpp).
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "cuda_guest.h"  // generated
#include "spec_helpers.h"
#include "transport/shared_region.h"

namespace remora::cuda::guest_glue {

// One cuMemAllocHost/cuMemHostAlloc allocation: a shared region the server registered (`region` set),
// or plain guest memory where the transport has no regions.
struct HostAllocation {
  size_t bytes = 0;
  remora_cu_host_region region = nullptr;
  std::unique_ptr<transport::SharedRegion> mapping;
};

// Copies memory with the calling thread and `helpers` more, each taking an equal part: one core's
// memcpy reaches a fraction of the memory bandwidth a pageable copy's DMA side could use.
class Copier {
 public:
  explicit Copier(unsigned helpers);
  ~Copier();
  Copier(const Copier&) = delete;
  Copier& operator=(const Copier&) = delete;
  // One copy at a time (the staging lock serialises callers).
  void copy(uint8_t* dst, const uint8_t* src, size_t bytes);

 private:
  struct Part {
    uint8_t* dst;
    const uint8_t* src;
    size_t bytes;
  };
  void helper(unsigned index);

  // Waits on mu_ and a condition variable, after spinning a while (kSpin in host_memory.cpp): the
  // copies come in bursts (a staged copy is chunk after chunk), and a helper woken from a sleep starts
  // 10-30 us late, a large part of a chunk's copy.
  std::mutex mu_;
  std::condition_variable work_cv_, done_cv_;
  std::vector<Part> parts_;                // parts_[i] is helper i's part of the current copy
  std::atomic<uint64_t> generation_{0};    // bumped per copy (under mu_); helpers run once per generation
  std::atomic<unsigned> pending_{0};       // helpers still copying
  std::atomic<bool> stopping_{false};
  std::vector<std::thread> threads_;
};

// A shared region for staging copies from and to pageable memory, in two halves of `chunk` bytes,
// and whether it could be made.
struct Staging {
  std::mutex mu;  // one staged copy at a time; held for the whole copy
  bool tried = false;
  size_t chunk = 0;
  remora_cu_host_region region = nullptr;
  std::unique_ptr<transport::SharedRegion> mapping;
  std::unique_ptr<Copier> copier;
};

struct HostMemory {
  std::mutex mu;  // guards allocations
  std::map<uintptr_t, HostAllocation> allocations;  // by base address
  std::mutex create_mu;  // one region creation at a time: the next descriptor on the link is its own
  Staging staging;
};

HostMemory& host_memory();  // library.cpp: part of the process's one guest

}  // namespace remora::cuda::guest_glue
