// auditq --recover against real servers, on a private stack (it flushes and stops Redis):
// restored values are JSON-equal to what was XADDed, tombstoned and terminal sessions stay
// absent, newer keys are kept, dry runs write nothing, reruns change nothing, and a Redis that
// goes away midway gives a clear error and a rerun that completes.
#include <fstream>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "integration/pipeline_support.h"
#include "integration/private_stack.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

class Recover : public PipelineFixture {
protected:
  static void SetUpTestSuite() { private_stack::start(); }
  static void TearDownTestSuite() { private_stack::stop(); }

  void SetUp() override {
    PipelineFixture::SetUp();
    prefix_ = uniqueName("session");
  }

  std::map<std::string, std::string> env(const std::map<std::string, std::string>& extra = {}) {
    std::map<std::string, std::string> e = {
        {"DATABASE_URL", db_.url()},
        {"REDIS_URL", redisUrl()},
        {"AUDITQ_CONSUMER_STREAMS", stream_},
        {"AUDITQ_CONSUMER_GROUP", group_},
        {"AUDITQ_RECOVER_KEY_TEMPLATE", prefix_ + ":{session_id}"}};
    for (const auto& [k, v] : extra) {
      e[k] = v;
    }
    return e;
  }
  ProcessResult recover(std::vector<std::string> args = {},
                        const std::map<std::string, std::string>& extra = {}) {
    args.insert(args.begin(), "--recover");
    return runAuditq(args, env(extra), 120s);
  }

  // Live sessions (v1..v3), one completed, one deleted, written by the daemon.
  void ingest() {
    for (int i = 0; i < 5; ++i) {
      live_.push_back(newUuid());
      for (int v = 1; v <= 3; ++v) {
        xadd(entryNow(live_.back(), v));
      }
    }
    terminal_ = newUuid();
    xadd(entryNow(terminal_, 1));
    xadd(entryNow(terminal_, 2, "completed", "session_completed"));
    tombstoned_ = newUuid();
    xadd(entryNow(tombstoned_, 1));
    last_id_ = xadd({"type", "session_deleted", "session_id", tombstoned_, "ts",
                     std::to_string(std::time(nullptr) * 1000)});
    auto daemon = startDaemon();
    ASSERT_TRUE(waitFor([&] { return count("SELECT count(*) FROM sync_events") == 19; }))
        << daemon->stderrText();
    stopDaemon(*daemon);
  }

  std::string key(const std::string& session) const { return prefix_ + ":" + session; }
  std::string get(const std::string& session) {
    const std::string k = key(session); // the views below must not outlive it
    std::vector<std::string_view> args = {"GET", k};
    auto r = redis_->command(args);
    return r->type == REDIS_REPLY_STRING ? std::string(r->str, r->len) : std::string();
  }
  long long ttl(const std::string& session) {
    const std::string k = key(session);
    std::vector<std::string_view> args = {"TTL", k};
    return redis_->command(args)->integer;
  }
  void set(const std::string& session, const std::string& value) {
    const std::string k = key(session);
    std::vector<std::string_view> args = {"SET", k, value};
    redis_->command(args);
  }
  void flushall() {
    std::vector<std::string_view> args = {"FLUSHALL"};
    redis_->command(args);
  }
  bool jsonEqual(const std::string& a, const std::string& b) const {
    auto conn = db_.connect();
    pqxx::work tx(*conn);
    return tx.exec_params("SELECT $1::jsonb = $2::jsonb", a, b)[0][0].as<bool>();
  }
  long long dbsize() {
    std::vector<std::string_view> args = {"DBSIZE"};
    return redis_->command(args)->integer;
  }

  std::string prefix_;
  std::vector<std::string> live_;
  std::string terminal_;
  std::string tombstoned_;
  std::string last_id_;
};

