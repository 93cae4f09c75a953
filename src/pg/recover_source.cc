// Recovery queries.
#include "pg/recover_source.h"

#include <fmt/format.h>

#include "core/entry_id.h"
#include "pg/connection_impl.h"

namespace auditq::pg {
namespace {

// Columns: session_id, version, tombstoned, terminal, age in seconds, snapshot. The outer
// query looks the snapshot up only for the rows the rules ({wanted}) may restore. The snapshot's
// entry id is split into (ms, seq) once per row, inside x (OFFSET 0 keeps the planner from
// pulling the expressions into the lookup, where runtime pruning and the index condition would
// each evaluate them again), and by plain string functions for the ids auditq writes: the
// auditq_entry_ms/auditq_entry_seq helpers check their argument with a bounded regex that costs
// about 9 us a row, which took more than half of a recovery's time. They still handle anything
// else (a part too long for bigint arithmetic without numeric, or not an id at all).
#define AUDITQ_PLAIN_ID                                                                            \
  "s.snapshot_entry_id ~ '^[0-9]+-[0-9]+$' AND strpos(s.snapshot_entry_id, '-') <= 19 AND "        \
  "octet_length(s.snapshot_entry_id) - strpos(s.snapshot_entry_id, '-') <= 18"
constexpr const char* kFromSessions = R"(
SELECT x.session_id::text, x.version, x.tombstoned, x.terminal, x.age,
       CASE WHEN {wanted} THEN (SELECT e.state_snapshot::text FROM sync_events e
                                WHERE e.stream = x.snapshot_stream
                                  AND e.entry_ms = x.snapshot_ms
                                  AND e.entry_seq = x.snapshot_seq) END
FROM (SELECT s.session_id, s.version, s.snapshot_stream,
             CASE WHEN )" AUDITQ_PLAIN_ID R"( THEN split_part(s.snapshot_entry_id, '-', 1)::bigint
                  ELSE auditq_entry_ms(s.snapshot_entry_id) END AS snapshot_ms,
             CASE WHEN )" AUDITQ_PLAIN_ID R"( THEN split_part(s.snapshot_entry_id, '-', 2)::bigint
                  ELSE auditq_entry_seq(s.snapshot_entry_id) END AS snapshot_seq,
             s.deleted_at IS NOT NULL OR t.session_id IS NOT NULL AS tombstoned,
             coalesce(s.status IN ('completed', 'cancelled', 'expired'), false) AS terminal,
             floor(extract(epoch FROM now() - coalesce(s.last_event_at, s.last_updated_at)))::bigint
                 AS age
      FROM sync_sessions s
      LEFT JOIN auditq_tombstones t ON t.session_id = s.session_id
      {filter} OFFSET 0) x)";
#undef AUDITQ_PLAIN_ID

// The newest version wins; among equal versions the latest entry id (numerically).
constexpr const char* kFromEvents = R"(
SELECT DISTINCT ON (e.session_id) e.session_id::text, e.version,
       EXISTS (SELECT 1 FROM auditq_tombstones t WHERE t.session_id = e.session_id),
       coalesce(e.state_snapshot->>'status' IN ('completed', 'cancelled', 'expired'), false),
       floor(extract(epoch FROM now() - e."timestamp"))::bigint,
       e.state_snapshot::text
FROM sync_events e
WHERE e.state_snapshot IS NOT NULL {}
ORDER BY e.session_id, e.version DESC NULLS LAST,
         e.entry_ms DESC, e.entry_seq DESC NULLS LAST)";

// What the rules may restore, over the columns tombstoned, terminal and age.
std::string wantedCondition(const pipeline::RecoverRules& rules) {
  std::string c = "NOT x.tombstoned";
  if (!rules.include_terminal) {
    c += " AND NOT x.terminal";
  }
  if (!rules.all) {
    c += fmt::format(" AND x.age <= {}", rules.max_age_seconds);
  }
  return c;
}

} // namespace

void forEachNewestSnapshot(Connection& conn, SnapshotSource source,
                           const std::optional<std::string>& session_id, Partition partition,
                           const pipeline::RecoverRules& rules, int64_t fetch_rows,
                           const std::function<void(const pipeline::SnapshotRow&)>& visit) {
  mapErrors([&] {
    auto& c = conn.impl().conn;
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(c);
    const bool sessions = source == SnapshotSource::Sessions;
    const char* alias = sessions ? "s" : "e";
    std::string filter;
    if (session_id) {
      // The caller validated it as a UUID; escaped all the same.
      filter = fmt::format("{}.session_id = '{}'::uuid", alias, tx.esc(*session_id));
    } else if (partition.count > 1) {
      // uuid_hash: a third of the cost of hashing the text form (uuid_out, then hashtext).
      filter = fmt::format("(uuid_hash({}.session_id) & 2147483647) % {} = {}", alias,
                           partition.count, partition.index);
    }
    if (!filter.empty()) {
      filter = fmt::format("{} {}", sessions ? "WHERE" : "AND", filter);
    }
    const std::string query = sessions ? fmt::format(fmt::runtime(kFromSessions),
                                                     fmt::arg("wanted", wantedCondition(rules)),
                                                     fmt::arg("filter", filter))
                                       : fmt::format(fmt::runtime(kFromEvents), filter);
    // JIT compiling this plan costs more than it saves (measured: 160 ms of 1.5 s).
    tx.exec("SET LOCAL jit = off");
    tx.exec(fmt::format("DECLARE auditq_recover NO SCROLL CURSOR FOR {}", query));
    const std::string fetch = fmt::format("FETCH FORWARD {} FROM auditq_recover", fetch_rows);
    for (;;) {
      const pqxx::result rows = tx.exec(fetch);
      for (const auto& r : rows) {
        pipeline::SnapshotRow row;
        row.session_id = std::string_view(r[0].c_str(), r[0].size());
        if (!r[1].is_null()) {
          row.version = r[1].as<int64_t>();
        }
        row.tombstoned = r[2].as<bool>();
        row.terminal = r[3].as<bool>();
        row.age_seconds = r[4].is_null() ? 0 : r[4].as<int64_t>();
        if (!r[5].is_null()) {
          row.snapshot = std::string_view(r[5].c_str(), r[5].size());
        }
        visit(row);
      }
      if (rows.size() < static_cast<size_t>(fetch_rows)) {
        break;
      }
    }
    tx.commit();
  });
}

} // namespace auditq::pg
