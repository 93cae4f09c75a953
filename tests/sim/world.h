// One simulated run, from one seed: a producer XADDing entries, the Redis and PostgreSQL models,
// and auditq processes (the real pipeline::Consumer, with the adapters' and the writer pool's
// contracts emulated around it) on a simulated clock, through a fault schedule drawn from the
// seed: connection drops with and without a command outstanding, silent drops, command
// timeouts, Redis restarts with and without its data, groups destroyed, PostgreSQL outages,
// hangs, lost commit replies and deadlocks, SIGKILL and restart, SIGHUP, SIGTERM.
//
// Checked after every step: nothing is acknowledged before its commit; no entry is held twice
// by one process; the bytes held stay under the bound; no step spins without time passing.
// Checked at the end: every entry Redis still holds, and every entry acknowledged, is in
// exactly one of sync_events and the dead letters, and everything drained within a bounded
// time after the faults stopped.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace auditq::sim {

struct RunResult {
  bool ok = true;
  std::string failure;            // the first invariant broken
  std::vector<std::string> trace; // with tracing on: every step
  std::string summary;            // one line: the run's configuration and figures
};

// Runs the simulation for `seed`. With `trace`, records every event and command.
RunResult runSeed(uint64_t seed, bool trace);

} // namespace auditq::sim
