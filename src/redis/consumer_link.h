// The Redis side of the consumer: executes pipeline::Consumer's Redis commands on two hiredis
// connections (a reader for XREADGROUP and XAUTOCLAIM, whose BLOCK must not delay anything
// else, and a control connection for XACK, groups, PING...) and reports every outcome back to
// the consumer as an event. It decides nothing: what to send, when, and what a failure means
// is the consumer's. Every connection's loss is reported (the disconnect callback, a failed or
// timed-out command), tagged with the epoch of the connections it happened on, so an answer
// from replaced connections is never mistaken for a current one.
// Single-threaded: everything runs on the io_context's thread.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "config/config.h"
#include "pipeline/consumer.h"
#include "redis/async_connection.h"
#include "redis/replies.h"

namespace auditq::redis {

class SentinelWatch;

class ConsumerLink {
public:
  using Now = std::function<pipeline::TimeMs()>;
  // `after_event` runs after every event handed to `core` (the daemon then carries out the
  // commands it decided).
  ConsumerLink(boost::asio::io_context& io, const config::Config& cfg, std::string consumer_name,
               pipeline::Consumer& core, Now now, std::function<void()> after_event);
  ~ConsumerLink();
  ConsumerLink(const ConsumerLink&) = delete;
  ConsumerLink& operator=(const ConsumerLink&) = delete;

  // Carries out `cmd` if it is a Redis command; false otherwise.
  bool execute(const pipeline::Command& cmd);
  bool connected() const;

  // The group's pending and lag on every stream (XINFO GROUPS), in consumer.streams order,
  // for /metrics; -1 when unknown. Not an event for the consumer.
  void sampleGroups(std::function<void(std::span<const GroupInfo>)> done);

  // What the link counts for /metrics and the stats line.
  uint64_t consumersDeleted() const { return consumers_deleted_; }

private:
  using Reply = std::function<void(redisReply*)>;
  enum class On { Reader, Control };

  void connect(uint64_t epoch);
  void close();
  std::string clientName(std::string_view role) const;
  // Sends on the current connections; `on_reply` runs for a reply (errors included). A failure
  // of the connection itself is reported to the consumer as redisFailed.
  void send(On on, std::span<const std::string_view> args, std::chrono::milliseconds timeout,
            Reply on_reply);
  void fail(uint64_t epoch, std::string_view error);
  template <typename F>
  void event(F&& f) {
    f(core_);
    after_event_();
  }
  void checkGroup(size_t stream);
  void createGroup(size_t stream, const std::string& start_id);
  void listPending(const pipeline::ListPending& c);
  void readPending(const pipeline::ReadPending& c);
  void readClaimed(const pipeline::ReadClaimed& c);
  void readNew(const pipeline::ReadNew& c);
  void copyDeadLetters(pipeline::Batch* batch);
  void ack(pipeline::Batch* batch);
  void touch(pipeline::Batch* batch);
  void ping(bool reader);
  void deleteIdleConsumers();
  // One command per stream of the batch's ids: `build` renders it into args_; `done` gets the
  // streams whose group was gone, once every reply is in. Another error reply fails the link
  // when `errors_fail`, else it is logged.
  void perStream(pipeline::Batch* batch, std::string_view what, bool errors_fail,
                 const std::function<void(const pipeline::StreamIds&)>& build,
                 std::function<void(std::vector<size_t> gone)> done);
  std::optional<size_t> streamIndex(std::string_view name) const;
  std::chrono::milliseconds timeout(int64_t extra_ms = 0) const {
    return std::chrono::milliseconds(cfg_.redis.command_timeout_ms + extra_ms);
  }

  boost::asio::io_context& io_;
  const config::Config& cfg_;
  std::string consumer_name_;
  pipeline::Consumer& core_;
  Now now_;
  std::function<void()> after_event_;
  Endpoint endpoint_;
  uint64_t epoch_ = 0; // of the connections below; 0: none
  std::shared_ptr<AsyncConnection> reader_;
  std::shared_ptr<AsyncConnection> control_;
  ReplyEntries entries_;                 // the read being handed over
  std::vector<std::string_view> args_;   // reused for every command
  std::vector<std::string> arg_storage_; // numbers and ids rendered for args_
  uint64_t consumers_deleted_ = 0;
  std::shared_ptr<SentinelWatch> watch_; // redis.sentinels: failovers announced
};

} // namespace auditq::redis
