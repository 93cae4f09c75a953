// pg::BatchWriter against a real PostgreSQL: the rows come out the same whatever order two
// writers commit in, two writers never deadlock, and an entry never ends both in sync_events
// and in the dead letters, however the writers interleave.
#include <atomic>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "integration/support.h"
#include "pg/batch_writer.h"
#include "pg/connection.h"
#include "pg/stream_positions.h"
#include "pipeline/batch.h"
#include "pipeline/intake.h"

namespace auditq::test {
namespace {

constexpr const char* kStream = "writer:test";

std::string sessionId(int n) {
  return fmt::format("00000000-0000-4000-8000-{:012d}", n);
}

// One entry's fields: a state for `session` at `version` (none when < 0), or a tombstone.
std::vector<std::string> fields(int session, int version, int64_t ts_ms, bool tombstone = false,
                                int participants = 2) {
  if (tombstone) {
    return {"type", "session_deleted",    "session_id", sessionId(session),
            "ts",   std::to_string(ts_ms)};
  }
  std::string people;
  for (int p = 0; p < participants; ++p) {
    people += fmt::format(R"({}{{"participant_id":"aaaaaaaa-0000-4000-8000-{:012d}",)"
                          R"("participant_index":{},"total_time_ms":{},"cycle_count":{}}})",
                          p == 0 ? "" : ",", p, p, 1000 * (ts_ms % 97), std::max(version, 0));
  }
  const std::string v = version >= 0 ? fmt::format(R"("version":{},)", version) : "";
  std::vector<std::string> f = {"type",
                                "session_updated",
                                "session_id",
                                sessionId(session),
                                "ts",
                                std::to_string(ts_ms),
                                "state",
                                fmt::format(R"({{{}"sync_mode":"global","status":"running",)"
                                            R"("participants":[{}]}})",
                                            v, people)};
  return f;
}

struct Entry {
  std::string id;
  std::vector<std::string> fields;
  int64_t deliveries = 1;
};

class Writer {
public:
  explicit Writer(const std::string& url, std::string stream = kStream)
      : stream_(std::move(stream)) {
    cfg_.postgres.url = url;
    cfg_.postgres.statement_timeout_ms = 0;
    cfg_.dead_letter.max_deliveries = 5;
    writer_ = std::make_unique<pg::BatchWriter>(cfg_.postgres, cfg_.projections);
    batch_ = std::make_unique<pipeline::Batch>(cfg_.batch, cfg_.projections);
    intake_ = std::make_unique<pipeline::Intake>(cfg_.decode, cfg_.projections, cfg_.dead_letter);
  }

