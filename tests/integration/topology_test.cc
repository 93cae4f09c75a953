// auditq in the topologies operators really run, each started by scripts/dev-stack on loopback
// (a private stack: integration/private_stack.h): PostgreSQL behind pgbouncer in transaction
// pooling mode. Each test ends with rows in PostgreSQL and entries pending in Redis.
#include <signal.h>

#include <atomic>
#include <iostream>
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
  createGroup();
  addRecentSessions(500, 10);
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
  createGroup();
  addRecentSessions(100, 2);
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
  createGroup();
  const auto sessions = addRecentSessions(50, 3);
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

// Redis Sentinel (Debian's redis-server and redis-sentinel): a primary, its replica, three
// sentinels. auditq is given only the sentinels and the primary's name.
class Sentinel : public PipelineFixture {
protected:
  static void SetUpTestSuite() {
    private_stack::start();
    private_stack::run({"up-sentinel"});
  }
  static void TearDownTestSuite() { private_stack::stop(); }

  static config::RedisConfig viaSentinels() {
    config::RedisConfig rc;
    rc.url = "redis://sentinel-named-primary/0"; // the host is the sentinels' to say
    std::string list = private_stack::exported("AUDITQ_TEST_SENTINELS");
    for (size_t at = 0; at < list.size();) {
      const size_t comma = std::min(list.find(',', at), list.size());
      rc.sentinels.push_back(list.substr(at, comma - at));
      at = comma + 1;
    }
    rc.master_name = private_stack::exported("AUDITQ_TEST_SENTINEL_MASTER");
    rc.sentinel_password = private_stack::exported("AUDITQ_TEST_SENTINEL_PASSWORD");
    rc.connect_timeout_ms = 500;
    rc.command_timeout_ms = 1000;
    return rc;
  }

  // A client of whatever the sentinels call the primary now; retried through a failover.
  static std::unique_ptr<redis::BlockingClient> primary(std::chrono::milliseconds patience = 30s) {
    const auto deadline = std::chrono::steady_clock::now() + patience;
    for (;;) {
      try {
        return std::make_unique<redis::BlockingClient>(
            redis::BlockingClient::connect(viaSentinels()));
      } catch (const redis::Error&) {
        if (std::chrono::steady_clock::now() > deadline) {
          throw;
        }
        std::this_thread::sleep_for(50ms);
      }
    }
  }

  std::map<std::string, std::string> sentinelEnv() const {
    const auto rc = viaSentinels();
    std::string list;
    for (const auto& s : rc.sentinels) {
      list += (list.empty() ? "" : ",") + s;
    }
    return {{"REDIS_URL", rc.url},
            {"AUDITQ_REDIS_SENTINELS", list},
            {"AUDITQ_REDIS_MASTER_NAME", rc.master_name},
            {"AUDITQ_REDIS_SENTINEL_PASSWORD", rc.sentinel_password},
            {"AUDITQ_RETRY_MAX_MS", "30000"}}; // the default backoff: the figure operators get
  }

