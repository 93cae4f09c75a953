// The entry contract: one test per field shape and per malformed input, with its reason code.
#include "pipeline/decode.h"

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <algorithm>

#include <string>
#include <vector>

namespace auditq::pipeline {
namespace {

using core::ReasonCode;

constexpr const char* kSession = "11111111-1111-4111-8111-111111111111";
constexpr const char* kP1 = "22222222-2222-4222-8222-222222222222";
constexpr const char* kG1 = "33333333-3333-4333-8333-333333333333";

std::string state(const std::string& extra = "", const std::string& participants = "") {
  return std::string(R"({"session_id":")") + kSession +
         R"(","sync_mode":"per_participant","status":"running","version":7,)" +
         R"("participants":[)" +
         (participants.empty()
              ? std::string(R"({"participant_id":")") + kP1 +
                    R"(","participant_index":0,"total_time_ms":300000,"time_used_ms":1200,)" +
                    R"("time_remaining_ms":298800,"cycle_count":3,"is_active":true,)" +
                    R"("has_expired":false,"group_id":null})"
              : participants) +
         R"(],"total_time_ms":300000,"time_per_cycle_ms":null,"increment_ms":0,)" +
         R"("max_time_ms":null,"session_started_at":"2024-05-01T10:00:00Z",)" +
         R"("session_completed_at":null,"created_at":"2024-05-01T09:59:00.5Z",)" +
         R"("updated_at":"2024-05-01T10:00:01Z")" + extra + "}";
}

class DecodeTest : public ::testing::Test {
protected:
  std::optional<DecodeError> run(std::vector<std::string> fields) {
    storage_ = std::move(fields);
    views_.assign(storage_.begin(), storage_.end());
    return decoder_.decode(views_, event_, projection_);
  }
  // A valid entry with `name` replaced (or added) and `drop` removed.
  std::vector<std::string> entry(const std::string& name = "", const std::string& value = "",
                                 const std::string& drop = "") {
    std::vector<std::pair<std::string, std::string>> f = {
        {"type", "cycle_switched"}, {"session_id", kSession}, {"ts", "1714557601000"}};
    bool replaced = false;
    for (auto& [n, v] : f) {
      if (n == name) {
        v = value;
        replaced = true;
      }
    }
    if (!name.empty() && !replaced) {
      f.emplace_back(name, value);
    }
    std::vector<std::string> out;
    for (auto& [n, v] : f) {
      if (n != drop) {
        out.push_back(n);
        out.push_back(v);
      }
    }
    return out;
  }
  void expectReason(std::vector<std::string> fields, ReasonCode reason, std::string_view field) {
    auto e = run(std::move(fields));
    ASSERT_TRUE(e.has_value()) << "accepted";
    EXPECT_EQ(core::reasonName(e->reason), core::reasonName(reason)) << e->detail;
    EXPECT_EQ(e->field, field);
  }

  config::DecodeConfig decode_cfg_;
  config::ProjectionsConfig projections_;
  Decoder decoder_{decode_cfg_, projections_};
  std::vector<std::string> storage_;
  std::vector<std::string_view> views_;
  Event event_;
  Projection projection_;
};

TEST_F(DecodeTest, AcceptsTheMinimalEntry) {
  ASSERT_FALSE(run(entry()));
  EXPECT_EQ(event_.type, "cycle_switched");
  EXPECT_EQ(event_.session_id_text, kSession);
  EXPECT_EQ(event_.ts_us, 1714557601000000);
  EXPECT_FALSE(event_.version);
  EXPECT_FALSE(event_.participant_id);
  EXPECT_TRUE(event_.state.empty());
  EXPECT_FALSE(projection_.present);
  EXPECT_FALSE(event_.is_tombstone);
}

TEST_F(DecodeTest, ReadsEveryOptionalField) {
  auto f = entry();
  for (const char* kv :
       {"version", "12", "participant_id", kP1, "group_id", kG1, "time_remaining_ms", "-5",
        "time_elapsed_ms", "2147483647", "cycle_number", "3", "metadata", R"({"source":"api"})"}) {
    f.push_back(kv);
  }
  ASSERT_FALSE(run(f));
  EXPECT_EQ(event_.version, 12);
  Uuid p;
  parseUuid(kP1, p);
  EXPECT_EQ(event_.participant_id, p);
  EXPECT_TRUE(event_.group_id.has_value());
  EXPECT_EQ(event_.time_remaining_ms, -5);
  EXPECT_EQ(event_.time_elapsed_ms, 2147483647);
  EXPECT_EQ(event_.cycle_number, 3);
  EXPECT_EQ(event_.metadata, R"({"source":"api"})");
}

