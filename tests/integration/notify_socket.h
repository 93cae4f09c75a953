// A unix datagram socket standing in for systemd's $NOTIFY_SOCKET, for tests that check what
// auditq tells systemd (READY=1, WATCHDOG=1, STOPPING=1).
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>

namespace auditq::test {

// A unix datagram socket standing in for systemd's $NOTIFY_SOCKET.
class NotifySocket {
public:
  NotifySocket() {
    path_ = fmt::format("/tmp/auditq-notify-{}-{}.sock", getpid(), counter_++);
    unlink(path_.c_str());
    fd_ = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path_.c_str());
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  }
  ~NotifySocket() {
    close(fd_);
    unlink(path_.c_str());
  }
  const std::string& path() const { return path_; }

  // Every message received within `window`.
  std::vector<std::string> receive(std::chrono::milliseconds window) {
    std::vector<std::string> got;
    const auto until = std::chrono::steady_clock::now() + window;
    for (;;) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          until - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return got;
      }
      pollfd p{fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left.count())) == 1) {
        char buf[4096];
        const auto n = recv(fd_, buf, sizeof(buf), 0);
        if (n > 0) {
          got.emplace_back(buf, static_cast<size_t>(n));
        }
      }
    }
  }

  // Waits up to `timeout` for a message containing `text`; every message seen goes to `seen`.
  bool waitFor(const std::string& text, std::chrono::milliseconds timeout,
               std::vector<std::string>& seen) {
    const auto until = std::chrono::steady_clock::now() + timeout;
    while (std::chrono::steady_clock::now() < until) {
      for (auto& m : receive(std::chrono::milliseconds(200))) {
        seen.push_back(m);
        if (m.find(text) != std::string::npos) {
          return true;
        }
      }
    }
    return false;
  }

private:
  static inline int counter_ = 0;
  std::string path_;
  int fd_ = -1;
};

// How many of `messages` contain `text`.
inline size_t countContaining(const std::vector<std::string>& messages, const std::string& text) {
  size_t n = 0;
  for (const auto& m : messages) {
    n += m.find(text) != std::string::npos ? 1 : 0;
  }
  return n;
}

} // namespace auditq::test
