// Translating redis.url into connection parameters.
#include "redis/endpoint.h"

#include <charconv>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "config/url.h"

namespace auditq::redis {

Endpoint endpointFrom(const config::RedisConfig& redis) {
  std::string error;
  auto url = config::parseUrl(redis.url, error);
  Endpoint ep;
  ep.display = config::maskUrl(redis.url);
  if (!url) {
    return ep;
  }
  ep.host = url->host;
  if (url->port != 0) {
    ep.port = url->port;
  }
  ep.user = url->user;
  ep.password = url->password;
  if (!url->path.empty()) {
    std::from_chars(url->path.data(), url->path.data() + url->path.size(), ep.db);
  }
  for (const auto& s : redis.sentinels) {
    auto [host, port] = config::splitHostPort(s);
    ep.sentinels.push_back({std::move(host), port});
  }
  ep.master_name = redis.master_name;
  if (!ep.sentinels.empty()) {
    ep.display = fmt::format("primary '{}' of sentinels {} ({})", ep.master_name,
                             fmt::join(redis.sentinels, ","), ep.display);
  }
  return ep;
}

Endpoint Endpoint::sentinel(size_t i) const {
  Endpoint ep;
  ep.host = sentinels[i].host;
  ep.port = sentinels[i].port;
  ep.display = fmt::format("sentinel {}:{}", ep.host, ep.port);
  return ep;
}

} // namespace auditq::redis
