#include "config/url.h"

#include <gtest/gtest.h>

namespace auditq::config {
namespace {

TEST(Url, ParsesEveryPart) {
  std::string error;
  auto url = parseUrl("redis://alice:p%40ss@cache.local:6380/2?x=1", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->scheme, "redis");
  EXPECT_EQ(url->user, "alice");
  EXPECT_EQ(url->password, "p@ss");
  EXPECT_EQ(url->host, "cache.local");
  EXPECT_EQ(url->port, 6380);
  EXPECT_EQ(url->path, "2");
  EXPECT_EQ(url->query, "x=1");
}

TEST(Url, ParsesBracketedIpv6Hosts) {
  std::string error;
  auto url = parseUrl("redis://[::1]:7000/0", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->host, "::1");
  EXPECT_EQ(url->port, 7000);
}

TEST(Url, PasswordWithAnUnencodedAtSignEndsAtTheLastAt) {
  std::string error;
  auto url = parseUrl("postgresql://u:a@b@db/x", error);
  ASSERT_TRUE(url) << error;
  EXPECT_EQ(url->password, "a@b");
  EXPECT_EQ(url->host, "db");
}

TEST(Url, MasksOnlyThePassword) {
  EXPECT_EQ(maskUrl("redis://alice:secret@h:1/0"), "redis://alice:****@h:1/0");
  EXPECT_EQ(maskUrl("redis://:secret@h:1/0"), "redis://:****@h:1/0");
  EXPECT_EQ(maskUrl("postgresql://u@h/db"), "postgresql://u@h/db");
}

TEST(Url, MasksAnUnparseableUrlWithCredentialsWhole) {
  EXPECT_EQ(maskUrl("redis://u:secret@h:notaport/0"), "****");
}

TEST(Url, RejectsBadPercentEncoding) {
  std::string error;
  EXPECT_FALSE(parseUrl("redis://u:%zz@h:1/0", error));
  EXPECT_NE(error.find("percent"), std::string::npos);
  EXPECT_FALSE(parseUrl("redis://u:%2@h:1/0", error));
}

TEST(Url, ChecksRedisAndPostgresSchemes) {
  EXPECT_EQ(checkRedisUrl("redis://h:1/0"), "");
  EXPECT_EQ(checkRedisUrl("redis://h"), "");
  EXPECT_NE(checkRedisUrl("redis://:1/0"), "");
  EXPECT_EQ(checkPostgresUrl("postgres://h/db"), "");
  EXPECT_EQ(checkPostgresUrl("postgresql:///db?host=/var/run/postgresql"), "");
}

} // namespace
} // namespace auditq::config
