// Fault tests: real servers really stopped, connections really terminated, auditq really
// killed, on a private stack (integration/private_stack.h). Each ends with the promise
// checked: every entry XADDed is in sync_events exactly once or in the dead letters with its
// reason, and nothing is left pending.
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <iostream>
#include <random>
#include <thread>

#include <fmt/format.h>

#include "integration/pipeline_support.h"
#include "integration/private_stack.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

class Faults : public PipelineFixture {
protected:
  static void SetUpTestSuite() { private_stack::start(); }
  static void TearDownTestSuite() { private_stack::stop(); }

  long long events() const { return count("SELECT count(*) FROM sync_events"); }
  long long distinctEvents() const {
    return count("SELECT count(DISTINCT (stream, entry_id)) FROM sync_events");
  }
  long long deadLetters() const { return count("SELECT count(*) FROM auditq_dead_letters"); }
  long long inBoth() const {
    return count("SELECT count(*) FROM sync_events e JOIN auditq_dead_letters d "
                 "ON d.stream = e.stream AND d.entry_id = e.entry_id");
  }

  // Everything in the stream is committed or dead-lettered and acknowledged.
  bool settled() {
    std::vector<std::string_view> xlen = {"XLEN", stream_};
    return events() + deadLetters() >= redis_->command(xlen)->integer && pending() == 0;
  }

  // A fresh Redis client (the fixture's dies with a Redis restart).
  void reconnectRedis() {
    config::RedisConfig rc;
    rc.url = redisUrl();
    redis_ = std::make_unique<redis::BlockingClient>(redis::BlockingClient::connect(rc));
  }

  // XADDs `n` valid entries from a thread, `per_tick` every 10 ms, on its own connection.
  std::thread produce(int n, int per_tick, std::atomic<int>& produced) {
    return std::thread([this, n, per_tick, &produced] {
      config::RedisConfig rc;
      rc.url = redisUrl();
      auto client = redis::BlockingClient::connect(rc);
      for (int i = 0; i < n; ++i) {
        const auto fields = entryWithState(newUuid(), 1 + i % 7);
        std::vector<std::string_view> args = {"XADD", stream_, "*"};
        args.insert(args.end(), fields.begin(), fields.end());
        for (;;) {
          try {
            if (client.command(args)->type == REDIS_REPLY_STRING) {
              break;
            }
          } catch (const redis::Error&) {
          }
          std::this_thread::sleep_for(50ms); // Redis restarting: the producer retries too
          try {
            client = redis::BlockingClient::connect(rc);
          } catch (const redis::Error&) {
          }
        }
        produced++;
        if (i % per_tick == per_tick - 1) {
          std::this_thread::sleep_for(10ms);
        }
      }
    });
  }

  // The promise, after everything settled: `n` entries, each once in sync_events or the dead
  // letters, nothing pending. Prints the figures for docs/reliability.md.
  void expectExactlyOnce(long long produced, const std::string& label, int kills = 0) {
    // What was XADDed is what the stream holds: a producer that retried an XADD whose reply a
    // restarting Redis never sent may have added one entry more than it counted.
    std::vector<std::string_view> xlen = {"XLEN", stream_};
    const long long n = redis_->command(xlen)->integer;
    EXPECT_GE(n, produced);
    const long long ev = events();
    const long long distinct = distinctEvents();
    const long long dead = deadLetters();
    std::cout << fmt::format("FIGURES {}: kills={} entries={} (producer counted {}) committed={} "
                             "dead_lettered={} lost={} duplicated={} pending={}\n",
                             label, kills, n, produced, distinct, dead, n - distinct - dead,
                             ev - distinct, pending());
    EXPECT_EQ(ev, distinct) << "duplicates in sync_events";
    EXPECT_EQ(distinct + dead, n) << "lost entries";
    EXPECT_EQ(inBoth(), 0) << "an entry both committed and dead-lettered";
    EXPECT_EQ(pending(), 0);
  }
};

TEST_F(Faults, PostgresStoppedImmediatelyMidStreamAndStartedAgain) {
  const int n = 20'000;
  auto daemon = startDaemon({{"AUDITQ_RETRY_BREAKER_FAILURES", "3"}});
  std::atomic<int> produced{0};
  auto producer = produce(n, 100, produced);
  ASSERT_TRUE(waitFor([&] { return events() > 2000; }, 60s)) << daemon->stderrText();
  private_stack::run({"stop-pg", "immediate"}); // a crash: no checkpoint, connections cut
  std::this_thread::sleep_for(3s);
  EXPECT_TRUE(daemon->running()) << daemon->stderrText();
  private_stack::run({"start-pg"});
  producer.join();
  ASSERT_TRUE(waitFor([&] { return settled(); }, 120s)) << daemon->stderrText();
  stopDaemon(*daemon);
  expectExactlyOnce(n, "postgres_stop_immediate");
  EXPECT_EQ(deadLetters(), 0);
  const std::string log = daemon->stderrText();
  EXPECT_NE(log.find("postgres_write_failed"), std::string::npos) << log;
  EXPECT_NE(log.find("postgres_breaker_open"), std::string::npos) << log;
  EXPECT_NE(log.find("postgres_write_recovered"), std::string::npos) << log;
  // One line per state change, not one per attempt (log lines start with their timestamp).
  size_t log_lines = 0;
  for (size_t at = 0; at != std::string::npos; at = log.find('\n', at + 1)) {
    log_lines += log.compare(at == 0 ? 0 : at + 1, 3, "202") == 0 ? 1 : 0;
  }
  EXPECT_LE(log_lines, 20u) << log;
}

