// Writer threads: retry, circuit breaker, and isolating refused rows by splitting the batch.
#include "app/writer_pool.h"

#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include "core/log.h"
#include "pipeline/backoff.h"
#include "pipeline/intake.h"
#include "pipeline/isolation.h"

namespace auditq::app {
// One writer thread's own state: its connection, its retry delays, and what it needs to
// rebuild parts of a batch when isolating refused rows.
struct WriterPool::Worker {
  Worker(const config::Config& cfg, int64_t index)
      : writer(cfg.postgres, cfg.projections,
               pg::WriterOptions{fmt::format("{}/{}", cfg.consumer.name, index),
                                 cfg.partitions.widthMs(), cfg.audit.digests, cfg.notify.enabled,
                                 cfg.notify.channel}),
        backoff(cfg.retry.initial_ms, cfg.retry.max_ms, pipeline::Backoff::randomSeed()),
        intake(cfg.decode, cfg.projections, cfg.dead_letter),
        part(cfg.batch, cfg.projections, cfg.dead_letter.max_field_bytes, cfg.audit.digests) {}

  pg::BatchWriter writer;
  pipeline::Backoff backoff;
  pipeline::Intake intake;
  pipeline::Batch part;                 // the half being tried while isolating
  std::vector<std::string_view> fields; // scratch for RawEntries::get
  std::string rejection;                // the dead letter's error text
  bool ever_connected = false;
};

WriterPool::WriterPool(const config::Config& cfg, boost::asio::io_context& io, Committed committed,
                       Abandoned abandoned, GaveUp gave_up)
    : cfg_(cfg), io_(io), committed_(std::move(committed)), abandoned_(std::move(abandoned)),
      gave_up_(std::move(gave_up)),
      breaker_(cfg.retry.breaker_failures, pipeline::Backoff(cfg.retry.initial_ms, cfg.retry.max_ms,
                                                             pipeline::Backoff::randomSeed())) {
  for (int64_t i = 0; i < cfg.postgres.writers; ++i) {
    threads_.emplace_back([this, i] { loop(i); });
  }
}

WriterPool::~WriterPool() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  for (auto& t : threads_) {
    t.join();
  }
}

void WriterPool::submit(pipeline::Batch* batch) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(batch);
  }
  cv_.notify_one();
}

void WriterPool::abandon() {
  {
    std::lock_guard lock(mu_);
    abandon_ = true;
  }
  cv_.notify_all();
}

pipeline::CircuitBreaker::State WriterPool::breakerState() const {
  std::lock_guard lock(mu_);
  return breaker_.state();
}

std::string_view WriterPool::lastFailureClass() const {
  return pipeline::failureClassName(last_failure_.load());
}

void WriterPool::loop(int64_t index) {
  Worker w(cfg_, index);
  // Connect now rather than at the first batch: readiness (and systemd's READY=1) wait for it.
  ping(w);
  const auto idle = std::chrono::milliseconds(cfg_.postgres.ping_interval_ms);
  for (;;) {
    pipeline::Batch* batch = nullptr;
    {
      std::unique_lock lock(mu_);
      if (!cv_.wait_for(lock, idle, [&] { return stop_ || abandon_ || !queue_.empty(); })) {
        lock.unlock();
        ping(w); // idle: keep readiness true to the server, and notice a lost connection early
        continue;
      }
      if (queue_.empty()) {
        return;
      }
      batch = queue_.front();
      queue_.pop_front();
    }
    process(w, batch);
  }
}

// Pings log only the changes of reachability they see; failing writes log their own lines.
void WriterPool::ping(Worker& w) {
  const bool was_connected = w.writer.connected();
  pg::WriteOutcome outcome;
  const bool ok = w.writer.ping(outcome);
  noteConnection(w, was_connected);
  bool was_failing = false;
  {
    std::lock_guard lock(mu_);
    was_failing = ping_failing_;
    ping_failing_ = !ok;
    if (!ok) {
      last_failure_ = outcome.failure;
      health_ = PostgresHealth::Failing;
    } else if (!failing_) {
      // Reachable, and no write is failing (a write refused for lack of a privilege, say,
      // keeps the health Failing even though SELECT 1 works).
      health_ = PostgresHealth::Reachable;
    }
  }
  if (ok && was_failing) {
    core::log::info("postgres_reachable", {});
  } else if (!ok && !was_failing) {
    core::log::warn("postgres_unreachable", {{"class", pipeline::failureClassName(outcome.failure)},
                                             {"sqlstate", outcome.sqlstate},
                                             {"error", outcome.message}});
  }
}

