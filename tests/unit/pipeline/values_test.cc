// UUIDs, timestamps, COPY escaping and backoff: the value codecs under the decoder.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "pipeline/backoff.h"
#include "pipeline/copy_text.h"
#include "pipeline/timestamp.h"
#include "pipeline/uuid.h"

namespace auditq::pipeline {
namespace {

std::string formatTs(int64_t us) {
  std::string s;
  appendTimestamp(s, us);
  return s;
}

TEST(Uuid, ParsesEitherCaseAndPrintsLowerCase) {
  Uuid a, b;
  ASSERT_TRUE(parseUuid("123e4567-E89B-12d3-A456-426614174000", a));
  ASSERT_TRUE(parseUuid("123e4567-e89b-12d3-a456-426614174000", b));
  EXPECT_EQ(a, b);
  std::string out;
  appendUuid(out, a);
  EXPECT_EQ(out, "123e4567-e89b-12d3-a456-426614174000");
}

TEST(Uuid, RejectsEverythingButTheCanonicalForm) {
  Uuid u;
  for (const char* bad :
       {"", "123e4567e89b12d3a456426614174000", "{123e4567-e89b-12d3-a456-426614174000}",
        "123e4567-e89b-12d3-a456-42661417400", "123e4567-e89b-12d3-a456-4266141740000",
        "123e4567-e89b-12d3-a456_426614174000", "g23e4567-e89b-12d3-a456-426614174000"}) {
    EXPECT_FALSE(parseUuid(bad, u)) << bad;
  }
}

TEST(Timestamp, ParsesEpochMilliseconds) {
  int64_t us = 0;
  ASSERT_TRUE(parseTimestamp("1700000000123", us));
  EXPECT_EQ(us, 1700000000123000);
  EXPECT_EQ(formatTs(us), "2023-11-14 22:13:20.123000+00");
  ASSERT_TRUE(parseTimestamp("0", us));
  EXPECT_EQ(formatTs(us), "1970-01-01 00:00:00.000000+00");
}

TEST(Timestamp, ParsesRfc3339WithOffsetsAndFractions) {
  int64_t us = 0;
  ASSERT_TRUE(parseTimestamp("2023-11-14T22:13:20.123Z", us));
  EXPECT_EQ(us, 1700000000123000);
  ASSERT_TRUE(parseTimestamp("2023-11-14T23:13:20.123+01:00", us));
  EXPECT_EQ(us, 1700000000123000);
  ASSERT_TRUE(parseTimestamp("2023-11-14 17:13:20.1234564-05:00", us));
  EXPECT_EQ(us, 1700000000123456);
  ASSERT_TRUE(parseTimestamp("2023-11-14t22:13:20.9999995z", us));
  EXPECT_EQ(formatTs(us), "2023-11-14 22:13:21.000000+00");
  ASSERT_TRUE(parseTimestamp("2024-02-29T00:00:00Z", us)); // leap day
  ASSERT_TRUE(parseTimestamp("0001-01-01T00:00:00Z", us));
  EXPECT_EQ(formatTs(us), "0001-01-01 00:00:00.000000+00");
}

TEST(Timestamp, RejectsWhatPostgresWouldRefuseOrMisread) {
  int64_t us = 0;
  for (const char* bad :
       {"", "-1", "1.5", "2023-11-14", "2023-11-14T22:13:20", "2023-11-14T22:13:20+0100",
        "2023-13-01T00:00:00Z", "2023-02-29T00:00:00Z", "2023-11-14T24:00:00Z",
        "2023-11-14T22:60:00Z", "2023-11-14T22:13:20.Z", "2023-11-14T22:13:20Zjunk",
        "0000-01-01T00:00:00Z", "10000-01-01T00:00:00Z", "9999999999999999", "253402300800000",
        "2023-11-14T22:13:20+24:00", " 2023-11-14T22:13:20Z"}) {
    EXPECT_FALSE(parseTimestamp(bad, us)) << bad;
  }
}

TEST(CopyText, EscapesTheFourSpecialBytesOnly) {
  std::string out;
  copy::appendEscaped(out, "a\\b\tc\nd\re\"f{}");
  EXPECT_EQ(out, "a\\\\b\\tc\\nd\\re\"f{}");
}

TEST(CopyText, WritesIntegersAndNulls) {
  std::string out;
  copy::appendInt(out, -42);
  copy::tab(out);
  copy::appendOptionalInt(out, std::optional<int32_t>());
  copy::endRow(out);
  EXPECT_EQ(out, "-42\t\\N\n");
}

TEST(CopyText, RowsTurnIntoOneArrayLiteralPerColumn) {
  // Two rows of three columns, with every escape COPY text uses, a NULL, an empty value, a
  // value that merely reads \N, and the bytes the array syntax must escape.
  std::string rows;
  for (const auto& row : std::vector<std::vector<std::optional<std::string>>>{
           {"a\\b\tc", std::nullopt, "x\"y{,}"}, {"", "\\N", "line\nbreak\rx"}}) {
    for (size_t i = 0; i < row.size(); ++i) {
      if (i > 0) {
        copy::tab(rows);
      }
      if (row[i]) {
        copy::appendEscaped(rows, *row[i]);
      } else {
        copy::appendNull(rows);
      }
    }
    copy::endRow(rows);
  }
  std::vector<std::string> arrays = {"left over"};
  copy::toArrayLiterals(rows, 3, arrays);
  ASSERT_EQ(arrays.size(), 3u);
  EXPECT_EQ(arrays[0], "{\"a\\\\b\tc\",\"\"}");
  EXPECT_EQ(arrays[1], "{NULL,\"\\\\N\"}");
  EXPECT_EQ(arrays[2], "{\"x\\\"y{,}\",\"line\nbreak\rx\"}");
  copy::toArrayLiterals("", 2, arrays);
  EXPECT_EQ(arrays, (std::vector<std::string>{"{}", "{}"}));
  // A long value with the specials far apart: the runs between them are copied whole.
  const std::string run(40, 'r');
  rows.clear();
  copy::appendEscaped(rows, run + "\"" + run + "\\" + run);
  copy::endRow(rows);
  copy::toArrayLiterals(rows, 1, arrays);
  EXPECT_EQ(arrays[0], "{\"" + run + "\\\"" + run + "\\\\" + run + "\"}");
  // Unequal arrays would not fail in PostgreSQL (unnest pads them with NULLs): refused here.
  EXPECT_THROW(copy::toArrayLiterals("a\tb\tc\n", 2, arrays), std::invalid_argument);
  EXPECT_THROW(copy::toArrayLiterals("a\tb\na\n", 2, arrays), std::invalid_argument);
  EXPECT_THROW(copy::toArrayLiterals("a\tb", 3, arrays), std::invalid_argument);
}

TEST(Backoff, GrowsExponentiallyUpToTheCapWithJitterBelowTheCeiling) {
  Backoff b(100, 1000, 42);
  const int64_t ceilings[] = {100, 200, 400, 800, 1000, 1000};
  for (int64_t ceiling : ceilings) {
    EXPECT_EQ(b.ceilingMs(), ceiling);
    const int64_t d = b.nextMs();
    EXPECT_GE(d, 0);
    EXPECT_LE(d, ceiling);
  }
  b.reset();
  EXPECT_EQ(b.ceilingMs(), 100);
}

TEST(Backoff, NeverOverflowsAfterManyAttempts) {
  Backoff b(250, 30000, 1);
  for (int i = 0; i < 200; ++i) {
    EXPECT_LE(b.nextMs(), 30000);
  }
  EXPECT_EQ(b.ceilingMs(), 30000);
}

} // namespace
} // namespace auditq::pipeline
