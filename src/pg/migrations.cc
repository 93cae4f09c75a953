// Applying, rolling back and listing schema migrations.
#include "pg/migrations.h"

#include <algorithm>
#include <chrono>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "core/log.h"
#include "pg/connection_impl.h"

namespace auditq::pg {
namespace {

constexpr const char* kCreateHistory = R"(
CREATE TABLE IF NOT EXISTS auditq_schema_migrations (
    version     INTEGER PRIMARY KEY,
    name        TEXT NOT NULL,
    checksum    TEXT NOT NULL,
    applied_at  TIMESTAMPTZ NOT NULL DEFAULT now()
))";

struct Applied {
  std::string name;
  std::string checksum;
  std::string applied_at;
};

// SHA-256 of the file text computed by the server, so the binary needs no crypto library.
std::string checksumOf(pqxx::transaction_base& tx, std::string_view sql) {
  return tx
      .exec_params1("SELECT encode(sha256(convert_to($1, 'UTF8')), 'hex')", std::string(sql))[0]
      .as<std::string>();
}

std::map<int, Applied> readApplied(pqxx::transaction_base& tx) {
  std::map<int, Applied> out;
  for (const auto& row : tx.exec("SELECT version, name, checksum, "
                                 "to_char(applied_at AT TIME ZONE 'UTC', "
                                 "'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
                                 "FROM auditq_schema_migrations ORDER BY version")) {
    out[row[0].as<int>()] = {row[1].as<std::string>(), row[2].as<std::string>(),
                             row[3].as<std::string>()};
  }
  return out;
}

// Holds the session-level advisory lock for its lifetime; a second `migrate up` on another
// host waits here instead of racing on CREATE TYPE.
class MigrationLock {
public:
  explicit MigrationLock(pqxx::connection& conn) : conn_(conn) {
    // Polled, never waited for in a statement: a waiting statement holds a snapshot, and an
    // online migration's CREATE INDEX CONCURRENTLY waits for every snapshot to go (deadlock).
    for (bool logged = false;; logged = true) {
      {
        pqxx::nontransaction tx(conn_);
        const auto r =
            tx.exec_params1("SELECT pg_try_advisory_lock($1), pg_backend_pid()", kMigrationLockKey);
        if (r[0].as<bool>()) {
          pid_ = r[1].as<int>();
          return;
        }
      }
      if (!logged) {
        core::log::info("migration_lock_wait", {{"reason", "another migration holds the lock"}});
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(200));
    }
  }
  ~MigrationLock() {
    try {
      pqxx::nontransaction tx(conn_);
      tx.exec_params("SELECT pg_advisory_unlock($1)", kMigrationLockKey);
    } catch (...) {
      // The lock dies with the session anyway.
    }
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

  // Throws unless `tx` runs in the session that holds the lock. Through a pooler in
  // transaction mode (pgbouncer pool_mode = transaction) consecutive transactions may run in
  // different server sessions: the lock would protect nothing and never be released, and an
  // online migration's steps need one session. Migrations go to PostgreSQL itself.
  void check(pqxx::transaction_base& tx) const {
    if (tx.exec1("SELECT pg_backend_pid()")[0].as<int>() != pid_) {
      throw Error("postgres.url (DATABASE_URL) leads through a pooler in transaction mode: "
                  "consecutive transactions ran in different server sessions, so the migration "
                  "lock protects nothing; run `auditq migrate` against PostgreSQL directly (the "
                  "daemon itself works through such a pooler)",
                  "");
    }
  }

private:
  pqxx::connection& conn_;
  int pid_ = 0;
};

void ensureHistory(pqxx::connection& conn) {
  pqxx::work tx(conn);
  tx.exec(kCreateHistory);
  tx.commit();
}

void verifyChecksums(pqxx::connection& conn, const std::vector<Migration>& migrations,
                     const std::map<int, Applied>& applied) {
  pqxx::read_transaction tx(conn);
  for (const auto& m : migrations) {
    auto it = applied.find(m.version);
    if (it == applied.end()) {
      continue;
    }
    const std::string now = checksumOf(tx, m.up_sql);
    if (now != it->second.checksum) {
      throw Error(fmt::format("migration {} was changed after it was applied (checksum {} in the "
                              "database, {} in this binary); released migrations are never "
                              "edited: restore the file and add a new migration",
                              m.name, it->second.checksum.substr(0, 12), now.substr(0, 12)),
                  "");
    }
  }
}

// A migration whose first line is `-- auditq:online` is split at its `-- auditq:step` lines;
// any other is one step.
std::vector<std::string_view> stepsOf(std::string_view sql) {
  constexpr std::string_view kOnline = "-- auditq:online";
  constexpr std::string_view kStep = "\n-- auditq:step\n";
  if (sql.substr(0, kOnline.size()) != kOnline) {
    return {sql};
  }
  std::vector<std::string_view> steps;
  for (size_t at = 0;;) {
    const size_t next = sql.find(kStep, at);
    steps.push_back(sql.substr(at, next == std::string_view::npos ? next : next - at));
    if (next == std::string_view::npos) {
      return steps;
    }
    at = next + kStep.size();
  }
}

} // namespace

namespace {

// Under the lock: the history table exists, and every applied migration this binary knows
// still has the checksum it was applied with.
std::map<int, Applied> appliedAndVerified(pqxx::connection& c,
                                          const std::vector<Migration>& migrations) {
  ensureHistory(c);
  std::map<int, Applied> applied;
  {
    pqxx::read_transaction tx(c);
    applied = readApplied(tx);
  }
  verifyChecksums(c, migrations, applied);
  return applied;
}

} // namespace

MigrationRun migrateUp(Connection& conn, const std::vector<Migration>& migrations) {
  return mapErrors([&] {
    auto& c = conn.impl().conn;
    MigrationLock lock(c);
    const std::map<int, Applied> applied = appliedAndVerified(c, migrations);
    MigrationRun run;
    for (const auto& m : migrations) {
      if (applied.count(m.version) != 0) {
        continue;
      }
      const std::vector<std::string_view> steps = stepsOf(m.up_sql);
      // An online migration's steps before the last run on their own (each commits what it
      // did, and can run again after a crash); the last runs with the record of the migration.
      for (size_t i = 0; i + 1 < steps.size(); ++i) {
        pqxx::nontransaction tx(c);
        lock.check(tx);
        tx.exec(std::string(steps[i]));
      }
      for (int attempt = 1;; ++attempt) {
        try {
          pqxx::work tx(c);
          lock.check(tx);
          tx.exec(std::string(steps.back()));
          tx.exec_params("INSERT INTO auditq_schema_migrations (version, name, checksum) "
                         "VALUES ($1, $2, $3)",
                         m.version, m.name, checksumOf(tx, m.up_sql));
          tx.commit();
          break;
        } catch (const pqxx::sql_error& e) {
          // Roles are cluster-wide, the migration lock is per database: another database
          // migrating at the same moment may create the same role first (23505 on
          // pg_authid's unique index, or 42710 duplicate_object) or change it under us (XX000
          // "tuple concurrently updated"). The transaction rolled back: run it again, and the
          // role is found. A migration that fails for a reason of its own fails five times.
          const std::string& state = e.sqlstate();
          if (attempt == 5 ||
              (state != "23505" && state != "42710" && state != "XX000" && state != "40001")) {
            throw;
          }
          std::this_thread::sleep_for(std::chrono::milliseconds(50 * attempt));
        }
      }
      core::log::info("migration_applied", {{"migration", m.name}});
      run.changed.push_back(m.name);
    }
    return run;
  });
}

MigrationRun migrateDown(Connection& conn, const std::vector<Migration>& migrations, int count) {
  return mapErrors([&] {
    auto& c = conn.impl().conn;
    MigrationLock lock(c);
    const std::map<int, Applied> applied = appliedAndVerified(c, migrations);
    MigrationRun run;
    for (auto it = applied.rbegin(); it != applied.rend() && count > 0; ++it, --count) {
      auto m = std::find_if(migrations.begin(), migrations.end(),
                            [&](const Migration& x) { return x.version == it->first; });
      if (m == migrations.end()) {
        throw Error(fmt::format("migration {} is applied but unknown to this binary; roll it back "
                                "with the auditq version that applied it",
                                it->second.name),
                    "");
      }
      pqxx::work tx(c);
      lock.check(tx);
      tx.exec(std::string(m->down_sql));
      tx.exec_params("DELETE FROM auditq_schema_migrations WHERE version = $1", m->version);
      tx.commit();
      core::log::info("migration_rolled_back", {{"migration", m->name}});
      run.changed.push_back(m->name);
    }
    return run;
  });
}

std::vector<MigrationState> migrationStatus(Connection& conn,
                                            const std::vector<Migration>& migrations) {
  return mapErrors([&] {
    auto& c = conn.impl().conn;
    pqxx::read_transaction tx(c);
    std::map<int, Applied> applied;
    if (tx.exec1("SELECT to_regclass('auditq_schema_migrations') IS NOT NULL")[0].as<bool>()) {
      applied = readApplied(tx);
    }
    std::map<int, MigrationState> states;
    for (const auto& m : migrations) {
      MigrationState s;
      s.version = m.version;
      s.name = m.name;
      if (auto it = applied.find(m.version); it != applied.end()) {
        s.applied = true;
        s.applied_at = it->second.applied_at;
        s.checksum_ok = checksumOf(tx, m.up_sql) == it->second.checksum;
      }
      states[m.version] = s;
    }
    for (const auto& [version, a] : applied) {
      if (states.count(version) == 0) {
        states[version] = {version, a.name, false, true, true, a.applied_at};
      }
    }
    std::vector<MigrationState> out;
    out.reserve(states.size());
    for (auto& [version, s] : states) {
      out.push_back(std::move(s));
    }
    return out;
  });
}

} // namespace auditq::pg
