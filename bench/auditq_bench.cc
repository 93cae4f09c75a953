// auditq-bench: the load producer (benchmarks, the demo) and the pipeline benchmark, which
// measures auditq beside references taken in the same run on the same database: a raw COPY
// of the very same rows, the staged COPY + ON CONFLICT pattern, and the reference
// application's one-transaction-per-event pattern.
//
//   auditq-bench produce  --redis URL --stream S [--rate N/s] [--seconds D | --forever]
//   auditq-bench pipeline --redis URL --pg URL --auditq BIN [--entries N] [--sessions S] ...
#include <hiredis/hiredis.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <pqxx/pqxx>

#include "bench/ack_probe.h"
#include "bench/workload.h"

namespace auditq::bench {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

double secondsSince(Clock::time_point t) {
  return std::chrono::duration<double>(Clock::now() - t).count();
}

struct RedisDeleter {
  void operator()(redisContext* c) const { redisFree(c); }
};
using RedisPtr = std::unique_ptr<redisContext, RedisDeleter>;

RedisPtr connectRedis(const std::string& url) {
  // redis://host:port/db without credentials (the throwaway stack).
  std::string rest = url.substr(url.find("://") + 3);
  const std::string hostport = rest.substr(0, rest.find('/'));
  const std::string host = hostport.substr(0, hostport.rfind(':'));
  const int port = std::stoi(hostport.substr(hostport.rfind(':') + 1));
  RedisPtr c(redisConnect(host.c_str(), port));
  if (!c || c->err != 0) {
    throw std::runtime_error("cannot connect to Redis at " + url);
  }
  return c;
}

redisReply* command(redisContext* c, const std::vector<std::string>& args) {
  std::vector<const char*> argv;
  std::vector<size_t> lens;
  for (const auto& a : args) {
    argv.push_back(a.data());
    lens.push_back(a.size());
  }
  auto* r = static_cast<redisReply*>(
      redisCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data()));
  if (r == nullptr) {
    throw std::runtime_error("Redis connection lost");
  }
  return r;
}

void run(redisContext* c, const std::vector<std::string>& args) {
  freeReplyObject(command(c, args));
}

// XADDs entries [from, to) of the workload, pipelined in chunks; tells `probe` (when given)
// each entry's id and when it was sent.
void xaddRange(redisContext* c, const std::string& stream, const Workload& w, uint64_t from,
               uint64_t to, AckProbe* probe = nullptr) {
  constexpr uint64_t kChunk = 500;
  for (uint64_t start = from; start < to; start += kChunk) {
    const uint64_t end = std::min(to, start + kChunk);
    const int64_t ms = nowMs();
    const auto sent_at = Clock::now();
    for (uint64_t i = start; i < end; ++i) {
      Entry e = w.entry(i, ms);
      std::vector<const char*> argv = {"XADD", stream.c_str(), "*"};
      std::vector<size_t> lens = {4, stream.size(), 1};
      for (const auto& f : e.fields) {
        argv.push_back(f.data());
        lens.push_back(f.size());
      }
      redisAppendCommandArgv(c, static_cast<int>(argv.size()), argv.data(), lens.data());
    }
    for (uint64_t i = start; i < end; ++i) {
      void* r = nullptr;
      if (redisGetReply(c, &r) != REDIS_OK) {
        throw std::runtime_error("XADD failed");
      }
      const auto* reply = static_cast<const redisReply*>(r);
      if (probe != nullptr && reply->type == REDIS_REPLY_STRING) {
        probe->sent(parseStreamId(reply->str, reply->len), sent_at);
      }
      freeReplyObject(r);
    }
  }
}

// Produces at `rate` entries/s in 1 ms ticks for `seconds` (forever when < 0): close to many
// application instances XADDing independently, rather than bursts. With a probe, polls the
// group's acknowledgements once per tick.
void produce(redisContext* c, const std::string& stream, const Workload& w, double rate,
             double seconds, AckProbe* probe = nullptr) {
  const auto start = Clock::now();
  uint64_t sent = 0;
  for (uint64_t tick = 1;; ++tick) {
    const double t = 0.001 * static_cast<double>(tick);
    if (seconds >= 0 && t > seconds + 1e-9) {
      break;
    }
    const auto due = static_cast<uint64_t>(rate * t);
    if (due > sent) {
      xaddRange(c, stream, w, sent % w.size(), sent % w.size() + (due - sent), probe);
      sent = due;
    }
    if (probe != nullptr) {
      probe->poll(c);
    }
    std::this_thread::sleep_until(start + std::chrono::microseconds(tick * 1000));
  }
}