TEST_F(DecodeTest, AcceptsRfc3339Time) {
  ASSERT_FALSE(run(entry("ts", "2024-05-01T10:00:01.000+00:00")));
  EXPECT_EQ(event_.ts_us, 1714557601000000);
}

TEST_F(DecodeTest, UnknownFieldsAreIgnoredForForwardCompatibility) {
  ASSERT_FALSE(run(entry("trace_id", "abc")));
}

TEST_F(DecodeTest, UnknownWellFormedTypeIsRecordedUnlessStrict) {
  ASSERT_FALSE(run(entry("type", "session_renamed")));
  decode_cfg_.strict_types = true;
  expectReason(entry("type", "session_renamed"), ReasonCode::UnknownEventType, "type");
  ASSERT_FALSE(run(entry("type", "session_paused")));
}

TEST_F(DecodeTest, SessionDeletedIsATombstone) {
  ASSERT_FALSE(run(entry("type", "session_deleted")));
  EXPECT_TRUE(event_.is_tombstone);
}

TEST_F(DecodeTest, RejectsMissingRequiredFields) {
  expectReason(entry("", "", "type"), ReasonCode::MissingField, "type");
  expectReason(entry("", "", "session_id"), ReasonCode::MissingField, "session_id");
  expectReason(entry("", "", "ts"), ReasonCode::MissingField, "ts");
  expectReason(entry("type", ""), ReasonCode::MissingField, "type");
}

TEST_F(DecodeTest, RejectsAnEntryWithNoFields) {
  expectReason({}, ReasonCode::MissingField, "type");
}

TEST_F(DecodeTest, RejectsDuplicateField) {
  auto f = entry();
  f.push_back("ts");
  f.push_back("1");
  expectReason(f, ReasonCode::DuplicateField, "ts");
}

TEST_F(DecodeTest, RejectsBadEventTypes) {
  for (const char* bad : {"Session_created", "1abc", "session-created", "session created", "_x",
                          "a234567890123456789012345678901234567890123456789012"}) {
    expectReason(entry("type", bad), ReasonCode::BadEventType, "type");
  }
}

TEST_F(DecodeTest, RejectsBadUuids) {
  expectReason(entry("session_id", "not-a-uuid"), ReasonCode::BadUuid, "session_id");
  expectReason(entry("participant_id", "42"), ReasonCode::BadUuid, "participant_id");
  expectReason(entry("group_id", "null"), ReasonCode::BadUuid, "group_id");
}

TEST_F(DecodeTest, RejectsBadTimestamps) {
  expectReason(entry("ts", "yesterday"), ReasonCode::BadTimestamp, "ts");
  expectReason(entry("ts", "2024-05-01T10:00:01"), ReasonCode::BadTimestamp, "ts");
  expectReason(entry("ts", "-1714557601000"), ReasonCode::BadTimestamp, "ts");
}

TEST_F(DecodeTest, RejectsNonIntegerNumbers) {
  expectReason(entry("version", "1.5"), ReasonCode::BadType, "version");
  expectReason(entry("version", "seven"), ReasonCode::BadType, "version");
  expectReason(entry("cycle_number", "3 "), ReasonCode::BadType, "cycle_number");
  expectReason(entry("time_elapsed_ms", "0x10"), ReasonCode::BadType, "time_elapsed_ms");
}

TEST_F(DecodeTest, RejectsOutOfRangeIntegers) {
  expectReason(entry("version", "-1"), ReasonCode::OutOfRange, "version");
  expectReason(entry("time_remaining_ms", "2147483648"), ReasonCode::OutOfRange,
               "time_remaining_ms");
  expectReason(entry("version", "99999999999999999999"), ReasonCode::BadType, "version");
}

TEST_F(DecodeTest, RejectsInvalidJsonInState) {
  expectReason(entry("state", "{not json"), ReasonCode::BadJson, "state");
  expectReason(entry("state", "{\"a\":1}}"), ReasonCode::BadJson, "state");
}

TEST_F(DecodeTest, RejectsStateThatIsNotUtf8) {
  expectReason(entry("state", "{\"a\":\"\xff\xfe\"}"), ReasonCode::BadJson, "state");
}

