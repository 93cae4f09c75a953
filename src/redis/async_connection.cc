// hiredis async on Boost.Asio. hiredis calls addRead/addWrite when it wants the socket watched;
// each armed wait calls back into hiredis once and re-arms while hiredis still wants it.
// Handlers hold a weak_ptr: a context freed inside hiredis' read handler must not be touched.
#include "redis/async_connection.h"

#include <boost/asio/post.hpp>

#include <fmt/format.h>

#include "core/log.h"
#include "redis/replies.h"

namespace auditq::redis {

struct AsyncConnection::Pending {
  std::weak_ptr<AsyncConnection> owner;
  ReplyHandler handler;
  std::unique_ptr<boost::asio::steady_timer> timer;
};

std::shared_ptr<AsyncConnection> AsyncConnection::create(boost::asio::io_context& io,
                                                         Endpoint endpoint,
                                                         std::chrono::milliseconds timeout,
                                                         std::string client_name) {
  return std::shared_ptr<AsyncConnection>(
      new AsyncConnection(io, std::move(endpoint), timeout, std::move(client_name)));
}

AsyncConnection::AsyncConnection(boost::asio::io_context& io, Endpoint endpoint,
                                 std::chrono::milliseconds connect_timeout, std::string client_name)
    : io_(io), endpoint_(std::move(endpoint)), connect_timeout_(connect_timeout),
      client_name_(std::move(client_name)), socket_(io), connect_timer_(io), resolver_(io) {}

AsyncConnection::~AsyncConnection() {
  on_disconnect_ = nullptr;
  close();
}

void AsyncConnection::connect(ReadyHandler on_ready) {
  on_ready_ = std::move(on_ready);
  // One timer for the whole attempt: name resolution, TCP, AUTH, SELECT, PING.
  connect_timer_.expires_after(connect_timeout_);
  connect_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!ec && self && !self->ready_ && self->on_ready_) {
      self->resolver_.cancel();
      self->finishConnect("connect timed out");
    }
  });
  if (endpoint_.sentinels.empty()) {
    resolve();
  } else {
    askSentinel(0, {});
  }
}

// Redis Sentinel: the first sentinel that names a primary for master_name wins; the
// connection then checks with ROLE that it really reached a primary (a sentinel may lag).
void AsyncConnection::askSentinel(size_t i, std::string errors) {
  if (i == endpoint_.sentinels.size()) {
    finishConnect(
        fmt::format("no sentinel named a primary for '{}': {}", endpoint_.master_name, errors));
    return;
  }
  sentinel_ = AsyncConnection::create(io_, endpoint_.sentinel(i), connect_timeout_);
  auto next = [w = weak_from_this(), i, errors](std::string_view why) {
    auto self = w.lock();
    if (!self || !self->on_ready_) {
      return;
    }
    const auto& s = self->endpoint_.sentinels[i];
    std::string more = fmt::format("{}{}:{}: {}", errors.empty() ? "" : "; ", s.host, s.port, why);
    boost::asio::post(self->io_, [self, i, more = errors + more]() mutable {
      self->sentinel_.reset();
      self->askSentinel(i + 1, std::move(more));
    });
  };
  sentinel_->connect([w = weak_from_this(), next](std::string_view error) {
    auto self = w.lock();
    if (!self || !self->on_ready_) {
      return;
    }
    if (!error.empty()) {
      next(error);
      return;
    }
    std::string_view args[] = {"SENTINEL", "get-master-addr-by-name", self->endpoint_.master_name};
    self->sentinel_->command(
        args, self->connect_timeout_, [w, next](redisReply* reply, std::string_view error) {
          auto self = w.lock();
          if (!self || !self->on_ready_) {
            return;
          }
          const auto addr = parseMasterAddr(reply);
          if (!addr) {
            next(reply == nullptr                   ? error
                 : reply->type == REDIS_REPLY_ERROR ? replyText(reply)
                                                    : "knows no primary of that name");
            return;
          }
          self->endpoint_.host = addr->first;
          self->endpoint_.port = addr->second;
          boost::asio::post(self->io_, [self] {
            self->sentinel_.reset(); // closes it, outside its own callback
            if (self->on_ready_) {
              self->resolve();
            }
          });
        });
  });
}

