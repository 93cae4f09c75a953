// The consumer state machine, one decision at a time: literal events in, exact commands out.
// (tests/sim drives it through seeded fault schedules; these pin the individual rules.)
#include "pipeline/consumer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

namespace auditq::pipeline {
namespace {

using core::EntryId;

config::Config testConfig() {
  config::Config c;
  c.consumer.streams = {"s"};
  c.consumer.start_id = "$";
  c.consumer.block_ms = 100;
  c.consumer.claim_idle_ms = 60'000;
  c.consumer.claim_interval_ms = 10'000;
  c.consumer.delete_idle_ms = 0;
  c.batch.max_entries = 3;
  c.batch.linger_ms = 5;
  c.batch.max_in_flight = 2;
  c.postgres.writers = 2;
  c.redis.ping_interval_ms = 1000;
  c.retry.initial_ms = 100;
  c.retry.max_ms = 1000;
  c.health.stall_ms = 5000;
  c.shutdown.timeout_ms = 2000;
  return c;
}

// Valid entry fields for session `n`.
std::vector<std::string> fieldsFor(int n) {
  const std::string id = "00000000-0000-4000-8000-" + std::string(11, '0') + std::to_string(n % 10);
  return {"type",       "session_updated",
          "session_id", id,
          "ts",         "1700000000000",
          "version",    "1",
          "state",      R"({"sync_mode":"global","status":"running","version":1})"};
}

class Driver {
public:
  explicit Driver(const config::Config& cfg) : cfg_(cfg), core_(cfg_, 42) {}

  // Runs the consumer up to its first XREADGROUP for new entries.
  void startReady() {
    core_.start(now);
    connect();
    ASSERT_TRUE(core_.redisReady());
  }
  void connect() {
    const auto c = take<ConnectRedis>();
    ASSERT_TRUE(c.has_value());
    core_.redisConnected(c->epoch, now);
    const auto check = take<CheckGroup>();
    ASSERT_TRUE(check.has_value());
    core_.groupChecked(core_.epoch(), check->stream, true, now);
    const auto list = take<ListPending>();
    ASSERT_TRUE(list.has_value());
    EXPECT_TRUE(list->from_start) << "own pending entries are read first after a connect";
    core_.pendingListed(core_.epoch(), 0, {}, now);
  }

  // Delivers `n` new entries with ids n-0.. and returns them.
  void deliver(std::vector<int> ms, ReadKind kind = ReadKind::New) {
    std::vector<std::vector<std::string>> storage;
    std::vector<std::string> ids;
    for (int m : ms) {
      storage.push_back(fieldsFor(m));
      ids.push_back(std::to_string(m) + "-0");
    }
    std::vector<std::vector<std::string_view>> views(ms.size());
    std::vector<RawEntry> entries;
    for (size_t i = 0; i < ms.size(); ++i) {
      for (const auto& f : storage[i]) {
        views[i].push_back(f);
      }
      entries.push_back(RawEntry{"s", ids[i], views[i], 1});
    }
    ReadResult r;
    r.kind = kind;
    r.next_cursor = "0-0";
    core_.entriesRead(core_.epoch(), r, entries, now);
  }

  // Removes and returns the first command of type T (others stay).
  template <typename T>
  std::optional<T> take() {
    auto& out = core_.commands();
    for (auto it = out.begin(); it != out.end(); ++it) {
      if (auto* c = std::get_if<T>(&*it)) {
        T copy = *c;
        out.erase(it);
        return copy;
      }
    }
    return std::nullopt;
  }
  template <typename T>
  size_t count() const {
    auto& out = const_cast<Consumer&>(core_).commands();
    return static_cast<size_t>(std::count_if(
        out.begin(), out.end(), [](const Command& c) { return std::holds_alternative<T>(c); }));
  }
  std::optional<Note> note(NoteKind kind) {
    auto& out = core_.commands();
    for (auto& c : out) {
      if (auto* n = std::get_if<Note>(&c); n != nullptr && n->kind == kind) {
        return *n;
      }
    }
    return std::nullopt;
  }
  void advanceTo(TimeMs t) {
    now = t;
    core_.tick(now);
  }

