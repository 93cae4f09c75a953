// The consumer core against real servers that really stop, restart empty, drop connections,
// refuse commands and hold locks (a private stack: integration/private_stack.h). Each test
// ends with what the operator cares about: rows in PostgreSQL, entries pending in Redis,
// /healthz, /metrics and what systemd is told.
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <fstream>
#include <iostream>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include <fmt/format.h>

#include "integration/notify_socket.h"
#include "integration/pipeline_support.h"
#include "integration/private_stack.h"

namespace auditq::test {
namespace {

using namespace std::chrono_literals;

class ConsumerCore : public PipelineFixture {
protected:
  static void SetUpTestSuite() { private_stack::start(); }
  static void TearDownTestSuite() { private_stack::stop(); }

  long long distinctEvents() const {
    return count(fmt::format("SELECT count(DISTINCT entry_id) FROM sync_events WHERE stream = '{}'",
                             stream_));
  }

  // A fresh Redis client (the fixture's dies with a Redis restart).
  void reconnectRedis() {
    config::RedisConfig rc;
    rc.url = redisUrl();
    redis_ = std::make_unique<redis::BlockingClient>(redis::BlockingClient::connect(rc));
  }

  // Every entry id the stream holds.
  std::vector<std::string> streamIds() {
    std::vector<std::string> ids;
    auto r = redis_->command({"XRANGE", stream_, "-", "+"});
    for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; ++i) {
      ids.emplace_back(r->element[i]->element[0]->str, r->element[i]->element[0]->len);
    }
    return ids;
  }

  // Each id the stream holds is in sync_events exactly once.
  void expectStreamCommittedOnce() {
    const auto ids = streamIds();
    ASSERT_FALSE(ids.empty());
    auto conn = db_.connect();
    pqxx::work tx(*conn);
    std::string list;
    for (const auto& id : ids) {
      list += (list.empty() ? "'" : ",'") + id + "'";
    }
    const auto missing = tx.exec(fmt::format(
        "SELECT count(*) FROM unnest(ARRAY[{}]) AS i(id) WHERE (SELECT count(*) FROM sync_events "
        "e WHERE e.stream = '{}' AND e.entry_id = i.id) <> 1",
        list, stream_));
    EXPECT_EQ(missing[0][0].as<long long>(), 0) << "entries not committed exactly once";
  }

  // The peak resident memory of a process so far (VmHWM), in bytes.
  static long long peakRss(int pid) {
    std::ifstream in(fmt::format("/proc/{}/status", pid));
    for (std::string line; std::getline(in, line);) {
      if (line.starts_with("VmHWM:")) {
        return std::stoll(line.substr(6)) * 1024;
      }
    }
    return -1;
  }

