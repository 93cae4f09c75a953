#include "config/config.h"

#include <gtest/gtest.h>

namespace auditq::config {
namespace {

// Parses and expects a ConfigError whose message contains every fragment.
void expectError(const std::string& yaml, const Environment& env,
                 std::initializer_list<std::string> fragments) {
  try {
    parseConfig(yaml, "auditq.yaml", env);
    FAIL() << "expected ConfigError for:\n" << yaml;
  } catch (const ConfigError& e) {
    for (const auto& f : fragments) {
      EXPECT_NE(std::string(e.what()).find(f), std::string::npos)
          << "message '" << e.what() << "' lacks '" << f << "'";
    }
  }
}

TEST(Config, EmptyTextGivesTheDocumentedDefaults) {
  Config c = parseConfig("", "x", {});
  EXPECT_EQ(c.redis.url, "redis://127.0.0.1:6379/0");
  EXPECT_EQ(c.consumer.streams, std::vector<std::string>{"sync:events"});
  EXPECT_EQ(c.consumer.group, "auditq");
  EXPECT_EQ(c.consumer.start_id, "$");
  EXPECT_EQ(c.batch.max_entries, 1000);
  EXPECT_EQ(c.batch.max_bytes, 4 * 1024 * 1024);
  EXPECT_EQ(c.batch.linger_ms, 5);
  EXPECT_TRUE(c.projections.sessions);
  EXPECT_TRUE(c.projections.participants);
  EXPECT_EQ(c.log.format, "text");
}

TEST(Config, ReadsValuesFromTheFile) {
  Config c = parseConfig(R"(
consumer:
  streams: [a, b]
  start_id: "0"
batch:
  max_entries: 500
  max_bytes: 2MiB
projections:
  participants: false
)",
                         "x", {});
  EXPECT_EQ(c.consumer.streams, (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(c.consumer.start_id, "0");
  EXPECT_EQ(c.batch.max_entries, 500);
  EXPECT_EQ(c.batch.max_bytes, 2 * 1024 * 1024);
  EXPECT_FALSE(c.projections.participants);
}

TEST(Config, EnvironmentOverridesTheFile) {
  Config c =
      parseConfig("batch:\n  max_entries: 500\n", "x",
                  {{"AUDITQ_BATCH_MAX_ENTRIES", "42"}, {"AUDITQ_CONSUMER_STREAMS", "s1, s2"}});
  EXPECT_EQ(c.batch.max_entries, 42);
  EXPECT_EQ(c.consumer.streams, (std::vector<std::string>{"s1", "s2"}));
}

TEST(Config, ApplicationUrlVariablesOverrideTheFileUrls) {
  Config c = parseConfig("redis:\n  url: redis://file:1/0\n", "x",
                         {{"REDIS_URL", "redis://app:6380/1"},
                          {"DATABASE_URL", "postgresql://u@db/app"},
                          {"DATABASE_SSL", "true"}});
  EXPECT_EQ(c.redis.url, "redis://app:6380/1");
  EXPECT_EQ(c.postgres.url, "postgresql://u@db/app");
  EXPECT_TRUE(c.postgres.require_tls);
}

TEST(Config, AuditqVariableWinsOverTheApplicationVariable) {
  Config c = parseConfig(
      "", "x", {{"REDIS_URL", "redis://app:1/0"}, {"AUDITQ_REDIS_URL", "redis://mine:2/0"}});
  EXPECT_EQ(c.redis.url, "redis://mine:2/0");
}

TEST(Config, RecordsWhereEachValueCameFrom) {
  Config c = parseConfig("batch:\n  linger_ms: 9\n", "f.yaml", {{"AUDITQ_BATCH_MAX_ENTRIES", "7"}});
  std::map<std::string, std::string> sources;
  for (const auto& v : c.effective) {
    sources[v.key] = v.source;
  }
  EXPECT_EQ(sources["batch.linger_ms"], "file f.yaml:2:14");
  EXPECT_EQ(sources["batch.max_entries"], "env AUDITQ_BATCH_MAX_ENTRIES");
  EXPECT_EQ(sources["batch.max_bytes"], "default");
}

TEST(Config, MasksPasswordsInEffectiveValues) {
  Config c = parseConfig("", "x",
                         {{"REDIS_URL", "redis://user:s3cret@h:1/0"},
                          {"DATABASE_URL", "postgresql://u:pw%40x@db/app"}});
  for (const auto& v : c.effective) {
    EXPECT_EQ(v.value.find("s3cret"), std::string::npos) << v.key;
    EXPECT_EQ(v.value.find("pw"), std::string::npos) << v.key;
  }
}

TEST(Config, RejectsOutOfRangeNamingKeyLineAndRule) {
  expectError("batch:\n  max_entries: 0\n", {},
              {"auditq.yaml:2:16", "batch.max_entries", "must be 1..100000, got 0"});
}

TEST(Config, RejectsUnknownKeyNamingIt) {
  expectError("batch:\n  max_entrie: 5\n", {},
              {"auditq.yaml:2:3", "batch.max_entrie", "unknown key"});
}

TEST(Config, RejectsUnknownSection) {
  expectError("bacth:\n  max_entries: 5\n", {}, {"auditq.yaml:1:1", "bacth", "unknown section"});
}

TEST(Config, RejectsWrongType) {
  expectError("batch:\n  max_entries: lots\n", {}, {"batch.max_entries", "must be an integer"});
  expectError("batch:\n  max_entries: [1]\n", {}, {"batch.max_entries", "must be an integer"});
  expectError("projections:\n  sessions: yes please\n", {},
              {"projections.sessions", "must be true or false"});
  expectError("consumer:\n  streams: {a: 1}\n", {}, {"consumer.streams", "list of strings"});
}

TEST(Config, RejectsSectionThatIsNotAMapping) {
  expectError("batch: 5\n", {}, {"auditq.yaml:1:8", "batch", "mapping"});
}

TEST(Config, RejectsInvalidYamlWithItsLine) {
  expectError("batch:\n  max_entries: [1\n", {}, {"auditq.yaml:", "not valid YAML"});
}

TEST(Config, RejectsBadEnvironmentValueNamingTheVariable) {
  expectError("", {{"AUDITQ_BATCH_LINGER_MS", "soon"}},
              {"env AUDITQ_BATCH_LINGER_MS", "batch.linger_ms", "must be an integer"});
}

TEST(Config, RejectsUnknownEnvironmentKeyOfAKnownSection) {
  expectError("", {{"AUDITQ_BATCH_MAX_ENTRYS", "5"}},
              {"env AUDITQ_BATCH_MAX_ENTRYS", "batch.max_entrys", "unknown key"});
}

TEST(Config, RejectsMalformedUrls) {
  expectError("redis:\n  url: localhost:6379\n", {}, {"redis.url", "scheme://"});
  expectError("redis:\n  url: http://h:1/0\n", {}, {"redis.url", "redis://"});
  expectError("redis:\n  url: ftp://h:1/0\n", {}, {"redis.url", "rediss:// (TLS) or unix://"});
  expectError("redis:\n  url: unix://h/x.sock\n", {}, {"redis.url", "unix://"});
  expectError("redis:\n  url: unix:///x.sock?db=x\n", {}, {"redis.url", "db=N"});
  expectError("redis:\n  url: redis://h:99999/0\n", {}, {"redis.url", "port must be 1..65535"});
  expectError("redis:\n  url: redis://h:1/x\n", {}, {"redis.url", "database number"});
  expectError("postgres:\n  url: mysql://h/db\n", {}, {"postgres.url", "postgresql://"});
}

TEST(Config, MalformedUrlErrorNeverShowsThePassword) {
  expectError("", {{"REDIS_URL", "redis://u:topsecret@h:99999/0"}}, {"redis.url"});
  try {
    parseConfig("", "x", {{"REDIS_URL", "redis://u:topsecret@h:99999/0"}});
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("topsecret"), std::string::npos) << e.what();
  }
}

TEST(Config, RejectsBadChoicesAndLists) {
  expectError("log:\n  format: xml\n", {}, {"log.format", "text|json", "xml"});
  expectError("consumer:\n  streams: []\n", {}, {"consumer.streams", "at least one"});
  expectError("consumer:\n  streams: [a, a]\n", {}, {"consumer.streams", "twice"});
  expectError("consumer:\n  start_id: latest\n", {}, {"consumer.start_id", "$, 0"});
  expectError("consumer:\n  name: a b\n", {}, {"consumer.name", "whitespace"});
  expectError("batch:\n  max_bytes: 4XB\n", {}, {"batch.max_bytes", "byte count"});
}

TEST(Config, SentinelsAndTheirPrimaryName) {
  const auto c = parseConfig("redis:\n  sentinels: [10.0.0.1:26379, '[::1]:26380']\n"
                             "  master_name: mymaster\n",
                             "x", {});
  EXPECT_EQ(c.redis.sentinels, (std::vector<std::string>{"10.0.0.1:26379", "[::1]:26380"}));
  EXPECT_EQ(c.redis.master_name, "mymaster");
  const auto e = parseConfig(
      "", "x", {{"AUDITQ_REDIS_SENTINELS", "a:1, b:2"}, {"AUDITQ_REDIS_MASTER_NAME", "m"}});
  EXPECT_EQ(e.redis.sentinels, (std::vector<std::string>{"a:1", "b:2"}));
  EXPECT_TRUE(parseConfig("", "x", {}).redis.sentinels.empty()) << "none by default";
  expectError("redis:\n  sentinels: [a:1]\n", {}, {"redis.master_name", "redis.sentinels"});
  expectError("redis:\n  master_name: m\n", {}, {"redis.sentinels", "host:port"});
  expectError("redis:\n  sentinels: [a]\n  master_name: m\n", {}, {"redis.sentinels", "'a'"});
  expectError("redis:\n  sentinels: ['a:0']\n  master_name: m\n", {},
              {"redis.sentinels", "port must be 1..65535"});
  expectError("redis:\n  sentinels: ['u@a:1']\n  master_name: m\n", {},
              {"redis.sentinels", "host:port"});
}

TEST(Config, TheSentinelsCredentialsAreReadAndNeverShown) {
  const auto c = parseConfig("redis:\n  sentinels: [a:1]\n  master_name: m\n"
                             "  sentinel_username: watcher\n",
                             "x", {{"AUDITQ_REDIS_SENTINEL_PASSWORD", "s3nt1nel"}});
  EXPECT_EQ(c.redis.sentinel_username, "watcher");
  EXPECT_EQ(c.redis.sentinel_password, "s3nt1nel");
  bool shown = false;
  for (const auto& v : c.effective) {
    EXPECT_EQ(v.value.find("s3nt1nel"), std::string::npos) << v.key;
    if (v.key == "redis.sentinel_password") {
      shown = true;
      EXPECT_EQ(v.value, "****");
      EXPECT_EQ(v.source, "env AUDITQ_REDIS_SENTINEL_PASSWORD");
    }
  }
  EXPECT_TRUE(shown);
  expectError("redis:\n  sentinel_password: pw\n", {},
              {"redis.sentinel_password", "redis.sentinels is empty"});
  expectError("redis:\n  sentinels: [a:1]\n  master_name: m\n  sentinel_username: u\n", {},
              {"redis.sentinel_password", "with redis.sentinel_username"});
  expectError("redis:\n  sentinels: [a:1]\n  master_name: m\n  sentinel_password: [x]\n", {},
              {"redis.sentinel_password", "must be a string"});
}

TEST(Config, AcceptsAnEntryIdAsStartId) {
  EXPECT_EQ(parseConfig("consumer:\n  start_id: 1700000000000-0\n", "x", {}).consumer.start_id,
            "1700000000000-0");
}

TEST(Config, BuildsTheLibpqConnectionString) {
  PostgresConfig pg;
  pg.url = "postgresql://u@h:5432/db";
  pg.require_tls = true;
  EXPECT_EQ(postgresConnectionString(pg),
            "postgresql://u@h:5432/db?connect_timeout=5&application_name=auditq&keepalives_idle=30&"
            "keepalives_interval=10&keepalives_count=3&sslmode=require");
  pg.url = "postgresql://u@h/db?sslmode=verify-full&connect_timeout=2&keepalives_idle=5";
  EXPECT_EQ(postgresConnectionString(pg),
            "postgresql://u@h/db?sslmode=verify-full&connect_timeout=2&keepalives_idle=5&"
            "application_name=auditq&keepalives_interval=10&keepalives_count=3");
}

} // namespace
} // namespace auditq::config

