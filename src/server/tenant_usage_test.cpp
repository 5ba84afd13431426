#include "server/tenant_usage.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <optional>
#include <chrono>
#include <thread>

namespace remora::server {
namespace {

TenantLimits limits(uint64_t device_memory, uint64_t calls_per_second, uint32_t weight = 1) {
  TenantLimits l;
  l.device_memory = device_memory;
  l.calls_per_second = calls_per_second;
  l.weight = weight;
  return l;
}

TEST(TenantUsage, QuotaHoldsAcrossProcessesAndCrashedSessionsAreRefunded) {
  TenantUsage daemon;
  ASSERT_TRUE(TenantUsage::create("alice", &daemon).ok());
  daemon.set_limits(limits(100, 0));
  const int s0 = daemon.acquire_slot();
  const int s1 = daemon.acquire_slot();
  ASSERT_EQ(s0, 0);
  ASSERT_EQ(s1, 1);

  // A "session process": maps the block through its own descriptor, takes 60 and dies holding it.
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    TenantUsage session;
    if (!TenantUsage::attach(::dup(daemon.fd()), &session).ok()) _exit(2);
    _exit(session.try_charge(s1, 60) ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);

  TenantUsage session;
  ASSERT_TRUE(TenantUsage::attach(::dup(daemon.fd()), &session).ok());
  EXPECT_FALSE(session.try_charge(s0, 60)) << "60 + 60 is over the tenant's 100";
  EXPECT_TRUE(session.try_charge(s0, 40));
  EXPECT_FALSE(session.try_charge(s0, 1));
  EXPECT_EQ(daemon.snapshot().device_memory_in_use, 100u);
  EXPECT_EQ(daemon.snapshot().quota_refusals, 2u);

  // The daemon reaps the dead session: its 60 come back.
  EXPECT_EQ(daemon.release_slot(s1), 60u);
  EXPECT_EQ(daemon.snapshot().device_memory_in_use, 40u);
  EXPECT_TRUE(session.try_charge(s0, 60));
  session.refund(s0, 100);
  EXPECT_EQ(daemon.release_slot(s0), 0u) << "a session that refunded everything leaves nothing";
  EXPECT_EQ(daemon.snapshot().device_memory_in_use, 0u);

  // A limit change reaches running sessions at once; 0 is unlimited.
  daemon.set_limits(limits(0, 0));
  EXPECT_TRUE(session.try_charge(s0, uint64_t{1} << 50));
}

TEST(TenantUsage, OverflowingChargeIsRefused) {
  TenantUsage u;
  ASSERT_TRUE(TenantUsage::create("t", &u).ok());
  u.set_limits(limits(1000, 0));
  EXPECT_TRUE(u.try_charge(0, 10));
  EXPECT_FALSE(u.try_charge(0, ~uint64_t{0}));
  EXPECT_EQ(u.snapshot().device_memory_in_use, 10u);
}

TEST(TenantUsage, SlotsRunOut) {
  TenantUsage u;
  ASSERT_TRUE(TenantUsage::create("t", &u).ok());
  for (uint32_t i = 0; i < kUsageSlots; ++i) ASSERT_EQ(u.acquire_slot(), static_cast<int>(i));
  EXPECT_EQ(u.acquire_slot(), -1);
  u.release_slot(7);
  EXPECT_EQ(u.acquire_slot(), 7);
}

TEST(TenantUsage, AttachRejectsAForeignFile) {
  char path[] = "/tmp/remora-usage-XXXXXX";
  const int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::unlink(path);
  ASSERT_EQ(::write(fd, "hello", 5), 5);
  TenantUsage u;
  Status st = TenantUsage::attach(fd, &u);
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("daemon and session binaries differ"), std::string::npos) << st.message();
}

TEST(TenantUsage, CallRateIsPacedAcrossSessions) {
  TenantUsage daemon;
  ASSERT_TRUE(TenantUsage::create("t", &daemon).ok());
  daemon.set_limits(limits(0, 2000));
  TenantUsage a, b;
  ASSERT_TRUE(TenantUsage::attach(::dup(daemon.fd()), &a).ok());
  ASSERT_TRUE(TenantUsage::attach(::dup(daemon.fd()), &b).ok());
  // 1000 calls at 2000/s with a 0.1 s burst allowance: at least ~0.4 s, whichever session makes them.
  const auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < 500; ++i) {
    (void)a.pace_call();
    (void)b.pace_call();
  }
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_GE(secs, 0.38);
  EXPECT_LE(secs, 1.5);
  EXPECT_GT(daemon.snapshot().rate_delays, 0u);

