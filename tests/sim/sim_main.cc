// auditq_sim: runs the deterministic simulation (tests/sim/world.h) over many seeds.
//   auditq_sim [--seeds N] [--first S] [--threads T] [--budget-seconds B]
//   auditq_sim --seed N      replay one seed with its full trace
// Exit 1 when any seed breaks an invariant; the failing seed's trace tail is printed with the
// command that replays it.
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <iostream>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "sim/world.h"

int main(int argc, char** argv) {
  uint64_t seeds = 10'000;
  uint64_t first = 1;
  unsigned threads = std::max(1U, std::thread::hardware_concurrency());
  double budget = 0; // seconds; 0: no limit
  std::optional<uint64_t> replay;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "missing value for " << a << "\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--seeds") {
      seeds = std::stoull(next());
    } else if (a == "--first") {
      first = std::stoull(next());
    } else if (a == "--threads") {
      threads = static_cast<unsigned>(std::stoul(next()));
    } else if (a == "--budget-seconds") {
      budget = std::stod(next());
    } else if (a == "--seed") {
      replay = std::stoull(next());
    } else {
      std::cerr << "usage: auditq_sim [--seeds N] [--first S] [--threads T] "
                   "[--budget-seconds B] | --seed N\n";
      return 2;
    }
  }
  if (replay) {
    const auto r = auditq::sim::runSeed(*replay, true);
    for (const auto& line : r.trace) {
      std::cout << line << "\n";
    }
    std::cout << r.summary << "\n" << (r.ok ? "ok" : "FAILED: " + r.failure) << "\n";
    return r.ok ? 0 : 1;
  }
  const auto started = std::chrono::steady_clock::now();
  std::atomic<uint64_t> next{first};
  std::atomic<uint64_t> ran{0};
  std::atomic<bool> failed{false};
  std::mutex mu;
  uint64_t failed_seed = 0;
  std::string failure;
  auto worker = [&] {
    for (;;) {
      const uint64_t seed = next++;
      if (seed >= first + seeds || failed) {
        return;
      }
      const auto r = auditq::sim::runSeed(seed, false);
      ++ran;
      if (!r.ok) {
        std::lock_guard lock(mu);
        if (!failed.exchange(true)) {
          failed_seed = seed;
          failure = r.failure;
        }
      }
    }
  };
  std::vector<std::thread> pool;
  for (unsigned t = 0; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  for (auto& t : pool) {
    t.join();
  }
  const double secs =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  std::cout << "simulation: " << ran << " seeds (" << first << ".." << first + ran - 1 << ") in "
            << secs << " s on " << threads << " thread(s)\n";
  if (failed) {
    // Replay with the trace: the run is deterministic, so it fails the same way.
    const auto r = auditq::sim::runSeed(failed_seed, true);
    const size_t from = r.trace.size() > 60 ? r.trace.size() - 60 : 0;
    std::cout << "seed " << failed_seed << " FAILED: " << failure << "\n" << r.summary << "\n";
    std::cout << "last steps:\n";
    for (size_t i = from; i < r.trace.size(); ++i) {
      std::cout << "  " << r.trace[i] << "\n";
    }
    std::cout << "replay: auditq_sim --seed " << failed_seed << "\n";
    return 1;
  }
  if (budget > 0 && secs > budget) {
    std::cout << "over the time budget of " << budget << " s\n";
    return 1;
  }
  return 0;
}
