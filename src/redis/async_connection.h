// One Redis connection driven by a Boost.Asio io_context, over plain TCP, TLS (rediss://,
// Asio's SSL stream with certificate and host name verification) or a unix socket. hiredis
// only speaks RESP here: its command formatter encodes, its reader decodes; the socket is
// Asio's. Resolves the host name asynchronously, connects with TCP keepalive on, AUTHs,
// SELECTs (and with redis.sentinels first asks them where the primary is, then checks ROLE),
// then runs commands whose replies arrive on the io_context thread, in order.
// Single-threaded: every call must come from the io_context's thread.
#pragma once

#include <hiredis/hiredis.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <deque>
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
  // `reply` is valid only during the call (unless the handler calls keepReply()) and is null
  // when the command failed at the connection level (then `error` says why). A Redis error
  // reply is a reply of type REDIS_REPLY_ERROR, not an error here.
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
  // Called by a ReplyHandler: the reply is the handler's to free (freeReplyObject).
  void keepReply() { reply_kept_ = true; }

  // SUBSCRIBE to `channel`: `handler` gets each message's payload until the connection ends.
  // The connection is then a subscriber: no other command may be sent on it.
  void subscribe(std::string_view channel, std::function<void(std::string_view)> handler);

  // Called once when an established connection is lost (not after close()).
  void onDisconnect(std::function<void(std::string_view error)> handler) {
    on_disconnect_ = std::move(handler);
  }

  bool connected() const { return open_ && ready_; }
  // Closes the connection; pending handlers are called with an error.
  void close();

  const Endpoint& endpoint() const { return endpoint_; }

private:
  AsyncConnection(boost::asio::io_context& io, Endpoint endpoint,
                  std::chrono::milliseconds connect_timeout, std::string client_name);

  // The socket and what its asynchronous operations use: owned jointly by the connection and
  // every operation in flight, so it outlives them whatever happens to the connection (an SSL
  // stream must never be destroyed under an operation).
  struct Transport;
  struct Pending {
    ReplyHandler handler;
    std::shared_ptr<boost::asio::steady_timer> timer;
  };

  void askSentinel(size_t i, std::string errors);
  void resolve();
  void onTransport(const boost::system::error_code& ec);
  void handshake();
  void transportReady();
  void authenticate();
  void finishConnect(std::string_view error);
  void flush();
  void read();
  void dispatch(redisReply* reply);
  // The transport failed (read or write error, end of stream, protocol error).
  void fail(std::string_view error);
  // Closes the socket and fails every pending command with `error`.
  void shutdown(std::string_view error);
  void armTimeout(const std::shared_ptr<boost::asio::steady_timer>& timer,
                  std::chrono::milliseconds timeout);

  boost::asio::io_context& io_;
  Endpoint endpoint_;
  std::chrono::milliseconds connect_timeout_;
  std::string client_name_;
  std::shared_ptr<Transport> transport_;
  redisReader* reader_ = nullptr;
  boost::asio::steady_timer connect_timer_;
  boost::asio::ip::tcp::resolver resolver_;
  std::deque<Pending> pending_;
  std::string out_; // formatted commands not handed to the socket yet
  // When the socket last had something to read (a command's timeout counts from here).
  std::chrono::steady_clock::time_point last_read_ = std::chrono::steady_clock::now();
  bool open_ = false;    // the transport is up (TCP connected, TLS handshake done)
  bool writing_ = false; // a write is in flight
  bool ready_ = false;   // authenticated: commands may be sent
  bool subscribed_ = false;
  bool reply_kept_ = false;
  std::shared_ptr<AsyncConnection> sentinel_; // while asking a sentinel for the primary
  ReadyHandler on_ready_;
  std::function<void(std::string_view)> on_disconnect_;
  std::function<void(std::string_view)> on_message_;
};

} // namespace auditq::redis
