// `auditq dlq list|replay|purge`: inspect, re-queue or delete dead letters.
#include <iostream>

#include <fmt/format.h>

#include "app/cli.h"
#include "app/commands.h"
#include "core/json_text.h"
#include "core/reason_code.h"
#include "core/text.h"
#include "pg/dead_letters.h"
#include "pipeline/batch.h"
#include "redis/blocking_client.h"

namespace auditq::app {
namespace {

void printJson(const pg::DeadLetter& d) {
  std::string line = fmt::format(R"({{"id":{},"stream":)", d.id);
  core::appendJsonString(line, d.stream);
  line += R"(,"entry_id":)";
  core::appendJsonString(line, d.entry_id);
  line += R"(,"reason":)";
  core::appendJsonString(line, d.reason);
  line += R"(,"error":)";
  core::appendJsonString(line, d.error);
  line += fmt::format(R"(,"delivery_count":{},"dead_lettered_at":")", d.delivery_count);
  line += d.dead_lettered_at;
  line += R"(","replayed_at":)";
  line += d.replayed_at.empty() ? "null" : "\"" + d.replayed_at + "\"";
  line += R"(,"replayed_as":)";
  if (d.replayed_as.empty()) {
    line += "null";
  } else {
    core::appendJsonString(line, d.replayed_as);
  }
  line += R"(,"fields":)";
  line += d.fields_json; // jsonb's own rendering: valid JSON
  line += "}\n";
  std::cout << line;
}

int list(const config::Config& cfg, const DlqOptions& o) {
  pg::DeadLetterFilter filter;
  filter.stream = o.stream;
  filter.reason = o.reason;
  filter.limit = o.limit;
  auto conn = pg::Connection::open(cfg.postgres);
  const auto letters = pg::listDeadLetters(*conn, filter);
  if (o.json) {
    for (const auto& d : letters) {
      printJson(d);
    }
    return kExitOk;
  }
  std::cout << fmt::format("{:>8}  {:<20}  {:<24}  {:<20}  {:<20}  {:>4}  {:<20}  {}\n", "ID",
                           "DEAD_LETTERED_AT", "STREAM", "ENTRY_ID", "REASON", "DLVR",
                           "REPLAYED_AT", "ERROR");
  for (const auto& d : letters) {
    std::cout << fmt::format("{:>8}  {:<20}  {:<24}  {:<20}  {:<20}  {:>4}  {:<20}  {}\n", d.id,
                             d.dead_lettered_at, d.stream, d.entry_id, d.reason, d.delivery_count,
                             d.replayed_at.empty() ? "-" : d.replayed_at, d.error);
  }
  std::cerr << fmt::format("{} dead letter(s){}\n", letters.size(),
                           static_cast<int64_t>(letters.size()) == o.limit
                               ? fmt::format(" (--limit {} reached)", o.limit)
                               : "");
  return kExitOk;
}

// Re-queues a letter at most once, whatever happens between the XADD and the mark in
// PostgreSQL: the XADD and a marker key (<stream>:auditq-replayed:<letter id>, kept a week) are
// one script, and a second run for the same letter gets the first run's entry id back. The new
// entry carries auditq_replay_of = the letter id.
constexpr std::string_view kReplayScript = R"(
local done = redis.call('GET', KEYS[2])
if done then return done end
local id = redis.call('XADD', KEYS[1], '*', unpack(ARGV, 2))
redis.call('SET', KEYS[2], id, 'EX', ARGV[1])
return id)";
constexpr std::string_view kMarkerSeconds = "604800";
// Lua's unpack takes at most a few thousand values; entries of more fields are refused.
constexpr size_t kMaxReplayFields = 4000;

