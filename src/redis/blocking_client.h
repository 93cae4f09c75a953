// A synchronous Redis connection for the command-line tools (check-config --connect, recover,
// dlq, tests): connect with timeout, AUTH, SELECT, then one command or a pipeline at a time.
// The daemon's hot path uses the asynchronous client instead.
#pragma once

#include <hiredis/hiredis.h>

#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "redis/endpoint.h"

namespace auditq::redis {

class Error : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};
using Reply = std::unique_ptr<redisReply, ReplyDeleter>;

class BlockingClient {
public:
  // Connects, authenticates and selects the database. Throws Error naming the masked URL.
  static BlockingClient connect(const config::RedisConfig& redis);

  // Sends one command given as arguments (binary safe). Throws Error when the connection fails;
  // a Redis error reply is returned as a reply of type REDIS_REPLY_ERROR, not thrown.
  Reply command(const std::vector<std::string_view>& args);

  // Pipelining: append() queues a command in the output buffer (nothing is sent yet), reply()
  // sends what is queued and returns the next reply in order. Throws Error like command().
  void append(std::span<const std::string_view> args);
  Reply reply();

  const Endpoint& endpoint() const { return endpoint_; }

private:
  struct ContextDeleter {
    void operator()(redisContext* c) const { redisFree(c); }
  };
  BlockingClient(Endpoint ep, redisContext* ctx) : endpoint_(std::move(ep)), ctx_(ctx) {}

  Endpoint endpoint_;
  std::unique_ptr<redisContext, ContextDeleter> ctx_;
  std::vector<const char*> argv_; // reused by append()
  std::vector<size_t> lens_;
};

} // namespace auditq::redis
