// The consumer name a daemon uses when consumer.name is empty. A name that survives a restart
// lets the restarted daemon read its predecessor's pending entries at once (XREADGROUP from 0);
// a new name leaves them to be taken over after consumer.claim_idle_ms (60 s by default).
//   - Started by a systemd service itself: "<hostname>-<unit>" (auditq.service,
//     auditq@orders.service), read from /proc/self/cgroup. A unit runs one main process at a
//     time, and systemd stops the old one before it starts the next, so no two live daemons
//     share the name. Only for the process systemd executed ($SYSTEMD_EXEC_PID is its pid):
//     daemons that a service merely spawns (a test harness, a CI runner) share its cgroup, and
//     would share the name.
//   - Otherwise: "<hostname>-<pid>" (in a container whose entrypoint is auditq, the pid is 1
//     and the hostname the container's: stable across restarts of that container).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace auditq::app {

// The systemd service whose cgroup `proc_self_cgroup` (the text of /proc/self/cgroup, cgroup
// v2 or v1) places the process in, or nullopt (a login session, a container's own cgroup
// namespace, a scope, no systemd at all).
std::optional<std::string> systemdServiceOf(std::string_view proc_self_cgroup);

// `systemd_exec_pid`: $SYSTEMD_EXEC_PID (set by systemd 248 and later), 0 when unset.
std::string defaultConsumerName(std::string_view host, std::string_view proc_self_cgroup, long pid,
                                long systemd_exec_pid);

// The same, for this process.
std::string defaultConsumerName();

} // namespace auditq::app
