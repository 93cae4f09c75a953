// Failure handling against real servers, without stopping them (tests/integration/
// faults_test.cc does that on its own servers): refused rows isolated by splitting the batch,
// entries delivered too often, dead consumers' entries taken over, idle consumers removed,
// dead letters copied to a stream.
#include <signal.h>

#include <cmath>
#include <map>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "integration/pipeline_support.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

class Failures : public PipelineFixture {
protected:
  long long events() const { return count("SELECT count(*) FROM sync_events"); }
  long long deadLetters(const std::string& reason = "") const {
    return count("SELECT count(*) FROM auditq_dead_letters" +
                 (reason.empty() ? std::string() : " WHERE reason = '" + reason + "'"));
  }
  // Reads pending entries as `consumer` `times` times, leaving their delivery count at `times`.
  void deliver(const std::string& consumer, int times) {
    for (int i = 0; i < times; ++i) {
      std::vector<std::string_view> args = {"XREADGROUP", "GROUP", group_,
                                            consumer,     "COUNT", "1000",
                                            "STREAMS",    stream_, i == 0 ? ">" : "0"};
      ASSERT_EQ(redis_->command(args)->type, REDIS_REPLY_ARRAY);
    }
  }
  void createGroup() {
    std::vector<std::string_view> args = {"XGROUP", "CREATE", stream_, group_, "0", "MKSTREAM"};
    redis_->command(args);
  }
  std::vector<std::string> consumers() {
    std::vector<std::string_view> args = {"XINFO", "CONSUMERS", stream_, group_};
    auto reply = redis_->command(args);
    std::vector<std::string> names;
    for (size_t i = 0; reply->type == REDIS_REPLY_ARRAY && i < reply->elements; ++i) {
      names.emplace_back(reply->element[i]->element[1]->str);
    }
    return names;
  }
  static bool has(const std::vector<std::string>& v, const std::string& name) {
    return std::find(v.begin(), v.end(), name) != v.end();
  }
};

TEST_F(Failures, RowsPostgresRefusesAreIsolatedAndTheRestCommitted) {
  // A constraint auditq's decoder knows nothing about: PostgreSQL refuses the rows (23514).
  db_.scalar("ALTER TABLE sync_events ADD CONSTRAINT no_poison "
             "CHECK (metadata->>'poison' IS NULL)");
  std::vector<std::string> poison_ids;
  const int n = 300;
  for (int i = 0; i < n; ++i) {
    auto fields = entryWithState(newUuid(), 1);
    if (i == 37 || i == 250) {
      fields.insert(fields.end(), {"metadata", R"({"poison":true})"});
      poison_ids.push_back(xadd(fields));
    } else {
      xadd(fields);
    }
  }
  // All entries are there before the daemon starts, and the batch lingers long enough to be
  // filled from the backlog: one batch holds them all.
  auto daemon = startDaemon({{"AUDITQ_LOG_LEVEL", "debug"}, {"AUDITQ_BATCH_LINGER_MS", "1000"}});
  ASSERT_TRUE(waitFor([&] { return events() + deadLetters() == n && pending() == 0; }))
      << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(events(), n - 2);
  EXPECT_EQ(deadLetters("rejected_by_database"), 2);
  for (const auto& id : poison_ids) {
    EXPECT_EQ(db_.scalar("SELECT error LIKE 'SQLSTATE 23514:%' FROM auditq_dead_letters "
                         "WHERE entry_id = '" +
                         id + "'"),
              "t")
        << id;
  }
  // The sessions of the refused entries were not projected; all others were.
  EXPECT_EQ(count("SELECT count(*) FROM sync_sessions"), n - 2);
  // O(log n) extra transactions per poison entry, not a batch-sized retry loop.
  const std::string log = daemon->stderrText();
  const auto at = log.find("rows_rejected");
  ASSERT_NE(at, std::string::npos) << log;
  const auto writes_at = log.find("writes=", at);
  const int writes = std::stoi(log.substr(writes_at + 7));
  const int bound = 2 * 2 * static_cast<int>(std::ceil(std::log2(n))) + 2;
  EXPECT_LE(writes, bound) << log.substr(at, 200);
  EXPECT_GE(writes, 4) << "two poison entries need at least the halves and two dead letters";
  EXPECT_NE(log.find("rejected=2"), std::string::npos) << log.substr(at, 200);
}

