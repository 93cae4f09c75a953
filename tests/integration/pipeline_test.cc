// auditq run against real Redis and PostgreSQL: entries become rows exactly once, sessions
// never regress, lost groups come back, and a graceful stop loses nothing.
#include <signal.h>

#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "integration/pipeline_support.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

class Pipeline : public PipelineFixture {
protected:
  long long events() const { return count("SELECT count(*) FROM sync_events"); }
  long long distinctEntries() const {
    return count("SELECT count(DISTINCT (stream, entry_id)) FROM sync_events");
  }
};

TEST_F(Pipeline, WritesEveryEntryWithItsSessionAndParticipants) {
  const std::string s1 = newUuid();
  const std::string s2 = newUuid();
  for (int v = 1; v <= 3; ++v) {
    xadd(entryWithState(s1, v));
  }
  xadd(entryWithState(s2, 1));
  const std::string tomb = newUuid();
  xadd({"type", "session_deleted", "session_id", tomb, "ts", "2024-05-01T10:00:00Z"});
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return events() == 5 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);

  EXPECT_EQ(db_.scalar("SELECT version FROM sync_sessions WHERE session_id = '" + s1 + "'"), "3");
  EXPECT_EQ(db_.scalar("SELECT status FROM sync_sessions WHERE session_id = '" + s1 + "'"),
            "running");
  EXPECT_EQ(count("SELECT count(*) FROM sync_sessions"), 2);
  EXPECT_EQ(db_.scalar("SELECT total_time_active_ms FROM sync_participants WHERE session_id = '" +
                       s1 + "'"),
            "300");
  EXPECT_EQ(count("SELECT count(*) FROM auditq_tombstones WHERE session_id = '" + tomb + "'"), 1);
  // The snapshot is the state as XADDed, JSON-equal.
  const auto fields = entryWithState(s1, 3);
  EXPECT_EQ(db_.scalar("SELECT state_snapshot = '" + fields.back() +
                       "'::jsonb FROM sync_events WHERE session_id = '" + s1 + "' AND version = 3"),
            "t");
  EXPECT_EQ(db_.scalar("SELECT snapshot_entry_id = (SELECT entry_id FROM sync_events WHERE "
                       "session_id = '" +
                       s1 +
                       "' AND version = 3) FROM sync_sessions WHERE "
                       "session_id = '" +
                       s1 + "'"),
            "t");
}

TEST_F(Pipeline, MalformedEntriesAreDeadLetteredAndNeverBlockTheStream) {
  const std::string s = newUuid();
  xadd(entryWithState(s, 1));
  xadd({"type", "session_updated", "session_id", "not-a-uuid", "ts", "1"});
  xadd({"session_id", s, "ts", "1"});
  xadd({"type", "session_updated", "session_id", s, "ts", "1", "state", "{broken"});
  xadd(entryWithState(s, 2));
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] {
    return events() == 2 && count("SELECT count(*) FROM auditq_dead_letters") == 3 &&
           pending() == 0;
  })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(db_.scalar("SELECT string_agg(reason, ',' ORDER BY entry_id) FROM auditq_dead_letters"),
            "bad_uuid,missing_field,bad_json");
  EXPECT_EQ(db_.scalar("SELECT fields->0->>1 FROM auditq_dead_letters WHERE reason = 'bad_uuid'"),
            "session_updated");
}

TEST_F(Pipeline, RedeliveryAfterCommitWithoutAckWritesNothingTwice) {
  for (int i = 0; i < 50; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return events() == 50 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);

  // Rewind the group and deliver everything to our consumer without acking: exactly the state
  // a crash between COMMIT and XACK leaves behind.
  redis_->command({"XGROUP", "SETID", stream_, group_, "0"});
  redis_->command(
      {"XREADGROUP", "GROUP", group_, consumer_, "COUNT", "1000", "STREAMS", stream_, ">"});
  ASSERT_EQ(pending(), 50);
  auto again = startDaemon();
  ASSERT_TRUE(waitFor([&] { return pending() == 0; })) << again->stderrText();
  stopDaemon(*again);
  EXPECT_EQ(events(), 50);
  EXPECT_EQ(distinctEntries(), 50);
  EXPECT_NE(again->stderrText().find("duplicates_skipped=50"), std::string::npos)
      << again->stderrText();
}

