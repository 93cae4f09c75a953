// Migrations against a real PostgreSQL 15: round trips, checksums, locking, and the schema's
// constraints as DESIGN.md specifies them.
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "integration/private_stack.h"
#include "integration/support.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

std::map<std::string, std::string> envFor(const ScratchDatabase& db) {
  return {{"DATABASE_URL", db.url()}, {"REDIS_URL", redisUrl()}};
}

std::string countTables(const ScratchDatabase& db) {
  return db.scalar("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'");
}

// How many migrations the source tree (and so the binary) has.
std::string migrationCount() {
  size_t n = 0;
  for (const auto& f :
       std::filesystem::directory_iterator(std::string(AUDITQ_SOURCE_DIR) + "/migrations")) {
    n += f.path().filename().string().ends_with(".up.sql") ? 1 : 0;
  }
  return std::to_string(n);
}

TEST(Migrations, UpOnAFreshDatabaseAppliesAndStatusListsIt) {
  ScratchDatabase db;
  auto up = runAuditq({"migrate", "up"}, envFor(db));
  ASSERT_EQ(up.exit_code, 0) << up.err;
  EXPECT_NE(up.out.find("applied 0001_sync_schema"), std::string::npos);
  auto status = runAuditq({"migrate", "status"}, envFor(db));
  ASSERT_EQ(status.exit_code, 0) << status.err;
  EXPECT_TRUE(std::regex_search(status.out, std::regex(R"(0001_sync_schema\s+applied 20\d\d-)")))
      << status.out;
}

TEST(Migrations, UpIsIdempotent) {
  ScratchDatabase db;
  const auto first = runAuditq({"migrate", "up"}, envFor(db));
  ASSERT_EQ(first.exit_code, 0) << first.err;
  auto again = runAuditq({"migrate", "up"}, envFor(db));
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("up to date"), std::string::npos);
  EXPECT_EQ(db.scalar("SELECT count(*) FROM auditq_schema_migrations"), migrationCount());
}

TEST(Migrations, UpDownUpRoundTripRestoresTheSchema) {
  ScratchDatabase db;
  ASSERT_EQ(runAuditq({"migrate", "up"}, envFor(db)).exit_code, 0);
  const std::string tables_after_up = countTables(db);
  EXPECT_EQ(db.scalar("SELECT has_table_privilege('auditq_writer', 'sync_events', 'INSERT')"), "t");
  // The newest first, one at a time: 0005 drops the tie-break columns, 0004 the recorded group
  // starts; 0003 takes the writer role's privileges back, the role stays (cluster-wide); 0002
  // leaves the seed schema.
  EXPECT_EQ(db.scalar("SELECT relkind FROM pg_class WHERE relname = 'sync_events'"), "p");
  auto plain = runAuditq({"migrate", "down"}, envFor(db));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  EXPECT_NE(plain.out.find("rolled back 0007_partitions"), std::string::npos) << plain.out;
  EXPECT_EQ(db.scalar("SELECT string_agg(relkind::text, ',') FROM pg_class WHERE relname IN "
                      "('sync_events', 'auditq_dead_letters')"),
            "r,r");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM information_schema.columns WHERE "
                      "table_name = 'sync_events' AND column_name = 'entry_ms'"),
            "0");
  auto counts = runAuditq({"migrate", "down"}, envFor(db));
  ASSERT_EQ(counts.exit_code, 0) << counts.err;
  EXPECT_NE(counts.out.find("rolled back 0006_dead_letter_counts"), std::string::npos)
      << counts.out;
  EXPECT_EQ(db.scalar("SELECT data_type FROM information_schema.columns WHERE "
                      "table_name = 'auditq_dead_letters' AND column_name = 'delivery_count'"),
            "integer");
  auto order = runAuditq({"migrate", "down"}, envFor(db));
  ASSERT_EQ(order.exit_code, 0) << order.err;
  EXPECT_NE(order.out.find("rolled back 0005_order_independent"), std::string::npos) << order.out;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM information_schema.columns WHERE "
                      "table_name = 'sync_participants' AND column_name = 'snapshot_entry_id'"),
            "0");
  auto starts = runAuditq({"migrate", "down"}, envFor(db));
  ASSERT_EQ(starts.exit_code, 0) << starts.err;
  EXPECT_NE(starts.out.find("rolled back 0004_stream_starts"), std::string::npos) << starts.out;
  EXPECT_EQ(db.scalar("SELECT to_regclass('auditq_stream_starts') IS NULL"), "t");
  auto revoke = runAuditq({"migrate", "down"}, envFor(db));
  ASSERT_EQ(revoke.exit_code, 0) << revoke.err;
  EXPECT_NE(revoke.out.find("rolled back 0003_writer_role"), std::string::npos) << revoke.out;
  EXPECT_EQ(db.scalar("SELECT has_table_privilege('auditq_writer', 'sync_events', 'INSERT')"), "f");
  auto one = runAuditq({"migrate", "down"}, envFor(db));
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("rolled back 0002_dead_letter_replay"), std::string::npos) << one.out;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM information_schema.columns WHERE "
                      "table_name = 'auditq_dead_letters' AND column_name = 'replayed_as'"),
            "0");
  EXPECT_EQ(db.scalar("SELECT to_regclass('sync_events') IS NOT NULL"), "t");
  auto down = runAuditq({"migrate", "down", "1000"}, envFor(db));
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_NE(down.out.find("rolled back 0001_sync_schema"), std::string::npos) << down.out;
  EXPECT_EQ(db.scalar("SELECT to_regclass('sync_events') IS NULL"), "t");
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_type WHERE typname IN ('sync_mode','sync_status')"),
            "0");
  auto status = runAuditq({"migrate", "status"}, envFor(db));
  EXPECT_NE(status.out.find("pending"), std::string::npos);
  ASSERT_EQ(runAuditq({"migrate", "up"}, envFor(db)).exit_code, 0);
  EXPECT_EQ(countTables(db), tables_after_up);
}

