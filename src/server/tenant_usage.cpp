#include "server/tenant_usage.h"

#include <fcntl.h>
#include <linux/futex.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <thread>

#include "common/log.h"

namespace remora::server {

namespace {

using U64 = std::atomic<uint64_t>;
static_assert(U64::is_always_lock_free, "shared-memory counters need lock-free 64-bit atomics");

constexpr uint64_t kMagic = 0x52454d5553414745;  // "REMUSAGE"
constexpr uint64_t kVersion = 2;
constexpr uint64_t kSchedMagic = 0x52454d5343484544;  // "REMSCHED"
constexpr uint64_t kSchedVersion = 1;
// Burst allowance of the call-rate limiter, as a time: a tenant idle for a while may make this many
// seconds' worth of calls at once before pacing starts.
constexpr int64_t kBurstNs = 100'000'000;  // 0.1 s

int64_t monotonic_ns() {
  timespec ts{};
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1'000'000'000 + ts.tv_nsec;
}

// A memfd of `bytes`, sealed against resizing (a session must not shrink a block under the daemon:
// that would be a SIGBUS there), mapped shared.
Status create_block(const std::string& name, size_t bytes, transport::Fd* fd_out, void** out) {
  transport::Fd fd(::memfd_create(name.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) return io_error("memfd_create", errno);
  if (::ftruncate(fd.get(), static_cast<off_t>(bytes)) != 0) return io_error("ftruncate", errno);
  (void)::fcntl(fd.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL);
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return io_error("mmap", errno);
  *fd_out = std::move(fd);
  *out = p;
  return Status::Ok();
}

Status attach_block(transport::Fd& fd, size_t bytes, const char* what, void** out) {
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0) return io_error(std::string("fstat on the ") + what, errno);
  if (static_cast<size_t>(st.st_size) != bytes) {
    return Status(Code::kMalformed, std::string("the ") + what + " has " + std::to_string(st.st_size) +
                                        " bytes, expected " + std::to_string(bytes) +
                                        " (daemon and session binaries differ?)");
  }
  void* p = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (p == MAP_FAILED) return io_error(std::string("mmap of the ") + what, errno);
  *out = p;
  return Status::Ok();
}

// Process-shared futex on a word of a MAP_SHARED block (no FUTEX_PRIVATE_FLAG).
void futex_wait(std::atomic<uint32_t>* word, uint32_t expected, int64_t timeout_ns) {
  static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
  timespec ts{static_cast<time_t>(timeout_ns / 1'000'000'000), static_cast<long>(timeout_ns % 1'000'000'000)};
  (void)::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT, expected, &ts, nullptr, 0);
}

void futex_wake_all(std::atomic<uint32_t>* word) {
  (void)::syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE, INT_MAX, nullptr, nullptr, 0);
}

}  // namespace

struct TenantUsage::Block {
  uint64_t magic;
  uint64_t version;
  U64 device_memory_limit;  // 0: unlimited
  U64 calls_per_second;     // 0: unlimited
  U64 device_memory_in_use;
  U64 calls, bytes_in, bytes_out, errors, quota_refusals, rate_delays, device_time_ns;
  U64 fair_waits, fair_wait_ns;
  U64 weight;             // >= 1 once the daemon set the limits
  U64 restrict_devices;   // 1: only visible_devices
  U64 visible_devices;    // bit i: device index i
  std::atomic<int64_t> scheduler_entry;  // in the DeviceScheduler; -1: none
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
  void* p = nullptr;
  transport::Fd fd;
  if (Status st = create_block("remora-usage-" + tenant.substr(0, 200), sizeof(Block), &fd, &p); !st.ok()) return st;
  // A fresh memfd is zero-filled: every atomic starts at 0, which is a valid state for each (weight 0
  // reads as 1).
  TenantUsage u;
  u.fd_ = std::move(fd);
  u.block_ = static_cast<Block*>(p);
  u.block_->magic = kMagic;
  u.block_->version = kVersion;
  u.block_->scheduler_entry.store(-1);
  *out = std::move(u);
  return Status::Ok();
}

Status TenantUsage::attach(int raw_fd, TenantUsage* out) {
  transport::Fd fd(raw_fd);
  void* p = nullptr;
  if (Status st = attach_block(fd, sizeof(Block), "usage block", &p); !st.ok()) return st;
  TenantUsage u;
  u.fd_ = std::move(fd);
  u.block_ = static_cast<Block*>(p);
  if (u.block_->magic != kMagic || u.block_->version != kVersion) {
    return Status(Code::kMalformed, "the usage block has a different layout version (daemon and session binaries differ?)");
  }
  *out = std::move(u);
  return Status::Ok();
}

void TenantUsage::set_limits(const TenantLimits& limits) {
  block_->device_memory_limit.store(limits.device_memory);
  block_->calls_per_second.store(limits.calls_per_second);
  block_->weight.store(std::max<uint32_t>(1, limits.weight));
  block_->visible_devices.store(limits.visible_devices);
  block_->restrict_devices.store(limits.restrict_devices ? 1 : 0);
}

