// `auditq status`: reads what status_report.h describes -- per stream from Redis (XLEN,
// XINFO GROUPS, XPENDING, XINFO CONSUMERS) and PostgreSQL (newest committed entry, dead
// letters of the last hour), and the running daemon's /readyz -- then prints one screen or
// JSON. Exit 0 when nothing needs attention, 1 otherwise (saying what), 2 on bad usage.
// Read-only everywhere; runs with the daemon's own credentials (the ACL user needs +xlen).
#include <chrono>
#include <iostream>

#include <simdjson.h>

#include "app/cli.h"
#include "app/commands.h"
#include "app/status_report.h"
#include "config/url.h"
#include "http/client.h"
#include "pg/connection.h"
#include "pg/dead_letters.h"
#include "pg/stream_positions.h"
#include "redis/blocking_client.h"
#include "redis/replies.h"

namespace auditq::app {
namespace {

constexpr int64_t kDeadLetterWindowSeconds = 3600;

void readRedis(const config::Config& cfg, status::Report& report) {
  try {
    auto client = redis::BlockingClient::connect(cfg.redis);
    report.redis_where = client.endpoint().display;
    for (auto& s : report.streams) {
      const std::string_view name = s.name;
      const std::string_view group = cfg.consumer.group;
      auto len = client.command({"XLEN", name});
      if (len->type == REDIS_REPLY_ERROR) {
        throw redis::Error(std::string(redis::replyText(len.get())));
      }
      s.length = len->integer;
      auto groups = client.command({"XINFO", "GROUPS", name});
      // A stream that does not exist answers "ERR no such key": no group. Any other error (an
      // ACL without XINFO, a key of another type) is not "no consumer group": say what it is.
      if (groups->type == REDIS_REPLY_ERROR &&
          redis::replyText(groups.get()).find("no such key") == std::string_view::npos) {
        throw redis::Error(std::string(redis::replyText(groups.get())));
      }
      const auto info = redis::findGroup(groups.get(), group);
      s.group_exists = info.has_value();
      if (!info) {
        continue;
      }
      s.lag = info->lag >= 0 ? std::optional<int64_t>(info->lag) : std::nullopt;
      if (const auto pending =
              redis::parsePendingSummary(client.command({"XPENDING", name, group}).get())) {
        s.pending = pending->count;
        s.oldest_pending = pending->oldest;
      }
      for (auto& c :
           redis::parseConsumers(client.command({"XINFO", "CONSUMERS", name, group}).get())) {
        s.consumers.push_back({std::move(c.name), c.pending, c.idle_ms});
      }
    }
  } catch (const redis::Error& e) {
    report.redis_error = e.what();
  }
}

void readPostgres(const config::Config& cfg, status::Report& report) {
  try {
    auto conn = pg::Connection::open(cfg.postgres);
    report.postgres_where = conn->describe();
    for (auto& s : report.streams) {
      s.newest_committed = pg::streamPosition(*conn, s.name, cfg.consumer.group).newest_committed;
      s.dead_letters_last_hour = pg::recentDeadLetters(*conn, s.name, kDeadLetterWindowSeconds);
    }
  } catch (const pg::Error& e) {
    report.postgres_error = e.what();
  }
}

// /readyz's JSON: {"ready":b,"redis":s,"postgres":s,"breaker":s,"reasons":[s...]}.
void readDaemon(const config::Config& cfg, status::Daemon& d) {
  const auto at = daemonAddress(cfg);
  if (!at) {
    return;
  }
  d.checked = true;
  d.listen = cfg.http.listen;
  const auto r = http::get(at->host, at->port, "/readyz", std::chrono::seconds(3));
  if (r.status == 0) {
    d.error = r.error;
    return;
  }
  simdjson::ondemand::parser parser;
  simdjson::padded_string body(r.body);
  simdjson::ondemand::document doc;
  if (parser.iterate(body).get(doc) != simdjson::SUCCESS) {
    d.error = "HTTP " + std::to_string(r.status) + " without JSON from /readyz";
    return;
  }
  d.answered = true;
  auto text = [&](const char* key, std::string& out) {
    std::string_view v;
    if (doc[key].get_string().get(v) == simdjson::SUCCESS) {
      out = v;
    }
  };
  bool ready = false;
  if (doc["ready"].get_bool().get(ready) == simdjson::SUCCESS) {
    d.ready = ready && r.status == 200;
  }
  text("redis", d.redis);
  text("postgres", d.postgres);
  text("breaker", d.breaker);
  simdjson::ondemand::array reasons;
  if (doc["reasons"].get_array().get(reasons) == simdjson::SUCCESS) {
    for (auto reason : reasons) {
      std::string_view v;
      if (reason.get_string().get(v) == simdjson::SUCCESS) {
        d.reasons.emplace_back(v);
      }
    }
  }
}

} // namespace

int showStatus(const config::Config& cfg, const StatusOptions& options) {
  status::Report report;
  report.group = cfg.consumer.group;
  report.redis_where = config::maskUrl(cfg.redis.url);
  report.postgres_where = config::maskUrl(cfg.postgres.url);
  for (const auto& s : cfg.consumer.streams) {
    report.streams.emplace_back().name = s;
  }
  readRedis(cfg, report);
  readPostgres(cfg, report);
  if (!options.no_daemon) {
    readDaemon(cfg, report.daemon);
  }
  report.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::system_clock::now().time_since_epoch())
                      .count();
  const auto needs = status::attention(report, status::Limits{});
  std::cout << (options.json ? status::renderJson(report, needs)
                             : status::renderText(report, needs));
  return needs.empty() ? kExitOk : kExitFailure;
}

} // namespace auditq::app