TEST_F(Pipeline, OutOfOrderVersionsNeverRegressASession) {
  const std::string s = newUuid();
  // One entry per batch, so every version meets the database's guard, not just the batch's.
  auto daemon = startDaemon({{"AUDITQ_BATCH_MAX_ENTRIES", "1"}, {"AUDITQ_BATCH_LINGER_MS", "0"}});
  for (int v : {5, 3, 7, 6, 7}) {
    xadd(entryWithState(s, v, v == 7 ? "paused" : "running"));
    ASSERT_TRUE(waitFor([&] { return pending() == 0; }));
  }
  ASSERT_TRUE(waitFor([&] { return events() == 5; }));
  stopDaemon(*daemon);
  EXPECT_EQ(db_.scalar("SELECT version || ' ' || status FROM sync_sessions WHERE session_id = '" +
                       s + "'"),
            "7 paused");
  EXPECT_EQ(db_.scalar("SELECT version || ' ' || total_cycles FROM sync_participants"), "7 7");
}

TEST_F(Pipeline, RecreatesAConsumerGroupThatRedisLost) {
  auto daemon = startDaemon();
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 1; })) << daemon->stderrText();
  redis_->command({"XGROUP", "DESTROY", stream_, group_});
  ASSERT_TRUE(waitFor([&] {
    auto r = redis_->command({"XINFO", "GROUPS", stream_});
    return r->type == REDIS_REPLY_ARRAY && r->elements == 1;
  })) << daemon->stderrText();
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 2 && pending() == 0; })) << daemon->stderrText();
  ASSERT_TRUE(daemon->running());
  stopDaemon(*daemon);
  EXPECT_EQ(count("SELECT count(DISTINCT entry_id) FROM sync_events"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 0);
}

TEST_F(Pipeline, SurvivesTheStreamKeyBeingDeleted) {
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return pending() == 0; }));
  redis_->command({"DEL", stream_});
  ASSERT_TRUE(waitFor([&] {
    auto r = redis_->command({"EXISTS", stream_});
    return r->integer == 1;
  })) << daemon->stderrText();
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 1; })) << daemon->stderrText();
  stopDaemon(*daemon);
}

