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
// device_time_ns; the daemon reads it for metrics. Sharing the device in proportion to the tenants'
// weights needs every tenant's progress, so that lives in one more block for the whole daemon, the
// DeviceScheduler below; the tenant's block names its entry there.
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

// A tenant's limits, as the daemon's config states them (daemon/daemon_config.h) and the session
// processes enforce them through the tenant's block.
struct TenantLimits {
  uint64_t device_memory = 0;     // bytes across all the tenant's sessions; 0: unlimited
  uint32_t max_sessions = 0;      // concurrent sessions; 0: unlimited
  uint64_t calls_per_second = 0;  // API calls across all the tenant's sessions; 0: unlimited
  uint32_t weight = 1;            // relative share of device time when tenants compete (>= 1)
  // Device visibility: when `restrict_devices`, the tenant sees only the devices whose bit is set in
  // `visible_devices` (bit i: index i of the server's device list as the OpenCL glue enumerates it:
  // platforms in order, each one's CL_DEVICE_TYPE_ALL devices in order, as `clinfo -l` lists them).
  // Indices 0..63.
  bool restrict_devices = false;
  uint64_t visible_devices = 0;
};
inline constexpr uint32_t kMaxDeviceIndex = 63;

// Sessions per tenant at once are capped by the slot count; max_sessions is capped to it at load.
inline constexpr uint32_t kUsageSlots = 256;

struct UsageSnapshot {
  uint64_t device_memory_limit = 0, calls_per_second = 0;
  uint64_t device_memory_in_use = 0;
  uint64_t calls = 0, bytes_in = 0, bytes_out = 0, errors = 0, quota_refusals = 0, rate_delays = 0;
  uint64_t device_time_ns = 0;
  uint64_t fair_waits = 0, fair_wait_ns = 0;  // launches the fair-share gate delayed, and for how long
};

// Fair sharing of device time across tenants (start-time fair queueing on measured device time).
//
// One shared block for the whole daemon, mapped by every session process: one entry per tenant with
// its virtual time (device nanoseconds divided by its weight) and whether it is competing for the
// device now. Before a launch, a session whose tenant's virtual time is more than kWindowNs ahead of
// the least among the other competing tenants waits (a futex on the block, woken by every command
// completion, with a short timeout so that a competitor going idle is noticed); so does a session
// with kMaxOutstanding commands of its own on the device while others compete, so that queued work
// cannot run far ahead of the accounting. A tenant alone never waits (work-conserving). A tenant that
// comes back after an idle spell longer than kIdleNs starts at the least competing virtual time:
// idling banks no credit.
//
// Competing: commands on the device, a launch waiting at the gate, or activity in the last kGraceNs;
// and always activity in the last kStaleNs, so that counts left behind by a killed session stop
// mattering within a second.
//
// TODO(security): every session process can write every entry (one mapping); a compromised session
// could distort the shares of others, not their quotas or data.
class DeviceScheduler {
 public:
  static constexpr uint32_t kEntries = 1024;
  static constexpr int64_t kWindowNs = 20'000'000;   // weighted device time a tenant may lead by
  static constexpr int64_t kGraceNs = 20'000'000;    // a tenant between two launches still competes
  // A tenant idle longer than this loses its lag when it comes back (no banked credit); shorter gaps
  // (a guest's host work, or its process starved of CPU for a moment) keep it.
  static constexpr int64_t kIdleNs = 200'000'000;
  static constexpr int64_t kStaleNs = 1'000'000'000;
  static constexpr int kMaxOutstanding = 2;          // per session, while others compete
  static constexpr int64_t kRecheckNs = 2'000'000;   // a waiting launch re-checks at least this often

  DeviceScheduler() = default;
  ~DeviceScheduler();
  DeviceScheduler(DeviceScheduler&& o) noexcept;
  DeviceScheduler& operator=(DeviceScheduler&& o) noexcept;

  static Status create(DeviceScheduler* out);      // the daemon
  static Status attach(int fd, DeviceScheduler* out);  // a session process (owns fd from here on)
  bool valid() const { return block_ != nullptr; }
  int fd() const { return fd_.get(); }

  // The daemon: an entry for a new tenant, or -1 when all are taken (that tenant is then not
  // scheduled: it never waits and others do not wait for it).
  int add_tenant();

  // A session, around each launch (TenantPolicy). `outstanding` is the session's own commands on the
  // device. Returns how long it waited.
  std::chrono::nanoseconds before_launch(int entry, const std::atomic<int>& outstanding);
  void launched(int entry);
  void completed(int entry, uint64_t device_ns, uint32_t weight);

  // Tests and metrics.
  int64_t vtime(int entry) const;
  bool competing(int entry, int64_t now_ns) const;

 private:
  struct Block;
  // The least virtual time among competing tenants other than `self`; INT64_MAX if none.
  int64_t min_competing(int self, int64_t now_ns) const;
  transport::Fd fd_;
  Block* block_ = nullptr;
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

  // The daemon. A scheduler entry of -1: the tenant's launches are not scheduled.
  void set_limits(const TenantLimits& limits);
  void set_scheduler_entry(int entry);
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
  void add_fair_wait(std::chrono::nanoseconds waited);
  uint32_t weight() const;
  int scheduler_entry() const;
  // Per-tenant device visibility (TenantLimits::devices).
  bool device_visible(uint32_t index) const;

 private:
  struct Block;
  transport::Fd fd_;
  Block* block_ = nullptr;
};

// The session process's Policy: the tenant's device memory quota, across its sessions, and its call
// rate. Session::charge calls may_charge then charged(+amount); the reservation is made atomically in
// may_charge, so charged() applies only refunds (negative deltas).
//
// Fair sharing: before_launch/launch_done go to the DeviceScheduler (when there is one) and the
// device time to the tenant's block. The destructor waits (up to a few seconds) for commands still on
// the device, whose completions call back into this object from vendor threads.
class TenantPolicy : public Policy {
 public:
  TenantPolicy(TenantUsage* usage, int slot, DeviceScheduler* scheduler = nullptr)
      : usage_(usage), slot_(slot), scheduler_(scheduler) {}
  ~TenantPolicy() override;
  bool may_charge(ResourceKind kind, uint64_t amount, uint64_t in_use) override;
  void charged(ResourceKind kind, int64_t delta) override;
  void before_call(uint32_t opcode) override;
  void before_launch() override;
  void launch_done(uint64_t device_ns) override;
  bool device_visible(uint32_t index) override;

 private:
  int entry() const;  // the tenant's scheduler entry, or -1
  TenantUsage* usage_;
  int slot_;
  DeviceScheduler* scheduler_;
  std::atomic<int> outstanding_{0};  // this session's commands on the device
};

}  // namespace remora::server
