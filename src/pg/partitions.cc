// Partition listing, premaking and retention.
#include "pg/partitions.h"

#include <fmt/format.h>

#include "pg/connection_impl.h"

namespace auditq::pg {
namespace {

// A range bound as text: the UTC time it stands for, the number past year 9999, or the open end.
#define AUDITQ_BOUND(col, open)                                                                    \
  "CASE WHEN " col " IS NULL THEN '" open "' WHEN " col " < 253402300800000 THEN "                 \
  "to_char(to_timestamp(" col " / 1000) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "    \
  "ELSE " col "::text END"

constexpr const char* kList = "SELECT p.parent, p.name, " AUDITQ_BOUND(
    "p.lo_ms", "MINVALUE") ", " AUDITQ_BOUND("p.hi_ms", "MAXVALUE") R"(, p.detached_at IS NULL,
       greatest(coalesce(c.reltuples, 0), 0)::bigint, coalesce(pg_total_relation_size(c.oid), 0)
FROM auditq_partitions p LEFT JOIN pg_class c ON c.oid = to_regclass(p.name)
WHERE c.oid IS NOT NULL
ORDER BY p.lo_ms NULLS FIRST, p.parent)";

constexpr const char* kPrunable = "SELECT parent, name, " AUDITQ_BOUND(
    "lo_ms", "MINVALUE") ", " AUDITQ_BOUND("hi_ms", "MAXVALUE") R"(, holds_snapshot
FROM auditq_prunable_partitions($1, $2))";
#undef AUDITQ_BOUND

// After a concurrent detach, as the SECURITY DEFINER function does after its own: the digests
// of batches wholly before what is kept go (auditq verify starts at the oldest kept batch).
constexpr const char* kForgetBatches = R"(
DELETE FROM auditq_batches
WHERE last_ms < (SELECT min(coalesce(lo_ms, 0)) FROM auditq_partitions
                 WHERE parent = 'sync_events' AND detached_at IS NULL))";

} // namespace

std::vector<PartitionInfo> listPartitions(Connection& conn) {
  return mapErrors([&] {
    pqxx::read_transaction tx(conn.impl().conn);
    std::vector<PartitionInfo> out;
    for (const auto& r : tx.exec(kList)) {
      out.push_back({r[0].as<std::string>(), r[1].as<std::string>(), r[2].as<std::string>(),
                     r[3].as<std::string>(), r[4].as<bool>(), r[5].as<int64_t>(),
                     r[6].as<int64_t>()});
    }
    return out;
  });
}

std::vector<std::string> premakePartitions(Connection& conn, int64_t width_ms, int64_t count,
                                           int64_t now_ms) {
  return mapErrors([&] {
    std::vector<std::string> made;
    pqxx::nontransaction tx(conn.impl().conn);
    for (int64_t i = 0; i <= count; ++i) {
      for (const char* parent : {"sync_events", "auditq_dead_letters"}) {
        const auto r = tx.exec_params1("SELECT auditq_ensure_partition($1, $2, $3)", parent,
                                       now_ms + i * width_ms, width_ms);
        if (!r[0].is_null()) {
          made.push_back(r[0].as<std::string>());
        }
      }
    }
    return made;
  });
}

PruneResult prunePartitions(Connection& conn, const PruneOptions& options, int64_t now_ms) {
  return mapErrors([&] {
    auto& c = conn.impl().conn;
    PruneResult result;
    {
      pqxx::nontransaction tx(c);
      if (!tx.exec_params1("SELECT pg_try_advisory_lock($1)", kRetentionLockKey)[0].as<bool>()) {
        return result;
      }
    }
    result.ran = true;
    struct Unlock {
      pqxx::connection& c;
      ~Unlock() {
        try {
          pqxx::nontransaction tx(c);
          tx.exec_params("SELECT pg_advisory_unlock($1)", kRetentionLockKey);
        } catch (...) {
          // The lock dies with the session.
        }
      }
    } unlock{c};
    std::vector<PruneStep> candidates;
    {
      pqxx::read_transaction tx(c);
      for (const auto& r : tx.exec_params(kPrunable, now_ms - options.keep_seconds * 1000,
                                          options.recover_max_age_seconds)) {
        PruneStep s;
        s.partition = {r[0].as<std::string>(),
                       r[1].as<std::string>(),
                       r[2].as<std::string>(),
                       r[3].as<std::string>(),
                       true,
                       0,
                       0};
        if (r[4].as<bool>()) {
          s.action = "kept_snapshot";
          s.detail = "holds the newest snapshot of a session --recover would restore";
        }
        candidates.push_back(std::move(s));
      }
    }
    for (auto& s : candidates) {
      if (!s.action.empty()) {
        result.steps.push_back(std::move(s));
        continue;
      }
      if (options.dry_run) {
        s.action = options.drop ? "would_drop" : "would_detach";
        result.steps.push_back(std::move(s));
        continue;
      }
      try {
        if (options.concurrently) {
          {
            pqxx::nontransaction tx(c);
            tx.exec(fmt::format("ALTER TABLE {} DETACH PARTITION {} CONCURRENTLY",
                                tx.quote_name(s.partition.parent),
                                tx.quote_name(s.partition.name)));
          }
          pqxx::work tx(c);
          tx.exec_params("UPDATE auditq_partitions SET detached_at = now() "
                         "WHERE parent = $1 AND name = $2",
                         s.partition.parent, s.partition.name);
          tx.exec(kForgetBatches);
          if (options.drop) {
            tx.exec("DROP TABLE " + tx.quote_name(s.partition.name));
          }
          tx.commit();
        } else {
          pqxx::work tx(c);
          tx.exec_params("SELECT auditq_detach_partition($1, $2, $3)", s.partition.parent,
                         s.partition.name, options.drop);
          tx.commit();
        }
        s.action = options.drop ? "dropped" : "detached";
      } catch (const pqxx::sql_error& e) {
        s.action = "failed";
        s.detail = e.what();
        if (!c.is_open()) {
          throw;
        }
      }
      result.steps.push_back(std::move(s));
    }
    return result;
  });
}

} // namespace auditq::pg
