// The tools' Redis client: redis/async_connection run to completion, one reply at a time.
#include "redis/blocking_client.h"

#include <fmt/format.h>

#include "redis/async_connection.h"

namespace auditq::redis {

struct BlockingClient::State {
  boost::asio::io_context io;
  std::shared_ptr<AsyncConnection> conn;
  std::chrono::milliseconds command_timeout{0};
  std::deque<Reply> replies; // arrived, not yet taken, in order
  size_t outstanding = 0;    // appended, not yet arrived
  std::string error;         // the connection's failure, once it failed

  // Runs the io_context until `done` or the deadline; throws on failure or timeout.
  template <typename Done>
  void runUntil(Done done, std::chrono::milliseconds limit, std::string_view what) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!done()) {
      if (!error.empty()) {
        throw Error(fmt::format("Redis at {}: {}", conn->endpoint().display, error));
      }
      const auto left = deadline - std::chrono::steady_clock::now();
      if (left <= std::chrono::milliseconds(0) || io.stopped()) {
        conn->close();
        throw Error(fmt::format("Redis at {}: {} timed out after {} ms", conn->endpoint().display,
                                what, limit.count()));
      }
      io.run_one_for(left);
    }
  }
};

BlockingClient::BlockingClient(std::unique_ptr<State> state) : state_(std::move(state)) {}
BlockingClient::BlockingClient(BlockingClient&&) noexcept = default;
BlockingClient& BlockingClient::operator=(BlockingClient&&) noexcept = default;

BlockingClient::~BlockingClient() {
  if (state_ && state_->conn) {
    state_->conn->close();
  }
}

BlockingClient BlockingClient::connect(const config::RedisConfig& redis) {
  auto state = std::make_unique<State>();
  state->command_timeout = std::chrono::milliseconds(redis.command_timeout_ms);
  const auto connect_timeout = std::chrono::milliseconds(redis.connect_timeout_ms);
  // Asking sentinels takes up to one connect timeout per sentinel, then the primary's.
  const auto limit =
      connect_timeout * static_cast<int64_t>(redis.sentinels.size() + 1) + std::chrono::seconds(1);
  state->conn = AsyncConnection::create(state->io, endpointFrom(redis), connect_timeout);
  bool done = false;
  std::string error;
  state->conn->connect([&](std::string_view e) {
    done = true;
    error = e;
  });
  State* s = state.get();
  s->conn->onDisconnect([s](std::string_view e) { s->error = e; });
  s->runUntil([&] { return done; }, limit, "connecting");
  if (!error.empty()) {
    throw Error(
        fmt::format("cannot connect to Redis at {}: {}", s->conn->endpoint().display, error));
  }
  return BlockingClient(std::move(state));
}

const Endpoint& BlockingClient::endpoint() const {
  return state_->conn->endpoint();
}

void BlockingClient::append(std::span<const std::string_view> args) {
  State* s = state_.get();
  ++s->outstanding;
  s->conn->command(args, std::chrono::milliseconds(0),
                   [s](redisReply* reply, std::string_view error) {
                     --s->outstanding;
                     if (reply == nullptr) {
                       if (s->error.empty()) {
                         s->error = error;
                       }
                       return;
                     }
                     s->conn->keepReply();
                     s->replies.emplace_back(reply);
                   });
}

Reply BlockingClient::reply() {
  State* s = state_.get();
  if (s->replies.empty() && s->outstanding == 0) {
    throw Error("BlockingClient::reply() without a command sent");
  }
  // The timeout counts from now: a long pipeline is answered at Redis' pace, reply by reply.
  s->runUntil([s] { return !s->replies.empty(); }, s->command_timeout, "a command");
  Reply r = std::move(s->replies.front());
  s->replies.pop_front();
  return r;
}

Reply BlockingClient::command(const std::vector<std::string_view>& args) {
  append(args);
  return reply();
}

} // namespace auditq::redis