  pg::WriteOutcome write(const std::vector<Entry>& entries) {
    batch_->clear();
    std::vector<std::string_view> views;
    for (const auto& e : entries) {
      views.assign(e.fields.begin(), e.fields.end());
      intake_->add(*batch_, pipeline::RawEntry{stream_, e.id, views, e.deliveries});
    }
    batch_->seal();
    return writer_->write(*batch_);
  }

private:
  std::string stream_;
  config::Config cfg_;
  std::unique_ptr<pg::BatchWriter> writer_;
  std::unique_ptr<pipeline::Batch> batch_;
  std::unique_ptr<pipeline::Intake> intake_;
};

class WriterTest : public ::testing::Test {
protected:
  void SetUp() override {
    auto migrate = runAuditq({"migrate", "up"}, {{"DATABASE_URL", db_.url()}});
    ASSERT_EQ(migrate.exit_code, 0) << migrate.err;
  }
  // Everything the projections hold, as one text to compare.
  static std::string projections(const ScratchDatabase& db) {
    return db.scalar("SELECT string_agg(format('%s %s %s %s %s %s', session_id, version, status, "
                     "total_participants, snapshot_entry_id, deleted_at), ';' ORDER BY session_id) "
                     "FROM sync_sessions") +
           "|" +
           db.scalar("SELECT string_agg(format('%s %s %s %s %s', session_id, participant_id, "
                     "total_time_ms, total_cycles, snapshot_entry_id), ';' ORDER BY session_id, "
                     "participant_id) FROM sync_participants") +
           "|" +
           db.scalar("SELECT string_agg(format('%s %s %s', session_id, deleted_at, entry_id), ';' "
                     "ORDER BY session_id) FROM auditq_tombstones");
  }
  ScratchDatabase db_;
};

TEST_F(WriterTest, RowsAreTheSameWhateverOrderTheBatchesCommitIn) {
  // Unversioned states of one session, equal versions of another, and two tombstones of a
  // third with different times, spread over three batches.
  const std::vector<std::vector<Entry>> batches = {
      {{"100-0", fields(1, -1, 1'700'000'000'100)},
       {"100-1", fields(2, 5, 1'700'000'000'100)},
       {"100-2", fields(3, 1, 1'700'000'000'100)},
       {"100-3", fields(3, 0, 1'700'000'000'900, true)}},
      {{"99-0", fields(1, -1, 1'700'000'000'300)},
       {"101-0", fields(2, 5, 1'700'000'000'050, false, 3)},
       {"101-1", fields(3, 0, 1'700'000'000'400, true)}},
      {{"9-0", fields(1, -1, 1'700'000'000'200)}, {"10-0", fields(2, 4, 1'700'000'000'200)}},
  };
  std::string first;
  std::vector<int> order = {0, 1, 2};
  int orders = 0;
  do {
    ScratchDatabase db;
    ASSERT_EQ(runAuditq({"migrate", "up"}, {{"DATABASE_URL", db.url()}}).exit_code, 0);
    Writer w(db.url());
    for (int b : order) {
      ASSERT_TRUE(w.write(batches[b]).committed);
    }
    const std::string rows = projections(db);
    if (orders++ == 0) {
      first = rows;
      // The later entry id wins among unversioned states and among equal versions (101-0 over
      // 100-1, numerically: 100 over 99 and 10 over 9); the earliest tombstone wins.
      EXPECT_NE(rows.find(sessionId(1) + "  running 2 100-0"), std::string::npos) << rows;
      EXPECT_NE(rows.find(sessionId(2) + " 5 running 3 101-0"), std::string::npos) << rows;
      EXPECT_NE(rows.find("101-1"), std::string::npos) << rows;
      EXPECT_EQ(rows.find("100-3"), std::string::npos) << rows;
    } else {
      EXPECT_EQ(rows, first) << "commit order " << order[0] << order[1] << order[2];
    }
  } while (std::next_permutation(order.begin(), order.end()));
  EXPECT_EQ(orders, 6);
}

TEST_F(WriterTest, SmallAndLargeBatchesWriteTheSameProjections) {
  // A small batch sends its sessions and participants as arrays, a large one COPYs them to
  // staging tables: the same entries give the same rows either way, tombstones and a stream
  // name that needs quoting in both syntaxes included.
  const std::string stream = "it's \"odd\" {a,b}\\c d";
  std::vector<Entry> entries;
  for (int s = 0; s < 900; ++s) {
    entries.push_back(
        {fmt::format("{}-0", 100 + s), fields(s, 1 + s % 3, 1'700'000'000'000 + s, false, 3)});
    if (s % 50 == 0) {
      entries.push_back({fmt::format("{}-1", 100 + s), fields(s, 0, 1'700'000'000'500, true)});
    }
  }
  auto write = [&](size_t per_batch, std::string& staging_tables) {
    ScratchDatabase db;
    EXPECT_EQ(runAuditq({"migrate", "up"}, {{"DATABASE_URL", db.url()}}).exit_code, 0);
    Writer w(db.url(), stream);
    for (size_t i = 0; i < entries.size(); i += per_batch) {
      const auto end =
          entries.begin() + static_cast<ptrdiff_t>(std::min(entries.size(), i + per_batch));
      const auto outcome = w.write({entries.begin() + static_cast<ptrdiff_t>(i), end});
      EXPECT_TRUE(outcome.committed) << outcome.message;
    }
    EXPECT_EQ(db.scalar("SELECT string_agg(DISTINCT snapshot_stream, ',') FROM sync_sessions"),
              stream);
    EXPECT_EQ(db.scalar("SELECT count(*) FROM sync_participants"), "2700");
    EXPECT_EQ(db.scalar("SELECT count(*) FROM sync_sessions WHERE deleted_at IS NOT NULL"), "18");
    // The writer's connection is still open: its temporary tables are in the catalog.
    staging_tables = db.scalar("SELECT count(*) FROM pg_class WHERE relname IN "
                               "('auditq_stage1_sessions', 'auditq_stage1_participants')");
    return projections(db);
  };
  std::string staged_small, staged_large;
  const std::string small = write(40, staged_small);
  const std::string large = write(1000, staged_large);
  EXPECT_EQ(staged_small, "0") << "40 entries a batch travel as arrays";
  EXPECT_EQ(staged_large, "2") << "900 entries in one batch are COPYed to staging";
  EXPECT_EQ(small, large);
}

TEST_F(WriterTest, TwoWritersOnTheSameSessionsNeverDeadlock) {
  // States and tombstones of the same few sessions, in opposite orders on two connections.
  std::atomic<int> deadlocks{0};
  std::atomic<int> failures{0};
  auto run = [&](int seed) {
    Writer w(db_.url());
    std::mt19937 rng(seed);
    for (int b = 0; b < 60; ++b) {
      std::vector<Entry> batch;
      for (int i = 0; i < 40; ++i) {
        const int session = static_cast<int>(rng() % 30);
        const bool tomb = rng() % 7 == 0;
        batch.push_back({fmt::format("{}-{}", 1000 + b * 100 + seed, i),
                         fields(seed == 1 ? session : 29 - session, static_cast<int>(rng() % 9),
                                1'700'000'000'000 + b, tomb)});
      }
      const auto outcome = w.write(batch);
      if (outcome.sqlstate == "40P01") {
        ++deadlocks;
      } else if (!outcome.committed) {
        ++failures;
        ADD_FAILURE() << outcome.sqlstate << " " << outcome.message;
      }
    }
  };
  std::thread a(run, 1);
  std::thread b(run, 2);
  a.join();
  b.join();
  EXPECT_EQ(deadlocks, 0);
  EXPECT_EQ(failures, 0);
}

TEST_F(WriterTest, AnEntryNeverEndsBothCommittedAndDeadLettered) {
  // The same entries written by two writers at once: one sees them as events, the other as
  // poison (delivered too often, as after a takeover). Each ends in exactly one place.
  const int rounds = 40;
  for (int r = 0; r < rounds; ++r) {
    std::vector<Entry> as_events;
    std::vector<Entry> as_poison;
    for (int i = 0; i < 20; ++i) {
      Entry e{fmt::format("{}-{}", 5000 + r, i), fields(i, r, 1'700'000'000'000 + r)};
      as_events.push_back(e);
      e.deliveries = 99;
      as_poison.push_back(e);
    }
    Writer a(db_.url());
    Writer b(db_.url());
    std::thread ta([&] { ASSERT_TRUE(a.write(as_events).committed); });
    std::thread tb([&] { ASSERT_TRUE(b.write(as_poison).committed); });
    ta.join();
    tb.join();
  }
  EXPECT_EQ(db_.scalar("SELECT count(*) FROM sync_events e JOIN auditq_dead_letters d "
                       "USING (stream, entry_id)"),
            "0");
  EXPECT_EQ(db_.scalar("SELECT (SELECT count(*) FROM sync_events) + "
                       "(SELECT count(*) FROM auditq_dead_letters)"),
            std::to_string(rounds * 20));
}

TEST_F(WriterTest, ALateTombstoneCheckFixesASessionCommittedAtTheSameMoment) {
  Writer w(db_.url());
  ASSERT_TRUE(w.write({{"1-0", fields(7, 1, 1'700'000'000'000)}}).committed);
  // As if the tombstone had been committed by another writer that did not see the row.
  auto conn = db_.connect();
  pqxx::work tx(*conn);
  tx.exec(fmt::format("INSERT INTO auditq_tombstones (session_id, deleted_at) VALUES ('{}', "
                      "'2023-11-14T22:13:20Z')",
                      sessionId(7)));
  tx.commit();
  EXPECT_EQ(db_.scalar("SELECT deleted_at IS NULL FROM sync_sessions"), "t");
  config::PostgresConfig pc;
  pc.url = db_.url();
  auto c = pg::Connection::open(pc);
  EXPECT_EQ(pg::reconcileTombstones(*c, 600), 1);
  EXPECT_EQ(db_.scalar("SELECT deleted_at = '2023-11-14T22:13:20Z' FROM sync_sessions"), "t");
  EXPECT_EQ(pg::reconcileTombstones(*c, 600), 0) << "nothing left to fix";
}

TEST_F(WriterTest, TheNewestCommittedIdIsFoundNumericallyInEventsAndDeadLetters) {
  Writer w(db_.url());
  config::PostgresConfig pc;
  pc.url = db_.url();
  auto c = pg::Connection::open(pc);
  EXPECT_FALSE(pg::streamPosition(*c, kStream, "g").resumeFrom()) << "a stream never seen";
  ASSERT_TRUE(w.write({{"9-0", fields(1, 1, 1'700'000'000'000)},
                       {"5-10", fields(2, 1, 1'700'000'000'000)},
                       {"5-9", fields(3, 1, 1'700'000'000'000)}})
                  .committed);
  EXPECT_EQ(pg::streamPosition(*c, kStream, "g").newest_committed->toString(), "9-0");
  // A dead letter counts too: 10-0 (text order would put it below 9-0).
  Entry poison{"10-0", fields(4, 1, 1'700'000'000'000)};
  poison.deliveries = 99;
  ASSERT_TRUE(w.write({poison}).committed);
  EXPECT_EQ(pg::streamPosition(*c, kStream, "g").newest_committed->toString(), "10-0");
  // A recorded first start is where a stream with nothing committed resumes.
  pg::recordGroupStart(*c, "other", "g", core::EntryId{42, 1});
  pg::recordGroupStart(*c, "other", "g", core::EntryId{43, 0}); // the first record stays
  EXPECT_EQ(pg::streamPosition(*c, "other", "g").resumeFrom()->toString(), "42-1");
}

} // namespace
} // namespace auditq::test