TEST(Migrations, RefusesAnAppliedMigrationWhoseFileChanged) {
  ScratchDatabase db;
  ASSERT_EQ(runAuditq({"migrate", "up"}, envFor(db)).exit_code, 0);
  // Simulate an edited file: the binary's checksum no longer matches the recorded one.
  db.scalar("UPDATE auditq_schema_migrations SET checksum = 'deadbeef' WHERE version = 1");
  auto up = runAuditq({"migrate", "up"}, envFor(db));
  EXPECT_EQ(up.exit_code, 1);
  EXPECT_NE(up.err.find("0001_sync_schema was changed after it was applied"), std::string::npos)
      << up.err;
  auto status = runAuditq({"migrate", "status"}, envFor(db));
  EXPECT_EQ(status.exit_code, 1);
  EXPECT_NE(status.out.find("CHANGED"), std::string::npos);
}

TEST(Migrations, WaitsForTheAdvisoryLockHeldByAnotherHost) {
  ScratchDatabase db;
  auto holder = db.connect();
  pqxx::nontransaction tx(*holder);
  tx.exec("SELECT pg_advisory_lock(" + std::to_string(0x6175646974712d6dLL) + ")");
  Subprocess migrate({auditqBinary(), "migrate", "up"}, envFor(db));
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(migrate.running()) << "migrate up must wait while another holds the lock";
  EXPECT_EQ(db.scalar("SELECT to_regclass('sync_events') IS NULL"), "t");
  tx.exec("SELECT pg_advisory_unlock_all()");
  ASSERT_EQ(migrate.wait(30s), 0) << migrate.stderrText();
  EXPECT_EQ(db.scalar("SELECT count(*) FROM auditq_schema_migrations"), migrationCount());
}

TEST(Migrations, ConcurrentUpsFromTwoHostsApplyOnce) {
  ScratchDatabase db;
  Subprocess a({auditqBinary(), "migrate", "up"}, envFor(db));
  Subprocess b({auditqBinary(), "migrate", "up"}, envFor(db));
  EXPECT_EQ(a.wait(60s), 0) << a.stderrText();
  EXPECT_EQ(b.wait(60s), 0) << b.stderrText();
  EXPECT_EQ(db.scalar("SELECT count(*) FROM auditq_schema_migrations"), migrationCount());
}

