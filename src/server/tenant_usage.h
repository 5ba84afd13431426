// Per-tenant usage shared between the daemon and the tenant's session processes.
//
// Each tenant has one small shared-memory block (a memfd the daemon creates and every session process
// of that tenant maps). The block holds the tenant's current limits (the daemon rewrites them on
// SIGHUP, so running sessions see new limits at once), its device memory in use across all its
// sessions, and cumulative counters for metrics. All fields are lock-free 64-bit atomics, which work
// across processes on a shared mapping.
//
// Device memory. A charge is a compare-and-add on the tenant's total, so two sessions cannot both
// pass a check that only one of them fits. Each session also owns a slot (given by the daemon) that
// mirrors what it holds: when the daemon reaps a session - however it ended, SIGKILL included - it
// subtracts what the slot still holds from the total and frees the slot, so a crashed session does
// not leak quota. (A process killed between the two updates leaves a one-charge error: acceptable.)
//
// Call rate. A shared GCRA (virtual scheduling) limiter: one atomic "theoretical arrival time" per
// tenant on CLOCK_MONOTONIC (system-wide). Each call advances it by 1/rate; a call arriving ahead of
// its slot by more than the burst allowance waits. Calls are delayed, never refused, so the API sees
// no new errors.
//
// Device time (fair sharing, docs/daemon.md): sessions add the device time of their commands to
// device_time_ns; the daemon reads it for metrics.
#pragma once

#include <sys/types.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>

#include "common/status.h"
#include "server/session.h"
#include "transport/sockets.h"

namespace remora::server {

// Sessions per tenant at once are capped by the slot count; max_sessions is capped to it at load.
inline constexpr uint32_t kUsageSlots = 256;

struct UsageSnapshot {
  uint64_t device_memory_limit = 0, calls_per_second = 0;
  uint64_t device_memory_in_use = 0;
  uint64_t calls = 0, bytes_in = 0, bytes_out = 0, errors = 0, quota_refusals = 0, rate_delays = 0;
  uint64_t device_time_ns = 0;
};

class TenantUsage {
 public:
  TenantUsage() = default;
  ~TenantUsage();
  TenantUsage(TenantUsage&& o) noexcept;
  TenantUsage& operator=(TenantUsage&& o) noexcept;

  // The daemon: a new zeroed block in a memfd named after the tenant.
  static Status create(const std::string& tenant, TenantUsage* out);
  // A session process: maps the block behind `fd` (which it then owns).
  static Status attach(int fd, TenantUsage* out);

  bool valid() const { return block_ != nullptr; }
  int fd() const { return fd_.get(); }

  // The daemon.
  void set_limits(uint64_t device_memory, uint64_t calls_per_second);
  // A free slot (marked in use), or -1 when all kUsageSlots are taken.
  int acquire_slot();
  // After the slot's session ended: returns what it still held to the tenant and frees the slot.
  // Returns the amount that was still held (non-zero only if the session did not end in order).
  uint64_t release_slot(int slot);
  UsageSnapshot snapshot() const;

  // A session process (slot: the one the daemon gave it).
  // Reserves `amount` of device memory if the tenant stays within its limit; else counts a refusal.
  bool try_charge(int slot, uint64_t amount);
  void refund(int slot, uint64_t amount);
  // Waits as long as the tenant's call rate requires before one more call (returns at once when
  // unlimited). Returns how long it waited.
  std::chrono::nanoseconds pace_call();
  void add_stats(uint64_t calls, uint64_t bytes_in, uint64_t bytes_out, uint64_t errors);
  void add_device_time(uint64_t ns);

 private:
  struct Block;
  transport::Fd fd_;
  Block* block_ = nullptr;
};

// The session process's Policy: the tenant's device memory quota, across its sessions, and its call
// rate. Session::charge calls may_charge then charged(+amount); the reservation is made atomically in
// may_charge, so charged() applies only refunds (negative deltas).
class TenantPolicy : public Policy {
 public:
  TenantPolicy(TenantUsage* usage, int slot) : usage_(usage), slot_(slot) {}
  bool may_charge(ResourceKind kind, uint64_t amount, uint64_t in_use) override;
  void charged(ResourceKind kind, int64_t delta) override;
  void before_call(uint32_t opcode) override;

 private:
  TenantUsage* usage_;
  int slot_;
};

}  // namespace remora::server
