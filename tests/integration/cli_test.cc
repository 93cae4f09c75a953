// The auditq binary's command line: exit codes, configuration errors, --connect.
#include <gtest/gtest.h>

#include "integration/support.h"

namespace auditq::test {
namespace {

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

TEST(Cli, VersionAndHelpExitZero) {
  auto version = runAuditq({"--version"});
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_TRUE(contains(version.out, "auditq ")) << version.out;
  auto help = runAuditq({"--help"});
  EXPECT_EQ(help.exit_code, 0);
  for (const char* cmd : {"run", "recover", "migrate", "check-config", "dlq", "--recover"}) {
    EXPECT_TRUE(contains(help.out, cmd)) << cmd;
  }
}

TEST(Cli, UnknownCommandIsBadUsage) {
  EXPECT_EQ(runAuditq({"frobnicate"}).exit_code, 2);
  EXPECT_EQ(runAuditq({"migrate"}).exit_code, 2);
  EXPECT_EQ(runAuditq({"migrate", "down", "zero"}).exit_code, 2);
  EXPECT_EQ(runAuditq({"--dry-run"}).exit_code, 2);
}

TEST(Cli, CheckConfigOnABrokenFileExitsTwoNamingTheKey) {
  const auto path = writeTempFile("consumer:\n  group: auditq\nbatch:\n  linger_ms: -1\n");
  auto r = runAuditq({"check-config", "--config", path});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, path + ":4:14: batch.linger_ms: must be 0..10000, got -1")) << r.err;
}

TEST(Cli, ConfigFileIsFoundThroughAuditqConfig) {
  const auto path = writeTempFile("batch:\n  max_entries: 77\n");
  auto r = runAuditq({"check-config"}, {{"AUDITQ_CONFIG", path}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(contains(r.out, "configuration OK (" + path + ")"));
  EXPECT_TRUE(contains(r.out, "batch.max_entries")) << r.out;
  EXPECT_TRUE(contains(r.out, "= 77")) << r.out;
}

TEST(Cli, MissingConfigFileIsAConfigurationError) {
  auto r = runAuditq({"check-config", "--config", "/nonexistent/auditq.yaml"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(contains(r.err, "/nonexistent/auditq.yaml: cannot read")) << r.err;
}

TEST(Cli, CheckConfigNeverPrintsSecrets) {
  auto r = runAuditq({"check-config"}, {{"REDIS_URL", "redis://app:hunter2@127.0.0.1:1/0"},
                                        {"DATABASE_URL", "postgresql://app:hunter3@h/db"}});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_FALSE(contains(r.out + r.err, "hunter")) << r.out;
  EXPECT_TRUE(contains(r.out, "redis://app:****@127.0.0.1:1/0")) << r.out;
}

TEST(Cli, CheckConfigNeverPrintsAPasswordFromTheQueryString) {
  // Also when the connection fails: the error names the server, not its password.
  auto r = runAuditq({"check-config", "--connect"},
                     {{"REDIS_URL", redisUrl()},
                      {"DATABASE_URL", "postgresql://app@127.0.0.1:1/db?password=hunter4"}});
  EXPECT_EQ(r.exit_code, 1) << r.out << r.err;
  EXPECT_FALSE(contains(r.out + r.err, "hunter4")) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "password=****")) << r.out;
}

TEST(Cli, CheckConfigConnectSucceedsWhenBothServersAnswer) {
  auto r = runAuditq({"check-config", "--connect"},
                     {{"REDIS_URL", redisUrl()}, {"DATABASE_URL", adminPgUrl()}});
  EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
  EXPECT_TRUE(contains(r.out, "redis: reachable"));
  EXPECT_TRUE(contains(r.out, "postgres: reachable"));
}

TEST(Cli, CheckConfigConnectNamesUnreachableRedis) {
  auto r = runAuditq({"check-config", "--connect"},
                     {{"REDIS_URL", "redis://127.0.0.1:1/0"}, {"DATABASE_URL", adminPgUrl()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "redis: UNREACHABLE")) << r.out;
  EXPECT_TRUE(contains(r.out, "postgres: reachable")) << r.out;
}

TEST(Cli, CheckConfigConnectNamesUnreachablePostgres) {
  auto r = runAuditq(
      {"check-config", "--connect"},
      {{"REDIS_URL", redisUrl()}, {"DATABASE_URL", "postgresql://u:hunter4@127.0.0.1:1/db"}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "postgres: UNREACHABLE")) << r.out;
  EXPECT_TRUE(contains(r.out, "redis: reachable")) << r.out;
  EXPECT_FALSE(contains(r.out + r.err, "hunter4"));
}

TEST(Cli, RedisAuthFailureIsReportedAsUnreachable) {
  auto r = runAuditq({"check-config", "--connect"},
                     {{"REDIS_URL", "redis://nobody:wrong@" + redisUrl().substr(8)},
                      {"DATABASE_URL", adminPgUrl()}});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.out, "redis: UNREACHABLE")) << r.out;
  EXPECT_TRUE(contains(r.out, "AUTH refused")) << r.out;
}

TEST(Cli, JsonLogFormatWritesOneJsonObjectPerLine) {
  auto r = runAuditq({"migrate", "status"}, {{"DATABASE_URL", "postgresql://u@127.0.0.1:1/db"},
                                             {"AUDITQ_LOG_FORMAT", "json"}});
  EXPECT_EQ(r.exit_code, 1);
  // The failure goes to stderr as a plain message; logger output, if any, is JSON.
  for (size_t pos = 0; (pos = r.err.find("{\"ts\":", pos)) != std::string::npos; ++pos) {
    EXPECT_NE(r.err.find("\"level\":", pos), std::string::npos);
  }
}

} // namespace
} // namespace auditq::test
