// The subcommands, each taking the loaded configuration and returning an exit code.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "config/config.h"

namespace auditq::app {

int checkConfig(const config::Config& cfg, bool connect);

// GET /healthz (or /readyz with `ready`) from http.listen: 0 when it answers 200.
int healthcheck(const config::Config& cfg, bool ready);

enum class MigrateAction { Up, Down, Status };
int migrate(const config::Config& cfg, MigrateAction action, int down_count);

enum class DlqAction { List, Replay, Purge };
struct DlqOptions {
  DlqAction action = DlqAction::List;
  std::optional<std::string> stream; // list
  std::optional<std::string> reason; // list
  int64_t limit = 100;               // list
  bool json = false;                 // list
  std::vector<int64_t> ids;          // replay: these, or every letter not replayed yet (--all)
  std::string older_than;            // purge
};
int deadLetters(const config::Config& cfg, const DlqOptions& options);

} // namespace auditq::app
