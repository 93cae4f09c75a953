// Loading and validating the configuration: the file, then environment overrides, then checks.
#include "config/config.h"

#include <arpa/inet.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "config/reader.h"
#include "config/url.h"
#include "core/entry_id.h"
#include "core/text.h"

extern char** environ;

namespace auditq::config {
namespace {

constexpr const char* kDefaultPath = "/etc/auditq/auditq.yaml";
constexpr int64_t kMaxTimeoutMs = 3'600'000;

bool isStartId(const std::string& id) {
  return id == "$" || id == "0" || core::EntryId::parse(id).has_value();
}

void readSections(const YAML::Node& root, Config& c, const Environment& env) {
  auto section = [&](const char* name) {
    YAML::Node node = root && root.IsMap() ? root[name] : YAML::Node();
    return SectionReader(name, node, c.origin, env, c.effective);
  };
  {
    auto r = section("redis");
    r.alias("url", "REDIS_URL");
    r.url("url", c.redis.url, checkRedisUrl);
    r.integer("connect_timeout_ms", c.redis.connect_timeout_ms, 1, kMaxTimeoutMs);
    r.integer("command_timeout_ms", c.redis.command_timeout_ms, 1, kMaxTimeoutMs);
    r.integer("ping_interval_ms", c.redis.ping_interval_ms, 100, kMaxTimeoutMs);
    r.stringList("sentinels", c.redis.sentinels, true);
    for (const auto& s : c.redis.sentinels) {
      if (const std::string bad = checkHostPort(s); !bad.empty()) {
        r.fail("sentinels", fmt::format("'{}': {}", s, bad));
      }
    }
    r.string("master_name", c.redis.master_name);
    if (!c.redis.sentinels.empty() && c.redis.master_name.empty()) {
      r.fail("master_name", "must name the monitored primary when redis.sentinels is set");
    }
    if (c.redis.sentinels.empty() && !c.redis.master_name.empty()) {
      r.fail("sentinels", "must list the sentinels (host:port) when redis.master_name is set");
    }
    r.string("sentinel_username", c.redis.sentinel_username);
    r.secret("sentinel_password", c.redis.sentinel_password);
    if (c.redis.sentinels.empty() &&
        !(c.redis.sentinel_username.empty() && c.redis.sentinel_password.empty())) {
      r.fail(c.redis.sentinel_password.empty() ? "sentinel_username" : "sentinel_password",
             "is set but redis.sentinels is empty (no sentinel would be asked)");
    }
    if (!c.redis.sentinel_username.empty() && c.redis.sentinel_password.empty()) {
      r.fail("sentinel_password", "must be set with redis.sentinel_username");
    }
    const bool tls = c.redis.url.starts_with("rediss://");
    for (auto [key, value] : {std::pair("tls_ca_file", &c.redis.tls_ca_file),
                              std::pair("tls_cert_file", &c.redis.tls_cert_file),
                              std::pair("tls_key_file", &c.redis.tls_key_file)}) {
      r.string(key, *value);
      if (value->empty()) {
        continue;
      }
      if (!tls) {
        r.fail(key, "is set but redis.url is not rediss:// (TLS would not be used)");
      } else if (access(value->c_str(), R_OK) != 0) {
        r.fail(key, fmt::format("cannot read '{}'", *value));
      }
    }
    if (c.redis.tls_cert_file.empty() != c.redis.tls_key_file.empty()) {
      r.fail(c.redis.tls_cert_file.empty() ? "tls_cert_file" : "tls_key_file",
             "a client certificate needs both redis.tls_cert_file and redis.tls_key_file");
    }
    r.string("tls_server_name", c.redis.tls_server_name);
    if (!tls && !c.redis.tls_server_name.empty()) {
      r.fail("tls_server_name", "is set but redis.url is not rediss:// (TLS would not be used)");
    }
    r.finish();
  }
  {
    auto r = section("postgres");
    r.alias("url", "DATABASE_URL");
    r.alias("require_tls", "DATABASE_SSL");
    r.url("url", c.postgres.url, checkPostgresUrl);
    r.boolean("require_tls", c.postgres.require_tls);
    r.integer("connect_timeout_ms", c.postgres.connect_timeout_ms, 1000, kMaxTimeoutMs);
    r.string("application_name", c.postgres.application_name);
    if (c.postgres.application_name.find_first_not_of(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") !=
        std::string::npos) {
      r.fail("application_name", "may contain only letters, digits, '_', '.' and '-'");
    }
    r.integer("writers", c.postgres.writers, 1, 16);
    r.integer("statement_timeout_ms", c.postgres.statement_timeout_ms, 0, kMaxTimeoutMs);
    r.integer("ping_interval_ms", c.postgres.ping_interval_ms, 100, kMaxTimeoutMs);
    r.finish();
  }
  {
    auto r = section("consumer");
    r.stringList("streams", c.consumer.streams);
    std::set<std::string> seen;
    for (const auto& s : c.consumer.streams) {
      if (!seen.insert(s).second) {
        r.fail("streams", fmt::format("names '{}' twice", s));
      }
    }
    r.string("group", c.consumer.group);
    if (c.consumer.group.empty()) {
      r.fail("group", "must not be empty");
    }
    r.string("name", c.consumer.name);
    if (c.consumer.name.find_first_of(" \t\r\n") != std::string::npos) {
      r.fail("name", fmt::format("must not contain whitespace, got '{}'", c.consumer.name));
    }
    r.string("start_id", c.consumer.start_id);
    if (!isStartId(c.consumer.start_id)) {
      r.fail("start_id",
             fmt::format("must be $, 0 or a stream entry id, got '{}'", c.consumer.start_id));
    }
    r.integer("block_ms", c.consumer.block_ms, 1, 60'000);
    r.integer("claim_idle_ms", c.consumer.claim_idle_ms, 1000, int64_t{7} * 86'400'000);
    // Another consumer may take over what this one holds once it is idle this long: that must
    // never happen while one of our statements may still be writing it.
    if (c.postgres.statement_timeout_ms > 0 &&
        c.consumer.claim_idle_ms <= c.postgres.statement_timeout_ms) {
      r.fail("claim_idle_ms",
             fmt::format("must be greater than postgres.statement_timeout_ms ({}): an entry "
                         "still being written could be claimed by another consumer, got {}",
                         c.postgres.statement_timeout_ms, c.consumer.claim_idle_ms));
    }
    r.integer("claim_interval_ms", c.consumer.claim_interval_ms, 100, kMaxTimeoutMs);
    r.integer("delete_idle_ms", c.consumer.delete_idle_ms, 0, int64_t{365} * 86'400'000);
    r.finish();
  }
  {
    auto r = section("batch");
    r.integer("max_entries", c.batch.max_entries, 1, 100'000);
    r.size("max_bytes", c.batch.max_bytes, 1024, int64_t{1} << 30);
    r.integer("linger_ms", c.batch.linger_ms, 0, 10'000);
    r.integer("max_in_flight", c.batch.max_in_flight, 1, 64);
    if (c.batch.max_in_flight < c.postgres.writers) {
      r.fail("max_in_flight", fmt::format("must be >= postgres.writers ({}) or writers sit idle, "
                                          "got {}",
                                          c.postgres.writers, c.batch.max_in_flight));
    }
    r.finish();
  }
  {
    auto r = section("decode");
    r.size("max_entry_bytes", c.decode.max_entry_bytes, 1024, int64_t{512} << 20);
    r.boolean("strict_types", c.decode.strict_types);
    r.finish();
  }
  {
    auto r = section("projections");
    r.boolean("sessions", c.projections.sessions);
    r.boolean("participants", c.projections.participants);
    r.finish();
  }
  {
    auto r = section("retry");
    r.integer("initial_ms", c.retry.initial_ms, 1, 60'000);
    r.integer("max_ms", c.retry.max_ms, 1, kMaxTimeoutMs);
    if (c.retry.max_ms < c.retry.initial_ms) {
      r.fail("max_ms", fmt::format("must be >= retry.initial_ms ({}), got {}", c.retry.initial_ms,
                                   c.retry.max_ms));
    }
    r.integer("max_elapsed_ms", c.retry.max_elapsed_ms, 0, int64_t{365} * 86'400'000);
    r.integer("breaker_failures", c.retry.breaker_failures, 1, 1000);
    r.finish();
  }
  {
    auto r = section("dead_letter");
    r.integer("max_deliveries", c.dead_letter.max_deliveries, 1, 1000);
    r.boolean("stream_copy", c.dead_letter.stream_copy);
    r.string("stream_suffix", c.dead_letter.stream_suffix);
    if (c.dead_letter.stream_suffix.empty()) {
      r.fail("stream_suffix", "must not be empty (the copy would go back to the source stream)");
    }
    r.integer("stream_maxlen", c.dead_letter.stream_maxlen, 0, int64_t{1} << 40);
    r.size("max_field_bytes", c.dead_letter.max_field_bytes, 256, int64_t{64} << 20);
    r.finish();
  }
  {
    auto r = section("recover");
    r.string("key_template", c.recover.key_template);
    if (c.recover.key_template.find("{session_id}") == std::string::npos) {
      r.fail("key_template",
             fmt::format("must contain {{session_id}}, got '{}'", c.recover.key_template));
    }
    r.integer("ttl_seconds", c.recover.ttl_seconds, 1, int64_t{365} * 86'400);
    r.boolean("ttl_from_event", c.recover.ttl_from_event);
    r.integer("max_age_seconds", c.recover.max_age_seconds, 0, int64_t{100} * 365 * 86'400);
    r.boolean("include_terminal", c.recover.include_terminal);
    r.string("version_field", c.recover.version_field);
    if (c.recover.version_field.empty()) {
      r.fail("version_field", "must not be empty");
    }
    r.integer("pipeline", c.recover.pipeline, 1, 100'000);
    r.integer("readers", c.recover.readers, 1, 16);
    r.finish();
  }
  {
    auto r = section("partitions");
    r.choice("interval", c.partitions.interval, {"day", "week"});
    r.integer("premake", c.partitions.premake, 1, 366);
    r.integer("check_interval_ms", c.partitions.check_interval_ms, 1000, int64_t{24} * 3'600'000);
    r.finish();
  }
  {
    auto r = section("retention");
    r.duration("keep", c.retention.keep_seconds, 86'400, int64_t{100} * 365 * 86'400);
    r.choice("action", c.retention.action, {"drop", "detach"});
    // Never remove the newest snapshot of a session --recover would still restore.
    const int64_t recover_age = c.recover.maxAgeSeconds();
    if (c.retention.keep_seconds > 0 && c.retention.keep_seconds < recover_age) {
      r.fail("keep", fmt::format("must be at least recover.max_age_seconds ({} s; ttl_seconds "
                                 "when 0): the snapshots --recover restores must be kept, got {} s",
                                 recover_age, c.retention.keep_seconds));
    }
    r.finish();
  }
  {
    auto r = section("audit");
    r.boolean("digests", c.audit.digests);
    r.finish();
  }
  {
    auto r = section("notify");
    r.boolean("enabled", c.notify.enabled);
    r.string("channel", c.notify.channel);
    if (c.notify.channel.empty() || c.notify.channel.size() > 63) {
      r.fail("channel", fmt::format("must be 1..63 characters, got '{}'", c.notify.channel));
    }
    r.finish();
  }
  {
    auto r = section("shutdown");
    r.integer("timeout_ms", c.shutdown.timeout_ms, 0, kMaxTimeoutMs);
    r.finish();
  }
  {
    auto r = section("http");
    r.string("listen", c.http.listen);
    if (!c.http.listen.empty() && !parseListenAddress(c.http.listen)) {
      r.fail("listen", fmt::format("must be <IP>:<port> such as 127.0.0.1:9187 or [::1]:9187, or "
                                   "empty to disable, got '{}'",
                                   c.http.listen));
    }
    r.integer("sample_interval_ms", c.http.sample_interval_ms, 100, kMaxTimeoutMs);
    r.finish();
  }
  {
    auto r = section("health");
    r.integer("stall_ms", c.health.stall_ms, 100, int64_t{24} * 3'600'000);
    r.finish();
  }
  {
    auto r = section("log");
    r.choice("level", c.log.level, {"trace", "debug", "info", "warn", "error", "critical", "off"});
    r.choice("format", c.log.format, {"text", "json"});
    r.finish();
  }
}

const std::set<std::string, std::less<>> kSections = {
    "redis", "postgres",    "consumer", "batch",      "decode",    "projections",
    "retry", "dead_letter", "recover",  "partitions", "retention", "notify",
    "audit", "shutdown",    "http",     "health",     "log"};

} // namespace

std::optional<ListenAddress> parseListenAddress(std::string_view text) {
  const auto colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return std::nullopt;
  }
  std::string_view host = text.substr(0, colon);
  const bool bracketed = host.size() >= 2 && host.front() == '[' && host.back() == ']';
  if (bracketed) {
    host = host.substr(1, host.size() - 2);
  }
  ListenAddress a{std::string(host), 0};
  unsigned char buf[sizeof(in6_addr)];
  const bool v4 = !bracketed && inet_pton(AF_INET, a.host.c_str(), buf) == 1;
  const bool v6 = bracketed && inet_pton(AF_INET6, a.host.c_str(), buf) == 1;
  int64_t port = 0;
  if (!(v4 || v6) || !core::parseInteger(text.substr(colon + 1), port) || port < 0 ||
      port > 65535) {
    return std::nullopt;
  }
  a.port = static_cast<uint16_t>(port);
  return a;
}

Environment processEnvironment() {
  Environment env;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    std::string name(entry.substr(0, eq));
    if (name.starts_with("AUDITQ_") || name == "REDIS_URL" || name == "DATABASE_URL" ||
        name == "DATABASE_SSL") {
      env.emplace(std::move(name), std::string(entry.substr(eq + 1)));
    }
  }
  return env;
}

Config parseConfig(const std::string& yaml_text, const std::string& origin,
                   const Environment& env) {
  Config c;
  c.origin = origin;
  YAML::Node root;
  try {
    root = YAML::Load(yaml_text);
  } catch (const YAML::Exception& e) {
    throw ConfigError(fmt::format("{}:{}:{}: not valid YAML: {}", origin, e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
  if (root && !root.IsNull() && !root.IsMap()) {
    throw ConfigError(fmt::format("{}: the top level must be a mapping of sections", origin));
  }
  try {
    if (root && root.IsMap()) {
      for (const auto& item : root) {
        const YAML::Mark m = item.first.Mark();
        // A YAML key may be a list or a mapping (`? [a]: 1`): not a section name.
        if (!item.first.IsScalar()) {
          throw ConfigError(fmt::format("{}:{}:{}: a section name must be a word", origin,
                                        m.line + 1, m.column + 1));
        }
        const std::string name = item.first.as<std::string>();
        if (kSections.count(name) == 0) {
          throw ConfigError(fmt::format("{}:{}:{}: {}: unknown section (known: {})", origin,
                                        m.line + 1, m.column + 1, name,
                                        fmt::join(kSections, ", ")));
        }
      }
    }
    readSections(root, c, env);
  } catch (const YAML::Exception& e) {
    throw ConfigError(
        fmt::format("{}:{}:{}: {}", origin, e.mark.line + 1, e.mark.column + 1, e.msg));
  }
  return c;
}

Config loadConfig(const std::optional<std::string>& cli_path, const Environment& env) {
  std::optional<std::string> path = cli_path;
  if (!path) {
    if (auto it = env.find("AUDITQ_CONFIG"); it != env.end() && !it->second.empty()) {
      path = it->second;
    } else if (::access(kDefaultPath, F_OK) == 0) {
      path = kDefaultPath;
    }
  }
  if (!path) {
    return parseConfig("", "built-in defaults", env);
  }
  std::ifstream in(*path);
  if (!in) {
    throw ConfigError(fmt::format("{}: cannot read the configuration file", *path));
  }
  std::stringstream text;
  text << in.rdbuf();
  return parseConfig(text.str(), *path, env);
}

std::string postgresConnectionString(const PostgresConfig& postgres) {
  std::string error;
  auto url = parseUrl(postgres.url, error);
  const bool has_query = url && !url->query.empty();
  const std::string& query = url ? url->query : std::string();
  auto has = [&](std::string_view name) {
    return query.starts_with(std::string(name) + "=") ||
           query.find("&" + std::string(name) + "=") != std::string::npos;
  };
  std::string out = postgres.url;
  char sep = has_query ? '&' : '?';
  auto add = [&](std::string_view name, const std::string& value) {
    if (!has(name)) {
      out += fmt::format("{}{}={}", sep, name, value);
      sep = '&';
    }
  };
  add("connect_timeout", std::to_string(std::max<int64_t>(1, postgres.connect_timeout_ms / 1000)));
  if (!postgres.application_name.empty()) {
    add("application_name", postgres.application_name);
  }
  add("keepalives_idle", "30");
  add("keepalives_interval", "10");
  add("keepalives_count", "3");
  if (postgres.require_tls) {
    add("sslmode", "require");
  }
  return out;
}

} // namespace auditq::config
