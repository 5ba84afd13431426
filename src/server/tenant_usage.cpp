#include "server/tenant_usage.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <thread>

#include "common/log.h"

namespace remora::server {

namespace {

using U64 = std::atomic<uint64_t>;
static_assert(U64::is_always_lock_free, "shared-memory counters need lock-free 64-bit atomics");

constexpr uint64_t kMagic = 0x52454d5553414745;  // "REMUSAGE"
constexpr uint64_t kVersion = 1;
// Burst allowance of the call-rate limiter, as a time: a tenant idle for a while may make this many
// seconds' worth of calls at once before pacing starts.
constexpr int64_t kBurstNs = 100'000'000;  // 0.1 s

int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace

struct TenantUsage::Block {
  uint64_t magic;
  uint64_t version;
  U64 device_memory_limit;  // 0: unlimited
  U64 calls_per_second;     // 0: unlimited
  U64 device_memory_in_use;
  U64 calls, bytes_in, bytes_out, errors, quota_refusals, rate_delays, device_time_ns;
  std::atomic<int64_t> rate_tat_ns;  // GCRA theoretical arrival time (CLOCK_MONOTONIC)
  struct Slot {
    U64 in_use;       // 1 while a session owns the slot
    U64 device_memory;
  } slots[kUsageSlots];
};

TenantUsage::~TenantUsage() {
  if (block_ != nullptr) ::munmap(block_, sizeof(Block));
}

TenantUsage::TenantUsage(TenantUsage&& o) noexcept : fd_(std::move(o.fd_)), block_(o.block_) { o.block_ = nullptr; }

TenantUsage& TenantUsage::operator=(TenantUsage&& o) noexcept {
  if (this != &o) {
    if (block_ != nullptr) ::munmap(block_, sizeof(Block));
    fd_ = std::move(o.fd_);
    block_ = o.block_;
    o.block_ = nullptr;
  }
  return *this;
}

Status TenantUsage::create(const std::string& tenant, TenantUsage* out) {
  // memfd names are capped at 249 bytes; the name is only for /proc/PID/fd listings.
  const std::string name = "remora-usage-" + tenant.substr(0, 200);
  transport::Fd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return io_error("memfd_create", errno);
  if (::ftruncate(fd.get(), sizeof(Block)) != 0) return io_error("ftruncate", errno);
  // Sessions must not be able to shrink the block under the daemon (a SIGBUS in the daemon).
  (void)::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  void* p = ::mmap(nullptr, sizeof(Block), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return io_error("mmap", errno);
  // A fresh memfd is zero-filled: every atomic starts at 0, which is a valid state for each.
  TenantUsage u;
  u.fd_ = std::move(fd);
  u.block_ = static_cast<Block*>(p);
  u.block_->magic = kMagic;
  u.block_->version = kVersion;
  *out = std::move(u);
  return Status::Ok();
}

Status TenantUsage::attach(int raw_fd, TenantUsage* out) {
  transport::Fd fd(raw_fd);
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error("fstat on the usage block", errno);
  if (static_cast<size_t>(st.st_size) != sizeof(Block)) {
    return Status(Code::kMalformed, "the usage block has " + std::to_string(st.st_size) + " bytes, expected " +
                                        std::to_string(sizeof(Block)) + " (daemon and session binaries differ?)");
  }
  void* p = ::mmap(nullptr, sizeof(Block), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return io_error("mmap of the usage block", errno);
  TenantUsage u;
  u.fd_ = std::move(fd);
  u.block_ = static_cast<Block*>(p);
  if (u.block_->magic != kMagic || u.block_->version != kVersion) {
    return Status(Code::kMalformed, "the usage block has a different layout version (daemon and session binaries differ?)");
  }
  *out = std::move(u);
  return Status::Ok();
}

void TenantUsage::set_limits(uint64_t device_memory, uint64_t calls_per_second) {
  block_->device_memory_limit.store(device_memory);
  block_->calls_per_second.store(calls_per_second);
}

int TenantUsage::acquire_slot() {
  for (uint32_t i = 0; i < kUsageSlots; ++i) {
    uint64_t expected = 0;
    if (block_->slots[i].in_use.compare_exchange_strong(expected, 1)) {
      block_->slots[i].device_memory.store(0);
      return static_cast<int>(i);
    }
  }
  return -1;
}

uint64_t TenantUsage::release_slot(int slot) {
  if (slot < 0 || slot >= static_cast<int>(kUsageSlots)) return 0;
  auto& s = block_->slots[slot];
  const uint64_t left = s.device_memory.exchange(0);
  if (left != 0) block_->device_memory_in_use.fetch_sub(left);
  s.in_use.store(0);
  return left;
}

UsageSnapshot TenantUsage::snapshot() const {
  const Block& b = *block_;
  UsageSnapshot s;
  s.device_memory_limit = b.device_memory_limit.load(std::memory_order_relaxed);
  s.calls_per_second = b.calls_per_second.load(std::memory_order_relaxed);
  s.device_memory_in_use = b.device_memory_in_use.load(std::memory_order_relaxed);
  s.calls = b.calls.load(std::memory_order_relaxed);
  s.bytes_in = b.bytes_in.load(std::memory_order_relaxed);
  s.bytes_out = b.bytes_out.load(std::memory_order_relaxed);
  s.errors = b.errors.load(std::memory_order_relaxed);
  s.quota_refusals = b.quota_refusals.load(std::memory_order_relaxed);
  s.rate_delays = b.rate_delays.load(std::memory_order_relaxed);
  s.device_time_ns = b.device_time_ns.load(std::memory_order_relaxed);
  return s;
}

bool TenantUsage::try_charge(int slot, uint64_t amount) {
  Block& b = *block_;
  const uint64_t limit = b.device_memory_limit.load();
  uint64_t cur = b.device_memory_in_use.load();
  for (;;) {
    // Overflow-safe form of cur + amount > limit.
    if (limit != 0 && (amount > limit || cur > limit - amount)) {
      b.quota_refusals.fetch_add(1, std::memory_order_relaxed);
      return false;
    }
    if (b.device_memory_in_use.compare_exchange_weak(cur, cur + amount)) break;
  }
  if (slot >= 0 && slot < static_cast<int>(kUsageSlots)) b.slots[slot].device_memory.fetch_add(amount);
  return true;
}

void TenantUsage::refund(int slot, uint64_t amount) {
  Block& b = *block_;
  // The slot first: a process killed between the two updates then leaves the total `amount` too high
  // (the tenant is under-served) rather than too low (it could exceed its quota).
  if (slot >= 0 && slot < static_cast<int>(kUsageSlots)) b.slots[slot].device_memory.fetch_sub(amount);
  b.device_memory_in_use.fetch_sub(amount);
}

std::chrono::nanoseconds TenantUsage::pace_call() {
  Block& b = *block_;
  const uint64_t rate = b.calls_per_second.load(std::memory_order_relaxed);
  if (rate == 0) return std::chrono::nanoseconds(0);
  const int64_t interval = std::max<int64_t>(1, static_cast<int64_t>(1'000'000'000 / rate));
  const int64_t now = monotonic_ns();
  int64_t tat = b.rate_tat_ns.load();
  int64_t next;
  do {
    // An idle tenant's TAT lags `now`; it may run ahead of now by at most the burst allowance.
    next = std::max(tat, now - kBurstNs) + interval;
  } while (!b.rate_tat_ns.compare_exchange_weak(tat, next));
  const int64_t wait = next - now;
  if (wait <= 0) return std::chrono::nanoseconds(0);
  b.rate_delays.fetch_add(1, std::memory_order_relaxed);
  std::this_thread::sleep_for(std::chrono::nanoseconds(wait));
  return std::chrono::nanoseconds(wait);
}

void TenantUsage::add_stats(uint64_t calls, uint64_t bytes_in, uint64_t bytes_out, uint64_t errors) {
  Block& b = *block_;
  b.calls.fetch_add(calls, std::memory_order_relaxed);
  b.bytes_in.fetch_add(bytes_in, std::memory_order_relaxed);
  b.bytes_out.fetch_add(bytes_out, std::memory_order_relaxed);
  b.errors.fetch_add(errors, std::memory_order_relaxed);
}

void TenantUsage::add_device_time(uint64_t ns) { block_->device_time_ns.fetch_add(ns, std::memory_order_relaxed); }

bool TenantPolicy::may_charge(ResourceKind kind, uint64_t amount, uint64_t in_use) {
  if (kind != ResourceKind::kDeviceMemory) return true;
  return usage_->try_charge(slot_, amount);
}

void TenantPolicy::charged(ResourceKind kind, int64_t delta) {
  // Positive deltas were reserved by may_charge already.
  if (kind == ResourceKind::kDeviceMemory && delta < 0) usage_->refund(slot_, static_cast<uint64_t>(-delta));
}

void TenantPolicy::before_call(uint32_t opcode) { (void)usage_->pace_call(); }

}  // namespace remora::server
