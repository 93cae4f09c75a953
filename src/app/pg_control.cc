// The control thread: one job at a time, the connection opened on demand and dropped on error.
#include "app/pg_control.h"

#include <boost/asio/post.hpp>

#include "core/clock.h"
#include "core/log.h"
#include "pg/connection.h"
#include "pg/partitions.h"
#include "pg/stream_positions.h"

namespace auditq::app {

PgControl::PgControl(const config::Config& cfg, boost::asio::io_context& io)
    : cfg_(cfg), io_(io), thread_([this] { loop(); }) {}

PgControl::~PgControl() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  thread_.join();
}

void PgControl::post(Job job, std::function<void()> on_failure) {
  {
    std::lock_guard lock(mu_);
    jobs_.emplace_back(std::move(job), std::move(on_failure));
  }
  cv_.notify_one();
}

void PgControl::loop() {
  std::unique_ptr<pg::Connection> conn;
  for (;;) {
    std::pair<Job, std::function<void()>> job;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !jobs_.empty(); });
      if (stop_) {
        return;
      }
      job = std::move(jobs_.front());
      jobs_.pop_front();
    }
    std::function<void()> then;
    try {
      if (!conn) {
        conn = pg::Connection::open(cfg_.postgres);
      }
      then = job.first(*conn);
    } catch (const pg::Error& e) {
      core::log::warn("postgres_control_failed",
                      {{"sqlstate", e.sqlstate()}, {"error", e.what()}, {"action", "asked again"}});
      conn.reset();
      then = std::move(job.second);
    }
    boost::asio::post(io_, std::move(then));
  }
}

void PgControl::lookupResume(std::string stream,
                             std::function<void(bool, std::optional<core::EntryId>)> done) {
  auto shared = std::make_shared<decltype(done)>(std::move(done));
  post(
      [this, stream = std::move(stream), shared](pg::Connection& c) -> std::function<void()> {
        const auto at = pg::streamPosition(c, stream, cfg_.consumer.group).resumeFrom();
        return [shared, at] { (*shared)(true, at); };
      },
      [shared] { (*shared)(false, std::nullopt); });
}

void PgControl::recordGroupStart(std::string stream, core::EntryId id,
                                 std::function<void(bool)> done) {
  auto shared = std::make_shared<decltype(done)>(std::move(done));
  post(
      [this, stream = std::move(stream), id, shared](pg::Connection& c) -> std::function<void()> {
        pg::recordGroupStart(c, stream, cfg_.consumer.group, id);
        return [shared] { (*shared)(true); };
      },
      [shared] { (*shared)(false); });
}

void PgControl::reconcileTombstones() {
  post(
      [](pg::Connection& c) -> std::function<void()> {
        const int64_t fixed = pg::reconcileTombstones(c, 600);
        return [fixed] {
          if (fixed > 0) {
            core::log::info("tombstones_reconciled", {{"sessions", fixed}});
          }
        };
      },
      [] {});
}

void PgControl::maintainPartitions(std::function<void(size_t, size_t)> done,
                                   std::function<void()> failed) {
  auto shared = std::make_shared<decltype(done)>(std::move(done));
  post(
      [this, shared](pg::Connection& c) -> std::function<void()> {
        const int64_t now_ms = core::epochMicros() / 1000;
        const auto made =
            pg::premakePartitions(c, cfg_.partitions.widthMs(), cfg_.partitions.premake, now_ms);
        pg::PruneResult pruned;
        if (cfg_.retention.keep_seconds > 0) {
          pg::PruneOptions o;
          o.keep_seconds = cfg_.retention.keep_seconds;
          o.recover_max_age_seconds = cfg_.recover.maxAgeSeconds();
          o.drop = cfg_.retention.action == "drop";
          pruned = pg::prunePartitions(c, o, now_ms);
        }
        return [shared, made, pruned] {
          for (const auto& name : made) {
            core::log::info("partition_created", {{"partition", name}, {"reason", "premake"}});
          }
          size_t removed = 0;
          for (const auto& s : pruned.steps) {
            const bool failed = s.action == "failed";
            removed += s.action == "dropped" || s.action == "detached" ? 1 : 0;
            (failed ? core::log::warn : core::log::info)("partition_retention",
                                                         {{"partition", s.partition.name},
                                                          {"range_to", s.partition.to},
                                                          {"action", s.action},
                                                          {"detail", s.detail}});
          }
          (*shared)(made.size(), removed);
        };
      },
      std::move(failed));
}

} // namespace auditq::app
