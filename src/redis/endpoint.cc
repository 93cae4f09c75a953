// Translating redis.url into connection parameters.
#include "redis/endpoint.h"

#include <charconv>

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
  return ep;
}

} // namespace auditq::redis