  config::Config cfg_;
  Consumer core_;
  TimeMs now = 1000;
};

TEST(Consumer, ReadsOwnPendingEntriesBeforeNewOnes) {
  Driver d(testConfig());
  d.core_.start(d.now);
  const auto c = d.take<ConnectRedis>();
  ASSERT_TRUE(c);
  d.core_.redisConnected(c->epoch, d.now);
  d.core_.groupChecked(c->epoch, 0, true, d.now);
  EXPECT_EQ(d.count<ReadNew>(), 0u);
  const auto list = d.take<ListPending>();
  ASSERT_TRUE(list);
  const PendingInfo pending[] = {{EntryId{5, 0}, 2}, {EntryId{6, 0}, 1}};
  d.core_.pendingListed(c->epoch, 0, pending, d.now);
  const auto read = d.take<ReadPending>();
  ASSERT_TRUE(read);
  EXPECT_EQ(read->after, (EntryId{4, UINT64_MAX}));
  EXPECT_EQ(read->count, 2u);
}

TEST(Consumer, CreatesAMissingGroupAfterTheNewestCommittedEntry) {
  Driver d(testConfig());
  d.core_.start(d.now);
  const auto c = d.take<ConnectRedis>();
  d.core_.redisConnected(c->epoch, d.now);
  d.core_.groupChecked(c->epoch, 0, false, d.now);
  ASSERT_TRUE(d.take<LookupResume>());
  d.core_.resumeFound(0, true, EntryId{1700000000123, 9}, d.now);
  const auto create = d.take<CreateGroup>();
  ASSERT_TRUE(create);
  EXPECT_EQ(create->start_id, "1700000000123-9");
  d.core_.groupCreated(c->epoch, 0, EntryId{1700000000123, 9}, 500, d.now);
  const auto resumed = d.note(NoteKind::GroupResumed);
  ASSERT_TRUE(resumed);
  EXPECT_EQ(resumed->text, "1700000000123-9");
  EXPECT_EQ(resumed->number, 500);
  EXPECT_EQ(d.count<RecordGroupStart>(), 0u) << "only a stream's first group is recorded";
  EXPECT_TRUE(d.core_.redisReady());
}

TEST(Consumer, UsesStartIdOnlyForAStreamPostgresHasNeverSeenAndRecordsWhereItStarted) {
  Driver d(testConfig());
  d.core_.start(d.now);
  const auto c = d.take<ConnectRedis>();
  d.core_.redisConnected(c->epoch, d.now);
  d.core_.groupChecked(c->epoch, 0, false, d.now);
  d.core_.resumeFound(0, true, std::nullopt, d.now);
  const auto create = d.take<CreateGroup>();
  ASSERT_TRUE(create);
  EXPECT_EQ(create->start_id, "$");
  d.core_.groupCreated(c->epoch, 0, EntryId{77, 3}, 0, d.now);
  const auto record = d.take<RecordGroupStart>();
  ASSERT_TRUE(record);
  EXPECT_EQ(record->id, (EntryId{77, 3}));
  // Not recorded yet (PostgreSQL away): asked again later, not forgotten.
  d.core_.groupStartRecorded(0, false, d.now);
  EXPECT_EQ(d.count<RecordGroupStart>(), 0u);
  d.advanceTo(d.now + 2000);
  EXPECT_TRUE(d.take<RecordGroupStart>());
}

TEST(Consumer, WaitsForPostgresBeforePlacingAMissingGroup) {
  Driver d(testConfig());
  d.core_.start(d.now);
  const auto c = d.take<ConnectRedis>();
  d.core_.redisConnected(c->epoch, d.now);
  d.core_.groupChecked(c->epoch, 0, false, d.now);
  ASSERT_TRUE(d.take<LookupResume>());
  d.core_.resumeFound(0, false, std::nullopt, d.now);
  EXPECT_EQ(d.count<CreateGroup>(), 0u) << "never at start_id because PostgreSQL did not answer";
  ASSERT_TRUE(d.core_.nextWake());
  d.advanceTo(*d.core_.nextWake());
  EXPECT_TRUE(d.take<LookupResume>());
}

TEST(Consumer, ReconnectsWhenAnIdleConnectionIsLost) {
  Driver d(testConfig());
  d.startReady();
  d.core_.commands().clear();
  // Nothing outstanding on it: the disconnect callback is the only sign.
  d.core_.redisFailed(d.core_.epoch(), "connection reset by peer", d.now);
  EXPECT_TRUE(d.take<CloseRedis>());
  EXPECT_TRUE(d.note(NoteKind::RedisUnavailable));
  EXPECT_FALSE(d.core_.redisReady());
  ASSERT_TRUE(d.core_.nextWake());
  d.advanceTo(*d.core_.nextWake() + 100);
  EXPECT_TRUE(d.take<ConnectRedis>());
}

TEST(Consumer, ReconnectsAtOnceWhenTheSentinelsAnnounceANewPrimary) {
  Driver d(testConfig());
  d.startReady();
  // The primary dies; failed attempts grow the backoff.
  for (int i = 0; i < 4; ++i) {
    d.core_.redisFailed(d.core_.epoch(), "connection refused", d.now);
    d.core_.commands().clear();
    while (d.count<ConnectRedis>() == 0) {
      d.advanceTo(*d.core_.nextWake());
    }
  }
  d.core_.redisFailed(d.core_.epoch(), "connection refused", d.now);
  d.core_.commands().clear();
  EXPECT_EQ(d.count<ConnectRedis>(), 0u);
  d.core_.redisPrimaryChanged(d.now);
  EXPECT_TRUE(d.take<ConnectRedis>()) << "not after the rest of the backoff";
}

TEST(Consumer, DropsALiveLinkWhenTheSentinelsAnnounceANewPrimary) {
  Driver d(testConfig());
  d.startReady();
  d.core_.commands().clear();
  const auto epoch = d.core_.epoch();
  // Still connected: to a primary that was demoted (partitioned, not killed).
  d.core_.redisPrimaryChanged(d.now);
  EXPECT_TRUE(d.take<CloseRedis>());
  const auto c = d.take<ConnectRedis>();
  ASSERT_TRUE(c);
  EXPECT_GT(c->epoch, epoch);
}

TEST(Consumer, PingsIdleConnections) {
  Driver d(testConfig());
  d.startReady();
  d.core_.commands().clear();
  d.advanceTo(d.now + 1000);
  const auto ping = d.take<PingRedis>();
  ASSERT_TRUE(ping);
  EXPECT_FALSE(ping->reader) << "the reader connection is busy with a blocking read";
}

TEST(Consumer, BacksOffWhenGroupCreationIsRefused) {
  Driver d(testConfig());
  d.core_.start(d.now);
  std::vector<TimeMs> attempts;
  for (int i = 0; i < 6; ++i) {
    const auto c = d.take<ConnectRedis>();
    ASSERT_TRUE(c);
    attempts.push_back(d.now);
    d.core_.redisConnected(c->epoch, d.now);
    d.core_.groupChecked(c->epoch, 0, false, d.now);
    d.core_.resumeFound(0, true, EntryId{1, 0}, d.now);
    ASSERT_TRUE(d.take<CreateGroup>());
    d.core_.redisFailed(c->epoch, "XGROUP CREATE: NOPERM", d.now);
    d.core_.commands().clear();
    // The next attempt comes only when the backoff's delay is over.
    const auto wake = d.core_.nextWake();
    ASSERT_TRUE(wake);
    d.advanceTo(std::max(*wake, d.now + 1));
    while (d.count<ConnectRedis>() == 0) {
      d.advanceTo(*d.core_.nextWake());
    }
  }
  // Ceilings 100, 200, 400, 800, 1000: six attempts spread over more than the first delay.
  EXPECT_GT(attempts.back() - attempts.front(), 100);
}

TEST(Consumer, AcknowledgesOnlyAfterTheCommitAndAgainAfterAReconnect) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12}); // full: sealed at once
  const auto submit = d.take<SubmitBatch>();
  ASSERT_TRUE(submit);
  EXPECT_EQ(d.count<AckBatch>(), 0u);
  d.core_.committed(submit->batch, d.now);
  ASSERT_TRUE(d.take<AckBatch>());
  // The XACK is lost with the connection: sent again on the next one, not dropped.
  d.core_.redisFailed(d.core_.epoch(), "connection lost", d.now);
  d.core_.commands().clear();
  d.advanceTo(d.now + 2000);
  d.connect();
  EXPECT_TRUE(d.take<AckBatch>());
  EXPECT_EQ(d.core_.entriesHeld(), 3u);
}