void AsyncConnection::resolve() {
  resolver_.async_resolve(
      endpoint_.host, std::to_string(endpoint_.port),
      [w = weak_from_this()](const boost::system::error_code& ec,
                             const boost::asio::ip::tcp::resolver::results_type& results) {
        auto self = w.lock();
        if (!self || !self->on_ready_) {
          return; // timed out or closed meanwhile
        }
        if (ec || results.empty()) {
          self->finishConnect(fmt::format("cannot resolve {}: {}", self->endpoint_.host,
                                          ec ? ec.message() : "no address"));
          return;
        }
        self->connectTo(results.begin()->endpoint().address().to_string());
      });
}

void AsyncConnection::connectTo(const std::string& address) {
  ctx_ = redisAsyncConnect(address.c_str(), endpoint_.port);
  if (ctx_ == nullptr || ctx_->err != 0) {
    const std::string error = ctx_ != nullptr ? ctx_->errstr : "out of memory";
    if (ctx_ != nullptr) {
      redisAsyncFree(ctx_);
      ctx_ = nullptr;
    }
    auto self = shared_from_this();
    boost::asio::post(io_, [self, error] { self->finishConnect(error); });
    return;
  }
  // A peer that vanished without a FIN is noticed by the kernel, not only by our PINGs.
  redisEnableKeepAlive(&ctx_->c);
  ctx_->data = this;
  ctx_->ev.data = this;
  ctx_->ev.addRead = &AsyncConnection::addRead;
  ctx_->ev.delRead = &AsyncConnection::delRead;
  ctx_->ev.addWrite = &AsyncConnection::addWrite;
  ctx_->ev.delWrite = &AsyncConnection::delWrite;
  ctx_->ev.cleanup = &AsyncConnection::cleanup;
  socket_.assign(ctx_->c.fd);
  redisAsyncSetConnectCallback(ctx_, &AsyncConnection::onConnect);
  redisAsyncSetDisconnectCallback(ctx_, &AsyncConnection::onDisconnected);
  // hiredis arms the write watch itself once the socket is connecting.
}

void AsyncConnection::finishConnect(std::string_view error) {
  connect_timer_.cancel();
  ReadyHandler handler = std::move(on_ready_);
  on_ready_ = nullptr;
  if (!error.empty()) {
    close();
  } else {
    ready_ = true;
  }
  if (handler) {
    handler(error);
  }
}

void AsyncConnection::onConnect(const redisAsyncContext* ctx, int status) {
  auto* self = static_cast<AsyncConnection*>(ctx->data);
  if (status != REDIS_OK) {
    // hiredis frees the context after this callback returns.
    self->ctx_ = nullptr;
    self->finishConnect(ctx->errstr);
    return;
  }
  self->authenticate();
}

void AsyncConnection::authenticate() {
  std::vector<std::string> cmds;
  auto step = [w = weak_from_this()](const char* what) {
    return [w, what](redisReply* reply, std::string_view error) {
      auto self = w.lock();
      if (!self || !self->on_ready_) {
        return;
      }
      if (reply == nullptr) {
        self->finishConnect(error);
      } else if (reply->type == REDIS_REPLY_ERROR) {
        self->finishConnect(fmt::format("{} refused: {}", what, reply->str));
      } else if (std::string_view(what) == "PING") {
        self->finishConnect("");
      }
    };
  };
  const std::chrono::milliseconds t = connect_timeout_;
  if (!endpoint_.password.empty()) {
    if (endpoint_.user.empty()) {
      std::string_view args[] = {"AUTH", endpoint_.password};
      command(args, t, step("AUTH"));
    } else {
      std::string_view args[] = {"AUTH", endpoint_.user, endpoint_.password};
      command(args, t, step("AUTH"));
    }
  }
  if (endpoint_.db != 0) {
    const std::string db = std::to_string(endpoint_.db);
    std::string_view args[] = {"SELECT", db};
    command(args, t, step("SELECT"));
  }
  if (!client_name_.empty()) {
    // Refused (an ACL without CLIENT SETNAME, an older user rule): the name is only a help.
    std::string_view args[] = {"CLIENT", "SETNAME", client_name_};
    command(args, t, [](redisReply*, std::string_view) {});
  }
  if (!endpoint_.sentinels.empty()) {
    std::string_view role[] = {"ROLE"};
    command(role, t, [w = weak_from_this()](redisReply* reply, std::string_view error) {
      auto self = w.lock();
      if (!self || !self->on_ready_) {
        return;
      }
      if (reply == nullptr) {
        self->finishConnect(error);
      } else if (reply->type == REDIS_REPLY_ERROR) {
        self->finishConnect(fmt::format("ROLE refused: {}", replyText(reply)));
      } else if (roleOf(reply) != "master") {
        self->finishConnect(fmt::format("{}:{} is not the primary (role {}); sentinels not "
                                        "up to date yet",
                                        self->endpoint_.host, self->endpoint_.port, roleOf(reply)));
      }
    });
  }
  std::string_view ping[] = {"PING"};
  command(ping, t, step("PING"));
}