struct Daemon {
  pid_t pid = -1;
  std::string log;
};

Daemon startAuditq(const std::string& bin, const std::map<std::string, std::string>& env) {
  Daemon d;
  d.log = fmt::format("/tmp/auditq-bench-{}-{}.log", getpid(), nowMs());
  d.pid = fork();
  if (d.pid == 0) {
    for (const auto& [k, v] : env) {
      setenv(k.c_str(), v.c_str(), 1);
    }
    freopen(d.log.c_str(), "w", stderr);
    execl(bin.c_str(), bin.c_str(), "run", static_cast<char*>(nullptr));
    _exit(127);
  }
  return d;
}

double peakRssMb(pid_t pid) {
  std::ifstream in(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmHWM:", 0) == 0) {
      return std::stod(line.substr(6)) / 1024.0;
    }
  }
  return 0;
}

void stopAuditq(Daemon& d) {
  kill(d.pid, SIGTERM);
  int status = 0;
  waitpid(d.pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::cerr << "auditq did not stop cleanly; log: " << d.log << "\n";
  }
}

// True when the group has read the whole stream and acknowledged everything.
bool drained(redisContext* c, const std::string& stream, const std::string& group,
             uint64_t expected) {
  redisReply* r = command(c, {"XINFO", "GROUPS", stream});
  bool done = false;
  for (size_t g = 0; r->type == REDIS_REPLY_ARRAY && g < r->elements; ++g) {
    redisReply* kv = r->element[g];
    std::string name;
    long long pending = -1, entries_read = -1;
    for (size_t i = 0; i + 1 < kv->elements; i += 2) {
      const std::string key(kv->element[i]->str, kv->element[i]->len);
      redisReply* v = kv->element[i + 1];
      if (key == "name") {
        name.assign(v->str, v->len);
      } else if (key == "pending") {
        pending = v->integer;
      } else if (key == "entries-read") {
        entries_read = v->type == REDIS_REPLY_INTEGER ? v->integer : -1;
      }
    }
    if (name == group) {
      done = pending == 0 && entries_read >= static_cast<long long>(expected);
    }
  }
  freeReplyObject(r);
  return done;
}

struct Row {
  std::string name;
  uint64_t entries = 0;
  double seconds = 0;
  double rss_mb = -1;
  double rate() const { return static_cast<double>(entries) / seconds; }
};

class PipelineBench {
public:
  PipelineBench(std::string redis_url, std::string pg_url, std::string auditq, std::string psql)
      : redis_url_(std::move(redis_url)), pg_url_(std::move(pg_url)), auditq_(std::move(auditq)),
        psql_(std::move(psql)), redis_(connectRedis(redis_url_)), pg_(pg_url_) {}

  void truncate() {
    pqxx::nontransaction tx(pg_);
    tx.exec("TRUNCATE sync_events, sync_sessions, sync_participants, auditq_tombstones, "
            "auditq_dead_letters, auditq_batches");
    tx.exec("CHECKPOINT");
  }

  long long count(const std::string& sql) {
    pqxx::nontransaction tx(pg_);
    return tx.exec1(sql)[0].as<long long>();
  }

  Row runAuditq(const std::string& name, const std::string& stream, uint64_t entries,
                bool projections, bool digests = true) {
    truncate();
    const std::string group = fmt::format("bench-{}", nowMs());
    run(redis_.get(), {"XGROUP", "CREATE", stream, group, "0"});
    auto t0 = Clock::now();
    auto env = daemonEnv(stream, group, projections);
    env["AUDITQ_AUDIT_DIGESTS"] = digests ? "true" : "false";
    Daemon d = startAuditq(auditq_, env);
    while (!drained(redis_.get(), stream, group, entries)) {
      std::this_thread::sleep_for(5ms);
    }
    Row row{name, entries, secondsSince(t0), peakRssMb(d.pid)};
    stopAuditq(d);
    run(redis_.get(), {"XGROUP", "DESTROY", stream, group});
    const long long rows = count("SELECT count(*) FROM sync_events");
    if (rows != static_cast<long long>(entries)) {
      throw std::runtime_error(
          fmt::format("{}: {} rows in sync_events, expected {}", name, rows, entries));
    }
    return row;
  }