TEST_F(Recover, RestoresEveryLiveSessionAfterFlushall) {
  ingest();
  flushall(); // Redis lost everything, the stream and its group included
  auto r = recover();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("restored 5, skipped 2 (tombstoned 1, terminal 1, too_old 0, "
                       "no_snapshot 0, newer_in_redis 0), errors 0"),
            std::string::npos)
      << r.out;
  for (const auto& s : live_) {
    const std::string value = get(s);
    ASSERT_FALSE(value.empty()) << s;
    EXPECT_TRUE(jsonEqual(value, entryNow(s, 3).back())) << value;
    EXPECT_GT(ttl(s), 3500);
    EXPECT_LE(ttl(s), 3600);
  }
  EXPECT_EQ(get(terminal_), "") << "terminal sessions stay absent";
  EXPECT_EQ(get(tombstoned_), "") << "deleted sessions stay absent";
  EXPECT_NE(r.out.find(fmt::format("stream {}: newest entry in PostgreSQL {}", stream_, last_id_)),
            std::string::npos)
      << r.out;
  // The group is back, so `auditq run` can go on.
  std::vector<std::string_view> groups = {"XINFO", "GROUPS", stream_};
  auto g = redis_->command(groups);
  ASSERT_EQ(g->type, REDIS_REPLY_ARRAY);
  EXPECT_EQ(g->elements, 1u);
}