namespace auditq::config {
namespace {

TEST(ConfigHttp, ListenTakesIpLiteralsAndPortsOrNothing) {
  EXPECT_EQ(parseConfig("", "x", {}).http.listen, "127.0.0.1:9187");
  const auto v4 = parseListenAddress("0.0.0.0:9187");
  ASSERT_TRUE(v4);
  EXPECT_EQ(v4->host, "0.0.0.0");
  EXPECT_EQ(v4->port, 9187);
  const auto v6 = parseListenAddress("[::1]:80");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  EXPECT_EQ(v6->port, 80);
  EXPECT_EQ(parseListenAddress("127.0.0.1:0")->port, 0); // any free port
  for (const char* bad :
       {"localhost:9187", "127.0.0.1", "127.0.0.1:", "127.0.0.1:65536", "127.0.0.1:-1", "::1:9187",
        "[::1]", "[127.0.0.1]:80", "300.1.1.1:80", ":9187", "127.0.0.1:9187x"}) {
    EXPECT_FALSE(parseListenAddress(bad)) << bad;
  }
  EXPECT_TRUE(parseConfig("http:\n  listen: \"\"\n", "x", {}).http.listen.empty());
}

TEST(ConfigHttp, ABadListenAddressNamesTheKey) {
  expectError("http:\n  listen: localhost:9187\n", {},
              {"http.listen", "<IP>:<port>", "localhost:9187"});
  expectError("", {{"AUDITQ_HTTP_LISTEN", "9187"}}, {"AUDITQ_HTTP_LISTEN", "http.listen"});
  expectError("http:\n  sample_interval_ms: 10\n", {}, {"http.sample_interval_ms"});
  expectError("postgres:\n  ping_interval_ms: 0\n", {}, {"postgres.ping_interval_ms"});
}

} // namespace
} // namespace auditq::config