void WriterPool::noteConnection(Worker& w, bool was_connected) {
  if (was_connected || !w.writer.connected()) {
    return;
  }
  counters_.connections++;
  if (w.ever_connected) {
    counters_.reconnects++;
  }
  w.ever_connected = true;
}

void WriterPool::process(Worker& w, pipeline::Batch* batch) {
  WriteReport report;
  pg::WriteOutcome outcome;
  bool decided = writeAnswered(w, *batch, outcome);
  if (decided && outcome.committed) {
    report.duplicates = outcome.duplicates;
    report.committed_at_us = outcome.committed_at_us;
    report.write_us = outcome.duration_us;
  } else if (decided) {
    counters_.isolations++;
    const std::string sqlstate = outcome.sqlstate;
    const std::string message = outcome.message;
    decided = isolate(w, *batch, report);
    if (decided) {
      // One line per isolated batch, never one per entry.
      core::log::warn("rows_rejected",
                      {{"entries", batch->entries()},
                       {"rejected", batch->rejected()},
                       {"writes", report.isolation_writes},
                       {"sqlstate", sqlstate},
                       {"error", message},
                       {"action", "refused entries dead-lettered, rest committed"}});
    }
  }
  if (decided) {
    core::log::debug("batch_committed", {{"entries", batch->entries()},
                                         {"dead_letters", batch->deadLetters() + batch->rejected()},
                                         {"duplicates", report.duplicates},
                                         {"isolation_writes", report.isolation_writes}});
    boost::asio::post(io_, [this, batch, report] { committed_(batch, report); });
  } else {
    boost::asio::post(io_, [this, batch] { abandoned_(batch); });
  }
}

// Writes the parts pipeline::IsolationPlan hands out until every refused entry stands alone
// and is dead-lettered; the rest commits.
bool WriterPool::isolate(Worker& w, pipeline::Batch& batch, WriteReport& report) {
  const size_t n = batch.raw().size();
  // The parts are never bigger than the batch, whatever batch limits a SIGHUP set since.
  w.part.setLimits(static_cast<int64_t>(std::max<size_t>(n, 1)), int64_t{1} << 40);
  pipeline::IsolationPlan plan(std::max<size_t>(n, 1));
  pg::WriteOutcome outcome;
  while (const auto r = plan.next()) {
    w.part.clear();
    for (size_t i = r->begin; i < r->end; ++i) {
      if (batch.deadLetterReason(i)) {
        w.part.addDeadLetterOf(batch, i, w.fields);
      } else {
        w.intake.add(w.part, batch.raw().get(i, w.fields));
      }
    }
    w.part.seal();
    ++report.isolation_writes;
    if (!writeAnswered(w, w.part, outcome)) {
      return false;
    }
    if (outcome.committed) {
      report.duplicates += outcome.duplicates;
      report.committed_at_us = outcome.committed_at_us;
      report.write_us += outcome.duration_us;
      plan.committed();
    } else if (plan.refused()) {
      const std::string why = fmt::format("SQLSTATE {}: {}", outcome.sqlstate, outcome.message);
      if (!deadLetterRejected(w, batch, r->begin, why, report)) {
        return false;
      }
    }
  }
  return true;
}

// A refused entry becomes a dead letter with its fields; if PostgreSQL refuses even that (the
// letter itself breaks a limit), a minimal letter: the fields' count, size and SHA-256 only.
// Only when that too is refused (someone put a constraint on auditq_dead_letters) does the entry
// stay pending, retried with backoff and reported once: an operator must act.
bool WriterPool::deadLetterRejected(Worker& w, pipeline::Batch& batch, size_t index,
                                    const std::string& why, WriteReport& report) {
  pg::WriteOutcome outcome;
  bool alerted = false;
  const auto reason = batch.deadLetterReason(index);
  // An entry that was a dead letter already was refused as one: go minimal at once.
  bool minimal = reason.has_value();
  w.rejection = why;
  for (;;) {
    w.part.clear();
    const pipeline::RawEntry entry = batch.raw().get(index, w.fields);
    w.part.addDeadLetter(
        entry,
        pipeline::DecodeError{reason.value_or(core::ReasonCode::RejectedByDatabase), "",
                              w.rejection},
        minimal);
    w.part.seal();
    ++report.isolation_writes;
    if (!writeAnswered(w, w.part, outcome)) {
      return false;
    }
    if (outcome.committed) {
      batch.markRejected(index);
      report.committed_at_us = outcome.committed_at_us;
      report.write_us += outcome.duration_us;
      return true;
    }
    if (!minimal) {
      minimal = true;
      w.rejection = fmt::format("{}; fields not kept: the letter with them was refused too "
                                "(SQLSTATE {}: {})",
                                why, outcome.sqlstate, outcome.message);
      continue;
    }
    if (!alerted) {
      alerted = true;
      core::log::error("dead_letter_refused",
                       {{"stream", entry.stream},
                        {"entry_id", entry.id},
                        {"sqlstate", outcome.sqlstate},
                        {"error", outcome.message},
                        {"action", "even a minimal letter is refused (a constraint on "
                                   "auditq_dead_letters?): entry stays pending; retrying with "
                                   "backoff"}});
    }
    if (!sleepFor(std::chrono::milliseconds(w.backoff.nextMs()))) {
      return false;
    }
  }
}

