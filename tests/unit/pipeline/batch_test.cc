// Batch assembly: event rows, newest-state collapse per session, tombstones, dead letters,
// ack lists, size limits and buffer reuse.
#include "pipeline/batch.h"

#include <gtest/gtest.h>

#include <regex>
#include <sstream>

namespace auditq::pipeline {
namespace {

constexpr const char* kS1 = "11111111-1111-4111-8111-111111111111";
constexpr const char* kS2 = "55555555-5555-4555-8555-555555555555";

size_t lines(const std::string& s) {
  return static_cast<size_t>(std::count(s.begin(), s.end(), '\n'));
}

std::vector<std::string> column(const std::string& rows, size_t index) {
  std::vector<std::string> out;
  std::istringstream in(rows);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream cols(line);
    std::string col;
    for (size_t i = 0; i <= index; ++i) {
      std::getline(cols, col, '\t');
    }
    out.push_back(col);
  }
  return out;
}

class BatchTest : public ::testing::Test {
protected:
  // Adds an entry with a state of the given version (-1: no version) for `session`.
  void add(const char* session, int version, const char* id, const char* type = "session_updated",
           const char* stream = "s") {
    std::vector<std::string> f = {"type", type, "session_id", session, "ts", "1714557601000"};
    if (version >= 0) {
      f.push_back("state");
      f.push_back(std::string(R"({"sync_mode":"global","status":"running","version":)") +
                  std::to_string(version) + "}");
    } else {
      f.push_back("state");
      f.push_back(R"({"sync_mode":"global","status":"paused"})");
    }
    std::vector<std::string_view> v(f.begin(), f.end());
    ASSERT_FALSE(decoder_.decode(v, event_, projection_));
    batch_.addEvent(RawEntry{stream, id, v, 1}, event_, projection_);
  }

