// `auditq partitions list|create|prune`, `auditq tail` and `auditq verify`: the audit store's
// operator commands.
#include <csignal>
#include <iostream>

#include <fmt/format.h>
#include <simdjson.h>

#include "app/cli.h"
#include "app/commands.h"
#include "core/clock.h"
#include "pg/audit_store.h"
#include "pg/connection_impl.h"
#include "pg/partitions.h"
#include "pipeline/audit_chain.h"

namespace auditq::app {
namespace {

void printPartitions(const std::vector<pg::PartitionInfo>& parts) {
  std::cout << fmt::format("{:<22}  {:<34}  {:<20}  {:<20}  {:<8}  {:>10}  {:>12}\n", "TABLE",
                           "PARTITION", "FROM", "TO", "STATE", "ROWS~", "BYTES");
  for (const auto& p : parts) {
    std::cout << fmt::format("{:<22}  {:<34}  {:<20}  {:<20}  {:<8}  {:>10}  {:>12}\n", p.parent,
                             p.name, p.from, p.to, p.attached ? "attached" : "detached", p.rows,
                             p.bytes);
  }
}

int partitionsCommand(const config::Config& cfg, const PartitionsOptions& o) {
  auto conn = pg::Connection::open(cfg.postgres);
  const int64_t now_ms = core::epochMicros() / 1000;
  switch (o.action) {
  case PartitionsAction::List:
    printPartitions(pg::listPartitions(*conn));
    return kExitOk;
  case PartitionsAction::Create: {
    const auto made =
        pg::premakePartitions(*conn, cfg.partitions.widthMs(), cfg.partitions.premake, now_ms);
    for (const auto& name : made) {
      std::cout << "created " << name << "\n";
    }
    std::cerr << fmt::format("{} partition(s) created; {} {}(s) ahead are ready\n", made.size(),
                             cfg.partitions.premake, cfg.partitions.interval);
    return kExitOk;
  }
  case PartitionsAction::Prune: {
    if (cfg.retention.keep_seconds <= 0) {
      std::cerr << "auditq: partitions prune: retention.keep is off: nothing is ever pruned\n";
      return kExitUsage;
    }
    pg::PruneOptions p;
    p.keep_seconds = cfg.retention.keep_seconds;
    p.recover_max_age_seconds = cfg.recover.maxAgeSeconds();
    p.drop = cfg.retention.action == "drop";
    p.dry_run = o.dry_run;
    p.concurrently = true;
    const auto result = pg::prunePartitions(*conn, p, now_ms);
    if (!result.ran) {
      std::cerr << "auditq: partitions prune: another instance is pruning; try again later\n";
      return kExitFailure;
    }
    bool failed = false;
    for (const auto& s : result.steps) {
      std::cout << fmt::format("{:<14} {:<34} (to {}){}\n", s.action, s.partition.name,
                               s.partition.to, s.detail.empty() ? "" : ": " + s.detail);
      failed = failed || s.action == "failed";
    }
    std::cerr << fmt::format("{} partition(s) older than retention.keep ({} s){}\n",
                             result.steps.size(), p.keep_seconds,
                             o.dry_run ? ", dry run: nothing changed" : "");
    return failed ? kExitFailure : kExitOk;
  }
  }
  return kExitFailure;
}

volatile std::sig_atomic_t g_stop = 0;

class Announcements : public pqxx::notification_receiver {
public:
  Announcements(pqxx::connection& c, const std::string& channel)
      : pqxx::notification_receiver(c, channel) {}
  void operator()(const std::string& payload, int /*backend_pid*/) override {
    pending.push_back(payload);
  }
  std::vector<std::string> pending;
};

int tailCommand(const config::Config& cfg, const TailOptions& o) {
  if (!cfg.notify.enabled) {
    std::cerr << "auditq: tail: notify.enabled is false in this configuration: nothing is "
                 "announced unless the daemon's configuration turns it on\n";
  }
  auto listen = pg::Connection::open(cfg.postgres);
  auto query = pg::Connection::open(cfg.postgres);
  auto& c = listen->impl().conn;
  Announcements inbox(c, cfg.notify.channel);
  std::signal(SIGINT, [](int) { g_stop = 1; });
  std::signal(SIGTERM, [](int) { g_stop = 1; });
  std::cerr << fmt::format("listening on {} (Ctrl-C to stop)\n", cfg.notify.channel);
  simdjson::dom::parser parser;
  while (g_stop == 0) {
    c.await_notification(0, 250'000);
    for (const auto& payload : inbox.pending) {
      simdjson::dom::element doc;
      std::string_view stream, first, last;
      if (parser.parse(payload).get(doc) || doc["stream"].get(stream) || doc["first"].get(first) ||
          doc["last"].get(last)) {
        std::cerr << "auditq: tail: not an auditq notification: " << payload << "\n";
        continue;
      }
      if (o.stream && *o.stream != stream) {
        continue;
      }
      pg::forEachAnnouncedRow(*query, {std::string(stream), std::string(first), std::string(last)},
                              o.session, o.json, [&](const std::vector<std::string>& cols) {
                                if (o.json) {
                                  std::cout << cols[0] << "\n";
                                } else {
                                  std::cout
                                      << fmt::format("{}  {}  {}  {}  {}  v{}\n", cols[2], cols[0],
                                                     cols[1], cols[3], cols[4], cols[5]);
                                }
                              });
      std::cout.flush();
    }
    inbox.pending.clear();
  }
  return kExitOk;
}

int verifyCommand(const config::Config& cfg, const VerifyOptions& o) {
  auto conn = pg::Connection::open(cfg.postgres);
  const auto in = pg::readVerifyInput(*conn, o.stream, o.since);
  const auto report = pipeline::checkChains(in.records, in.kept_from_ms);
  bool bad = false;
  if (!report.findings.empty()) {
    // The first batch found wrong, in commit order.
    const auto* first = &report.findings.front();
    for (const auto& f : report.findings) {
      if (f.committed_at < first->committed_at) {
        first = &f;
      }
    }
    std::cout << fmt::format("TAMPERED: batch {} (chain {}, seq {}, committed {}): {}\n",
                             first->batch_id, first->chain, first->seq, first->committed_at,
                             first->problem);
    if (report.findings.size() > 1) {
      std::cout << fmt::format("{} more finding(s):\n", report.findings.size() - 1);
      for (const auto& f : report.findings) {
        if (&f != first) {
          std::cout << fmt::format("  batch {} (chain {}, seq {}): {}\n", f.batch_id, f.chain,
                                   f.seq, f.problem);
        }
      }
    }
    bad = true;
  }
  if (in.unaccounted_rows > 0) {
    std::cout << fmt::format("TAMPERED: {} row(s) in sync_events belong to no committed batch "
                             "(added outside auditq), e.g. {}\n",
                             in.unaccounted_rows, in.unaccounted_example);
    bad = true;
  }
  std::cout << fmt::format("{}: {} batch(es) in {} chain(s), {} row(s) checked{}{}\n",
                           bad ? "FAILED" : "OK", report.batches, report.chains, report.rows,
                           o.stream ? " for stream " + *o.stream : "",
                           o.since.empty() ? "" : " since " + o.since);
  return bad ? kExitFailure : kExitOk;
}

template <typename Fn>
int guarded(const char* what, Fn&& fn) {
  try {
    return fn();
  } catch (const pg::Error& e) {
    std::cerr << "auditq: " << what << ": PostgreSQL: " << e.what() << "\n";
  } catch (const pqxx::failure& e) {
    std::cerr << "auditq: " << what << ": PostgreSQL: " << e.what() << "\n";
  }
  return kExitFailure;
}

} // namespace

int partitions(const config::Config& cfg, const PartitionsOptions& options) {
  return guarded("partitions", [&] { return partitionsCommand(cfg, options); });
}

int tail(const config::Config& cfg, const TailOptions& options) {
  return guarded("tail", [&] { return tailCommand(cfg, options); });
}

int verify(const config::Config& cfg, const VerifyOptions& options) {
  return guarded("verify", [&] { return verifyCommand(cfg, options); });
}

} // namespace auditq::app
