// The audit store's read side (see audit_store.h).
#include "pg/audit_store.h"

#include <fmt/format.h>

#include "pg/connection_impl.h"
#include "pg/row_digest.h"

namespace auditq::pg {

VerifyInput readVerifyInput(Connection& conn, const std::optional<std::string>& stream,
                            const std::string& since) {
  return mapErrors([&] {
    pqxx::transaction<pqxx::repeatable_read, pqxx::read_only> tx(conn.impl().conn);
    VerifyInput in;
    in.kept_from_ms = tx.exec1("SELECT coalesce(min(coalesce(lo_ms, 0)), 0)::bigint "
                               "FROM auditq_partitions WHERE parent = 'sync_events' "
                               "AND detached_at IS NULL")[0]
                          .as<int64_t>();
    const std::optional<std::string> since_param =
        since.empty() ? std::nullopt : std::optional<std::string>(since);
    const std::string since_sql = "coalesce($2::timestamptz, '-infinity')";
    // One pass over the rows since the oldest batch asked for, grouped by batch.
    const auto rows = tx.exec_params(
        fmt::format("WITH b AS (SELECT * FROM auditq_batches WHERE committed_at >= {}", since_sql) +
            " AND ($1::text IS NULL OR $1 = ANY(streams))),"
            " r AS (SELECT e.batch_id, count(*) AS n, encode(" AUDITQ_ROWS_DIGEST
            ", 'hex') AS d FROM sync_events e WHERE e.entry_ms >= "
            "(SELECT coalesce(min(first_ms), 0) FROM b) AND e.batch_id IN (SELECT id FROM b) "
            "GROUP BY e.batch_id) "
            "SELECT b.id, b.chain, b.seq, b.first_ms, b.row_count, encode(b.rows_digest, 'hex'), "
            "coalesce(encode(b.prev_digest, 'hex'), ''), encode(b.digest, 'hex'), "
            "to_char(b.committed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
            "coalesce(r.n, 0), coalesce(r.d, '') "
            "FROM b LEFT JOIN r ON r.batch_id = b.id ORDER BY b.chain, b.seq",
        stream, since_param);
    for (const auto& r : rows) {
      pipeline::BatchRecord b;
      b.id = r[0].as<int64_t>();
      b.chain = r[1].as<std::string>();
      b.seq = r[2].as<int64_t>();
      b.first_ms = r[3].as<int64_t>();
      b.row_count = r[4].as<int64_t>();
      b.rows_digest = r[5].as<std::string>();
      b.prev_digest = r[6].as<std::string>();
      b.digest = r[7].as<std::string>();
      b.committed_at = r[8].as<std::string>();
      b.rows_now = r[9].as<int64_t>();
      b.rows_digest_now = r[10].as<std::string>();
      in.records.push_back(std::move(b));
    }
    // Rows no batch accounts for: no batch id outside the legacy partition (written since
    // migration 0007 by someone else), or an id with no record. (Rows older than the
    // migration's day carry no batch id: they cannot be told from the ones it found.)
    const std::string orphans_sql = fmt::format(
        "SELECT count(*), min(coalesce(e.stream, '') || ' ' || coalesce(e.entry_id, '')) "
        "FROM sync_events e "
        "WHERE e.tableoid::oid <> coalesce(to_regclass('sync_events_legacy')::oid, 0) "
        "AND e.\"timestamp\" >= {} AND ($1::text IS NULL OR e.stream = $1) "
        "AND (e.batch_id IS NULL OR NOT EXISTS "
        "(SELECT 1 FROM auditq_batches b WHERE b.id = e.batch_id))",
        since_sql);
    const auto orphans = tx.exec_params(orphans_sql, stream, since_param);
    in.unaccounted_rows = orphans[0][0].as<int64_t>();
    in.unaccounted_example = orphans[0][1].is_null() ? "" : orphans[0][1].as<std::string>();
    return in;
  });
}

void forEachAnnouncedRow(Connection& conn, const Announced& a,
                         const std::optional<std::string>& session_id, bool json,
                         const std::function<void(const std::vector<std::string>&)>& visit) {
  mapErrors([&] {
    pqxx::read_transaction tx(conn.impl().conn);
    const std::string what =
        json ? "row_to_json(e)::text"
             : "e.stream, e.entry_id, to_char(e.\"timestamp\" AT TIME ZONE 'UTC', "
               "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), e.session_id::text, e.event_type, "
               "coalesce(e.version::text, '-')";
    const auto rows = tx.exec_params(
        "SELECT " + what +
            " FROM sync_events e WHERE e.stream = $1 "
            "AND (e.entry_ms, e.entry_seq) >= (auditq_entry_ms($2), auditq_entry_seq($2)) "
            "AND (e.entry_ms, e.entry_seq) <= (auditq_entry_ms($3), auditq_entry_seq($3)) "
            "AND e.entry_ms BETWEEN auditq_entry_ms($2) AND auditq_entry_ms($3) "
            "AND ($4::uuid IS NULL OR e.session_id = $4::uuid) "
            "ORDER BY e.entry_ms, e.entry_seq",
        a.stream, a.first, a.last, session_id);
    std::vector<std::string> cols;
    for (const auto& r : rows) {
      cols.clear();
      for (const auto& f : r) {
        cols.push_back(f.is_null() ? "" : f.as<std::string>());
      }
      visit(cols);
    }
  });
}

} // namespace auditq::pg
