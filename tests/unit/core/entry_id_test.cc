#include "core/entry_id.h"

#include <gtest/gtest.h>

namespace auditq::core {
namespace {

TEST(EntryId, ParsesTheCanonicalForm) {
  auto id = EntryId::parse("1700000000123-7");
  ASSERT_TRUE(id.has_value());
  EXPECT_EQ(id->ms, 1700000000123u);
  EXPECT_EQ(id->seq, 7u);
  EXPECT_EQ(id->toString(), "1700000000123-7");
}

TEST(EntryId, OrdersByMillisecondsThenSequence) {
  EXPECT_LT(*EntryId::parse("5-9"), *EntryId::parse("6-0"));
  EXPECT_LT(*EntryId::parse("6-1"), *EntryId::parse("6-2"));
  EXPECT_EQ(*EntryId::parse("6-2"), *EntryId::parse("6-2"));
}

TEST(EntryId, RejectsMalformedIds) {
  for (const char* bad : {"", "-", "1-", "-1", "1", "a-1", "1-b", "+1-1", "1-1-1", " 1-1",
                          "18446744073709551616-0"}) {
    EXPECT_FALSE(EntryId::parse(bad).has_value()) << bad;
  }
}

} // namespace
} // namespace auditq::core
