// The command line: parses arguments, loads the configuration, dispatches to a command and maps
// outcomes to exit codes (0 success, 1 runtime failure, 2 bad usage or invalid configuration).
#pragma once

namespace auditq::app {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int runCli(int argc, char** argv);

} // namespace auditq::app
