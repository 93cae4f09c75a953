// Consumer-group reading of the configured streams: creates the groups, drains this
// consumer's own pending entries first, then reads new ones with BLOCK; recreates a group that
// vanished (NOGROUP: Redis flushed or restarted empty); acknowledges committed entries.
// Uses two connections: a blocking XREADGROUP must not delay XACKs.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "config/config.h"
#include "pipeline/batch.h"
#include "redis/async_connection.h"

namespace auditq::redis {

// One entry as Redis returned it; views are valid only during the visitor call.
struct EntryView {
  std::string_view stream;
  std::string_view id;
  std::span<const std::string_view> fields; // name, value, name, value, ...
};

class StreamReader {
public:
  using EntryVisitor = std::function<void(const EntryView&)>;
  using Done = std::function<void(std::string_view error)>;

  StreamReader(boost::asio::io_context& io, const config::RedisConfig& redis,
               const config::ConsumerConfig& consumer, std::string consumer_name);

  // (Re)connects both connections and creates missing groups. `done` gets "" on success.
  void start(Done done);
  void stop();
  // Abandons an outstanding read (closes only the reading connection; acks still work).
  // Entries Redis already delivered to it stay in this consumer's pending list.
  void cancelRead();
  bool connected() const;

  // Reads up to `count` entries and visits each. While this consumer still has pending
  // entries (after a start) they come first, without blocking; then new entries, blocking up
  // to `block` when none are there (zero: never block). `done` reports how many were visited.
  void read(size_t count, std::chrono::milliseconds block, EntryVisitor visit,
            std::function<void(size_t visited, std::string_view error)> done);

  // XACKs the ids (one command per stream). `done` gets "" when all succeeded.
  void ack(std::span<const pipeline::StreamIds> ids, Done done);

  const std::string& consumerName() const { return consumer_name_; }
  // Times a group was recreated after NOGROUP.
  uint64_t groupsRecreated() const { return groups_recreated_; }

private:
  void createGroups(size_t index, const Done& done);
  void recreateGroup(std::string_view stream, const std::function<void()>& then);
  size_t parseReply(redisReply* reply, const EntryVisitor& visit);

  boost::asio::io_context& io_;
  const config::RedisConfig& redis_;
  const config::ConsumerConfig& consumer_;
  std::string consumer_name_;
  std::shared_ptr<AsyncConnection> reader_;
  std::shared_ptr<AsyncConnection> control_;
  // Per stream: the cursor into our own pending list, or empty once drained (then ">").
  std::vector<std::string> pending_cursor_;
  std::vector<std::string_view> fields_; // reused for every entry
  std::vector<std::string_view> args_;   // reused for every command
  std::vector<std::string> arg_storage_; // numbers rendered for args_
  uint64_t groups_recreated_ = 0;
};

} // namespace auditq::redis
