// An in-memory model of the Redis commands auditq uses on streams and consumer groups, with
// the semantics of Redis 7: entry ids from the clock, one consumer group per stream (the only
// one auditq uses), pending entries lists with delivery counts and idle times, XAUTOCLAIM with
// its cursor and deleted entries, XCLAIM JUSTID, XACK, and data loss (FLUSHALL, a restart
// without persistence). Test-only; deterministic; no I/O.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/entry_id.h"

namespace auditq::sim {

using core::EntryId;

struct StoredEntry {
  std::vector<std::string> fields;
};

struct PendingEntry {
  std::string consumer;
  int64_t deliveries = 1;
  int64_t delivered_at = 0;
};

struct GroupState {
  EntryId last_delivered;
  std::map<EntryId, PendingEntry> pel;
};

struct StreamState {
  std::map<EntryId, StoredEntry> entries;
  EntryId last_id;
  std::optional<GroupState> group;
};

// One entry of a reply: its id and fields (empty fields with `deleted` for a pending entry no
// longer in the stream).
struct ReplyEntry {
  std::string stream;
  EntryId id;
  const std::vector<std::string>* fields = nullptr; // null: deleted
  int64_t deliveries = 1;
};

class RedisModel {
public:
  // XADD stream * fields: the id is max(clock, last+1), as Redis makes it.
  EntryId xadd(const std::string& stream, std::vector<std::string> fields, int64_t now_ms);
  // XGROUP CREATE stream group id MKSTREAM. False: BUSYGROUP.
  bool createGroup(const std::string& stream, const std::string& id);
  bool groupExists(const std::string& stream) const;
  // Entries after `id` (the group's lag once created there).
  int64_t entriesAfter(const std::string& stream, const EntryId& id) const;
  // XREADGROUP ... > : false on NOGROUP (any stream).
  bool readNew(const std::vector<std::string>& streams, const std::string& consumer, size_t count,
               int64_t now, std::vector<ReplyEntry>& out);
  // XREADGROUP ... STREAMS s <after>: the consumer's own pending entries; false on NOGROUP.
  bool readPending(const std::string& stream, const std::string& consumer, const EntryId& after,
                   size_t count, int64_t now, std::vector<ReplyEntry>& out);
  // XPENDING s g (after|-) + count consumer: false on NOGROUP.
  bool listPending(const std::string& stream, const std::string& consumer,
                   const std::optional<EntryId>& after, size_t count,
                   std::vector<std::pair<EntryId, int64_t>>& out) const;
  // XAUTOCLAIM: false on NOGROUP. `next` gets the next cursor, `deleted` the ids dropped.
  bool autoclaim(const std::string& stream, const std::string& consumer, int64_t min_idle,
                 const EntryId& cursor, size_t count, int64_t now, std::vector<ReplyEntry>& out,
                 EntryId& next, int64_t& deleted);
  // XCLAIM ... 0 ids JUSTID: false on NOGROUP.
  bool claimJustId(const std::string& stream, const std::string& consumer,
                   const std::vector<EntryId>& ids, int64_t now);
  // XACK: false on NOGROUP.
  bool ack(const std::string& stream, const std::vector<EntryId>& ids);
  void flushAll() { streams_.clear(); }
  void del(const std::string& stream) { streams_.erase(stream); }

  const std::map<std::string, StreamState>& streams() const { return streams_; }
  size_t pendingCount() const;

private:
  std::map<std::string, StreamState> streams_;
};

} // namespace auditq::sim
