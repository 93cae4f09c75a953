// The audit store (migration 0007) against the real servers: partitions made ahead and on
// demand, entries far in the past and future landing, retention pruning exactly what it should
// and never a snapshot --recover needs, NOTIFY once per batch and `auditq tail`, `auditq verify`
// catching what the owner role changes behind auditq's back, and the migration itself on a
// table written in the previous release's shape.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/pipeline_support.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

constexpr int64_t kDay = 86'400'000;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

class Store : public PipelineFixture {
protected:
  long long events() const { return count("SELECT count(*) FROM sync_events"); }
  // The partition a committed entry landed in.
  std::string partitionOf(const std::string& entry_id) const {
    return db_.scalar(fmt::format("SELECT tableoid::regclass::text FROM sync_events "
                                  "WHERE stream = '{}' AND entry_id = '{}'",
                                  stream_, entry_id));
  }
  // Retention removes sync_events_legacy like any other partition: here, so that days in the
  // past are no longer covered by it.
  void dropLegacyPartitions() {
    db_.scalar("ALTER TABLE sync_events DETACH PARTITION sync_events_legacy");
    db_.scalar("ALTER TABLE auditq_dead_letters DETACH PARTITION auditq_dead_letters_legacy");
    db_.scalar("DROP TABLE sync_events_legacy, auditq_dead_letters_legacy");
    db_.scalar("UPDATE auditq_partitions SET detached_at = now() WHERE lo_ms IS NULL");
  }
  std::string xaddAt(const std::string& id, const std::vector<std::string>& fields) {
    std::vector<std::string_view> args = {"XADD", stream_, id};
    args.insert(args.end(), fields.begin(), fields.end());
    const auto reply = redis_->command(args);
    return std::string(reply->str, reply->len);
  }
  // Runs the CLI with this test's database.
  ProcessResult cli(const std::vector<std::string>& args,
                    std::map<std::string, std::string> env = {}) const {
    env.emplace("DATABASE_URL", db_.url());
    return runAuditq(args, env);
  }
};

