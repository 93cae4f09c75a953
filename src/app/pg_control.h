// The consumer's PostgreSQL questions that are not batch writes (where a lost group resumes,
// recording a group's first start), on a thread and connection of their own: the event loop
// never waits on PostgreSQL, and a lookup never queues behind batches the writers are retrying.
#pragma once

#include <boost/asio/io_context.hpp>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "config/config.h"
#include "core/entry_id.h"

namespace auditq::pg {
class Connection;
}

namespace auditq::app {

class PgControl {
public:
  PgControl(const config::Config& cfg, boost::asio::io_context& io);
  ~PgControl(); // finishes the job under way, drops the rest, joins
  PgControl(const PgControl&) = delete;
  PgControl& operator=(const PgControl&) = delete;

  // `done` runs on the io_context: ok false when PostgreSQL could not answer.
  void lookupResume(std::string stream,
                    std::function<void(bool ok, std::optional<core::EntryId>)> done);
  void recordGroupStart(std::string stream, core::EntryId id, std::function<void(bool ok)> done);
  // pg::reconcileTombstones over the last 10 minutes; failures are logged and retried next time.
  void reconcileTombstones();
  // partitions.premake intervals made ahead, then retention (when retention.keep is set) by the
  // migration's SECURITY DEFINER function; `done(made, pruned)` on the io_context, or `failed()`
  // when PostgreSQL could not answer (logged).
  void maintainPartitions(std::function<void(size_t made, size_t pruned)> done,
                          std::function<void()> failed);

private:
  // A job runs on the thread and returns what to run on the io_context.
  using Job = std::function<std::function<void()>(pg::Connection&)>;
  void post(Job job, std::function<void()> on_failure);
  void loop();

  const config::Config& cfg_;
  boost::asio::io_context& io_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::pair<Job, std::function<void()>>> jobs_;
  bool stop_ = false;
  std::thread thread_; // last: started once everything it uses exists
};

} // namespace auditq::app