  config::BatchConfig batch_cfg_;
  config::DecodeConfig decode_cfg_;
  config::ProjectionsConfig projections_;
  Decoder decoder_{decode_cfg_, projections_};
  Event event_;
  Projection projection_;
  Batch batch_{batch_cfg_, projections_};
};

TEST_F(BatchTest, RendersOneEventRowPerEntryInCopyText) {
  add(kS1, 3, "1-0");
  batch_.seal();
  // The row's id first: a random version 4 UUID, chosen here so that the row digest covers it.
  const std::string rows = batch_.eventRows();
  ASSERT_GT(rows.size(), 37u);
  EXPECT_TRUE(std::regex_match(rows.substr(0, 36),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")))
      << rows;
  EXPECT_EQ(
      rows.substr(37),
      std::string(kS1) +
          "\tsession_updated\t\\N\t\\N\t\\N\t\\N\t\\N\t2024-05-01 10:00:01.000000+00\t"
          "{\"sync_mode\":\"global\",\"status\":\"running\",\"version\":3}\t{}\ts\t1-0\t3\t1\t0\n");
}

TEST_F(BatchTest, KnowsTheTimesOfItsEntriesForThePartitions) {
  add(kS1, 3, "1700000000005-2");
  add(kS2, 1, "1700000000001-0");
  std::vector<std::string_view> fields = {"type", "x"};
  batch_.addDeadLetter(RawEntry{"s", "18446744073709551615-0", fields, 1},
                       DecodeError{core::ReasonCode::OutOfRange, "id", "beyond"});
  EXPECT_EQ(batch_.minEntryMs(), 1700000000001);
  EXPECT_EQ(batch_.maxEntryMs(), INT64_MAX) << "clamped, as the dead letter's entry_ms";
  EXPECT_NE(batch_.deadLetterRows().find("\t18446744073709551615-0\t9223372036854775807\t0\t"),
            std::string::npos)
      << batch_.deadLetterRows();
  batch_.clear();
  EXPECT_EQ(batch_.minEntryMs(), INT64_MAX);
  EXPECT_EQ(batch_.maxEntryMs(), 0);
}

TEST_F(BatchTest, CollapsesToTheHighestVersionPerSession) {
  add(kS1, 5, "1-0");
  add(kS1, 7, "1-1");
  add(kS2, 2, "1-2");
  add(kS1, 6, "1-3"); // older than 7: loses even though it came later
  batch_.seal();
  EXPECT_EQ(lines(batch_.eventRows()), 4u);
  ASSERT_EQ(lines(batch_.sessionRows()), 2u);
  EXPECT_EQ(column(batch_.sessionRows(), 0), (std::vector<std::string>{kS1, kS2}));
  EXPECT_EQ(column(batch_.sessionRows(), 13), (std::vector<std::string>{"7", "2"}));
  EXPECT_EQ(column(batch_.sessionRows(), 16), (std::vector<std::string>{"1-1", "1-2"}));
}

TEST_F(BatchTest, AmongEqualVersionsTheLaterEntryWinsWhateverTheOrder) {
  add(kS1, 4, "1-1");
  add(kS1, 4, "1-0"); // arrived later (a claim), but an earlier entry
  add(kS2, 4, "9-0");
  add(kS2, 4, "10-0"); // numerically later: text order would say otherwise
  batch_.seal();
  EXPECT_EQ(column(batch_.sessionRows(), 16), (std::vector<std::string>{"1-1", "10-0"}));
}

TEST_F(BatchTest, UnversionedStateNeverBeatsAVersionedOne) {
  add(kS1, 4, "1-0");
  add(kS1, -1, "1-1");
  add(kS2, -1, "1-2");
  add(kS2, -1, "1-3"); // among unversioned, the later one
  add(kS2, 1, "1-4");  // and any versioned one beats them
  batch_.seal();
  EXPECT_EQ(column(batch_.sessionRows(), 16), (std::vector<std::string>{"1-0", "1-4"}));
}

TEST_F(BatchTest, CollectsTombstones) {
  add(kS1, 2, "1-0", "session_deleted");
  batch_.seal();
  EXPECT_EQ(batch_.tombstoneRows(), std::string(kS1) + "\t2024-05-01 10:00:01.000000+00\ts\t1-0\n");
}

TEST_F(BatchTest, SessionsProjectionOffRendersNoSessionRows) {
  projections_.sessions = false;
  add(kS1, 2, "1-0");
  batch_.seal();
  EXPECT_TRUE(batch_.sessionRows().empty());
  EXPECT_EQ(lines(batch_.eventRows()), 1u);
}

TEST_F(BatchTest, GroupsAckIdsByStreamInOrder) {
  add(kS1, 1, "1-0", "session_updated", "a");
  add(kS1, 2, "1-1", "session_updated", "b");
  add(kS1, 3, "2-0", "session_updated", "a");
  auto acks = batch_.acks();
  ASSERT_EQ(acks.size(), 2u);
  EXPECT_EQ(acks[0].stream(), "a");
  ASSERT_EQ(acks[0].size(), 2u);
  EXPECT_EQ(acks[0].id(0), "1-0");
  EXPECT_EQ(acks[0].id(1), "2-0");
  EXPECT_EQ(acks[1].stream(), "b");
  EXPECT_EQ(acks[1].id(0), "1-1");
}

TEST_F(BatchTest, DeadLettersAreAckedAndKeepTheRawFields) {
  std::vector<std::string_view> fields = {"type", "x", "session_id", "bad\tid\\"};
  batch_.addDeadLetter(RawEntry{"s", "9-0", fields, 1},
                       DecodeError{core::ReasonCode::BadUuid, "session_id", "not a UUID"});
  EXPECT_EQ(batch_.entries(), 1u);
  EXPECT_EQ(batch_.deadLetters(), 1u);
  EXPECT_EQ(batch_.events(), 0u);
  EXPECT_EQ(batch_.deadLetterRows(),
            "s\t9-0\t9\t0\t[[\"type\",\"x\"],[\"session_id\",\"bad\\\\tid\\\\\\\\\"]]\tbad_uuid\t"
            "session_id: not a UUID\t1\n");
  EXPECT_EQ(batch_.acks()[0].id(0), "9-0");
}

TEST_F(BatchTest, RemembersItsFirstDeadLetterForTheLogLine) {
  std::vector<std::string_view> fields = {"type", "x"};
  batch_.addDeadLetter(RawEntry{"s", "9-0", fields, 1},
                       DecodeError{core::ReasonCode::MissingField, "ts", ""});
  batch_.addDeadLetter(RawEntry{"s", "9-1", fields, 1},
                       DecodeError{core::ReasonCode::BadUuid, "", ""});
  EXPECT_EQ(batch_.firstDeadLetter().reason, core::ReasonCode::MissingField);
  EXPECT_EQ(batch_.firstDeadLetter().entry_id, "9-0");
  batch_.clear();
  batch_.addDeadLetter(RawEntry{"t", "10-0", fields, 1},
                       DecodeError{core::ReasonCode::BadJson, "", ""});
  EXPECT_EQ(batch_.firstDeadLetter().reason, core::ReasonCode::BadJson);
  EXPECT_EQ(batch_.firstDeadLetter().stream, "t");
}

TEST(FieldsJson, EncodesBytesThatAreNotUtf8AsBase64) {
  std::string out;
  std::vector<std::string_view> fields = {"state", std::string_view("\xff\x00\x01", 3)};
  appendFieldsJson(out, fields, 65536);
  EXPECT_EQ(out, R"([["state",{"base64":"/wAB"}]])");
}

TEST(FieldsJson, KeepsADanglingName) {
  std::string out;
  std::vector<std::string_view> fields = {"a", "1", "orphan"};
  appendFieldsJson(out, fields, 65536);
  EXPECT_EQ(out, R"([["a","1"],["orphan"]])");
}

TEST_F(BatchTest, IsFullAtMaxEntries) {
  batch_cfg_.max_entries = 2;
  Batch small(batch_cfg_, projections_);
  std::vector<std::string> f = {"type", "x", "session_id", kS1, "ts", "1"};
  std::vector<std::string_view> v(f.begin(), f.end());
  ASSERT_FALSE(decoder_.decode(v, event_, projection_));
  small.addEvent(RawEntry{"s", "1-0", v, 1}, event_, projection_);
  EXPECT_FALSE(small.full());
  small.addEvent(RawEntry{"s", "1-1", v, 1}, event_, projection_);
  EXPECT_TRUE(small.full());
}

TEST_F(BatchTest, IsFullAtMaxBytes) {
  batch_cfg_.max_bytes = 1024;
  Batch small(batch_cfg_, projections_);
  std::vector<std::string> f = {
      "type", "x", "session_id", kS1,
      "ts",   "1", "metadata",   "{\"pad\":\"" + std::string(1100, 'x') + "\"}"};
  std::vector<std::string_view> v(f.begin(), f.end());
  ASSERT_FALSE(decoder_.decode(v, event_, projection_));
  small.addEvent(RawEntry{"s", "1-0", v, 1}, event_, projection_);
  EXPECT_TRUE(small.full());
}

TEST_F(BatchTest, ClearEmptiesEverythingForReuse) {
  add(kS1, 1, "1-0", "session_deleted");
  batch_.seal();
  batch_.clear();
  EXPECT_TRUE(batch_.empty());
  EXPECT_TRUE(batch_.acks().empty());
  add(kS2, 9, "2-0");
  batch_.seal();
  EXPECT_EQ(column(batch_.sessionRows(), 0), (std::vector<std::string>{kS2}));
  EXPECT_TRUE(batch_.tombstoneRows().empty());
  EXPECT_EQ(lines(batch_.eventRows()), 1u);
}

TEST(SessionIndex, FindsKeysAndForgetsThemOnReset) {
  SessionIndex index;
  index.reset(4);
  bool inserted = false;
  EXPECT_EQ(index.findOrInsert({1, 2}, 0, inserted), 0u);
  EXPECT_TRUE(inserted);
  EXPECT_EQ(index.findOrInsert({3, 4}, 1, inserted), 1u);
  EXPECT_EQ(index.findOrInsert({1, 2}, 2, inserted), 0u);
  EXPECT_FALSE(inserted);
  index.reset(4);
  EXPECT_EQ(index.findOrInsert({1, 2}, 5, inserted), 5u);
  EXPECT_TRUE(inserted);
}

} // namespace
} // namespace auditq::pipeline

namespace auditq::pipeline {
namespace {

TEST(FieldsJson, ParsesBackExactlyWhatWasStored) {
  const std::string binary("\xff\x00\x01 tail", 8);
  const std::vector<std::string> cases[] = {
      {"type", "x", "state", binary},
      {"a", "1", "orphan"},
      {"quote\"back\\slash", "tab\there\nnewline", "", ""},
      {"ab", std::string("\x80", 1), "abc", std::string("\xc3\x28", 2)}, // 1 and 2 byte tails
      {},
  };
  for (const auto& fields : cases) {
    std::vector<std::string_view> views(fields.begin(), fields.end());
    std::string json;
    appendFieldsJson(json, views, 65536);
    std::vector<std::string> back;
    ASSERT_TRUE(parseFieldsJson(json, back)) << json;
    EXPECT_EQ(back, fields) << json;
  }
}

TEST(FieldsJson, CutsAFieldLongerThanTheLimitKeepingItsLengthAndTheDigestOfTheRest) {
  std::string out;
  const std::string big(300, 'x');
  std::vector<std::string_view> fields = {"state", big};
  appendFieldsJson(out, fields, 256);
  // printf 'x%.0s' $(seq 1 44) | sha256sum: the 44 bytes cut off
  EXPECT_EQ(out, R"([["state",{"cut":")" + std::string(256, 'x') +
                     R"(","length":300,"sha256_of_rest":")" +
                     "4105d609cdfcf79a2a9bbd37cfda4527edda249dec350908a8842d99369c0339" +
                     R"("}]])");
  std::vector<std::string> back;
  EXPECT_FALSE(parseFieldsJson(out, back)) << "a cut letter cannot be replayed";
}