int replay(const config::Config& cfg, const DlqOptions& o) {
  auto conn = pg::Connection::open(cfg.postgres);
  auto redis = redis::BlockingClient::connect(cfg.redis);
  std::vector<std::string> fields;
  std::vector<std::string_view> args;
  auto send = [&](const pg::DeadLetter& d) -> pg::Sent {
    if (!pipeline::parseFieldsJson(d.fields_json, fields)) {
      return {std::nullopt, "its fields were cut (dead_letter.max_field_bytes) or are not [[name, "
                            "value], ...]: the entry cannot be rebuilt"};
    }
    if (fields.empty()) {
      return {std::nullopt, "no fields (the entry was trimmed from the stream before it was "
                            "read)"};
    }
    if (fields.size() % 2 == 1) {
      fields.emplace_back(); // a dangling name gets an empty value: XADD needs pairs
    }
    if (fields.size() + 2 > kMaxReplayFields) {
      return {std::nullopt, fmt::format("{} fields: more than a replay takes", fields.size())};
    }
    const std::string marker = fmt::format("{}:auditq-replayed:{}", d.stream, d.id);
    const std::string letter = std::to_string(d.id);
    args.assign({"EVAL", kReplayScript, "2", d.stream, marker, kMarkerSeconds});
    args.insert(args.end(), fields.begin(), fields.end());
    args.insert(args.end(), {"auditq_replay_of", letter});
    auto reply = redis.command(args);
    if (reply->type != REDIS_REPLY_STRING) {
      throw redis::Error(fmt::format("XADD {}: {}", d.stream,
                                     reply->type == REDIS_REPLY_ERROR ? reply->str : "no id"));
    }
    return {std::string(reply->str, reply->len), {}};
  };
  const auto result = pg::replayDeadLetters(*conn, o.ids, send);
  std::cout << fmt::format("replayed {} dead letter(s)\n", result.replayed.size());
  if (!result.already_replayed.empty()) {
    std::cout << fmt::format("skipped (already replayed): {}\n",
                             fmt::join(result.already_replayed, ","));
  }
  for (const auto& [id, why] : result.unreplayable) {
    std::cout << fmt::format("skipped (cannot be replayed): {}: {}\n", id, why);
  }
  if (!result.missing.empty()) {
    std::cerr << fmt::format("auditq: no such dead letter: {}\n", fmt::join(result.missing, ","));
    return kExitFailure;
  }
  return kExitOk;
}

int purge(const config::Config& cfg, const DlqOptions& o) {
  int64_t seconds = 0;
  if (!core::parseDurationSeconds(o.older_than, seconds)) {
    std::cerr << fmt::format("auditq: --older-than: expected a duration such as 30d, 12h, 90m "
                             "or 3600s, got '{}'\n",
                             o.older_than);
    return kExitUsage;
  }
  auto conn = pg::Connection::open(cfg.postgres);
  const int64_t n = pg::purgeDeadLetters(*conn, seconds);
  std::cout << fmt::format("purged {} dead letter(s) older than {}\n", n, o.older_than);
  return kExitOk;
}

} // namespace

int deadLetters(const config::Config& cfg, const DlqOptions& o) {
  if (o.reason && !core::reasonFromName(*o.reason)) {
    std::string known;
    for (auto r : core::kAllReasonCodes) {
      known += (known.empty() ? "" : ", ") + std::string(core::reasonName(r));
    }
    std::cerr << fmt::format("auditq: --reason: unknown reason code '{}' (known: {})\n", *o.reason,
                             known);
    return kExitUsage;
  }
  try {
    switch (o.action) {
    case DlqAction::List:
      return list(cfg, o);
    case DlqAction::Replay:
      return replay(cfg, o);
    case DlqAction::Purge:
      return purge(cfg, o);
    }
  } catch (const pg::Error& e) {
    std::cerr << "auditq: dlq: PostgreSQL: " << e.what() << "\n";
  } catch (const redis::Error& e) {
    std::cerr << "auditq: dlq: Redis: " << e.what() << "\n";
  }
  return kExitFailure;
}

} // namespace auditq::app
