// A throwaway Redis (AOF on) and PostgreSQL of a test binary's own (scripts/dev-stack with its
// own directory), for tests that stop servers or flush Redis: the other test binaries running
// in parallel keep theirs. start() points AUDITQ_TEST_PG_URL and AUDITQ_TEST_REDIS_URL of this
// process at it, so ScratchDatabase and the fixtures use it unchanged.
#pragma once

#include <string>
#include <vector>

namespace auditq::test::private_stack {

void start();
void stop();
// scripts/dev-stack <args> on this stack (stop-pg immediate, start-redis, ...).
void run(const std::vector<std::string>& args);
// A value `scripts/dev-stack env` exports for this stack ("" when it exports none).
std::string exported(const std::string& name);

} // namespace auditq::test::private_stack
