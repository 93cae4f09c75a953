// The daemon: wiring around pipeline::Consumer, which takes every decision. This file turns
// Asio timers and signals, Redis replies (redis::ConsumerLink), the writers' commits
// (WriterPool) and PostgreSQL lookups (PgControl) into the consumer's events, carries out the
// commands it returns, and serves what it reports: logs, /healthz, /readyz, /metrics, systemd.
#include "app/daemon.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <csignal>

#include "app/cli.h"
#include "app/consumer_name.h"
#include "app/metrics.h"
#include "app/pg_control.h"
#include "app/systemd_notify.h"
#include "app/writer_pool.h"
#include "core/build_info.h"
#include "core/clock.h"
#include "core/entry_id.h"
#include "core/json_text.h"
#include "core/log.h"
#include "http/server.h"
#include "pipeline/backoff.h"
#include "pipeline/consumer.h"
#include "pipeline/failure.h"
#include "redis/consumer_link.h"

namespace auditq::app {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

class Daemon {
public:
  Daemon(const config::Config& cfg, std::optional<std::string> config_path)
      : cfg_(withConsumerName(cfg)), config_path_(std::move(config_path)),
        signals_(io_, SIGINT, SIGTERM, SIGHUP), wake_timer_(io_), stats_timer_(io_),
        partitions_timer_(io_), health_timer_(io_), sample_timer_(io_),
        core_(cfg_, pipeline::Backoff::randomSeed()),
        link_(
            io_, cfg_, cfg_.consumer.name, core_, [this] { return now(); }, [this] { drain(); }),
        pg_control_(cfg_, io_), metrics_(cfg_.consumer.streams) {}

  int run() {
    core::log::info("auditq_starting", {{"version", core::kVersion},
                                        {"consumer", cfg_.consumer.name},
                                        {"group", cfg_.consumer.group},
                                        {"streams", cfg_.consumer.streams.size()}});
    if (!listenHttp()) {
      return kExitFailure;
    }
    writer_.emplace(
        cfg_, io_,
        [this](pipeline::Batch* b, const WriteReport& r) {
          countCommitted(*b, r);
          core_.committed(b, now());
          drain();
        },
        [this](pipeline::Batch* b) {
          core_.abandoned(b, now());
          drain();
        },
        [this] {
          core_.writesGaveUp(now());
          drain();
        });
    waitForSignal();
    scheduleStats();
    maintainPartitions();
    scheduleHealth();
    scheduleSample();
    core_.start(now());
    drain();
    io_.run();
    logStats("auditq_stopped");
    if (exit_code_ != kExitOk) {
      // A writer may be stuck in a PostgreSQL call that would block the join. Leave now; what
      // was not committed stays pending in Redis.
      std::_Exit(exit_code_);
    }
    writer_.reset();
    return exit_code_;
  }

private:
  static config::Config withConsumerName(config::Config cfg) {
    if (cfg.consumer.name.empty()) {
      cfg.consumer.name = defaultConsumerName(ProcessFacts::current());
    }
    return cfg;
  }

  pipeline::TimeMs now() const {
    return std::chrono::duration_cast<milliseconds>(Clock::now() - started_).count();
  }

  // Carries out what the consumer decided. Events raised while doing so (a reply handled
  // synchronously) only queue more commands: they are carried out here, in order.
  void drain() {
    if (draining_) {
      return;
    }
    draining_ = true;
    for (;;) {
      auto& out = core_.commands();
      if (out.empty()) {
        break;
      }
      std::vector<pipeline::Command> cmds;
      cmds.swap(out);
      for (const auto& cmd : cmds) {
        if (!link_.execute(cmd)) {
          execute(cmd);
        }
      }
    }
    draining_ = false;
    armWake();
  }

  void execute(const pipeline::Command& cmd) {
    std::visit(
        [this](const auto& c) {
          using T = std::decay_t<decltype(c)>;
          if constexpr (std::is_same_v<T, pipeline::LookupResume>) {
            const size_t i = c.stream;
            pg_control_.lookupResume(cfg_.consumer.streams[i],
                                     [this, i](bool ok, std::optional<core::EntryId> at) {
                                       core_.resumeFound(i, ok, at, now());
                                       drain();
                                     });
          } else if constexpr (std::is_same_v<T, pipeline::RecordGroupStart>) {
            const size_t i = c.stream;
            pg_control_.recordGroupStart(cfg_.consumer.streams[i], c.id, [this, i](bool ok) {
              core_.groupStartRecorded(i, ok, now());
              drain();
            });
          } else if constexpr (std::is_same_v<T, pipeline::SubmitBatch>) {
            for (const auto& ids : c.batch->acks()) {
              metrics_.of(ids.stream()).read += ids.size();
            }
            writer_->submit(c.batch);
          } else if constexpr (std::is_same_v<T, pipeline::AbandonWrites>) {
            writer_->abandon();
          } else if constexpr (std::is_same_v<T, pipeline::Exit>) {
            exit_code_ = c.code;
            finish();
          } else if constexpr (std::is_same_v<T, pipeline::Note>) {
            report(c);
          }
        },
        cmd);
  }