TEST(Consumer, NeverTakesASecondCopyOfAnEntryItHolds) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12});
  ASSERT_TRUE(d.take<SubmitBatch>());
  // A claim brings 11 back while its batch is still being written.
  d.deliver({11, 20}, ReadKind::Claimed);
  EXPECT_EQ(d.core_.entriesHeld(), 4u);
  EXPECT_EQ(d.core_.counters().duplicates_held, 1u);
}

TEST(Consumer, SkipsHeldEntriesWhenReadingItsPendingListBack) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12});
  ASSERT_TRUE(d.take<SubmitBatch>());
  d.core_.redisFailed(d.core_.epoch(), "connection lost", d.now);
  d.core_.commands().clear();
  d.advanceTo(d.now + 2000);
  const auto c = d.take<ConnectRedis>();
  d.core_.redisConnected(c->epoch, d.now);
  d.core_.groupChecked(c->epoch, 0, true, d.now);
  ASSERT_TRUE(d.take<ListPending>());
  const PendingInfo pending[] = {
      {EntryId{10, 0}, 1}, {EntryId{11, 0}, 1}, {EntryId{12, 0}, 1}, {EntryId{13, 0}, 1}};
  d.core_.pendingListed(c->epoch, 0, pending, d.now);
  const auto read = d.take<ReadPending>();
  ASSERT_TRUE(read);
  EXPECT_EQ(read->after, (EntryId{12, UINT64_MAX}));
  EXPECT_EQ(read->count, 1u) << "10..12 are held: only 13 is read back";
}