  // Redis' count of a command's calls, refused ones included (INFO commandstats).
  long long commandCalls(const std::string& name) {
    auto r = redis_->command({"INFO", "commandstats"});
    const std::string text(r->str, r->len);
    const std::regex re("cmdstat_" + std::regex_replace(name, std::regex("\\|"), "\\|") +
                        ":calls=(\\d+),.*?rejected_calls=(\\d+)");
    std::smatch m;
    return std::regex_search(text, m, re) ? std::stoll(m[1]) + std::stoll(m[2]) : 0;
  }
};

TEST_F(ConsumerCore, RedisRestartedEmptyWhileAuditqIsCutOffLosesNothingWrittenAfterIt) {
  auto daemon = startWithHttp();
  for (int i = 0; i < 200; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  ASSERT_TRUE(waitFor([&] { return events() == 200 && pending() == 0; })) << daemon->stderrText();
  // auditq is cut off; Redis restarts with nothing, the application reconnects first and
  // writes on: the stream and its group are new, and auditq must read all of it.
  daemon->signal(SIGSTOP);
  private_stack::run({"stop-redis"});
  private_stack::run({"start-redis-empty"});
  reconnectRedis();
  for (int i = 0; i < 500; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  daemon->signal(SIGCONT);
  ASSERT_TRUE(waitFor([&] { return events() == 700 && pending() == 0; }, 60s))
      << daemon->stderrText();
  EXPECT_EQ(distinctEvents(), 700);
  expectStreamCommittedOnce();
  EXPECT_GE(metric("auditq_consumer_groups_recreated_total"), 1);
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, RedisRestartedWhileReadingIsPausedDrainsTheWholeBacklog) {
  // One small batch at the writer and one full one waiting: reading pauses on back-pressure
  // with nothing outstanding on the reader connection.
  auto daemon = startWithHttp({{"AUDITQ_BATCH_MAX_ENTRIES", "100"},
                               {"AUDITQ_BATCH_MAX_IN_FLIGHT", "1"},
                               {"AUDITQ_POSTGRES_WRITERS", "1"}});
  ASSERT_TRUE(waitStatus("/readyz", 200, 20s)) << daemon->stderrText();
  private_stack::run({"stop-pg", "immediate"});
  const int n = 5000;
  for (int i = 0; i < n; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  // Paused: at most one batch at the writer and a full one waiting (2 x 100), and no more.
  long long paused = -1;
  ASSERT_TRUE(waitFor(
      [&] {
        const long long before = pending();
        std::this_thread::sleep_for(500ms);
        paused = pending();
        return paused > 0 && paused == before;
      },
      20s))
      << daemon->stderrText();
  EXPECT_LE(paused, 200) << "reading is paused by back-pressure";
  private_stack::run({"stop-redis"});
  private_stack::run({"start-redis"}); // AOF: the stream and the pending entries are back
  reconnectRedis();
  private_stack::run({"start-pg"});
  ASSERT_TRUE(waitFor([&] { return events() == n && pending() == 0; }, 120s))
      << daemon->stderrText();
  EXPECT_TRUE(daemon->running()) << "drained by the same process, no restart";
  EXPECT_EQ(distinctEvents(), n);
  EXPECT_GE(metric("auditq_redis_reconnects_total"), 1);
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, ALostControlConnectionIsReplacedAndAcknowledgementsGoOn) {
  auto daemon = startWithHttp();
  xadd(entryWithState(newUuid(), 1));
  ASSERT_TRUE(waitFor([&] { return events() == 1 && pending() == 0; })) << daemon->stderrText();
  // Only the control connection (XACK, PING) goes; the reader stays blocked in XREADGROUP.
  // CLIENT KILL has no name filter in Redis 7.0: find its id by name.
  const std::string name = fmt::format("auditq:{}:control", consumer_);
  auto list = redis_->command({"CLIENT", "LIST"});
  const std::string clients(list->str, list->len);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(clients, m, std::regex("id=(\\d+) [^\\n]* name=" + name + " ")))
      << clients;
  redis_->command({"CLIENT", "KILL", "ID", m[1].str()});
  for (int i = 0; i < 20; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  ASSERT_TRUE(waitFor([&] { return events() == 21 && pending() == 0; }, 30s))
      << daemon->stderrText();
  EXPECT_GE(metric("auditq_redis_reconnects_total"), 1);
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, RefusedGroupCreationBacksOffAndGoesOnOnceAllowed) {
  // The documented ACL rule, without XGROUP CREATE.
  const std::string user = uniqueName("nogroup");
  redis_->command({"ACL",
                   "SETUSER",
                   user,
                   "on",
                   ">pw",
                   "resetkeys",
                   "~*",
                   "-@all",
                   "+xreadgroup",
                   "+xack",
                   "+xpending",
                   "+xautoclaim",
                   "+xclaim",
                   "+xinfo|groups",
                   "+xinfo|consumers",
                   "+xadd",
                   "+eval",
                   "+ping",
                   "+select",
                   "+client|setname"});
  for (int i = 0; i < 5; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  const std::string url =
      std::regex_replace(redisUrl(), std::regex("redis://"), "redis://" + user + ":pw@");
  const long long before = commandCalls("xgroup|create");
  auto daemon = startWithHttp(
      {{"REDIS_URL", url}, {"AUDITQ_RETRY_INITIAL_MS", "100"}, {"AUDITQ_RETRY_MAX_MS", "1000"}});
  std::this_thread::sleep_for(4s);
  const long long attempts = commandCalls("xgroup|create") - before;
  EXPECT_GE(attempts, 2) << "it keeps trying";
  EXPECT_LE(attempts, 25) << "with backoff, not in a loop";
  EXPECT_TRUE(daemon->running());
  EXPECT_EQ(get("/readyz").status, 503u);
  redis_->command({"ACL", "SETUSER", user, "+xgroup|create"});
  ASSERT_TRUE(waitFor([&] { return events() == 5 && pending() == 0; }, 30s))
      << daemon->stderrText();
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, SighupShrinkingMaxEntriesBelowTheBatchInProgressLosesNothing) {
  const std::string path =
      writeTempFile("batch:\n  max_entries: 1000\n  linger_ms: 3000\npostgres:\n  writers: 1\n");
  createGroup();
  auto daemon = startWithHttp({{"AUDITQ_CONFIG", path}});
  ASSERT_TRUE(waitStatus("/readyz", 200, 20s)) << daemon->stderrText();
  for (int i = 0; i < 400; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  // The 400 linger in one batch; the limit drops to 5 while it is being filled.
  ASSERT_TRUE(waitFor([&] { return pending() == 400; }, 10s)) << daemon->stderrText();
  std::ofstream(path) << "batch:\n  max_entries: 5\n  linger_ms: 3000\npostgres:\n  writers: 1\n";
  daemon->signal(SIGHUP);
  // The new limit applies once the file is read: entries XADDed before that may still join
  // the batch in progress (up to the old limit), which is not what this test is about.
  ASSERT_TRUE(
      waitFor([&] { return metric(R"(auditq_config_reloads_total{result="applied"})") == 1; }, 10s))
      << daemon->stderrText();
  for (int i = 0; i < 100; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  ASSERT_TRUE(waitFor([&] { return events() == 500 && pending() == 0; }, 60s))
      << daemon->stderrText();
  EXPECT_TRUE(daemon->running());
  // The batches after it take the new limit: at least 20 of at most 5 (bucket le="10").
  const std::string body = get("/metrics").body;
  std::smatch m;
  ASSERT_TRUE(
      std::regex_search(body, m, std::regex(R"re(auditq_batch_entries_bucket\{le="10"\} (\d+))re")))
      << body;
  EXPECT_GE(std::stoll(m[1]), 20);
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, ABacklogOfLargeEntriesStaysWithinTheMemoryBoundByBytes) {
  // 300 valid entries of 0.9 MiB: reads ask for as many as fit the batch's bytes, not for
  // batch.max_entries of them.
  const std::string pad(900 * 1024, 'p');
  for (int i = 0; i < 300; ++i) {
    auto f = entryWithState(newUuid(), 1);
    f.back().insert(1, R"("notes":")" + pad + R"(",)");
    xadd(f);
  }
  createGroup();
#ifdef AUDITQ_SANITIZED
  // ASan keeps freed memory in a quarantine (256 MB by default) and surrounds every allocation
  // with redzones: no quarantine, and room for about three times the allocations.
  auto daemon = startWithHttp({{"ASAN_OPTIONS", "quarantine_size_mb=0"}});
  constexpr long long kAllocatorOverhead = 3;
#else
  auto daemon = startWithHttp();
  constexpr long long kAllocatorOverhead = 1;
#endif
  ASSERT_TRUE(waitFor([&] { return events() == 300 && pending() == 0; }, 120s))
      << daemon->stderrText();
  const long long peak = peakRss(daemon->pid());
  // 64 MB + (batch.max_in_flight + 1) * batch.max_bytes, at the defaults (4 and 4 MiB).
  const long long bound = kAllocatorOverhead * (64'000'000LL + 5LL * (4 << 20));
  std::cout << fmt::format(
      "FIGURES large_entries: 300 x 0.9 MiB, peak RSS {:.1f} MB, bound {:.1f} MB\n", peak / 1e6,
      bound / 1e6);
  EXPECT_GT(peak, 0);
  EXPECT_LT(peak, bound);
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, HealthzAnswersPromptlyWhileWorstCaseEntriesAreDecoded) {
  // States of 12,000 participants, each entry just under 1 MiB: decoding them is the heaviest
  // work the event loop does.
  for (int e = 0; e < 10; ++e) {
    std::string people;
    for (int i = 0; i < 12'000; ++i) {
      people += fmt::format(R"({}{{"participant_id":"{:08x}-0000-4000-8000-{:012d}",)"
                            R"("total_time_ms":1000}})",
                            i == 0 ? "" : ",", e, i);
    }
    xadd({"type", "session_updated", "session_id", newUuid(), "ts", "1700000000000", "state",
          R"({"sync_mode":"per_participant","status":"running","version":1,"participants":[)" +
              people + "]}"});
  }
  createGroup();
  auto daemon = startWithHttp();
  std::vector<double> ms;
  while (events() < 10 && ms.size() < 3000) {
    const auto started = std::chrono::steady_clock::now();
    const auto r = get("/healthz");
    ms.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - started)
            .count());
    EXPECT_EQ(r.status, 200u) << r.error;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_TRUE(waitFor([&] { return events() == 10 && pending() == 0; }, 60s))
      << daemon->stderrText();
  std::sort(ms.begin(), ms.end());
  const double p99 = ms[ms.size() * 99 / 100];
  std::cout << fmt::format("FIGURES healthz_under_worst_case: {} probes, p50 {:.1f} ms, p99 {:.1f} "
                           "ms, max {:.1f} ms\n",
                           ms.size(), ms[ms.size() / 2], p99, ms.back());
  // The issue measured over 5 s with every pair of participants compared; 100 ms is the target
  // on a release build (docs/reliability.md has the figure). ASan makes the decoding of one
  // such entry several times slower: two CI runs measured a p99 (= the slowest of ~35 probes)
  // of 1,109 and 1,401 ms there, so the sanitizer build gets its own bound.
#if defined(__SANITIZE_ADDRESS__)
  constexpr double kBoundMs = 3000.0;
#else
  constexpr double kBoundMs = 1000.0;
#endif
  EXPECT_LT(p99, kBoundMs);
  stopDaemon(*daemon);
}

TEST_F(ConsumerCore, AStalledWriterIsReportedByHealthzAndTheWatchdogStops) {
  // A lock nobody releases, and no statement timeout: the writer waits for ever while both
  // servers answer.
  auto locker = db_.connect();
  pqxx::work lock_tx(*locker);
  lock_tx.exec("LOCK TABLE sync_sessions IN EXCLUSIVE MODE");
  NotifySocket notify;
  auto daemon = startWithHttp({{"NOTIFY_SOCKET", notify.path()},
                               {"WATCHDOG_USEC", "1000000"},
                               {"AUDITQ_HEALTH_STALL_MS", "2000"},
                               {"AUDITQ_POSTGRES_STATEMENT_TIMEOUT_MS", "0"}});
  std::vector<std::string> seen;
  ASSERT_TRUE(notify.waitFor("READY=1", 20s, seen)) << daemon->stderrText();
  EXPECT_EQ(get("/healthz").status, 200u);
  for (int i = 0; i < 10; ++i) {
    xadd(entryWithState(newUuid(), 1));
  }
  ASSERT_TRUE(waitStatus("/healthz", 503, 15s)) << daemon->stderrText();
  EXPECT_EQ(get("/healthz").body, "stalled\n");
  EXPECT_EQ(metric("auditq_stalled"), 1);
  // systemd would now restart it: the watchdog is no longer fed.
  notify.receive(600ms); // what was sent before the stall was seen
  EXPECT_EQ(countContaining(notify.receive(2500ms), "WATCHDOG=1"), 0u);
  // The lock goes: the batch commits, and auditq is healthy again.
  lock_tx.abort();
  ASSERT_TRUE(waitFor([&] { return events() == 10 && pending() == 0; }, 30s))
      << daemon->stderrText();
  EXPECT_TRUE(waitStatus("/healthz", 200, 5s));
  EXPECT_GE(countContaining(notify.receive(2500ms), "WATCHDOG=1"), 1u);
  stopDaemon(*daemon);
}

} // namespace
} // namespace auditq::test