  std::map<std::string, std::string> daemonEnv(const std::string& stream, const std::string& group,
                                               bool projections) {
    const std::string on = projections ? "true" : "false";
    return {{"REDIS_URL", redis_url_},
            {"DATABASE_URL", pg_url_},
            {"AUDITQ_CONSUMER_STREAMS", stream},
            {"AUDITQ_CONSUMER_GROUP", group},
            {"AUDITQ_CONSUMER_START_ID", "0"},
            {"AUDITQ_PROJECTIONS_SESSIONS", on},
            {"AUDITQ_PROJECTIONS_PARTICIPANTS", on},
            {"AUDITQ_LOG_LEVEL", "info"},
            {"AUDITQ_HTTP_LISTEN", "127.0.0.1:0"}}; // listener on, as in production
  }

  // Times one psql invocation running `script`.
  double timePsql(const std::string& script) {
    static std::atomic<int> calls{0};
    const std::string path = fmt::format("/tmp/auditq-bench-{}-{}.sql", getpid(), ++calls);
    std::ofstream(path) << script;
    const std::string cmd =
        fmt::format("{} '{}' -X -q -v ON_ERROR_STOP=1 -f {} >/dev/null", psql_, pg_url_, path);
    const auto t0 = Clock::now();
    if (std::system(cmd.c_str()) != 0) {
      throw std::runtime_error("psql failed: " + script.substr(0, 200));
    }
    const double s = secondsSince(t0);
    std::remove(path.c_str());
    return s;
  }

  struct Copies {
    Row one, two, staged;
    double ceiling() const { return std::max(one.rate(), two.rate()); }
  };

  // The same event rows auditq wrote, COPYed from a file into a fresh copy of sync_events with
  // the same indexes and defaults: by one psql, and by two at once (each half the rows,
  // alternate lines, so both touch every part of the indexes) -- auditq writes on two
  // connections, so the better of the two is the ceiling it is held to.
  Copies rawCopy(uint64_t entries) {
    const std::string file = fmt::format("/tmp/auditq-bench-{}.copy", getpid());
    const std::string cols =
        "session_id, event_type, participant_id, group_id, time_remaining_ms, time_elapsed_ms, "
        "cycle_number, \"timestamp\", state_snapshot, metadata, stream, entry_id, version, "
        "entry_ms, entry_seq";
    timePsql(fmt::format("\\copy (SELECT {} FROM sync_events) TO '{}'\n", cols, file));
    auto fresh = [&] {
      pqxx::nontransaction tx(pg_);
      tx.exec("DROP TABLE IF EXISTS bench_copy");
      tx.exec("CREATE TABLE bench_copy (LIKE sync_events INCLUDING ALL)");
      tx.exec("CHECKPOINT");
    };
    fresh();
    Row raw{"raw COPY of the same rows, 1 stream", entries,
            timePsql(fmt::format("\\copy bench_copy ({}) FROM '{}'\n", cols, file))};
    const std::string halves[2] = {file + ".0", file + ".1"};
    {
      std::ifstream in(file);
      std::ofstream out[2] = {std::ofstream(halves[0]), std::ofstream(halves[1])};
      std::string line;
      for (size_t n = 0; std::getline(in, line); ++n) {
        out[n % 2] << line << '\n';
      }
    }
    fresh();
    const auto t0 = Clock::now();
    std::vector<std::thread> streams;
    for (const auto& half : halves) {
      streams.emplace_back(
          [&, half] { timePsql(fmt::format("\\copy bench_copy ({}) FROM '{}'\n", cols, half)); });
    }
    for (auto& t : streams) {
      t.join();
    }
    Row two{"raw COPY of the same rows, 2 parallel streams", entries, secondsSince(t0)};
    if (count("SELECT count(*) FROM bench_copy") != static_cast<long long>(entries)) {
      throw std::runtime_error("the two COPY streams did not write every row");
    }
    for (const auto& half : halves) {
      std::remove(half.c_str());
    }
    fresh();
    Row staged{
        "COPY to staging + INSERT ON CONFLICT", entries,
        timePsql(fmt::format("BEGIN;\nCREATE TEMP TABLE st ON COMMIT DROP AS SELECT {0} "
                             "FROM bench_copy WITH NO DATA;\n"
                             "\\copy st ({0}) FROM '{1}'\n"
                             "INSERT INTO bench_copy ({0}) SELECT {0} FROM st "
                             "ON CONFLICT (stream, entry_ms, entry_seq) DO NOTHING;\nCOMMIT;\n",
                             cols, file))};
    pqxx::nontransaction tx(pg_);
    tx.exec("DROP TABLE bench_copy");
    std::remove(file.c_str());
    return {raw, two, staged};
  }

