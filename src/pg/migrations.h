// Schema migrations: numbered up/down SQL pairs embedded in the binary, applied in order, each in
// its own transaction, recorded with a checksum in auditq_schema_migrations, serialised across
// hosts by an advisory lock.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "pg/connection.h"

namespace auditq::pg {

struct Migration {
  int version;
  std::string name; // "0001_sync_schema"
  std::string_view up_sql;
  std::string_view down_sql;
};

// The migrations built into this binary from migrations/, ordered by version.
const std::vector<Migration>& embeddedMigrations();

struct MigrationState {
  int version = 0;
  std::string name;
  bool known = true; // false: applied in the database but not in this binary
  bool applied = false;
  bool checksum_ok = true; // the applied checksum matches this binary's file
  std::string applied_at;  // empty when pending
};

// Outcome of up/down: which migrations were applied or rolled back, in order.
struct MigrationRun {
  std::vector<std::string> changed;
};

// Applies every pending migration. Idempotent. Throws Error when an applied migration's
// checksum differs from this binary's file (migrations are never edited once released), or on
// any SQL failure (the failing migration's transaction is rolled back; earlier ones stay).
MigrationRun migrateUp(Connection& conn, const std::vector<Migration>& migrations);

// Rolls back the `count` newest applied migrations, newest first. Throws Error if one of them
// is unknown to this binary or changed.
MigrationRun migrateDown(Connection& conn, const std::vector<Migration>& migrations, int count);

// Every migration known to the binary or recorded in the database, ordered by version.
std::vector<MigrationState> migrationStatus(Connection& conn,
                                            const std::vector<Migration>& migrations);

// Key of the advisory lock held while migrating ("auditq-m" as a big-endian int64).
inline constexpr long long kMigrationLockKey = 0x6175646974712d6dLL;

} // namespace auditq::pg