TEST_F(Faults, AuditqsConnectionsTerminatedByPostgres) {
  const int n = 10'000;
  auto daemon = startDaemon();
  std::atomic<int> produced{0};
  auto producer = produce(n, 50, produced);
  int terminated = 0;
  while (produced < n) {
    terminated += std::stoi(db_.scalar(
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" +
        db_.name() + "' AND application_name = 'auditq'"));
    std::this_thread::sleep_for(300ms);
  }
  producer.join();
  ASSERT_TRUE(waitFor([&] { return settled(); }, 120s)) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_GE(terminated, 3);
  expectExactlyOnce(n, "pg_terminate_backend");
  EXPECT_EQ(deadLetters(), 0);
}

TEST_F(Faults, RedisRestartedWithAppendOnlyFile) {
  const int n = 10'000;
  auto daemon = startDaemon();
  std::atomic<int> produced{0};
  auto producer = produce(n, 50, produced);
  ASSERT_TRUE(waitFor([&] { return events() > 1000; }, 60s)) << daemon->stderrText();
  private_stack::run({"stop-redis"});
  std::this_thread::sleep_for(1500ms);
  EXPECT_TRUE(daemon->running()) << daemon->stderrText();
  private_stack::run({"start-redis"});
  producer.join();
  reconnectRedis();
  ASSERT_TRUE(waitFor([&] { return settled(); }, 120s)) << daemon->stderrText();
  stopDaemon(*daemon);
  expectExactlyOnce(n, "redis_restart_aof");
  EXPECT_EQ(deadLetters(), 0);
  const std::string log = daemon->stderrText();
  EXPECT_NE(log.find("redis_unavailable"), std::string::npos) << log;
  EXPECT_NE(log.find("redis_recovered"), std::string::npos) << log;
  EXPECT_EQ(log.find("consumer_group_missing"), std::string::npos)
      << "with AOF the group and its pending entries survive the restart";
}

TEST_F(Faults, SigkilledAtRandomPointsAndRestarted) {
  const int n = 100'000;
  const int kills = 12;
  std::atomic<int> produced{0};
  auto producer = produce(n, 200, produced);
  std::mt19937 rng(std::random_device{}());
  std::uniform_int_distribution<int> after_ms(300, 1500);
  for (int k = 0; k < kills; ++k) {
    auto daemon = startDaemon(); // the same consumer name: each run drains what the last held
    std::this_thread::sleep_for(std::chrono::milliseconds(after_ms(rng)));
    ASSERT_TRUE(daemon->running()) << daemon->stderrText();
    daemon->signal(SIGKILL);
    EXPECT_EQ(daemon->wait(10s), 128 + SIGKILL);
  }
  producer.join();
  const long long before_final = events();
  auto daemon = startDaemon();
  ASSERT_TRUE(waitFor([&] { return settled(); }, 300s)) << daemon->stderrText();
  stopDaemon(*daemon);
  EXPECT_LT(before_final, n) << "the kills happened while there was work in flight";
  expectExactlyOnce(n, "sigkill_loop", kills);
  // Every entry is valid: the only dead letters possible are entries whose delivery count
  // passed dead_letter.max_deliveries because auditq was killed each time before committing
  // them (on a slow build, restarts read their pending batch and die before its COMMIT). That is
  // the poison rule doing its job; `auditq dlq replay` brings them back.
  EXPECT_EQ(count("SELECT count(*) FROM auditq_dead_letters WHERE reason <> 'max_deliveries' "
                  "OR delivery_count <= 5"),
            0);
}