TEST(FieldsJson, NeverCutsInsideAUtf8Character) {
  std::string out;
  const std::string text = std::string(255, 'a') + "\xc3\xa9" + std::string(10, 'b'); // é at 255
  std::vector<std::string_view> fields = {"n", text};
  appendFieldsJson(out, fields, 256);
  EXPECT_NE(out.find(R"({"cut":")" + std::string(255, 'a') + R"(","length":267)"),
            std::string::npos)
      << out;
}

TEST(FieldsJson, PastSixteenTimesTheLimitTheRestIsSummedUp) {
  std::string out;
  const std::string field(200, 'f');
  std::vector<std::string_view> fields;
  for (int i = 0; i < 40; ++i) {
    fields.push_back(field); // 40 fields of 200 bytes; 16 * 256 = 4096 bytes kept at most
  }
  appendFieldsJson(out, fields, 256);
  EXPECT_LT(out.size(), 5000u);
  EXPECT_NE(out.find(R"({"omitted_fields":20,"bytes":4000,"sha256":")"), std::string::npos) << out;
}

TEST_F(BatchTest, ATooLargeEntryIsNeverHeldWhole) {
  Batch b(batch_cfg_, projections_, 1024);
  const std::string huge(900 * 1024, 'z');
  std::vector<std::string_view> fields = {"type", "session_updated", "state", huge};
  b.addDeadLetter(RawEntry{"s", "1-0", fields, 1},
                  DecodeError{core::ReasonCode::TooLarge, "", "too large"});
  EXPECT_LT(b.bytes(), 8u * 1024) << "raw copy and row both cut";
  std::vector<std::string_view> scratch;
  EXPECT_TRUE(b.raw().get(0, scratch).capped);
}

TEST_F(BatchTest, AMinimalLetterKeepsOnlyTheFieldsDigest) {
  std::vector<std::string_view> fields = {"type", "x", "state", "{}"};
  batch_.addDeadLetter(RawEntry{"s", "1-0", fields, 4294967296},
                       DecodeError{core::ReasonCode::RejectedByDatabase, "", "refused"}, true);
  const std::string& row = batch_.deadLetterRows();
  EXPECT_NE(row.find(R"([{"omitted_fields":4,"bytes":12,"sha256":")"), std::string::npos) << row;
  EXPECT_NE(row.find("\t4294967296\n"), std::string::npos) << "64-bit delivery counts";
}

TEST_F(BatchTest, IsolationCopiesADeadLetterRowAsItWasRendered) {
  Batch b(batch_cfg_, projections_, 256);
  const std::string big(1000, 'q');
  std::vector<std::string_view> fields = {"type", "session_updated", "state", big};
  b.addDeadLetter(RawEntry{"s", "1-0", fields, 2},
                  DecodeError{core::ReasonCode::TooLarge, "", "too large"});
  Batch part(batch_cfg_, projections_, 256);
  std::vector<std::string_view> scratch;
  part.addDeadLetterOf(b, 0, scratch);
  EXPECT_EQ(part.deadLetterRows(), b.deadLetterRows());
  EXPECT_EQ(part.deadLetterReason(0), core::ReasonCode::TooLarge);
  ASSERT_EQ(part.acks().size(), 1u);
  EXPECT_EQ(part.acks()[0].id(0), "1-0");
}

TEST(FieldsJson, RefusesWhatIsNotPairs) {
  std::vector<std::string> out;
  for (const char* bad :
       {"", "{}", "[1]", "[[1,2]]", "[[\"a\",\"b\",\"c\"]]", "[[]]", R"([["a",{"base64":"***"}]])",
        R"([["a",{"base64":"QQ="}]])", R"([["a",{"other":"QQ=="}]])", "[[\"a\""}) {
    EXPECT_FALSE(parseFieldsJson(bad, out)) << bad;
  }
}

} // namespace
} // namespace auditq::pipeline
