// The stream position queries.
#include "pg/stream_positions.h"

#include "pg/connection_impl.h"

namespace auditq::pg {
namespace {

// Numbers, never the text: text order would put 9-0 after 10-0. sync_events has the id as
// bigints under its unique key: the newest partition answers first. The dead letters (few)
// keep ids beyond bigint as text: numeric there.
constexpr const char* kNewest = R"(
SELECT ms::text, seq::text FROM (
  (SELECT entry_ms::numeric AS ms, entry_seq::numeric AS seq FROM sync_events
   WHERE stream = $1 AND entry_seq IS NOT NULL ORDER BY entry_ms DESC, entry_seq DESC LIMIT 1)
  UNION ALL
  (SELECT split_part(entry_id, '-', 1)::numeric, split_part(entry_id, '-', 2)::numeric
   FROM auditq_dead_letters WHERE stream = $1)
) ids ORDER BY ids.ms DESC, ids.seq DESC LIMIT 1)";

std::optional<core::EntryId> idOf(const std::string& ms, const std::string& seq) {
  return core::EntryId::parse(ms + "-" + seq);
}

} // namespace

StreamPosition streamPosition(Connection& conn, const std::string& stream,
                              const std::string& group) {
  return mapErrors([&] {
    pqxx::work tx(conn.impl().conn);
    StreamPosition p;
    const auto newest = tx.exec_params(kNewest, stream);
    if (!newest.empty()) {
      p.newest_committed = idOf(newest[0][0].c_str(), newest[0][1].c_str());
    }
    const auto start = tx.exec_params(
        "SELECT start_id FROM auditq_stream_starts WHERE stream = $1 AND group_name = $2", stream,
        group);
    if (!start.empty()) {
      p.first_start = core::EntryId::parse(start[0][0].c_str());
    }
    tx.commit();
    return p;
  });
}

void recordGroupStart(Connection& conn, const std::string& stream, const std::string& group,
                      const core::EntryId& id) {
  mapErrors([&] {
    pqxx::work tx(conn.impl().conn);
    tx.exec_params("INSERT INTO auditq_stream_starts (stream, group_name, start_id) "
                   "VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                   stream, group, id.toString());
    tx.commit();
  });
}

int64_t reconcileTombstones(Connection& conn, int64_t window_seconds) {
  return mapErrors([&] {
    pqxx::work tx(conn.impl().conn);
    const auto r = tx.exec_params(R"(
WITH late AS (
  SELECT s.session_id, t.deleted_at FROM sync_sessions s
  JOIN auditq_tombstones t ON t.session_id = s.session_id
  WHERE t.recorded_at > now() - make_interval(secs => $1)
    AND s.deleted_at IS DISTINCT FROM t.deleted_at
  ORDER BY s.session_id FOR UPDATE OF s)
UPDATE sync_sessions s SET deleted_at = late.deleted_at FROM late
WHERE s.session_id = late.session_id)",
                                  window_seconds);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

} // namespace auditq::pg
