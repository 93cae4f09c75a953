// One hiredis asynchronous connection driven by a Boost.Asio io_context: the socket is watched
// with posix::stream_descriptor waits that call hiredis' read/write handlers. Resolves the host
// name asynchronously (hiredis would call getaddrinfo and block the event loop), connects with
// TCP keepalive on, AUTHs, SELECTs, then runs commands whose replies arrive on the io_context
// thread.
// Single-threaded: every call must come from the io_context's thread.
#pragma once

#include <hiredis/async.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "redis/endpoint.h"

namespace auditq::redis {

class AsyncConnection : public std::enable_shared_from_this<AsyncConnection> {
public:
  // `reply` is valid only during the call and is null when the command failed at the
  // connection level (then `error` says why). A Redis error reply is a reply of type
  // REDIS_REPLY_ERROR, not an error here.
  using ReplyHandler = std::function<void(redisReply* reply, std::string_view error)>;
  using ReadyHandler = std::function<void(std::string_view error)>;

  // `client_name`, when not empty, is set with CLIENT SETNAME (shown by CLIENT LIST; a user
  // without that right just stays unnamed).
  static std::shared_ptr<AsyncConnection> create(boost::asio::io_context& io, Endpoint endpoint,
                                                 std::chrono::milliseconds connect_timeout,
                                                 std::string client_name = {});
  ~AsyncConnection();
  AsyncConnection(const AsyncConnection&) = delete;
  AsyncConnection& operator=(const AsyncConnection&) = delete;

  // Connects and authenticates; `on_ready` is called exactly once, with an empty error on
  // success. Called at most once per object: reconnecting means a new AsyncConnection.
  void connect(ReadyHandler on_ready);

  // Sends a command (binary-safe arguments). If the connection stays silent for `timeout`
  // before the reply is complete, it is closed and every pending handler gets an error: a hung
  // Redis must not hang auditq, a large reply still arriving is not hung. `timeout` zero means
  // none.
  void command(std::span<const std::string_view> args, std::chrono::milliseconds timeout,
               ReplyHandler handler);

  // SUBSCRIBE to `channel`: `handler` gets each message's payload until the connection ends.
  // The connection is then a subscriber: no other command may be sent on it.
  void subscribe(std::string_view channel, std::function<void(std::string_view)> handler);

  // Called once when an established connection is lost (not after close()).
  void onDisconnect(std::function<void(std::string_view error)> handler) {
    on_disconnect_ = std::move(handler);
  }

  bool connected() const { return ctx_ != nullptr && ready_; }
  // Closes the connection; pending handlers are called with an error.
  void close();

  const Endpoint& endpoint() const { return endpoint_; }

private:
  AsyncConnection(boost::asio::io_context& io, Endpoint endpoint,
                  std::chrono::milliseconds connect_timeout, std::string client_name);

  struct Pending;
  static void onConnect(const redisAsyncContext* ctx, int status);
  static void onDisconnected(const redisAsyncContext* ctx, int status);
  static void onReply(redisAsyncContext* ctx, void* reply, void* privdata);
  static void onMessage(redisAsyncContext* ctx, void* reply, void* privdata);
  static void addRead(void* data);
  static void delRead(void* data);
  static void addWrite(void* data);
  static void delWrite(void* data);
  static void cleanup(void* data);

  void armRead();
  void armWrite();
  void armTimeout(boost::asio::steady_timer& timer, std::chrono::milliseconds timeout);
  void askSentinel(size_t i, std::string errors);
  void resolve();
  void connectTo(const std::string& address);
  void finishConnect(std::string_view error);
  void authenticate();

  boost::asio::io_context& io_;
  Endpoint endpoint_;
  std::chrono::milliseconds connect_timeout_;
  std::string client_name_;
  redisAsyncContext* ctx_ = nullptr;
  boost::asio::posix::stream_descriptor socket_;
  boost::asio::steady_timer connect_timer_;
  boost::asio::ip::tcp::resolver resolver_;
  // When the socket last had something to read (a command's timeout counts from here).
  std::chrono::steady_clock::time_point last_read_ = std::chrono::steady_clock::now();
  bool want_read_ = false;
  bool want_write_ = false;
  bool read_armed_ = false;
  bool write_armed_ = false;
  bool ready_ = false;
  bool closing_ = false;
  std::shared_ptr<AsyncConnection> sentinel_; // while asking a sentinel for the primary
  ReadyHandler on_ready_;
  std::function<void(std::string_view)> on_disconnect_;
  std::function<void(std::string_view)> on_message_;
};

} // namespace auditq::redis
