// A synchronous Redis connection for the command-line tools (check-config --connect, recover,
// dlq, tests): connect with timeout, AUTH, SELECT, then one command or a pipeline at a time.
// The same connection code as the daemon's (redis/async_connection: TCP, TLS, unix sockets,
// sentinels), driven by an io_context of its own until the awaited reply is there.
#pragma once

#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <deque>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "redis/endpoint.h"

namespace auditq::redis {

class AsyncConnection;

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
  BlockingClient(BlockingClient&&) noexcept;
  BlockingClient& operator=(BlockingClient&&) noexcept;
  ~BlockingClient();

  // Sends one command given as arguments (binary safe). Throws Error when the connection fails
  // or command_timeout_ms passes without a reply; a Redis error reply is returned as a reply
  // of type REDIS_REPLY_ERROR, not thrown.
  Reply command(const std::vector<std::string_view>& args);

  // Pipelining: append() queues a command (its arguments are copied at once), reply() returns
  // the next reply in order. Throws Error like command().
  void append(std::span<const std::string_view> args);
  Reply reply();

  const Endpoint& endpoint() const;

private:
  struct State;
  explicit BlockingClient(std::unique_ptr<State> state);
  std::unique_ptr<State> state_;
};

} // namespace auditq::redis
