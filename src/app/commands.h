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
// Where the running daemon answers: http.listen, a wildcard listener reached on loopback;
// nullopt when http.listen is empty.
std::optional<config::ListenAddress> daemonAddress(const config::Config& cfg);

struct StatusOptions {
  bool json = false;
  bool no_daemon = false; // do not ask http.listen (run from another host)
};
// One screen per stream (Redis, PostgreSQL, the daemon's /readyz): 0 healthy, 1 needs attention.
int showStatus(const config::Config& cfg, const StatusOptions& options);

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

enum class PartitionsAction { List, Create, Prune };
struct PartitionsOptions {
  PartitionsAction action = PartitionsAction::List;
  bool dry_run = false; // prune
};
int partitions(const config::Config& cfg, const PartitionsOptions& options);

struct TailOptions {
  std::optional<std::string> stream;
  std::optional<std::string> session;
  bool json = false;
};
// LISTENs on notify.channel and prints each committed batch's events until SIGINT/SIGTERM.
int tail(const config::Config& cfg, const TailOptions& options);

struct VerifyOptions {
  std::optional<std::string> stream;
  std::string since; // a timestamp PostgreSQL reads; empty: everything kept
};
// 0: every digest chain and its rows as committed; 1: the first batch found changed.
int verify(const config::Config& cfg, const VerifyOptions& options);

} // namespace auditq::app
