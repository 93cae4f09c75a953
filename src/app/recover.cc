// `auditq --recover` / `auditq recover`: rebuild the session keys in Redis from the newest
// snapshots in PostgreSQL, never overwriting a newer state, then recreate the consumer groups.
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <map>

#include <fmt/format.h>

#include "app/cli.h"
#include "app/commands.h"
#include "core/log.h"
#include "pg/recover_source.h"
#include "pipeline/recover_plan.h"
#include "pipeline/uuid.h"
#include "redis/blocking_client.h"

namespace auditq::app {
namespace {

using Clock = std::chrono::steady_clock;

// KEYS[1] the key; ARGV: the snapshot JSON, its version ("" when unknown), the TTL in seconds,
// the version field. Writes only when the key is absent, or holds a JSON object whose version is
// older. A key we cannot compare (no version, not JSON) is the application's newer state: kept.
constexpr std::string_view kRestoreScript = R"(
local current = redis.call('GET', KEYS[1])
if current then
  if ARGV[2] == '' then return 0 end
  local ok, state = pcall(cjson.decode, current)
  if not ok or type(state) ~= 'table' then return 0 end
  local version = tonumber(state[ARGV[4]])
  if version == nil or version >= tonumber(ARGV[2]) then return 0 end
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
return 1)";

struct Tally {
  std::map<pipeline::RecoverVerdict, int64_t> skipped;
  int64_t restored = 0;
  int64_t newer_in_redis = 0;
  int64_t errors = 0;
  int64_t seen = 0;
  std::string first_error;
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
    const double rate = secs > 0 ? static_cast<double>(t.seen) / secs : 0;
    if (tty_) {
      std::cerr << fmt::format("\rrecover: {} sessions read, {} {}, {:.0f}/s   ", t.seen,
                               t.restored, dry_run_ ? "to restore" : "restored", rate)
                << (final ? "\n" : "") << std::flush;
    } else if (!final) {
      core::log::info("recover_progress",
                      {{"sessions_read", t.seen}, {"restored", t.restored}, {"per_second", rate}});
    }
  }
  double seconds() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }

private:
  Clock::time_point start_ = Clock::now();
  Clock::time_point next_ = start_;
  bool tty_;
  bool dry_run_;
};

// Pipelined EVALSHA calls with at most `window` replies outstanding.
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

  void write(std::string_view key, std::string_view json, const std::optional<int64_t>& version,
             int64_t ttl) {
    version_text_ = version ? std::to_string(*version) : std::string();
    ttl_text_ = std::to_string(ttl);
    const std::string_view args[] = {"EVALSHA", sha_,          "1",       key, json, version_text_,
                                     ttl_text_, cfg_.version_field};
    redis_.append(args); // copied into the output buffer: the views may go now
    if (++in_flight_ >= static_cast<size_t>(cfg_.pipeline)) {
      drain();
    }
  }

  void drain() {
    for (; in_flight_ > 0; --in_flight_) {
      auto reply = redis_.reply();
      if (reply->type == REDIS_REPLY_INTEGER) {
        (reply->integer == 1 ? tally_.restored : tally_.newer_in_redis)++;
      } else {
        ++tally_.errors;
        if (tally_.first_error.empty()) {
          tally_.first_error = reply->type == REDIS_REPLY_ERROR
                                   ? std::string(reply->str, reply->len)
                                   : "unexpected reply type";
        }
      }
    }
  }

private:
  redis::BlockingClient& redis_;
  const config::RecoverConfig& cfg_;
  Tally& tally_;
  std::string sha_;
  std::string version_text_;
  std::string ttl_text_;
  size_t in_flight_ = 0;
};

void recreateGroups(redis::BlockingClient& redis, const config::ConsumerConfig& consumer) {
  for (const auto& stream : consumer.streams) {
    auto reply = redis.command(
        {"XGROUP", "CREATE", stream, consumer.group, consumer.start_id, "MKSTREAM"});
    const bool exists = reply->type == REDIS_REPLY_ERROR &&
                        std::string_view(reply->str, reply->len).starts_with("BUSYGROUP");
    if (reply->type == REDIS_REPLY_ERROR && !exists) {
      throw redis::Error(fmt::format("XGROUP CREATE {}: {}", stream, reply->str));
    }
    std::cout << fmt::format("recover: consumer group {} on {}: {}\n", consumer.group, stream,
                             exists ? "already there"
                                    : fmt::format("created at {}", consumer.start_id));
  }
}

