// The command line: parses arguments, loads the configuration, dispatches to a command and maps
// outcomes to exit codes (0 success, 1 runtime failure, 2 bad usage or invalid configuration).
#pragma once

#include "core/exit_code.h"

namespace auditq::app {

using core::kExitFailure;
using core::kExitOk;
using core::kExitUsage;

int runCli(int argc, char** argv);

} // namespace auditq::app
