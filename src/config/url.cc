// URL parsing and masking for the Redis and PostgreSQL connection settings.
#include "config/url.h"

#include <libpq-fe.h>

#include <algorithm>
#include <cctype>
#include <vector>

#include "core/text.h"

#include <algorithm>
#include <cctype>
#include <charconv>

namespace auditq::config {
namespace {

bool percentDecode(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    if (in[i] != '%') {
      out.push_back(in[i]);
      continue;
    }
    if (i + 2 >= in.size()) {
      return false;
    }
    const int hi = core::hexDigit(in[i + 1]);
    const int lo = core::hexDigit(in[i + 2]);
    if (hi < 0 || lo < 0) {
      return false;
    }
    out.push_back(static_cast<char>(hi * 16 + lo));
    i += 2;
  }
  return true;
}

} // namespace

std::optional<Url> parseUrl(std::string_view text, std::string& error) {
  Url url;
  const auto sep = text.find("://");
  if (sep == std::string_view::npos || sep == 0) {
    error = "must look like scheme://host[:port][/path]";
    return std::nullopt;
  }
  url.scheme.assign(text.substr(0, sep));
  std::transform(url.scheme.begin(), url.scheme.end(), url.scheme.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::string_view rest = text.substr(sep + 3);
  if (const auto q = rest.find('?'); q != std::string_view::npos) {
    url.query.assign(rest.substr(q + 1));
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest;
  if (const auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    url.path.assign(rest.substr(slash + 1));
  }
  // The password may itself contain '@' when not percent-encoded: the last '@' ends userinfo.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view user = userinfo;
    if (const auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      url.has_password = true;
      if (!percentDecode(userinfo.substr(colon + 1), url.password)) {
        error = "bad percent-encoding in the password";
        return std::nullopt;
      }
    }
    if (!percentDecode(user, url.user)) {
      error = "bad percent-encoding in the user name";
      return std::nullopt;
    }
  }
  std::string_view port_text;
  if (!authority.empty() && authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) {
      error = "unterminated [IPv6] host";
      return std::nullopt;
    }
    url.host.assign(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        error = "unexpected text after the [IPv6] host";
        return std::nullopt;
      }
      port_text = after.substr(1);
    }
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    url.host.assign(authority.substr(0, colon));
    port_text = authority.substr(colon + 1);
  } else {
    url.host.assign(authority);
  }
  if (!port_text.empty() || authority.ends_with(':')) {
    int port = 0;
    auto [ptr, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (port_text.empty() || ec != std::errc() || ptr != port_text.data() + port_text.size() ||
        port < 1 || port > 65535) {
      error = "port must be 1..65535";
      return std::nullopt;
    }
    url.port = port;
  }
  if (url.host.find_first_of(" /\\") != std::string::npos) {
    error = "host contains a space or slash";
    return std::nullopt;
  }
  return url;
}

namespace {

// Replaces the value of every query parameter named password or sslpassword with "****".
std::string maskQuery(std::string text) {
  const auto q = text.find('?');
  if (q == std::string::npos) {
    return text;
  }
  size_t pos = q + 1;
  while (pos < text.size()) {
    const size_t end = std::min(text.find('&', pos), text.size());
    const size_t eq = text.find('=', pos);
    if (eq != std::string::npos && eq < end) {
      std::string key = text.substr(pos, eq - pos);
      std::transform(key.begin(), key.end(), key.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
      if (key == "password" || key == "sslpassword") {
        text.replace(eq + 1, end - eq - 1, "****");
        pos = eq + 1 + 4 + 1;
        continue;
      }
    }
    pos = end + 1;
  }
  return text;
}

// The secrets libpq itself finds in a PostgreSQL URL (password, sslpassword), wherever they are.
std::vector<std::string> postgresSecrets(std::string_view text) {
  std::vector<std::string> secrets;
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(text).c_str(), &error);
  if (error != nullptr) {
    PQfreemem(error);
  }
  for (PQconninfoOption* o = options; o != nullptr && o->keyword != nullptr; ++o) {
    const std::string_view key(o->keyword);
    if ((key == "password" || key == "sslpassword") && o->val != nullptr && *o->val != '\0') {
      secrets.emplace_back(o->val);
    }
  }
  PQconninfoFree(options);
  return secrets;
}

} // namespace

