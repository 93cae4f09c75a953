#include "pipeline/recover_plan.h"

#include <gtest/gtest.h>

namespace auditq::pipeline {
namespace {

SnapshotRow live(int64_t age = 10) {
  SnapshotRow r;
  r.session_id = "6f1c2b9e-3a4d-4e5f-8a9b-0c1d2e3f4a5b";
  r.version = 3;
  r.age_seconds = age;
  r.snapshot = R"({"version":3})";
  return r;
}

TEST(RecoverPlan, ALiveRecentSessionIsRestored) {
  EXPECT_EQ(judge(live(), RecoverRules{}), RecoverVerdict::Restore);
}

TEST(RecoverPlan, TombstonesWinOverEveryFlag) {
  auto r = live();
  r.tombstoned = true;
  RecoverRules rules;
  rules.include_terminal = true;
  rules.all = true;
  EXPECT_EQ(judge(r, rules), RecoverVerdict::Tombstoned);
}

TEST(RecoverPlan, TerminalSessionsOnlyWithIncludeTerminal) {
  auto r = live();
  r.terminal = true;
  RecoverRules rules;
  EXPECT_EQ(judge(r, rules), RecoverVerdict::Terminal);
  rules.include_terminal = true;
  EXPECT_EQ(judge(r, rules), RecoverVerdict::Restore);
}

TEST(RecoverPlan, OldSessionsOnlyWithAll) {
  RecoverRules rules;
  rules.max_age_seconds = 100;
  EXPECT_EQ(judge(live(100), rules), RecoverVerdict::Restore);
  EXPECT_EQ(judge(live(101), rules), RecoverVerdict::TooOld);
  rules.all = true;
  EXPECT_EQ(judge(live(101), rules), RecoverVerdict::Restore);
}

TEST(RecoverPlan, NoSnapshotIsReportedNotWritten) {
  auto r = live();
  r.snapshot.reset();
  EXPECT_EQ(judge(r, RecoverRules{}), RecoverVerdict::NoSnapshot);
}

TEST(RecoverPlan, TtlIsFixedOrWhatIsLeftSinceTheEvent) {
  RecoverRules rules;
  rules.ttl_seconds = 3600;
  rules.max_age_seconds = 100'000;
  EXPECT_EQ(ttlFor(live(600), rules), 3600);
  rules.ttl_from_event = true;
  EXPECT_EQ(ttlFor(live(600), rules), 3000);
  EXPECT_EQ(judge(live(3600), rules), RecoverVerdict::TooOld) << "nothing left: would expire";
  rules.all = true;
  EXPECT_EQ(judge(live(7200), rules), RecoverVerdict::Restore);
  EXPECT_EQ(ttlFor(live(7200), rules), 3600) << "--all gets the full TTL when none is left";
}

TEST(RecoverPlan, KeysFromTheTemplate) {
  std::string key;
  renderKey(key, "session:{session_id}", "abc");
  EXPECT_EQ(key, "session:abc");
  renderKey(key, "app:{session_id}:state:{session_id}", "x");
  EXPECT_EQ(key, "app:x:state:x");
  renderKey(key, "{session_id}", "only");
  EXPECT_EQ(key, "only");
}

TEST(RecoverPlan, VerdictNames) {
  EXPECT_EQ(verdictName(RecoverVerdict::TooOld), "too_old");
  EXPECT_EQ(verdictName(RecoverVerdict::Tombstoned), "tombstoned");
}

} // namespace
} // namespace auditq::pipeline

namespace auditq::pipeline {
namespace {

TEST(RecoverPlan, TheSnapshotsOwnVersionIsWhatIsCompared) {
  EXPECT_EQ(snapshotVersion(R"({"version":7,"status":"running"})", "version"), 7);
  EXPECT_EQ(snapshotVersion(R"({"rev":9,"version":7})", "rev"), 9);
  EXPECT_FALSE(snapshotVersion(R"({"status":"running"})", "version"));
  EXPECT_FALSE(snapshotVersion(R"({"version":"7"})", "version")) << "a string is not a version";
  EXPECT_FALSE(snapshotVersion(R"({"version":1.5})", "version"));
  EXPECT_FALSE(snapshotVersion("not json", "version"));
}

} // namespace
} // namespace auditq::pipeline