void AsyncConnection::onDisconnected(const redisAsyncContext* ctx, int status) {
  auto* self = static_cast<AsyncConnection*>(ctx->data);
  self->ctx_ = nullptr; // hiredis frees it after this callback
  const bool was_ready = self->ready_;
  self->ready_ = false;
  if (self->on_ready_) {
    self->finishConnect(status == REDIS_OK ? "connection closed" : ctx->errstr);
    return;
  }
  if (was_ready && !self->closing_ && self->on_disconnect_) {
    auto handler = self->on_disconnect_;
    handler(status == REDIS_OK ? std::string_view("connection closed") : ctx->errstr);
  }
}

void AsyncConnection::command(std::span<const std::string_view> args,
                              std::chrono::milliseconds timeout, ReplyHandler handler) {
  if (ctx_ == nullptr) {
    auto h = std::move(handler);
    boost::asio::post(io_, [h] { h(nullptr, "not connected"); });
    return;
  }
  // Small vectors per command: commands are per batch, not per entry.
  std::vector<const char*> argv(args.size());
  std::vector<size_t> lens(args.size());
  for (size_t i = 0; i < args.size(); ++i) {
    argv[i] = args[i].data();
    lens[i] = args[i].size();
  }
  auto pending = std::make_unique<Pending>();
  pending->owner = weak_from_this();
  pending->handler = std::move(handler);
  Pending* raw = pending.get();
  if (timeout.count() > 0) {
    raw->timer = std::make_unique<boost::asio::steady_timer>(io_, timeout);
    armTimeout(*raw->timer, timeout);
  }
  if (redisAsyncCommandArgv(ctx_, &AsyncConnection::onReply, raw, static_cast<int>(argv.size()),
                            argv.data(), lens.data()) != REDIS_OK) {
    auto h = std::move(raw->handler);
    boost::asio::post(io_, [h] { h(nullptr, "command not sent: connection closing"); });
    return; // `pending` is freed here: hiredis did not take it
  }
  (void)pending.release(); // owned by hiredis until onReply
}

// A command times out when the connection has been silent for `timeout`, not when its reply is
// not complete by then: a reply of hundreds of megabytes takes a while, and arriving is not
// hanging. While bytes come in, the wait is renewed.
void AsyncConnection::armTimeout(boost::asio::steady_timer& timer,
                                 std::chrono::milliseconds timeout) {
  timer.async_wait([w = weak_from_this(), &timer, timeout](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (ec || !self) {
      return;
    }
    const auto quiet = std::chrono::steady_clock::now() - self->last_read_;
    if (quiet < timeout) {
      timer.expires_after(timeout - std::chrono::duration_cast<std::chrono::milliseconds>(quiet));
      self->armTimeout(timer, timeout);
      return;
    }
    core::log::warn("redis_command_timeout", {{"redis", self->endpoint_.display}});
    self->close();
  });
}

void AsyncConnection::onReply(redisAsyncContext* ctx, void* reply, void* privdata) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(privdata));
  if (pending->timer) {
    pending->timer->cancel();
  }
  if (reply == nullptr) {
    const char* why = ctx != nullptr && ctx->err != 0 ? ctx->errstr : "connection lost";
    pending->handler(nullptr, why);
    return;
  }
  auto* r = static_cast<redisReply*>(reply);
  if (isNotPrimary(r)) {
    // Connected to a replica (demoted under us, or a stale address): a failure of the
    // connection, not of the command. The next connection asks the sentinels again.
    auto self = pending->owner.lock();
    const std::string why = fmt::format("not the primary: {}", replyText(r));
    if (self) {
      core::log::warn("redis_not_primary",
                      {{"redis", self->endpoint_.display}, {"reply", replyText(r)}});
      boost::asio::post(self->io_, [self] { self->close(); });
    }
    pending->handler(nullptr, why);
    return;
  }
  pending->handler(r, {});
}

