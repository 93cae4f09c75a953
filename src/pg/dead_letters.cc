// Queries on auditq_dead_letters.
#include "pg/dead_letters.h"

#include <fmt/format.h>

#include "pg/connection_impl.h"

namespace auditq::pg {
namespace {

constexpr const char* kColumns =
    "id, stream, entry_id, fields::text, reason, coalesce(error, ''), delivery_count, "
    "to_char(dead_lettered_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
    "coalesce(to_char(replayed_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
    "coalesce(replayed_as, '')";

DeadLetter fromRow(const pqxx::row& r) {
  DeadLetter d;
  d.id = r[0].as<int64_t>();
  d.stream = r[1].as<std::string>();
  d.entry_id = r[2].as<std::string>();
  d.fields_json = r[3].as<std::string>();
  d.reason = r[4].as<std::string>();
  d.error = r[5].as<std::string>();
  d.delivery_count = r[6].as<int64_t>();
  d.dead_lettered_at = r[7].as<std::string>();
  d.replayed_at = r[8].as<std::string>();
  d.replayed_as = r[9].as<std::string>();
  return d;
}

std::string idArray(const std::vector<int64_t>& ids) {
  return fmt::format("{{{}}}", fmt::join(ids, ","));
}

// Marks `sent` (letter id, new entry id) replayed in `tx`.
void markReplayed(pqxx::work& tx, const std::vector<std::pair<int64_t, std::string>>& sent) {
  for (const auto& [id, new_id] : sent) {
    tx.exec_params("UPDATE auditq_dead_letters SET replayed_at = now(), replayed_as = $2 "
                   "WHERE id = $1",
                   id, new_id);
  }
}

} // namespace

std::vector<DeadLetter> listDeadLetters(Connection& conn, const DeadLetterFilter& filter) {
  return mapErrors([&] {
    pqxx::work tx(conn.impl().conn);
    const auto rows = tx.exec_params(
        fmt::format("SELECT {} FROM auditq_dead_letters "
                    "WHERE ($1::text IS NULL OR stream = $1) AND ($2::text IS NULL OR reason = $2) "
                    "ORDER BY id LIMIT $3",
                    kColumns),
        filter.stream, filter.reason, filter.limit);
    std::vector<DeadLetter> out;
    out.reserve(rows.size());
    for (const auto& r : rows) {
      out.push_back(fromRow(r));
    }
    return out;
  });
}

ReplayResult replayDeadLetters(Connection& conn, const std::vector<int64_t>& ids,
                               const std::function<Sent(const DeadLetter&)>& send) {
  return mapErrors([&] {
    ReplayResult result;
    auto& c = conn.impl().conn;
    // By id: one transaction. All: chunks in id order (so letters that cannot be replayed are
    // passed, not met again), each locking rows no concurrent replay holds.
    constexpr int kChunk = 500;
    int64_t after = 0;
    for (;;) {
      pqxx::work tx(c);
      pqxx::result rows;
      if (!ids.empty()) {
        rows = tx.exec_params(fmt::format("SELECT {} FROM auditq_dead_letters "
                                          "WHERE id = ANY($1::bigint[]) ORDER BY id FOR UPDATE",
                                          kColumns),
                              idArray(ids));
      } else {
        rows = tx.exec_params(fmt::format("SELECT {} FROM auditq_dead_letters "
                                          "WHERE replayed_at IS NULL AND id > $2 ORDER BY id "
                                          "LIMIT $1 FOR UPDATE SKIP LOCKED",
                                          kColumns),
                              kChunk, after);
      }
      std::vector<std::pair<int64_t, std::string>> sent;
      std::vector<int64_t> found;
      try {
        for (const auto& r : rows) {
          const DeadLetter d = fromRow(r);
          found.push_back(d.id);
          after = std::max(after, d.id);
          if (!d.replayed_at.empty()) {
            result.already_replayed.push_back(d.id);
            continue;
          }
          Sent s = send(d);
          if (s.entry_id) {
            sent.emplace_back(d.id, std::move(*s.entry_id));
          } else {
            result.unreplayable.emplace_back(d.id, std::move(s.why_not));
          }
        }
      } catch (...) {
        markReplayed(tx, sent); // what went out is recorded, so a rerun does not send it again
        tx.commit();
        throw;
      }
      markReplayed(tx, sent);
      tx.commit();
      for (const auto& s : sent) {
        result.replayed.push_back(s.first);
      }
      if (!ids.empty()) {
        for (int64_t id : ids) {
          if (std::find(found.begin(), found.end(), id) == found.end()) {
            result.missing.push_back(id);
          }
        }
        return result;
      }
      if (rows.size() < static_cast<size_t>(kChunk)) {
        return result;
      }
    }
  });
}

int64_t purgeDeadLetters(Connection& conn, int64_t older_than_seconds) {
  return mapErrors([&] {
    pqxx::work tx(conn.impl().conn);
    const auto r = tx.exec_params("DELETE FROM auditq_dead_letters "
                                  "WHERE dead_lettered_at < now() - make_interval(secs => $1)",
                                  older_than_seconds);
    tx.commit();
    return static_cast<int64_t>(r.affected_rows());
  });
}

std::map<std::string, int64_t> recentDeadLetters(Connection& conn, const std::string& stream,
                                                 int64_t seconds) {
  return mapErrors([&] {
    pqxx::read_transaction tx(conn.impl().conn);
    std::map<std::string, int64_t> out;
    for (const auto& row :
         tx.exec_params("SELECT reason, count(*) FROM auditq_dead_letters WHERE stream = $1 "
                        "AND dead_lettered_at > now() - make_interval(secs => $2) GROUP BY reason",
                        stream, seconds)) {
      out[row[0].as<std::string>()] = row[1].as<int64_t>();
    }
    return out;
  });
}

} // namespace auditq::pg