void TenantUsage::set_scheduler_entry(int entry) { block_->scheduler_entry.store(entry); }

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
  s.fair_waits = b.fair_waits.load(std::memory_order_relaxed);
  s.fair_wait_ns = b.fair_wait_ns.load(std::memory_order_relaxed);
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

void TenantUsage::add_fair_wait(std::chrono::nanoseconds waited) {
  block_->fair_waits.fetch_add(1, std::memory_order_relaxed);
  block_->fair_wait_ns.fetch_add(static_cast<uint64_t>(waited.count()), std::memory_order_relaxed);
}

uint32_t TenantUsage::weight() const {
  return static_cast<uint32_t>(std::max<uint64_t>(1, block_->weight.load(std::memory_order_relaxed)));
}

int TenantUsage::scheduler_entry() const {
  const int64_t e = block_->scheduler_entry.load(std::memory_order_relaxed);
  return e >= 0 && e < static_cast<int64_t>(DeviceScheduler::kEntries) ? static_cast<int>(e) : -1;
}

bool TenantUsage::device_visible(uint32_t index) const {
  if (block_->restrict_devices.load() == 0) return true;
  return index <= kMaxDeviceIndex && (block_->visible_devices.load() >> index & 1) != 0;
}

// ---- DeviceScheduler ---------------------------------------------------------------------------------

struct DeviceScheduler::Block {
  uint64_t magic;
  uint64_t version;
  std::atomic<uint32_t> completions;  // futex word: bumped by every command completion
  std::atomic<uint32_t> sleepers;     // sessions in futex_wait (completions wake only when > 0)
  // The system's virtual time: the least competing vtime as of the latest completion, never lowered.
  // Where a tenant coming back from idle starts when nobody else competes at that moment.
  std::atomic<int64_t> floor;
  struct Entry {
    U64 in_use;
    std::atomic<int64_t> vtime;        // device ns / weight, summed
    std::atomic<int64_t> last_active;  // CLOCK_MONOTONIC ns of the last gate entry, wait or completion
    std::atomic<int64_t> outstanding;  // commands on the device (all the tenant's sessions)
    std::atomic<int64_t> waiting;      // launches waiting at the gate
  } entries[kEntries];
};

DeviceScheduler::~DeviceScheduler() {
  if (block_ != nullptr) ::munmap(block_, sizeof(Block));
}

DeviceScheduler::DeviceScheduler(DeviceScheduler&& o) noexcept : fd_(std::move(o.fd_)), block_(o.block_) {
  o.block_ = nullptr;
}

DeviceScheduler& DeviceScheduler::operator=(DeviceScheduler&& o) noexcept {
  if (this != &o) {
    if (block_ != nullptr) ::munmap(block_, sizeof(Block));
    fd_ = std::move(o.fd_);
    block_ = o.block_;
    o.block_ = nullptr;
  }
  return *this;
}

Status DeviceScheduler::create(DeviceScheduler* out) {
  void* p = nullptr;
  transport::Fd fd;
  if (Status st = create_block("remora-scheduler", sizeof(Block), &fd, &p); !st.ok()) return st;
  DeviceScheduler d;
  d.fd_ = std::move(fd);
  d.block_ = static_cast<Block*>(p);
  d.block_->magic = kSchedMagic;
  d.block_->version = kSchedVersion;
  *out = std::move(d);
  return Status::Ok();
}

Status DeviceScheduler::attach(int raw_fd, DeviceScheduler* out) {
  transport::Fd fd(raw_fd);
  void* p = nullptr;
  if (Status st = attach_block(fd, sizeof(Block), "scheduler block", &p); !st.ok()) return st;
  DeviceScheduler d;
  d.fd_ = std::move(fd);
  d.block_ = static_cast<Block*>(p);
  if (d.block_->magic != kSchedMagic || d.block_->version != kSchedVersion) {
    return Status(Code::kMalformed, "the scheduler block has a different layout version (daemon and session binaries differ?)");
  }
  *out = std::move(d);
  return Status::Ok();
}

int DeviceScheduler::add_tenant() {
  for (uint32_t i = 0; i < kEntries; ++i) {
    uint64_t expected = 0;
    if (block_->entries[i].in_use.compare_exchange_strong(expected, 1)) return static_cast<int>(i);
  }
  return -1;
}

bool DeviceScheduler::competing(int entry, int64_t now_ns) const {
  const Block::Entry& e = block_->entries[entry];
  if (e.in_use.load(std::memory_order_relaxed) == 0) return false;
  const int64_t idle = now_ns - e.last_active.load();
  if (idle >= kStaleNs) return false;
  return e.outstanding.load() > 0 || e.waiting.load() > 0 || idle < kGraceNs;
}

int64_t DeviceScheduler::vtime(int entry) const { return block_->entries[entry].vtime.load(); }

