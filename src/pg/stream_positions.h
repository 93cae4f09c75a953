// Where a stream's consumer group stands in PostgreSQL's eyes: the newest entry id committed
// (sync_events and auditq_dead_letters, compared numerically), and where its first group was
// recorded to start (auditq_stream_starts). The daemon and `--recover` re-create a lost group
// from these (pipeline::groupStartId).
#pragma once

#include <optional>
#include <string>

#include "core/entry_id.h"
#include "pg/connection.h"

namespace auditq::pg {

struct StreamPosition {
  std::optional<core::EntryId> newest_committed;
  std::optional<core::EntryId> first_start;
  // Where a re-created group resumes: after the newest committed entry, else after the
  // recorded first start; nullopt: PostgreSQL has never seen the stream.
  std::optional<core::EntryId> resumeFrom() const {
    return newest_committed ? newest_committed : first_start;
  }
};

// Throws Error. One lookup down the unique key (stream, entry_ms, entry_seq), newest partition
// first, plus the stream's dead letters.
StreamPosition streamPosition(Connection& conn, const std::string& stream,
                              const std::string& group);

// Records that the stream's group first started after `id` (the first record stays).
void recordGroupStart(Connection& conn, const std::string& stream, const std::string& group,
                      const core::EntryId& id);

// Sets sync_sessions.deleted_at to the tombstone of sessions whose tombstone was recorded in the
// last `window_seconds` and whose row disagrees: the one case the writers' lock order cannot
// cover (a session's first state and its tombstone committed at the same moment by two
// writers, neither seeing the other). Rows are locked in session order. Returns rows fixed.
int64_t reconcileTombstones(Connection& conn, int64_t window_seconds);

} // namespace auditq::pg
