// Synchronous hiredis client for the command-line tools.
#include "redis/blocking_client.h"

#include <fmt/format.h>

namespace auditq::redis {
namespace {

timeval toTimeval(int64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

} // namespace

BlockingClient BlockingClient::connect(const config::RedisConfig& redis) {
  Endpoint ep = endpointFrom(redis);
  redisContext* raw =
      redisConnectWithTimeout(ep.host.c_str(), ep.port, toTimeval(redis.connect_timeout_ms));
  if (raw == nullptr) {
    throw Error(fmt::format("cannot connect to Redis at {}: out of memory", ep.display));
  }
  BlockingClient client(ep, raw);
  if (raw->err != 0) {
    throw Error(fmt::format("cannot connect to Redis at {}: {}", ep.display, raw->errstr));
  }
  const timeval command_timeout = toTimeval(redis.command_timeout_ms);
  redisSetTimeout(raw, command_timeout);
  auto check = [&](Reply reply, const char* what) {
    if (reply->type == REDIS_REPLY_ERROR) {
      throw Error(fmt::format("Redis at {} refused {}: {}", ep.display, what, reply->str));
    }
  };
  if (!ep.password.empty()) {
    if (ep.user.empty()) {
      check(client.command({"AUTH", ep.password}), "AUTH");
    } else {
      check(client.command({"AUTH", ep.user, ep.password}), "AUTH");
    }
  }
  if (ep.db != 0) {
    const std::string db = std::to_string(ep.db);
    check(client.command({"SELECT", db}), "SELECT");
  }
  check(client.command({"PING"}), "PING");
  return client;
}

Reply BlockingClient::command(const std::vector<std::string_view>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  argv.reserve(args.size());
  lens.reserve(args.size());
  for (auto a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  void* reply =
      redisCommandArgv(ctx_.get(), static_cast<int>(argv.size()), argv.data(), lens.data());
  if (reply == nullptr) {
    throw Error(fmt::format("Redis at {}: {}", endpoint_.display,
                            ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost"));
  }
  return Reply(static_cast<redisReply*>(reply));
}

void BlockingClient::append(std::span<const std::string_view> args) {
  argv_.clear();
  lens_.clear();
  for (auto a : args) {
    argv_.push_back(a.data());
    lens_.push_back(a.size());
  }
  if (redisAppendCommandArgv(ctx_.get(), static_cast<int>(argv_.size()), argv_.data(),
                             lens_.data()) != REDIS_OK) {
    throw Error(fmt::format("Redis at {}: {}", endpoint_.display, ctx_->errstr));
  }
}

Reply BlockingClient::reply() {
  void* reply = nullptr;
  if (redisGetReply(ctx_.get(), &reply) != REDIS_OK || reply == nullptr) {
    throw Error(fmt::format("Redis at {}: {}", endpoint_.display,
                            ctx_->errstr[0] != '\0' ? ctx_->errstr : "connection lost"));
  }
  return Reply(static_cast<redisReply*>(reply));
}

} // namespace auditq::redis
