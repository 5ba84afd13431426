#include "server/tenant_usage.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>

namespace remora::server {
namespace {

TEST(TenantUsage, QuotaHoldsAcrossProcessesAndCrashedSessionsAreRefunded) {
  TenantUsage daemon;
  ASSERT_TRUE(TenantUsage::create("alice", &daemon).ok());
  daemon.set_limits(100, 0);
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
  daemon.set_limits(0, 0);
  EXPECT_TRUE(session.try_charge(s0, uint64_t{1} << 50));
}

TEST(TenantUsage, OverflowingChargeIsRefused) {
  TenantUsage u;
  ASSERT_TRUE(TenantUsage::create("t", &u).ok());
  u.set_limits(1000, 0);
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
  daemon.set_limits(0, 2000);
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

  daemon.set_limits(0, 0);
  const auto t1 = std::chrono::steady_clock::now();
  for (int i = 0; i < 10000; ++i) (void)a.pace_call();
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count(), 0.2) << "unlimited";
}

}  // namespace
}  // namespace remora::server
