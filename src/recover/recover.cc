// `auditq --recover` / `auditq recover`: rebuild the session keys in Redis from the newest
// snapshots in PostgreSQL, never overwriting a newer state, then recreate the consumer groups.
#include <unistd.h>

#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include "recover/recover.h"

#include "core/exit_code.h"
#include "core/log.h"
#include "pg/recover_source.h"
#include "pg/stream_positions.h"
#include "pipeline/consumer.h"
#include "pipeline/recover_plan.h"
#include "pipeline/uuid.h"
#include "redis/blocking_client.h"
#include "redis/replies.h"

namespace auditq::recover {

using core::kExitFailure;
using core::kExitOk;
using core::kExitUsage;
using RecoverOptions = Options;
namespace {

using Clock = std::chrono::steady_clock;

// KEYS[1] the key; ARGV: the snapshot JSON, its version ("" when unknown), the TTL in seconds,
// the version field. Writes only when the key is absent, or holds a JSON object whose version is
// older. A key we cannot compare (no version, not JSON, a version that is not a number or is
// NaN) is the application's newer state: kept.
constexpr std::string_view kRestoreScript = R"(
local current = redis.call('GET', KEYS[1])
if current then
  if ARGV[2] == '' then return 0 end
  local ok, state = pcall(cjson.decode, current)
  if not ok or type(state) ~= 'table' then return 0 end
  local version = tonumber(state[ARGV[4]])
  -- not a number, NaN (version ~= version), or not older: the key is kept
  if version == nil or version ~= version or version >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1)";

// Counts. restored, newer_in_redis and errors are written by the Redis writer thread while the
// reader shows progress; first_error is read only after the writer has finished.
struct Tally {
  std::array<std::atomic<int64_t>, 5> skipped{}; // by RecoverVerdict
  std::atomic<int64_t> restored{0};
  std::atomic<int64_t> newer_in_redis{0};
  std::atomic<int64_t> errors{0};
  std::atomic<int64_t> seen{0};
  std::mutex mu;
  std::string first_error; // guarded by mu
};

// Progress at most four times a second on a terminal; a log line every 5 s otherwise.
class Progress {
public:
  explicit Progress(bool dry_run) : tty_(isatty(STDERR_FILENO) == 1), dry_run_(dry_run) {}

  void update(const Tally& t, bool final = false) {
    const auto now = Clock::now();
    if (!final && now < next_) {
      return;
    }
    next_ = now + (tty_ ? std::chrono::milliseconds(250) : std::chrono::milliseconds(5000));
    const double secs = std::chrono::duration<double>(now - start_).count();
    const double rate = secs > 0 ? static_cast<double>(t.seen.load()) / secs : 0;
    if (tty_) {
      std::cerr << fmt::format("\rrecover: {} sessions read, {} {}, {:.0f}/s   ", t.seen.load(),
                               t.restored.load(), dry_run_ ? "to restore" : "restored", rate)
                << (final ? "\n" : "") << std::flush;
    } else if (!final) {
      core::log::info("recover_progress", {{"sessions_read", t.seen.load()},
                                           {"restored", t.restored.load()},
                                           {"per_second", rate}});
    }
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

private:
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_ = start_;
  bool tty_;
  bool dry_run_;
};

// The keys to restore, handed from the PostgreSQL reader to the Redis writer in chunks of
// recover.pipeline rows. Three chunks rotate between the two threads, so memory stays bounded
// and PostgreSQL and Redis work at the same time instead of taking turns.
struct Chunk {
  struct Item {
    size_t key_begin;
    size_t key_end; // the json follows the key
    size_t json_end;
    std::optional<int64_t> version;
    int64_t ttl;
  };
  std::string text; // key, json, key, json, ...
  std::vector<Item> items;
  std::string_view key(size_t i) const {
    return std::string_view(text).substr(items[i].key_begin, items[i].key_end - items[i].key_begin);
  }
  std::string_view json(size_t i) const {
    return std::string_view(text).substr(items[i].key_end, items[i].json_end - items[i].key_end);
  }
  void clear() {
    text.clear();
    items.clear();
  }
  void add(std::string_view key, std::string_view json, std::optional<int64_t> version,
           int64_t ttl) {
    const size_t key_begin = text.size();
    text.append(key);
    const size_t key_end = text.size();
    text.append(json);
    items.push_back({key_begin, key_end, text.size(), version, ttl});
  }
};

// Writes one chunk with two pipelined passes. First `SET key json EX ttl NX` for every key: a
// native command that writes only where the key is absent, which after a Redis loss is nearly
// every key. Then, only for the keys that were there, the compare-and-write script (EVALSHA).
// Measured: the script alone cost Redis about 9 us per key, SET about half of that.
class RestoreWriter {
public:
  RestoreWriter(redis::BlockingClient& redis, const config::RecoverConfig& cfg, Tally& tally)
      : redis_(redis), cfg_(cfg), tally_(tally) {
    auto reply = redis_.command({"SCRIPT", "LOAD", kRestoreScript});
    if (reply->type != REDIS_REPLY_STRING) {
      throw redis::Error(fmt::format("SCRIPT LOAD refused: {}",
                                     reply->type == REDIS_REPLY_ERROR ? reply->str : "no sha"));
    }
    sha_.assign(reply->str, reply->len);
  }