  // The reference application's pattern: one transaction per event (session upsert, event
  // insert), on `sample` entries of the same workload.
  Row perEvent(const Workload& w, uint64_t sample) {
    truncate();
    pg_.prepare("upsert_session",
                "INSERT INTO sync_sessions (session_id, sync_mode, created_at, version, status) "
                "VALUES ($1, ($2::jsonb->>'sync_mode')::sync_mode, now(), $3, "
                "($2::jsonb->>'status')::sync_status) "
                "ON CONFLICT (session_id) DO UPDATE SET sync_mode = EXCLUDED.sync_mode, "
                "version = EXCLUDED.version, status = EXCLUDED.status, last_updated_at = now()");
    pg_.prepare("insert_event",
                "INSERT INTO sync_events (session_id, event_type, participant_id, "
                "time_remaining_ms, time_elapsed_ms, cycle_number, \"timestamp\", "
                "state_snapshot, metadata, version, entry_ms) VALUES ($1, $2, $3, $4, $5, $6, "
                "to_timestamp($7::bigint / 1000.0), $8, $9, $10, $7::bigint)");
    const auto t0 = Clock::now();
    const int64_t ms = nowMs();
    for (uint64_t i = 0; i < sample; ++i) {
      Entry e = w.entry(i, ms);
      auto f = [&](const char* name) {
        for (size_t k = 0; k + 1 < e.fields.size(); k += 2) {
          if (e.fields[k] == name) {
            return e.fields[k + 1];
          }
        }
        return std::string();
      };
      pqxx::work tx(pg_);
      tx.exec_prepared("upsert_session", f("session_id"), f("state"), std::stoll(f("version")));
      tx.exec_prepared("insert_event", f("session_id"), f("type"), f("participant_id"),
                       std::stoi(f("time_remaining_ms")), std::stoi(f("time_elapsed_ms")),
                       std::stoi(f("cycle_number")), f("ts"), f("state"), f("metadata"),
                       std::stoll(f("version")));
      tx.commit();
    }
    return Row{"per-event transactions (reference app pattern)", sample, secondsSince(t0)};
  }

  static constexpr uint64_t kProbeSampleEvery = 10; // the ack probe follows 1 entry in 10

  struct Latency {
    uint64_t entries = 0;
    std::vector<double> ack_ms;                            // XADD -> XACK, seen from outside
    double commit_p50 = 0, commit_p99 = 0, commit_max = 0; // the daemon's own XADD -> COMMIT
    double rss_mb = 0;
  };

