#include "transport/spin.h"

#include <gtest/gtest.h>

namespace remora::transport {
namespace {

using std::chrono::microseconds;
using std::chrono::nanoseconds;

TEST(AdaptiveSpin, StartsWholeAndStaysWholeWhileSpinningPays) {
  AdaptiveSpin s(microseconds(20));
  for (int i = 0; i < 100; ++i) {
    ASSERT_EQ(s.next_window(), microseconds(20));
    s.record(true);
  }
}

TEST(AdaptiveSpin, OneMissAloneDoesNotShrink) {
  AdaptiveSpin s(microseconds(20));
  for (int i = 0; i < 10; ++i) {
    s.next_window();
    s.record(i % 2 == 0);  // alternating: never kMissesBeforeShrinking in a row
    EXPECT_EQ(s.next_window(), microseconds(20));
  }
}

// Counts the waits until the window is gone, then checks that probes come at doubling intervals
// while they fail, and that one caught probe makes the window whole again.
TEST(AdaptiveSpin, ShrinksToNoneThenProbesLessAndLessOften) {
  AdaptiveSpin s(microseconds(20));
  int waits = 0;
  while (s.next_window().count() != 0) {
    s.record(false);
    ASSERT_LT(++waits, 20);
  }
  EXPECT_EQ(waits, AdaptiveSpin::kMissesBeforeShrinking - 1 + 4);  // 20 -> 10 -> 5 -> 2.5 -> 0

  // The wait that returned 0 above was the first of the count to the next probe.
  std::vector<int> gaps;
  int since = 1;
  while (gaps.size() < 10) {
    const nanoseconds w = s.next_window();
    ++since;
    if (w.count() == 0) continue;
    EXPECT_EQ(w, microseconds(20));  // a probe spins the whole window
    s.record(false);
    gaps.push_back(since);
    since = 0;
  }
  EXPECT_EQ(gaps[0], static_cast<int>(AdaptiveSpin::kProbeEvery));
  EXPECT_EQ(gaps[1], static_cast<int>(2 * AdaptiveSpin::kProbeEvery));
  EXPECT_EQ(gaps[2], static_cast<int>(4 * AdaptiveSpin::kProbeEvery));
  EXPECT_EQ(gaps.back(), static_cast<int>(AdaptiveSpin::kMaxProbeEvery));

  while (s.next_window().count() == 0) {
  }
  s.record(true);
  EXPECT_EQ(s.next_window(), microseconds(20));
}

// A wait the peer announced as long (Channel::expect_pause) blocks at once, is not a probe, and leaves
// the window as it was; only that one wait.
TEST(AdaptiveSpin, SkippedWaitNeitherSpinsNorCounts) {
  AdaptiveSpin s(microseconds(20));
  s.skip_next();
  EXPECT_EQ(s.next_window().count(), 0);
  EXPECT_EQ(s.next_window(), microseconds(20));
  s.record(true);
  // Collapsed, then skipped waits between probes do not advance the count to the next probe.
  while (s.next_window().count() != 0) s.record(false);
  int waits = 1;  // the wait that returned 0 above
  for (;;) {
    s.skip_next();
    ASSERT_EQ(s.next_window().count(), 0);
    if (s.next_window().count() != 0) break;
    ++waits;
  }
  EXPECT_EQ(waits + 1, static_cast<int>(AdaptiveSpin::kProbeEvery));
}

TEST(AdaptiveSpin, ZeroMaxNeverSpins) {
  AdaptiveSpin s(nanoseconds(0));
  ExpectedWait long_copy(microseconds(500));
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(s.next_window().count(), 0);
}

// A run of long calls collapses the window; a wait the caller expects to be long still spins for the
// expected time (capped), its outcome does not move the window, and the expectation ends with its scope.
TEST(AdaptiveSpin, ExpectedWaitSpinsWithoutMovingTheWindow) {
  AdaptiveSpin s(microseconds(20));
  while (s.next_window().count() != 0) s.record(false);
  {
    ExpectedWait copy(microseconds(300));
    for (int i = 0; i < 50; ++i) {
      ASSERT_EQ(s.next_window(), microseconds(300));
      s.record(i % 3 == 0);  // neither a hit nor a miss counts
    }
    {
      ExpectedWait huge(std::chrono::seconds(5));
      EXPECT_EQ(s.next_window(), ExpectedWait::kMax);
      s.record(true);
    }
    EXPECT_EQ(ExpectedWait::current(), microseconds(300));
  }
  EXPECT_EQ(ExpectedWait::current().count(), 0);
  EXPECT_EQ(s.next_window().count(), 0);  // still collapsed: the hinted hits did not restore it
  // A window wider than the expectation is kept.
  AdaptiveSpin wide(microseconds(100));
  ExpectedWait short_copy(microseconds(10));
  EXPECT_EQ(wide.next_window(), microseconds(100));
}

}  // namespace
}  // namespace remora::transport