TEST_F(DecodeTest, RejectsNonObjectState) {
  expectReason(entry("state", "[1,2]"), ReasonCode::BadType, "state");
  expectReason(entry("state", "\"text\""), ReasonCode::BadType, "state");
}

TEST_F(DecodeTest, RejectsNulEscapeThatPostgresRefuses) {
  expectReason(entry("metadata", R"({"a":"x\u0000y"})"), ReasonCode::BadJson, "metadata");
  // An escaped backslash followed by "u0000" is ordinary text.
  ASSERT_FALSE(run(entry("metadata", R"({"a":"x\\u0000y"})")));
}

TEST_F(DecodeTest, RejectsNonObjectMetadata) {
  expectReason(entry("metadata", "42"), ReasonCode::BadType, "metadata");
  expectReason(entry("metadata", "{"), ReasonCode::BadJson, "metadata");
}

TEST_F(DecodeTest, RejectsOversizedEntry) {
  decode_cfg_.max_entry_bytes = 1024;
  expectReason(entry("metadata", "{\"pad\":\"" + std::string(1100, 'x') + "\"}"),
               ReasonCode::TooLarge, "");
}

TEST_F(DecodeTest, KeepsStateTextAsReceived) {
  const std::string s = state();
  ASSERT_FALSE(run(entry("state", s)));
  EXPECT_EQ(event_.state, s);
}

TEST_F(DecodeTest, ProjectsTheSessionRowFromTheState) {
  ASSERT_FALSE(run(entry("state", state())));
  ASSERT_TRUE(projection_.present);
  EXPECT_EQ(event_.version, 7) << "falls back to the state's version";
  EXPECT_EQ(
      projection_.session_columns,
      "per_participant\t\\N\t0\t\\N\t2024-05-01 09:59:00.500000+00\t"
      "2024-05-01 10:00:00.000000+00\t\\N\t\\N\t3\t1\t2024-05-01 10:00:01.000000+00\trunning");
}

TEST_F(DecodeTest, ProjectsParticipantRows) {
  ASSERT_FALSE(run(entry("state", state())));
  EXPECT_EQ(projection_.participant_rows,
            std::string(kSession) + "\t" + kP1 +
                "\t300000\t\\N\t3\t1200\t2024-05-01 10:00:01.000000+00\t"
                "2024-05-01 10:00:01.000000+00\t2024-05-01 10:00:01.000000+00\t7\n");
}

TEST_F(DecodeTest, TerminalStatusBecomesFinalStatus) {
  std::string s = state();
  s.replace(s.find("\"running\""), 9, "\"completed\"");
  ASSERT_FALSE(run(entry("state", s)));
  EXPECT_NE(projection_.session_columns.find("\tcompleted\t3\t1\t"), std::string::npos)
      << projection_.session_columns;
}

TEST_F(DecodeTest, AVersionFieldThatContradictsTheStatesVersionIsRefused) {
  auto f = entry("state", state()); // the state says version 7
  f.push_back("version");
  f.push_back("9");
  const auto e = run(f);
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, core::ReasonCode::VersionMismatch);
  EXPECT_EQ(e->field, "version");
}

TEST_F(DecodeTest, AVersionFieldThatAgreesWithTheStateIsTheVersion) {
  auto f = entry("state", state());
  f.push_back("version");
  f.push_back("7");
  ASSERT_FALSE(run(f));
  EXPECT_EQ(event_.version, 7);
}

TEST_F(DecodeTest, CreatedAtFallsBackToTheEventTime) {
  std::string s = R"({"sync_mode":"global"})";
  ASSERT_FALSE(run(entry("state", s)));
  EXPECT_TRUE(projection_.session_columns.starts_with(
      "global\t\\N\t\\N\t\\N\t2024-05-01 10:00:01.000000+00\t\\N\t\\N\t"))
      << projection_.session_columns;
}