  // A producer XADDs at `rate` for `seconds` while auditq (full effects) keeps up; each entry's
  // latency is taken from outside, from its XADD to Redis showing it acknowledged (AckProbe).
  Latency latency(const Workload& w, double rate, double seconds) {
    truncate();
    const std::string stream = fmt::format("bench-latency-{}", nowMs());
    const std::string group = "bench-latency";
    run(redis_.get(), {"XGROUP", "CREATE", stream, group, "$", "MKSTREAM"});
    Daemon d = startAuditq(auditq_, daemonEnv(stream, group, true));
    std::this_thread::sleep_for(500ms); // connected and blocking on the empty stream
    AckProbe probe(stream, group, kProbeSampleEvery);
    produce(redis_.get(), stream, w, rate, seconds, &probe);
    const auto give_up = Clock::now() + 120s;
    while (probe.outstanding() > 0 && Clock::now() < give_up) {
      probe.poll(redis_.get());
      std::this_thread::sleep_for(1ms);
    }
    if (probe.outstanding() > 0) {
      stopAuditq(d); // never leave it running against servers about to go
      throw std::runtime_error(fmt::format("{} entries not acknowledged 120 s after the last XADD",
                                           probe.outstanding()));
    }
    Latency l;
    l.ack_ms = probe.latencies();
    l.rss_mb = peakRssMb(d.pid);
    stopAuditq(d);
    // The daemon measures each entry from its id's time (XADD) to COMMIT returning, and
    // reports the distribution in its final stats line.
    std::ifstream log(d.log);
    std::string line, last;
    while (std::getline(log, line)) {
      if (line.find("auditq_stopped") != std::string::npos) {
        last = line;
      }
    }
    auto field = [&](const std::string& key) {
      const auto pos = last.find(key + "=");
      return pos == std::string::npos ? -1.0 : std::stod(last.substr(pos + key.size() + 1));
    };
    l.entries = static_cast<uint64_t>(field("committed"));
    l.commit_p50 = field("commit_latency_p50_ms");
    l.commit_p99 = field("commit_latency_p99_ms");
    l.commit_max = field("commit_latency_max_ms");
    run(redis_.get(), {"DEL", stream});
    return l;
  }

  redisContext* redis() { return redis_.get(); }

private:
  std::string redis_url_, pg_url_, auditq_, psql_;
  RedisPtr redis_;
  pqxx::connection pg_;
};

// One table for the whole run: throughput rows against the ceiling, latency rows with their
// percentiles, every row with its target (when the issue set one) and whether it was met.
class Table {
public:
  explicit Table(double ceiling) : ceiling_(ceiling) {
    std::cout << fmt::format(
        "| {:<52} | {:>9} | {:>8} | {:>9} | {:>10} | {:>22} | {:>8} | {:<32} |\n", "run", "entries",
        "seconds", "entries/s", "vs ceiling", "p50 / p99 / max ms", "RSS MB", "target");
    std::cout << fmt::format("|{:-<54}|{:->11}|{:->10}|{:->11}|{:->12}|{:->24}|{:->10}|{:-<34}|\n",
                             "", "", "", "", "", "", "", "");
  }

  // A throughput row; `min_ratio` > 0 adds the ratio target, and every row with an RSS figure
  // is held to 64 MB.
  void rate(const Row& r, double min_ratio = 0) {
    const double ratio = r.rate() / ceiling_;
    std::string target;
    if (min_ratio > 0) {
      target = fmt::format(">= {:.2f}: {}", min_ratio, ratio >= min_ratio ? "met" : "NOT met");
    }
    if (r.rss_mb >= 0) {
      target += fmt::format("{}RSS {}", target.empty() ? "" : ", ",
                            r.rss_mb <= kMaxRssMb ? "met" : "NOT met");
    }
    line(r.name, fmt::format("{}", r.entries), fmt::format("{:.2f}", r.seconds),
         fmt::format("{:.0f}", r.rate()), fmt::format("{:.2f}", ratio), "-",
         r.rss_mb < 0 ? "-" : fmt::format("{:.1f}", r.rss_mb), target);
  }

