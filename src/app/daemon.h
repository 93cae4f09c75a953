// `auditq run`: pipeline::Consumer (every decision) wired to Redis (redis::ConsumerLink on the
// Asio thread), the PostgreSQL writers (their own threads) and PgControl. Entries are
// acknowledged only after their batch committed; at most batch.max_in_flight sealed batches
// wait for PostgreSQL, after which reading pauses.
#pragma once

#include <optional>
#include <string>

#include "config/config.h"

namespace auditq::app {

// Runs until SIGTERM/SIGINT, then drains and returns the exit code (0 after a clean drain,
// 1 when shutdown.timeout_ms ran out with entries still in flight).
int runDaemon(const config::Config& cfg, const std::optional<std::string>& config_path);

} // namespace auditq::app
