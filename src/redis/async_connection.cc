// The connection: Asio moves the bytes (TCP, TLS or a unix socket), hiredis' formatter and
// reader turn commands into RESP and RESP into replies. Handlers of socket operations hold the
// Transport (so the stream outlives them) and a weak_ptr to the connection (so a connection
// dropped by its owner is not kept alive by a read that never ends).
// First: hiredis 0.14's sds.h declares C functions without an extern "C" guard, and hiredis.h
// (included by our header) includes it outside its own; declared here first, they link.
extern "C" {
#include <hiredis/sds.h>
}

#include "redis/async_connection.h"

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <boost/asio/connect.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/write.hpp>

#include <fmt/format.h>

#include "core/log.h"
#include "redis/replies.h"

namespace auditq::redis {

struct AsyncConnection::Transport {
  explicit Transport(boost::asio::io_context& io) : tcp(io), local(io) {}
  boost::asio::ip::tcp::socket tcp;
  boost::asio::local::stream_protocol::socket local;
  std::unique_ptr<boost::asio::ssl::context> tls_context; // declared before `tls`: outlives it
  std::unique_ptr<boost::asio::ssl::stream<boost::asio::ip::tcp::socket&>> tls;
  std::vector<char> in = std::vector<char>(size_t{64} << 10);
  std::string writing; // the bytes of the write in flight

  // Calls `f` with the stream in use.
  template <typename F>
  void with(F&& f) {
    if (tls) {
      f(*tls);
    } else if (local.is_open()) {
      f(local);
    } else {
      f(tcp);
    }
  }
  void close() {
    boost::system::error_code ignored;
    tcp.close(ignored);
    local.close(ignored);
  }
};

std::shared_ptr<AsyncConnection> AsyncConnection::create(boost::asio::io_context& io,
                                                         Endpoint endpoint,
                                                         std::chrono::milliseconds timeout,
                                                         std::string client_name) {
  return std::shared_ptr<AsyncConnection>(
      new AsyncConnection(io, std::move(endpoint), timeout, std::move(client_name)));
}

namespace {

// hiredis frees its input buffer whenever a reply leaves more than 16 KB of it unused, and a
// read of 16 entries of 1 KB is more than that: the next read allocated it again (a large
// malloc and a heap consolidation per read, 3% of the daemon's instructions). It keeps up to
// 1 MB instead; a larger buffer (a hostile reply) is still freed once consumed.
redisReader* makeReader() {
  redisReader* reader = redisReaderCreate();
  if (reader != nullptr) {
    reader->maxbuf = size_t{1} << 20;
  }
  return reader;
}

} // namespace

AsyncConnection::AsyncConnection(boost::asio::io_context& io, Endpoint endpoint,
                                 std::chrono::milliseconds connect_timeout, std::string client_name)
    : io_(io), endpoint_(std::move(endpoint)), connect_timeout_(connect_timeout),
      client_name_(std::move(client_name)), transport_(std::make_shared<Transport>(io)),
      reader_(makeReader()), connect_timer_(io), resolver_(io) {}

AsyncConnection::~AsyncConnection() {
  on_disconnect_ = nullptr;
  on_ready_ = nullptr;
  close();
  redisReaderFree(reader_);
}

void AsyncConnection::connect(ReadyHandler on_ready) {
  on_ready_ = std::move(on_ready);
  // One timer for the whole attempt: sentinels, name resolution, TCP, TLS, AUTH, SELECT, PING.
  connect_timer_.expires_after(connect_timeout_);
  connect_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!ec && self && !self->ready_ && self->on_ready_) {
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
  if (!endpoint_.unix_path.empty()) {
    auto t = transport_;
    t->local.async_connect(boost::asio::local::stream_protocol::endpoint(endpoint_.unix_path),
                           [t, w = weak_from_this()](const boost::system::error_code& ec) {
                             if (auto self = w.lock()) {
                               self->onTransport(ec);
                             }
                           });
    return;
  }
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
        auto t = self->transport_;
        boost::asio::async_connect(
            t->tcp, results,
            [t, w](const boost::system::error_code& ec, const boost::asio::ip::tcp::endpoint&) {
              if (auto self = w.lock()) {
                self->onTransport(ec);
              }
            });
      });
}

