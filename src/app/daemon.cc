// The daemon's event loop and writer thread.
#include "app/daemon.h"

#include <unistd.h>

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>

#include "app/cli.h"
#include "app/writer_pool.h"
#include "core/build_info.h"
#include "core/entry_id.h"
#include "core/latency_histogram.h"
#include "core/log.h"
#include "pipeline/backoff.h"
#include "pipeline/batch.h"
#include "pipeline/intake.h"
#include "redis/stream_reader.h"

namespace auditq::app {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

std::string defaultConsumerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0 || host[0] == '\0') {
    std::strcpy(host, "auditq");
  }
  return std::string(host) + "-" + std::to_string(getpid());
}

struct Counters {
  std::atomic<uint64_t> read{0};
  std::atomic<uint64_t> committed{0};
  std::atomic<uint64_t> dead_lettered{0};
  std::atomic<uint64_t> duplicates{0};
  std::atomic<uint64_t> batches{0};
  std::atomic<uint64_t> consumers_deleted{0};
};

class Daemon {
public:
  Daemon(const config::Config& cfg, std::optional<std::string> config_path)
      : cfg_(cfg), config_path_(std::move(config_path)),
        consumer_name_(cfg.consumer.name.empty() ? defaultConsumerName() : cfg.consumer.name),
        signals_(io_, SIGINT, SIGTERM, SIGHUP), reconnect_timer_(io_), shutdown_timer_(io_),
        stats_timer_(io_), linger_timer_(io_), claim_timer_(io_),
        reader_(io_, cfg.redis, cfg.consumer, consumer_name_),
        intake_(cfg.decode, cfg.projections, cfg.dead_letter), limits_(cfg.batch),
        redis_backoff_(cfg.retry.initial_ms, cfg.retry.max_ms, pipeline::Backoff::randomSeed()) {
    const size_t pool = static_cast<size_t>(cfg.batch.max_in_flight) + 1;
    for (size_t i = 0; i < pool; ++i) {
      batches_.push_back(std::make_unique<pipeline::Batch>(cfg.batch, cfg.projections));
      free_.push_back(batches_.back().get());
    }
  }

  int run() {
    core::log::info("auditq_starting", {{"version", core::kVersion},
                                        {"consumer", consumer_name_},
                                        {"group", cfg_.consumer.group},
                                        {"streams", cfg_.consumer.streams.size()}});
    writer_.emplace(
        cfg_, io_, [this](pipeline::Batch* b, const WriteReport& r) { onCommitted(b, r); },
        [this](pipeline::Batch* b) { onAbandoned(b); }, [this] { giveUp(); });
    waitForSignal();
    scheduleStats();
    scheduleClaim();
    connectRedis();
    io_.run();
    if (exit_code_ != kExitOk) {
      // The shutdown timed out: a writer may be stuck in a PostgreSQL call that would block
      // the join. Leave now; what was not committed stays pending in Redis.
      logStats("auditq_stopped");
      std::_Exit(exit_code_);
    }
    logStats("auditq_stopped");
    writer_.reset();
    return exit_code_;
  }

private:
  void waitForSignal() {
    signals_.async_wait([this](const boost::system::error_code& ec, int sig) {
      if (ec) {
        return;
      }
      if (sig == SIGHUP) {
        reload();
      } else {
        onStopSignal(sig);
      }
      waitForSignal();
    });
  }

  // SIGHUP: what can change without a restart is applied (log level, batch sizes and linger,
  // for batches started from now on); the rest is reported as needing a restart. An invalid
  // file is refused as a whole and the running configuration kept.
  void reload() {
    try {
      auto fresh = config::loadConfig(config_path_, config::processEnvironment());
      core::log::setLevel(fresh.log.level);
      limits_.max_entries = fresh.batch.max_entries;
      limits_.max_bytes = fresh.batch.max_bytes;
      limits_.linger_ms = fresh.batch.linger_ms;
      std::string restart;
      for (const auto& v : fresh.effective) {
        if (!isReloadable(v.key) && valueOf(cfg_, v.key) != v.value) {
          restart += restart.empty() ? v.key : "," + v.key;
        }
      }
      core::log::info("config_reloaded", {{"log_level", fresh.log.level},
                                          {"batch_max_entries", limits_.max_entries},
                                          {"batch_max_bytes", limits_.max_bytes},
                                          {"batch_linger_ms", limits_.linger_ms},
                                          {"changed_need_restart", restart}});
    } catch (const config::ConfigError& e) {
      core::log::error("config_reload_refused", {{"error", e.what()}, {"action", "kept old"}});
    }
  }

