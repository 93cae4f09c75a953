// Wall-clock time as the pipeline compares it with entry ids (epoch milliseconds in the id).
#pragma once

#include <chrono>
#include <cstdint>

namespace auditq::core {

inline int64_t epochMicros() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

} // namespace auditq::core