void printSummary(const Tally& t, const RecoverOptions& o, double seconds) {
  using V = pipeline::RecoverVerdict;
  auto skipped = [&](V v) {
    auto it = t.skipped.find(v);
    return it == t.skipped.end() ? int64_t{0} : it->second;
  };
  const int64_t total_skipped = skipped(V::Tombstoned) + skipped(V::Terminal) +
                                skipped(V::TooOld) + skipped(V::NoSnapshot) + t.newer_in_redis;
  std::cout << fmt::format(
      "recover: {} {}, skipped {} (tombstoned {}, terminal {}, too_old {}, no_snapshot {}, "
      "newer_in_redis {}), errors {}, {:.2f} s ({:.0f} sessions/s)\n",
      o.dry_run ? "would restore" : "restored", t.restored, total_skipped,
      skipped(V::Tombstoned), skipped(V::Terminal), skipped(V::TooOld), skipped(V::NoSnapshot),
      t.newer_in_redis, t.errors, seconds, seconds > 0 ? static_cast<double>(t.seen) / seconds : 0);
  core::log::info("recover_finished", {{"restored", t.restored},
                                       {"tombstoned", skipped(V::Tombstoned)},
                                       {"terminal", skipped(V::Terminal)},
                                       {"too_old", skipped(V::TooOld)},
                                       {"no_snapshot", skipped(V::NoSnapshot)},
                                       {"newer_in_redis", t.newer_in_redis},
                                       {"errors", t.errors},
                                       {"dry_run", o.dry_run},
                                       {"seconds", seconds}});
}

} // namespace

int recover(const config::Config& cfg, const RecoverOptions& o) {
  if (o.session) {
    pipeline::Uuid ignored;
    if (!pipeline::parseUuid(*o.session, ignored)) {
      std::cerr << fmt::format("auditq: --session: not a UUID: '{}'\n", *o.session);
      return kExitUsage;
    }
  }
  pipeline::RecoverRules rules;
  rules.include_terminal = cfg.recover.include_terminal;
  rules.max_age_seconds =
      cfg.recover.max_age_seconds > 0 ? cfg.recover.max_age_seconds : cfg.recover.ttl_seconds;
  rules.all = o.all || o.session.has_value(); // one named session: the age limit is moot
  rules.ttl_seconds = cfg.recover.ttl_seconds;
  rules.ttl_from_event = cfg.recover.ttl_from_event;
  const auto source = o.from_events || !cfg.projections.sessions ? pg::SnapshotSource::Events
                                                                 : pg::SnapshotSource::Sessions;
  Tally tally;
  Progress progress(o.dry_run);
  try {
    auto conn = pg::Connection::open(cfg.postgres);
    std::optional<redis::BlockingClient> redis;
    std::optional<RestoreWriter> writer;
    if (!o.dry_run) {
      redis.emplace(redis::BlockingClient::connect(cfg.redis));
      writer.emplace(*redis, cfg.recover, tally);
    }
    std::string key;
    pg::forEachNewestSnapshot(
        *conn, source, o.session, 5000, [&](const pipeline::SnapshotRow& row) {
          ++tally.seen;
          const auto verdict = pipeline::judge(row, rules);
          if (verdict != pipeline::RecoverVerdict::Restore) {
            ++tally.skipped[verdict];
          } else if (o.dry_run) {
            ++tally.restored;
          } else {
            pipeline::renderKey(key, cfg.recover.key_template, row.session_id);
            writer->write(key, *row.snapshot, row.version, pipeline::ttlFor(row, rules));
          }
          progress.update(tally);
        });
    if (writer) {
      writer->drain();
    }
    progress.update(tally, true);
    printSummary(tally, o, progress.seconds());
    if (o.session && tally.seen == 0) {
      std::cerr << fmt::format("auditq: session {} has no snapshot in PostgreSQL\n", *o.session);
      return kExitFailure;
    }
    for (const auto& [stream, id] : pg::newestEntryIds(*conn, cfg.consumer.streams)) {
      std::cout << fmt::format(
          "recover: stream {}: newest entry in PostgreSQL {}; entries added after it were lost "
          "with Redis if auditq had not written them yet\n",
          stream, id.empty() ? "(none)" : id);
    }
    if (redis) {
      recreateGroups(*redis, cfg.consumer);
    }
  } catch (const pg::Error& e) {
    std::cerr << "\nauditq: recover: PostgreSQL: " << e.what() << "\n";
    return kExitFailure;
  } catch (const redis::Error& e) {
    std::cerr << fmt::format("\nauditq: recover: Redis failed after {} keys restored: {}\n"
                             "auditq: rerun `auditq --recover`: it never overwrites newer state, "
                             "so it is safe to run again\n",
                             tally.restored, e.what());
    return kExitFailure;
  }
  if (tally.errors > 0) {
    std::cerr << fmt::format("auditq: recover: {} keys failed; first error: {}\n", tally.errors,
                             tally.first_error);
    return kExitFailure;
  }
  return kExitOk;
}

} // namespace auditq::app
