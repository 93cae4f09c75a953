// Consumer-group reading of the configured streams: creates the groups, drains this
// consumer's own pending entries first, then reads new ones with BLOCK; takes over entries
// other consumers left idle (XAUTOCLAIM) when asked to; reports each entry's delivery count;
// recreates a group that vanished (NOGROUP: Redis flushed or restarted empty); acknowledges
// committed entries; removes idle consumers that hold nothing.
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
#include "core/entry_id.h"
#include "pipeline/batch.h"
#include "redis/async_connection.h"

namespace auditq::redis {

// One entry as Redis returned it, with its delivery count; views are valid only during the
// visitor call.
using EntryView = pipeline::RawEntry;

// The consumer group's counts on one stream, from XINFO GROUPS; -1 when Redis does not know.
struct GroupSample {
  int64_t pending = -1; // delivered to some consumer, not acknowledged
  int64_t lag = -1;     // in the stream, not yet delivered to the group
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
  bool connected() const;

  // Reads up to `count` entries and visits each. First entries claimed from idle consumers
  // (after requestClaim()), then this consumer's own pending entries (after a start), both
  // without blocking; then new entries, blocking up to `block` when none are there (zero: never
  // block). `done` reports how many were visited.
  void read(size_t count, std::chrono::milliseconds block, EntryVisitor visit,
            std::function<void(size_t visited, std::string_view error)> done);

  // XACKs the ids (one command per stream). `done` gets "" when all succeeded.
  void ack(std::span<const pipeline::StreamIds> ids, Done done);

  // The next reads first take over entries idle for consumer.claim_idle_ms in any consumer's
  // pending list (XAUTOCLAIM, looping each stream until its cursor returns to 0-0).
  void requestClaim();
  // Removes other consumers idle for consumer.delete_idle_ms that have no pending entries
  // (checked and deleted atomically in a script: one that still holds entries is never removed).
  void deleteIdleConsumers(std::function<void(int64_t deleted, std::string_view error)> done);

  // Samples the group on every stream (one XINFO GROUPS each), in consumer.streams order.
  void sampleGroups(std::function<void(std::span<const GroupSample>, std::string_view error)> done);

  // XADDs a copy of each dead letter in `batch` to "<stream><suffix>" (MAXLEN ~ maxlen when > 0).
  void copyDeadLetters(const pipeline::Batch& batch, const config::DeadLetterConfig& dead_letter,
                       Done done);

  const std::string& consumerName() const { return consumer_name_; }
  // Times a group was recreated after NOGROUP.
  uint64_t groupsRecreated() const { return groups_recreated_; }
  // Entries taken over from other consumers; pending entries found deleted from the stream.
  uint64_t claimed() const { return claimed_; }
  uint64_t claimedDeleted() const { return claimed_deleted_; }

private:
  void createGroups(size_t index, const Done& done);
  void recreateGroup(std::string_view stream, const std::function<void()>& then);
  size_t parseReply(redisReply* reply, const EntryVisitor& visit);
  size_t visitEntries(std::string_view stream, redisReply* entries, const EntryVisitor& visit);
  void readClaimed(size_t stream_index, size_t count, std::chrono::milliseconds block,
                   EntryVisitor visit, std::function<void(size_t, std::string_view)> done);
  void visitClaimed(size_t stream_index, EntryVisitor visit,
                    std::function<void(size_t, std::string_view)> done);
  // Delivery counts from an XPENDING reply, `extra` added (the read that follows counts too).
  void rememberCounts(redisReply* reply, int64_t extra);
  int64_t deliveriesOf(std::string_view id);
  std::chrono::milliseconds commandTimeout() const {
    return std::chrono::milliseconds(redis_.command_timeout_ms);
  }

  boost::asio::io_context& io_;
  const config::RedisConfig& redis_;
  const config::ConsumerConfig& consumer_;
  std::string consumer_name_;
  std::shared_ptr<AsyncConnection> reader_;
  std::shared_ptr<AsyncConnection> control_;
  // Per stream: the cursor into our own pending list, or empty once drained (then ">").
  std::vector<std::string> pending_cursor_;
  // Per stream: the XAUTOCLAIM cursor while a claim pass runs, else empty.
  std::vector<std::string> claim_cursor_;
  // Delivery counts of the entries the current read returns, in id order.
  std::vector<std::pair<core::EntryId, int64_t>> counts_;
  size_t counts_pos_ = 0;
  pipeline::RawEntries claimed_entries_; // held while their delivery counts are fetched
  std::vector<std::string_view> fields_; // reused for every entry
  std::vector<std::string_view> args_;   // reused for every command
  std::vector<std::string> arg_storage_; // numbers rendered for args_
  uint64_t groups_recreated_ = 0;
  uint64_t claimed_ = 0;
  uint64_t claimed_deleted_ = 0;
};

} // namespace auditq::redis
