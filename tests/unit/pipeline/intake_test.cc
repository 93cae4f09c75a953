#include "pipeline/intake.h"

#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace auditq::pipeline {
namespace {

constexpr const char* kSession = "6f1c2b9e-3a4d-4e5f-8a9b-0c1d2e3f4a5b";

class IntakeTest : public ::testing::Test {
protected:
  RawEntry entry(const std::vector<std::string>& fields, int64_t deliveries, const char* id) {
    storage_ = fields;
    views_.assign(storage_.begin(), storage_.end());
    return RawEntry{"s", id, views_, deliveries};
  }

  config::BatchConfig batch_cfg_;
  config::DecodeConfig decode_cfg_;
  config::ProjectionsConfig projections_;
  config::DeadLetterConfig dead_letter_cfg_;
  Intake intake_{decode_cfg_, projections_, dead_letter_cfg_};
  Batch batch_{batch_cfg_, projections_};
  std::vector<std::string> storage_;
  std::vector<std::string_view> views_;
};

TEST_F(IntakeTest, AValidEntryBecomesAnEventAndKeepsItsRawFields) {
  EXPECT_TRUE(intake_.add(
      batch_,
      entry({"type", "session_started", "session_id", kSession, "ts", "1714557601000"}, 1, "1-0")));
  EXPECT_EQ(batch_.events(), 1u);
  ASSERT_EQ(batch_.raw().size(), 1u);
  std::vector<std::string_view> scratch;
  const RawEntry back = batch_.raw().get(0, scratch);
  EXPECT_EQ(back.stream, "s");
  EXPECT_EQ(back.id, "1-0");
  ASSERT_EQ(back.fields.size(), 6u);
  EXPECT_EQ(back.fields[3], kSession);
  EXPECT_FALSE(batch_.deadLetterReason(0));
}

TEST_F(IntakeTest, AMalformedEntryIsDeadLetteredWithItsReason) {
  EXPECT_FALSE(
      intake_.add(batch_, entry({"type", "x", "session_id", "nope", "ts", "1"}, 1, "1-0")));
  EXPECT_EQ(batch_.deadLetters(), 1u);
  EXPECT_EQ(batch_.deadLetterReason(0), core::ReasonCode::BadUuid);
}

TEST_F(IntakeTest, AnEntryIdBeyondBigintIsDeadLetteredAsOutOfRange) {
  const std::vector<std::string> valid = {"type", "x", "session_id", kSession, "ts", "1"};
  EXPECT_TRUE(intake_.add(batch_, entry(valid, 1, "9223372036854775807-9223372036854775807")));
  EXPECT_FALSE(intake_.add(batch_, entry(valid, 1, "9223372036854775808-0")));
  EXPECT_FALSE(intake_.add(batch_, entry(valid, 1, "5-9223372036854775808")));
  EXPECT_EQ(batch_.deadLetterReason(1), core::ReasonCode::OutOfRange);
  EXPECT_EQ(batch_.deadLetterReason(2), core::ReasonCode::OutOfRange);
  EXPECT_NE(batch_.deadLetterRows().find("out_of_range\tid: entry id beyond"), std::string::npos)
      << batch_.deadLetterRows();
}

TEST_F(IntakeTest, AnEntryDeliveredTooOftenIsDeadLetteredBeforeDecoding) {
  const std::vector<std::string> valid = {"type", "x", "session_id", kSession, "ts", "1"};
  EXPECT_TRUE(intake_.add(batch_, entry(valid, 5, "1-0"))); // the 5th delivery still counts
  EXPECT_FALSE(intake_.add(batch_, entry(valid, 6, "1-1")));
  EXPECT_EQ(batch_.deadLetterReason(1), core::ReasonCode::MaxDeliveries);
  EXPECT_NE(batch_.deadLetterRows().find("max_deliveries\tdelivered 6 times"), std::string::npos)
      << batch_.deadLetterRows();
  EXPECT_NE(batch_.deadLetterRows().find("\t6\n"), std::string::npos); // the delivery count
}

TEST_F(IntakeTest, MarkRejectedTurnsAnEventIntoADeadLetterOnce) {
  const std::vector<std::string> valid = {"type", "x", "session_id", kSession, "ts", "1"};
  intake_.add(batch_, entry(valid, 1, "1-0"));
  intake_.add(batch_, entry(valid, 1, "1-1"));
  batch_.markRejected(1);
  batch_.markRejected(1);
  EXPECT_EQ(batch_.rejected(), 1u);
  EXPECT_FALSE(batch_.deadLetterReason(0));
  EXPECT_EQ(batch_.deadLetterReason(1), core::ReasonCode::RejectedByDatabase);
  batch_.clear();
  EXPECT_EQ(batch_.rejected(), 0u);
  EXPECT_EQ(batch_.raw().size(), 0u);
}

TEST(RawEntries, KeepEmptyAndBinaryFieldsExactly) {
  RawEntries raw;
  const std::string binary("\xff\x00z", 3);
  std::vector<std::string_view> fields = {"", binary, "k"};
  raw.add("st", "5-5", fields, 3);
  raw.add("other", "6-0", {}, 1);
  std::vector<std::string_view> scratch;
  auto a = raw.get(0, scratch);
  EXPECT_EQ(a.deliveries, 3);
  ASSERT_EQ(a.fields.size(), 3u);
  EXPECT_EQ(a.fields[0], "");
  EXPECT_EQ(a.fields[1], binary);
  EXPECT_EQ(a.fields[2], "k");
  auto b = raw.get(1, scratch);
  EXPECT_EQ(b.stream, "other");
  EXPECT_EQ(b.id, "6-0");
  EXPECT_TRUE(b.fields.empty());
}

} // namespace
} // namespace auditq::pipeline