void AsyncConnection::onTransport(const boost::system::error_code& ec) {
  if (!on_ready_) {
    return; // timed out or closed meanwhile
  }
  if (ec) {
    finishConnect(endpoint_.unix_path.empty()
                      ? fmt::format("cannot connect to {}:{}: {}", endpoint_.host, endpoint_.port,
                                    ec.message())
                      : fmt::format("cannot connect to {}: {}", endpoint_.unix_path, ec.message()));
    return;
  }
  if (endpoint_.unix_path.empty()) {
    auto& s = transport_->tcp;
    boost::system::error_code ignored;
    s.set_option(boost::asio::ip::tcp::no_delay(true), ignored);
    // A peer that vanished without a FIN is noticed by the kernel, not only by our PINGs.
    s.set_option(boost::asio::socket_base::keep_alive(true), ignored);
    const int idle = 15;
    const int interval = 5;
    const int count = 3;
    ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle);
    ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPINTVL, &interval, sizeof interval);
    ::setsockopt(s.native_handle(), IPPROTO_TCP, TCP_KEEPCNT, &count, sizeof count);
  }
  if (endpoint_.tls) {
    handshake();
  } else {
    transportReady();
  }
}

// TLS: the server's chain must lead to the CA (redis.tls_ca_file, else the system's), and its
// certificate must name the host (redis.tls_server_name, else the URL's host).
void AsyncConnection::handshake() {
  namespace ssl = boost::asio::ssl;
  auto t = transport_;
  const std::string& name =
      endpoint_.tls_server_name.empty() ? endpoint_.host : endpoint_.tls_server_name;
  try {
    t->tls_context = std::make_unique<ssl::context>(ssl::context::tls_client);
    t->tls_context->set_options(ssl::context::default_workarounds | ssl::context::no_sslv2 |
                                ssl::context::no_sslv3 | ssl::context::no_tlsv1 |
                                ssl::context::no_tlsv1_1);
    t->tls_context->set_verify_mode(ssl::verify_peer);
    if (endpoint_.tls_ca_file.empty()) {
      t->tls_context->set_default_verify_paths();
    } else {
      t->tls_context->load_verify_file(endpoint_.tls_ca_file);
    }
    if (!endpoint_.tls_cert_file.empty()) {
      t->tls_context->use_certificate_chain_file(endpoint_.tls_cert_file);
      t->tls_context->use_private_key_file(endpoint_.tls_key_file, ssl::context::pem);
    }
    t->tls = std::make_unique<ssl::stream<boost::asio::ip::tcp::socket&>>(t->tcp, *t->tls_context);
    t->tls->set_verify_callback(ssl::host_name_verification(name));
    boost::system::error_code ec;
    boost::asio::ip::make_address(name, ec);
    if (ec) { // SNI carries host names only
      SSL_set_tlsext_host_name(t->tls->native_handle(), name.c_str());
    }
  } catch (const boost::system::system_error& e) {
    finishConnect(fmt::format("TLS setup failed (redis.tls_ca_file, tls_cert_file, "
                              "tls_key_file): {}",
                              e.what()));
    return;
  }
  t->tls->async_handshake(ssl::stream_base::client, [t, w = weak_from_this(),
                                                     name](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!self || !self->on_ready_) {
      return;
    }
    if (ec) {
      self->finishConnect(fmt::format("TLS handshake with {}:{} failed (verifying the name '{}' "
                                      "against redis.tls_ca_file or the system's CAs): {}",
                                      self->endpoint_.host, self->endpoint_.port, name,
                                      ec.message()));
      return;
    }
    self->transportReady();
  });
}

void AsyncConnection::transportReady() {
  open_ = true;
  last_read_ = std::chrono::steady_clock::now();
  read();
  authenticate();
}

void AsyncConnection::finishConnect(std::string_view error) {
  connect_timer_.cancel();
  ReadyHandler handler = std::move(on_ready_);
  on_ready_ = nullptr;
  const std::string why(error); // `error` may point into what close() frees
  if (!why.empty()) {
    close();
  } else {
    ready_ = true;
  }
  if (handler) {
    handler(why);
  }
}

