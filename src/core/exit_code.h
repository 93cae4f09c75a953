// The process exit codes every command uses: 0 success, 1 runtime failure, 2 bad usage or
// invalid configuration.
#pragma once

namespace auditq::core {

inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

} // namespace auditq::core