  void armWake() {
    const auto at = core_.nextWake();
    if (!at || finished_) {
      wake_timer_.cancel();
      return;
    }
    wake_timer_.expires_at(started_ + milliseconds(*at));
    wake_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        core_.tick(now());
        drain();
      }
    });
  }

  // What the consumer notes, as log lines (one per state change, never one per entry).
  void report(const pipeline::Note& n) {
    using K = pipeline::NoteKind;
    const std::string_view stream = n.stream < cfg_.consumer.streams.size()
                                        ? std::string_view(cfg_.consumer.streams[n.stream])
                                        : std::string_view();
    switch (n.kind) {
    case K::RedisConnected:
      core::log::info("redis_connected", {{"redis", redis::endpointFrom(cfg_.redis).display}});
      break;
    case K::RedisUnavailable: {
      // An ACL user lacking a command or a wrong password will not pass by itself: error level
      // (still retried: the operator may fix it while auditq waits).
      std::string_view code;
      const auto failure = pipeline::classifyRedisError(n.text, code);
      core::log::write(failure == pipeline::FailureClass::NeedsOperator ? core::log::Level::Error
                                                                        : core::log::Level::Warn,
                       "redis_unavailable",
                       {{"redis", redis::endpointFrom(cfg_.redis).display},
                        {"class", pipeline::failureClassName(failure)},
                        {"code", code},
                        {"error", n.text},
                        {"action", "reconnecting with backoff; entries stay pending"}});
      break;
    }
    case K::RedisRecovered:
      core::log::info("redis_recovered", {{"redis", redis::endpointFrom(cfg_.redis).display}});
      break;
    case K::RedisExhausted:
      core::log::error("redis_retry_exhausted",
                       {{"max_elapsed_ms", cfg_.retry.max_elapsed_ms},
                        {"action", "exiting; uncommitted entries stay pending in Redis"}});
      break;
    case K::GroupCreated:
      core::log::info("consumer_group_created", {{"stream", stream},
                                                 {"group", cfg_.consumer.group},
                                                 {"start_id", n.text},
                                                 {"entries_after", n.number}});
      break;
    case K::GroupResumed:
      core::log::error("consumer_group_recreated",
                       {{"stream", stream},
                        {"group", cfg_.consumer.group},
                        {"resumed_after", n.text},
                        {"entries_after", n.number},
                        {"effect", "Redis lost the group: every entry after the newest one "
                                   "committed is read; entries Redis lost are gone (run "
                                   "auditq --recover if the session keys went too)"}});
      break;
    case K::EntriesClaimed:
      core::log::info("entries_claimed", {{"stream", stream},
                                          {"count", n.number},
                                          {"idle_ms_at_least", cfg_.consumer.claim_idle_ms}});
      break;
    case K::PendingDeleted:
      core::log::warn("pending_entries_deleted",
                      {{"stream", stream},
                       {"count", n.number},
                       {"effect", "trimmed from the stream before any consumer committed "
                                  "them: lost"}});
      break;
    case K::Stalled:
      core::log::error("pipeline_stalled",
                       {{"what", n.text},
                        {"stall_ms", cfg_.health.stall_ms},
                        {"effect", "/healthz answers 503 and the systemd watchdog is no longer "
                                   "fed: the service manager restarts auditq"}});
      break;
    case K::StallCleared:
      core::log::info("pipeline_progressing", {});
      break;
    case K::ShutdownRequested:
      notify_.stopping();
      core::log::info("shutdown_requested", {{"in_flight_batches", n.number}});
      break;
    case K::ShutdownComplete:
      core::log::info("shutdown_complete", {{"committed", metrics_.committed()}});
      break;
    case K::ShutdownTimedOut:
      core::log::warn("shutdown_timeout", {{"in_flight_batches", n.number},
                                           {"action", "uncommitted entries stay pending"}});
      break;
    case K::ShutdownForced:
      core::log::warn("shutdown_forced", {{"action", "uncommitted entries stay pending"}});
      break;
    }
  }

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
      // The event loop answered; a consumer that holds work and commits nothing is not healthy.
      if (core_.stalled()) {
        out.status = 503;
        out.body = "stalled\n";
      } else {
        out.body = "ok\n";
      }
    } else if (path == "/readyz") {
      const auto reasons = notReadyReasons();
      out.status = reasons.empty() ? 200 : 503;
      out.content_type = "application/json";
      out.body = readiness(reasons);
    } else if (path == "/metrics") {
      ServiceState s = serviceState();
      metrics_.redis_reconnects = core_.counters().redis_reconnects;
      metrics_.consumers_deleted = link_.consumersDeleted();
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
    if (core_.stopping()) {
      reasons.push_back("shutting_down");
    }
    if (!core_.redisReady()) {
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
    if (core_.stalled()) {
      reasons.push_back("stalled");
    }
    return reasons;
  }

  // The JSON body of /readyz: each dependency's state and the reasons it is not ready.
  std::string readiness(std::span<const std::string_view> reasons) const {
    const auto health = writer_->health();
    std::string body = fmt::format(R"({{"ready":{},"redis":"{}","postgres":"{}",)", reasons.empty(),
                                   core_.redisReady() ? "connected" : "unreachable",
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
    const auto& c = core_.counters();
    ServiceState s;
    s.ready = notReadyReasons().empty();
    s.redis_connected = core_.redisReady();
    s.postgres_reachable = writer_->health() == PostgresHealth::Reachable;
    s.breaker = pipeline::breakerStateName(writer_->breakerState());
    s.write_retries = w.write_failures.load();
    s.isolations = w.isolations.load();
    s.breaker_opened = w.breaker_opened.load();
    s.postgres_connections = w.connections.load();
    s.postgres_reconnects = w.reconnects.load();
    s.reclaimed = c.claimed;
    s.reclaimed_deleted = c.claimed_deleted;
    s.groups_recreated = c.groups_resumed;
    s.batches_in_flight = core_.batchesInFlight();
    s.stalled = core_.stalled();
    s.entries_held = core_.entriesHeld();
    s.bytes_held = core_.bytesHeld();
    s.duplicates_held = c.duplicates_held;
    s.now_ms = core::epochMicros() / 1000;
    return s;
  }

  // Every second (or half the watchdog timeout, if shorter): tells the consumer whether
  // PostgreSQL answers, feeds systemd's watchdog from the event loop itself unless the
  // consumer is stalled (a stuck loop or a stalled pipeline both get auditq restarted), and
  // says READY=1 once both servers answered for the first time.
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
      core_.postgresAnswering(writer_->health() == PostgresHealth::Reachable, now());
      drain();
      if (notify_.watchdogTimeout() && !core_.stalled()) {
        notify_.watchdog();
      }
      if (!announced_ready_ && !core_.stopping() && core_.redisReady() &&
          writer_->health() == PostgresHealth::Reachable) {
        announced_ready_ = true;
        notify_.ready(fmt::format("consuming {} stream(s) as {}", cfg_.consumer.streams.size(),
                                  cfg_.consumer.name));
        core::log::info("auditq_ready", {{"consumer", cfg_.consumer.name}});
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
      if (ec || finished_) {
        return;
      }
      // A sample that cannot be taken shows as unknown rather than as a stale figure.
      for (auto& st : metrics_.streams) {
        st.group_pending = st.group_lag = -1;
      }
      if (core_.redisReady()) {
        link_.sampleGroups([this](std::span<const redis::GroupInfo> groups) {
          for (size_t i = 0; i < groups.size() && i < metrics_.streams.size(); ++i) {
            metrics_.streams[i].group_pending = groups[i].pending;
            metrics_.streams[i].group_lag = groups[i].lag;
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
        core_.stopRequested(now());
        drain();
      }
      waitForSignal();
    });
  }

  // SIGHUP: what can change without a restart is applied (log level; batch sizes and linger,
  // for batches started from now on); the rest is reported as needing a restart. An invalid
  // file is refused as a whole and the running configuration kept.
  void reload() {
    try {
      auto fresh = config::loadConfig(config_path_, config::processEnvironment());
      core::log::setLevel(fresh.log.level);
      const pipeline::BatchLimits limits{fresh.batch.max_entries, fresh.batch.max_bytes,
                                         fresh.batch.linger_ms};
      std::string restart;
      uint64_t need_restart = 0;
      for (const auto& v : fresh.effective) {
        if (!isReloadable(v.key) && v.key != "consumer.name" && valueOf(cfg_, v.key) != v.value) {
          restart += restart.empty() ? v.key : "," + v.key;
          ++need_restart;
        }
      }
      metrics_.restart_needed = need_restart;
      core::log::info("config_reloaded", {{"log_level", fresh.log.level},
                                          {"batch_max_entries", limits.max_entries},
                                          {"batch_max_bytes", limits.max_bytes},
                                          {"batch_linger_ms", limits.linger_ms},
                                          {"changed_need_restart", restart}});
      core_.limitsChanged(limits, now());
      metrics_.reloads_applied++;
      drain();
    } catch (const config::ConfigError& e) {
      metrics_.reloads_refused++;
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

  void countCommitted(const pipeline::Batch& batch, const WriteReport& report) {
    metrics_.batches++;
    metrics_.duplicates += report.duplicates;
    metrics_.batch_entries.record(static_cast<double>(batch.entries()));
    metrics_.commit_seconds.record(static_cast<double>(report.write_us) / 1e6);
    if (batch.deadLetters() > 0) {
      // One line per batch with bad entries, never one per entry.
      const auto& first = batch.firstDeadLetter();
      core::log::warn("entries_dead_lettered", {{"count", batch.deadLetters()},
                                                {"first_reason", core::reasonName(first.reason)},
                                                {"first_stream", first.stream},
                                                {"first_id", first.entry_id}});
    }
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

  void finish() {
    if (finished_) {
      return;
    }
    finished_ = true;
    wake_timer_.cancel();
    stats_timer_.cancel();
    partitions_timer_.cancel();
    health_timer_.cancel();
    sample_timer_.cancel();
    if (http_) {
      http_->stop();
    }
    signals_.cancel();
    link_.execute(pipeline::CloseRedis{});
    io_.stop();
  }

  // Now and every partitions.check_interval_ms: partitions made ahead, retention. On the control
  // thread, never on the write path.
  // PostgreSQL not answering: again in 30 s (or sooner if the interval is shorter).
  void maintainPartitions() {
    pg_control_.maintainPartitions(
        [this](size_t made, size_t pruned) {
          metrics_.partitions_made += made;
          metrics_.partitions_pruned += pruned;
          schedulePartitions(cfg_.partitions.check_interval_ms);
        },
        [this] {
          schedulePartitions(std::min<int64_t>(cfg_.partitions.check_interval_ms, 30'000));
        });
  }

  void schedulePartitions(int64_t after_ms) {
    partitions_timer_.expires_after(std::chrono::milliseconds(after_ms));
    partitions_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        maintainPartitions();
      }
    });
  }

  // Every 30 s: the stats line, and the tombstones' late check (pg::reconcileTombstones).
  void scheduleStats() {
    stats_timer_.expires_after(std::chrono::seconds(30));
    stats_timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec) {
        logStats("stats");
        if (cfg_.projections.sessions) {
          pg_control_.reconcileTombstones();
        }
        scheduleStats();
      }
    });
  }

  void logStats(std::string_view event) {
    const auto& c = core_.counters();
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
                     {"claimed", c.claimed},
                     {"claimed_deleted", c.claimed_deleted},
                     {"consumers_deleted", link_.consumersDeleted()},
                     {"groups_recreated", c.groups_resumed},
                     {"redelivered_while_held", c.duplicates_held},
                     {"left_pending", c.left_pending},
                     {"commit_latency_p50_ms", metrics_.end_to_end.quantileMicros(0.5) / 1000.0},
                     {"commit_latency_p99_ms", metrics_.end_to_end.quantileMicros(0.99) / 1000.0},
                     {"commit_latency_max_ms", metrics_.end_to_end.maxMicros() / 1000.0}});
  }

  const config::Config cfg_; // a copy: the consumer name is filled in
  std::optional<std::string> config_path_;
  Clock::time_point started_ = Clock::now();
  boost::asio::io_context io_;
  boost::asio::signal_set signals_;
  boost::asio::steady_timer wake_timer_;
  boost::asio::steady_timer stats_timer_;
  boost::asio::steady_timer partitions_timer_;
  boost::asio::steady_timer health_timer_;
  boost::asio::steady_timer sample_timer_;
  pipeline::Consumer core_;
  redis::ConsumerLink link_;
  PgControl pg_control_;
  PipelineMetrics metrics_;
  core::PrometheusText prom_; // reused by every scrape
  std::vector<std::string_view> scratch_fields_;
  SystemdNotify notify_;
  std::optional<http::Server> http_;
  bool draining_ = false;
  bool finished_ = false;
  bool announced_ready_ = false;
  int exit_code_ = kExitOk;
  std::optional<WriterPool> writer_; // last: destroyed (joined) first
};

} // namespace

int runDaemon(const config::Config& cfg, const std::optional<std::string>& config_path) {
  Daemon daemon(cfg, config_path);
  return daemon.run();
}

} // namespace auditq::app