namespace auditq::config {
namespace {

// Found by fuzz_config: a YAML key that is a list or a mapping.
TEST(Config, ASectionNameThatIsNotAWordIsAConfigError) {
  EXPECT_THROW(parseConfig("? [batch]\n: {}\n", "t", {}), ConfigError);
  EXPECT_THROW(parseConfig("? {a: 1}\n: {}\n", "t", {}), ConfigError);
}

TEST(Config, AKeyThatIsNotAWordIsAConfigError) {
  try {
    parseConfig("batch:\n  ? [max_entries]\n  : 5\n", "t", {});
    FAIL() << "accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("batch."), std::string::npos) << e.what();
  }
}

} // namespace
} // namespace auditq::config

namespace auditq::config {
namespace {

TEST(StoreConfig, PartitionsRetentionNotifyAndAuditKeys) {
  const Config d = parseConfig("", "auditq.yaml", {});
  EXPECT_EQ(d.partitions.interval, "day");
  EXPECT_EQ(d.partitions.widthMs(), 86'400'000);
  EXPECT_EQ(d.partitions.premake, 7);
  EXPECT_EQ(d.retention.keep_seconds, 0) << "off by default";
  EXPECT_EQ(d.retention.action, "drop");
  EXPECT_FALSE(d.notify.enabled);
  EXPECT_EQ(d.notify.channel, "auditq_events");
  EXPECT_TRUE(d.audit.digests);
  const Config c = parseConfig("partitions:\n  interval: week\nretention:\n  keep: 12w\n"
                               "  action: detach\nnotify:\n  enabled: true\n  channel: x\n"
                               "audit:\n  digests: false\n",
                               "auditq.yaml", {});
  EXPECT_EQ(c.partitions.widthMs(), 604'800'000);
  EXPECT_EQ(c.retention.keep_seconds, 12 * 604'800);
  EXPECT_EQ(c.retention.action, "detach");
  EXPECT_TRUE(c.notify.enabled);
  EXPECT_FALSE(c.audit.digests);
  EXPECT_EQ(parseConfig("retention:\n  keep: \"off\"\n", "f", {}).retention.keep_seconds, 0);
  EXPECT_EQ(parseConfig("", "f", {{"AUDITQ_RETENTION_KEEP", "90d"}}).retention.keep_seconds,
            90 * 86'400);
}

TEST(StoreConfig, RefusesBadValuesNamingTheKey) {
  expectError("partitions:\n  interval: month\n", {}, {"partitions.interval", "day"});
  expectError("retention:\n  keep: ten days\n", {}, {"retention.keep", "duration"});
  expectError("retention:\n  keep: 2h\n", {}, {"retention.keep", "86400"});
  expectError("notify:\n  channel: \"\"\n", {}, {"notify.channel"});
  // Retention may never remove what --recover restores.
  expectError("retention:\n  keep: 2d\nrecover:\n  max_age_seconds: 259200\n", {},
              {"retention.keep", "recover.max_age_seconds (259200 s"});
  expectError("retention:\n  keep: 1d\nrecover:\n  ttl_seconds: 172800\n", {},
              {"retention.keep", "recover.max_age_seconds"});
}

} // namespace
} // namespace auditq::config
