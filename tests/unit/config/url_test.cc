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

TEST(Url, HostPortPairs) {
  EXPECT_EQ(checkHostPort("h:1"), "");
  EXPECT_EQ(checkHostPort("[::1]:26379"), "");
  EXPECT_NE(checkHostPort("h"), "");
  EXPECT_NE(checkHostPort("h:"), "");
  EXPECT_NE(checkHostPort(":1"), "");
  EXPECT_NE(checkHostPort("h:1/x"), "");
  EXPECT_EQ(splitHostPort("[::1]:26379"), std::pair(std::string("::1"), 26379));
  EXPECT_EQ(splitHostPort("sentinel-a:5000"), std::pair(std::string("sentinel-a"), 5000));
}

// libpq chooses among several hosts (target_session_attrs): such a URL is valid as it is.
TEST(Url, MultiHostPostgresUrlsAreAccepted) {
  EXPECT_EQ(
      checkPostgresUrl("postgresql://u:pw@h1:5432,h2:5433/db?target_session_attrs=read-write"), "");
  EXPECT_EQ(maskUrl("postgresql://u:pw@h1:5432,h2:5433/db"),
            "postgresql://u:****@h1:5432,h2:5433/db");
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

namespace auditq::config {
namespace {

TEST(MaskUrl, MasksAPasswordInTheQueryString) {
  EXPECT_EQ(maskUrl("postgresql://app@db/x?sslmode=require&password=s3cret&application_name=a"),
            "postgresql://app@db/x?sslmode=require&password=****&application_name=a");
  EXPECT_EQ(maskUrl("postgresql://db/x?PASSWORD=s3cret"), "postgresql://db/x?PASSWORD=****");
  EXPECT_EQ(maskUrl("postgresql://db/x?sslpassword=k3y"), "postgresql://db/x?sslpassword=****");
  EXPECT_EQ(maskUrl("postgresql://u:pw@db/x?password=two"),
            "postgresql://u:****@db/x?password=****");
}

TEST(MaskUrl, HidesTheWholeUrlWhenASecretWouldStillShow) {
  // Percent-encoded in the query: libpq decodes it to "s3cret", which the text does not show
  // as such, so the masked form is safe; a value repeated elsewhere in the URL is not.
  const std::string masked = maskUrl("postgresql://db/s3cret?password=s3cret");
  EXPECT_EQ(masked.find("s3cret"), std::string::npos) << masked;
}

TEST(CheckPostgresUrl, WhatLibpqRefusesIsRefusedAtLoad) {
  EXPECT_EQ(checkPostgresUrl("postgresql://db/x?sslmode=require"), "");
  const std::string e = checkPostgresUrl("postgresql://db/x?no_such_parameter=1&password=s3cret");
  EXPECT_NE(e.find("libpq refuses it"), std::string::npos) << e;
  EXPECT_EQ(e.find("s3cret"), std::string::npos) << e;
}

} // namespace
} // namespace auditq::config