TEST(Consumer, ShrinkingMaxEntriesBelowTheBatchBeingFilledNeverUnderflowsTheReadCount) {
  auto cfg = testConfig();
  cfg.batch.max_entries = 10;
  cfg.postgres.writers = 1;
  Driver d(cfg);
  d.startReady();
  d.take<ReadNew>();
  d.deliver({1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
  const auto first = d.take<SubmitBatch>(); // the only writer is busy with it
  ASSERT_TRUE(first);
  d.take<ReadNew>();
  d.deliver({11, 12, 13, 14, 15, 16});
  d.core_.limitsChanged(BatchLimits{2, cfg.batch.max_bytes, 5}, d.now);
  d.advanceTo(d.now + 5);
  // Past its linger with the writer busy, the batch is topped up: from its own limit of 10.
  const auto read = d.take<ReadNew>();
  ASSERT_TRUE(read);
  EXPECT_GE(read->count, 1u);
  EXPECT_LE(read->count, 4u);
  d.deliver({17, 18, 19, 20});
  const auto second = d.take<SubmitBatch>();
  ASSERT_TRUE(second);
  EXPECT_EQ(second->batch->entries(), 10u);
  // The next batch takes the new limit.
  d.core_.committed(first->batch, d.now);
  d.core_.acked(d.core_.epoch(), d.take<AckBatch>()->batch, d.now);
  const auto next = d.take<ReadNew>();
  ASSERT_TRUE(next);
  EXPECT_EQ(next->count, 2u);
}

TEST(Consumer, ReportsAStallWhenNothingCommitsWhileBothServersAnswer) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12});
  ASSERT_TRUE(d.take<SubmitBatch>());
  d.advanceTo(d.now + 4999);
  EXPECT_FALSE(d.core_.stalled());
  d.advanceTo(d.now + 1);
  EXPECT_TRUE(d.core_.stalled());
  EXPECT_TRUE(d.note(NoteKind::Stalled));
}

TEST(Consumer, AnOutageIsNotAStall) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12});
  const auto submit = d.take<SubmitBatch>();
  d.core_.postgresAnswering(false, d.now);
  d.advanceTo(d.now + 20'000);
  EXPECT_FALSE(d.core_.stalled());
  // PostgreSQL is back: the stall clock starts again from there.
  d.core_.postgresAnswering(true, d.now);
  d.advanceTo(d.now + 4000);
  EXPECT_FALSE(d.core_.stalled());
  d.core_.committed(submit->batch, d.now);
  EXPECT_FALSE(d.core_.stalled());
}

