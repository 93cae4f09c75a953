#include "core/latency_histogram.h"

#include <gtest/gtest.h>

namespace auditq::core {
namespace {

TEST(LatencyHistogram, EmptyHasNoQuantiles) {
  LatencyHistogram h;
  EXPECT_EQ(h.count(), 0u);
  EXPECT_EQ(h.quantileMicros(0.99), 0u);
}

TEST(LatencyHistogram, SmallValuesAreExact) {
  LatencyHistogram h;
  for (int v = 1; v <= 10; ++v) {
    h.record(v);
  }
  EXPECT_EQ(h.quantileMicros(0.5), 5u);
  EXPECT_EQ(h.quantileMicros(1.0), 10u);
  EXPECT_EQ(h.maxMicros(), 10u);
  EXPECT_EQ(h.sumMicros(), 55u);
}

TEST(LatencyHistogram, QuantilesAreWithinSevenPercentAbove) {
  LatencyHistogram h;
  for (int v = 1; v <= 100000; ++v) {
    h.record(v * 10); // 10 us .. 1 s
  }
  for (double q : {0.5, 0.9, 0.99, 0.999}) {
    const double exact = q * 100000 * 10;
    const auto got = static_cast<double>(h.quantileMicros(q));
    EXPECT_GE(got, exact) << q;
    EXPECT_LE(got, exact * 1.07) << q;
  }
  EXPECT_EQ(h.maxMicros(), 1000000u);
  EXPECT_EQ(h.quantileMicros(1.0), 1000000u);
}

TEST(LatencyHistogram, NegativeDurationsCountAsZero) {
  LatencyHistogram h;
  h.record(-5);
  EXPECT_EQ(h.maxMicros(), 0u);
  EXPECT_EQ(h.count(), 1u);
}

TEST(LatencyHistogram, CountAtMostNeverCountsAValueAboveTheBound) {
  LatencyHistogram h;
  for (int64_t v = 0; v < 20000; ++v) {
    h.record(v);
  }
  EXPECT_EQ(h.countAtMost(10), 11u); // small values are exact: 0..10
  for (uint64_t bound : {100u, 999u, 5000u, 12345u}) {
    const uint64_t exact = bound + 1; // values 0..bound
    const uint64_t got = h.countAtMost(bound);
    EXPECT_LE(got, exact) << bound;
    EXPECT_GE(static_cast<double>(got), static_cast<double>(exact) * 0.93) << bound;
  }
  EXPECT_EQ(h.countAtMost(1u << 30), h.count());
  EXPECT_EQ(LatencyHistogram().countAtMost(1000), 0u);
}

} // namespace
} // namespace auditq::core