  // A latency row: `max_p99` > 0 adds the p99 target.
  void latency(const std::string& name, uint64_t entries, double seconds, double rate, double p50,
               double p99, double max, double rss_mb, double max_p99) {
    std::string target = max_p99 > 0 ? fmt::format("p99 <= {:.0f} ms: {}", max_p99,
                                                   p99 <= max_p99 ? "met" : "NOT met")
                                     : "";
    if (rss_mb >= 0) {
      target += fmt::format("{}RSS {}", target.empty() ? "" : ", ",
                            rss_mb <= kMaxRssMb ? "met" : "NOT met");
    }
    line(name, fmt::format("{}", entries), fmt::format("{:.0f}", seconds),
         fmt::format("{:.0f}", rate), "-", fmt::format("{:.1f} / {:.1f} / {:.1f}", p50, p99, max),
         rss_mb < 0 ? "-" : fmt::format("{:.1f}", rss_mb), target);
  }

private:
  static constexpr double kMaxRssMb = 64;
  static void line(const std::string& name, const std::string& entries, const std::string& secs,
                   const std::string& rate, const std::string& ratio, const std::string& lat,
                   const std::string& rss, const std::string& target) {
    std::cout << fmt::format(
        "| {:<52} | {:>9} | {:>8} | {:>9} | {:>10} | {:>22} | {:>8} | {:<32} |\n", name, entries,
        secs, rate, ratio, lat, rss, target);
  }
  double ceiling_;
};

// The distribution of a latency sample, in buckets an operator reads at a glance.
std::string distribution(const std::vector<double>& ms) {
  constexpr double kEdges[] = {5, 10, 15, 20, 30, 50, 100, 200};
  size_t counts[std::size(kEdges) + 1] = {};
  for (double v : ms) {
    size_t b = 0;
    while (b < std::size(kEdges) && v > kEdges[b]) {
      ++b;
    }
    ++counts[b];
  }
  std::string out;
  double low = 0;
  for (size_t b = 0; b <= std::size(kEdges); ++b) {
    const std::string range = b < std::size(kEdges) ? fmt::format("{:.0f}-{:.0f}", low, kEdges[b])
                                                    : fmt::format(">{:.0f}", low);
    out += fmt::format(
        "{}{} ms: {:.2f}%", b == 0 ? "" : ", ", range,
        ms.empty() ? 0.0 : 100.0 * static_cast<double>(counts[b]) / static_cast<double>(ms.size()));
    if (b < std::size(kEdges)) {
      low = kEdges[b];
    }
  }
  return out;
}

int pipelineCommand(const std::string& redis_url, const std::string& pg_url,
                    const std::string& auditq, const std::string& psql, uint64_t entries,
                    uint64_t sessions, double rate, double seconds, uint64_t sample,
                    uint64_t backlog) {
  PipelineBench bench(redis_url, pg_url, auditq, psql);
  const Workload w(sessions, entries / sessions, 20261123);
  const std::string stream = fmt::format("bench-{}", nowMs());
  std::cerr << fmt::format("preloading {} entries over {} sessions into {}...\n", entries, sessions,
                           stream);
  xaddRange(bench.redis(), stream, w, 0, entries);
  size_t state_bytes = 0;
  for (uint64_t i = 0; i < 100; ++i) {
    state_bytes += w.entry(i, nowMs()).fields[17].size();
  }

  std::cerr << "auditq, events only...\n";
  Row events = bench.runAuditq("auditq, events only", stream, entries, false);
  std::cerr << "raw COPY of the same rows, 1 and 2 streams, and staged COPY...\n";
  const auto copies = bench.rawCopy(entries);
  std::cerr << "auditq, full effects...\n";
  Row full =
      bench.runAuditq("auditq, full effects (events+sessions+participants)", stream, entries, true);
  std::cerr << "auditq, full effects without the digests...\n";
  Row undigested =
      bench.runAuditq("auditq, full effects, audit.digests off", stream, entries, true, false);
  std::cerr << "per-event transactions on a sample...\n";
  Row per_event = bench.perEvent(w, sample);
  run(bench.redis(), {"DEL", stream});
  std::cerr << fmt::format("latency at {:.0f} entries/s for {:.0f} s...\n", rate, seconds);
  auto lat = bench.latency(w, rate, seconds);
  std::optional<Row> big;
  if (backlog > 0) {
    const Workload wb(backlog / 10, 10, 7);
    const std::string big_stream = stream + "-backlog";
    std::cerr << fmt::format("preloading a {} entry backlog...\n", backlog);
    xaddRange(bench.redis(), big_stream, wb, 0, backlog);
    big = bench.runAuditq(fmt::format("auditq, full effects, {} backlog", backlog), big_stream,
                          backlog, true);
    run(bench.redis(), {"DEL", big_stream});
  }

  std::cout << fmt::format("\n{} entries over {} sessions, state JSON {} B on average, 2-4 "
                           "participants per session; ceiling = the better raw COPY ({:.0f} "
                           "entries/s)\n\n",
                           entries, sessions, state_bytes / 100, copies.ceiling());
  Table table(copies.ceiling());
  table.rate(copies.one);
  table.rate(copies.two);
  table.rate(copies.staged);
  table.rate(events, 0.9);
  table.rate(full, 0.75);
  table.rate(undigested);
  table.rate(per_event);
  if (big) {
    table.rate(*big);
  }
  const double ack_p50 = percentile(lat.ack_ms, 0.50);
  const double ack_p99 = percentile(lat.ack_ms, 0.99);
  const double ack_max = lat.ack_ms.empty() ? 0 : lat.ack_ms.back();
  table.latency(fmt::format("steady {:.0f}/s, full effects: XADD -> XACK (outside)", rate),
                lat.ack_ms.size(), seconds, rate, ack_p50, ack_p99, ack_max, lat.rss_mb, 20);
  table.latency(fmt::format("steady {:.0f}/s: XADD -> COMMIT (daemon's own)", rate), lat.entries,
                seconds, rate, lat.commit_p50, lat.commit_p99, lat.commit_max, -1, 0);
  std::cout << fmt::format("\nXADD -> XACK distribution (1 entry in {} followed, {} entries): {}\n",
                           PipelineBench::kProbeSampleEvery, lat.ack_ms.size(),
                           distribution(lat.ack_ms));
  std::cout << fmt::format("full effects vs per-event transactions: {:.1f}x; digest chain cost: "
                           "{:.1f}% of full effects ({:.0f} vs {:.0f} entries/s)\n",
                           full.rate() / per_event.rate(),
                           100.0 * (1.0 - full.rate() / undigested.rate()), full.rate(),
                           undigested.rate());
  return 0;
}

} // namespace
} // namespace auditq::bench