TEST_F(Failures, ASingleRefusedEntryBatchIsDeadLettered) {
  db_.scalar("ALTER TABLE sync_events ADD CONSTRAINT no_poison "
             "CHECK (metadata->>'poison' IS NULL)");
  auto daemon = startDaemon();
  auto fields = entryWithState(newUuid(), 1);
  fields.insert(fields.end(), {"metadata", R"({"poison":1})"});
  xadd(fields);
  ASSERT_TRUE(waitFor([&] { return deadLetters("rejected_by_database") == 1 && pending() == 0; }))
      << daemon->stderrText();
  xadd(entryWithState(newUuid(), 1)); // and the stream goes on
  ASSERT_TRUE(waitFor([&] { return events() == 1 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
}

TEST_F(Failures, AnEntryDeliveredTooOftenIsDeadLetteredAsMaxDeliveries) {
  createGroup();
  const std::string tired = xadd(entryWithState(newUuid(), 1));
  deliver(consumer_, 5); // delivered 5 times already: the daemon's delivery is the 6th
  const std::string fresh_enough = xadd(entryWithState(newUuid(), 1));
  deliver(consumer_, 1); // ">" takes only the new one: its count is 1, the daemon's is its 2nd
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(deadLetters("max_deliveries"), 1);
  EXPECT_EQ(db_.scalar("SELECT entry_id || ' ' || delivery_count FROM auditq_dead_letters"),
            tired + " 6");
  EXPECT_EQ(db_.scalar("SELECT entry_id FROM sync_events"), fresh_enough);
}

TEST_F(Failures, ADeliveryCountBeyond32BitsIsStoredInItsDeadLetter) {
  createGroup();
  const std::string id = xadd(entryWithState(newUuid(), 1));
  deliver(consumer_, 1);
  // What an operator (or a bug) can do: the count PostgreSQL's INTEGER could not hold.
  redis_->command(
      {"XCLAIM", stream_, group_, consumer_, "0", id, "RETRYCOUNT", "4294967296", "FORCE"});
  const std::string next = xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return pending() == 0 && events() == 1; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(db_.scalar("SELECT entry_id || ' ' || reason || ' ' || delivery_count "
                       "FROM auditq_dead_letters"),
            id + " max_deliveries 4294967297");
  EXPECT_EQ(db_.scalar("SELECT entry_id FROM sync_events"), next);
}

TEST_F(Failures, AFieldTooLargeForJsonbIsCutInItsDeadLetterAndTheStreamFlows) {
  // 260 MiB: more than jsonb can hold in one value (255 MiB), let alone the entry limit.
  const std::string huge(260u << 20, 'h');
  const std::string big = xadd(
      {"type", "session_updated", "session_id", newUuid(), "ts", "1700000000000", "state", huge});
  const std::string next = xadd(entryWithState(newUuid(), 1));
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return pending() == 0 && events() == 1; }, 120s))
      << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(db_.scalar("SELECT reason FROM auditq_dead_letters WHERE entry_id = '" + big + "'"),
            "too_large");
  EXPECT_EQ(db_.scalar("SELECT (fields->3->1->>'length') || ' ' || "
                       "length(fields->3->1->>'cut') FROM auditq_dead_letters"),
            std::to_string(huge.size()) + " 65536");
  EXPECT_EQ(db_.scalar("SELECT length(fields->3->1->>'sha256_of_rest') FROM auditq_dead_letters"),
            "64");
  EXPECT_EQ(db_.scalar("SELECT entry_id FROM sync_events"), next);
}

TEST_F(Failures, MaxDeliveriesNeverDeadLettersAnEntryAlreadyCommitted) {
  createGroup();
  const std::string id = xadd(entryWithState(newUuid(), 1));
  deliver(consumer_, 6);
  // As if a run committed it and died before its XACK.
  db_.scalar(fmt::format("INSERT INTO sync_events (session_id, event_type, \"timestamp\", "
                         "stream, entry_id, entry_ms, entry_seq) VALUES (gen_random_uuid(), "
                         "'session_updated', now(), '{0}', '{1}', auditq_entry_ms('{1}'), "
                         "auditq_entry_seq('{1}'))",
                         stream_, id));
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_EQ(events(), 1);
  EXPECT_EQ(deadLetters(), 0) << "exactly once: in sync_events or in the dead letters, not both";
}