  static int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// The sentinels require a password (as the failover test's do too): without it, or with a
// wrong one, no sentinel names a primary, and check-config says so with each sentinel's answer.
TEST_F(Sentinel, TheSentinelsPasswordIsSentAndAWrongOneIsAClearError) {
  auto check = [&](std::map<std::string, std::string> env) {
    env["DATABASE_URL"] = db_.url();
    return runAuditq({"check-config", "--connect"}, env);
  };
  auto env = sentinelEnv();
  const auto good = check(env);
  EXPECT_EQ(good.exit_code, 0) << good.out << good.err;
  env["AUDITQ_REDIS_SENTINEL_PASSWORD"] = "not-the-password";
  const auto wrong = check(env);
  EXPECT_EQ(wrong.exit_code, 1);
  EXPECT_NE(wrong.out.find("redis: UNREACHABLE"), std::string::npos) << wrong.out;
  EXPECT_NE(wrong.out.find("WRONGPASS"), std::string::npos) << wrong.out;
  EXPECT_EQ((wrong.out + wrong.err).find("not-the-password"), std::string::npos) << wrong.out;
  env.erase("AUDITQ_REDIS_SENTINEL_PASSWORD");
  const auto none = check(env);
  EXPECT_EQ(none.exit_code, 1);
  EXPECT_NE(none.out.find("NOAUTH"), std::string::npos) << none.out;
}

// A sentinel that has not seen a failover yet names the old primary, now a replica. auditq
// asks the server itself (ROLE) and refuses it: it never reads or acknowledges on a replica.
// Here one sentinel is told to monitor the replica under a name of its own, which makes it
// answer with the replica's address just as a lagging one would.
TEST_F(Sentinel, AServerTheSentinelNamesButThatIsAReplicaIsRefused) {
  const auto rc = viaSentinels();
  config::RedisConfig direct;
  direct.url = fmt::format("redis://:{}@{}/0", rc.sentinel_password, rc.sentinels.front());
  direct.connect_timeout_ms = 2000;
  direct.command_timeout_ms = 2000;
  auto sentinel = redis::BlockingClient::connect(direct);
  auto replicas = sentinel.command({"SENTINEL", "REPLICAS", rc.master_name});
  ASSERT_EQ(replicas->type, REDIS_REPLY_ARRAY);
  ASSERT_GE(replicas->elements, 1u);
  std::string ip, port;
  const redisReply* fields = replicas->element[0];
  for (size_t i = 0; i + 1 < fields->elements; i += 2) {
    const std::string key(fields->element[i]->str, fields->element[i]->len);
    const std::string value(fields->element[i + 1]->str, fields->element[i + 1]->len);
    if (key == "ip") {
      ip = value;
    } else if (key == "port") {
      port = value;
    }
  }
  ASSERT_FALSE(port.empty());
  auto monitored = sentinel.command({"SENTINEL", "MONITOR", "auditq-lagging", ip, port, "1"});
  ASSERT_EQ(monitored->type, REDIS_REPLY_STATUS) << (monitored->str ? monitored->str : "");
  auto named = sentinel.command({"SENTINEL", "GET-MASTER-ADDR-BY-NAME", "auditq-lagging"});
  ASSERT_EQ(named->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(named->elements, 2u);
  EXPECT_EQ(std::string(named->element[1]->str, named->element[1]->len), port);

  auto env = sentinelEnv();
  env["DATABASE_URL"] = db_.url();
  env["AUDITQ_REDIS_SENTINELS"] = rc.sentinels.front();
  env["AUDITQ_REDIS_MASTER_NAME"] = "auditq-lagging";
  const auto refused = runAuditq({"check-config", "--connect"}, env);
  sentinel.command({"SENTINEL", "REMOVE", "auditq-lagging"});
  EXPECT_EQ(refused.exit_code, 1) << refused.out << refused.err;
  EXPECT_NE(refused.out.find("redis: UNREACHABLE"), std::string::npos) << refused.out;
  EXPECT_NE(refused.out.find(fmt::format("127.0.0.1:{} is not the primary (role slave)", port)),
            std::string::npos)
      << refused.out;
  // The same sentinel with the real primary's name: accepted, so the refusal was the role's.
  env["AUDITQ_REDIS_MASTER_NAME"] = rc.master_name;
  const auto accepted = runAuditq({"check-config", "--connect"}, env);
  EXPECT_EQ(accepted.exit_code, 0) << accepted.out << accepted.err;
}

// Entries flow at 2,000/s; the primary is SIGKILLed; the sentinels promote the replica.
// Every entry the promoted primary holds ends in sync_events exactly once and nothing stays
// pending. Entries the old primary acknowledged to the producer but had not replicated are
// gone from Redis itself: counted and reported, not auditq's loss.
TEST_F(Sentinel, PrimaryKilledUnderLoadEveryEntryOfThePromotedPrimaryCommittedOnce) {
  redis_ = primary();
  createGroup();
  auto daemon = startDaemon(sentinelEnv());
  std::atomic<bool> stop{false};
  std::vector<std::string> acked; // ids XADD returned, whichever primary
  std::atomic<int64_t> killed_ms{INT64_MAX};
  std::atomic<int64_t> promoted_ms{0}; // the producer's first XADD taken after the kill
  std::thread producer([&] {
    auto client = primary();
    const auto session = newUuid();
    const auto t0 = std::chrono::steady_clock::now();
    bool reconnected = false;
    for (int n = 0; !stop; ++n) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(500) * n);
      const auto fields = entryWithState(session, n + 1);
      std::vector<std::string_view> args = {"XADD", stream_, "*"};
      args.insert(args.end(), fields.begin(), fields.end());
      try {
        auto r = client->command(args);
        if (r->type == REDIS_REPLY_STRING) {
          acked.emplace_back(r->str, r->len);
          if (reconnected && promoted_ms == 0) {
            promoted_ms = nowMs();
          }
          continue;
        }
      } catch (const redis::Error&) {
      }
      try {
        reconnected = true;
        client = primary(2s); // lost or read-only: ask the sentinels again
      } catch (const redis::Error&) {
      }
    }
  });
  ASSERT_TRUE(waitFor([&] { return events() >= 2000; }, 30s)) << daemon->stderrText();
  private_stack::run({"kill-sentinel-primary"});
  // Taken once the primary is dead: an entry stamped later was added to the promoted one.
  killed_ms = nowMs();
  int64_t again_ms = 0;
  waitFor(
      [&] {
        const auto newest = count(fmt::format(
            "SELECT coalesce(max(entry_ms), 0) FROM sync_events WHERE stream = '{}'", stream_));
        if (newest > killed_ms) {
          again_ms = nowMs();
          return true;
        }
        return false;
      },
      60s);
  std::this_thread::sleep_for(3s); // the flow goes on after the failover
  stop = true;
  producer.join();
  ASSERT_GT(again_ms, 0) << "no entry added after the kill was committed\n" << daemon->stderrText();
  redis_ = primary();
  std::vector<std::string> ids;
  auto range = redis_->command({"XRANGE", stream_, "-", "+"});
  for (size_t i = 0; range->type == REDIS_REPLY_ARRAY && i < range->elements; ++i) {
    ids.emplace_back(range->element[i]->element[0]->str, range->element[i]->element[0]->len);
  }
  ASSERT_TRUE(waitFor([&] { return pending() == 0 && events() >= (long long)ids.size(); }, 60s))
      << pending() << " pending\n"
      << daemon->stderrText();
  stopDaemon(*daemon);
  const std::set<std::string> held(ids.begin(), ids.end());
  auto conn = db_.connect();
  pqxx::work tx(*conn);
  std::map<std::string, int> committed;
  for (const auto& row : tx.exec(fmt::format(
           "SELECT entry_id, count(*) FROM sync_events WHERE stream = '{}' GROUP BY 1", stream_))) {
    committed[row[0].as<std::string>()] = row[1].as<int>();
  }
  size_t missing = 0;
  size_t twice = 0;
  for (const auto& id : ids) {
    missing += committed.count(id) == 0 ? 1 : 0;
    twice += committed.count(id) != 0 && committed[id] > 1 ? 1 : 0;
  }
  EXPECT_EQ(missing, 0U) << "entries on the promoted primary not committed";
  EXPECT_EQ(twice, 0U) << "entries committed twice";
  EXPECT_EQ(pending(), 0);
  size_t lost_by_redis = 0; // acknowledged by the old primary, never replicated
  for (const auto& id : acked) {
    lost_by_redis += held.count(id) == 0 ? 1 : 0;
  }
  size_t committed_not_replicated = 0; // committed from the old primary, gone from the new
  for (const auto& [id, n] : committed) {
    committed_not_replicated += held.count(id) == 0 ? 1 : 0;
  }
  std::cout << fmt::format("[figures] sentinel failover: primary SIGKILLed at 2,000 entries/s; "
                           "the application wrote again after {} ms (the sentinels' failover), "
                           "auditq committed again after {} ms; {} entries on the promoted "
                           "primary, all committed once; {} acknowledged by the old primary "
                           "and lost by Redis (never replicated); {} committed entries are not "
                           "on the promoted primary\n",
                           promoted_ms - killed_ms, again_ms - killed_ms, ids.size(), lost_by_redis,
                           committed_not_replicated);
}

