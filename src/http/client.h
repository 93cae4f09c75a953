// A one-shot HTTP GET for `auditq healthcheck` (the container's HEALTHCHECK) and the tests.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace auditq::http {

struct GetResult {
  unsigned status = 0; // 0: no HTTP answer (then `error` says why)
  std::string content_type;
  std::string body;
  std::string error;
};

// GET http://host:port/target with `timeout` for the whole exchange. Never throws.
GetResult get(const std::string& host, uint16_t port, const std::string& target,
              std::chrono::milliseconds timeout);

} // namespace auditq::http
