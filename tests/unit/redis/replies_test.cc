// The replies that decide where the primary is: sentinels' answers, ROLE, READONLY, and the
// +switch-master announcement. Replies are made by hiredis' own reader from RESP bytes.
#include <hiredis/hiredis.h>

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "redis/replies.h"
#include "redis/sentinel_watch.h"

namespace auditq::redis {
namespace {

struct Freed {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Owned = std::unique_ptr<redisReply, Freed>;

Owned parse(const std::string& resp) {
  std::unique_ptr<redisReader, void (*)(redisReader*)> reader(redisReaderCreate(), redisReaderFree);
  EXPECT_EQ(redisReaderFeed(reader.get(), resp.data(), resp.size()), REDIS_OK);
  void* reply = nullptr;
  EXPECT_EQ(redisReaderGetReply(reader.get(), &reply), REDIS_OK);
  EXPECT_NE(reply, nullptr) << resp;
  return Owned(static_cast<redisReply*>(reply));
}

TEST(Replies, ReadOnlyAndMasterDownMeanNotThePrimary) {
  EXPECT_TRUE(
      isNotPrimary(parse("-READONLY You can't write against a read only replica.\r\n").get()));
  EXPECT_TRUE(isNotPrimary(parse("-MASTERDOWN Link with MASTER is down\r\n").get()));
  EXPECT_FALSE(isNotPrimary(parse("-NOGROUP No such key\r\n").get()));
  EXPECT_FALSE(isNotPrimary(parse("+READONLY\r\n").get())) << "a status, not an error";
  EXPECT_FALSE(isNotPrimary(nullptr));
}

TEST(Replies, MasterAddressFromASentinel) {
  const auto addr = parseMasterAddr(parse("*2\r\n$9\r\n127.0.0.1\r\n$4\r\n6380\r\n").get());
  ASSERT_TRUE(addr);
  EXPECT_EQ(addr->first, "127.0.0.1");
  EXPECT_EQ(addr->second, 6380);
  EXPECT_FALSE(parseMasterAddr(parse("*-1\r\n").get())) << "unknown name: nil";
  EXPECT_FALSE(parseMasterAddr(parse("$-1\r\n").get()));
  EXPECT_FALSE(parseMasterAddr(parse("*2\r\n$9\r\n127.0.0.1\r\n$5\r\n99999\r\n").get()));
  EXPECT_FALSE(parseMasterAddr(parse("*2\r\n$9\r\n127.0.0.1\r\n$3\r\n6x0\r\n").get()));
  EXPECT_FALSE(parseMasterAddr(parse("*2\r\n$0\r\n\r\n$4\r\n6380\r\n").get()));
  EXPECT_FALSE(parseMasterAddr(parse("-IDONTKNOW\r\n").get()));
}

TEST(Replies, RoleNames) {
  EXPECT_EQ(roleOf(parse("*3\r\n$6\r\nmaster\r\n:3129659\r\n*0\r\n").get()), "master");
  EXPECT_EQ(roleOf(parse("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n"
                         ":3167038\r\n")
                       .get()),
            "slave");
  EXPECT_EQ(roleOf(parse("*0\r\n").get()), "");
  EXPECT_EQ(roleOf(parse("-NOPERM\r\n").get()), "");
}

TEST(SentinelWatch, SwitchAnnouncementsOfOurPrimaryOnly) {
  EXPECT_TRUE(switchesMaster("auditq-primary 127.0.0.1 6379 127.0.0.1 6380", "auditq-primary"));
  EXPECT_FALSE(switchesMaster("auditq-primary-2 127.0.0.1 6379 127.0.0.1 6380", "auditq-primary"));
  EXPECT_FALSE(switchesMaster("other 127.0.0.1 6379 127.0.0.1 6380", "auditq-primary"));
  EXPECT_FALSE(switchesMaster("auditq-primary", "auditq-primary"));
}

TEST(Replies, ConsumersOfAGroupWithTheirPendingAndIdleTimes) {
  // XINFO CONSUMERS (Redis 7.2 adds "inactive"): two consumers.
  const auto c = parseConsumers(parse("*2\r\n"
                                      "*8\r\n$4\r\nname\r\n$5\r\nhost1\r\n$7\r\npending\r\n:3\r\n"
                                      "$4\r\nidle\r\n:1500\r\n$8\r\ninactive\r\n:1400\r\n"
                                      "*6\r\n$4\r\nname\r\n$5\r\nhost2\r\n$7\r\npending\r\n:0\r\n"
                                      "$4\r\nidle\r\n:90000\r\n")
                                    .get());
  ASSERT_EQ(c.size(), 2u);
  EXPECT_EQ(c[0].name, "host1");
  EXPECT_EQ(c[0].pending, 3);
  EXPECT_EQ(c[0].idle_ms, 1500);
  EXPECT_EQ(c[1].name, "host2");
  EXPECT_EQ(c[1].idle_ms, 90000);
  EXPECT_TRUE(parseConsumers(parse("-NOGROUP No such consumer group\r\n").get()).empty());
  EXPECT_TRUE(parseConsumers(parse("*0\r\n").get()).empty());
}

TEST(Replies, PendingSummaryGivesTheCountAndTheOldestEntry) {
  const auto p =
      parsePendingSummary(parse("*4\r\n:7\r\n$15\r\n1700000000000-3\r\n$15\r\n1700000009000-0\r\n"
                                "*1\r\n*2\r\n$5\r\nhost1\r\n$1\r\n7\r\n")
                              .get());
  ASSERT_TRUE(p);
  EXPECT_EQ(p->count, 7);
  ASSERT_TRUE(p->oldest);
  EXPECT_EQ(p->oldest->ms, 1700000000000u);
  EXPECT_EQ(p->oldest->seq, 3u);
  // Nothing pending: nil ids.
  const auto none = parsePendingSummary(parse("*4\r\n:0\r\n$-1\r\n$-1\r\n*-1\r\n").get());
  ASSERT_TRUE(none);
  EXPECT_EQ(none->count, 0);
  EXPECT_FALSE(none->oldest);
  EXPECT_FALSE(parsePendingSummary(parse("-NOGROUP No such key\r\n").get()));
}

} // namespace
} // namespace auditq::redis
