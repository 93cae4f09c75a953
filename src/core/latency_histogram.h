// A fixed-size log-linear histogram of durations in microseconds (16 sub-buckets per power of
// two: about 6% resolution) with exact count, sum and maximum. Recording allocates nothing.
// Not thread-safe: one owner records and reads.
#pragma once

#include <array>
#include <bit>
#include <cstddef>
#include <cstdint>

namespace auditq::core {

class LatencyHistogram {
public:
  void record(int64_t micros) {
    const uint64_t v = micros < 0 ? 0 : static_cast<uint64_t>(micros);
    ++buckets_[indexOf(v)];
    ++count_;
    sum_ += v;
    if (v > max_) {
      max_ = v;
    }
  }

  uint64_t count() const { return count_; }
  uint64_t sumMicros() const { return sum_; }
  uint64_t maxMicros() const { return max_; }

  // The upper bound of the bucket holding the q-quantile (0 < q <= 1); 0 when empty.
  uint64_t quantileMicros(double q) const {
    if (count_ == 0) {
      return 0;
    }
    const auto rank = static_cast<uint64_t>(q * static_cast<double>(count_) + 0.999999);
    uint64_t seen = 0;
    for (size_t i = 0; i < kBuckets; ++i) {
      seen += buckets_[i];
      if (seen >= rank) {
        const uint64_t upper = upperBound(i);
        return upper < max_ ? upper : max_;
      }
    }
    return max_;
  }

  // Observations certainly at most `micros`: the buckets whose every value is <= micros (a
  // bucket straddling the bound counts above it; at most ~6% of the bound). For /metrics.
  uint64_t countAtMost(uint64_t micros) const {
    uint64_t n = 0;
    for (size_t i = 0; i < kBuckets && largestIn(i) <= micros; ++i) {
      n += buckets_[i];
    }
    return n;
  }

private:
  static constexpr int kSubBits = 4;
  static constexpr size_t kBuckets = (64 - kSubBits + 1) << kSubBits;

  static size_t indexOf(uint64_t v) {
    if (v < (1u << kSubBits)) {
      return static_cast<size_t>(v);
    }
    const int exponent = std::bit_width(v) - 1 - kSubBits; // >= 0
    const uint64_t sub = (v >> exponent) & ((1u << kSubBits) - 1);
    return (static_cast<size_t>(exponent + 1) << kSubBits) + static_cast<size_t>(sub);
  }

  static uint64_t upperBound(size_t index) {
    if (index < (1u << kSubBits)) {
      return index;
    }
    const size_t exponent = (index >> kSubBits) - 1;
    const uint64_t sub = index & ((1u << kSubBits) - 1);
    return (((1u << kSubBits) | sub) + 1) << exponent;
  }

  // The largest value bucket `index` holds (buckets below 16 hold one value each).
  static uint64_t largestIn(size_t index) {
    return index < (1u << kSubBits) ? index : upperBound(index) - 1;
  }

  std::array<uint64_t, kBuckets> buckets_{};
  uint64_t count_ = 0;
  uint64_t sum_ = 0;
  uint64_t max_ = 0;
};

} // namespace auditq::core
