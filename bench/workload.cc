// Workload generation.
#include "bench/workload.h"

#include <fmt/format.h>

namespace auditq::bench {
namespace {

uint64_t mix(uint64_t x) {
  x += 0x9E3779B97F4A7C15ULL;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ULL;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBULL;
  return x ^ (x >> 31);
}

std::string uuidFrom(uint64_t a, uint64_t b) {
  return fmt::format("{:08x}-{:04x}-4{:03x}-{:x}{:03x}-{:012x}", a >> 32, (a >> 16) & 0xffff,
                     a & 0xfff, 8 + (b >> 62), (b >> 50) & 0xfff, b & 0xffffffffffffULL);
}

std::string iso(int64_t ms) {
  const int64_t secs = ms / 1000;
  const int64_t days = secs / 86400;
  // Civil date from days (Hinnant), enough for timestamps after 1970.
  int64_t z = days + 719468;
  const int64_t era = z / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int64_t d = doy - (153 * mp + 2) / 5 + 1;
  const int64_t m = mp < 10 ? mp + 3 : mp - 9;
  const int64_t y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const int64_t rem = secs % 86400;
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", y, m, d, rem / 3600,
                     rem / 60 % 60, rem % 60, ms % 1000);
}

constexpr const char* kModes[] = {"per_participant", "per_cycle", "per_group", "global",
                                  "count_up"};

} // namespace

Workload::Workload(uint64_t sessions, uint64_t events_per_session, uint64_t seed)
    : sessions_(sessions), events_per_session_(events_per_session), seed_(seed) {}

std::string Workload::sessionId(uint64_t s) const {
  return uuidFrom(mix(seed_ ^ (s * 2 + 1)), mix(seed_ + s * 7919));
}

std::string Workload::participantId(uint64_t s, int p) const {
  return uuidFrom(mix(seed_ ^ (s * 131 + static_cast<uint64_t>(p) + 17)),
                  mix(seed_ + s * 31 + static_cast<uint64_t>(p)));
}

Entry Workload::entry(uint64_t i, int64_t now_ms) const {
  const uint64_t s = i % sessions_;
  const uint64_t version = i / sessions_ + 1; // 1..events_per_session
  const uint64_t h = mix(seed_ ^ s);
  const int participants = 2 + static_cast<int>(h % 3);
  const int active = static_cast<int>(version % static_cast<uint64_t>(participants));
  const int64_t total = 300000;
  const int64_t created_ms = now_ms - 60000;
  const bool last = version == events_per_session_;
  const char* type = version == 1   ? "session_created"
                     : version == 2 ? "session_started"
                     : last         ? (h % 4 == 0 ? "session_completed" : "cycle_switched")
                                    : (version % 5 == 0 ? "session_paused" : "cycle_switched");
  const char* status = version == 1           ? "pending"
                       : (last && h % 4 == 0) ? "completed"
                                              : (version % 5 == 0 ? "paused" : "running");
  std::string parts;
  for (int p = 0; p < participants; ++p) {
    const int64_t used = static_cast<int64_t>(version) * 1000 + p * 137;
    parts += fmt::format(
        R"({}{{"participant_id":"{}","participant_index":{},"total_time_ms":{},"time_used_ms":{},)"
        R"("time_remaining_ms":{},"cycle_count":{},"is_active":{},"has_expired":false,)"
        R"("group_id":null}})",
        p == 0 ? "" : ",", participantId(s, p), p, total, used, total - used,
        version / static_cast<uint64_t>(participants) + (p < active ? 1 : 0),
        p == active ? "true" : "false");
  }
  const std::string state = fmt::format(
      R"({{"session_id":"{}","sync_mode":"{}","status":"{}","version":{},"participants":[{}],)"
      R"("active_participant_id":"{}","total_time_ms":{},"time_per_cycle_ms":null,)"
      R"("increment_ms":0,"max_time_ms":null,"cycle_started_at":"{}","session_started_at":"{}",)"
      R"("session_completed_at":{},"created_at":"{}","updated_at":"{}"}})",
      sessionId(s), kModes[h % 5], status, version, parts, participantId(s, active),
      total * participants, iso(now_ms), iso(created_ms + 1000),
      std::string(status) == "completed" ? fmt::format("\"{}\"", iso(now_ms)) : "null",
      iso(created_ms), iso(now_ms));
  Entry e;
  e.fields = {"type",
              type,
              "session_id",
              sessionId(s),
              "ts",
              std::to_string(now_ms),
              "version",
              std::to_string(version),
              "participant_id",
              participantId(s, active),
              "time_remaining_ms",
              std::to_string(total - static_cast<int64_t>(version) * 1000),
              "time_elapsed_ms",
              std::to_string(static_cast<int64_t>(version) * 1000),
              "cycle_number",
              std::to_string(version),
              "state",
              state,
              "metadata",
              R"({"source":"bench"})"};
  return e;
}

} // namespace auditq::bench