  void write(const Chunk& chunk) {
    present_.clear();
    for (size_t i = 0; i < chunk.items.size(); ++i) {
      ttl_text_ = std::to_string(chunk.items[i].ttl);
      const std::string_view args[] = {"SET", chunk.key(i), chunk.json(i), "EX", ttl_text_, "NX"};
      redis_.append(args); // copied into the output buffer: the views may go now
    }
    for (size_t i = 0; i < chunk.items.size(); ++i) {
      auto reply = redis_.reply();
      if (reply->type == REDIS_REPLY_STATUS) {
        ++tally_.restored;
      } else if (reply->type == REDIS_REPLY_NIL) {
        present_.push_back(i);
      } else {
        failed(*reply);
      }
    }
    for (size_t i : present_) {
      const auto& item = chunk.items[i];
      version_text_ = item.version ? std::to_string(*item.version) : std::string();
      ttl_text_ = std::to_string(item.ttl);
      const std::string_view args[] = {"EVALSHA",     sha_,          "1",       chunk.key(i),
                                       chunk.json(i), version_text_, ttl_text_, cfg_.version_field};
      redis_.append(args);
    }
    for (size_t n = 0; n < present_.size(); ++n) {
      auto reply = redis_.reply();
      if (reply->type == REDIS_REPLY_INTEGER) {
        (reply->integer == 1 ? tally_.restored : tally_.newer_in_redis)++;
      } else {
        failed(*reply);
      }
    }
  }

private:
  void failed(const redisReply& reply) {
    ++tally_.errors;
    std::lock_guard lock(tally_.mu);
    if (tally_.first_error.empty()) {
      tally_.first_error = reply.type == REDIS_REPLY_ERROR ? std::string(reply.str, reply.len)
                                                           : "unexpected reply type";
    }
  }

  redis::BlockingClient& redis_;
  const config::RecoverConfig& cfg_;
  Tally& tally_;
  std::string sha_;
  std::string version_text_;
  std::string ttl_text_;
  std::vector<size_t> present_; // keys of this chunk that already existed
};

class BackgroundWriter {
public:
  BackgroundWriter(redis::BlockingClient& redis, const config::RecoverConfig& cfg, Tally& tally)
      : writer_(redis, cfg, tally), chunk_rows_(static_cast<size_t>(cfg.pipeline)) {
    for (auto& c : chunks_) {
      free_.push_back(&c);
    }
    current_ = take(free_);
    thread_ = std::thread([this] { loop(); });
  }
  ~BackgroundWriter() { finish(); }

  // Rethrows the writer's Redis error, if any.
  void add(std::string_view key, std::string_view json, std::optional<int64_t> version,
           int64_t ttl) {
    current_->add(key, json, version, ttl);
    if (current_->items.size() >= chunk_rows_) {
      hand(current_);
      current_ = take(free_);
    }
  }

  // Writes what is left and waits for every reply; rethrows the writer's error.
  void finish() {
    if (!thread_.joinable()) {
      return;
    }
    hand(current_);
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_all();
    thread_.join();
    if (error_) {
      std::rethrow_exception(error_);
    }
  }

private:
  void hand(Chunk* c) {
    {
      std::lock_guard lock(mu_);
      full_.push_back(c);
    }
    cv_.notify_all();
  }
  Chunk* take(std::deque<Chunk*>& from) {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return !from.empty() || error_; });
    if (error_) {
      auto e = error_;
      error_ = nullptr; // reported once, here
      lock.unlock();
      std::rethrow_exception(e);
    }
    Chunk* c = from.front();
    from.pop_front();
    return c;
  }
  void loop() {
    try {
      for (;;) {
        Chunk* c = nullptr;
        {
          std::unique_lock lock(mu_);
          cv_.wait(lock, [&] { return !full_.empty() || done_; });
          if (full_.empty()) {
            break;
          }
          c = full_.front();
          full_.pop_front();
        }
        writer_.write(*c);
        c->clear();
        {
          std::lock_guard lock(mu_);
          free_.push_back(c);
        }
        cv_.notify_all();
      }
    } catch (...) {
      std::lock_guard lock(mu_);
      error_ = std::current_exception();
      cv_.notify_all();
    }
  }