// PostgreSQL with a synchronous streaming standby (pg_basebackup); auditq is given both hosts
// with target_session_attrs=read-write, so libpq picks whichever is the primary.
class Standby : public PipelineFixture {
protected:
  static void SetUpTestSuite() {
    private_stack::start();
    private_stack::run({"up-standby"});
  }
  static void TearDownTestSuite() { private_stack::stop(); }

  std::string standbyUrl() const {
    return fmt::format("postgresql://postgres@127.0.0.1:{}/{}",
                       private_stack::exported("AUDITQ_TEST_PG_STANDBY_PORT"), db_.name());
  }
  // primary,standby in one URL: postgresql://postgres@127.0.0.1:P,127.0.0.1:S/db?...
  std::string multiHostUrl() const {
    const std::string url = db_.url();
    const auto slash = url.rfind('/');
    return fmt::format("{},127.0.0.1:{}{}?target_session_attrs=read-write", url.substr(0, slash),
                       private_stack::exported("AUDITQ_TEST_PG_STANDBY_PORT"), url.substr(slash));
  }
  long long onStandby(const std::string& sql) const {
    try {
      pqxx::connection c(standbyUrl());
      pqxx::nontransaction tx(c);
      return tx.exec1(sql)[0].as<long long>();
    } catch (const std::exception&) {
      return -1;
    }
  }
  static int64_t nowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// Entries flow at 2,000/s; the primary is stopped -m immediate (commits whose reply was lost
// included) and the standby promoted. Every entry ends in the new primary's sync_events
// exactly once, nothing stays pending.
TEST_F(Standby, PrimaryStoppedImmediateAndStandbyPromotedEveryEntryCommittedOnce) {
  createGroup();
  auto daemon = startDaemon(
      {{"DATABASE_URL", multiHostUrl()}, {"AUDITQ_RETRY_MAX_MS", "30000"}}); // the default backoff
  std::atomic<bool> stop{false};
  std::thread producer([&] {
    config::RedisConfig rc;
    rc.url = redisUrl();
    auto client = redis::BlockingClient::connect(rc);
    const auto session = newUuid();
    const auto t0 = std::chrono::steady_clock::now();
    for (int n = 0; !stop; ++n) {
      std::this_thread::sleep_until(t0 + std::chrono::microseconds(500) * n);
      const auto fields = entryWithState(session, n + 1);
      std::vector<std::string_view> args = {"XADD", stream_, "*"};
      args.insert(args.end(), fields.begin(), fields.end());
      client.command(args);
    }
  });
  ASSERT_TRUE(waitFor([&] { return onStandby("SELECT count(*) FROM sync_events") >= 2000; }, 30s))
      << daemon->stderrText();
  private_stack::run({"stop-pg", "immediate"});
  const int64_t stopped_ms = nowMs();
  std::this_thread::sleep_for(1s); // the operator (or the failover manager) takes a moment
  private_stack::run({"promote-standby"});
  const int64_t promoted_ms = nowMs();
  const long long at_promotion = onStandby("SELECT count(*) FROM sync_events");
  int64_t again_ms = 0;
  waitFor(
      [&] {
        if (onStandby("SELECT count(*) FROM sync_events") > at_promotion) {
          again_ms = nowMs();
          return true;
        }
        return false;
      },
      60s);
  std::this_thread::sleep_for(2s); // the flow goes on after the promotion
  stop = true;
  producer.join();
  ASSERT_GT(again_ms, 0) << "nothing committed after the promotion\n" << daemon->stderrText();
  std::vector<std::string> ids;
  auto range = redis_->command({"XRANGE", stream_, "-", "+"});
  for (size_t i = 0; range->type == REDIS_REPLY_ARRAY && i < range->elements; ++i) {
    ids.emplace_back(range->element[i]->element[0]->str, range->element[i]->element[0]->len);
  }
  ASSERT_TRUE(waitFor(
      [&] {
        return pending() == 0 &&
               onStandby("SELECT count(*) FROM sync_events") >= (long long)ids.size();
      },
      90s))
      << pending() << " pending\n"
      << daemon->stderrText();
  daemon->signal(SIGTERM);
  EXPECT_EQ(daemon->wait(30s), 0) << daemon->stderrText();
  pqxx::connection c(standbyUrl());
  pqxx::work tx(c);
  std::map<std::string, int> committed;
  for (const auto& row : tx.exec("SELECT entry_id, count(*) FROM sync_events GROUP BY 1")) {
    committed[row[0].as<std::string>()] = row[1].as<int>();
  }
  size_t missing = 0;
  size_t twice = 0;
  for (const auto& id : ids) {
    missing += committed.count(id) == 0 ? 1 : 0;
    twice += committed.count(id) != 0 && committed[id] > 1 ? 1 : 0;
  }
  EXPECT_EQ(missing, 0U) << "entries not committed on the new primary";
  EXPECT_EQ(twice, 0U);
  EXPECT_EQ(committed.size(), ids.size()) << "rows for entries the stream does not hold";
  EXPECT_EQ(pending(), 0);
  std::cout << fmt::format("[figures] standby promotion: primary stopped -m immediate at 2,000 "
                           "entries/s, standby promoted {} ms later; auditq committed again {} ms "
                           "after the promotion ({} ms after the stop); {} entries, each "
                           "committed once on the new primary; {} were there at the promotion\n",
                           promoted_ms - stopped_ms, again_ms - promoted_ms, again_ms - stopped_ms,
                           ids.size(), at_promotion);
}

// Redis speaking only TLS (redis-server --tls-port, certificates from a throwaway CA made with
// openssl by scripts/dev-stack), and the same server's unix socket.
class RedisTls : public PipelineFixture {
protected:
  static void SetUpTestSuite() {
    private_stack::start();
    private_stack::run({"up-redis-tls"});
  }
  static void TearDownTestSuite() { private_stack::stop(); }