TEST(Consumer, StopsAfterCommittingWhatItHolds) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10});
  d.core_.stopRequested(d.now);
  const auto submit = d.take<SubmitBatch>();
  ASSERT_TRUE(submit) << "what is held is committed before leaving";
  EXPECT_FALSE(d.core_.exited());
  d.core_.committed(submit->batch, d.now);
  d.core_.acked(d.core_.epoch(), d.take<AckBatch>()->batch, d.now);
  // A read was still out (the first one came back full, so it read on): it is answered first.
  EXPECT_FALSE(d.take<Exit>());
  d.deliver({});
  const auto exit = d.take<Exit>();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 0);
}

TEST(Consumer, AbandonsTheWritesWhenTheShutdownTimesOut) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12});
  ASSERT_TRUE(d.take<SubmitBatch>());
  d.core_.stopRequested(d.now);
  d.advanceTo(d.now + 2000);
  EXPECT_TRUE(d.take<AbandonWrites>());
  const auto exit = d.take<Exit>();
  ASSERT_TRUE(exit);
  EXPECT_EQ(exit->code, 1);
}

TEST(Consumer, ReclaimsEntriesItHoldsForLongSoNoOneTakesThemOver) {
  Driver d(testConfig());
  d.startReady();
  d.take<ReadNew>();
  d.deliver({10, 11, 12});
  ASSERT_TRUE(d.take<SubmitBatch>());
  d.core_.postgresAnswering(false, d.now); // a long outage: the batch stays with the writers
  d.advanceTo(d.now + 30'000);
  EXPECT_TRUE(d.take<TouchBatch>());
}

TEST(Consumer, IsBoundedByBatchesAndNotByReads) {
  auto cfg = testConfig();
  cfg.batch.max_in_flight = 1;
  Driver d(cfg);
  d.startReady();
  d.take<ReadNew>();
  d.deliver({1, 2, 3});
  ASSERT_TRUE(d.take<SubmitBatch>());
  d.deliver({4, 5, 6, 7}); // 7 does not fit: the batch after the one in flight is full
  EXPECT_EQ(d.core_.entriesHeld(), 6u);
  EXPECT_EQ(d.core_.counters().left_pending, 1u);
  EXPECT_EQ(d.count<SubmitBatch>(), 0u) << "at most batch.max_in_flight with the writers";
}

TEST(Consumer, ReadsAskForWhatFitsTheBatchByBytesNotByEntries) {
  auto cfg = testConfig();
  cfg.batch.max_entries = 1000;
  cfg.batch.max_bytes = 64 * 1024;
  cfg.batch.linger_ms = 1000;
  Driver d(cfg);
  d.startReady();
  // Nothing seen yet: one entry, to learn what an entry costs.
  const auto first = d.take<ReadNew>();
  ASSERT_TRUE(first);
  EXPECT_EQ(first->count, 1u);
  // Entries of about 10 KiB: the next read asks only for what the batch's bytes still take.
  const std::string big(10 * 1024, 'n');
  std::vector<std::string> f = fieldsFor(1);
  f.back().insert(1, R"("notes":")" + big + R"(",)");
  std::vector<std::string_view> views(f.begin(), f.end());
  const RawEntry e{"s", "1-0", views, 1};
  ReadResult r;
  d.core_.entriesRead(d.core_.epoch(), r, std::span(&e, 1), d.now);
  d.advanceTo(d.now + 1000); // linger over; the writers are idle: sealed, a new batch reads
  const auto next = d.take<ReadNew>();
  ASSERT_TRUE(next);
  // A 10 KiB entry costs a batch its raw copy and its row (about 20 KiB): 64 KiB hold 3.
  EXPECT_GE(next->count, 2u);
  EXPECT_LE(next->count, 4u);
}

TEST(GroupStartId, IsWhereThePreviousGroupGotToElseTheConfiguredStart) {
  EXPECT_EQ(groupStartId(EntryId{5, 2}, "$"), "5-2");
  EXPECT_EQ(groupStartId(std::nullopt, "$"), "$");
  EXPECT_EQ(groupStartId(std::nullopt, "0"), "0");
}

} // namespace
} // namespace auditq::pipeline