  RestoreWriter writer_;
  size_t chunk_rows_;
  std::array<Chunk, 3> chunks_;
  Chunk* current_ = nullptr;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Chunk*> free_;
  std::deque<Chunk*> full_;
  bool done_ = false;
  std::exception_ptr error_;
  std::thread thread_;
};

// A missing group is created where the daemon would create it: after the newest entry id of
// the stream committed in PostgreSQL, else after its recorded first start, else at
// consumer.start_id; a first start is recorded.
void recreateGroups(redis::BlockingClient& redis, pg::Connection& conn,
                    const config::ConsumerConfig& consumer) {
  for (const auto& stream : consumer.streams) {
    if (redis::findGroup(redis.command({"XINFO", "GROUPS", stream}).get(), consumer.group)) {
      std::cout << fmt::format("recover: consumer group {} on {}: already there\n", consumer.group,
                               stream);
      continue;
    }
    const auto resume = pg::streamPosition(conn, stream, consumer.group).resumeFrom();
    const std::string at = pipeline::groupStartId(resume, consumer.start_id);
    auto reply = redis.command({"XGROUP", "CREATE", stream, consumer.group, at, "MKSTREAM"});
    if (reply->type == REDIS_REPLY_ERROR &&
        !redis::replyText(reply.get()).starts_with("BUSYGROUP")) {
      throw redis::Error(fmt::format("XGROUP CREATE {}: {}", stream, reply->str));
    }
    if (!resume) {
      const auto g =
          redis::findGroup(redis.command({"XINFO", "GROUPS", stream}).get(), consumer.group);
      if (g && g->last_delivered) {
        pg::recordGroupStart(conn, stream, consumer.group, *g->last_delivered);
      }
    }
    std::cout << fmt::format(
        "recover: consumer group {} on {}: created {}\n", consumer.group, stream,
        resume ? fmt::format("after {}, the newest entry PostgreSQL has", resume->toString())
               : fmt::format("at {} (a stream PostgreSQL has never seen)", consumer.start_id));
  }
}

void printSummary(const Tally& t, const RecoverOptions& o, double seconds) {
  using V = pipeline::RecoverVerdict;
  auto skipped = [&](V v) { return t.skipped[static_cast<size_t>(v)].load(); };
  const int64_t total_skipped = skipped(V::Tombstoned) + skipped(V::Terminal) + skipped(V::TooOld) +
                                skipped(V::NoSnapshot) + t.newer_in_redis.load();
  std::cout << fmt::format(
      "recover: {} {}, skipped {} (tombstoned {}, terminal {}, too_old {}, no_snapshot {}, "
      "newer_in_redis {}), errors {}, {:.2f} s ({:.0f} sessions/s)\n",
      o.dry_run ? "would restore" : "restored", t.restored.load(), total_skipped,
      skipped(V::Tombstoned), skipped(V::Terminal), skipped(V::TooOld), skipped(V::NoSnapshot),
      t.newer_in_redis.load(), t.errors.load(), seconds,
      seconds > 0 ? static_cast<double>(t.seen.load()) / seconds : 0);
  core::log::info("recover_finished", {{"restored", t.restored.load()},
                                       {"tombstoned", skipped(V::Tombstoned)},
                                       {"terminal", skipped(V::Terminal)},
                                       {"too_old", skipped(V::TooOld)},
                                       {"no_snapshot", skipped(V::NoSnapshot)},
                                       {"newer_in_redis", t.newer_in_redis.load()},
                                       {"errors", t.errors.load()},
                                       {"dry_run", o.dry_run},
                                       {"seconds", seconds}});
}

} // namespace

