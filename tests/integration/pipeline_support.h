// Fixture for end-to-end pipeline tests: a migrated scratch database, a unique stream and
// group in the test Redis, the daemon as a subprocess, and polling helpers with deadlines.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "http/client.h"
#include "integration/support.h"
#include "redis/blocking_client.h"

namespace auditq::test {

class PipelineFixture : public ::testing::Test {
protected:
  void SetUp() override;

  // Environment for the daemon: this test's servers, stream, group and consumer name.
  std::map<std::string, std::string>
  daemonEnv(const std::map<std::string, std::string>& extra = {}) const;
  std::unique_ptr<Subprocess> startDaemon(const std::map<std::string, std::string>& extra = {});
  // The daemon with its HTTP listener on a free port (port_); returns once the port is logged.
  std::unique_ptr<Subprocess> startWithHttp(std::map<std::string, std::string> extra = {});
  http::GetResult get(const std::string& path);
  bool waitStatus(const std::string& path, unsigned status, std::chrono::milliseconds timeout);
  // The value of an unlabelled sample in /metrics (-1 when absent).
  double metric(const std::string& name);
  // SIGTERM, then expect a clean exit.
  void stopDaemon(Subprocess& daemon);

  std::string xadd(const std::vector<std::string>& fields, const std::string& stream = "");
  // XGROUP CREATE <stream> <group> <id> MKSTREAM: for tests about something else than where
  // the daemon places a group it has to create (it waits for PostgreSQL to say where).
  void createGroup(const std::string& id = "0");
  // A valid entry for `session` with a state at `version`.
  std::vector<std::string> entryWithState(const std::string& session, int version,
                                          const std::string& status = "running",
                                          const std::string& type = "session_updated") const;
  // entryWithState stamped now (so not too old for --recover to restore).
  std::vector<std::string> entryNow(const std::string& session, int version,
                                    const std::string& status = "running",
                                    const std::string& type = "session_updated") const;
  // `count` new sessions, each with entries now at versions 1..versions (in version order).
  std::vector<std::string> addRecentSessions(int count, int versions);
  long long pending(const std::string& stream = "");
  // Rows of this test's stream in sync_events.
  long long events() const;
  long long count(const std::string& sql) const;
  // Polls `condition` every 20 ms until true or `timeout`; returns the final value.
  static bool waitFor(const std::function<bool()>& condition,
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));

  ScratchDatabase db_;
  std::string stream_;
  std::string group_;
  std::string consumer_;
  std::unique_ptr<redis::BlockingClient> redis_;
  uint16_t port_ = 0;
};

// A UUID that is unique per call in this process.
std::string newUuid();

} // namespace auditq::test
