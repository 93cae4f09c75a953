// The consumer name a daemon uses when consumer.name is empty. A name that survives a restart
// lets the restarted daemon read its predecessor's pending entries at once (XREADGROUP from 0);
// a new name leaves them to be taken over after consumer.claim_idle_ms (60 s by default). Two
// live daemons must never share one.
//   - Started by a systemd service itself: "<hostname>-<unit>" (auditq.service,
//     auditq@orders.service), read from /proc/self/cgroup. A unit runs one main process at a
//     time, and systemd stops the old one before it starts the next. Only for the process
//     systemd executed ($SYSTEMD_EXEC_PID is its pid): daemons that a service merely spawns (a
//     test harness, a CI runner) share its cgroup, and would share the name.
//   - A container's entrypoint (pid 1) whose hostname is not the container's own (host
//     networking gives every container the host's): "<hostname>-<first 12 of the container
//     id>", the id read from the bind mount of /etc/hostname (Docker, Podman). With its own
//     hostname (the container's short id) the pid rule below is unique already.
//   - Otherwise: "<hostname>-<pid>".
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace auditq::app {

// What the name is made of, read from the process (current()) or given by a test.
struct ProcessFacts {
  std::string host;
  std::string cgroup;    // the text of /proc/self/cgroup
  std::string mountinfo; // the text of /proc/self/mountinfo
  long pid = 0;
  long systemd_exec_pid = 0; // $SYSTEMD_EXEC_PID (systemd 248 and later), 0 when unset

  static ProcessFacts current();
};

// The systemd service whose cgroup `cgroup` (cgroup v2 or v1 text) places the process in, or
// nullopt (a login session, a container's own cgroup namespace, a scope, no systemd at all).
std::optional<std::string> systemdServiceOf(std::string_view cgroup);

// The id (64 hex digits) of the container whose /etc/hostname `mountinfo` shows bind-mounted
// from the engine's directory for it, or nullopt.
std::optional<std::string> containerIdOf(std::string_view mountinfo);

std::string defaultConsumerName(const ProcessFacts& facts);

} // namespace auditq::app
