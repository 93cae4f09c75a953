// `auditq --recover` / `auditq recover`: rebuild the session keys in Redis from the newest
// snapshots in PostgreSQL, never overwriting a newer state, then re-create missing consumer
// groups where the daemon would (pipeline::groupStartId). Which snapshot to restore, under which
// key and TTL, is decided by the pure pipeline/recover_plan; this is the I/O around it.
#pragma once

#include <optional>
#include <string>

#include "config/config.h"

namespace auditq::recover {

struct Options {
  bool dry_run = false;
  bool all = false;                   // ignore recover.max_age_seconds
  std::optional<std::string> session; // only this session
  bool from_events = false;           // read sync_events even when the projection is on
};

// Prints a summary; returns the exit code (core/exit_code.h).
int run(const config::Config& cfg, const Options& options);

} // namespace auditq::recover