void AsyncConnection::subscribe(std::string_view channel,
                                std::function<void(std::string_view)> handler) {
  if (ctx_ == nullptr) {
    return;
  }
  on_message_ = std::move(handler);
  // hiredis keeps a subscription's callback for every message: no Pending (freed after one
  // reply) and no timeout; the context's data leads back here.
  const char* argv[] = {"SUBSCRIBE", channel.data()};
  const size_t lens[] = {9, channel.size()};
  redisAsyncCommandArgv(ctx_, &AsyncConnection::onMessage, nullptr, 2, argv, lens);
}

void AsyncConnection::onMessage(redisAsyncContext* ctx, void* reply, void*) {
  auto* r = static_cast<redisReply*>(reply);
  auto* self = static_cast<AsyncConnection*>(ctx->data);
  // ["message", channel, payload]; the subscription's confirmation is ["subscribe", ...].
  if (r == nullptr || self == nullptr || r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
      replyText(r->element[0]) != "message" || !self->on_message_) {
    return;
  }
  auto handler = self->on_message_; // may close this connection
  handler(replyText(r->element[2]));
}

void AsyncConnection::close() {
  connect_timer_.cancel();
  resolver_.cancel();
  sentinel_.reset();
  if (ctx_ != nullptr && !closing_) {
    closing_ = true;
    redisAsyncContext* ctx = ctx_;
    // Frees the context: pending callbacks run with a null reply, then cleanup() runs.
    redisAsyncFree(ctx);
    ctx_ = nullptr;
    closing_ = false;
  }
  ready_ = false;
}

void AsyncConnection::armRead() {
  if (read_armed_ || !want_read_ || ctx_ == nullptr) {
    return;
  }
  read_armed_ = true;
  socket_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                     [w = weak_from_this()](const boost::system::error_code& ec) {
                       auto self = w.lock();
                       if (!self) {
                         return;
                       }
                       self->read_armed_ = false;
                       if (ec || self->ctx_ == nullptr || !self->want_read_) {
                         return;
                       }
                       self->last_read_ = std::chrono::steady_clock::now();
                       redisAsyncHandleRead(self->ctx_);
                       self->armRead();
                     });
}

void AsyncConnection::armWrite() {
  if (write_armed_ || !want_write_ || ctx_ == nullptr) {
    return;
  }
  write_armed_ = true;
  socket_.async_wait(boost::asio::posix::stream_descriptor::wait_write,
                     [w = weak_from_this()](const boost::system::error_code& ec) {
                       auto self = w.lock();
                       if (!self) {
                         return;
                       }
                       self->write_armed_ = false;
                       if (ec || self->ctx_ == nullptr || !self->want_write_) {
                         return;
                       }
                       redisAsyncHandleWrite(self->ctx_);
                       self->armWrite();
                     });
}

void AsyncConnection::addRead(void* data) {
  auto* self = static_cast<AsyncConnection*>(data);
  self->want_read_ = true;
  self->armRead();
}
void AsyncConnection::delRead(void* data) {
  static_cast<AsyncConnection*>(data)->want_read_ = false;
}
void AsyncConnection::addWrite(void* data) {
  auto* self = static_cast<AsyncConnection*>(data);
  self->want_write_ = true;
  self->armWrite();
}
void AsyncConnection::delWrite(void* data) {
  static_cast<AsyncConnection*>(data)->want_write_ = false;
}

void AsyncConnection::cleanup(void* data) {
  auto* self = static_cast<AsyncConnection*>(data);
  self->want_read_ = self->want_write_ = false;
  boost::system::error_code ignored;
  self->socket_.cancel(ignored);
  // hiredis closes the fd itself; the descriptor must only forget it.
  if (self->socket_.is_open()) {
    self->socket_.release();
  }
}

} // namespace auditq::redis
