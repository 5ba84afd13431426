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
// One instance per receiver; not thread-safe (a channel has one receiver at a time).
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

namespace remora::transport {

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
  std::chrono::nanoseconds next_window() {
    if (window_.count() > 0) return window_;
    if (++probe_ < probe_every_) return std::chrono::nanoseconds(0);
    probe_ = 0;
    probing_ = true;
    return max_;
  }

  // The outcome of a wait that spun (next_window() > 0): whether the spin ended it.
  void record(bool spin_caught_it) {
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
  uint32_t misses_ = 0;              // waits in a row that spinning did not end
};

}  // namespace remora::transport
