// `auditq status`'s decisions: what needs attention (exit 1) and what does not, on reports
// built by hand with a fixed clock; and the JSON it prints for scripts.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "app/status_report.h"

namespace auditq::app::status {
namespace {

constexpr int64_t kNow = 1'800'000'000'000;

core::EntryId idAgo(int64_t ms) {
  return {static_cast<uint64_t>(kNow - ms), 0};
}

// A healthy stream: a group, one busy consumer, nothing waiting, a recent commit.
Report healthy() {
  Report r;
  r.now_ms = kNow;
  r.group = "auditq";
  r.redis_where = "redis://127.0.0.1:6379/0";
  r.postgres_where = "127.0.0.1:5432/app";
  Stream s;
  s.name = "sync:events";
  s.length = 1000;
  s.group_exists = true;
  s.lag = 0;
  s.consumers.push_back({"host-1", 0, 120});
  s.newest_committed = idAgo(2'000);
  r.streams.push_back(s);
  r.daemon = {.checked = true,
              .listen = "127.0.0.1:9187",
              .answered = true,
              .error = "",
              .ready = true,
              .redis = "connected",
              .postgres = "reachable",
              .breaker = "closed",
              .reasons = {}};
  return r;
}

bool mentions(const std::vector<std::string>& a, const std::string& text) {
  for (const auto& line : a) {
    if (line.find(text) != std::string::npos) {
      return true;
    }
  }
  return false;
}

TEST(Status, AHealthyStreamAndDaemonNeedNothing) {
  const auto r = healthy();
  EXPECT_TRUE(attention(r, {}).empty());
  EXPECT_NE(renderText(r, {}).find("healthy"), std::string::npos);
}

TEST(Status, AnIdleStreamWithAnOldCommitIsHealthy) {
  auto r = healthy();
  r.streams[0].newest_committed = idAgo(86'400'000); // nothing written for a day
  r.streams[0].consumers[0].idle_ms = 5'000;
  EXPECT_TRUE(attention(r, {}).empty());
}

TEST(Status, UnreadableServersNeedAttention) {
  auto r = healthy();
  r.redis_error = "connection refused";
  r.postgres_error = "timeout";
  const auto a = attention(r, {});
  EXPECT_TRUE(mentions(a, "Redis cannot be read (redis://127.0.0.1:6379/0): connection refused"));
  EXPECT_TRUE(mentions(a, "PostgreSQL cannot be read"));
  EXPECT_FALSE(mentions(a, "no consumer group")) << "a group is not missing when Redis is unread";
}

TEST(Status, AMissingGroupNeedsAttention) {
  auto r = healthy();
  r.streams[0].group_exists = false;
  EXPECT_TRUE(mentions(attention(r, {}), "sync:events: no consumer group 'auditq'"));
}

TEST(Status, AnOldPendingEntryNeedsAttentionAYoungOneDoesNot) {
  auto r = healthy();
  r.streams[0].pending = 5;
  r.streams[0].oldest_pending = idAgo(59'000);
  EXPECT_TRUE(attention(r, {}).empty());
  r.streams[0].oldest_pending = idAgo(61'000);
  EXPECT_TRUE(mentions(attention(r, {}), "the oldest pending entry"));
  EXPECT_TRUE(mentions(attention(r, {}), "61 s ago"));
}

TEST(Status, AWaitingBacklogWithNoReaderNeedsAttention) {
  auto r = healthy();
  r.streams[0].lag = 500;
  EXPECT_TRUE(attention(r, {}).empty()) << "a consumer read 120 ms ago: it is being worked on";
  r.streams[0].consumers[0].idle_ms = 600'000;
  EXPECT_TRUE(
      mentions(attention(r, {}), "500 entries waiting and no consumer has read for 10 min"));
  r.streams[0].consumers.clear();
  EXPECT_TRUE(mentions(attention(r, {}), "500 entries waiting and no consumer in the group"));
}

TEST(Status, AWaitingBacklogBehindAnOldCommitNeedsAttention) {
  auto r = healthy();
  r.streams[0].lag = 10;
  r.streams[0].newest_committed = idAgo(301'000);
  EXPECT_TRUE(mentions(attention(r, {}), "newest committed entry was written 5 min ago"));
}

TEST(Status, RecentDeadLettersNeedAttentionByReason) {
  auto r = healthy();
  r.streams[0].dead_letters_last_hour = {{"bad_uuid", 3}, {"bad_json", 1}};
  const auto a = attention(r, {});
  EXPECT_TRUE(mentions(a, "4 dead letters in the last hour (1 bad_json, 3 bad_uuid)"));
  EXPECT_TRUE(mentions(a, "auditq dlq list --stream sync:events"));
}

TEST(Status, TheDaemonNotAnsweringOrNotReadyNeedsAttention) {
  auto r = healthy();
  r.daemon.ready = false;
  r.daemon.reasons = {"postgres_failing", "breaker_not_closed"};
  EXPECT_TRUE(mentions(attention(r, {}), "not ready: postgres_failing, breaker_not_closed"));
  r.daemon.answered = false;
  r.daemon.error = "Connection refused";
  EXPECT_TRUE(mentions(attention(r, {}), "no daemon answers at http.listen 127.0.0.1:9187"));
  r.daemon.checked = false; // --no-daemon, or no http.listen
  EXPECT_TRUE(attention(r, {}).empty());
}

TEST(Status, JsonCarriesEveryFigure) {
  auto r = healthy();
  r.streams[0].pending = 2;
  r.streams[0].oldest_pending = idAgo(1'500);
  r.streams[0].dead_letters_last_hour = {{"bad_uuid", 1}};
  const auto a = attention(r, {});
  const auto j = nlohmann::json::parse(renderJson(r, a));
  EXPECT_EQ(j["healthy"], false);
  ASSERT_EQ(j["attention"].size(), 1u);
  EXPECT_EQ(j["daemon"]["breaker"], "closed");
  const auto& s = j["streams"][0];
  EXPECT_EQ(s["name"], "sync:events");
  EXPECT_EQ(s["entries"], 1000);
  EXPECT_EQ(s["lag"], 0);
  EXPECT_EQ(s["pending"], 2);
  EXPECT_EQ(s["oldest_pending_age_ms"], 1500);
  EXPECT_EQ(s["newest_committed_age_ms"], 2000);
  EXPECT_EQ(s["consumers"][0]["idle_ms"], 120);
  EXPECT_EQ(s["dead_letters_last_hour"]["bad_uuid"], 1);
  r.streams[0].lag.reset();
  r.streams[0].oldest_pending.reset();
  const auto k = nlohmann::json::parse(renderJson(r, {}));
  EXPECT_TRUE(k["streams"][0]["lag"].is_null());
  EXPECT_TRUE(k["streams"][0]["oldest_pending_age_ms"].is_null());
  EXPECT_EQ(k["healthy"], true);
}

TEST(Status, DurationsReadAsAnOperatorWouldSayThem) {
  EXPECT_EQ(humanDuration(350), "350 ms");
  EXPECT_EQ(humanDuration(42'000), "42 s");
  EXPECT_EQ(humanDuration(7 * 60'000), "7 min");
  EXPECT_EQ(humanDuration(3 * 3'600'000 + 5 * 60'000), "3 h 5 min");
  EXPECT_EQ(humanDuration(2 * 86'400'000 + 4 * 3'600'000), "2 d 4 h");
}

} // namespace
} // namespace auditq::app::status