std::string maskUrl(std::string_view text) {
  std::string error;
  auto url = parseUrl(text, error);
  if (!url) {
    return text.find('@') == std::string_view::npos && text.find("password") == std::string::npos
               ? std::string(text)
               : std::string("****");
  }
  std::string out(text);
  if (url->has_password) {
    // Rebuild only the userinfo part so the rest is shown exactly as configured.
    const auto sep = text.find("://") + 3;
    std::string_view rest = text.substr(sep);
    const auto end_of_authority = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, end_of_authority);
    const auto at = authority.rfind('@');
    std::string_view userinfo = authority.substr(0, at);
    out.assign(text.substr(0, sep));
    out.append(userinfo.substr(0, userinfo.find(':')));
    out.append(":****");
    out.append(rest.substr(at));
  }
  out = maskQuery(std::move(out));
  if (url->scheme == "postgresql" || url->scheme == "postgres") {
    // Whatever form libpq accepts a secret in: if it still shows, show nothing of the URL.
    for (const auto& secret : postgresSecrets(text)) {
      if (out.find(secret) != std::string::npos && secret != "****") {
        return url->scheme + "://****";
      }
    }
  }
  return out;
}

std::string checkRedisUrl(std::string_view text) {
  std::string error;
  auto url = parseUrl(text, error);
  if (!url) {
    return error;
  }
  if (url->scheme == "unix") {
    if (!url->host.empty() || url->port != 0 || url->path.empty()) {
      return "a unix socket URL is unix://[user:password@]/path/to/redis.sock[?db=N]";
    }
    if (!url->query.empty()) {
      int db = -1;
      const std::string_view q = url->query;
      auto [ptr, ec] = std::from_chars(q.data() + 3, q.data() + q.size(), db);
      if (!q.starts_with("db=") || ec != std::errc() || ptr != q.data() + q.size() || db < 0) {
        return "the only parameter of a unix socket URL is db=N";
      }
    }
    return {};
  }
  if (url->scheme != "redis" && url->scheme != "rediss") {
    return "scheme must be redis://, rediss:// (TLS) or unix://";
  }
  if (url->host.empty()) {
    return "host is required";
  }
  if (!url->path.empty()) {
    int db = -1;
    auto [ptr, ec] = std::from_chars(url->path.data(), url->path.data() + url->path.size(), db);
    if (ec != std::errc() || ptr != url->path.data() + url->path.size() || db < 0) {
      return "the path must be a database number (/0)";
    }
  }
  return {};
}

// host:port is the authority of a URL: parse it as one, so both agree on IPv6 and ports.
std::string checkHostPort(std::string_view text) {
  std::string error;
  auto url = parseUrl("tcp://" + std::string(text), error);
  if (!url) {
    return error;
  }
  if (url->host.empty() || url->port == 0 || !url->user.empty() || url->has_password ||
      !url->path.empty() || !url->query.empty() || text.find('/') != std::string_view::npos) {
    return "must be host:port";
  }
  return {};
}

std::pair<std::string, int> splitHostPort(std::string_view text) {
  std::string error;
  auto url = parseUrl("tcp://" + std::string(text), error);
  return url ? std::pair(url->host, url->port) : std::pair(std::string(text), 0);
}

std::string checkPostgresUrl(std::string_view text) {
  std::string error;
  auto url = parseUrl(text, error);
  if (!url) {
    return error;
  }
  if (url->scheme != "postgresql" && url->scheme != "postgres") {
    return "scheme must be postgresql:// or postgres://";
  }
  // What libpq will make of it: an unknown parameter or a bad value is refused at load, not
  // at the first connection.
  char* libpq_error = nullptr;
  PQconninfoOption* options = PQconninfoParse(std::string(text).c_str(), &libpq_error);
  std::string refused;
  if (options == nullptr) {
    refused = libpq_error != nullptr ? libpq_error : "libpq cannot parse it";
    while (!refused.empty() && (refused.back() == '\n' || refused.back() == ' ')) {
      refused.pop_back();
    }
    refused = "libpq refuses it: " + maskUrl(refused);
  }
  if (libpq_error != nullptr) {
    PQfreemem(libpq_error);
  }
  PQconninfoFree(options);
  return refused;
}

} // namespace auditq::config