TEST_F(DecodeTest, RejectsStateOfAnotherSession) {
  std::string s = state();
  s.replace(s.find(kSession), 36, "44444444-4444-4444-8444-444444444444");
  expectReason(entry("state", s), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsStateWithUnknownSyncMode) {
  std::string s = state();
  s.replace(s.find("per_participant"), 15, "sometimes");
  expectReason(entry("state", s), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsStateWithUnknownStatus) {
  std::string s = state();
  s.replace(s.find("\"running\""), 9, "\"sleeping\"");
  expectReason(entry("state", s), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsStateWithBadTimes) {
  std::string s = state();
  s.replace(s.find("2024-05-01T09:59:00.5Z"), 22, "2024-05-01 junk");
  expectReason(entry("state", s), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsStateWithStringWhereAnIntegerBelongs) {
  std::string s = state();
  s.replace(s.find("\"increment_ms\":0"), 16, "\"increment_ms\":\"0\"");
  expectReason(entry("state", s), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsParticipantWithoutId) {
  expectReason(entry("state", state("", R"({"total_time_ms":1})")), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsParticipantWithoutTotalTime) {
  expectReason(entry("state", state("", std::string(R"({"participant_id":")") + kP1 + "\"}")),
               ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsDuplicateParticipants) {
  const std::string p = std::string(R"({"participant_id":")") + kP1 + R"(","total_time_ms":1})";
  expectReason(entry("state", state("", p + "," + p)), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, RejectsParticipantsThatAreNotAnArray) {
  std::string s = R"({"sync_mode":"global","participants":{"a":1}})";
  expectReason(entry("state", s), ReasonCode::BadState, "state");
}

TEST_F(DecodeTest, WithProjectionsOffAnyObjectStateIsAccepted) {
  projections_.sessions = false;
  projections_.participants = false;
  ASSERT_FALSE(run(entry("state", R"({"anything":[1,2,3]})")));
  EXPECT_FALSE(projection_.present);
}

TEST_F(DecodeTest, ReusesBuffersAcrossEntries) {
  ASSERT_FALSE(run(entry("state", state())));
  ASSERT_FALSE(run(entry()));
  EXPECT_FALSE(projection_.present);
  EXPECT_TRUE(projection_.session_columns.empty());
  EXPECT_FALSE(event_.version);
}

} // namespace
} // namespace auditq::pipeline

namespace auditq::pipeline {
namespace {

// A state with `n` participants (about 80 bytes each), the last one repeating the first when
// `duplicate`.
std::string manyParticipants(int n, bool duplicate) {
  std::string people;
  for (int i = 0; i < n; ++i) {
    const int id = duplicate && i == n - 1 ? 0 : i;
    people += fmt::format(R"({}{{"participant_id":"00000000-0000-4000-8000-{:012d}",)"
                          R"("total_time_ms":1000}})",
                          i == 0 ? "" : ",", id);
  }
  return state("", people);
}

TEST_F(DecodeTest, TwelveThousandParticipantsAreProjectedEachOnce) {
  ASSERT_FALSE(run(entry("state", manyParticipants(12'000, false))));
  EXPECT_EQ(
      std::count(projection_.participant_rows.begin(), projection_.participant_rows.end(), '\n'),
      12'000);
}

TEST_F(DecodeTest, AParticipantListedTwiceAmongTwelveThousandIsFound) {
  const auto e = run(entry("state", manyParticipants(12'000, true)));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, core::ReasonCode::BadState);
  EXPECT_NE(std::string(e->detail).find("twice"), std::string::npos);
}

} // namespace
} // namespace auditq::pipeline

namespace auditq::pipeline {
namespace {

TEST_F(DecodeTest, NumbersJsonbStoresButSimdjsonCannotHoldAreAccepted) {
  const std::string s = state(R"(,"id":123456789012345678901,"f":1e400)");
  ASSERT_FALSE(run(entry("state", s)));
  EXPECT_EQ(event_.state, s) << "stored as received";
  EXPECT_EQ(event_.version, 7) << "the known fields are still read";
}

TEST_F(DecodeTest, ANumberJsonbRefusesIsBadJson) {
  const auto e = run(entry("state", state(R"(,"x":1e-20000)")));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, core::ReasonCode::BadJson);
  EXPECT_EQ(e->field, "state");
}

TEST_F(DecodeTest, AStateNested1100DeepIsAccepted) {
  const std::string deep = std::string(1100, '[') + std::string(1100, ']');
  ASSERT_FALSE(run(entry("state", state(R"(,"deep":)" + deep))));
}

TEST_F(DecodeTest, AKnownFieldHoldingAnExoticNumberHasTheWrongType) {
  const auto e = run(entry("state", R"({"sync_mode":"global","version":1e400})"));
  ASSERT_TRUE(e);
  EXPECT_EQ(e->reason, core::ReasonCode::BadState);
}

} // namespace
} // namespace auditq::pipeline