bool WriterPool::writeAnswered(Worker& w, const pipeline::Batch& batch, pg::WriteOutcome& outcome) {
  for (;;) {
    if (!acquire()) {
      return false;
    }
    const bool was_connected = w.writer.connected();
    outcome = w.writer.write(batch);
    noteConnection(w, was_connected);
    if (outcome.committed || outcome.failure == pipeline::FailureClass::RowRejected) {
      w.backoff.reset();
      answered();
      return true;
    }
    if (!failed(w, outcome)) {
      return false;
    }
  }
}

// Waits until the breaker lets this writer write. False when abandoned.
bool WriterPool::acquire() {
  std::unique_lock lock(mu_);
  for (;;) {
    if (abandon_ || stop_) {
      return false;
    }
    const auto now = Clock::now();
    if (breaker_.tryAcquire(now)) {
      return true;
    }
    if (breaker_.state() == pipeline::CircuitBreaker::State::Open) {
      cv_.wait_until(lock, breaker_.nextProbe());
    } else {
      cv_.wait(lock); // a probe is running: its answer wakes us
    }
  }
}

void WriterPool::answered() {
  health_ = PostgresHealth::Reachable;
  bool recovered = false;
  bool closed = false;
  {
    std::lock_guard lock(mu_);
    closed = breaker_.onSuccess();
    recovered = failing_;
    failing_ = false;
  }
  if (closed) {
    cv_.notify_all();
  }
  if (recovered) {
    core::log::info("postgres_write_recovered", {{"breaker", "closed"}});
  }
}

// Records a failed attempt and waits before the next one. False: stop trying (abandoned, or
// retry.max_elapsed_ms ran out).
bool WriterPool::failed(Worker& w, const pg::WriteOutcome& outcome) {
  counters_.write_failures++;
  last_failure_ = outcome.failure;
  health_ = PostgresHealth::Failing;
  const auto now = Clock::now();
  bool first = false;
  bool opened = false;
  bool give_up = false;
  {
    std::lock_guard lock(mu_);
    if (!failing_) {
      failing_ = true;
      failing_since_ = now;
      first = true;
    }
    opened = breaker_.onFailure(now);
    give_up = cfg_.retry.max_elapsed_ms > 0 &&
              now - failing_since_ >= std::chrono::milliseconds(cfg_.retry.max_elapsed_ms);
  }
  cv_.notify_all(); // a failed probe: waiters recompute the next probe time
  if (first) {
    // One line when writing starts failing, one when the breaker opens, one when it recovers:
    // never one per retry.
    const auto level = outcome.failure == pipeline::FailureClass::Transient
                           ? core::log::Level::Warn
                           : core::log::Level::Error;
    core::log::write(level, "postgres_write_failed",
                     {{"class", pipeline::failureClassName(outcome.failure)},
                      {"sqlstate", outcome.sqlstate},
                      {"error", outcome.message},
                      {"action", "entries stay pending; retrying with backoff"}});
  }
  if (opened) {
    counters_.breaker_opened++;
    core::log::warn("postgres_breaker_open",
                    {{"consecutive_failures", cfg_.retry.breaker_failures},
                     {"action", "one probe write at a time, at the backoff interval"}});
  }
  if (give_up) {
    core::log::error("postgres_retry_exhausted",
                     {{"max_elapsed_ms", cfg_.retry.max_elapsed_ms},
                      {"action", "exiting; uncommitted entries stay pending in Redis"}});
    boost::asio::post(io_, [this] { gave_up_(); });
    abandon();
    return false;
  }
  return sleepFor(std::chrono::milliseconds(w.backoff.nextMs()));
}

// Sleeps unless abandoned first. False when abandoned.
bool WriterPool::sleepFor(std::chrono::milliseconds delay) {
  std::unique_lock lock(mu_);
  return !cv_.wait_for(lock, delay, [&] { return abandon_ || stop_; });
}

} // namespace auditq::app
