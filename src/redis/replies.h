// Pure parsers of the Redis replies the consumer reads (RESP2, as hiredis hands them over):
// XREADGROUP, XAUTOCLAIM, XPENDING (extended form), XINFO GROUPS, and the error replies that
// mean "the group is gone". No I/O; unit-tested by feeding RESP bytes through hiredis' reader.
#pragma once

#include <hiredis/hiredis.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/entry_id.h"
#include "pipeline/consumer.h"
#include "pipeline/raw_entries.h"

namespace auditq::redis {

// The text of a string, status or error reply; empty for other types.
std::string_view replyText(const redisReply* r);

// NOGROUP (the key or group does not exist) or UNBLOCKED (a blocked read's key was deleted).
bool isGroupGone(const redisReply* r);

// A reply that says the connection is not to the primary: READONLY (a replica: writes
// refused) or MASTERDOWN (a replica that lost its primary). Reconnecting asks the sentinels
// again; nothing is ever written to a replica.
bool isNotPrimary(const redisReply* r);

// SENTINEL GET-MASTER-ADDR-BY-NAME: [host, port], or nil when the sentinel knows no such name.
std::optional<std::pair<std::string, int>> parseMasterAddr(const redisReply* r);

// ROLE: ["master", offset, replicas] | ["slave", host, port, state, offset] | ["sentinel", ...].
// The role's name; empty when the reply is not a ROLE reply.
std::string_view roleOf(const redisReply* r);

// Calls `visit` for every entry of an XREADGROUP reply (nil: none) in order:
// [[stream, [[id, [f, v, ...] | nil], ...]], ...]. A pending entry trimmed from the stream has
// nil fields and is visited with none. `fields` is scratch reused for every entry; the views
// live as long as the reply. Returns the number visited.
size_t forEachStreamEntry(const redisReply* reply, std::vector<std::string_view>& fields,
                          const std::function<void(const pipeline::RawEntry&)>& visit);

// The entries of one stream's [[id, fields], ...] array.
size_t forEachEntry(std::string_view stream, const redisReply* entries,
                    std::vector<std::string_view>& fields,
                    const std::function<void(const pipeline::RawEntry&)>& visit);

// The entries of a reply as RawEntry values the consumer takes in one call. The views point
// into the reply (or into what copy() took); buffers are reused from reply to reply.
class ReplyEntries {
public:
  // Collects an XREADGROUP reply (nil: none).
  void collectRead(const redisReply* reply);
  // Collects one stream's [[id, fields], ...] array (XAUTOCLAIM's second element).
  void collectEntries(std::string_view stream, const redisReply* entries);
  // Copies what was collected into storage of its own, so the reply may be freed.
  void copy();
  // Sets the delivery counts from an XPENDING reply over the same entries.
  void setDeliveries(const std::vector<pipeline::PendingInfo>& counts);
  std::span<const pipeline::RawEntry> entries();
  size_t size() const { return items_.size(); }
  void clear();

private:
  struct Item {
    std::string_view stream;
    std::string_view id;
    size_t first_field;
    size_t fields;
    int64_t deliveries;
  };
  void add(const pipeline::RawEntry& e);
  std::vector<Item> items_;
  std::vector<std::string_view> fields_;
  std::vector<std::string_view> scratch_;
  std::vector<pipeline::RawEntry> entries_;
  pipeline::RawEntries owned_;
};

// XAUTOCLAIM: [next cursor, [[id, fields], ...], [deleted id, ...]].
struct AutoclaimReply {
  std::string next_cursor;
  const redisReply* entries = nullptr;
  int64_t deleted = 0;
};
std::optional<AutoclaimReply> parseAutoclaim(const redisReply* reply);

// XPENDING key group start end count [consumer]: [[id, consumer, idle ms, deliveries], ...].
std::vector<pipeline::PendingInfo> parsePending(const redisReply* reply);

// Our group in an XINFO GROUPS reply (one flat name/value array per group).
struct GroupInfo {
  int64_t pending = -1; // -1: not reported
  int64_t lag = -1;
  std::optional<core::EntryId> last_delivered;
};
std::optional<GroupInfo> findGroup(const redisReply* reply, std::string_view group);

// XINFO CONSUMERS: one flat name/value array per consumer.
struct ConsumerInfo {
  std::string name;
  int64_t pending = 0;
  int64_t idle_ms = 0;
};
std::vector<ConsumerInfo> parseConsumers(const redisReply* reply);

// XPENDING key group (the summary form): [count, smallest id, greatest id, [[consumer, n]...]].
struct PendingSummary {
  int64_t count = 0;
  std::optional<core::EntryId> oldest;
};
std::optional<PendingSummary> parsePendingSummary(const redisReply* reply);

} // namespace auditq::redis