namespace auditq::pipeline {
namespace {

class IntakeTimeTest : public IntakeTest {};

TEST_F(IntakeTimeTest, ATimestampMoreThanADayAfterTheEntrysIdIsABadTimestamp) {
  // Added at 2024-05-01T10:00:01Z (the id's time); the event claims a time 25 h later.
  EXPECT_FALSE(intake_.add(
      batch_, entry({"type", "session_started", "session_id", kSession, "ts", "1714647601000"}, 1,
                    "1714557601000-0")));
  ASSERT_EQ(batch_.deadLetters(), 1u);
  EXPECT_EQ(batch_.deadLetterReason(0), core::ReasonCode::BadTimestamp);
}

TEST_F(IntakeTimeTest, ClockSkewOfLessThanADayIsAccepted) {
  EXPECT_TRUE(intake_.add(
      batch_, entry({"type", "session_started", "session_id", kSession, "ts", "1714640000000"}, 1,
                    "1714557601000-0")));
}

TEST_F(IntakeTimeTest, AnExplicitIdWithoutAClockTimeIsNotCompared) {
  EXPECT_TRUE(intake_.add(
      batch_,
      entry({"type", "session_started", "session_id", kSession, "ts", "1714647601000"}, 1, "5-0")));
}

TEST_F(IntakeTimeTest, AVersionFieldThatContradictsTheStateIsAVersionMismatch) {
  EXPECT_FALSE(
      intake_.add(batch_, entry({"type", "session_updated", "session_id", kSession, "ts",
                                 "1714557601000", "version", "9223372036854775807", "state",
                                 R"({"sync_mode":"global","status":"running","version":3})"},
                                1, "1714557601000-0")));
  EXPECT_EQ(batch_.deadLetterReason(0), core::ReasonCode::VersionMismatch);
  // Agreeing, or only one of them: accepted.
  EXPECT_TRUE(intake_.add(
      batch_,
      entry({"type", "session_updated", "session_id", kSession, "ts", "1714557601000", "version",
             "3", "state", R"({"sync_mode":"global","status":"running","version":3})"},
            1, "1714557601000-1")));
}

} // namespace
} // namespace auditq::pipeline
