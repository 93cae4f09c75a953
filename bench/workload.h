// A deterministic, realistic workload for benchmarks and the demo: timer sessions with 2-4
// participants whose full state (about 1 KB of JSON, as the reference application writes it)
// travels with every event, versions increasing per session, sessions interleaved.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace auditq::bench {

struct Entry {
  std::vector<std::string> fields; // name, value, ... ready for XADD
};

class Workload {
public:
  // `sessions` sessions of `events_per_session` events each; `seed` picks ids and numbers.
  Workload(uint64_t sessions, uint64_t events_per_session, uint64_t seed);

  uint64_t size() const { return sessions_ * events_per_session_; }
  // The i-th entry in production order (sessions interleaved round-robin, so consecutive
  // entries touch different sessions and each session's versions rise). `now_ms` is the
  // event time written into ts and the state.
  Entry entry(uint64_t i, int64_t now_ms) const;

private:
  std::string sessionId(uint64_t s) const;
  std::string participantId(uint64_t s, int p) const;

  uint64_t sessions_;
  uint64_t events_per_session_;
  uint64_t seed_;
};

} // namespace auditq::bench
