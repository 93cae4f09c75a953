// Argument parsing and dispatch (CLI11).
#include "app/cli.h"

#include <iostream>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "app/commands.h"
#include "app/daemon.h"
#include "core/build_info.h"
#include "core/log.h"
#include "recover/recover.h"

namespace auditq::app {
int runCli(int argc, char** argv) {
  core::log::setup("info", core::log::Format::Text);

  CLI::App app{"auditq: asynchronous audit-write queue from Redis Streams to PostgreSQL.\n"
               "Without a command it runs the daemon (same as `auditq run`).",
               "auditq"};
  app.set_version_flag("--version", std::string("auditq ") + core::kVersion);
  app.require_subcommand(0, 1);
  app.fallthrough();

  std::optional<std::string> config_path;
  bool recover = false;
  bool dry_run = false;
  app.add_option("-c,--config", config_path,
                 "Configuration file (default: $AUDITQ_CONFIG, else /etc/auditq/auditq.yaml, "
                 "else built-in defaults)");
  app.add_flag("--recover", recover, "Rebuild Redis session keys from PostgreSQL, then exit");
  app.add_flag("--dry-run", dry_run, "With --recover: report what would be written, write nothing");
  recover::Options recover_options;
  app.add_flag("--all", recover_options.all,
               "With --recover: also sessions older than recover.max_age_seconds");
  app.add_option("--session", recover_options.session, "With --recover: only this session id");
  app.add_flag("--from-events", recover_options.from_events,
               "With --recover: read the newest snapshots from sync_events, not sync_sessions");

  auto* run = app.add_subcommand("run", "Run the daemon in the foreground until SIGTERM/SIGINT");
  auto* recover_cmd = app.add_subcommand("recover", "Same as --recover");

  auto* migrate_cmd = app.add_subcommand("migrate", "Apply, roll back or list schema migrations");
  migrate_cmd->require_subcommand(1);
  auto* up = migrate_cmd->add_subcommand("up", "Apply every pending migration");
  auto* down = migrate_cmd->add_subcommand("down", "Roll back the newest N migrations");
  int down_count = 1;
  down->add_option("N", down_count, "How many to roll back (default 1)")
      ->check(CLI::Range(1, 1000));
  auto* status = migrate_cmd->add_subcommand("status", "List migrations and their state");

  auto* check = app.add_subcommand("check-config",
                                   "Validate the configuration and print the effective values");
  bool connect = false;
  check->add_flag("--connect", connect,
                  "Also connect to Redis and PostgreSQL; exit 1 naming one that cannot be reached");

  auto* health = app.add_subcommand(
      "healthcheck", "Ask the running daemon's /healthz (http.listen); exit 0 when healthy");
  bool health_ready = false;
  health->add_flag("--ready", health_ready, "Ask /readyz instead: Redis and PostgreSQL reachable");

  auto* status_cmd = app.add_subcommand(
      "status", "Per stream: entries, lag, pending, consumers, newest commit, dead letters, and "
                "the daemon's readiness; exit 0 healthy, 1 needs attention (saying what)");
  StatusOptions status_options;
  status_cmd->add_flag("--json", status_options.json, "One JSON object, for scripts");
  status_cmd->add_flag("--no-daemon", status_options.no_daemon,
                       "Do not ask http.listen (when run away from the daemon's host)");

  auto* dlq = app.add_subcommand("dlq", "Inspect, re-queue or delete dead letters");
  dlq->require_subcommand(1);
  DlqOptions dlq_options;
  auto* dlq_list = dlq->add_subcommand("list", "List dead letters, oldest first");
  dlq_list->add_option("--stream", dlq_options.stream, "Only letters from this stream");
  dlq_list->add_option("--reason", dlq_options.reason, "Only letters with this reason code");
  dlq_list->add_option("--limit", dlq_options.limit, "At most this many (default 100)")
      ->check(CLI::Range(int64_t{1}, int64_t{1'000'000}));
  dlq_list->add_flag("--json", dlq_options.json, "One JSON object per line, with the raw fields");
  auto* dlq_replay = dlq->add_subcommand(
      "replay", "Re-XADD dead letters' raw fields to their source stream and mark them replayed");
  auto* replay_ids =
      dlq_replay->add_option("--id", dlq_options.ids, "Letter id (repeatable)")->delimiter(',');
  bool replay_all = false;
  auto* replay_all_flag =
      dlq_replay->add_flag("--all", replay_all, "Every letter not replayed yet");
  replay_ids->excludes(replay_all_flag);
  dlq_replay->require_option(1);
  auto* dlq_purge = dlq->add_subcommand("purge", "Delete old dead letters");
  dlq_purge
      ->add_option("--older-than", dlq_options.older_than,
                   "Dead-lettered longer ago than this: 90s, 15m, 12h, 30d, 2w")
      ->required();

  auto* parts = app.add_subcommand("partitions", "List, create or prune the audit partitions");
  parts->require_subcommand(1);
  PartitionsOptions parts_options;
  auto* parts_list = parts->add_subcommand("list", "Every partition auditq made, oldest first");
  auto* parts_create =
      parts->add_subcommand("create", "Make now's and partitions.premake partitions ahead");
  auto* parts_prune = parts->add_subcommand(
      "prune", "Detach (CONCURRENTLY) and drop or keep partitions older than retention.keep");
  parts_prune->add_flag("--dry-run", parts_options.dry_run, "Show what would be pruned");
  (void)parts_list;
  auto* tail_cmd =
      app.add_subcommand("tail", "Print events as they commit (LISTEN notify.channel)");
  TailOptions tail_options;
  tail_cmd->add_option("--stream", tail_options.stream, "Only this stream");
  tail_cmd->add_option("--session", tail_options.session, "Only this session id");
  tail_cmd->add_flag("--json", tail_options.json, "One JSON object per event");
  auto* verify_cmd = app.add_subcommand(
      "verify", "Recompute the batch digest chains: exit 1 naming the first batch tampered with");
  VerifyOptions verify_options;
  verify_cmd->add_option("--stream", verify_options.stream, "Only batches holding this stream");
  verify_cmd->add_option("--since", verify_options.since,
                         "Only batches committed since this time (e.g. 2026-12-01 or "
                         "'2026-12-01 12:00+00')");

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitUsage;
  }

