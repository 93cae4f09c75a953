// `auditq check-config [--connect]`: print the effective configuration (secrets masked) and
// optionally prove both servers are reachable.
#include <iostream>

#include <fmt/format.h>

#include "app/cli.h"
#include "app/commands.h"
#include "pg/connection.h"
#include "redis/blocking_client.h"

namespace auditq::app {

int checkConfig(const config::Config& cfg, bool connect) {
  std::cout << fmt::format("configuration OK ({})\n", cfg.origin);
  size_t width = 0;
  for (const auto& v : cfg.effective) {
    width = std::max(width, v.key.size());
  }
  for (const auto& v : cfg.effective) {
    std::cout << fmt::format("  {:<{}} = {:<40} # {}\n", v.key, width, v.value, v.source);
  }
  if (!connect) {
    return kExitOk;
  }
  int rc = kExitOk;
  try {
    auto client = redis::BlockingClient::connect(cfg.redis);
    std::cout << fmt::format("redis: reachable at {}\n", client.endpoint().display);
  } catch (const redis::Error& e) {
    std::cout << fmt::format("redis: UNREACHABLE: {}\n", e.what());
    rc = kExitFailure;
  }
  try {
    auto conn = pg::Connection::open(cfg.postgres);
    conn->execute("SELECT 1");
    std::cout << fmt::format("postgres: reachable at {}\n", conn->describe());
  } catch (const pg::Error& e) {
    std::cout << fmt::format("postgres: UNREACHABLE: {}\n", e.what());
    rc = kExitFailure;
  }
  return rc;
}

} // namespace auditq::app