TEST_F(Faults, MalformedEntriesInterleavedWithValidOnes) {
  const std::string s = newUuid();
  const std::string other = newUuid();
  auto base = [&](std::vector<std::string> extra = {}) {
    std::vector<std::string> f = {"type", "session_updated", "session_id", newUuid(),
                                  "ts",   "1714557600000"};
    f.insert(f.end(), extra.begin(), extra.end());
    return f;
  };
  auto without = [&](const std::string& name) {
    auto f = base();
    for (size_t i = 0; i < f.size(); i += 2) {
      if (f[i] == name) {
        f.erase(f.begin() + static_cast<long>(i), f.begin() + static_cast<long>(i) + 2);
        break;
      }
    }
    return f;
  };
  auto with = [&](const std::string& name, const std::string& value) {
    auto f = base();
    for (size_t i = 0; i < f.size(); i += 2) {
      if (f[i] == name) {
        f[i + 1] = value;
        return f;
      }
    }
    f.insert(f.end(), {name, value});
    return f;
  };
  const std::string state_ok = R"({"sync_mode":"global","status":"running","version":1})";
  const std::vector<std::pair<std::string, std::vector<std::string>>> corpus = {
      {"missing_field", without("type")},
      {"missing_field", without("session_id")},
      {"missing_field", without("ts")},
      {"missing_field", with("type", "")},
      {"missing_field", with("session_id", "")},
      {"missing_field", {"unrelated", "field"}},
      {"duplicate_field",
       [&] {
         auto f = base();
         f.insert(f.end(), {"type", "x"});
         return f;
       }()},
      {"duplicate_field",
       [&] {
         auto f = base();
         f.insert(f.end(), {"ts", "1"});
         return f;
       }()},
      {"bad_event_type", with("type", "SessionUpdated")},
      {"bad_event_type", with("type", "1session")},
      {"bad_event_type", with("type", std::string(51, 'a'))},
      {"bad_event_type", with("type", "session updated")},
      {"unknown_event_type", with("type", "made_up_type")},
      {"bad_uuid", with("session_id", "not-a-uuid")},
      {"bad_uuid", with("session_id", "{" + s + "}")},
      {"bad_uuid", with("session_id", s.substr(0, 35))},
      {"bad_uuid", with("participant_id", "p-1")},
      {"bad_uuid", with("group_id", "zzzzzzzz-zzzz-zzzz-zzzz-zzzzzzzzzzzz")},
      {"bad_timestamp", with("ts", "yesterday")},
      {"bad_timestamp", with("ts", "2024-13-01T00:00:00Z")},
      {"bad_timestamp", with("ts", "2024-05-01T10:00:00")},
      {"bad_timestamp", with("ts", "12abc")},
      {"bad_type", with("version", "abc")},
      {"out_of_range", with("version", "-1")},
      {"bad_type", with("time_remaining_ms", "1.5")},
      {"out_of_range", with("time_elapsed_ms", "99999999999")},
      {"out_of_range", with("cycle_number", "-2147483649")},
      {"bad_json", with("state", "{not json")},
      {"bad_type", with("state", "[1,2]")},
      {"bad_type", with("state", "\"just a string\"")},
      {"bad_json", with("state", std::string("{\"a\":\"\xff\xfe\"}"))},
      {"bad_json", with("metadata", R"({"a":"\u0000"})")},
      {"bad_type", with("metadata", "42")},
      {"bad_state", with("state", R"({"session_id":")" + other + R"(","sync_mode":"global"})")},
      {"bad_state", with("state", R"({"sync_mode":"sideways","status":"running"})")},
      {"bad_state", with("state", R"({"sync_mode":"global","status":"flying"})")},
      {"too_large", with("metadata", "{\"pad\":\"" + std::string(5000, 'x') + "\"}")},
  };
  auto daemon = startDaemon(
      {{"AUDITQ_DECODE_STRICT_TYPES", "true"}, {"AUDITQ_DECODE_MAX_ENTRY_BYTES", "4096"}});
  std::map<std::string, std::string> expected; // entry id -> reason
  int valid = 0;
  for (const auto& [reason, fields] : corpus) {
    expected[xadd(fields)] = reason;
    xadd(with("state", state_ok));
    ++valid;
  }
  const long long n = static_cast<long long>(corpus.size()) + valid;
  ASSERT_TRUE(waitFor([&] { return events() + deadLetters() >= n && pending() == 0; }))
      << daemon->stderrText();
  stopDaemon(*daemon);
  std::map<std::string, std::string> got;
  auto conn = db_.connect();
  pqxx::work tx(*conn);
  for (const auto& row : tx.exec("SELECT entry_id, reason FROM auditq_dead_letters")) {
    got[row[0].as<std::string>()] = row[1].as<std::string>();
  }
  std::set<std::string> kinds;
  for (const auto& [id, reason] : expected) {
    EXPECT_EQ(got[id], reason) << "entry " << id;
    kinds.insert(reason);
  }
  EXPECT_EQ(got.size(), expected.size());
  EXPECT_EQ(events(), valid);
  EXPECT_GE(corpus.size(), 30u);
  EXPECT_EQ(kinds.size(), 11u) << "every decode reason code is exercised";
  expectExactlyOnce(n, fmt::format("malformed_corpus ({} kinds)", corpus.size()));
}

} // namespace
} // namespace auditq::test