  config::Config cfg;
  try {
    cfg = config::loadConfig(config_path, config::processEnvironment());
  } catch (const config::ConfigError& e) {
    std::cerr << "auditq: invalid configuration: " << e.what() << "\n";
    return kExitUsage;
  }
  core::log::setup(cfg.log.level,
                   cfg.log.format == "json" ? core::log::Format::Json : core::log::Format::Text);

  if ((dry_run || recover_options.all || recover_options.session || recover_options.from_events) &&
      !recover && !*recover_cmd) {
    std::cerr << "auditq: --dry-run, --all, --session and --from-events only apply to --recover\n";
    return kExitUsage;
  }
  if (*check) {
    return checkConfig(cfg, connect);
  }
  if (*health) {
    return healthcheck(cfg, health_ready);
  }
  if (*status_cmd) {
    return showStatus(cfg, status_options);
  }
  if (*migrate_cmd) {
    if (*up) {
      return migrate(cfg, MigrateAction::Up, 0);
    }
    if (*down) {
      return migrate(cfg, MigrateAction::Down, down_count);
    }
    if (*status) {
      return migrate(cfg, MigrateAction::Status, 0);
    }
  }
  if (recover || *recover_cmd) {
    recover_options.dry_run = dry_run;
    return recover::run(cfg, recover_options);
  }
  if (*dlq) {
    dlq_options.action = *dlq_replay  ? DlqAction::Replay
                         : *dlq_purge ? DlqAction::Purge
                                      : DlqAction::List;
    return deadLetters(cfg, dlq_options);
  }
  if (*parts) {
    parts_options.action = *parts_create  ? PartitionsAction::Create
                           : *parts_prune ? PartitionsAction::Prune
                                          : PartitionsAction::List;
    return partitions(cfg, parts_options);
  }
  if (*tail_cmd) {
    return tail(cfg, tail_options);
  }
  if (*verify_cmd) {
    return verify(cfg, verify_options);
  }
  (void)run; // `auditq` and `auditq run` are the same
  return runDaemon(cfg, config_path);
}

} // namespace auditq::app