TEST(Migrations, UnreachableDatabaseExitsOne) {
  auto r = runAuditq({"migrate", "up"}, {{"DATABASE_URL", "postgresql://u:pw@127.0.0.1:1/x"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("cannot connect to PostgreSQL"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("pw@"), std::string::npos) << "password leaked: " << r.err;
}

class Schema : public ::testing::Test {
protected:
  void SetUp() override {
    ASSERT_EQ(runAuditq({"migrate", "up"}, envFor(db_)).exit_code, 0);
    conn_ = db_.connect();
  }
  // Runs a statement expecting the server to refuse it with `sqlstate`.
  void expectRefused(const std::string& sql, const std::string& sqlstate) {
    pqxx::work tx(*conn_);
    try {
      tx.exec(sql);
      FAIL() << "accepted: " << sql;
    } catch (const pqxx::sql_error& e) {
      EXPECT_EQ(e.sqlstate(), sqlstate) << e.what();
    }
  }
  void exec(const std::string& sql) {
    pqxx::work tx(*conn_);
    tx.exec(sql);
    tx.commit();
  }

  ScratchDatabase db_;
  std::unique_ptr<pqxx::connection> conn_;
};

constexpr const char* kS1 = "'11111111-1111-4111-8111-111111111111'";
constexpr const char* kP1 = "'22222222-2222-4222-8222-222222222222'";

TEST_F(Schema, RefusesAnInvalidEnumValue) {
  expectRefused(std::string("INSERT INTO sync_sessions (session_id, sync_mode) VALUES (") + kS1 +
                    ", 'sometimes')",
                "22P02");
}

TEST_F(Schema, RequiresSyncModeOnSessions) {
  expectRefused(std::string("INSERT INTO sync_sessions (session_id) VALUES (") + kS1 + ")",
                "23502");
}

TEST_F(Schema, ParticipantPairIsUnique) {
  const std::string insert =
      std::string("INSERT INTO sync_participants (session_id, participant_id, total_time_ms) "
                  "VALUES (") +
      kS1 + ", " + kP1 + ", 1000)";
  exec(insert);
  expectRefused(insert, "23505");
}

TEST_F(Schema, StreamAndEntryIdAreUniqueTogether) {
  auto insert = [](const std::string& stream, const std::string& entry) {
    return std::string("INSERT INTO sync_events (session_id, event_type, stream, entry_id, "
                       "entry_ms, entry_seq) VALUES (") +
           kS1 + ", 'session_created', '" + stream + "', '" + entry + "', auditq_entry_ms('" +
           entry + "'), auditq_entry_seq('" + entry + "'))";
  };
  exec(insert("s", "1-0"));
  exec(insert("other", "1-0")); // same id on another stream is a different entry
  exec(insert("s", "1-1"));
  expectRefused(insert("s", "1-0"), "23505");
}

TEST_F(Schema, EventsWithoutASessionRowAreAccepted) {
  // No foreign keys: an event may arrive before anything created its session row.
  exec(std::string("INSERT INTO sync_events (session_id, event_type, entry_ms) VALUES (") + kS1 +
       ", 'participant_added', 1)");
  exec(std::string("INSERT INTO sync_participants (session_id, participant_id, total_time_ms) "
                   "VALUES (") +
       kS1 + ", " + kP1 + ", 5)");
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM pg_constraint WHERE contype = 'f'"), "0");
}

TEST_F(Schema, DeletingASessionKeepsItsAuditTrail) {
  exec(std::string("INSERT INTO sync_sessions (session_id, sync_mode) VALUES (") + kS1 +
       ", 'global')");
  exec(std::string("INSERT INTO sync_events (session_id, event_type, entry_ms) VALUES (") + kS1 +
       ", 'session_created', 1)");
  exec(std::string("DELETE FROM sync_sessions WHERE session_id = ") + kS1);
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM sync_events"), "1");
}

TEST_F(Schema, HasTheSeedIndexesAndComments) {
  for (const char* index :
       {"idx_sync_sessions_created_at", "idx_sync_sessions_final_status",
        "idx_sync_sessions_sync_mode", "idx_sync_events_session_timestamp",
        "idx_sync_events_event_type", "idx_sync_events_timestamp", "idx_sync_events_participant_id",
        "idx_sync_participants_session_id", "idx_sync_participants_group_id"}) {
    EXPECT_EQ(db_.scalar(std::string("SELECT to_regclass('") + index + "') IS NOT NULL"), "t")
        << index;
  }
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM pg_indexes WHERE indexname = "
                       "'idx_sync_sessions_final_status' AND indexdef LIKE '%WHERE%'"),
            "1");
  EXPECT_NE(db_.scalar("SELECT obj_description('sync_events'::regclass)"), "");
}

std::string normalizeDump(const std::string& dump) {
  std::istringstream in(dump);
  std::string line;
  std::string out;
  while (std::getline(in, line)) {
    if (line.empty() || line.rfind("--", 0) == 0 || line.rfind("\\restrict", 0) == 0 ||
        line.rfind("\\unrestrict", 0) == 0 || line.rfind("SET ", 0) == 0 ||
        line.rfind("SELECT pg_catalog.set_config", 0) == 0) {
      continue;
    }
    out += line + "\n";
  }
  return out;
}

TEST(SchemaDump, CheckedInSchemaSqlMatchesTheMigratedDatabase) {
  ScratchDatabase db;
  ASSERT_EQ(runAuditq({"migrate", "up"}, envFor(db)).exit_code, 0);
  // As scripts/dump-schema writes it: without the dated partitions, the day's bound masked.
  auto dump = runProcess({std::string(AUDITQ_PG_BIN) + "/pg_dump", "--schema-only", "--no-owner",
                          "--no-privileges", "--exclude-table=sync_events_p*",
                          "--exclude-table=auditq_dead_letters_p*", "--dbname", db.url()});
  dump.out = std::regex_replace(dump.out, std::regex(R"(\b[0-9]{13}\b)"), "<day-ms>");
  ASSERT_EQ(dump.exit_code, 0) << dump.err;
  std::ifstream in(std::string(AUDITQ_SOURCE_DIR) + "/migrations/schema.sql");
  std::stringstream checked_in;
  checked_in << in.rdbuf();
  EXPECT_EQ(normalizeDump(checked_in.str()), normalizeDump(dump.out))
      << "migrations/schema.sql is stale: regenerate it with scripts/dump-schema";
}

} // namespace
} // namespace auditq::test

