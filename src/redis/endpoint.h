// Where and how to reach Redis, derived once from redis.* settings: host and port or a unix
// socket, TLS, ACL user, password, db, or the sentinels that know the primary.
#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace auditq::redis {

struct Endpoint {
  std::string host;
  int port = 6379;
  std::string user;     // empty: the default user (AUTH password)
  std::string password; // empty: no AUTH
  int db = 0;
  std::string unix_path; // unix:///path: this socket instead of host:port
  bool tls = false;      // rediss://
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name; // the name the server's certificate must carry: host if empty
  std::string display;         // the URL with the password masked, for messages
  // redis.sentinels: host and port above are found by asking these for master_name's primary.
  struct Sentinel {
    std::string host;
    int port = 26379;
  };
  std::vector<Sentinel> sentinels;
  std::string master_name;
  std::string sentinel_user;     // redis.sentinel_username
  std::string sentinel_password; // redis.sentinel_password: empty, no AUTH to the sentinels
  // An endpoint for one sentinel (its own AUTH, no SELECT; TLS as for the data nodes).
  Endpoint sentinel(size_t i) const;
};

// The URL was validated at config load, so this cannot fail.
Endpoint endpointFrom(const config::RedisConfig& redis);

} // namespace auditq::redis