TEST_F(Store, PartitionsAreMadeAheadInTheBackgroundAndOnDemandForEntriesOutsideThem) {
  dropLegacyPartitions();
  const int64_t today = nowMs() / kDay * kDay;
  createGroup();
  auto daemon = startDaemon({{"AUDITQ_PARTITIONS_PREMAKE", "10"}});
  // The migration made today + 7; the daemon adds up to today + 10, with nothing written.
  auto ahead = [&](const char* parent) {
    return count(fmt::format("SELECT count(*) FROM auditq_partitions WHERE parent = '{}' "
                             "AND detached_at IS NULL AND lo_ms >= {}",
                             parent, today));
  };
  ASSERT_TRUE(waitFor([&] {
    return ahead("sync_events") == 11 && ahead("auditq_dead_letters") == 11;
  })) << daemon->stderrText();
  // 1970, now, 2100 and one dead letter in 2200: each lands, no batch fails.
  const std::string old_id = xaddAt("1000-0", entryWithState(newUuid(), 1));
  const std::string now_id = xadd(entryWithState(newUuid(), 1));
  const std::string future_id = xaddAt("4102444800000-0", entryWithState(newUuid(), 1));
  xaddAt("7258118400000-0", {"type", "session_updated"}); // no session_id: missing_field
  ASSERT_TRUE(waitFor([&] {
    return events() == 3 && count("SELECT count(*) FROM auditq_dead_letters") == 1 &&
           pending() == 0;
  })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(partitionOf(old_id), "sync_events_p19700101");
  EXPECT_EQ(partitionOf(now_id),
            db_.scalar("SELECT 'sync_events_p' || to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDD')"));
  EXPECT_EQ(partitionOf(future_id), "sync_events_p21000101");
  EXPECT_EQ(db_.scalar("SELECT tableoid::regclass::text FROM auditq_dead_letters"),
            "auditq_dead_letters_p22000101");
  EXPECT_EQ(db_.scalar("SELECT entry_ms || ' ' || entry_seq FROM sync_events WHERE entry_id = "
                       "'4102444800000-0'"),
            "4102444800000 0");
}

TEST_F(Store, WeeklyPartitionsStartOnMonday) {
  dropLegacyPartitions();
  const auto r = cli({"partitions", "create"},
                     {{"AUDITQ_PARTITIONS_INTERVAL", "week"}, {"AUDITQ_PARTITIONS_PREMAKE", "4"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // Past the migration's daily ones, whole weeks from a Monday (ISO day 1).
  EXPECT_EQ(
      db_.scalar("SELECT string_agg(DISTINCT extract(isodow FROM to_timestamp(lo_ms / "
                 "1000) AT TIME ZONE 'UTC')::text || '/' || ((hi_ms - lo_ms) / 86400000)::bigint"
                 "::text, ',') FROM auditq_partitions WHERE parent = 'sync_events' AND "
                 "lo_ms > (SELECT max(lo_ms) FROM auditq_partitions WHERE hi_ms - lo_ms = "
                 "86400000) + 86400000 * 7"),
      "1/7");
  const auto list = cli({"partitions", "list"});
  ASSERT_EQ(list.exit_code, 0) << list.err;
  EXPECT_NE(list.out.find("sync_events_p"), std::string::npos) << list.out;
  EXPECT_NE(list.out.find("attached"), std::string::npos) << list.out;
}

TEST_F(Store, RetentionPrunesExactlyThePartitionsOlderThanKeepAndNeverANeededSnapshot) {
  dropLegacyPartitions();
  const int64_t today = nowMs() / kDay * kDay;
  // Three old days with one event each: 40 days ago (its session completed), 30 (the newest
  // snapshot of a live session whose last event is an hour old: --recover would restore it),
  // 20 (no session); and 5 days ago, younger than retention.keep.
  for (int days : {40, 30, 20, 5}) {
    const int64_t at = today - days * kDay + 1000;
    db_.scalar(fmt::format("SELECT auditq_ensure_partition('sync_events', {0}, 86400000), "
                           "auditq_ensure_partition('auditq_dead_letters', {0}, 86400000)",
                           at));
    const std::string session = newUuid();
    db_.scalar(fmt::format(
        "INSERT INTO sync_events (session_id, event_type, stream, entry_id, entry_ms, entry_seq, "
        "state_snapshot) VALUES ('{0}', 'session_updated', '{1}', '{2}-0', {2}, 0, '{{}}')",
        session, stream_, at));
    if (days == 40 || days == 30) {
      db_.scalar(fmt::format(
          "INSERT INTO sync_sessions (session_id, sync_mode, status, version, last_event_at, "
          "snapshot_stream, snapshot_entry_id) VALUES ('{0}', 'global', '{1}', 1, now() - "
          "interval '1 hour', '{2}', '{3}-0')",
          session, days == 40 ? "completed" : "running", stream_, at));
    }
  }
  const std::map<std::string, std::string> env = {{"AUDITQ_RETENTION_KEEP", "10d"},
                                                  {"AUDITQ_RECOVER_MAX_AGE_SECONDS", "86400"}};
  auto name = [&](int days) {
    return db_.scalar(fmt::format("SELECT 'sync_events_p' || to_char(to_timestamp({} / 1000) AT "
                                  "TIME ZONE 'UTC', 'YYYYMMDD')",
                                  today - days * kDay));
  };
  auto exists = [&](const std::string& table) {
    return db_.scalar(fmt::format("SELECT to_regclass('{}') IS NOT NULL", table)) == "t";
  };
  const auto dry = cli({"partitions", "prune", "--dry-run"}, env);
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_TRUE(std::regex_search(dry.out, std::regex("would_drop +" + name(40)))) << dry.out;
  EXPECT_TRUE(std::regex_search(dry.out, std::regex("would_drop +" + name(20)))) << dry.out;
  EXPECT_TRUE(std::regex_search(dry.out, std::regex("kept_snapshot +" + name(30)))) << dry.out;
  EXPECT_EQ(dry.out.find(name(5)), std::string::npos) << dry.out;
  EXPECT_TRUE(exists(name(40))) << "a dry run changes nothing";

  const auto run = cli({"partitions", "prune"}, env);
  ASSERT_EQ(run.exit_code, 0) << run.err << run.out;
  EXPECT_FALSE(exists(name(40)));
  EXPECT_FALSE(exists(name(20)));
  EXPECT_TRUE(exists(name(30))) << "holds a snapshot --recover would restore";
  EXPECT_TRUE(exists(name(5)));
  // The dead letters' partitions of the same days go with them.
  EXPECT_FALSE(
      exists("auditq_dead_letters_p" + name(40).substr(std::string("sync_events_p").size())));
  EXPECT_EQ(count("SELECT count(*) FROM sync_events"), 2);

  // The daemon, with retention.action detach: the partition stays as a table, detached, once
  // the live session's snapshot is no longer needed.
  db_.scalar("UPDATE sync_sessions SET status = 'completed'");
  createGroup();
  auto daemon = startDaemon({{"AUDITQ_RETENTION_KEEP", "10d"},
                             {"AUDITQ_RECOVER_MAX_AGE_SECONDS", "86400"},
                             {"AUDITQ_RETENTION_ACTION", "detach"}});
  ASSERT_TRUE(waitFor([&] {
    return db_.scalar(fmt::format("SELECT detached_at IS NOT NULL FROM auditq_partitions "
                                  "WHERE name = '{}'",
                                  name(30))) == "t";
  })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_TRUE(exists(name(30))) << "detach keeps the table for archiving";
  EXPECT_EQ(db_.scalar(fmt::format(
                "SELECT count(*) FROM pg_inherits WHERE inhrelid = '{}'::regclass", name(30))),
            "0");
  EXPECT_EQ(count("SELECT count(*) FROM sync_events"), 1) << "only the 5-day-old row is attached";
}

TEST_F(Store, RetentionShorterThanWhatRecoverRestoresIsRefusedNamingBoth) {
  const auto r = runAuditq({"check-config"}, {{"AUDITQ_RETENTION_KEEP", "1d"},
                                              {"AUDITQ_RECOVER_MAX_AGE_SECONDS", "172800"}});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("retention.keep"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("recover.max_age_seconds"), std::string::npos) << r.err;
}

TEST_F(Store, OneNotifyPerCommittedBatchAndTailPrintsTheEvents) {
  const std::string channel = "auditq_test_" + std::to_string(getpid());
  const std::map<std::string, std::string> notify = {{"AUDITQ_NOTIFY_ENABLED", "true"},
                                                     {"AUDITQ_NOTIFY_CHANNEL", channel}};
  auto listener = db_.connect();
  struct Inbox : pqxx::notification_receiver {
    Inbox(pqxx::connection& c, const std::string& ch) : pqxx::notification_receiver(c, ch) {}
    void operator()(const std::string& payload, int) override { payloads.push_back(payload); }
    std::vector<std::string> payloads;
  } inbox(*listener, channel);
  auto env = notify;
  env["DATABASE_URL"] = db_.url();
  Subprocess tail({auditqBinary(), "tail", "--json", "--stream", stream_}, env);
  const std::string one_session = newUuid();
  Subprocess tail_one({auditqBinary(), "tail", "--session", one_session}, env);
  std::this_thread::sleep_for(1s); // both are listening
  createGroup();
  auto daemon = startDaemon({{"AUDITQ_NOTIFY_ENABLED", "true"},
                             {"AUDITQ_NOTIFY_CHANNEL", channel},
                             {"AUDITQ_BATCH_MAX_ENTRIES", "10"}});
  std::vector<std::string> ids;
  for (int i = 0; i < 45; ++i) {
    ids.push_back(xadd(entryWithState(i % 9 == 0 ? one_session : newUuid(), i + 1)));
  }
  ASSERT_TRUE(waitFor([&] { return events() == 45 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  const long long batches = count("SELECT count(*) FROM auditq_batches");
  ASSERT_TRUE(waitFor([&] {
    listener->get_notifs();
    return static_cast<long long>(inbox.payloads.size()) >= batches;
  }));
  std::this_thread::sleep_for(300ms);
  listener->get_notifs();
  EXPECT_EQ(static_cast<long long>(inbox.payloads.size()), batches) << "one per batch";
  EXPECT_GE(batches, 5); // at most 10 entries each
  long long rows = 0;
  std::smatch m;
  for (const auto& p : inbox.payloads) {
    ASSERT_TRUE(std::regex_search(
        p, m,
        std::regex(
            R"re(\{"stream" : "([^"]+)", "first" : "(\d+-\d+)", "last" : "(\d+-\d+)", "rows" : (\d+)\})re")))
        << p;
    EXPECT_EQ(m[1], stream_);
    rows += std::stoll(m[4]);
  }
  EXPECT_EQ(rows, 45);
  ASSERT_TRUE(waitFor([&] {
    const auto out = tail.stdoutText();
    return std::count(out.begin(), out.end(), '\n') >= 45;
  })) << tail.stderrText();
  ASSERT_TRUE(waitFor([&] {
    const auto out = tail_one.stdoutText();
    return std::count(out.begin(), out.end(), '\n') >= 5;
  })) << tail_one.stderrText();
  tail.signal(SIGTERM);
  tail_one.signal(SIGTERM);
  EXPECT_EQ(tail.wait(10s), 0);
  EXPECT_EQ(tail_one.wait(10s), 0);
  const std::string out = tail.stdoutText();
  for (const auto& id : ids) {
    EXPECT_NE(out.find("\"entry_id\":\"" + id + "\""), std::string::npos) << id;
  }
  const std::string one = tail_one.stdoutText();
  EXPECT_EQ(std::count(one.begin(), one.end(), '\n'), 5) << one;
  EXPECT_EQ(one.find("  " + ids[1] + "  "), std::string::npos) << "another session's event";
  EXPECT_NE(one.find("  " + ids[0] + "  "), std::string::npos) << one;
}

TEST_F(Store, TheMigrationConvertsAPopulatedTableWithoutBlockingReadersAndRollsBack) {
  // The previous release's schema, with 200,000 events as it wrote them (text ids, some
  // sharing a millisecond), sessions pointing at their snapshots, and dead letters.
  ASSERT_EQ(cli({"migrate", "down", "1"}).exit_code, 0);
  db_.scalar(fmt::format(
      "INSERT INTO sync_events (session_id, event_type, stream, entry_id, version, "
      "state_snapshot) SELECT md5((g % 1000)::text)::uuid, 'session_updated', '{}', "
      "(1700000000000 + g / 3)::text || '-' || (g % 3)::text, g, jsonb_build_object('v', g) "
      "FROM generate_series(1, 200000) g",
      stream_));
  db_.scalar("INSERT INTO auditq_dead_letters (stream, entry_id, fields, reason) VALUES "
             "('s', '5-1', '[]', 'bad_json'), ('s', '18446744073709551615-0', '[]', 'bad_json')");
  const std::string probe = db_.scalar("SELECT session_id FROM sync_events LIMIT 1");
  std::atomic<bool> done{false};
  std::atomic<long long> worst_us{0};
  std::atomic<long long> reads{0};
  std::thread reader([&] {
    auto c = db_.connect();
    while (!done) {
      const auto t0 = std::chrono::steady_clock::now();
      pqxx::nontransaction tx(*c);
      tx.exec("SELECT count(*) FROM sync_events WHERE session_id = '" + probe + "'");
      const auto us = std::chrono::duration_cast<std::chrono::microseconds>(
                          std::chrono::steady_clock::now() - t0)
                          .count();
      worst_us = std::max<long long>(worst_us, us);
      ++reads;
    }
  });
  const auto t0 = std::chrono::steady_clock::now();
  const auto up = cli({"migrate", "up"});
  const auto took_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - t0)
          .count();
  done = true;
  reader.join();
  ASSERT_EQ(up.exit_code, 0) << up.err;
  std::cerr << fmt::format(
      "migration of 200,000 rows: {} ms; {} reads meanwhile, the slowest {} ms\n", took_ms,
      reads.load(), worst_us.load() / 1000);
  // The exclusive step (rename and attach) scans nothing, so no read may wait for a sizeable
  // part of the migration: an exclusive lock held across the row conversion would make a read
  // wait nearly all of it. The bound scales with the run because a loaded machine (CI runs the
  // sanitizer build beside other work) stretches the catalog step as much as the rest.
  EXPECT_LT(worst_us.load(), std::max<long long>(1'000'000, took_ms * 1000 / 5))
      << "a reader waited for a long exclusive lock";
  EXPECT_EQ(count("SELECT count(*) FROM sync_events_legacy"), 200000);
  EXPECT_EQ(count("SELECT count(*) FROM sync_events WHERE entry_ms::text || '-' || "
                  "entry_seq::text IS DISTINCT FROM entry_id"),
            0);
  EXPECT_EQ(db_.scalar("SELECT entry_ms FROM auditq_dead_letters WHERE entry_id LIKE '1844%'"),
            "9223372036854775807");

  // The daemon on the converted store: entries already committed by the previous release
  // (redelivered) are skipped, new ones land in today's partition.
  createGroup();
  auto then = [&] { // an entry of that time (a ts long after its id would be bad_timestamp)
    auto f = entryWithState(newUuid(), 1);
    for (size_t i = 0; i + 1 < f.size(); i += 2) {
      if (f[i] == "ts") {
        f[i + 1] = "1700000066666";
      }
    }
    return f;
  };
  xaddAt("1700000066666-0", then()); // = g 199998: already there
  xaddAt("1700000066666-2", then()); // g 200000: already there too
  xaddAt("1700000066667-0", then()); // new
  const std::string fresh = xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] {
    return events() == 200002 && count("SELECT count(*) FROM auditq_batches") > 0 && pending() == 0;
  })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(partitionOf("1700000066667-0"), "sync_events_legacy");
  EXPECT_NE(partitionOf(fresh), "sync_events_legacy");

  // And back: one plain table with every row, the text ids as they were.
  const auto down = cli({"migrate", "down", "1"});
  ASSERT_EQ(down.exit_code, 0) << down.err;
  EXPECT_EQ(db_.scalar("SELECT relkind FROM pg_class WHERE relname = 'sync_events'"), "r");
  EXPECT_EQ(events(), 200002);
  EXPECT_EQ(count(fmt::format("SELECT count(*) FROM sync_events WHERE entry_id = '{}'", fresh)), 1);
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 2);
  ASSERT_EQ(cli({"migrate", "up"}).exit_code, 0) << "and up again";
  EXPECT_EQ(events(), 200002);
}

class Verify : public Store {
protected:
  void SetUp() override {
    Store::SetUp();
    createGroup();
    // Projections off: the odd states below need not describe a session.
    auto daemon = startDaemon({{"AUDITQ_BATCH_MAX_ENTRIES", "20"},
                               {"AUDITQ_PROJECTIONS_SESSIONS", "false"},
                               {"AUDITQ_PROJECTIONS_PARTICIPANTS", "false"}});
    for (int i = 0; i < 195; ++i) {
      xadd(entryWithState(newUuid(), 1));
    }
    // Documents jsonb prints differently from how they were written (the writer digests what
    // jsonb will print): key order, duplicates, spacing, escapes that are also COPY escapes,
    // numbers, an upper-case UUID, metadata.
    for (const std::string state :
         {R"({"zz":1,"a":2,"a":3, "s":"tab\there\\ \"q\" \u00e9 \ud83d\ude00 \n"})",
          R"({"n":[1.50, 1.5e1, -0, 0e5, 1E+2, 12345678901234567890123],"x":{}})",
          R"({"line":"a\nb\r\tc\\d\/e"})", R"({"b":[],"a":{"y":null,"x":true}})", R"({})"}) {
      auto f = entryWithState(newUuid(), 1);
      f.back() = state;
      f[3] = f[3].substr(0, 9) + "ABCD" + f[3].substr(13); // an upper-case session id
      f.insert(f.end(), {"metadata", R"({"k":"v\\w",  "a":1})"});
      xadd(f);
    }
    ASSERT_TRUE(waitFor([&] { return events() == 200 && pending() == 0; })) << daemon->stderrText();
    stopDaemon(*daemon);
  }
  ProcessResult verify() const { return cli({"verify"}); }
  // A batch in the middle of its chain (one follows it).
  std::string middleBatch() const {
    return db_.scalar("SELECT id FROM auditq_batches b WHERE seq > 1 AND EXISTS (SELECT 1 FROM "
                      "auditq_batches n WHERE n.chain = b.chain AND n.seq = b.seq + 1) "
                      "ORDER BY id LIMIT 1");
  }
  void expectTampered(const std::string& batch, const std::string& what) {
    const auto r = verify();
    EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
    EXPECT_NE(r.out.find("TAMPERED: " + batch), std::string::npos) << r.out;
    EXPECT_NE(r.out.find(what), std::string::npos) << r.out;
  }
  void expectClean() {
    const auto r = verify();
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("OK: "), std::string::npos) << r.out;
  }
};

TEST_F(Verify, PassesOnAnUntouchedStore) {
  const auto r = verify();
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("200 row(s) checked"), std::string::npos) << r.out;
  EXPECT_GE(count("SELECT count(*) FROM auditq_batches"), 10);
  EXPECT_EQ(count("SELECT count(*) FROM sync_events WHERE batch_id IS NULL"), 0);
}

TEST_F(Verify, StreamAndSinceLimitWhatIsChecked) {
  const std::string b = middleBatch();
  db_.scalar(fmt::format("UPDATE sync_events SET event_type = 'forged' WHERE ctid = (SELECT "
                         "min(ctid) FROM sync_events WHERE batch_id = {})",
                         b));
  const auto other = cli({"verify", "--stream", "another-stream"});
  EXPECT_EQ(other.exit_code, 0) << other.out << other.err;
  EXPECT_NE(other.out.find("OK: 0 batch(es)"), std::string::npos) << other.out;
  const auto mine = cli({"verify", "--stream", stream_});
  EXPECT_EQ(mine.exit_code, 1) << mine.out;
  EXPECT_NE(mine.out.find("TAMPERED: batch " + b), std::string::npos) << mine.out;
  const auto later = cli({"verify", "--since", "2999-01-01"});
  EXPECT_EQ(later.exit_code, 0) << later.out << later.err;
  EXPECT_NE(later.out.find("OK: 0 batch(es)"), std::string::npos) << later.out;
  const auto since = cli({"verify", "--since", "2000-01-01 00:00+00"});
  EXPECT_EQ(since.exit_code, 1) << since.out;
  const auto bad = cli({"verify", "--since", "not a time"});
  EXPECT_EQ(bad.exit_code, 1) << bad.out;
  EXPECT_NE(bad.err.find("PostgreSQL"), std::string::npos) << bad.err;
}

TEST_F(Verify, CatchesAnUpdateByTheOwner) {
  const std::string b = middleBatch();
  db_.scalar(fmt::format("UPDATE sync_events SET event_type = 'forged' WHERE ctid = (SELECT "
                         "min(ctid) FROM sync_events WHERE batch_id = {})",
                         b));
  expectTampered("batch " + b, "its rows were changed");
  db_.scalar(fmt::format("UPDATE sync_events SET event_type = 'session_updated' "
                         "WHERE batch_id = {}",
                         b));
  expectClean(); // put back exactly, it verifies again
}

TEST_F(Verify, CatchesADeleteByTheOwner) {
  const std::string b = middleBatch();
  db_.scalar(fmt::format("DELETE FROM sync_events WHERE ctid = (SELECT min(ctid) FROM "
                         "sync_events WHERE batch_id = {})",
                         b));
  expectTampered("batch " + b, "1 of its 20 rows were deleted");
}

TEST_F(Verify, CatchesAnInsertByTheOwnerWithOrWithoutABatch) {
  const std::string b = middleBatch();
  db_.scalar(fmt::format(
      "INSERT INTO sync_events (session_id, event_type, stream, entry_id, "
      "entry_ms, entry_seq, batch_id) SELECT session_id, event_type, stream, "
      "entry_ms || '-999999', entry_ms, 999999, {0} FROM sync_events WHERE batch_id = {0} "
      "LIMIT 1",
      b));
  expectTampered("batch " + b, "1 rows were added to it");
  db_.scalar("DELETE FROM sync_events WHERE entry_seq = 999999");
  expectClean();
  db_.scalar(
      fmt::format("INSERT INTO sync_events (session_id, event_type, stream, entry_id, "
                  "entry_ms, entry_seq) SELECT session_id, event_type, stream, "
                  "entry_ms || '-999999', entry_ms, 999999 FROM sync_events WHERE batch_id = {0} "
                  "LIMIT 1",
                  b));
  const auto r = verify();
  EXPECT_EQ(r.exit_code, 1) << r.out;
  EXPECT_NE(r.out.find("1 row(s) in sync_events belong to no committed batch"), std::string::npos)
      << r.out;
}

TEST_F(Verify, CatchesAWholeBatchDeletedWithItsRecord) {
  const std::string b = middleBatch();
  const std::string seq = db_.scalar("SELECT seq FROM auditq_batches WHERE id = " + b);
  const std::string next = db_.scalar(fmt::format(
      "SELECT id FROM auditq_batches WHERE chain = (SELECT chain FROM auditq_batches WHERE id = "
      "{0}) AND seq = {1} + 1",
      b, seq));
  db_.scalar("DELETE FROM sync_events WHERE batch_id = " + b);
  db_.scalar("DELETE FROM auditq_batches WHERE id = " + b);
  expectTampered("batch " + next, fmt::format("batches {}..{} of chain", seq, seq));
}

} // namespace
} // namespace auditq::test