TEST_F(Recover, TheEventsPathRestoresTheSameValues) {
  ingest();
  flushall();
  auto r = recover({"--from-events"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restored 5, skipped 2 (tombstoned 1, terminal 1"), std::string::npos)
      << r.out;
  for (const auto& s : live_) {
    EXPECT_TRUE(jsonEqual(get(s), entryNow(s, 3).back()));
  }
  EXPECT_EQ(get(terminal_), "");
  EXPECT_EQ(get(tombstoned_), "");
}

TEST_F(Recover, WithoutTheSessionProjectionItReadsTheEvents) {
  ingest();
  db_.scalar("TRUNCATE sync_sessions"); // as if projections.sessions had always been off
  flushall();
  auto r = recover({}, {{"AUDITQ_PROJECTIONS_SESSIONS", "false"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restored 5, skipped 2 (tombstoned 1, terminal 1"), std::string::npos)
      << r.out;
  for (const auto& s : live_) {
    EXPECT_TRUE(jsonEqual(get(s), entryNow(s, 3).back()));
  }
}

TEST_F(Recover, IncludeTerminalRestoresCompletedSessionsButNeverDeletedOnes) {
  ingest();
  flushall();
  auto r = recover({}, {{"AUDITQ_RECOVER_INCLUDE_TERMINAL", "true"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(jsonEqual(get(terminal_), entryNow(terminal_, 2, "completed").back()));
  EXPECT_EQ(get(tombstoned_), "");
}

TEST_F(Recover, ANewerKeyInRedisIsKeptAnOlderOneReplaced) {
  ingest();
  flushall();
  const std::string newer = R"({"version": 9, "written": "by the application"})";
  set(live_[0], newer);
  set(live_[1], R"({"version": 1})");
  set(live_[2], "not json at all");
  auto r = recover();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(live_[0]), newer);
  EXPECT_TRUE(jsonEqual(get(live_[1]), entryNow(live_[1], 3).back()));
  EXPECT_EQ(get(live_[2]), "not json at all") << "what cannot be compared is never overwritten";
  EXPECT_NE(r.out.find("restored 3,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("newer_in_redis 2)"), std::string::npos) << r.out;
}

TEST_F(Recover, ItComparesTheVersionInsideTheSnapshotNotTheColumn) {
  ingest();
  flushall();
  // A row written before version_mismatch existed: the column says 9, its snapshot says 3.
  db_.scalar(fmt::format("UPDATE sync_sessions SET version = 9 WHERE session_id = '{}'", live_[0]));
  const std::string newer = R"({"version": 5, "written": "by the application"})";
  set(live_[0], newer);
  // A key whose version is not a number, or NaN (Lua's tonumber takes "nan"): not comparable.
  set(live_[1], R"({"version": "nan"})");
  set(live_[2], R"({"version": "seven"})");
  auto r = recover();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(get(live_[0]), newer) << "3 (the snapshot) is older than 5 (the key)";
  EXPECT_EQ(get(live_[1]), R"({"version": "nan"})");
  EXPECT_EQ(get(live_[2]), R"({"version": "seven"})");
  EXPECT_NE(r.out.find("newer_in_redis 3)"), std::string::npos) << r.out;
}

// The snapshot lookup splits the ids auditq writes with plain string functions; anything else
// (edited by hand, or a part too long for bigint) goes to the checked helpers and is reported
// as a session without a snapshot, never as a failed cast that stops the whole recovery.
TEST_F(Recover, ASnapshotReferenceThatIsNotAnEntryIdIsSkippedNotFatal) {
  ingest();
  flushall();
  db_.scalar(fmt::format("UPDATE sync_sessions SET snapshot_entry_id = 'not-an-id' "
                         "WHERE session_id = '{}'",
                         live_[0]));
  db_.scalar(fmt::format("UPDATE sync_sessions SET snapshot_entry_id = '99999999999999999999-1' "
                         "WHERE session_id = '{}'",
                         live_[1]));
  auto r = recover();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restored 3,"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no_snapshot 2,"), std::string::npos) << r.out;
  EXPECT_TRUE(get(live_[0]).empty());
  EXPECT_TRUE(get(live_[1]).empty());
  EXPECT_FALSE(get(live_[2]).empty());
}

TEST_F(Recover, DryRunWritesNothing) {
  ingest();
  flushall();
  auto r = recover({"--dry-run"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("would restore 5, skipped 2"), std::string::npos) << r.out;
  EXPECT_EQ(dbsize(), 0);
}

TEST_F(Recover, ASecondRunChangesNothing) {
  ingest();
  flushall();
  ASSERT_EQ(recover().exit_code, 0);
  std::vector<std::string> before;
  for (const auto& s : live_) {
    before.push_back(get(s));
  }
  auto again = recover({"recover"}); // `auditq --recover recover` is the same command
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("restored 0, skipped 7"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("newer_in_redis 5)"), std::string::npos) << again.out;
  for (size_t i = 0; i < live_.size(); ++i) {
    EXPECT_EQ(get(live_[i]), before[i]);
  }
}

TEST_F(Recover, OneSessionOnly) {
  ingest();
  flushall();
  auto r = runAuditq({"recover", "--session", live_[2]}, env());
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(dbsize(), 2) << "the one key and the recreated stream";
  EXPECT_FALSE(get(live_[2]).empty());
  EXPECT_EQ(runAuditq({"recover", "--session", "nope"}, env()).exit_code, 2);
  auto unknown = runAuditq({"recover", "--session", newUuid()}, env());
  EXPECT_EQ(unknown.exit_code, 1);
  EXPECT_NE(unknown.err.find("has no snapshot"), std::string::npos) << unknown.err;
}

TEST_F(Recover, OldSessionsNeedAll) {
  // The fixture's standard entries are from 2024: far older than the key TTL.
  for (int i = 0; i < 3; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return count("SELECT count(*) FROM sync_events") == 3; }));
  stopDaemon(*daemon);
  flushall();
  auto r = recover();
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("restored 0, skipped 3 (tombstoned 0, terminal 0, too_old 3"),
            std::string::npos)
      << r.out;
  auto all = recover({"--all"});
  EXPECT_NE(all.out.find("restored 3,"), std::string::npos) << all.out;
}

TEST_F(Recover, RedisGoingAwayMidwayFailsClearlyAndARerunCompletes) {
  // Enough sessions that the run is still going when Redis stops: written by SQL.
  std::ifstream in(std::string(AUDITQ_SOURCE_DIR) + "/bench/recover_dataset.sql");
  std::stringstream sql;
  sql << in.rdbuf();
  const std::string dataset =
      fmt::format(fmt::runtime(sql.str()), fmt::arg("seed", prefix_), fmt::arg("live", 20000),
                  fmt::arg("terminal", 0), fmt::arg("tombstoned", 0), fmt::arg("events", 1),
                  fmt::arg("pad", 100), fmt::arg("age_seconds", 10), fmt::arg("stream", stream_));
  db_.scalar(dataset);
  flushall();
  // One command in flight at a time: slow enough to be stopped midway.
  Subprocess run({auditqBinary(), "--recover"}, env({{"AUDITQ_RECOVER_PIPELINE", "1"}}));
  ASSERT_TRUE(waitFor([&] { return dbsize() > 500; }, 30s)) << run.stderrText();
  private_stack::run({"stop-redis"});
  EXPECT_EQ(run.wait(60s), 1) << run.stderrText();
  EXPECT_NE(run.stderrText().find("Redis failed after"), std::string::npos) << run.stderrText();
  EXPECT_NE(run.stderrText().find("safe to run again"), std::string::npos);
  private_stack::run({"start-redis"});
  config::RedisConfig rc;
  rc.url = redisUrl();
  redis_ = std::make_unique<redis::BlockingClient>(redis::BlockingClient::connect(rc));
  const long long kept = dbsize(); // what the AOF kept of the first run
  auto rerun = recover();
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_EQ(dbsize(), 20000 + 1) << "every session, and the recreated stream";
  EXPECT_GT(kept, 0);
}

} // namespace
} // namespace auditq::test
