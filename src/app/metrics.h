// The daemon's metrics: what the pipeline counts (per stream and reason), the histograms, and
// the state the other components report, rendered in the Prometheus text format for /metrics.
// Everything here lives on the io_context thread; the writer threads' counters are atomics
// read at scrape time. Names follow auditq_<area>_<thing>_<unit>; label values come from a fixed
// set (the configured streams, the reason codes, the breaker states).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/latency_histogram.h"
#include "core/prometheus.h"
#include "core/reason_code.h"

namespace auditq::app {

struct StreamMetrics {
  std::string stream;
  uint64_t read = 0;
  uint64_t acknowledged = 0; // after their batch committed: events and dead letters
  std::array<uint64_t, core::kAllReasonCodes.size()> dead_lettered{}; // by ReasonCode
  uint64_t last_committed_ms = 0; // entry id time of the newest committed entry; 0: none yet
  int64_t group_pending = -1;     // sampled with XINFO GROUPS; -1: not known
  int64_t group_lag = -1;         // entries not yet delivered to the group; -1: not known

  uint64_t deadLettered() const;
  // Acknowledged entries that went to sync_events (or were found already there).
  uint64_t committed() const { return acknowledged - deadLettered(); }
};

struct PipelineMetrics {
  explicit PipelineMetrics(const std::vector<std::string>& streams);

  // The stream's counters; an unknown name gets the first stream's (cannot happen: Redis only
  // returns the streams we read).
  StreamMetrics& of(std::string_view stream);

  uint64_t read() const;
  uint64_t committed() const;
  uint64_t deadLettered() const;

  std::vector<StreamMetrics> streams;
  uint64_t batches = 0;
  uint64_t duplicates = 0;
  uint64_t redis_reconnects = 0;
  uint64_t consumers_deleted = 0;
  uint64_t partitions_made = 0;   // premade by this process (on-demand ones are logged)
  uint64_t partitions_pruned = 0; // dropped or detached by retention
  uint64_t reloads_applied = 0;   // SIGHUP with a valid file
  uint64_t reloads_refused = 0;   // SIGHUP with a file that failed validation: old one kept
  uint64_t restart_needed = 0;    // keys the last applied reload changed that need a restart
  core::BucketHistogram batch_entries{1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
  core::BucketHistogram commit_seconds{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                       0.1,   0.25,   0.5,   1,    2.5,   10};
  // Per entry, XADD to COMMIT: the stats line's quantiles and /metrics' buckets both come
  // from this one histogram, recorded once per entry.
  core::LatencyHistogram end_to_end;

private:
  size_t last_ = 0; // entries come in runs of one stream
};

// What the other components say at scrape time.
struct ServiceState {
  bool ready = false;
  bool redis_connected = false;
  bool postgres_reachable = false;
  std::string_view breaker; // closed, open, half_open
  uint64_t write_retries = 0;
  uint64_t isolations = 0;
  uint64_t breaker_opened = 0;
  uint64_t postgres_connections = 0;
  uint64_t postgres_reconnects = 0;
  uint64_t reclaimed = 0;
  uint64_t reclaimed_deleted = 0;
  uint64_t groups_recreated = 0;
  uint64_t batches_in_flight = 0;
  bool stalled = false;
  uint64_t entries_held = 0;
  uint64_t bytes_held = 0;
  uint64_t duplicates_held = 0;
  int64_t now_ms = 0; // wall clock, for the lag gauges
};

// Renders every metric (including process_* from /proc/self and auditq_build_info).
void renderMetrics(const PipelineMetrics& m, const ServiceState& s, core::PrometheusText& out);

} // namespace auditq::app
