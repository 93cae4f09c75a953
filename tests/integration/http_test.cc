// The HTTP listener under slow and idle clients: a health check always gets in.
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <chrono>
#include <thread>

#include <gtest/gtest.h>

#include "http/client.h"
#include "http/server.h"

namespace auditq::http {
namespace {

using namespace std::chrono_literals;
using tcp = boost::asio::ip::tcp;

TEST(HttpServer, SlowAndIdleClientsNeverKeepAHealthCheckOut) {
  boost::asio::io_context io;
  Server server(io, [](std::string_view path, Response& out) { out.body = std::string(path); });
  server.listen("127.0.0.1", 0);
  const uint16_t port = server.port();
  std::thread loop([&] { io.run(); });

  // 40 clients (more than the 32 slots): half idle, half sending a request one byte at a time.
  boost::asio::io_context clients;
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < 40; ++i) {
    sockets.emplace_back(clients);
    sockets.back().connect(tcp::endpoint(boost::asio::ip::make_address("127.0.0.1"), port));
    if (i % 2 == 1) {
      boost::asio::write(sockets.back(), boost::asio::buffer("GET /he", 7));
    }
  }
  std::this_thread::sleep_for(100ms);
  for (int round = 0; round < 5; ++round) {
    const auto started = std::chrono::steady_clock::now();
    const auto r = get("127.0.0.1", port, "/healthz", 2s);
    const auto took = std::chrono::steady_clock::now() - started;
    EXPECT_EQ(r.status, 200u) << r.error;
    EXPECT_EQ(r.body, "/healthz");
    // Served, not queued behind the slow clients (they would hold it until the 2 s timeout);
    // the margin is for a loaded CI machine, not for the server.
    EXPECT_LT(took, 500ms);
  }
  sockets.clear();
  io.stop();
  loop.join();
}

} // namespace
} // namespace auditq::http
