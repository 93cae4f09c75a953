// The newest snapshot of every session, streamed from PostgreSQL through a server-side cursor
// (memory stays bounded whatever the number of sessions), for `auditq --recover`.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "pg/connection.h"
#include "pipeline/recover_plan.h"

namespace auditq::pg {

enum class SnapshotSource {
  // sync_sessions keeps the reference (stream, entry id) of its newest snapshot: one indexed
  // lookup per session. Needs projections.sessions.
  Sessions,
  // Without the projection: the newest-version event with a state per session, in one sorted
  // pass over sync_events (DISTINCT ON).
  Events,
};

// A share of the sessions (by a hash of their id), so that several connections can read in
// parallel: {0, 1} is all of them.
struct Partition {
  int64_t index = 0;
  int64_t count = 1;
};

// Calls `visit` for each session of `partition` (or only `session_id`), in one REPEATABLE READ
// snapshot. The snapshot itself is fetched only for sessions `rules` may restore (the others
// are still visited, to be counted): reading it is most of the work.
void forEachNewestSnapshot(Connection& conn, SnapshotSource source,
                           const std::optional<std::string>& session_id, Partition partition,
                           const pipeline::RecoverRules& rules, int64_t fetch_rows,
                           const std::function<void(const pipeline::SnapshotRow&)>& visit);

} // namespace auditq::pg
