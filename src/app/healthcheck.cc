// `auditq healthcheck`: GET /healthz (or /readyz) from the running daemon's listener, for a
// container's HEALTHCHECK (the runtime image has no curl).
#include <iostream>

#include "app/cli.h"
#include "app/commands.h"
#include "http/client.h"

namespace auditq::app {

std::optional<config::ListenAddress> daemonAddress(const config::Config& cfg) {
  auto at = config::parseListenAddress(cfg.http.listen);
  if (at && at->host == "0.0.0.0") {
    at->host = "127.0.0.1";
  } else if (at && at->host == "::") {
    at->host = "::1";
  }
  return at;
}

int healthcheck(const config::Config& cfg, bool ready) {
  const auto at = daemonAddress(cfg);
  if (!at) {
    std::cerr << "auditq healthcheck: http.listen is empty: the daemon serves no health "
                 "endpoint to check\n";
    return kExitUsage;
  }
  const auto r =
      http::get(at->host, at->port, ready ? "/readyz" : "/healthz", std::chrono::seconds(3));
  if (r.status == 0) {
    std::cerr << "auditq healthcheck: no answer from " << cfg.http.listen << ": " << r.error
              << "\n";
    return kExitFailure;
  }
  std::cout << r.body;
  return r.status == 200 ? kExitOk : kExitFailure;
}

} // namespace auditq::app
