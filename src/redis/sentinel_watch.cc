// The +switch-master subscription.
#include "redis/sentinel_watch.h"

#include "core/log.h"

namespace auditq::redis {

bool switchesMaster(std::string_view payload, std::string_view master_name) {
  return payload.size() > master_name.size() && payload.starts_with(master_name) &&
         payload[master_name.size()] == ' ';
}

std::shared_ptr<SentinelWatch> SentinelWatch::start(boost::asio::io_context& io, Endpoint endpoint,
                                                    std::chrono::milliseconds connect_timeout,
                                                    std::function<void()> on_switch) {
  std::shared_ptr<SentinelWatch> watch(
      new SentinelWatch(io, std::move(endpoint), connect_timeout, std::move(on_switch)));
  watch->connect();
  return watch;
}

SentinelWatch::SentinelWatch(boost::asio::io_context& io, Endpoint endpoint,
                             std::chrono::milliseconds connect_timeout,
                             std::function<void()> on_switch)
    : io_(io), endpoint_(std::move(endpoint)), connect_timeout_(connect_timeout),
      on_switch_(std::move(on_switch)), retry_timer_(io) {}

void SentinelWatch::stop() {
  stopped_ = true;
  retry_timer_.cancel();
  if (conn_) {
    conn_->close();
    conn_.reset();
  }
}

void SentinelWatch::connect() {
  if (stopped_) {
    return;
  }
  conn_ = AsyncConnection::create(io_, endpoint_.sentinel(next_ % endpoint_.sentinels.size()),
                                  connect_timeout_);
  conn_->onDisconnect([w = weak_from_this()](std::string_view) {
    if (auto self = w.lock()) {
      self->retryLater();
    }
  });
  conn_->connect([w = weak_from_this()](std::string_view error) {
    auto self = w.lock();
    if (!self || self->stopped_) {
      return;
    }
    if (!error.empty()) {
      self->retryLater();
      return;
    }
    self->conn_->subscribe("+switch-master", [w](std::string_view payload) {
      auto self = w.lock();
      if (self && !self->stopped_ && switchesMaster(payload, self->endpoint_.master_name)) {
        core::log::info("redis_primary_switched", {{"announced", payload}});
        self->on_switch_();
      }
    });
  });
}

void SentinelWatch::retryLater() {
  if (stopped_) {
    return;
  }
  ++next_;
  retry_timer_.expires_after(std::chrono::seconds(1));
  retry_timer_.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
    auto self = w.lock();
    if (!ec && self) {
      self->connect();
    }
  });
}

} // namespace auditq::redis
