#include "app/consumer_name.h"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace auditq::app {
namespace {

// Calls `visit` with each line of `text` until it returns a value.
template <typename Visit>
auto firstOfLines(std::string_view text, Visit visit) -> decltype(visit(text)) {
  while (!text.empty()) {
    const size_t eol = std::min(text.find('\n'), text.size());
    if (auto found = visit(text.substr(0, eol))) {
      return found;
    }
    text.remove_prefix(std::min(eol + 1, text.size()));
  }
  return std::nullopt;
}

std::string readFile(const char* path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

} // namespace

std::optional<std::string> systemdServiceOf(std::string_view cgroup) {
  // Lines are "hierarchy-id:controllers:path": the unified hierarchy is "0::path" (v2), the
  // one systemd names its units in under v1 is "N:name=systemd:path".
  return firstOfLines(cgroup, [](std::string_view line) -> std::optional<std::string> {
    const size_t first = line.find(':');
    const size_t second = first == std::string_view::npos ? first : line.find(':', first + 1);
    if (second == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view id = line.substr(0, first);
    const std::string_view controllers = line.substr(first + 1, second - first - 1);
    if (!((id == "0" && controllers.empty()) || controllers == "name=systemd")) {
      return std::nullopt;
    }
    const std::string_view path = line.substr(second + 1);
    const std::string_view unit = path.substr(path.rfind('/') + 1);
    constexpr std::string_view kSuffix = ".service";
    if (unit.size() > kSuffix.size() && unit.ends_with(kSuffix)) {
      return std::string(unit);
    }
    return std::nullopt;
  });
}

std::optional<std::string> containerIdOf(std::string_view mountinfo) {
  // "id parent major:minor root mount-point options ...": the engine bind-mounts
  // .../containers/<id>/hostname (Docker) or .../overlay-containers/<id>/userdata/hostname
  // (Podman) on /etc/hostname.
  return firstOfLines(mountinfo, [](std::string_view line) -> std::optional<std::string> {
    std::string_view field[5];
    for (auto& f : field) {
      const size_t space = std::min(line.find(' '), line.size());
      f = line.substr(0, space);
      line.remove_prefix(std::min(space + 1, line.size()));
    }
    if (field[4] != "/etc/hostname") {
      return std::nullopt;
    }
    std::string_view root = field[3];
    while (!root.empty()) {
      const size_t slash = std::min(root.find('/'), root.size());
      const std::string_view part = root.substr(0, slash);
      if (part.size() == 64 && std::all_of(part.begin(), part.end(), [](char c) {
            return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
          })) {
        return std::string(part);
      }
      root.remove_prefix(std::min(slash + 1, root.size()));
    }
    return std::nullopt;
  });
}

std::string defaultConsumerName(const ProcessFacts& facts) {
  const std::string host = facts.host.empty() ? std::string("auditq") : facts.host;
  if (facts.systemd_exec_pid == facts.pid) {
    if (auto unit = systemdServiceOf(facts.cgroup)) {
      return host + "-" + *unit;
    }
  }
  if (facts.pid == 1) {
    if (auto id = containerIdOf(facts.mountinfo); id && id->substr(0, 12) != host) {
      return host + "-" + id->substr(0, 12);
    }
  }
  return host + "-" + std::to_string(facts.pid);
}

ProcessFacts ProcessFacts::current() {
  ProcessFacts f;
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) {
    f.host = host;
  }
  f.cgroup = readFile("/proc/self/cgroup");
  f.mountinfo = readFile("/proc/self/mountinfo");
  f.pid = static_cast<long>(getpid());
  if (const char* e = std::getenv("SYSTEMD_EXEC_PID"); e != nullptr) {
    f.systemd_exec_pid = std::strtol(e, nullptr, 10);
  }
  return f;
}

} // namespace auditq::app
