// EntrySet and SessionIndex: the flat tables the pipeline uses instead of node-based maps.
#include "pipeline/entry_set.h"

#include <gtest/gtest.h>

#include <random>
#include <set>

#include "pipeline/session_index.h"

namespace auditq::pipeline {
namespace {

TEST(EntrySet, AgreesWithStdSetThroughRandomInsertsAndErases) {
  std::mt19937_64 rng(7);
  EntrySet set;
  std::set<std::tuple<uint32_t, uint64_t, uint64_t>> model;
  for (int i = 0; i < 200'000; ++i) {
    // Few distinct keys, so inserts, erases and lookups keep hitting the same probe chains.
    const EntryKey k{static_cast<uint32_t>(rng() % 3), core::EntryId{rng() % 700, rng() % 3}};
    const auto mk = std::make_tuple(k.stream, k.id.ms, k.id.seq);
    switch (rng() % 3) {
    case 0:
      EXPECT_EQ(set.insert(k), model.insert(mk).second);
      break;
    case 1:
      set.erase(k);
      model.erase(mk);
      break;
    default:
      EXPECT_EQ(set.contains(k), model.count(mk) == 1);
    }
    ASSERT_EQ(set.size(), model.size());
  }
  for (const auto& [s, ms, seq] : model) {
    EXPECT_TRUE(set.contains(EntryKey{s, core::EntryId{ms, seq}}));
  }
}

TEST(EntrySet, TellsStreamsApart) {
  EntrySet set;
  set.insert(EntryKey{0, core::EntryId{5, 1}});
  EXPECT_TRUE(set.contains(EntryKey{0, core::EntryId{5, 1}}));
  EXPECT_FALSE(set.contains(EntryKey{1, core::EntryId{5, 1}}));
}

TEST(SessionIndex, GrowsPastTheSizeItWasResetForInsteadOfProbingForever) {
  SessionIndex index;
  index.reset(2); // sized for 2 keys; a SIGHUP may have shrunk the limit below the batch
  bool inserted = false;
  for (uint32_t i = 0; i < 5000; ++i) {
    EXPECT_EQ(index.findOrInsert(Uuid{i, i * 7}, i, inserted), i);
    EXPECT_TRUE(inserted);
  }
  for (uint32_t i = 0; i < 5000; ++i) {
    EXPECT_EQ(index.findOrInsert(Uuid{i, i * 7}, 99'999, inserted), i);
    EXPECT_FALSE(inserted);
  }
  index.reset(2);
  EXPECT_EQ(index.size(), 0u);
  EXPECT_EQ(index.findOrInsert(Uuid{1, 7}, 3, inserted), 3u);
  EXPECT_TRUE(inserted);
}

TEST(EntryId, PredecessorAndSuccessorAreTheNeighbouringIds) {
  EXPECT_EQ((core::EntryId{5, 3}.predecessor()), (core::EntryId{5, 2}));
  EXPECT_EQ((core::EntryId{5, 0}.predecessor()), (core::EntryId{4, UINT64_MAX}));
  EXPECT_EQ((core::EntryId{0, 0}.predecessor()), (core::EntryId{0, 0}));
  EXPECT_EQ((core::EntryId{4, UINT64_MAX}.successor()), (core::EntryId{5, 0}));
  EXPECT_EQ((core::EntryId{5, 2}.successor()), (core::EntryId{5, 3}));
}

} // namespace
} // namespace auditq::pipeline
