// The one-shot GET: async operations on a private io_context, bounded by one deadline.
#include "http/client.h"

#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>

namespace auditq::http {
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = boost::asio::ip::tcp;

GetResult get(const std::string& host, uint16_t port, const std::string& target,
              std::chrono::milliseconds timeout) {
  GetResult result;
  try {
    boost::asio::io_context io;
    beast::tcp_stream stream(io);
    beast::flat_buffer buffer;
    bhttp::request<bhttp::empty_body> req(bhttp::verb::get, target, 11);
    req.set(bhttp::field::host, host);
    req.set(bhttp::field::user_agent, "auditq-healthcheck");
    bhttp::response<bhttp::string_body> res;
    const tcp::endpoint at(boost::asio::ip::make_address(host), port);
    stream.expires_after(timeout);
    stream.async_connect(at, [&](beast::error_code ec) {
      if (ec) {
        result.error = ec.message();
        return;
      }
      bhttp::async_write(stream, req, [&](beast::error_code wec, size_t) {
        if (wec) {
          result.error = wec.message();
          return;
        }
        bhttp::async_read(stream, buffer, res, [&](beast::error_code rec, size_t) {
          if (rec) {
            result.error = rec.message();
            return;
          }
          result.status = res.result_int();
          result.content_type = std::string(res[bhttp::field::content_type]);
          result.body = std::move(res.body());
        });
      });
    });
    io.run();
  } catch (const std::exception& e) {
    result.error = e.what();
  }
  return result;
}

} // namespace auditq::http
