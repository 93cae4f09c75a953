#include "core/text.h"

#include <gtest/gtest.h>

namespace auditq::core {
namespace {

TEST(Duration, ParsesOneIntegerAndOneUnit) {
  int64_t s = 0;
  ASSERT_TRUE(parseDurationSeconds("90s", s));
  EXPECT_EQ(s, 90);
  ASSERT_TRUE(parseDurationSeconds("15m", s));
  EXPECT_EQ(s, 900);
  ASSERT_TRUE(parseDurationSeconds("12h", s));
  EXPECT_EQ(s, 43200);
  ASSERT_TRUE(parseDurationSeconds("30d", s));
  EXPECT_EQ(s, 2592000);
  ASSERT_TRUE(parseDurationSeconds("2w", s));
  EXPECT_EQ(s, 1209600);
}

TEST(Duration, RefusesEverythingElse) {
  int64_t s = 0;
  for (const char* bad : {"", "s", "30", "0d", "-1d", "+1d", "1.5h", "1 d", "1dd", "1y", "d1",
                          "99999999999999999999d", "9223372036854775807s"}) {
    EXPECT_FALSE(parseDurationSeconds(bad, s)) << bad;
  }
}

} // namespace
} // namespace auditq::core