int64_t DeviceScheduler::min_competing(int self, int64_t now_ns) const {
  int64_t least = INT64_MAX;
  // TODO(perf): a scan of every entry per launch; fine for the kEntries (1024) of one daemon, which a
  // launch-heavy guest pays for in microseconds. An "in use" high-water mark would bound it.
  for (uint32_t i = 0; i < kEntries; ++i) {
    if (static_cast<int>(i) == self || !competing(static_cast<int>(i), now_ns)) continue;
    least = std::min(least, block_->entries[i].vtime.load());
  }
  return least;
}

std::chrono::nanoseconds DeviceScheduler::before_launch(int entry, const std::atomic<int>& outstanding) {
  Block::Entry& me = block_->entries[entry];
  const int64_t start = monotonic_ns();
  // Coming back from idle: start at the least competing virtual time, so idling banked no credit
  // (and a tenant that ran alone for long does not make newcomers wait for it to "catch up").
  // (By time alone: counts a killed session left behind must not let the tenant keep its lag.)
  if (start - me.last_active.load() > kIdleNs) {
    int64_t target = min_competing(entry, start);
    if (target == INT64_MAX) target = block_->floor.load();
    int64_t v = me.vtime.load();
    while (v < target && !me.vtime.compare_exchange_weak(v, target)) {
    }
  }
  me.last_active.store(start);
  bool counted = false;
  int64_t now = start;
  for (;;) {
    const uint32_t seen = block_->completions.load();
    const int64_t least = min_competing(entry, now);
    if (least == INT64_MAX) break;  // alone: never wait
    if (me.vtime.load() - least <= kWindowNs && outstanding.load() < kMaxOutstanding) break;
    if (!counted) {
      me.waiting.fetch_add(1);
      counted = true;
    }
    // Woken by the next completion anywhere; the timeout notices a competitor going idle.
    block_->sleepers.fetch_add(1);
    futex_wait(&block_->completions, seen, kRecheckNs);
    block_->sleepers.fetch_sub(1);
    now = monotonic_ns();
    me.last_active.store(now);
  }
  if (counted) me.waiting.fetch_sub(1);
  return std::chrono::nanoseconds(now - start);
}

void DeviceScheduler::launched(int entry) { block_->entries[entry].outstanding.fetch_add(1); }

void DeviceScheduler::completed(int entry, uint64_t device_ns, uint32_t weight) {
  Block::Entry& me = block_->entries[entry];
  me.vtime.fetch_add(static_cast<int64_t>(device_ns / std::max<uint32_t>(1, weight)));
  me.last_active.store(monotonic_ns());
  me.outstanding.fetch_sub(1);
  const int64_t now = monotonic_ns();
  int64_t least = min_competing(-1, now);
  if (least == INT64_MAX) least = me.vtime.load();  // this tenant alone, now idle
  int64_t floor = block_->floor.load();
  while (floor < least && !block_->floor.compare_exchange_weak(floor, least)) {
  }
  block_->completions.fetch_add(1);
  if (block_->sleepers.load() > 0) futex_wake_all(&block_->completions);
}

bool TenantPolicy::may_charge(ResourceKind kind, uint64_t amount, uint64_t in_use) {
  if (kind != ResourceKind::kDeviceMemory) return true;
  return usage_->try_charge(slot_, amount);
}

void TenantPolicy::charged(ResourceKind kind, int64_t delta) {
  // Positive deltas were reserved by may_charge already.
  if (kind == ResourceKind::kDeviceMemory && delta < 0) usage_->refund(slot_, static_cast<uint64_t>(-delta));
}

void TenantPolicy::before_call(uint32_t opcode) { (void)usage_->pace_call(); }

TenantPolicy::~TenantPolicy() {
  // Completions of commands still on the device call launch_done on vendor threads; this object (and
  // the blocks it names) must outlive them. Bounded: a wedged device does not hold the process.
  for (int i = 0; i < 5000 && outstanding_.load() > 0; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  if (const int left = outstanding_.load(); left > 0)
    log::warn("{} device command(s) still running at the session's end; their device time is not counted", left);
}

int TenantPolicy::entry() const {
  return scheduler_ != nullptr && scheduler_->valid() ? usage_->scheduler_entry() : -1;
}

void TenantPolicy::before_launch() {
  if (const int e = entry(); e >= 0) {
    const auto waited = scheduler_->before_launch(e, outstanding_);
    if (waited.count() > 0) usage_->add_fair_wait(waited);
    scheduler_->launched(e);
  }
  outstanding_.fetch_add(1);
}

void TenantPolicy::launch_done(uint64_t device_ns) {
  usage_->add_device_time(device_ns);
  if (const int e = entry(); e >= 0) scheduler_->completed(e, device_ns, usage_->weight());
  // Last: the destructor may proceed once this reaches 0.
  outstanding_.fetch_sub(1);
}

bool TenantPolicy::device_visible(uint32_t index) { return usage_->device_visible(index); }

}  // namespace remora::server
