#include "app/consumer_name.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace auditq::app {

std::optional<std::string> systemdServiceOf(std::string_view proc_self_cgroup) {
  // Lines are "hierarchy-id:controllers:path": the unified hierarchy is "0::path" (v2), the
  // one systemd names its units in under v1 is "N:name=systemd:path".
  std::string_view rest = proc_self_cgroup;
  while (!rest.empty()) {
    const size_t eol = std::min(rest.find('\n'), rest.size());
    const std::string_view line = rest.substr(0, eol);
    rest.remove_prefix(std::min(eol + 1, rest.size()));
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) {
      continue;
    }
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    if (!((id == "0" && controllers.empty()) || controllers == "name=systemd")) {
      continue;
    }
    const std::string_view path = line.substr(second + 1);
    const std::string_view unit = path.substr(path.rfind('/') + 1);
    constexpr std::string_view kSuffix = ".service";
    if (unit.size() > kSuffix.size() && unit.ends_with(kSuffix)) {
      return std::string(unit);
    }
  }
  return std::nullopt;
}

std::string defaultConsumerName(std::string_view host, std::string_view proc_self_cgroup, long pid,
                                long systemd_exec_pid) {
  const std::string h = host.empty() ? std::string("auditq") : std::string(host);
  if (systemd_exec_pid == pid) {
    if (auto unit = systemdServiceOf(proc_self_cgroup)) {
      return h + "-" + *unit;
    }
  }
  return h + "-" + std::to_string(pid);
}

std::string defaultConsumerName() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) {
    host[0] = '\0';
  }
  std::ifstream in("/proc/self/cgroup");
  std::ostringstream cgroup;
  cgroup << in.rdbuf();
  long exec_pid = 0;
  if (const char* e = std::getenv("SYSTEMD_EXEC_PID"); e != nullptr) {
    exec_pid = std::strtol(e, nullptr, 10);
  }
  return defaultConsumerName(host, cgroup.str(), static_cast<long>(getpid()), exec_pid);
}

} // namespace auditq::app
