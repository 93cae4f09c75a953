// The PostgreSQL writers: postgres.writers threads, each with its own connection, taking sealed
// batches from one queue and handing each back (on the io_context) once it is decided:
//   - committed, possibly after isolating rows PostgreSQL refused (SQLSTATE 22/23/54): the
//     batch is split in halves, recursively, the good parts committed and each refused entry
//     dead-lettered as rejected_by_database: O(log n) extra writes per poison entry;
//   - abandoned at shutdown (nothing acknowledged: the entries stay pending in Redis).
// Failures that are not the rows' are retried with capped exponential backoff and full jitter,
// behind one circuit breaker shared by the writers, with one log line per state change.
// Batches may commit out of order: the version guards make the projections order-independent.
#pragma once

#include <atomic>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "pg/batch_writer.h"
#include "pipeline/batch.h"
#include "pipeline/circuit_breaker.h"

namespace auditq::app {

// What the writers did with one batch.
struct WriteReport {
  size_t duplicates = 0;       // events already in sync_events (a redelivery), skipped
  size_t isolation_writes = 0; // extra transactions spent isolating refused rows
  int64_t committed_at_us = 0; // wall-clock time of the (last) COMMIT
  int64_t write_us = 0;        // time spent in the transactions that committed
};

struct WriterCounters {
  std::atomic<uint64_t> write_failures{0}; // failed attempts that will be retried
  std::atomic<uint64_t> isolations{0};     // batches split because PostgreSQL refused rows
  std::atomic<uint64_t> breaker_opened{0};
  std::atomic<uint64_t> connections{0}; // PostgreSQL connections opened (first ones included)
  std::atomic<uint64_t> reconnects{0};  // of those, the ones replacing a lost connection
};

// What the writers last heard from PostgreSQL (a write or an idle writer's ping).
enum class PostgresHealth { Unknown, Reachable, Failing };

class WriterPool {
public:
  using Committed = std::function<void(pipeline::Batch*, const WriteReport&)>;
  using Abandoned = std::function<void(pipeline::Batch*)>;
  using GaveUp = std::function<void()>;

  WriterPool(const config::Config& cfg, boost::asio::io_context& io, Committed committed,
             Abandoned abandoned, GaveUp gave_up);
  ~WriterPool();
  WriterPool(const WriterPool&) = delete;
  WriterPool& operator=(const WriterPool&) = delete;

  void submit(pipeline::Batch* batch);
  // Stop retrying: batches not yet committed are handed back as abandoned.
  void abandon();

  pipeline::CircuitBreaker::State breakerState() const;
  const WriterCounters& counters() const { return counters_; }
  PostgresHealth health() const { return health_.load(); }
  // The class of the last failure while health() is Failing ("transient", "needs_operator").
  std::string_view lastFailureClass() const;

private:
  struct Worker;
  using Clock = std::chrono::steady_clock;

  void loop(int64_t index);
  void ping(Worker& w);
  void noteConnection(Worker& w, bool was_connected);
  void process(Worker& w, pipeline::Batch* batch);
  bool isolate(Worker& w, pipeline::Batch& batch, WriteReport& report);
  bool deadLetterRejected(Worker& w, pipeline::Batch& batch, size_t index, const std::string& why,
                          WriteReport& report);
  // Writes until PostgreSQL answers (committed, or the rows refused). False: abandoned.
  bool writeAnswered(Worker& w, const pipeline::Batch& batch, pg::WriteOutcome& outcome);
  bool acquire();
  void answered();
  bool failed(Worker& w, const pg::WriteOutcome& outcome);
  bool sleepFor(std::chrono::milliseconds delay);

  const config::Config& cfg_;
  boost::asio::io_context& io_;
  Committed committed_;
  Abandoned abandoned_;
  GaveUp gave_up_;
  WriterCounters counters_;
  std::atomic<PostgresHealth> health_{PostgresHealth::Unknown};
  std::atomic<pipeline::FailureClass> last_failure_{pipeline::FailureClass::Transient};

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<pipeline::Batch*> queue_;
  pipeline::CircuitBreaker breaker_;
  bool failing_ = false;              // logged as failing, not yet recovered
  bool ping_failing_ = false;         // the last ping failed (logged once)
  Clock::time_point failing_since_{}; // first failure since the last answer
  bool stop_ = false;
  bool abandon_ = false;
  std::vector<std::thread> threads_; // last: started after everything they use exists
};

} // namespace auditq::app
