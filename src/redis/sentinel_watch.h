// Listens to the sentinels for +switch-master of redis.master_name, so that the consumer
// reconnects as soon as a failover is announced instead of when its backoff says. One sentinel
// at a time; after a loss, the next one a second later. Only a hint: every connection asks the
// sentinels for the primary and checks its ROLE itself.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <functional>
#include <memory>
#include <string_view>

#include "redis/async_connection.h"
#include "redis/endpoint.h"

namespace auditq::redis {

// Whether a +switch-master payload ("<name> <old ip> <old port> <new ip> <new port>") is about
// the primary named `master_name`.
bool switchesMaster(std::string_view payload, std::string_view master_name);

class SentinelWatch : public std::enable_shared_from_this<SentinelWatch> {
public:
  // `endpoint` has sentinels. `on_switch` runs on the io_context's thread.
  static std::shared_ptr<SentinelWatch> start(boost::asio::io_context& io, Endpoint endpoint,
                                              std::chrono::milliseconds connect_timeout,
                                              std::function<void()> on_switch);
  void stop();

private:
  SentinelWatch(boost::asio::io_context& io, Endpoint endpoint,
                std::chrono::milliseconds connect_timeout, std::function<void()> on_switch);
  void connect();
  void retryLater();

  boost::asio::io_context& io_;
  Endpoint endpoint_;
  std::chrono::milliseconds connect_timeout_;
  std::function<void()> on_switch_;
  boost::asio::steady_timer retry_timer_;
  std::shared_ptr<AsyncConnection> conn_;
  size_t next_ = 0; // the sentinel to try next
  bool stopped_ = false;
};

} // namespace auditq::redis
