// Capped exponential backoff with full jitter: the n-th delay is uniform in
// [0, min(max, initial * 2^n)], so many instances retrying one server spread out.
#pragma once

#include <algorithm>
#include <cstdint>
#include <random>

#include <unistd.h>

namespace auditq::pipeline {

class Backoff {
public:
  // A seed that differs between processes and calls, so instances do not retry in step.
  static uint64_t randomSeed() {
    return std::random_device{}() ^ (static_cast<uint64_t>(getpid()) << 20);
  }

  Backoff(int64_t initial_ms, int64_t max_ms, uint64_t seed)
      : initial_ms_(initial_ms), max_ms_(max_ms), rng_(seed) {}

  // The ceiling of the next delay (before jitter).
  int64_t ceilingMs() const {
    const int shift = std::min(attempt_, 40);
    const int64_t c = initial_ms_ << std::min(shift, 62 - bitWidth(initial_ms_));
    return std::min(c, max_ms_);
  }
  // The next delay in milliseconds; advances the attempt count.
  int64_t nextMs() {
    const int64_t ceiling = ceilingMs();
    ++attempt_;
    return std::uniform_int_distribution<int64_t>(0, ceiling)(rng_);
  }
  void reset() { attempt_ = 0; }
  int attempts() const { return attempt_; }

private:
  static int bitWidth(int64_t v) {
    int w = 0;
    while (v > 0) {
      v >>= 1;
      ++w;
    }
    return w;
  }
  int64_t initial_ms_;
  int64_t max_ms_;
  int attempt_ = 0;
  std::mt19937_64 rng_;
};

} // namespace auditq::pipeline
