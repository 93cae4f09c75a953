// The HTTP listener: one Session per connection, reading requests and writing the handler's
// responses until the client closes, stops keep-alive, or goes quiet. At the connection limit a
// new connection evicts the one that has waited longest, so slow or idle clients can hold
// slots but never keep a health check out.
#include "http/server.h"

#include <boost/asio/ip/address.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <memory>
#include <optional>

namespace auditq::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

namespace {
constexpr size_t kMaxConnections = 32;
// Time to send a whole request, or to read the whole response: a slow client gives up its slot.
constexpr std::chrono::seconds kRequestTimeout(5);
constexpr uint32_t kHeaderLimit = 8 * 1024;
} // namespace

struct Server::Session : std::enable_shared_from_this<Session> {
  Session(tcp::socket socket, const Handler& handler, std::shared_ptr<size_t> open)
      : stream(std::move(socket)), handler(handler), open(std::move(open)) {
    ++*this->open;
  }
  ~Session() { --*open; }

  void read() {
    waiting_since = std::chrono::steady_clock::now();
    parser.emplace();
    parser->header_limit(kHeaderLimit);
    parser->body_limit(0); // GET and HEAD carry no body
    stream.expires_after(kRequestTimeout);
    bhttp::async_read(stream, buffer, *parser,
                      [self = shared_from_this()](beast::error_code ec, size_t) {
                        if (!ec) {
                          self->respond();
                        }
                        // Any error (closed, timed out, malformed): drop the connection.
                      });
  }

  void respond() {
    const auto& req = parser->get();
    response = {};
    response.version(req.version());
    response.keep_alive(req.keep_alive());
    response.set(bhttp::field::server, "auditq");
    response.set(bhttp::field::cache_control, "no-store");
    if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
      response.result(bhttp::status::method_not_allowed);
      response.set(bhttp::field::allow, "GET, HEAD");
      response.set(bhttp::field::content_type, "text/plain; charset=utf-8");
      response.body() = "method not allowed\n";
    } else {
      std::string_view target(req.target().data(), req.target().size());
      const auto query = target.find('?');
      Response out;
      handler(target.substr(0, query), out);
      response.result(out.status);
      response.set(bhttp::field::content_type, out.content_type);
      response.body() = std::move(out.body);
    }
    response.prepare_payload();
    if (req.method() == bhttp::verb::head) {
      response.body().clear(); // Content-Length stays that of the GET
    }
    stream.expires_after(kRequestTimeout);
    waiting_since = std::chrono::steady_clock::now();
    bhttp::async_write(stream, response, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || !self->response.keep_alive()) {
        beast::error_code ignored;
        self->stream.socket().shutdown(tcp::socket::shutdown_send, ignored);
        return;
      }
      self->read();
    });
  }

  void evict() {
    beast::error_code ignored;
    stream.socket().close(ignored); // the pending read or write completes with an error
  }

  beast::tcp_stream stream;
  std::chrono::steady_clock::time_point waiting_since = std::chrono::steady_clock::now();
  const Handler& handler;
  std::shared_ptr<size_t> open;
  beast::flat_buffer buffer;
  std::optional<bhttp::request_parser<bhttp::empty_body>> parser;
  bhttp::response<bhttp::string_body> response;
};

Server::Server(boost::asio::io_context& io, Handler handler)
    : io_(io), handler_(std::move(handler)), acceptor_(io), open_(std::make_shared<size_t>(0)) {}

Server::~Server() {
  stop();
}

void Server::listen(const std::string& host, uint16_t port) {
  const tcp::endpoint at(boost::asio::ip::make_address(host), port);
  acceptor_.open(at.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(at);
  acceptor_.listen(kMaxConnections);
  accept();
}

uint16_t Server::port() const {
  return acceptor_.local_endpoint().port();
}

void Server::evictOldest() {
  std::erase_if(sessions_, [](const std::weak_ptr<Session>& w) { return w.expired(); });
  std::shared_ptr<Session> oldest;
  for (const auto& w : sessions_) {
    auto s = w.lock();
    if (s && (!oldest || s->waiting_since < oldest->waiting_since)) {
      oldest = s;
    }
  }
  if (oldest) {
    oldest->evict();
  }
}

void Server::stop() {
  boost::system::error_code ignored;
  acceptor_.close(ignored);
}

void Server::accept() {
  acceptor_.async_accept(io_, [this](beast::error_code ec, tcp::socket socket) {
    if (ec == boost::asio::error::operation_aborted || !acceptor_.is_open()) {
      return; // stopped
    }
    if (!ec) {
      if (*open_ >= kMaxConnections) {
        evictOldest();
      }
      auto session = std::make_shared<Session>(std::move(socket), handler_, open_);
      sessions_.push_back(session);
      session->read();
    }
    // Accept errors (EMFILE...) are passing: keep accepting.
    accept();
  });
}

} // namespace auditq::http