  static bool isReloadable(std::string_view key) {
    return key == "log.level" || key == "batch.max_entries" || key == "batch.max_bytes" ||
           key == "batch.linger_ms";
  }

  static std::string valueOf(const config::Config& c, std::string_view key) {
    for (const auto& v : c.effective) {
      if (v.key == key) {
        return v.value;
      }
    }
    return {};
  }

  void onStopSignal(int sig) {
    if (stopping_) {
      // Second signal: leave now. Uncommitted entries stay pending in Redis and come back.
      core::log::warn("shutdown_forced", {{"signal", sig}});
      std::_Exit(kExitFailure);
    }
    stopping_ = true;
    core::log::info("shutdown_requested", {{"signal", sig}, {"in_flight_batches", in_flight_}});
    shutdown_timer_.expires_after(milliseconds(cfg_.shutdown.timeout_ms));
    shutdown_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      core::log::warn("shutdown_timeout", {{"in_flight_batches", in_flight_},
                                           {"action", "uncommitted entries stay pending"}});
      exit_code_ = kExitFailure;
      writer_->abandon();
      finish();
    });
    // An outstanding blocking read would hold shutdown up to consumer.block_ms; close it.
    // Entries Redis already delivered to it stay in our pending list for the next start.
    if (reading_) {
      reader_.cancelRead();
    }
    linger_timer_.cancel();
    lingering_ = false;
    readMore();
  }

  void connectRedis() {
    reader_.start([this](std::string_view error) {
      if (!error.empty()) {
        onRedisError(error);
        return;
      }
      if (redis_failing_) {
        core::log::info("redis_recovered", {{"attempts", redis_backoff_.attempts()}});
      } else {
        core::log::info("redis_connected", {{"redis", endpointDisplay()}});
      }
      redis_failing_ = false;
      redis_backoff_.reset();
      readMore();
    });
  }

  std::string endpointDisplay() const { return redis::endpointFrom(cfg_.redis).display; }

  void onRedisError(std::string_view error) {
    if (stopping_) {
      readMore(); // finishes the shutdown with what we have; acks still go out
      return;
    }
    if (redis_failing_ && cfg_.retry.max_elapsed_ms > 0 &&
        Clock::now() - redis_failing_since_ >= milliseconds(cfg_.retry.max_elapsed_ms)) {
      core::log::error("redis_retry_exhausted",
                       {{"max_elapsed_ms", cfg_.retry.max_elapsed_ms},
                        {"action", "exiting; uncommitted entries stay pending in Redis"}});
      giveUp();
      return;
    }
    if (!redis_failing_) {
      redis_failing_since_ = Clock::now();
      core::log::warn("redis_unavailable",
                      {{"redis", endpointDisplay()},
                       {"error", error},
                       {"action", "reconnecting with backoff; entries stay pending"}});
      redis_failing_ = true;
    }
    reader_.stop();
    // What we hold is valid: commit it now; its XACK will be retried by redelivery.
    if (current_ != nullptr && !current_->empty()) {
      submit();
    }
    reconnect_timer_.expires_after(milliseconds(redis_backoff_.nextMs()));
    reconnect_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && !stopping_) {
        connectRedis();
      }
    });
  }

  void readMore() {
    if (reading_ || lingering_) {
      return;
    }
    if (stopping_) {
      if (current_ != nullptr && !current_->empty()) {
        submit();
      }
      maybeFinish();
      return;
    }
    if (!reader_.connected()) {
      return; // connectRedis() resumes reading
    }
    if (current_ == nullptr) {
      if (free_.empty()) {
        return; // back-pressure: release() resumes reading when PostgreSQL catches up
      }
      current_ = free_.back();
      free_.pop_back();
      current_->setLimits(limits_.max_entries, limits_.max_bytes);
    }
    milliseconds block(cfg_.consumer.block_ms);
    if (!current_->empty()) {
      if (shouldSubmit()) {
        submit();
        readMore();
        return;
      }
      const auto deadline = first_entry_at_ + milliseconds(limits_.linger_ms);
      if (Clock::now() < deadline) {
        // Linger on a local timer, then collect what arrived with one non-blocking read.
        // (Redis serves short BLOCK timeouts only at its event-loop tick, up to 100 ms late.)
        lingering_ = true;
        linger_timer_.expires_at(deadline);
        linger_timer_.async_wait([this](const boost::system::error_code& ec) {
          lingering_ = false;
          if (!ec && !stopping_ && reader_.connected() && current_ != nullptr) {
            read(milliseconds(0));
          }
        });
        return;
      }
      if (waiting_for_writer_) {
        return; // every writer is busy and nothing more is queued in Redis: onCommitted resumes
      }
      block = milliseconds(0); // top the batch up with what is already there
    }
    read(block);
  }

  void read(milliseconds block) {
    const size_t streams = cfg_.consumer.streams.size();
    const size_t room = static_cast<size_t>(limits_.max_entries) - current_->entries();
    const size_t count = (std::max<size_t>(room, 1) + streams - 1) / streams;
    reading_ = true;
    reader_.read(
        count, block, [this](const redis::EntryView& e) { onEntry(e); },
        [this, block](size_t visited, std::string_view error) {
          reading_ = false;
          if (!error.empty()) {
            onRedisError(error);
            return;
          }
          if (block.count() == 0 && visited == 0 && !shouldSubmit()) {
            waiting_for_writer_ = true;
          }
          readMore();
        });
  }

  void onEntry(const redis::EntryView& e) {
    if (current_->empty()) {
      first_entry_at_ = Clock::now();
    }
    counters_.read++;
    intake_.add(*current_, e);
  }

  // A full batch always goes. A lingering one goes once its linger is over and a writer is
  // idle; while all writers are busy it keeps growing, so batches stay small (low latency) when
  // PostgreSQL keeps up and grow (fewer commits) when it does not: group commit.
  bool shouldSubmit() const {
    if (current_ == nullptr || current_->empty()) {
      return false;
    }
    if (current_->full()) {
      return true;
    }
    return at_writers_ < static_cast<size_t>(cfg_.postgres.writers) &&
           Clock::now() >= first_entry_at_ + milliseconds(limits_.linger_ms);
  }

  void submit() {
    current_->seal();
    writer_->submit(current_);
    current_ = nullptr;
    ++in_flight_;
    ++at_writers_;
  }

  void onCommitted(pipeline::Batch* batch, const WriteReport& report) {
    --at_writers_;
    waiting_for_writer_ = false;
    readMore();
    counters_.committed += batch->events() - batch->rejected();
    counters_.dead_lettered += batch->deadLetters() + batch->rejected();
    counters_.duplicates += report.duplicates;
    counters_.batches++;
    // End-to-end latency per entry: from XADD (the entry id's time) to COMMIT returning.
    for (const auto& ids : batch->acks()) {
      for (size_t i = 0; i < ids.size(); ++i) {
        if (auto id = core::EntryId::parse(ids.id(i))) {
          latency_.record(report.committed_at_us - static_cast<int64_t>(id->ms) * 1000);
        }
      }
    }
    if (batch->deadLetters() > 0) {
      // One line per batch with bad entries, never one per entry.
      const auto& first = batch->firstDeadLetter();
      core::log::warn("entries_dead_lettered", {{"count", batch->deadLetters()},
                                                {"first_reason", core::reasonName(first.reason)},
                                                {"first_stream", first.stream},
                                                {"first_id", first.entry_id}});
    }
    if (cfg_.dead_letter.stream_copy && batch->deadLetters() + batch->rejected() > 0) {
      // The copy goes before the XACK: if auditq dies in between, the redelivered entries are
      // dead-lettered again (the table keeps one row) and copied again (at least once).
      reader_.copyDeadLetters(*batch, cfg_.dead_letter, [this, batch](std::string_view error) {
        if (!error.empty()) {
          core::log::warn("dead_letter_copy_failed",
                          {{"error", error},
                           {"effect", "the dead letters are in PostgreSQL; "
                                      "their stream copy is missing"}});
        }
        acknowledge(batch);
      });
      return;
    }
    acknowledge(batch);
  }

  void acknowledge(pipeline::Batch* batch) {
    reader_.ack(batch->acks(), [this, batch](std::string_view error) {
      if (!error.empty()) {
        core::log::warn("ack_failed", {{"error", error},
                                       {"effect", "committed entries will be redelivered and "
                                                  "skipped as duplicates"}});
      }
      release(batch);
    });
  }

  // retry.max_elapsed_ms ran out: leave with the uncommitted entries pending in Redis; the
  // service manager restarts us.
  void giveUp() {
    if (finished_) {
      return;
    }
    exit_code_ = kExitFailure;
    writer_->abandon();
    finish();
  }

  // Every consumer.claim_interval_ms: take over what dead consumers left pending, and remove
  // consumers long idle with nothing pending.
  void scheduleClaim() {
    claim_timer_.expires_after(milliseconds(cfg_.consumer.claim_interval_ms));
    claim_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) {
        return;
      }
      if (reader_.connected()) {
        reader_.requestClaim();
        if (cfg_.consumer.delete_idle_ms > 0) {
          reader_.deleteIdleConsumers([this](int64_t deleted, std::string_view error) {
            if (deleted > 0) {
              counters_.consumers_deleted += static_cast<uint64_t>(deleted);
              core::log::info(
                  "idle_consumers_deleted",
                  {{"count", deleted}, {"idle_ms_at_least", cfg_.consumer.delete_idle_ms}});
            }
            if (!error.empty()) {
              core::log::warn("idle_consumer_check_failed", {{"error", error}});
            }
          });
        }
      }
      scheduleClaim();
    });
  }

  void onAbandoned(pipeline::Batch* batch) {
    --at_writers_;
    release(batch);
  }

  void release(pipeline::Batch* batch) {
    batch->clear();
    free_.push_back(batch);
    --in_flight_;
    readMore();
  }

  void maybeFinish() {
    if (stopping_ && !finished_ && !reading_ && in_flight_ == 0 &&
        (current_ == nullptr || current_->empty())) {
      core::log::info("shutdown_complete", {{"committed", counters_.committed.load()}});
      finish();
    }
  }

  void finish() {
    if (finished_) {
      return;
    }
    finished_ = true;
    shutdown_timer_.cancel();
    stats_timer_.cancel();
    linger_timer_.cancel();
    reconnect_timer_.cancel();
    claim_timer_.cancel();
    signals_.cancel();
    reader_.stop();
    io_.stop();
  }

  void scheduleStats() {
    stats_timer_.expires_after(std::chrono::seconds(30));
    stats_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        logStats("stats");
        scheduleStats();
      }
    });
  }

  void logStats(std::string_view event) {
    core::log::info(event, {{"read", counters_.read.load()},
                            {"committed", counters_.committed.load()},
                            {"dead_lettered", counters_.dead_lettered.load()},
                            {"duplicates_skipped", counters_.duplicates.load()},
                            {"batches", counters_.batches.load()},
                            {"write_failures", writer_->counters().write_failures.load()},
                            {"isolations", writer_->counters().isolations.load()},
                            {"breaker_opened", writer_->counters().breaker_opened.load()},
                            {"breaker", pipeline::breakerStateName(writer_->breakerState())},
                            {"pg_connections", writer_->counters().connections.load()},
                            {"claimed", reader_.claimed()},
                            {"claimed_deleted", reader_.claimedDeleted()},
                            {"consumers_deleted", counters_.consumers_deleted.load()},
                            {"groups_recreated", reader_.groupsRecreated()},
                            {"commit_latency_p50_ms", latency_.quantileMicros(0.5) / 1000.0},
                            {"commit_latency_p99_ms", latency_.quantileMicros(0.99) / 1000.0},
                            {"commit_latency_max_ms", latency_.maxMicros() / 1000.0}});
  }

  const config::Config& cfg_;
  std::optional<std::string> config_path_;
  std::string consumer_name_;
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer reconnect_timer_;
  boost::asio::steady_timer shutdown_timer_;
  boost::asio::steady_timer stats_timer_;
  boost::asio::steady_timer linger_timer_;
  boost::asio::steady_timer claim_timer_;
  redis::StreamReader reader_;
  pipeline::Intake intake_;
  config::BatchConfig limits_; // the batch limits in force (SIGHUP may change them)
  pipeline::Backoff redis_backoff_;
  Counters counters_;
  core::LatencyHistogram latency_;
  std::vector<std::unique_ptr<pipeline::Batch>> batches_;
  std::vector<pipeline::Batch*> free_;
  pipeline::Batch* current_ = nullptr;
  Clock::time_point first_entry_at_;
  Clock::time_point redis_failing_since_;
  size_t in_flight_ = 0;  // submitted and not yet acknowledged
  size_t at_writers_ = 0; // submitted and not yet committed (queued or being written)
  bool reading_ = false;
  bool lingering_ = false;          // a batch waits out its linger on linger_timer_
  bool waiting_for_writer_ = false; // a ready batch waits for a free writer
  bool stopping_ = false;
  bool redis_failing_ = false;
  bool finished_ = false;
  int exit_code_ = kExitOk;
  std::optional<WriterPool> writer_; // last: destroyed (joined) first
};

} // namespace

int runDaemon(const config::Config& cfg, const std::optional<std::string>& config_path) {
  Daemon daemon(cfg, config_path);
  return daemon.run();
}

} // namespace auditq::app