namespace auditq::test {
namespace {

// A cluster of its own, where the auditq_writer role does not exist yet.
class FreshCluster : public ::testing::Test {
protected:
  static void SetUpTestSuite() { private_stack::start(); }
  static void TearDownTestSuite() { private_stack::stop(); }
};

TEST_F(FreshCluster, DatabasesMigratingAtTheSameMomentAllSucceed) {
  // Each creates (or grants to) the cluster-wide role under its own database's lock.
  std::vector<std::unique_ptr<ScratchDatabase>> dbs;
  for (int i = 0; i < 4; ++i) {
    dbs.push_back(std::make_unique<ScratchDatabase>());
  }
  std::vector<std::thread> runs;
  std::vector<ProcessResult> results(dbs.size());
  for (size_t i = 0; i < dbs.size(); ++i) {
    runs.emplace_back([&, i] {
      results[i] = runAuditq({"migrate", "up"}, {{"DATABASE_URL", dbs[i]->url()}});
    });
  }
  for (auto& t : runs) {
    t.join();
  }
  for (size_t i = 0; i < dbs.size(); ++i) {
    EXPECT_EQ(results[i].exit_code, 0) << results[i].err;
    EXPECT_EQ(dbs[i]->scalar("SELECT count(*) FROM auditq_schema_migrations"), migrationCount());
  }
}

} // namespace
} // namespace auditq::test

namespace auditq::test {
namespace {

TEST_F(FreshCluster, TheComposeInitScriptQuotesTheApplicationPassword) {
  // A password that would end the SQL string and run a statement of its own if pasted in.
  const std::string password = R"(it's "tricky" \ '; CREATE ROLE injected; --)";
  const std::string url = adminPgUrl(); // postgresql://postgres@127.0.0.1:PORT/postgres
  const auto colon = url.rfind(':');
  const std::string port = url.substr(colon + 1, url.find('/', colon) - colon - 1);
  const auto r =
      runProcess({"/bin/sh", std::string(AUDITQ_SOURCE_DIR) + "/docker/initdb/10-auditq-roles.sh"},
                 {{"PATH", "/usr/bin:/bin"},
                  {"PGHOST", "127.0.0.1"},
                  {"PGPORT", port},
                  {"POSTGRES_USER", "postgres"},
                  {"POSTGRES_DB", "postgres"},
                  {"AUDITQ_APP_PASSWORD", password}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ScratchDatabase db;
  EXPECT_EQ(db.scalar("SELECT count(*) FROM pg_roles WHERE rolname = 'injected'"), "0");
  EXPECT_EQ(db.scalar("SELECT pg_has_role('auditq_app', 'auditq_writer', 'member')"), "t");
  EXPECT_EQ(db.scalar("SELECT rolpassword IS NOT NULL FROM pg_authid WHERE rolname = 'auditq_app'"),
            "t");
}

} // namespace
} // namespace auditq::test
