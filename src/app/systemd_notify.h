// systemd's notification protocol (sd_notify): READY=1 once auditq can do its work,
// WATCHDOG=1 from the event loop, STOPPING=1 at shutdown, STATUS= for `systemctl status`.
// Without $NOTIFY_SOCKET (not under systemd, or Type= other than notify) every call is a no-op.
#pragma once

#include <chrono>
#include <optional>
#include <string_view>

namespace auditq::app {

class SystemdNotify {
public:
  SystemdNotify(); // reads $NOTIFY_SOCKET and $WATCHDOG_USEC (and $WATCHDOG_PID)

  // The watchdog timeout systemd expects pings within (WatchdogSec=), if enabled for us.
  std::optional<std::chrono::microseconds> watchdogTimeout() const { return watchdog_; }

  void ready(std::string_view status);
  void watchdog();
  void stopping();
  void status(std::string_view status);

private:
  void send(std::string_view state);
  std::optional<std::chrono::microseconds> watchdog_;
};

} // namespace auditq::app