  daemon.set_limits(limits(0, 0));
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) (void)a.pace_call();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), 0.2) << "unlimited";
}

TEST(TenantUsage, DeviceVisibility) {
  TenantUsage u;
  ASSERT_TRUE(TenantUsage::create("t", &u).ok());
  TenantLimits l;
  u.set_limits(l);
  EXPECT_TRUE(u.device_visible(0));
  EXPECT_TRUE(u.device_visible(200));
  l.restrict_devices = true;
  l.visible_devices = 0b100;
  u.set_limits(l);
  EXPECT_FALSE(u.device_visible(0));
  EXPECT_TRUE(u.device_visible(2));
  EXPECT_FALSE(u.device_visible(64));
  l.visible_devices = 0;
  u.set_limits(l);
  EXPECT_FALSE(u.device_visible(2)) << "devices = []: nothing";
}

// A tenant's sessions through TenantPolicy, each a thread that "runs" commands of `command` device
// time by sleeping (the simulated device is not shared, so only the gate can make the split).
struct FakeTenant {
  TenantUsage daemon_side, session_side;
  std::optional<TenantPolicy> policy;
  FakeTenant(DeviceScheduler& sched, const char* name, uint32_t weight) {
    EXPECT_TRUE(TenantUsage::create(name, &daemon_side).ok());
    daemon_side.set_limits(limits(0, 0, weight));
    daemon_side.set_scheduler_entry(sched.add_tenant());
    EXPECT_TRUE(TenantUsage::attach(::dup(daemon_side.fd()), &session_side).ok());
    policy.emplace(&session_side, -1, &sched);
  }
  void run(std::chrono::milliseconds command, const std::atomic<bool>& stop) {
    while (!stop.load()) {
      policy->before_launch();
      std::this_thread::sleep_for(command);
      policy->launch_done(static_cast<uint64_t>(std::chrono::nanoseconds(command).count()));
    }
  }
};

TEST(DeviceScheduler, WeightsSplitDeviceTimeAndAnIdleTenantBanksNothing) {
  DeviceScheduler daemon;
  ASSERT_TRUE(DeviceScheduler::create(&daemon).ok());
  DeviceScheduler sched;
  ASSERT_TRUE(DeviceScheduler::attach(::dup(daemon.fd()), &sched).ok());
  FakeTenant light(sched, "light", 1), heavy(sched, "heavy", 3);

  // Alone: never waits.
  std::atomic<bool> stop{false};
  std::thread alone([&] { light.run(std::chrono::milliseconds(2), stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  stop = true;
  alone.join();
  EXPECT_EQ(light.daemon_side.snapshot().fair_waits, 0u);
  const uint64_t light_alone = light.daemon_side.snapshot().device_time_ns;
  EXPECT_GT(light_alone, 100'000'000u);

  // Both, after an idle spell of light: heavy starts at light's virtual time (no banked credit
  // for having been idle), then the device time splits 1:3.
  std::this_thread::sleep_for(std::chrono::nanoseconds(DeviceScheduler::kIdleNs) + std::chrono::milliseconds(30));
  stop = false;
  std::thread a([&] { light.run(std::chrono::milliseconds(2), stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  std::thread b([&] { heavy.run(std::chrono::milliseconds(2), stop); });
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  stop = true;
  a.join();
  b.join();
  const double l = static_cast<double>(light.daemon_side.snapshot().device_time_ns - light_alone);
  const double h = static_cast<double>(heavy.daemon_side.snapshot().device_time_ns);
  ASSERT_GT(l, 0);
  EXPECT_NEAR(h / l, 3.0, 0.45) << "light " << l / 1e9 << " s, heavy " << h / 1e9 << " s";
  EXPECT_GT(light.daemon_side.snapshot().fair_waits, 0u);
}

}  // namespace
}  // namespace remora::server
