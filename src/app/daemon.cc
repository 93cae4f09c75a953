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
#include "app/metrics.h"
#include "app/systemd_notify.h"
#include "app/writer_pool.h"
#include "core/build_info.h"
#include "core/clock.h"
#include "core/entry_id.h"
#include "core/json_text.h"
#include "core/log.h"
#include "http/server.h"
#include "pipeline/backoff.h"
#include "pipeline/batch.h"
#include "pipeline/failure.h"
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

class Daemon {
public:
  Daemon(const config::Config& cfg, std::optional<std::string> config_path)
      : cfg_(cfg), config_path_(std::move(config_path)),
        consumer_name_(cfg.consumer.name.empty() ? defaultConsumerName() : cfg.consumer.name),
        signals_(io_, SIGINT, SIGTERM, SIGHUP), reconnect_timer_(io_), shutdown_timer_(io_),
        stats_timer_(io_), linger_timer_(io_), claim_timer_(io_), health_timer_(io_),
        sample_timer_(io_), reader_(io_, cfg.redis, cfg.consumer, consumer_name_),
        intake_(cfg.decode, cfg.projections, cfg.dead_letter), limits_(cfg.batch),
        redis_backoff_(cfg.retry.initial_ms, cfg.retry.max_ms, pipeline::Backoff::randomSeed()),
        metrics_(cfg.consumer.streams) {
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
    if (!listenHttp()) {
      return kExitFailure;
    }
    writer_.emplace(
        cfg_, io_, [this](pipeline::Batch* b, const WriteReport& r) { onCommitted(b, r); },
        [this](pipeline::Batch* b) { onAbandoned(b); }, [this] { giveUp(); });
    waitForSignal();
    scheduleStats();
    scheduleClaim();
    scheduleHealth();
    scheduleSample();
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
  // The HTTP listener (http.listen): /healthz, /readyz, /metrics. A port that cannot be bound
  // is a startup failure: better a clear exit than a daemon nobody can monitor.
  bool listenHttp() {
    const auto at = config::parseListenAddress(cfg_.http.listen);
    if (!at) {
      return true; // disabled (the value was validated at load)
    }
    http_.emplace(io_, [this](std::string_view path, http::Response& out) { serve(path, out); });
    try {
      http_->listen(at->host, at->port);
    } catch (const boost::system::system_error& e) {
      core::log::error(
          "http_listen_failed",
          {{"listen", cfg_.http.listen}, {"error", e.code().message()}, {"key", "http.listen"}});
      return false;
    }
    core::log::info("http_listening", {{"host", at->host}, {"port", http_->port()}});
    return true;
  }

  void serve(std::string_view path, http::Response& out) {
    if (path == "/healthz") {
      out.body = "ok\n"; // the event loop answered: the process is alive and not stuck
    } else if (path == "/readyz") {
      const auto reasons = notReadyReasons();
      out.status = reasons.empty() ? 200 : 503;
      out.content_type = "application/json";
      out.body = readiness(reasons);
    } else if (path == "/metrics") {
      ServiceState s = serviceState();
      renderMetrics(metrics_, s, prom_);
      out.content_type = "text/plain; version=0.0.4; charset=utf-8";
      out.body = prom_.text();
    } else {
      out.status = 404;
      out.body = "not found: try /healthz, /readyz or /metrics\n";
    }
  }

  // Why auditq is not ready (empty: ready). Never a URL, user or password.
  std::vector<std::string_view> notReadyReasons() const {
    std::vector<std::string_view> reasons;
    if (stopping_) {
      reasons.push_back("shutting_down");
    }
    if (!reader_.connected()) {
      reasons.push_back("redis_unreachable");
    }
    const auto health = writer_->health();
    if (health == PostgresHealth::Unknown) {
      reasons.push_back("postgres_connecting");
    } else if (health == PostgresHealth::Failing) {
      reasons.push_back("postgres_failing");
    }
    if (writer_->breakerState() != pipeline::CircuitBreaker::State::Closed) {
      reasons.push_back("breaker_not_closed");
    }
    return reasons;
  }

  bool isReady() const { return notReadyReasons().empty(); }

  // The JSON body of /readyz: each dependency's state and the reasons it is not ready.
  std::string readiness(std::span<const std::string_view> reasons) const {
    const auto health = writer_->health();
    std::string body = fmt::format(R"({{"ready":{},"redis":"{}","postgres":"{}",)", reasons.empty(),
                                   reader_.connected() ? "connected" : "unreachable",
                                   health == PostgresHealth::Reachable ? "reachable"
                                   : health == PostgresHealth::Failing ? "failing"
                                                                       : "connecting");
    if (health == PostgresHealth::Failing) {
      body.append(R"("postgres_failure":)");
      core::appendJsonString(body, writer_->lastFailureClass());
      body.push_back(',');
    }
    body.append(R"("breaker":)");
    core::appendJsonString(body, pipeline::breakerStateName(writer_->breakerState()));
    body.append(R"(,"reasons":[)");
    for (size_t i = 0; i < reasons.size(); ++i) {
      if (i > 0) {
        body.push_back(',');
      }
      core::appendJsonString(body, reasons[i]);
    }
    body.append("]}\n");
    return body;
  }

  ServiceState serviceState() const {
    const auto& w = writer_->counters();
    ServiceState s;
    s.ready = isReady();
    s.redis_connected = reader_.connected();
    s.postgres_reachable = writer_->health() == PostgresHealth::Reachable;
    s.breaker = pipeline::breakerStateName(writer_->breakerState());
    s.write_retries = w.write_failures.load();
    s.isolations = w.isolations.load();
    s.breaker_opened = w.breaker_opened.load();
    s.postgres_connections = w.connections.load();
    s.postgres_reconnects = w.reconnects.load();
    s.reclaimed = reader_.claimed();
    s.reclaimed_deleted = reader_.claimedDeleted();
    s.groups_recreated = reader_.groupsRecreated();
    s.batches_in_flight = in_flight_;
    s.now_ms = core::epochMicros() / 1000;
    return s;
  }

  // Every second (or half the watchdog timeout, if shorter): feeds systemd's watchdog from the
  // event loop itself, so a stuck loop stops feeding it and gets restarted; and says READY=1
  // once both servers answered for the first time.
  void scheduleHealth() {
    auto interval = std::chrono::duration_cast<milliseconds>(std::chrono::seconds(1));
    if (const auto timeout = notify_.watchdogTimeout()) {
      interval = std::min(interval, std::chrono::duration_cast<milliseconds>(*timeout / 2));
    }
    health_timer_.expires_after(interval);
    health_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec) {
        return;
      }
      if (notify_.watchdogTimeout()) {
        notify_.watchdog();
      }
      if (!announced_ready_ && !stopping_ && reader_.connected() &&
          writer_->health() == PostgresHealth::Reachable) {
        announced_ready_ = true;
        notify_.ready(fmt::format("consuming {} stream(s) as {}", cfg_.consumer.streams.size(),
                                  consumer_name_));
        core::log::info("auditq_ready", {{"consumer", consumer_name_}});
      }
      scheduleHealth();
    });
  }

  // Consumer-group pending and lag for /metrics, every http.sample_interval_ms.
  void scheduleSample() {
    if (!http_) {
      return;
    }
    sample_timer_.expires_after(milliseconds(cfg_.http.sample_interval_ms));
    sample_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (ec || stopping_) {
        return;
      }
      if (reader_.connected()) {
        reader_.sampleGroups(
            [this](std::span<const redis::GroupSample> samples, std::string_view error) {
              for (size_t i = 0; i < samples.size(); ++i) {
                // A failed sample shows as unknown rather than as a stale figure.
                metrics_.streams[i].group_pending = error.empty() ? samples[i].pending : -1;
                metrics_.streams[i].group_lag = error.empty() ? samples[i].lag : -1;
              }
            });
      }
      scheduleSample();
    });
  }

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
    notify_.stopping();
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
    // An outstanding read is not cancelled: Redis may already have delivered its entries
    // (a blocking read returns at once on a backlog), and they would stay pending. It answers
    // within consumer.block_ms; what it brings is committed with the rest.
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
      if (redis_connected_once_) {
        metrics_.redis_reconnects++;
      }
      redis_connected_once_ = true;
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
      // An ACL user lacking a command or a wrong password will not pass by itself: say so at
      // error level (still retried: the operator may fix it while auditq waits).
      std::string_view code;
      const auto failure = pipeline::classifyRedisError(error, code);
      core::log::write(failure == pipeline::FailureClass::NeedsOperator ? spdlog::level::err
                                                                        : spdlog::level::warn,
                       "redis_unavailable",
                       {{"redis", endpointDisplay()},
                        {"class", pipeline::failureClassName(failure)},
                        {"code", code},
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
    metrics_.of(e.stream).read++;
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
    countCommitted(*batch, report);
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

  void countCommitted(const pipeline::Batch& batch, const WriteReport& report) {
    metrics_.batches++;
    metrics_.duplicates += report.duplicates;
    metrics_.batch_entries.record(static_cast<double>(batch.entries()));
    metrics_.commit_seconds.record(static_cast<double>(report.write_us) / 1e6);
    if (batch.deadLetters() + batch.rejected() > 0) {
      for (size_t i = 0; i < batch.raw().size(); ++i) {
        if (const auto reason = batch.deadLetterReason(i)) {
          auto& st = metrics_.of(batch.raw().get(i, scratch_fields_).stream);
          st.dead_lettered[static_cast<size_t>(*reason)]++;
        }
      }
    }
    // End-to-end latency per entry: from XADD (the entry id's time) to COMMIT returning.
    for (const auto& ids : batch.acks()) {
      auto& st = metrics_.of(ids.stream());
      st.acknowledged += ids.size();
      for (size_t i = 0; i < ids.size(); ++i) {
        if (auto id = core::EntryId::parse(ids.id(i))) {
          metrics_.end_to_end.record(report.committed_at_us - static_cast<int64_t>(id->ms) * 1000);
          st.last_committed_ms = std::max<uint64_t>(st.last_committed_ms, id->ms);
        }
      }
    }
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
              metrics_.consumers_deleted += static_cast<uint64_t>(deleted);
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
      core::log::info("shutdown_complete", {{"committed", metrics_.committed()}});
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
    health_timer_.cancel();
    sample_timer_.cancel();
    if (http_) {
      http_->stop();
    }
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
    core::log::info(event,
                    {{"read", metrics_.read()},
                     {"committed", metrics_.committed()},
                     {"dead_lettered", metrics_.deadLettered()},
                     {"duplicates_skipped", metrics_.duplicates},
                     {"batches", metrics_.batches},
                     {"write_failures", writer_->counters().write_failures.load()},
                     {"isolations", writer_->counters().isolations.load()},
                     {"breaker_opened", writer_->counters().breaker_opened.load()},
                     {"breaker", pipeline::breakerStateName(writer_->breakerState())},
                     {"pg_connections", writer_->counters().connections.load()},
                     {"claimed", reader_.claimed()},
                     {"claimed_deleted", reader_.claimedDeleted()},
                     {"consumers_deleted", metrics_.consumers_deleted},
                     {"groups_recreated", reader_.groupsRecreated()},
                     {"commit_latency_p50_ms", metrics_.end_to_end.quantileMicros(0.5) / 1000.0},
                     {"commit_latency_p99_ms", metrics_.end_to_end.quantileMicros(0.99) / 1000.0},
                     {"commit_latency_max_ms", metrics_.end_to_end.maxMicros() / 1000.0}});
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
  boost::asio::steady_timer health_timer_;
  boost::asio::steady_timer sample_timer_;
  redis::StreamReader reader_;
  pipeline::Intake intake_;
  config::BatchConfig limits_; // the batch limits in force (SIGHUP may change them)
  pipeline::Backoff redis_backoff_;
  PipelineMetrics metrics_;
  core::PrometheusText prom_; // reused by every scrape
  std::vector<std::string_view> scratch_fields_;
  SystemdNotify notify_;
  std::optional<http::Server> http_;
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
  bool announced_ready_ = false;
  bool redis_connected_once_ = false;
  int exit_code_ = kExitOk;
  std::optional<WriterPool> writer_; // last: destroyed (joined) first
};

} // namespace

int runDaemon(const config::Config& cfg, const std::optional<std::string>& config_path) {
  Daemon daemon(cfg, config_path);
  return daemon.run();
}

} // namespace auditq::app
