// `auditq migrate up|down [N]|status`.
#include <iostream>

#include <fmt/format.h>

#include "app/cli.h"
#include "app/commands.h"
#include "pg/migrations.h"

namespace auditq::app {

int migrate(const config::Config& cfg, MigrateAction action, int down_count) {
  try {
    auto conn = pg::Connection::open(cfg.postgres);
    const auto& migrations = pg::embeddedMigrations();
    switch (action) {
    case MigrateAction::Up: {
      auto run = pg::migrateUp(*conn, migrations);
      for (const auto& name : run.changed) {
        std::cout << "applied " << name << "\n";
      }
      if (run.changed.empty()) {
        std::cout << "schema is up to date\n";
      }
      return kExitOk;
    }
    case MigrateAction::Down: {
      auto run = pg::migrateDown(*conn, migrations, down_count);
      for (const auto& name : run.changed) {
        std::cout << "rolled back " << name << "\n";
      }
      if (run.changed.empty()) {
        std::cout << "nothing to roll back\n";
      }
      return kExitOk;
    }
    case MigrateAction::Status: {
      bool all_ok = true;
      for (const auto& s : pg::migrationStatus(*conn, migrations)) {
        std::string state = s.applied ? "applied " + s.applied_at : "pending";
        if (!s.known) {
          state += " (unknown to this binary)";
        }
        if (!s.checksum_ok) {
          state += " (CHANGED since applied)";
          all_ok = false;
        }
        std::cout << fmt::format("{:<32} {}\n", s.name, state);
      }
      return all_ok ? kExitOk : kExitFailure;
    }
    }
  } catch (const pg::Error& e) {
    std::cerr << "auditq: migrate failed: " << e.what() << "\n";
    return kExitFailure;
  }
  return kExitFailure;
}

} // namespace auditq::app
