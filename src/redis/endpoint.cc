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
  if (url->scheme == "unix") {
    ep.unix_path = "/" + url->path;
    if (url->query.starts_with("db=")) {
      std::from_chars(url->query.data() + 3, url->query.data() + url->query.size(), ep.db);
    }
  } else if (!url->path.empty()) {
    std::from_chars(url->path.data(), url->path.data() + url->path.size(), ep.db);
  }
  ep.tls = url->scheme == "rediss";
  ep.tls_ca_file = redis.tls_ca_file;
  ep.tls_cert_file = redis.tls_cert_file;
  ep.tls_key_file = redis.tls_key_file;
  ep.tls_server_name = redis.tls_server_name;
  for (const auto& s : redis.sentinels) {
    auto [host, port] = config::splitHostPort(s);
    ep.sentinels.push_back({std::move(host), port});
  }
  ep.master_name = redis.master_name;
  ep.sentinel_user = redis.sentinel_username;
  ep.sentinel_password = redis.sentinel_password;
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
  ep.user = sentinel_user;
  ep.password = sentinel_password;
  ep.tls = tls;
  ep.tls_ca_file = tls_ca_file;
  ep.tls_cert_file = tls_cert_file;
  ep.tls_key_file = tls_key_file;
  ep.display = fmt::format("sentinel {}:{}", ep.host, ep.port);
  return ep;
}

} // namespace auditq::redis
