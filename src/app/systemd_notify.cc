// libsystemd's sd_notify: it handles abstract sockets and credentials the way systemd expects.
#include "app/systemd_notify.h"

#include <systemd/sd-daemon.h>

#include <string>

namespace auditq::app {

SystemdNotify::SystemdNotify() {
  uint64_t usec = 0;
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    watchdog_ = std::chrono::microseconds(usec);
  }
}

void SystemdNotify::ready(std::string_view status) {
  send(std::string("READY=1\nSTATUS=").append(status));
}

void SystemdNotify::watchdog() {
  send("WATCHDOG=1");
}

void SystemdNotify::stopping() {
  send("STOPPING=1");
}

void SystemdNotify::status(std::string_view status) {
  send(std::string("STATUS=").append(status));
}

void SystemdNotify::send(std::string_view state) {
  // 0 (no socket) and errors alike: notification is best effort, never a reason to stop.
  (void)sd_notify(0, std::string(state).c_str());
}

} // namespace auditq::app
