// A small HTTP/1.1 server on the daemon's io_context for /healthz, /readyz and /metrics
// (Boost.Beast). GET and HEAD only, keep-alive, bounded: requests of at most 8 KiB of headers,
// 5 s to send one (or to read its response), at most 32 connections at once: a new connection
// beyond that closes the one that has waited longest, so slow or idle clients can never make
// /healthz unreachable. The handler runs on the io_context thread, so it may read the daemon's
// state without locks.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace auditq::http {

struct Response {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// Called with the request path (query string removed); fills the response.
using Handler = std::function<void(std::string_view path, Response& out)>;

class Server {
public:
  Server(boost::asio::io_context& io, Handler handler);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Binds `host` (an IP literal) and `port` (0: any free port) and starts accepting. Throws
  // boost::system::system_error when the address cannot be bound.
  void listen(const std::string& host, uint16_t port);
  // The bound port (after listen).
  uint16_t port() const;
  // Stops accepting; open connections end after their current response.
  void stop();

private:
  struct Session;
  void accept();
  void evictOldest();

  boost::asio::io_context& io_;
  Handler handler_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::shared_ptr<size_t> open_; // connections alive; shared with the sessions
  std::vector<std::weak_ptr<Session>> sessions_;
};

} // namespace auditq::http
