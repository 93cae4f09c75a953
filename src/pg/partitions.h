// The partitions of sync_events and auditq_dead_letters (migration 0007): listing them, making
// them ahead of time, and retention. The SQL functions in the migration hold the rules (ranges,
// names, which partition still holds a snapshot --recover needs); this is their client.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "pg/connection.h"

namespace auditq::pg {

struct PartitionInfo {
  std::string parent;
  std::string name;
  std::string from; // entry time range [from, to) as UTC text; "MINVALUE"/"MAXVALUE" open ends
  std::string to;
  bool attached = true;
  int64_t rows = 0; // the planner's estimate (reltuples), 0 when never analysed
  int64_t bytes = 0;
};

// Every partition auditq made, attached or detached for archiving, oldest first.
std::vector<PartitionInfo> listPartitions(Connection& conn);

// Makes the partitions of both tables for now and the `count` intervals after it that are
// missing (`width_ms`: a day or a week). Returns the names made.
std::vector<std::string> premakePartitions(Connection& conn, int64_t width_ms, int64_t count,
                                           int64_t now_ms);

struct PruneOptions {
  int64_t keep_seconds = 0;            // partitions entirely older than now - keep
  int64_t recover_max_age_seconds = 0; // a partition holding a newer snapshot stays
  bool drop = true;                    // false: detached and kept (retention.action: detach)
  bool dry_run = false;
  // DETACH ... CONCURRENTLY (needs the tables' owner, outside any transaction: the CLI); else
  // the migration's SECURITY DEFINER function, a plain DETACH under a 1 s lock_timeout (the
  // daemon, which runs as auditq_writer).
  bool concurrently = false;
};

struct PruneStep {
  PartitionInfo partition;
  std::string action; // dropped, detached, would_drop, would_detach, kept_snapshot, failed
  std::string detail;
};

struct PruneResult {
  bool ran = false; // false: another instance held the retention lock
  std::vector<PruneStep> steps;
};

// One instance at a time (advisory lock "auditq-retention"); throws Error when PostgreSQL fails
// outside a single partition's detach (a failed detach is a step, and the next goes on).
PruneResult prunePartitions(Connection& conn, const PruneOptions& options, int64_t now_ms);

// Key of the retention lock ("auditq-r" as a big-endian int64).
inline constexpr long long kRetentionLockKey = 0x6175646974712d72LL;

} // namespace auditq::pg
