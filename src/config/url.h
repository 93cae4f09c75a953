// Connection URL parsing for redis:// and postgresql:// URLs, and masking of their secrets.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <utility>

namespace auditq::config {

struct Url {
  std::string scheme;   // lower-case, without "://"
  std::string user;     // percent-decoded
  std::string password; // percent-decoded
  bool has_password = false;
  std::string host; // without IPv6 brackets; may be empty
  int port = 0;     // 0 when absent
  std::string path; // after the authority, without the leading '/'; query excluded
  std::string query;
};

// Parses scheme://[user[:password]@][host][:port][/path][?query]. On failure returns nullopt
// and sets `error` to the rule that was broken.
std::optional<Url> parseUrl(std::string_view text, std::string& error);

// The URL with its password replaced by "****" (the whole text if it does not parse, so a
// malformed URL with a secret in it still never reaches a log).
std::string maskUrl(std::string_view text);

// A host:port pair ([v6]:port too); empty string when fine, else the rule broken.
std::string checkHostPort(std::string_view text);
// Splits a host:port pair checked by checkHostPort.
std::pair<std::string, int> splitHostPort(std::string_view text);

// Validation of the two kinds auditq uses; empty string when fine, else the rule broken.
std::string checkRedisUrl(std::string_view text);
std::string checkPostgresUrl(std::string_view text);

} // namespace auditq::config