  void SetUp() override {
    PipelineFixture::SetUp();
    redis_ = std::make_unique<redis::BlockingClient>(redis::BlockingClient::connect(tlsConfig()));
  }

  static config::RedisConfig tlsConfig() {
    config::RedisConfig rc;
    rc.url = private_stack::exported("AUDITQ_TEST_REDIS_TLS_URL");
    rc.tls_ca_file = private_stack::exported("AUDITQ_TEST_REDIS_TLS_CA");
    return rc;
  }
  // The daemon's and the tools' environment: verified TLS with a client certificate.
  std::map<std::string, std::string> tlsEnv(std::map<std::string, std::string> extra = {}) const {
    extra.emplace("REDIS_URL", tlsConfig().url);
    extra.emplace("AUDITQ_REDIS_TLS_CA_FILE", tlsConfig().tls_ca_file);
    extra.emplace("AUDITQ_REDIS_TLS_CERT_FILE",
                  private_stack::exported("AUDITQ_TEST_REDIS_TLS_CLIENT_CERT"));
    extra.emplace("AUDITQ_REDIS_TLS_KEY_FILE",
                  private_stack::exported("AUDITQ_TEST_REDIS_TLS_CLIENT_KEY"));
    return extra;
  }
  ProcessResult checkConnect(const std::map<std::string, std::string>& env) const {
    auto e = env;
    e["DATABASE_URL"] = db_.url();
    return runAuditq({"check-config", "--connect"}, e);
  }
};

// The daemon, --recover and dlq replay, each over TLS with the certificate verified.
TEST_F(RedisTls, PipelineRecoverAndReplayWorkOverVerifiedTls) {
  const std::string prefix = uniqueName("session");
  createGroup();
  const auto sessions = addRecentSessions(100, 3);
  xadd({"type", "session_updated", "session_id", "not-a-uuid", "ts", "1"});
  xadd({"type", "session_updated", "session_id", "nope", "ts", "1"});
  auto daemon = startDaemon(tlsEnv());
  ASSERT_TRUE(waitFor([&] { return events() == 300 && pending() == 0; }, 60s))
      << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 2);