int run(const config::Config& cfg, const RecoverOptions& o) {
  if (o.session) {
    pipeline::Uuid ignored;
    if (!pipeline::parseUuid(*o.session, ignored)) {
      std::cerr << fmt::format("auditq: --session: not a UUID: '{}'\n", *o.session);
      return kExitUsage;
    }
  }
  pipeline::RecoverRules rules;
  rules.include_terminal = cfg.recover.include_terminal;
  rules.max_age_seconds = cfg.recover.maxAgeSeconds();
  rules.all = o.all || o.session.has_value(); // one named session: the age limit is moot
  rules.ttl_seconds = cfg.recover.ttl_seconds;
  rules.ttl_from_event = cfg.recover.ttl_from_event;
  const auto source = o.from_events || !cfg.projections.sessions ? pg::SnapshotSource::Events
                                                                 : pg::SnapshotSource::Sessions;
  Tally tally;
  Progress progress(o.dry_run);
  // Each reader restores its share of the sessions on its own connections.
  const int64_t readers = o.session ? 1 : cfg.recover.readers;
  auto share = [&](int64_t index) {
    auto conn = pg::Connection::open(cfg.postgres);
    std::optional<redis::BlockingClient> redis;
    std::optional<BackgroundWriter> writer;
    if (!o.dry_run) {
      redis.emplace(redis::BlockingClient::connect(cfg.redis));
      writer.emplace(*redis, cfg.recover, tally);
    }
    std::string key;
    pg::forEachNewestSnapshot(
        // 1000 rows a FETCH: PostgreSQL collects a FETCH's rows before sending them, and at
        // 5000 (~3 MB of snapshots) they spilled past work_mem to a temporary file.
        *conn, source, o.session, pg::Partition{index, readers}, rules, 1000,
        [&](const pipeline::SnapshotRow& row) {
          ++tally.seen;
          const auto verdict = pipeline::judge(row, rules);
          if (verdict != pipeline::RecoverVerdict::Restore) {
            ++tally.skipped[static_cast<size_t>(verdict)];
          } else if (o.dry_run) {
            ++tally.restored;
          } else {
            pipeline::renderKey(key, cfg.recover.key_template, row.session_id);
            // Compared in Redis with the key's own version field: so the snapshot's, not the
            // column's (they differ for rows written before version_mismatch existed, or
            // when recover.version_field is not "version").
            writer->add(key, *row.snapshot,
                        pipeline::snapshotVersion(*row.snapshot, cfg.recover.version_field),
                        pipeline::ttlFor(row, rules));
          }
        });
    if (writer) {
      writer->finish();
    }
  };
  try {
    std::vector<std::exception_ptr> errors(static_cast<size_t>(readers));
    std::atomic<int64_t> running{readers};
    std::vector<std::thread> threads;
    for (int64_t i = 0; i < readers; ++i) {
      threads.emplace_back([&, i] {
        try {
          share(i);
        } catch (...) {
          errors[static_cast<size_t>(i)] = std::current_exception();
        }
        --running;
      });
    }
    while (running > 0) {
      progress.update(tally);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    for (auto& t : threads) {
      t.join();
    }
    for (const auto& e : errors) {
      if (e) {
        std::rethrow_exception(e);
      }
    }
    auto conn = pg::Connection::open(cfg.postgres);
    progress.update(tally, true);
    printSummary(tally, o, progress.seconds());
    if (o.session && tally.seen == 0) {
      std::cerr << fmt::format("auditq: session {} has no snapshot in PostgreSQL\n", *o.session);
      return kExitFailure;
    }
    for (const auto& stream : cfg.consumer.streams) {
      const auto newest = pg::streamPosition(*conn, stream, cfg.consumer.group).newest_committed;
      std::cout << fmt::format(
          "recover: stream {}: newest entry in PostgreSQL {}; entries added after it were lost "
          "with Redis if auditq had not written them yet\n",
          stream, newest ? newest->toString() : "(none)");
    }
    if (!o.dry_run) {
      auto redis = redis::BlockingClient::connect(cfg.redis);
      recreateGroups(redis, *conn, cfg.consumer);
    }
  } catch (const pg::Error& e) {
    std::cerr << "\nauditq: recover: PostgreSQL: " << e.what() << "\n";
    return kExitFailure;
  } catch (const redis::Error& e) {
    std::cerr << fmt::format("\nauditq: recover: Redis failed after {} keys restored: {}\n"
                             "auditq: rerun `auditq --recover`: it never overwrites newer state, "
                             "so it is safe to run again\n",
                             tally.restored.load(), e.what());
    return kExitFailure;
  }
  if (tally.errors > 0) {
    std::cerr << fmt::format("auditq: recover: {} keys failed; first error: {}\n",
                             tally.errors.load(), tally.first_error);
    return kExitFailure;
  }
  return kExitOk;
}

} // namespace auditq::recover
