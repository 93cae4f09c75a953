// Rendering /metrics. The families are written in a fixed order with HELP and TYPE lines;
// per-stream series exist from the start (zeros), so rate() works from the first scrape.
#include "app/metrics.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <fstream>
#include <optional>
#include <sstream>

#include "core/build_info.h"

namespace auditq::app {

PipelineMetrics::PipelineMetrics(const std::vector<std::string>& names) {
  for (const auto& n : names) {
    streams.push_back(StreamMetrics{.stream = n});
  }
}

StreamMetrics& PipelineMetrics::of(std::string_view stream) {
  if (streams[last_].stream == stream) {
    return streams[last_];
  }
  for (size_t i = 0; i < streams.size(); ++i) {
    if (streams[i].stream == stream) {
      last_ = i;
      return streams[i];
    }
  }
  return streams.front();
}

uint64_t PipelineMetrics::read() const {
  uint64_t n = 0;
  for (const auto& s : streams) {
    n += s.read;
  }
  return n;
}

uint64_t StreamMetrics::deadLettered() const {
  uint64_t n = 0;
  for (auto c : dead_lettered) {
    n += c;
  }
  return n;
}

uint64_t PipelineMetrics::committed() const {
  uint64_t n = 0;
  for (const auto& s : streams) {
    n += s.committed();
  }
  return n;
}

uint64_t PipelineMetrics::deadLettered() const {
  uint64_t n = 0;
  for (const auto& s : streams) {
    n += s.deadLettered();
  }
  return n;
}

namespace {

struct ProcessStats {
  double cpu_seconds = 0;
  uint64_t resident_bytes = 0;
  uint64_t open_fds = 0;
  double start_time_seconds = 0;
};

// Linux /proc; a field that cannot be read stays 0.
ProcessStats processStats() {
  ProcessStats p;
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) == 0) {
    p.cpu_seconds = static_cast<double>(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                    static_cast<double>(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  }
  uint64_t size_pages = 0;
  uint64_t resident_pages = 0;
  if (std::ifstream statm("/proc/self/statm"); statm >> size_pages >> resident_pages) {
    p.resident_bytes = resident_pages * static_cast<uint64_t>(sysconf(_SC_PAGESIZE));
  }
  if (DIR* d = opendir("/proc/self/fd")) {
    while (const dirent* e = readdir(d)) {
      p.open_fds += e->d_name[0] != '.' ? 1 : 0;
    }
    closedir(d);
    p.open_fds -= 1; // the directory's own descriptor
  }
  // Start time: boot time (btime in /proc/stat) plus field 22 of /proc/self/stat, in ticks.
  uint64_t btime = 0;
  std::ifstream stat("/proc/stat");
  for (std::string line; std::getline(stat, line);) {
    if (line.rfind("btime ", 0) == 0) {
      btime = std::stoull(line.substr(6));
      break;
    }
  }
  std::ifstream self("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(self)), std::istreambuf_iterator<char>());
  const auto close = text.rfind(')'); // the command name may hold spaces
  if (btime > 0 && close != std::string::npos) {
    std::istringstream fields(text.substr(close + 2));
    std::string field;
    for (int i = 3; i <= 22 && fields >> field; ++i) {
      if (i == 22) {
        p.start_time_seconds =
            static_cast<double>(btime) +
            static_cast<double>(std::stoull(field)) / static_cast<double>(sysconf(_SC_CLK_TCK));
      }
    }
  }
  return p;
}

constexpr double kEndToEndBounds[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5,
                                      1,     2.5,  5,     10,   30,  60,   300};

// One family with a single unlabelled sample.
template <typename Value>
void single(core::PrometheusText& out, std::string_view name, std::string_view type,
            std::string_view help, Value value) {
  out.family(name, type, help);
  out.sample(name, {}, value);
}

// One family with a sample per stream; `value` returns nullopt to leave a stream out.
template <typename Get>
void perStream(core::PrometheusText& out, const PipelineMetrics& m, std::string_view name,
               std::string_view type, std::string_view help, Get value) {
  out.family(name, type, help);
  for (const auto& st : m.streams) {
    if (const auto v = value(st)) {
      out.sample(name, {{"stream", st.stream}}, *v);
    }
  }
}

} // namespace

void renderMetrics(const PipelineMetrics& m, const ServiceState& s, core::PrometheusText& out) {
  using Opt = std::optional<uint64_t>;
  using OptD = std::optional<double>;
  using OptI = std::optional<int64_t>;
  out.clear();
  out.family("auditq_build_info", "gauge", "Build facts; the value is always 1.");
  out.sample("auditq_build_info", {{"version", core::kVersion}}, uint64_t{1});
  single(out, "auditq_ready", "gauge",
         "1 when Redis and PostgreSQL are reachable and the breaker is closed (/readyz).",
         uint64_t{s.ready});
  single(out, "auditq_redis_connected", "gauge", "1 while the Redis connections are up.",
         uint64_t{s.redis_connected});
  single(out, "auditq_postgres_reachable", "gauge",
         "1 when the last write or ping of PostgreSQL succeeded.", uint64_t{s.postgres_reachable});
  single(out, "auditq_stalled", "gauge",
         "1 while entries are held and nothing was committed for health.stall_ms though both "
         "servers answer (/healthz 503, systemd watchdog not fed).",
         uint64_t{s.stalled});
  single(out, "auditq_entries_held", "gauge",
         "Entries held by this process: in the batch being filled, written or acknowledged.",
         s.entries_held);
  single(out, "auditq_bytes_held", "gauge",
         "Bytes the batches of this process hold (raw entries, rows, projections).", s.bytes_held);

  perStream(out, m, "auditq_entries_read_total", "counter",
            "Stream entries read (redeliveries and claimed entries included).",
            [](const StreamMetrics& st) { return Opt(st.read); });
  perStream(out, m, "auditq_entries_committed_total", "counter",
            "Entries committed to sync_events (or found already there) and acknowledged.",
            [](const StreamMetrics& st) { return Opt(st.committed()); });
  out.family("auditq_entries_dead_lettered_total", "counter",
             "Entries written to auditq_dead_letters, by reason code.");
  for (const auto& st : m.streams) {
    for (size_t r = 0; r < core::kAllReasonCodes.size(); ++r) {
      out.sample("auditq_entries_dead_lettered_total",
                 {{"stream", st.stream}, {"reason", core::reasonName(core::kAllReasonCodes[r])}},
                 st.dead_lettered[r]);
    }
  }
  single(out, "auditq_duplicates_skipped_total", "counter",
         "Redelivered entries found already committed and skipped.", m.duplicates);
  single(out, "auditq_batches_total", "counter", "Batches committed.", m.batches);
  single(out, "auditq_batches_in_flight", "gauge", "Batches sealed and not yet acknowledged.",
         s.batches_in_flight);
  out.family("auditq_batch_entries", "histogram", "Entries per committed batch.");
  out.histogram("auditq_batch_entries", {}, m.batch_entries);
  out.family("auditq_commit_duration_seconds", "histogram",
             "Time of the transactions that committed batches, BEGIN to COMMIT.");
  out.histogram("auditq_commit_duration_seconds", {}, m.commit_seconds);
  out.family("auditq_end_to_end_latency_seconds", "histogram",
             "Per entry: from XADD (the entry id's time) to the COMMIT that stored it.");
  out.histogram(
      "auditq_end_to_end_latency_seconds", {}, kEndToEndBounds,
      [&m](double le) { return m.end_to_end.countAtMost(static_cast<uint64_t>(le * 1e6)); },
      static_cast<double>(m.end_to_end.sumMicros()) / 1e6, m.end_to_end.count());

  perStream(out, m, "auditq_last_committed_entry_timestamp_seconds", "gauge",
            "Entry id time of the newest committed entry.", [](const StreamMetrics& st) {
              return st.last_committed_ms > 0
                         ? OptD(static_cast<double>(st.last_committed_ms) / 1000.0)
                         : std::nullopt;
            });
  perStream(out, m, "auditq_end_to_end_lag_seconds", "gauge",
            "Now minus the entry id time of the newest committed entry (grows while the stream "
            "is idle: read it with auditq_consumer_group_lag).",
            [&s](const StreamMetrics& st) {
              const auto lag = s.now_ms - static_cast<int64_t>(st.last_committed_ms);
              return st.last_committed_ms > 0
                         ? OptD(static_cast<double>(lag > 0 ? lag : 0) / 1000.0)
                         : std::nullopt;
            });
  perStream(out, m, "auditq_consumer_group_pending", "gauge",
            "Entries delivered to the group's consumers and not yet acknowledged (sampled).",
            [](const StreamMetrics& st) {
              return st.group_pending >= 0 ? OptI(st.group_pending) : std::nullopt;
            });
  perStream(out, m, "auditq_consumer_group_lag", "gauge",
            "Entries in the stream not yet delivered to the group (sampled).",
            [](const StreamMetrics& st) {
              return st.group_lag >= 0 ? OptI(st.group_lag) : std::nullopt;
            });

  single(out, "auditq_postgres_write_retries_total", "counter",
         "Batch writes that failed for a passing reason and were retried.", s.write_retries);
  single(out, "auditq_postgres_isolations_total", "counter",
         "Batches split to isolate rows PostgreSQL refused.", s.isolations);
  out.family("auditq_postgres_breaker_state", "gauge",
             "The writers' circuit breaker: 1 for the current state.");
  for (std::string_view state : {"closed", "open", "half_open"}) {
    out.sample("auditq_postgres_breaker_state", {{"state", state}}, uint64_t{s.breaker == state});
  }
  single(out, "auditq_postgres_breaker_opened_total", "counter", "Times the breaker opened.",
         s.breaker_opened);
  single(out, "auditq_postgres_connections_total", "counter", "PostgreSQL connections opened.",
         s.postgres_connections);
  single(out, "auditq_postgres_reconnects_total", "counter",
         "PostgreSQL connections opened to replace a lost one.", s.postgres_reconnects);
  single(out, "auditq_redis_reconnects_total", "counter",
         "Reconnections to Redis after it was lost.", m.redis_reconnects);
  single(out, "auditq_entries_reclaimed_total", "counter",
         "Entries taken over from idle consumers (XAUTOCLAIM).", s.reclaimed);
  single(out, "auditq_reclaimed_entries_deleted_total", "counter",
         "Pending entries found deleted from the stream when claimed.", s.reclaimed_deleted);
  single(out, "auditq_consumers_deleted_total", "counter",
         "Idle consumers with nothing pending removed from the group.", m.consumers_deleted);
  single(out, "auditq_partitions_created_total", "counter",
         "Partitions this process made ahead of time (partitions.premake).", m.partitions_made);
  single(out, "auditq_partitions_pruned_total", "counter",
         "Partitions retention dropped or detached.", m.partitions_pruned);
  out.family("auditq_config_reloads_total", "counter",
             "SIGHUP reloads of the configuration file, applied or refused (old one kept).");
  out.sample("auditq_config_reloads_total", {{"result", "applied"}}, m.reloads_applied);
  out.sample("auditq_config_reloads_total", {{"result", "refused"}}, m.reloads_refused);
  single(out, "auditq_config_restart_needed", "gauge",
         "Settings the file changes that take effect only after a restart (at the last reload).",
         m.restart_needed);
  single(out, "auditq_consumer_groups_recreated_total", "counter",
         "Consumer groups re-created after Redis lost them, after the newest committed entry.",
         s.groups_recreated);
  single(out, "auditq_entries_redelivered_while_held_total", "counter",
         "Entries delivered again while this process still held them: skipped, never a second "
         "copy.",
         s.duplicates_held);

  const auto p = processStats();
  single(out, "process_cpu_seconds_total", "counter", "User and system CPU time spent.",
         p.cpu_seconds);
  single(out, "process_resident_memory_bytes", "gauge", "Resident memory size.", p.resident_bytes);
  single(out, "process_open_fds", "gauge", "Open file descriptors.", p.open_fds);
  single(out, "process_start_time_seconds", "gauge", "Start time since the Unix epoch.",
         p.start_time_seconds);
}

} // namespace auditq::app
