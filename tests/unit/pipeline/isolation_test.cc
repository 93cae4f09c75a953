// The isolation planner: which parts of a refused batch are written, in which order.
#include "pipeline/isolation.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

namespace auditq::pipeline {
namespace {

using Range = IsolationPlan::Range;

// Runs the plan against a batch whose `poison` entries PostgreSQL refuses; returns the number
// of writes and fills `dead` with what was dead-lettered.
size_t isolate(size_t n, const std::set<size_t>& poison, std::set<size_t>& dead) {
  IsolationPlan plan(n);
  size_t writes = 0;
  std::set<size_t> committed;
  while (const auto r = plan.next()) {
    ++writes;
    bool refused = false;
    for (size_t i = r->begin; i < r->end; ++i) {
      refused = refused || poison.count(i) > 0;
    }
    if (!refused) {
      for (size_t i = r->begin; i < r->end; ++i) {
        EXPECT_TRUE(committed.insert(i).second) << "entry " << i << " written twice";
      }
      plan.committed();
    } else if (plan.refused()) {
      dead.insert(r->begin);
    }
  }
  EXPECT_EQ(committed.size() + dead.size(), n) << "every entry is decided";
  return writes;
}

TEST(IsolationPlan, HalvesFirstHalfFirst) {
  IsolationPlan plan(8);
  EXPECT_EQ(plan.next(), (Range{0, 4}));
  EXPECT_FALSE(plan.refused());
  EXPECT_EQ(plan.next(), (Range{0, 2}));
  plan.committed();
  EXPECT_EQ(plan.next(), (Range{2, 4}));
  plan.committed();
  EXPECT_EQ(plan.next(), (Range{4, 8}));
  plan.committed();
  EXPECT_FALSE(plan.next());
}

TEST(IsolationPlan, ASingleRefusedEntryIsDeadLettered) {
  IsolationPlan plan(1);
  EXPECT_EQ(plan.next(), (Range{0, 1}));
  EXPECT_TRUE(plan.refused());
  EXPECT_FALSE(plan.next());
}

TEST(IsolationPlan, OnePoisonEntryCostsLogarithmicallyManyWrites) {
  for (size_t n : {2u, 3u, 10u, 300u, 1000u, 4096u}) {
    for (size_t p : {size_t{0}, n / 2, n - 1}) {
      std::set<size_t> dead;
      const size_t writes = isolate(n, {p}, dead);
      EXPECT_EQ(dead, std::set<size_t>{p});
      EXPECT_LE(writes, 2 * static_cast<size_t>(std::ceil(std::log2(n))) + 1) << n;
    }
  }
}

TEST(IsolationPlan, EveryPoisonEntryIsFoundAndNothingElse) {
  std::set<size_t> dead;
  isolate(100, {0, 1, 37, 99}, dead);
  EXPECT_EQ(dead, (std::set<size_t>{0, 1, 37, 99}));
}

} // namespace
} // namespace auditq::pipeline
