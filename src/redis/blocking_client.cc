// Synchronous hiredis client for the command-line tools.
#include "redis/blocking_client.h"

#include <fmt/format.h>

#include "redis/replies.h"

namespace auditq::redis {
namespace {

timeval toTimeval(int64_t ms) {
  return timeval{static_cast<time_t>(ms / 1000), static_cast<suseconds_t>((ms % 1000) * 1000)};
}

// Redis Sentinel: the primary the first answering sentinel names for master_name.
void askSentinels(Endpoint& ep, const config::RedisConfig& redis) {
  std::string errors;
  for (const auto& s : ep.sentinels) {
    std::unique_ptr<redisContext, void (*)(redisContext*)> c(
        redisConnectWithTimeout(s.host.c_str(), s.port, toTimeval(redis.connect_timeout_ms)),
        redisFree);
    std::string why;
    if (c == nullptr || c->err != 0) {
      why = c == nullptr ? "out of memory" : c->errstr;
    } else {
      redisSetTimeout(c.get(), toTimeval(redis.command_timeout_ms));
      const char* argv[] = {"SENTINEL", "get-master-addr-by-name", ep.master_name.c_str()};
      const size_t lens[] = {8, 23, ep.master_name.size()};
      Reply reply(static_cast<redisReply*>(redisCommandArgv(c.get(), 3, argv, lens)));
      if (const auto addr = parseMasterAddr(reply.get())) {
        ep.host = addr->first;
        ep.port = addr->second;
        return;
      }
      why = reply == nullptr                   ? std::string(c->errstr)
            : reply->type == REDIS_REPLY_ERROR ? std::string(replyText(reply.get()))
                                               : "knows no primary of that name";
    }
    errors += fmt::format("{}{}:{}: {}", errors.empty() ? "" : "; ", s.host, s.port, why);
  }
  throw Error(fmt::format("cannot find the Redis primary: no sentinel named a primary for '{}': {}",
                          ep.master_name, errors));
}

} // namespace

BlockingClient BlockingClient::connect(const config::RedisConfig& redis) {
  Endpoint ep = endpointFrom(redis);
  if (!ep.sentinels.empty()) {
    askSentinels(ep, redis);
  }
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
  if (!ep.sentinels.empty()) {
    Reply role = client.command({"ROLE"});
    if (role->type == REDIS_REPLY_ERROR) {
      check(std::move(role), "ROLE");
    } else if (roleOf(role.get()) != "master") {
      throw Error(fmt::format("Redis at {}:{} ({}) is not the primary (role {}); the sentinels "
                              "are not up to date yet",
                              ep.host, ep.port, ep.display, roleOf(role.get())));
    }
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
