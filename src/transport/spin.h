// The adaptive spin-then-block policy of the transports' receivers (shm rings, stream sockets).
//
// A reply to a short call comes within microseconds, and going to sleep costs far more than that: on
// this project's VMs a blocked thread on another CPU takes 30-40 us to wake (the hypervisor's
// inter-processor interrupt), against a few for a futex or socket wake on a busy CPU. So a receiver
// first polls for a while, then blocks. Spinning pays only while the peer answers within the window;
// when it does not (the call is long, or more busy threads than cores, so the peer is waiting for the
// very core the spinner holds), it burns time the peer needs. Hence:
//   - after kMissesBeforeShrinking waits in a row that the spin did not end (one alone is a
//     preemption), the window halves with each further one, down to none;
//   - one wait that the spin ended makes it whole again;
//   - without a window, every probe_every-th wait spins the whole window anyway, so a peer that
//     became fast again is noticed (a probe shorter than the usual answer would never succeed);
//     probe_every starts at kProbeEvery and doubles after each probe that failed, up to
//     kMaxProbeEvery, since a failed probe costs a whole window;
//   - a message seen only after the window had passed is a miss, not a hit: the spinner was
//     preempted, typically by the very peer it waits for on the same core (2 cores, busy machine),
//     which is exactly when spinning costs most.
// An idle receiver therefore spins at most one window per kProbeEvery waits, soon one per
// kMaxProbeEvery: with the session's 500 ms receive slices, nothing measurable.
//
// A caller that knows its reply will be long in coming (a synchronous device copy of megabytes: the
// reply comes when the DMA is done) says so with an ExpectedWait around the call: the receiving
// thread then spins up to that long, whatever the window, and the outcome does not count towards it.
// Otherwise a run of long calls collapses the window and the next copies each pay a sleep and a
// wake-up (measured on the H100 machine: ~9 us on a 4 MiB pinned copy of ~85 us). A synchronous copy
// in the native driver spins for its whole duration too.
//
// One instance per receiver; not thread-safe (a channel has one receiver at a time).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace remora::transport {

// One polling step of a spin loop: tells the core (and a hyperthread sibling) that this is one.
inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Polls `ready` (a pause before each poll) until it holds or the clock passes `until`, read every 64
// polls; whether it held. The spinning half of every spin-then-block wait.
template <typename Ready>
bool spin_until(std::chrono::steady_clock::time_point until, Ready ready) {
  for (unsigned i = 1;; ++i) {
    cpu_relax();
    if (ready()) return true;
    if ((i & 63) == 0 && std::chrono::steady_clock::now() >= until) return false;
  }
}

// The calling thread's expectation for the replies it waits for meanwhile (see above). Nests.
class ExpectedWait {
 public:
  // Longer waits sleep after this much spinning: a copy queued behind long work is not spun through.
  static constexpr std::chrono::nanoseconds kMax{2'000'000};

  explicit ExpectedWait(std::chrono::nanoseconds wait) : saved_(current_) { current_ = std::min(wait, kMax); }
  ~ExpectedWait() { current_ = saved_; }
  ExpectedWait(const ExpectedWait&) = delete;
  ExpectedWait& operator=(const ExpectedWait&) = delete;

  static std::chrono::nanoseconds current() { return current_; }

 private:
  static inline thread_local std::chrono::nanoseconds current_{0};
  std::chrono::nanoseconds saved_;
};

class AdaptiveSpin {
 public:
  static constexpr uint32_t kProbeEvery = 8;
  static constexpr uint32_t kMaxProbeEvery = 1024;
  static constexpr uint32_t kMissesBeforeShrinking = 4;
  // Windows below this are not worth starting (a clock read and a poll cost about a microsecond).
  static constexpr std::chrono::nanoseconds kMinWindow{2000};

  explicit AdaptiveSpin(std::chrono::nanoseconds max = std::chrono::nanoseconds(0)) : max_(max), window_(max) {}

  std::chrono::nanoseconds max() const { return max_; }
  void set_max(std::chrono::nanoseconds max) {
    max_ = max;
    window_ = max;
    misses_ = 0;
  }

  // How long the next wait spins before it blocks (0: block at once). Counts probes, so call it once
  // per wait that found nothing ready.
  // The next wait is expected to be long for a reason of its own (Channel::expect_pause): it blocks
  // at once and its outcome is not recorded.
  void skip_next() { skip_ = true; }

  std::chrono::nanoseconds next_window() {
    if (skip_) {
      skip_ = false;
      hinted_ = false;
      return std::chrono::nanoseconds(0);  // no spin, so nothing for record() either
    }
    // A receiver that never spins (max 0) keeps to that; an expected long wait is not a probe.
    hinted_ = max_.count() > 0 && ExpectedWait::current() > window_;
    if (hinted_) return ExpectedWait::current();
    if (window_.count() > 0) return window_;
    if (++probe_ < probe_every_) return std::chrono::nanoseconds(0);
    probe_ = 0;
    probing_ = true;
    return max_;
  }

  // The outcome of a wait that spun (next_window() > 0): whether the spin ended it.
  void record(bool spin_caught_it) {
    if (hinted_) {
      hinted_ = false;
      return;
    }
    if (spin_caught_it) {
      window_ = max_;
      misses_ = 0;
      probe_every_ = kProbeEvery;
    } else if (probing_) {
      probe_every_ = std::min(probe_every_ * 2, kMaxProbeEvery);
    } else if (++misses_ >= kMissesBeforeShrinking) {
      window_ = window_ < 2 * kMinWindow ? std::chrono::nanoseconds(0) : window_ / 2;
    }
    probing_ = false;
  }

 private:
  std::chrono::nanoseconds max_;
  std::chrono::nanoseconds window_;  // 0 .. max_
  uint32_t probe_ = 0;               // waits without a window since the last probe
  uint32_t probe_every_ = kProbeEvery;
  bool probing_ = false;             // the current wait is a probe
  bool hinted_ = false;              // the current wait spins for an ExpectedWait
  bool skip_ = false;                // skip_next() was called
  uint32_t misses_ = 0;              // waits in a row that spinning did not end
};

}  // namespace remora::transport