void AsyncConnection::authenticate() {
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
      } else if (std::string_view(what) == "ROLE" && roleOf(reply) != "master") {
        // A sentinel named a server that is not (or no longer) the primary.
        self->finishConnect(fmt::format("{}:{} is not the primary (role {}); sentinels not "
                                        "up to date yet",
                                        self->endpoint_.host, self->endpoint_.port, roleOf(reply)));
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
    command(role, t, step("ROLE"));
  }
  std::string_view ping[] = {"PING"};
  command(ping, t, step("PING"));
}

void AsyncConnection::command(std::span<const std::string_view> args,
                              std::chrono::milliseconds timeout, ReplyHandler handler) {
  if (!open_) {
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
  char* formatted = nullptr;
  const int n =
      redisFormatCommandArgv(&formatted, static_cast<int>(args.size()), argv.data(), lens.data());
  if (n < 0) {
    auto h = std::move(handler);
    boost::asio::post(io_, [h] { h(nullptr, "out of memory formatting a command"); });
    return;
  }
  out_.append(formatted, static_cast<size_t>(n));
  redisFreeCommand(formatted);
  Pending& p = pending_.emplace_back();
  p.handler = std::move(handler);
  if (timeout.count() > 0) {
    p.timer = std::make_shared<boost::asio::steady_timer>(io_, timeout);
    armTimeout(p.timer, timeout);
  }
  flush();
}

void AsyncConnection::subscribe(std::string_view channel,
                                std::function<void(std::string_view)> handler) {
  if (!open_) {
    return;
  }
  on_message_ = std::move(handler);
  subscribed_ = true;
  // No Pending: the confirmation and every message arrive as pushes (dispatch()).
  const char* argv[] = {"SUBSCRIBE", channel.data()};
  const size_t lens[] = {9, channel.size()};
  char* formatted = nullptr;
  const int n = redisFormatCommandArgv(&formatted, 2, argv, lens);
  if (n > 0) {
    out_.append(formatted, static_cast<size_t>(n));
    redisFreeCommand(formatted);
    flush();
  }
}

void AsyncConnection::flush() {
  if (writing_ || out_.empty() || !open_) {
    return;
  }
  writing_ = true;
  auto t = transport_;
  t->writing.clear();
  t->writing.swap(out_);
  t->with([&](auto& stream) {
    boost::asio::async_write(
        stream, boost::asio::buffer(t->writing),
        [t, w = weak_from_this()](const boost::system::error_code& ec, size_t) {
          auto self = w.lock();
          if (!self || !self->open_) {
            return;
          }
          self->writing_ = false;
          if (ec) {
            self->fail(ec.message());
            return;
          }
          self->flush();
        });
  });
}

namespace {

// hiredis grows its input buffer by 1 MB at a time once past 1 MB, so a reply of hundreds of
// megabytes (a hostile entry) costs hundreds of reallocations, each copying the whole buffer
// where the allocator cannot remap it in place (the sanitizer builds: 260 MB took minutes). A
// quarter of what is held at a time instead: a few dozen, and at most 1.25x the reply held.
void reserveReaderRoom(redisReader* reader, size_t incoming) {
  const size_t held = sdslen(reader->buf);
  if (held >= SDS_MAX_PREALLOC && sdsavail(reader->buf) < incoming) {
    if (sds grown = sdsMakeRoomFor(reader->buf, std::max(incoming, held / 4)); grown != nullptr) {
      reader->buf = grown;
    }
  }
}

} // namespace

void AsyncConnection::read() {
  auto t = transport_;
  t->with([&](auto& stream) {
    stream.async_read_some(
        boost::asio::buffer(t->in),
        [t, w = weak_from_this()](const boost::system::error_code& ec, size_t n) {
          auto self = w.lock();
          if (!self || !self->open_) {
            return;
          }
          if (ec) {
            self->fail(ec == boost::asio::error::eof ? "connection closed by the server"
                                                     : ec.message());
            return;
          }
          self->last_read_ = std::chrono::steady_clock::now();
          reserveReaderRoom(self->reader_, n);
          if (redisReaderFeed(self->reader_, t->in.data(), n) != REDIS_OK) {
            self->fail("out of memory reading a reply");
            return;
          }
          for (;;) {
            void* reply = nullptr;
            if (redisReaderGetReply(self->reader_, &reply) != REDIS_OK) {
              self->fail(fmt::format("protocol error: {}", self->reader_->errstr));
              return;
            }
            if (reply == nullptr) {
              break;
            }
            self->dispatch(static_cast<redisReply*>(reply));
            if (!self->open_) {
              return; // a handler closed the connection
            }
          }
          self->read();
        });
  });
}

void AsyncConnection::dispatch(redisReply* r) {
  if (subscribed_ && pending_.empty()) {
    // ["message", channel, payload]; the subscription's confirmation is ["subscribe", ...].
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 && replyText(r->element[0]) == "message" &&
        on_message_) {
      auto handler = on_message_; // may close this connection
      handler(replyText(r->element[2]));
    }
    freeReplyObject(r);
    return;
  }
  if (pending_.empty()) {
    freeReplyObject(r);
    fail("a reply nobody asked for");
    return;
  }
  Pending p = std::move(pending_.front());
  pending_.pop_front();
  if (p.timer) {
    p.timer->cancel();
  }
  if (isNotPrimary(r)) {
    // Connected to a replica (demoted under us, or a stale address): a failure of the
    // connection, not of the command. The next connection asks the sentinels again.
    const std::string why = fmt::format("not the primary: {}", replyText(r));
    core::log::warn("redis_not_primary", {{"redis", endpoint_.display}, {"reply", replyText(r)}});
    freeReplyObject(r);
    p.handler(nullptr, why);
    fail(why);
    return;
  }
  reply_kept_ = false;
  p.handler(r, {});
  if (!reply_kept_) {
    freeReplyObject(r);
  }
  reply_kept_ = false;
}