int main(int argc, char** argv) {
  using namespace auditq::bench;
  CLI::App app{"auditq benchmark and load producer"};
  app.require_subcommand(1);
  std::string redis_url, pg_url, stream = "sync:events", auditq, psql = "psql";
  double rate = 5000, seconds = 30;
  uint64_t entries = 200000, sessions = 20000, sample = 5000, backlog = 1000000;
  bool forever = false;

  auto* produce_cmd = app.add_subcommand("produce", "XADD realistic entries at a steady rate");
  produce_cmd->add_option("--redis", redis_url)->required();
  produce_cmd->add_option("--stream", stream);
  produce_cmd->add_option("--rate", rate, "entries per second");
  produce_cmd->add_option("--seconds", seconds);
  produce_cmd->add_option("--sessions", sessions);
  produce_cmd->add_flag("--forever", forever);

  auto* pipeline_cmd = app.add_subcommand("pipeline", "Benchmark auditq against raw COPY");
  pipeline_cmd->add_option("--redis", redis_url)->required();
  pipeline_cmd->add_option("--pg", pg_url)->required();
  pipeline_cmd->add_option("--auditq", auditq)->required();
  pipeline_cmd->add_option("--psql", psql);
  pipeline_cmd->add_option("--entries", entries);
  pipeline_cmd->add_option("--sessions", sessions);
  pipeline_cmd->add_option("--rate", rate, "steady-state rate for the latency run");
  pipeline_cmd->add_option("--seconds", seconds, "length of the latency run");
  pipeline_cmd->add_option("--per-event-sample", sample);
  pipeline_cmd->add_option("--backlog", backlog,
                           "also run a backlog of this many entries (0: none)");
  CLI11_PARSE(app, argc, argv);

  try {
    if (*produce_cmd) {
      auto c = connectRedis(redis_url);
      const Workload w(sessions, 1000000, static_cast<uint64_t>(nowMs()));
      produce(c.get(), stream, w, rate, forever ? -1 : seconds);
      return 0;
    }
    return pipelineCommand(redis_url, pg_url, auditq, psql, entries, sessions, rate, seconds,
                           sample, backlog);
  } catch (const std::exception& e) {
    std::cerr << "auditq-bench: " << e.what() << "\n";
    return 1;
  }
}
