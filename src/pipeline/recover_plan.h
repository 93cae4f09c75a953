// What `auditq --recover` does with one session's newest snapshot: restore it (under which key,
// with which TTL) or skip it, and why. Pure; the PostgreSQL source and the Redis writes are in
// pg/recover_source and app/recover.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace auditq::pipeline {

struct SnapshotRow {
  std::string_view session_id;
  std::optional<int64_t> version;
  bool tombstoned = false;                  // a session_deleted event was recorded
  bool terminal = false;                    // newest status is completed, cancelled or expired
  int64_t age_seconds = 0;                  // since the session's last event
  std::optional<std::string_view> snapshot; // the state JSON, absent when none was recorded
};

struct RecoverRules {
  bool include_terminal = false;
  int64_t max_age_seconds = 3600; // already resolved (0 in the config means ttl_seconds)
  bool all = false;               // --all: ignore the age limit
  int64_t ttl_seconds = 3600;
  bool ttl_from_event = false;
};

enum class RecoverVerdict { Restore, Tombstoned, NoSnapshot, Terminal, TooOld };

std::string_view verdictName(RecoverVerdict v);

RecoverVerdict judge(const SnapshotRow& row, const RecoverRules& rules);

// The TTL of a restored key: the full ttl_seconds, or with ttl_from_event what is left of it
// since the event (the full TTL again when nothing is left, which only --all gets to).
int64_t ttlFor(const SnapshotRow& row, const RecoverRules& rules);

// The version inside a snapshot (its `field`, recover.version_field), which is what the
// compare-and-write in Redis compares: nullopt when absent or not an integer.
std::optional<int64_t> snapshotVersion(std::string_view json, std::string_view field);

// `key_template` with every "{session_id}" replaced.
void renderKey(std::string& out, std::string_view key_template, std::string_view session_id);

} // namespace auditq::pipeline
