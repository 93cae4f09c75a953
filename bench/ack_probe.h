// Latency as the producer's world sees it: from the moment an entry is sent with XADD until
// Redis says it is acknowledged, observed from outside the daemon. An entry is acknowledged
// once the group has delivered it (its id is at most the group's last-delivered-id) and it is
// no longer in the group's pending list. The producer calls poll() between its sends; each poll
// is two round trips (XINFO GROUPS, then the XPENDINGs pipelined), so the resolution is the
// polling period (1 ms). The probe follows one entry in `sample_every` and asks about each by
// its id (XPENDING id id 1): reading the whole pending list every millisecond cost Redis and
// the producer enough CPU on a 2-core machine to slow the daemon it measures.
#pragma once

#include <hiredis/hiredis.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace auditq::bench {

using StreamId = std::pair<uint64_t, uint64_t>; // ms, seq

class AckProbe {
public:
  using Clock = std::chrono::steady_clock;

  AckProbe(std::string stream, std::string group, uint64_t sample_every)
      : stream_(std::move(stream)), group_(std::move(group)), sample_every_(sample_every) {}

  // An entry the producer sent at `at`, with the id XADD returned.
  void sent(StreamId id, Clock::time_point at) {
    if (sent_++ % sample_every_ == 0) {
      outstanding_.push_back({id, at, idText(id)});
    }
  }
  // Reads the group's state and records every outstanding entry it shows acknowledged.
  void poll(redisContext* c);
  size_t outstanding() const { return outstanding_.size(); }
  // Milliseconds from XADD to acknowledgement, in the order observed.
  const std::vector<double>& latencies() const { return latencies_; }

private:
  struct Sent {
    StreamId id;
    Clock::time_point at;
    std::string text;
  };
  static std::string idText(StreamId id) {
    return std::to_string(id.first) + "-" + std::to_string(id.second);
  }
  std::string stream_, group_;
  uint64_t sample_every_;
  uint64_t sent_ = 0;
  std::vector<Sent> outstanding_;
  std::vector<size_t> asked_; // indexes into outstanding_ asked about in this poll
  std::vector<double> latencies_;
};

StreamId parseStreamId(const char* text, size_t len);

// p in [0, 1] of an unsorted sample (sorts it).
double percentile(std::vector<double>& sample, double p);

} // namespace auditq::bench