void AsyncConnection::fail(std::string_view error) {
  if (!open_) {
    return;
  }
  const bool was_ready = ready_;
  const std::string why(error);
  shutdown(why);
  if (on_ready_) {
    finishConnect(why);
    return;
  }
  if (was_ready && on_disconnect_) {
    auto handler = on_disconnect_;
    handler(why);
  }
}

void AsyncConnection::shutdown(std::string_view error) {
  open_ = false;
  ready_ = false;
  writing_ = false;
  out_.clear();
  transport_->close();
  // A fresh transport and reader: nothing of the old stream may leak into a later use, and
  // operations still in flight keep the old transport alive until they see it closed.
  transport_ = std::make_shared<Transport>(io_);
  redisReaderFree(reader_);
  reader_ = makeReader();
  const std::string why(error);
  std::deque<Pending> failed;
  failed.swap(pending_);
  for (auto& p : failed) {
    if (p.timer) {
      p.timer->cancel();
    }
    p.handler(nullptr, why);
  }
}

// A command times out when the connection has been silent for `timeout`, not when its reply is
// not complete by then: a reply of hundreds of megabytes takes a while, and arriving is not
// hanging. While bytes come in, the wait is renewed.
// The wait holds the timer weakly: a command answered meanwhile has freed it.
void AsyncConnection::armTimeout(const std::shared_ptr<boost::asio::steady_timer>& timer,
                                 std::chrono::milliseconds timeout) {
  timer->async_wait([w = weak_from_this(), wt = std::weak_ptr(timer),
                     timeout](const boost::system::error_code& ec) {
    auto self = w.lock();
    auto timer = wt.lock();
    if (ec || !self || !timer) {
      return;
    }
    const auto quiet = std::chrono::steady_clock::now() - self->last_read_;
    if (quiet < timeout) {
      timer->expires_after(timeout - std::chrono::duration_cast<std::chrono::milliseconds>(quiet));
      self->armTimeout(timer, timeout);
      return;
    }
    core::log::warn("redis_command_timeout", {{"redis", self->endpoint_.display}});
    self->close();
  });
}

void AsyncConnection::close() {
  connect_timer_.cancel();
  resolver_.cancel();
  if (sentinel_) {
    sentinel_->close();
    sentinel_.reset();
  }
  shutdown("connection closed");
}

} // namespace auditq::redis