TEST_F(Pipeline, GracefulStopWithEntriesInFlightLosesNothing) {
  constexpr int kEntries = 30000;
  for (int i = 0; i < kEntries; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  // Small batches and one writer: many commits, so the stop lands in the middle of them.
  auto daemon = startDaemon({{"AUDITQ_BATCH_MAX_ENTRIES", "100"},
                             {"AUDITQ_POSTGRES_WRITERS", "1"},
                             {"AUDITQ_BATCH_MAX_IN_FLIGHT", "2"}});
  ASSERT_TRUE(waitFor([&] { return events() > 0; })) << daemon->stderrText();
  daemon->signal(SIGTERM);
  ASSERT_EQ(daemon->wait(30s), 0) << daemon->stderrText();
  const long long after_stop = events();
  EXPECT_EQ(pending(), 0) << "whatever was read must be committed and acked before exiting";
  EXPECT_LT(after_stop, kEntries) << "the stop came too late to test anything";
  auto again = startDaemon();
  ASSERT_TRUE(waitFor([&] { return events() == kEntries && pending() == 0; }, 60s))
      << again->stderrText();
  stopDaemon(*again);
  EXPECT_EQ(distinctEntries(), kEntries);
}

TEST_F(Pipeline, ReadsSeveralStreams) {
  const std::string other = stream_ + ":b";
  xadd(entryWithState(newUuid(), 1));
  xadd(entryWithState(newUuid(), 1), other);
  auto daemon = startDaemon({{"AUDITQ_CONSUMER_STREAMS", stream_ + "," + other}});
  ASSERT_TRUE(waitFor([&] { return events() == 2 && pending() == 0 && pending(other) == 0; }))
      << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(count("SELECT count(DISTINCT stream) FROM sync_events"), 2);
}

TEST_F(Pipeline, ProjectionsSwitchedOffWriteEventsOnly) {
  xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon(
      {{"AUDITQ_PROJECTIONS_SESSIONS", "false"}, {"AUDITQ_PROJECTIONS_PARTICIPANTS", "false"}});
  ASSERT_TRUE(waitFor([&] { return events() == 1 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(count("SELECT count(*) FROM sync_sessions"), 0);
  EXPECT_EQ(count("SELECT count(*) FROM sync_participants"), 0);
}

TEST_F(Pipeline, NewGroupStartsAtTheConfiguredId) {
  xadd(entryWithState(newUuid(), 1)); // before the group exists: skipped with start_id $
  auto daemon = startDaemon({{"AUDITQ_CONSUMER_START_ID", "$"}});
  ASSERT_TRUE(waitFor([&] {
    auto r = redis_->command({"XINFO", "GROUPS", stream_});
    return r->type == REDIS_REPLY_ARRAY && r->elements == 1;
  }));
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 1; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(events(), 1);
}

TEST_F(Pipeline, WaitsForAnUnmigratedDatabaseWithoutLosingEntries) {
  ScratchDatabase empty;
  createGroup();
  xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon({{"DATABASE_URL", empty.url()}});
  std::this_thread::sleep_for(1s);
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(pending(), 1) << "read but not committed: must stay pending";
  ASSERT_EQ(runAuditq({"migrate", "up"}, {{"DATABASE_URL", empty.url()}}).exit_code, 0);
  ASSERT_TRUE(waitFor([&] { return pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(empty.scalar("SELECT count(*) FROM sync_events"), "1");
}

TEST_F(Pipeline, ShutdownTimeoutExitsOneAndLeavesUncommittedEntriesPending) {
  ScratchDatabase empty; // not migrated: the batch can never commit
  createGroup();
  xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon({{"DATABASE_URL", empty.url()}, {"AUDITQ_SHUTDOWN_TIMEOUT_MS", "500"}});
  ASSERT_TRUE(waitFor([&] { return pending() == 1; })) << daemon->stderrText();
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(10s), 1) << daemon->stderrText();
  EXPECT_NE(daemon->stderrText().find("shutdown_timeout"), std::string::npos);
  EXPECT_EQ(pending(), 1) << "an uncommitted entry must never be acknowledged";
}

TEST_F(Pipeline, SighupAppliesAValidFileAndRefusesAnInvalidOne) {
  const std::string path = writeTempFile("log:\n  level: info\n");
  auto daemon = startWithHttp({{"AUDITQ_CONFIG", path}});
  ASSERT_TRUE(waitStatus("/readyz", 200, 20s)) << daemon->stderrText();
  std::ofstream(path) << "log:\n  level: loud\n";
  daemon->signal(SIGHUP);
  ASSERT_TRUE(waitFor([&] {
    return metric(R"(auditq_config_reloads_total{result="refused"})") == 1;
  })) << daemon->stderrText();
  EXPECT_EQ(metric(R"(auditq_config_reloads_total{result="applied"})"), 0);
  EXPECT_TRUE(daemon->running());
  std::ofstream(path) << "log:\n  level: debug\nbatch:\n  max_entries: 2\n"
                         "decode:\n  strict_types: true\n";
  daemon->signal(SIGHUP);
  ASSERT_TRUE(waitFor([&] {
    return metric(R"(auditq_config_reloads_total{result="applied"})") == 1;
  })) << daemon->stderrText();
  // decode.strict_types needs a restart: said, not applied.
  EXPECT_EQ(metric("auditq_config_restart_needed"), 1);
  for (int i = 0; i < 7; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  ASSERT_TRUE(waitFor([&] { return count("SELECT count(*) FROM sync_events") == 7; }));
  // Every batch after the reload is within its new limit (each batch's rows carry its id).
  EXPECT_LE(count("SELECT max(n) FROM (SELECT count(*) n FROM sync_events GROUP BY batch_id) b"),
            2);
  EXPECT_GE(count("SELECT count(DISTINCT batch_id) FROM sync_events"), 4);
  stopDaemon(*daemon);
}

TEST_F(Pipeline, SecondSignalExitsAtOnce) {
  ScratchDatabase empty;
  createGroup();
  xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon({{"DATABASE_URL", empty.url()}});
  ASSERT_TRUE(waitFor([&] { return pending() == 1; })) << daemon->stderrText();
  daemon->signal(SIGTERM);
  std::this_thread::sleep_for(200ms);
  EXPECT_TRUE(daemon->running()) << "the first signal waits for the batch in flight";
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(5s), 1) << daemon->stderrText();
  EXPECT_EQ(pending(), 1);
}

} // namespace
} // namespace auditq::test
