// auditq's configuration: one struct per YAML section with its defaults, loaded once from the
// file and the environment, validated at load. Components take their section by const reference.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace auditq::config {

// Invalid configuration: the message names the key, the value and the rule, and where the value
// came from (file:line:column or the environment variable). The CLI exits 2 on it.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";
  int64_t connect_timeout_ms = 2000;
  int64_t command_timeout_ms = 5000;
  int64_t ping_interval_ms = 2000; // PING on idle connections: a silent loss shows within this
  // Redis Sentinel: when set, the primary is whatever these sentinels name for master_name
  // (asked again at every connection); url then gives only the user, password and database.
  std::vector<std::string> sentinels; // host:port each
  std::string master_name;
  // The sentinels' own credentials (their requirepass, or an ACL user of theirs): empty, none.
  std::string sentinel_username;
  std::string sentinel_password;
  // TLS (rediss:// URLs): the CA bundle that signs the server's certificate (empty: the
  // system's), a client certificate and key (mutual TLS), the name the certificate must carry
  // (empty: the URL's host). Certificate and host name are always verified.
  std::string tls_ca_file;
  std::string tls_cert_file;
  std::string tls_key_file;
  std::string tls_server_name;
};

struct PostgresConfig {
  std::string url = "postgresql://auditq@127.0.0.1:5432/auditq";
  bool require_tls = false; // DATABASE_SSL=true sets it: sslmode=require unless the URL says more
  int64_t connect_timeout_ms = 5000;
  std::string application_name = "auditq";
  int64_t writers = 2;                   // parallel writer connections
  int64_t statement_timeout_ms = 30'000; // a batch statement running longer is cancelled; 0: none
  int64_t ping_interval_ms = 5000;       // an idle writer checks its connection this often
};

struct ConsumerConfig {
  std::vector<std::string> streams{"sync:events"};
  std::string group = "auditq";
  std::string name; // empty: "<hostname>-<pid>", filled in by the app
  std::string start_id = "$";
  int64_t block_ms = 1000;
  int64_t claim_idle_ms = 60'000;     // take over other consumers' entries idle this long
  int64_t claim_interval_ms = 10'000; // how often to look for them
  int64_t delete_idle_ms = 3'600'000; // remove consumers idle this long with nothing pending
};

struct BatchConfig {
  int64_t max_entries = 1000;
  int64_t max_bytes = int64_t{4} << 20;
  int64_t linger_ms = 5;
  int64_t max_in_flight = 4;
};

struct DecodeConfig {
  int64_t max_entry_bytes = int64_t{1} << 20;
  bool strict_types = false;
};

struct ProjectionsConfig {
  bool sessions = true;
  bool participants = true;
};

struct RetryConfig {
  int64_t initial_ms = 100;
  int64_t max_ms = 30000;
  int64_t max_elapsed_ms = 0;   // give up (exit 1, entries stay pending) after this long; 0: never
  int64_t breaker_failures = 5; // consecutive failed writes that open the circuit breaker
};

struct DeadLetterConfig {
  int64_t max_deliveries = 5; // dead-letter an entry delivered more often than this
  bool stream_copy = false;   // also XADD a copy to <stream><stream_suffix>
  std::string stream_suffix = ":dlq";
  int64_t stream_maxlen = 100'000; // approximate MAXLEN of the copy stream; 0: no trimming
  int64_t max_field_bytes = int64_t{64} << 10; // a dead letter keeps each field up to this
};

struct RecoverConfig {
  std::string key_template = "session:{session_id}";
  int64_t ttl_seconds = 3600;
  bool ttl_from_event = false; // TTL = ttl_seconds minus the time since the snapshot's event
  int64_t max_age_seconds = 0; // skip sessions whose last event is older; 0: ttl_seconds
  int64_t maxAgeSeconds() const { return max_age_seconds > 0 ? max_age_seconds : ttl_seconds; }
  bool include_terminal = false;
  std::string version_field = "version"; // the state's JSON key compared before overwriting
  int64_t pipeline = 1000;               // Redis commands in flight (per reader)
  int64_t readers = 3;                   // parallel readers, each with its own Redis writer
};