TEST_F(Failures, AStoppedInstancesEntriesAreTakenOverByAnother) {
  const int n = 500;
  // Instance A reads everything into a batch that lingers 10 s, and is frozen before it commits.
  for (int i = 0; i < n; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  auto a = startDaemon({{"AUDITQ_CONSUMER_NAME", consumer_ + "-a"},
                        {"AUDITQ_BATCH_LINGER_MS", "10000"},
                        {"AUDITQ_BATCH_MAX_ENTRIES", "5000"}});
  ASSERT_TRUE(waitFor([&] { return pending() == n; }, 10s)) << a->stderrText();
  std::this_thread::sleep_for(300ms); // let A take the reply into its batch (it lingers 10 s)
  a->signal(SIGSTOP);
  ASSERT_EQ(events(), 0);
  // Instance B takes them over once they have been idle claim_idle_ms.
  auto b = startDaemon({{"AUDITQ_CONSUMER_NAME", consumer_ + "-b"},
                        {"AUDITQ_CONSUMER_CLAIM_IDLE_MS", "1000"},
                        {"AUDITQ_POSTGRES_STATEMENT_TIMEOUT_MS", "500"},
                        {"AUDITQ_CONSUMER_CLAIM_INTERVAL_MS", "200"}});
  ASSERT_TRUE(waitFor([&] { return events() == n && pending() == 0; }, 30s)) << b->stderrText();
  EXPECT_NE(b->stderrText().find("entries_claimed"), std::string::npos);
  // A wakes up and, stopping, commits its stale batch: every row is already there, nothing is
  // written twice.
  a->signal(SIGCONT);
  stopDaemon(*a);
  stopDaemon(*b);

  EXPECT_EQ(events(), n);
  EXPECT_EQ(count("SELECT count(DISTINCT (stream, entry_id)) FROM sync_events"), n);
  EXPECT_EQ(deadLetters(), 0);
  // Whatever A had read (all n, unless it was frozen before it parsed Redis' reply) it wrote
  // as skipped duplicates: nothing twice.
  const std::string a_log = a->stderrText();
  const auto stopped = a_log.find("auditq_stopped read=");
  ASSERT_NE(stopped, std::string::npos) << a_log;
  const long long a_read = std::stoll(a_log.substr(stopped + 20));
  const auto dup = a_log.find("duplicates_skipped=", stopped);
  EXPECT_EQ(std::stoll(a_log.substr(dup + 19)), a_read) << a_log;
}

TEST_F(Failures, IdleConsumersWithNothingPendingAreRemovedOthersNever) {
  createGroup();
  {
    std::vector<std::string_view> args = {"XGROUP", "CREATECONSUMER", stream_, group_, "ghost"};
    redis_->command(args);
  }
  xadd(entryWithState(newUuid(), 1));
  deliver("holder", 1); // holds one pending entry; never claimed (claim_idle_ms is 60 s)
  auto daemon = startDaemon(
      {{"AUDITQ_CONSUMER_DELETE_IDLE_MS", "300"}, {"AUDITQ_CONSUMER_CLAIM_INTERVAL_MS", "100"}});
  ASSERT_TRUE(waitFor([&] { return !has(consumers(), "ghost"); }, 10s)) << daemon->stderrText();
  // Redis creates a consumer when XREADGROUP first delivers to it: give the daemon one entry,
  // after which it is itself idle with nothing pending, like the ghost was.
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 1 && has(consumers(), consumer_); }))
      << daemon->stderrText();
  std::this_thread::sleep_for(600ms); // several more passes
  const auto left = consumers();
  EXPECT_TRUE(has(left, "holder")) << "a consumer with pending entries is never removed";
  EXPECT_TRUE(has(left, consumer_)) << "nor the daemon itself";
  EXPECT_EQ(pending(), 1);
  stopDaemon(*daemon);
  EXPECT_NE(daemon->stderrText().find("idle_consumers_deleted count=1"), std::string::npos);
}