  auto recover = runAuditq({"--recover"},
                           tlsEnv({{"DATABASE_URL", db_.url()},
                                   {"AUDITQ_CONSUMER_STREAMS", stream_},
                                   {"AUDITQ_CONSUMER_GROUP", group_},
                                   {"AUDITQ_RECOVER_KEY_TEMPLATE", prefix + ":{session_id}"}}),
                           120s);
  ASSERT_EQ(recover.exit_code, 0) << recover.err;
  for (const auto& s : sessions) {
    auto key = redis_->command({"GET", prefix + ":" + s});
    ASSERT_EQ(key->type, REDIS_REPLY_STRING) << s;
    EXPECT_NE(std::string(key->str, key->len).find("\"version\": 3"), std::string::npos);
  }

  const auto before = redis_->command({"XLEN", stream_})->integer;
  auto replay = runAuditq({"dlq", "replay", "--all"}, tlsEnv({{"DATABASE_URL", db_.url()},
                                                              {"AUDITQ_CONSUMER_STREAMS", stream_},
                                                              {"AUDITQ_CONSUMER_GROUP", group_}}));
  ASSERT_EQ(replay.exit_code, 0) << replay.err;
  EXPECT_EQ(redis_->command({"XLEN", stream_})->integer, before + 2);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters WHERE replayed_at IS NOT NULL"), 2);
}

