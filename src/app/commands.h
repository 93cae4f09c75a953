// The subcommands, each taking the loaded configuration and returning an exit code.
#pragma once

#include <string>

#include "config/config.h"

namespace auditq::app {

int checkConfig(const config::Config& cfg, bool connect);

enum class MigrateAction { Up, Down, Status };
int migrate(const config::Config& cfg, MigrateAction action, int down_count);

} // namespace auditq::app