TEST_F(Failures, DeadLettersAreCopiedToTheDlqStreamWhenAskedTo) {
  auto daemon = startDaemon({{"AUDITQ_DEAD_LETTER_STREAM_COPY", "true"}});
  const std::string bad = xadd({"type", "session_updated", "session_id", "not-a-uuid", "ts", "1"});
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return deadLetters() == 1 && events() == 1 && pending() == 0; }))
      << daemon->stderrText();
  stopDaemon(*daemon);
  const std::string dlq = stream_ + ":dlq";
  std::vector<std::string_view> args = {"XRANGE", dlq, "-", "+"};
  auto reply = redis_->command(args);
  ASSERT_EQ(reply->type, REDIS_REPLY_ARRAY);
  ASSERT_EQ(reply->elements, 1u);
  redisReply* fields = reply->element[0]->element[1];
  std::vector<std::string> got;
  for (size_t i = 0; i < fields->elements; ++i) {
    got.emplace_back(fields->element[i]->str, fields->element[i]->len);
  }
  const std::vector<std::string> want = {
      "type", "session_updated", "session_id", "not-a-uuid",       "ts",
      "1",    "auditq_reason",   "bad_uuid",   "auditq_source_id", bad};
  EXPECT_EQ(got, want);
}

TEST_F(Failures, AStatementStuckBehindALockTimesOutAndIsRetried) {
  auto daemon = startDaemon({{"AUDITQ_POSTGRES_STATEMENT_TIMEOUT_MS", "300"}});
  ASSERT_TRUE(
      waitFor([&] { return daemon->stderrText().find("redis_connected") != std::string::npos; }));
  auto holder = db_.connect();
  auto lock = std::make_unique<pqxx::work>(*holder);
  lock->exec("LOCK TABLE sync_events IN ACCESS EXCLUSIVE MODE");
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor(
      [&] { return daemon->stderrText().find("sqlstate=57014") != std::string::npos; }, 10s))
      << daemon->stderrText();
  EXPECT_EQ(pending(), 1) << "never acknowledged while not committed";
  lock->commit(); // the lock goes away: the retry commits
  ASSERT_TRUE(waitFor([&] { return events() == 1 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_NE(daemon->stderrText().find("postgres_write_recovered"), std::string::npos);
}

class Dlq : public Failures {
protected:
  ProcessResult dlq(std::vector<std::string> args) {
    args.insert(args.begin(), "dlq");
    return runAuditq(args, {{"DATABASE_URL", db_.url()}, {"REDIS_URL", redisUrl()}});
  }
  static size_t lines(const std::string& text) {
    return static_cast<size_t>(std::count(text.begin(), text.end(), '\n'));
  }
};

TEST_F(Dlq, ListsWithFiltersAsATableOrJson) {
  auto daemon = startDaemon();
  xadd({"type", "session_updated", "session_id", "nope-1", "ts", "1"});
  xadd({"type", "session_updated", "session_id", "nope-2", "ts", "1"});
  xadd({"type", "session_updated", "session_id", newUuid(), "junk", std::string("\xff\xfe", 2)});
  ASSERT_TRUE(waitFor([&] { return deadLetters() == 3 && pending() == 0; }))
      << daemon->stderrText();
  stopDaemon(*daemon);

  auto all = dlq({"list"});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(lines(all.out), 4u) << all.out; // header + 3
  EXPECT_NE(all.out.find("bad_uuid"), std::string::npos);
  EXPECT_NE(all.err.find("3 dead letter(s)"), std::string::npos);

  auto by_reason = dlq({"list", "--reason", "bad_uuid", "--stream", stream_});
  EXPECT_EQ(lines(by_reason.out), 3u) << by_reason.out;
  EXPECT_EQ(lines(dlq({"list", "--stream", "no-such-stream"}).out), 1u);
  auto limited = dlq({"list", "--limit", "1"});
  EXPECT_EQ(lines(limited.out), 2u);
  EXPECT_NE(limited.err.find("--limit 1 reached"), std::string::npos);

  auto json = dlq({"list", "--json", "--reason", "missing_field"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  ASSERT_EQ(lines(json.out), 1u) << json.out;
  EXPECT_NE(json.out.find(R"("reason":"missing_field")"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"(["junk", {"base64": "//4="}])"), std::string::npos) << json.out;
  EXPECT_NE(json.out.find(R"("replayed_at":null)"), std::string::npos) << json.out;
  // One object per line that PostgreSQL itself accepts as JSON.
  EXPECT_EQ(
      db_.scalar("SELECT jsonb_typeof('" + json.out.substr(0, json.out.size() - 1) + "'::jsonb)"),
      "object");

  auto unknown = dlq({"list", "--reason", "nope"});
  EXPECT_EQ(unknown.exit_code, 2);
  EXPECT_NE(unknown.err.find("unknown reason code 'nope'"), std::string::npos) << unknown.err;
}

TEST_F(Dlq, ReplayRequeuesLettersOnceTheCauseIsFixed) {
  db_.scalar("ALTER TABLE sync_events ADD CONSTRAINT no_poison "
             "CHECK (metadata->>'poison' IS NULL)");
  auto daemon = startDaemon();
  for (int i = 0; i < 3; ++i) {
    auto fields = entryWithState(newUuid(), 1);
    fields.insert(fields.end(), {"metadata", R"({"poison":"yes"})"});
    xadd(fields);
  }
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return deadLetters() == 3 && events() == 1 && pending() == 0; }))
      << daemon->stderrText();
  db_.scalar("ALTER TABLE sync_events DROP CONSTRAINT no_poison"); // the operator fixes it

  const std::string first = db_.scalar("SELECT min(id) FROM auditq_dead_letters");
  auto one = dlq({"replay", "--id", first});
  ASSERT_EQ(one.exit_code, 0) << one.err;
  EXPECT_NE(one.out.find("replayed 1 dead letter(s)"), std::string::npos) << one.out;
  auto rest = dlq({"replay", "--all"});
  ASSERT_EQ(rest.exit_code, 0) << rest.err;
  EXPECT_NE(rest.out.find("replayed 2 dead letter(s)"), std::string::npos) << rest.out;
  ASSERT_TRUE(waitFor([&] { return events() == 4 && pending() == 0; })) << daemon->stderrText();
  stopDaemon(*daemon);

  // Each letter records the entry it became, and that entry is the one now in sync_events.
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters d JOIN sync_events e "
                  "ON e.entry_id = d.replayed_as AND e.stream = d.stream "
                  "WHERE d.replayed_at IS NOT NULL AND e.metadata->>'poison' = 'yes'"),
            3);
  // Nothing is sent twice.
  auto again = dlq({"replay", "--all"});
  EXPECT_NE(again.out.find("replayed 0 dead letter(s)"), std::string::npos) << again.out;
  auto by_id = dlq({"replay", "--id", first});
  EXPECT_NE(by_id.out.find("skipped (already replayed): " + first), std::string::npos) << by_id.out;
  auto missing = dlq({"replay", "--id", "987654321"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_NE(missing.err.find("no such dead letter: 987654321"), std::string::npos);
  EXPECT_EQ(dlq({"replay"}).exit_code, 2) << "--id or --all is required";
  EXPECT_EQ(dlq({"replay", "--id", first, "--all"}).exit_code, 2);
}

TEST_F(Dlq, AReplayKilledAtAnyPointAndRunAgainSendsEachLetterExactlyOnce) {
  // 1,000 letters, written directly (the daemon is not running: nothing consumes the replays).
  {
    auto conn = db_.connect();
    pqxx::work tx(*conn);
    tx.exec(
        fmt::format("INSERT INTO auditq_dead_letters (stream, entry_id, entry_ms, fields, reason) "
                    "SELECT '{}', g || '-0', g, jsonb_build_array(jsonb_build_array('type', "
                    "'session_updated'), "
                    "jsonb_build_array('n', g::text)), 'bad_uuid' FROM generate_series(1, 1000) g",
                    stream_));
    tx.commit();
  }
  // Killed at random points, again and again, then left to finish.
  std::mt19937 rng(12345);
  int kills = 0;
  for (int round = 0; round < 10; ++round) {
    Subprocess replay({auditqBinary(), "dlq", "replay", "--all"},
                      {{"DATABASE_URL", db_.url()}, {"REDIS_URL", redisUrl()}});
    std::this_thread::sleep_for(std::chrono::milliseconds(5 + rng() % 40));
    if (replay.running()) {
      replay.signal(SIGKILL);
      ++kills;
    }
    replay.wait(10s);
  }
  auto last = dlq({"replay", "--all"});
  ASSERT_EQ(last.exit_code, 0) << last.err;
  EXPECT_GE(kills, 3) << "the test must really interrupt replays";
  // Downstream: each letter's entry exactly once, and it is the one the letter records.
  std::vector<std::string_view> range = {"XRANGE", stream_, "-", "+"};
  auto r = redis_->command(range);
  ASSERT_EQ(r->type, REDIS_REPLY_ARRAY);
  std::map<std::string, int> per_letter;
  std::map<std::string, std::string> entry_of;
  for (size_t i = 0; i < r->elements; ++i) {
    const redisReply* kv = r->element[i]->element[1];
    for (size_t f = 0; f + 1 < kv->elements; f += 2) {
      if (std::string_view(kv->element[f]->str) == "auditq_replay_of") {
        const std::string letter = kv->element[f + 1]->str;
        ++per_letter[letter];
        entry_of[letter] = r->element[i]->element[0]->str;
      }
    }
  }
  EXPECT_EQ(per_letter.size(), 1000u);
  for (const auto& [letter, n] : per_letter) {
    ASSERT_EQ(n, 1) << "letter " << letter << " sent " << n << " times";
  }
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters WHERE replayed_at IS NULL"), 0);
  EXPECT_EQ(db_.scalar("SELECT replayed_as FROM auditq_dead_letters ORDER BY id LIMIT 1"),
            entry_of[db_.scalar("SELECT min(id) FROM auditq_dead_letters")]);
}

TEST_F(Dlq, LettersThatCannotBeReplayedAreReportedAndSkipped) {
  {
    auto conn = db_.connect();
    pqxx::work tx(*conn);
    tx.exec(fmt::format("INSERT INTO auditq_dead_letters (stream, entry_id, fields, reason, "
                        "entry_ms) SELECT s, e, f::jsonb, r, auditq_entry_ms(e) FROM (VALUES "
                        "('{0}', '1-0', '[]', 'missing_field'), "
                        "('{0}', '2-0', '[[\"state\", {{\"cut\": \"x\", \"length\": 9, "
                        "\"sha256_of_rest\": \"ab\"}}]]', 'too_large'), "
                        "('{0}', '3-0', '[[\"type\", \"session_updated\"]]', 'bad_uuid')) "
                        "v(s, e, f, r)",
                        stream_));
    tx.commit();
  }
  auto r = dlq({"replay", "--all"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("replayed 1 dead letter(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("no fields"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("cut"), std::string::npos) << r.out;
  // A second run passes them again without stopping.
  auto again = dlq({"replay", "--all"});
  ASSERT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("replayed 0 dead letter(s)"), std::string::npos) << again.out;
}

TEST_F(Dlq, ReplayWithRedisDownSendsNothingAndSaysSo) {
  auto daemon = startDaemon();
  xadd({"type", "session_updated", "session_id", "nope", "ts", "1"});
  ASSERT_TRUE(waitFor([&] { return deadLetters() == 1 && pending() == 0; }));
  stopDaemon(*daemon);
  auto r = runAuditq({"dlq", "replay", "--all"},
                     {{"DATABASE_URL", db_.url()}, {"REDIS_URL", "redis://127.0.0.1:1/0"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("Redis"), std::string::npos) << r.err;
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters WHERE replayed_at IS NULL"), 1);
}

TEST_F(Dlq, PurgeDeletesOnlyOlderLetters) {
  auto daemon = startDaemon();
  xadd({"type", "session_updated", "session_id", "old", "ts", "1"});
  xadd({"type", "session_updated", "session_id", "new", "ts", "1"});
  ASSERT_TRUE(waitFor([&] { return deadLetters() == 2 && pending() == 0; }));
  stopDaemon(*daemon);
  db_.scalar("UPDATE auditq_dead_letters SET dead_lettered_at = now() - interval '40 days' "
             "WHERE fields::text LIKE '%\"old\"%'");
  auto r = dlq({"purge", "--older-than", "30d"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("purged 1 dead letter(s) older than 30d"), std::string::npos) << r.out;
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters"), 1);
  auto bad = dlq({"purge", "--older-than", "30 days"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--older-than"), std::string::npos);
  EXPECT_EQ(dlq({"purge"}).exit_code, 2) << "--older-than is required";
}

} // namespace
} // namespace auditq::test