// sync_events and auditq_dead_letters are partitioned by the entry id's time.
struct PartitionsConfig {
  std::string interval = "day";          // day or week (weeks start on Monday, UTC)
  int64_t premake = 7;                   // partitions kept ready ahead of now
  int64_t check_interval_ms = 3'600'000; // how often the daemon premakes and prunes
  int64_t widthMs() const { return interval == "week" ? 604'800'000 : 86'400'000; }
};

struct RetentionConfig {
  int64_t keep_seconds = 0;    // partitions entirely older than this are removed; 0: off
  std::string action = "drop"; // drop, or detach (kept as tables for archiving)
};

struct AuditConfig {
  bool digests = true; // each batch's rows digested and chained (auditq verify)
};

struct NotifyConfig {
  bool enabled = false;
  std::string channel = "auditq_events"; // one NOTIFY per committed batch and stream
};

struct ShutdownConfig {
  int64_t timeout_ms = 30000;
};

struct HttpConfig {
  std::string listen = "127.0.0.1:9187"; // /healthz, /readyz, /metrics; empty: no listener
  int64_t sample_interval_ms = 5000;     // consumer-group pending and lag, for /metrics
};

// An IP literal and a port: "127.0.0.1:9187", "[::1]:9187", "0.0.0.0:9187".
struct ListenAddress {
  std::string host; // without brackets
  uint16_t port = 0;
};
std::optional<ListenAddress> parseListenAddress(std::string_view text);

struct HealthConfig {
  // Entries held and no commit for this long while Redis and PostgreSQL answer: stalled
  // (/healthz 503, systemd watchdog no longer fed).
  int64_t stall_ms = 60'000;
};

struct LogConfig {
  std::string level = "info";
  std::string format = "text";
};

// One effective setting, for `check-config`: secrets already masked.
struct EffectiveValue {
  std::string key;    // "batch.max_entries"
  std::string value;  // as text
  std::string source; // "default", "file <path>:<line>", "env NAME"
};

struct Config {
  RedisConfig redis;
  PostgresConfig postgres;
  ConsumerConfig consumer;
  BatchConfig batch;
  DecodeConfig decode;
  ProjectionsConfig projections;
  RetryConfig retry;
  DeadLetterConfig dead_letter;
  RecoverConfig recover;
  PartitionsConfig partitions;
  RetentionConfig retention;
  NotifyConfig notify;
  AuditConfig audit;
  ShutdownConfig shutdown;
  HttpConfig http;
  HealthConfig health;
  LogConfig log;

  std::string origin; // the file it came from, or "built-in defaults"
  std::vector<EffectiveValue> effective;
};

using Environment = std::map<std::string, std::string>;

// The process environment (only AUDITQ_*, REDIS_URL, DATABASE_URL, DATABASE_SSL are kept).
Environment processEnvironment();

// Parses YAML text (empty text: all defaults) with environment overrides applied and validates
// the result. `origin` names the text in messages. Throws ConfigError.
Config parseConfig(const std::string& yaml_text, const std::string& origin, const Environment& env);

// Finds the file (`cli_path`, else $AUDITQ_CONFIG, else /etc/auditq/auditq.yaml if it exists,
// else built-in defaults), reads and parses it. A named file that cannot be read is a
// ConfigError.
Config loadConfig(const std::optional<std::string>& cli_path, const Environment& env);

// The libpq connection string for `postgres`: the URL plus connect_timeout, application_name,
// TCP keepalives (a peer that vanished is noticed in about a minute, not hours) and
// sslmode=require when require_tls is set; parameters the URL sets itself are left alone.
std::string postgresConnectionString(const PostgresConfig& postgres);

} // namespace auditq::config