// A certificate that does not chain to the configured CA, or does not carry the expected
// name, is refused with an error that says so; the daemon does not become ready.
TEST_F(RedisTls, AServerThatCannotBeVerifiedIsRefused) {
  auto ok = checkConnect(tlsEnv());
  EXPECT_EQ(ok.exit_code, 0) << ok.out << ok.err;

  auto wrong_ca = tlsEnv();
  wrong_ca["AUDITQ_REDIS_TLS_CA_FILE"] = private_stack::exported("AUDITQ_TEST_REDIS_TLS_WRONG_CA");
  auto r = checkConnect(wrong_ca);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("certificate verify failed"), std::string::npos) << r.out;

  auto wrong_name = tlsEnv();
  wrong_name["AUDITQ_REDIS_TLS_SERVER_NAME"] = "redis.example.org";
  r = checkConnect(wrong_name);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.out.find("redis.example.org"), std::string::npos) << r.out;

  // Plain text to a TLS port: never answered, a clear failure within the connect timeout.
  r = checkConnect({{"REDIS_URL", "redis" + tlsConfig().url.substr(6)}});
  EXPECT_EQ(r.exit_code, 1) << r.out;

  createGroup();
  xadd(entryWithState(newUuid(), 1));
  auto daemon = startWithHttp(wrong_ca);
  std::this_thread::sleep_for(2s);
  EXPECT_EQ(get("/readyz").status, 503u);
  EXPECT_EQ(events(), 0);
  daemon->signal(SIGTERM);
  daemon->wait(30s);
}

// unix:///path sockets: the same connection code, no TCP.
TEST_F(RedisTls, TheDaemonReadsThroughAUnixSocket) {
  createGroup();
  for (int i = 0; i < 50; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  auto daemon = startDaemon({{"REDIS_URL", private_stack::exported("AUDITQ_TEST_REDIS_UNIX_URL")}});
  ASSERT_TRUE(waitFor([&] { return events() == 50 && pending() == 0; }, 60s))
      << daemon->stderrText();
  stopDaemon(*daemon);
}

} // namespace
} // namespace auditq::test
