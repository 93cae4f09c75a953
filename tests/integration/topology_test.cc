// auditq in the topologies operators really run, each started by scripts/dev-stack on loopback
// (a private stack: integration/private_stack.h): PostgreSQL behind pgbouncer in transaction
// pooling mode. Each test ends with rows in PostgreSQL and entries pending in Redis.
#include <signal.h>

#include <set>
#include <thread>

#include <fmt/format.h>

#include "integration/pipeline_support.h"
#include "integration/private_stack.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

// pgbouncer 1.18 (Debian's), pool_mode = transaction, two server connections per database:
// consecutive transactions of one client run in whichever server session is free.
class Pgbouncer : public PipelineFixture {
protected:
  static void SetUpTestSuite() {
    private_stack::start();
    private_stack::run({"up-pgbouncer"});
  }
  static void TearDownTestSuite() { private_stack::stop(); }

  // This test's database, reached through pgbouncer.
  std::string pooledUrl() const {
    const std::string bouncer = private_stack::exported("AUDITQ_TEST_PGBOUNCER_URL");
    EXPECT_FALSE(bouncer.empty());
    return bouncer.substr(0, bouncer.rfind('/') + 1) + db_.name();
  }

  std::map<std::string, std::string> pooledEnv(std::map<std::string, std::string> extra = {}) {
    extra.emplace("DATABASE_URL", pooledUrl());
    return extra;
  }

  long long events() const {
    return count(fmt::format("SELECT count(*) FROM sync_events WHERE stream = '{}'", stream_));
  }

  // Sessions with their entries' versions 1..versions, in a pipeline.
  void addSessions(const std::vector<std::string>& sessions, int versions) {
    for (int v = 1; v <= versions; ++v) {
      for (const auto& s : sessions) {
        const auto fields = entryWithState(s, v);
        std::vector<std::string_view> args = {"XADD", stream_, "*"};
        args.insert(args.end(), fields.begin(), fields.end());
        redis_->append(args);
      }
      for (size_t i = 0; i < sessions.size(); ++i) {
        ASSERT_EQ(redis_->reply()->type, REDIS_REPLY_STRING);
      }
    }
  }

  // Server sessions PostgreSQL has open for this test's database.
  long long serverSessions() const {
    return count(fmt::format("SELECT count(*) FROM pg_stat_activity WHERE datname = '{}' AND "
                             "pid <> pg_backend_pid()",
                             db_.name()));
  }
};

// What 1.18 broke before: named prepared statements, session SET and temporary tables made at
// connect (measured then: 3,419 of 5,000 committed, then every write refused with
// `prepared statement "auditq_upsert_sessions" already exists`, 1,581 stranded).
TEST_F(Pgbouncer, TwoInstancesCommitEveryEntryOnceThroughTwoServerConnections) {
  std::vector<std::string> sessions;
  for (int i = 0; i < 500; ++i) {
    sessions.push_back(newUuid());
  }
  createGroup();
  addSessions(sessions, 10);
  const std::map<std::string, std::string> common = {{"AUDITQ_POSTGRES_WRITERS", "2"},
                                                     {"AUDITQ_BATCH_MAX_ENTRIES", "100"}};
  auto env_a = pooledEnv(common);
  env_a["AUDITQ_CONSUMER_NAME"] = consumer_ + "-a";
  auto env_b = pooledEnv(common);
  env_b["AUDITQ_CONSUMER_NAME"] = consumer_ + "-b";
  auto a = startDaemon(env_a);
  auto b = startDaemon(env_b);
  long long most_sessions = 0;
  ASSERT_TRUE(waitFor(
      [&] {
        most_sessions = std::max(most_sessions, serverSessions());
        return events() == 5000 && pending() == 0;
      },
      120s))
      << events() << " committed, " << pending() << " pending\n"
      << a->stderrText() << b->stderrText();
  stopDaemon(*a);
  stopDaemon(*b);
  EXPECT_EQ(count(fmt::format(
                "SELECT count(DISTINCT entry_id) FROM sync_events WHERE stream = '{}'", stream_)),
            5000);
  EXPECT_EQ(count("SELECT count(*) FROM sync_sessions WHERE version = 10"), 500);
  EXPECT_EQ(count("SELECT count(*) FROM sync_participants WHERE version = 10"), 500);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 0);
  // Six client connections (two writers and a control connection each) shared two servers.
  EXPECT_LE(most_sessions, 2);
  EXPECT_GE(most_sessions, 1);
}

// The staged path (redelivered entries skipped with ON CONFLICT through the per-transaction
// staging tables) and dead letters, through the pool.
TEST_F(Pgbouncer, RedeliveriesAreSkippedAndPoisonIsDeadLettered) {
  std::vector<std::string> sessions;
  for (int i = 0; i < 100; ++i) {
    sessions.push_back(newUuid());
  }
  createGroup();
  addSessions(sessions, 2);
  xadd({"type", "session_updated", "session_id", "not-a-uuid", "ts", "1"});
  xadd({"type", "session_updated", "session_id", newUuid(), "ts", "not-a-time"});
  auto daemon = startWithHttp(pooledEnv());
  ASSERT_TRUE(waitFor([&] { return events() == 200 && pending() == 0; }, 60s))
      << daemon->stderrText();
  stopDaemon(*daemon);
  ASSERT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 2);
  // Every entry delivered again, as after a crash before XACK.
  auto setid = redis_->command({"XGROUP", "SETID", stream_, group_, "0"});
  ASSERT_EQ(setid->type, REDIS_REPLY_STATUS);
  daemon = startWithHttp(pooledEnv());
  ASSERT_TRUE(waitFor([&] { return metric("auditq_duplicates_skipped_total") >= 200; }, 60s))
      << daemon->stderrText();
  ASSERT_TRUE(waitFor([&] { return pending() == 0; }, 30s)) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(events(), 200);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 2);
  EXPECT_EQ(count("SELECT count(*) FROM sync_sessions WHERE version = 2"), 100);
}

// --recover reads through the pool (one transaction, its cursor inside it).
TEST_F(Pgbouncer, RecoverRebuildsKeysThroughThePool) {
  const std::string prefix = uniqueName("session");
  std::vector<std::string> sessions;
  for (int i = 0; i < 50; ++i) {
    sessions.push_back(newUuid());
  }
  createGroup();
  const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count();
  for (int v = 1; v <= 3; ++v) {
    for (const auto& s : sessions) {
      auto fields = entryWithState(s, v);
      fields[5] = std::to_string(now_ms); // "ts": recent, so restorable
      xadd(fields);
    }
  }
  auto daemon = startDaemon(pooledEnv());
  ASSERT_TRUE(waitFor([&] { return events() == 150 && pending() == 0; }, 60s))
      << daemon->stderrText();
  stopDaemon(*daemon);
  auto r = runAuditq({"--recover"},
                     pooledEnv({{"REDIS_URL", redisUrl()},
                                {"AUDITQ_CONSUMER_STREAMS", stream_},
                                {"AUDITQ_CONSUMER_GROUP", group_},
                                {"AUDITQ_RECOVER_KEY_TEMPLATE", prefix + ":{session_id}"}}),
                     120s);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const auto& s : sessions) {
    auto key = redis_->command({"GET", prefix + ":" + s});
    ASSERT_EQ(key->type, REDIS_REPLY_STRING) << s;
    const std::string json(key->str, key->len);
    EXPECT_NE(json.find("\"version\": 3"), std::string::npos) << json;
  }
}

} // namespace
} // namespace auditq::test
