// `auditq status`, the pure half: what was read from Redis, PostgreSQL and the daemon's
// /readyz (status.cc reads it), what of it needs an operator's attention, and the one screen
// (or the JSON) that shows it. No I/O; the time is a field, so the unit tests fix it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/entry_id.h"

namespace auditq::app::status {

struct Consumer {
  std::string name;
  int64_t pending = 0;
  int64_t idle_ms = 0; // since its last read or claim
};

struct Stream {
  std::string name;
  std::optional<int64_t> length; // XLEN; nullopt when Redis was not read
  bool group_exists = false;
  std::optional<int64_t> lag; // entries not yet delivered to the group (Redis >= 7)
  int64_t pending = 0;        // delivered, not acknowledged
  std::optional<core::EntryId> oldest_pending;
  std::vector<Consumer> consumers;
  std::optional<core::EntryId> newest_committed;         // sync_events and the dead letters
  std::map<std::string, int64_t> dead_letters_last_hour; // reason -> count
};

struct Daemon {
  bool checked = false; // false: http.listen empty, or --no-daemon
  std::string listen;
  bool answered = false;
  std::string error; // why it did not answer
  bool ready = false;
  std::string redis; // /readyz's words: connected, unreachable...
  std::string postgres;
  std::string breaker;
  std::vector<std::string> reasons;
};

struct Report {
  int64_t now_ms = 0;
  std::string group;
  std::string redis_where;    // masked
  std::string redis_error;    // not empty: Redis could not be read
  std::string postgres_where; // masked
  std::string postgres_error; // not empty: PostgreSQL could not be read
  std::vector<Stream> streams;
  Daemon daemon;
};

// How old is too old. Defaults: what a healthy daemon never shows (it acknowledges within
// seconds, reads every consumer.block_ms, and commits a waiting backlog continuously).
struct Limits {
  int64_t max_pending_age_ms = 60'000;
  int64_t max_consumer_idle_ms = 60'000;
  int64_t max_commit_age_ms = 300'000;
};

// What needs attention, one sentence each; empty: healthy (exit 0).
std::vector<std::string> attention(const Report& report, const Limits& limits);

// "350 ms", "42 s", "7 min", "3 h 5 min", "2 d 4 h".
std::string humanDuration(int64_t ms);

std::string renderText(const Report& report, const std::vector<std::string>& attention);
std::string renderJson(const Report& report, const std::vector<std::string>& attention);

} // namespace auditq::app::status
