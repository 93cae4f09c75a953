// The simulated world. One event queue on a simulated millisecond clock; every random choice
// comes from one generator seeded by the run's seed, so a run replays exactly.
#include "sim/world.h"

#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <queue>
#include <random>
#include <set>

#include <fmt/format.h>

#include "pipeline/consumer.h"
#include "sim/postgres_model.h"
#include "sim/redis_model.h"

namespace auditq::sim {
namespace {

using pipeline::Batch;
using pipeline::Consumer;
using pipeline::TimeMs;

constexpr int64_t kIdBase = 1'800'000'000'000; // entry ids carry realistic epoch milliseconds
constexpr TimeMs kDrainBound = 25'000;         // after the last fault, everything must settle
constexpr int kMaxStepsPerInstant = 20'000;    // more without time passing: a spin
constexpr int kMaxCommandsPerSecond = 5'000;   // a retry loop without backoff floods Redis
constexpr size_t kMaxConnectsPerSecond = 60;

struct Fault {
  enum Kind {
    DropConnection,    // the peer resets it: the disconnect callback fires
    SilentDrop,        // it dies without a word: only a command (or PING) times out
    RedisRestart,      // down for a while, data kept
    RedisRestartEmpty, // down for a while, comes back with nothing (no persistence)
    RedisFlush,        // FLUSHALL while up
    StreamDeleted,     // DEL of one stream key: its entries and group gone, the producer goes on
    RedisHang,         // stops answering for a while
    PostgresDown,
    PostgresHang,      // statements run into statement_timeout
    LostCommitReply,   // the next commits succeed but their replies are lost
    Deadlock,          // the next attempts fail with 40P01
    Kill,              // SIGKILL; the supervisor restarts the process
    Term,              // SIGTERM (twice, sometimes); restarted after it exits
    Hup,               // SIGHUP with new batch limits
    GroupCreateDenied, // XGROUP CREATE refused (an ACL without it: NOPERM) for a while
    Failover,          // the primary dies, an in-sync replica takes over and the sentinels
                       // announce it (+switch-master); sometimes only the announcement
    kCount
  };
  TimeMs at = 0;
  Kind kind = DropConnection;
  TimeMs duration = 0;
};

constexpr const char* kFaultNames[] = {"drop_connection",
                                       "silent_drop",
                                       "redis_restart",
                                       "redis_restart_empty",
                                       "redis_flush",
                                       "stream_deleted",
                                       "redis_hang",
                                       "postgres_down",
                                       "postgres_hang",
                                       "lost_commit_reply",
                                       "deadlock",
                                       "kill",
                                       "term",
                                       "hup",
                                       "group_create_denied",
                                       "failover"};
static_assert(std::size(kFaultNames) == Fault::kCount, "a name for every fault");

// One auditq process: the real state machine, and the adapters' contracts around it.
struct Proc {
  int pid = 0;
  std::string name;
  std::unique_ptr<Consumer> core;
  bool alive = true;
  enum class Link { None, Connecting, Up, Silent } link = Link::None;
  uint64_t link_epoch = 0;
  uint64_t gen = 0; // bumped when the connections are replaced: older replies are dropped
  std::deque<Batch*> queue;
  int busy = 0;
  bool abandon = false;
  bool pg_answering = true;
  std::map<Batch*, int> attempts;
  TimeMs wake_at = -1;
};

struct BlockedRead {
  int pid;
  uint64_t gen;
  size_t count;
  std::shared_ptr<bool> answered;
};

class World {
public:
  World(uint64_t seed, bool trace) : seed_(seed), rng_(seed), trace_on_(trace) {
    configure();
    plan();
  }

  RunResult run();

private:
  // ---- scheduling ----
  struct Event {
    TimeMs at;
    uint64_t seq;
    std::function<void()> fn;
    bool operator>(const Event& o) const { return at != o.at ? at > o.at : seq > o.seq; }
  };
  void at(TimeMs t, std::function<void()> fn) { queue_.push(Event{t, ++seq_, std::move(fn)}); }
  int64_t uniform(int64_t lo, int64_t hi) {
    return std::uniform_int_distribution<int64_t>(lo, hi)(rng_);
  }
  bool chance(double p) { return std::uniform_real_distribution<double>(0, 1)(rng_) < p; }
  TimeMs latency() { return uniform(0, 2); }
  template <typename... Args>
  void trace(fmt::format_string<Args...> f, Args&&... args) {
    if (trace_on_) {
      result_.trace.push_back(fmt::format("{:>6} ", now_) +
                              fmt::format(f, std::forward<Args>(args)...));
    }
  }
  void fail(std::string why) {
    if (result_.ok) {
      result_.ok = false;
      result_.failure = fmt::format("t={} {}", now_, why);
      trace("FAILED: {}", why);
    }
  }

  // ---- setup ----
  void configure();
  void plan();
  std::vector<std::string> entryFields();

  // ---- the process ----
  Proc* live(int pid) { return proc_ && proc_->pid == pid && proc_->alive ? proc_.get() : nullptr; }
  void startProcess();
  void killProcess(const char* how);
  template <typename F>
  void call(int pid, F&& f) {
    Proc* p = live(pid);
    if (p == nullptr) {
      return;
    }
    f(*p->core);
    execute(*p);
  }
  void execute(Proc& p);
  void scheduleWake(Proc& p);
  void checkHeld(Proc& p);
  // A read asks for at least one entry and never more than a batch holds.
  void checkCount(size_t count) {
    if (count < 1 || count > static_cast<size_t>(max_entries_seen_)) {
      fail(fmt::format("a read asks for {} entries (batch.max_entries at most {})", count,
                       max_entries_seen_));
    }
  }

  // ---- Redis ----
  using Deliver = std::function<void(Consumer&)>;
  // Runs at Redis when the command arrives; returns the reply, or nothing for a blocked read,
  // which sets `answered` itself when it is answered.
  using Effect = std::function<Deliver(const std::shared_ptr<bool>& answered)>;
  void send(Proc& p, Effect effect, TimeMs block_ms = 0);
  void drop(Proc& p, const char* error);
  void connect(Proc& p, uint64_t epoch);
  void readNew(Proc& p, const pipeline::ReadNew& r);
  Deliver deliverEntries(pipeline::ReadResult result, const std::vector<ReplyEntry>& entries,
                         uint64_t epoch);
  void wakeBlocked();
  void redisDown(TimeMs duration, bool empty);

  // ---- PostgreSQL (the writer pool's contract) ----
  void submit(Proc& p, Batch* batch);
  void startWriters(Proc& p);
  void attempt(int pid, Batch* batch);
  void tryBegin(int pid, Batch* batch, int txn, TxnRows rows);
  void endTxn(int pid, Batch* batch, int txn);
  void writeFailed(Proc& p, Batch* batch);
  void writeDone(Proc& p, Batch* batch, bool committed);
  void answering(Proc& p, bool yes);

  // ---- faults, producer, checks ----
  void inject(const Fault& f);
  void produce(int remaining_tries);
  bool settled() const;
  std::string unsettled() const;
  void finalChecks();

  uint64_t seed_;
  std::mt19937_64 rng_;
  bool trace_on_;
  RunResult result_;
  config::Config cfg_;
  std::priority_queue<Event, std::vector<Event>, std::greater<>> queue_;
  uint64_t seq_ = 0;
  TimeMs now_ = 0;
  TimeMs last_instant_ = -1;
  int steps_this_instant_ = 0;

  RedisModel redis_;
  PostgresModel pg_;
  bool redis_up_ = true;
  TimeMs redis_hang_until_ = 0;
  TimeMs create_denied_until_ = 0;
  TimeMs window_start_ = 0; // commands sent in the current second, against floods
  int window_commands_ = 0;
  std::deque<TimeMs> connects_; // connection attempts in the last second
  bool pg_down_ = false;
  TimeMs pg_hang_until_ = 0;
  int lost_replies_ = 0;
  int deadlocks_ = 0;
  int txn_seq_ = 0;
  std::vector<BlockedRead> blocked_;

  std::unique_ptr<Proc> proc_;
  int next_pid_ = 100;
  bool fixed_name_ = false;
  TimeMs fault_end_ = 0;
  std::vector<Fault> faults_;
  int to_produce_ = 0;
  int produced_ = 0;
  int malformed_ = 0;
  std::set<Key> acked_;
  std::set<std::string> created_; // streams whose group was ever created
  std::set<Key> before_start_;    // entries the first "$" group was configured to skip
  size_t bytes_bound_ = 0;        // (max_in_flight + 1) * max_bytes, the largest max_bytes seen
  size_t max_raw_ = 0;            // the largest entry produced
  int64_t max_entries_seen_ = 0;
  int restarts_ = 0;
};

// ---- setup ----

void World::configure() {
  cfg_.consumer.streams = {"s0"};
  if (chance(0.4)) {
    cfg_.consumer.streams.push_back("s1");
  }
  cfg_.consumer.start_id = chance(0.5) ? "$" : "0";
  cfg_.consumer.block_ms = uniform(20, 300);
  cfg_.consumer.claim_idle_ms = 2000;
  cfg_.consumer.claim_interval_ms = uniform(200, 1000);
  cfg_.consumer.delete_idle_ms = 0;
  cfg_.batch.max_entries = uniform(1, 40);
  cfg_.batch.max_bytes = uniform(1024, 16384);
  cfg_.batch.linger_ms = uniform(0, 20);
  cfg_.batch.max_in_flight = uniform(1, 4);
  cfg_.postgres.writers = uniform(1, std::min<int64_t>(2, cfg_.batch.max_in_flight));
  cfg_.postgres.statement_timeout_ms = 1000;
  cfg_.redis.command_timeout_ms = uniform(200, 800);
  cfg_.redis.ping_interval_ms = uniform(100, 500);
  cfg_.redis.connect_timeout_ms = 300;
  cfg_.retry.initial_ms = uniform(5, 50);
  cfg_.retry.max_ms = uniform(200, 1000);
  cfg_.retry.max_elapsed_ms = 0;
  cfg_.shutdown.timeout_ms = uniform(500, 3000);
  cfg_.health.stall_ms = 1'000'000'000; // stalls are a test of their own
  cfg_.dead_letter.max_deliveries = uniform(3, 8);
  cfg_.dead_letter.stream_copy = chance(0.3);
  fixed_name_ = chance(0.5);
  max_entries_seen_ = cfg_.batch.max_entries;
  // A batch holds at most max_bytes plus the entry that crossed it (entries here are < 1 KiB,
  // and a batch keeps each about three times: raw, COPY row, projection).
  bytes_bound_ =
      static_cast<size_t>(cfg_.batch.max_in_flight + 1) * static_cast<size_t>(cfg_.batch.max_bytes);
}

void World::plan() {
  fault_end_ = uniform(6000, 15000);
  to_produce_ = static_cast<int>(uniform(20, 250));
  const int n = static_cast<int>(uniform(0, 10));
  for (int i = 0; i < n; ++i) {
    Fault f;
    f.at = uniform(0, fault_end_);
    f.kind = static_cast<Fault::Kind>(uniform(0, Fault::kCount - 1));
    f.duration = uniform(10, 2000);
    faults_.push_back(f);
  }
}

std::vector<std::string> World::entryFields() {
  const auto hex = [&](int n) {
    std::string s;
    for (int i = 0; i < n; ++i) {
      s.push_back("0123456789abcdef"[uniform(0, 15)]);
    }
    return s;
  };
  const std::string session = hex(8) + "-" + hex(4) + "-4" + hex(3) + "-8" + hex(3) + "-" + hex(12);
  const std::string version = std::to_string(uniform(1, 9));
  std::vector<std::string> f = {
      "type",       "session_updated",
      "session_id", session,
      "ts",         std::to_string(kIdBase + now_),
      "version",    version,
      "state",      R"({"sync_mode":"global","status":"running","version":)" + version + "}"};
  if (chance(0.1)) {
    // A large state now and then: batches must fill by bytes, reads ask for fewer entries.
    f.back().insert(1, R"("notes":")" + std::string(uniform(1000, 12000), 'n') + R"(",)");
  }
  size_t raw = 0;
  for (const auto& x : f) {
    raw += x.size();
  }
  max_raw_ = std::max(max_raw_, raw);
  if (chance(0.07)) {
    ++malformed_;
    f.erase(f.begin(), f.begin() + 2); // no type: a dead letter
  }
  return f;
}

// ---- the process ----

void World::startProcess() {
  proc_ = std::make_unique<Proc>();
  Proc& p = *proc_;
  p.pid = ++next_pid_;
  p.name = fixed_name_ ? "auditq-fixed" : fmt::format("host-{}", p.pid);
  cfg_.consumer.name = p.name;
  p.core = std::make_unique<Consumer>(cfg_, seed_ ^ static_cast<uint64_t>(p.pid));
  trace("process {} starts as {}", p.pid, p.name);
  call(p.pid, [&](Consumer& c) { c.start(now_); });
}

void World::killProcess(const char* how) {
  if (!proc_ || !proc_->alive) {
    return;
  }
  trace("process {} ends ({})", proc_->pid, how);
  proc_->alive = false;
  ++restarts_;
  // The supervisor (systemd, docker) starts it again.
  at(now_ + uniform(10, 500), [this] { startProcess(); });
}

void World::execute(Proc& p) {
  if (now_ != last_instant_) {
    last_instant_ = now_;
    steps_this_instant_ = 0;
  }
  if (++steps_this_instant_ > kMaxStepsPerInstant) {
    fail("the consumer spins: too many steps without time passing");
    return;
  }
  std::vector<pipeline::Command> cmds;
  cmds.swap(p.core->commands());
  const int pid = p.pid;
  for (auto& cmd : cmds) {
    if (!live(pid)) {
      return;
    }
    std::visit(
        [&](auto& c) {
          using T = std::decay_t<decltype(c)>;
          if constexpr (std::is_same_v<T, pipeline::ConnectRedis>) {
            trace("cmd connect epoch {}", c.epoch);
            // Reconnects back off: even at retry.initial_ms 5 the jittered delays leave only a
            // handful of attempts per second; a retry without backoff makes hundreds.
            connects_.push_back(now_);
            while (connects_.front() <= now_ - 1000) {
              connects_.pop_front();
            }
            if (connects_.size() > kMaxConnectsPerSecond) {
              fail("reconnects without backoff: too many connection attempts in one second");
            }
            connect(p, c.epoch);
          } else if constexpr (std::is_same_v<T, pipeline::CloseRedis>) {
            trace("cmd close");
            ++p.gen;
            p.link = Proc::Link::None;
          } else if constexpr (std::is_same_v<T, pipeline::CheckGroup>) {
            const std::string s = cfg_.consumer.streams[c.stream];
            const uint64_t e = p.link_epoch;
            const size_t i = c.stream;
            trace("cmd check_group {}", s);
            send(p, [this, s, e, i](auto&) -> Deliver {
              const bool exists = redis_.groupExists(s);
              return [=, this](Consumer& core) { core.groupChecked(e, i, exists, now_); };
            });
          } else if constexpr (std::is_same_v<T, pipeline::LookupResume>) {
            const size_t i = c.stream;
            trace("cmd lookup_resume {}", i);
            const bool hang = pg_hang_until_ > now_;
            const TimeMs delay = hang ? cfg_.postgres.statement_timeout_ms : 1;
            at(now_ + delay, [this, pid, i, hang] {
              const bool ok = !pg_down_ && !hang;
              const auto id = ok ? pg_.resumeFrom(cfg_.consumer.streams[i]) : std::nullopt;
              call(pid, [&](Consumer& core) { core.resumeFound(i, ok, id, now_); });
            });
          } else if constexpr (std::is_same_v<T, pipeline::CreateGroup>) {
            const std::string s = cfg_.consumer.streams[c.stream];
            const std::string id = c.start_id;
            const uint64_t e = p.link_epoch;
            const size_t i = c.stream;
            trace("cmd create_group {} at {}", s, id);
            send(p, [this, s, id, e, i](auto&) -> Deliver {
              if (create_denied_until_ > now_) {
                return [=, this](Consumer& core) {
                  core.redisFailed(e, "XGROUP CREATE: NOPERM this user has no permissions", now_);
                };
              }
              if (redis_.createGroup(s, id) && created_.insert(s).second && id == "$") {
                // The very first group of a stream starting at "$" skips what came before it,
                // by configuration. Only the first: a later "$" would lose entries, and the
                // checks must see that.
                for (const auto& [eid, entry] : redis_.streams().at(s).entries) {
                  before_start_.insert({s, eid});
                }
              }
              const EntryId from = redis_.streams().at(s).group->last_delivered;
              const int64_t lag = redis_.entriesAfter(s, from);
              return [=, this](Consumer& core) { core.groupCreated(e, i, from, lag, now_); };
            });
          } else if constexpr (std::is_same_v<T, pipeline::RecordGroupStart>) {
            const size_t i = c.stream;
            const EntryId id = c.id;
            trace("cmd record_group_start {} {}", i, id.toString());
            at(now_ + 1, [this, pid, i, id] {
              const bool ok = !pg_down_ && pg_hang_until_ <= now_;
              if (ok) {
                pg_.recordStart(cfg_.consumer.streams[i], id);
              }
              call(pid, [&](Consumer& core) { core.groupStartRecorded(i, ok, now_); });
            });
          } else if constexpr (std::is_same_v<T, pipeline::ListPending>) {
            const std::string s = cfg_.consumer.streams[c.stream];
            const uint64_t e = p.link_epoch;
            const auto cc = c;
            const std::string name = p.name;
            trace("cmd list_pending {} after {} count {}", s,
                  c.from_start ? std::string("-") : c.after.toString(), c.count);
            checkCount(c.count);
            send(p, [this, s, e, cc, name](auto&) -> Deliver {
              std::vector<std::pair<EntryId, int64_t>> rows;
              const bool ok = redis_.listPending(
                  s, name, cc.from_start ? std::nullopt : std::optional(cc.after), cc.count, rows);
              return [=, this](Consumer& core) {
                if (!ok) {
                  core.readNoGroup(e, cc.stream, now_);
                  return;
                }
                std::vector<pipeline::PendingInfo> infos;
                for (const auto& [id, n] : rows) {
                  infos.push_back({id, n});
                }
                core.pendingListed(e, cc.stream, infos, now_);
              };
            });
          } else if constexpr (std::is_same_v<T, pipeline::ReadPending>) {
            const std::string s = cfg_.consumer.streams[c.stream];
            const uint64_t e = p.link_epoch;
            const auto cc = c;
            const std::string name = p.name;
            trace("cmd read_pending {} after {} count {}", s, c.after.toString(), c.count);
            send(p, [this, s, e, cc, name](auto&) -> Deliver {
              std::vector<ReplyEntry> got;
              if (!redis_.readPending(s, name, cc.after, cc.count, now_, got)) {
                return [=, this](Consumer& core) { core.readNoGroup(e, cc.stream, now_); };
              }
              return deliverEntries({pipeline::ReadKind::Pending, cc.stream, {}, 0}, got, e);
            });
          } else if constexpr (std::is_same_v<T, pipeline::ReadClaimed>) {
            const std::string s = cfg_.consumer.streams[c.stream];
            const uint64_t e = p.link_epoch;
            const auto cc = c;
            const std::string name = p.name;
            trace("cmd claim {} cursor {} count {}", s, c.cursor, c.count);
            checkCount(c.count);
            send(p, [this, s, e, cc, name](auto&) -> Deliver {
              std::vector<ReplyEntry> got;
              EntryId next;
              int64_t deleted = 0;
              if (!redis_.autoclaim(s, name, cc.min_idle_ms, *EntryId::parse(cc.cursor), cc.count,
                                    now_, got, next, deleted)) {
                return [=, this](Consumer& core) { core.readNoGroup(e, cc.stream, now_); };
              }
              return deliverEntries(
                  {pipeline::ReadKind::Claimed, cc.stream, next.toString(), deleted}, got, e);
            });
          } else if constexpr (std::is_same_v<T, pipeline::ReadNew>) {
            trace("cmd read_new count {} block {}", c.count, c.block_ms);
            checkCount(c.count);
            readNew(p, c);
          } else if constexpr (std::is_same_v<T, pipeline::SubmitBatch>) {
            trace("cmd submit {} entries", c.batch->entries());
            submit(p, c.batch);
          } else if constexpr (std::is_same_v<T, pipeline::CopyDeadLetters>) {
            Batch* b = c.batch;
            const uint64_t e = p.link_epoch;
            trace("cmd copy_dead_letters");
            send(p, [this, b, e](auto&) -> Deliver {
              for (const auto& s : cfg_.consumer.streams) {
                redis_.xadd(s + ":dlq", {"copy", "1"}, kIdBase + now_);
              }
              return [=, this](Consumer& core) { core.deadLettersCopied(e, b, now_); };
            });
          } else if constexpr (std::is_same_v<T, pipeline::AckBatch>) {
            Batch* b = c.batch;
            const uint64_t e = p.link_epoch;
            trace("cmd ack {} entries", b->entries());
            std::map<std::string, std::vector<EntryId>> ids;
            std::vector<std::string_view> scratch;
            for (size_t i = 0; i < b->raw().size(); ++i) {
              const auto r = b->raw().get(i, scratch);
              ids[std::string(r.stream)].push_back(*EntryId::parse(r.id));
            }
            send(p, [this, b, e, ids](auto&) -> Deliver {
              std::vector<size_t> missing;
              for (const auto& [s, list] : ids) {
                for (const auto& id : list) {
                  if (!pg_.isEvent({s, id}) && !pg_.isDeadLetter({s, id})) {
                    fail(fmt::format("{} {} acknowledged before it was committed", s,
                                     id.toString()));
                  }
                  acked_.insert({s, id});
                }
                if (!redis_.ack(s, list)) {
                  for (size_t i = 0; i < cfg_.consumer.streams.size(); ++i) {
                    if (cfg_.consumer.streams[i] == s) {
                      missing.push_back(i);
                    }
                  }
                }
              }
              return [=, this](Consumer& core) {
                core.acked(e, b, now_);
                for (size_t i : missing) {
                  core.groupMissing(e, i, now_);
                }
              };
            });
          } else if constexpr (std::is_same_v<T, pipeline::TouchBatch>) {
            Batch* b = c.batch;
            const uint64_t e = p.link_epoch;
            const std::string name = p.name;
            trace("cmd touch");
            std::map<std::string, std::vector<EntryId>> ids;
            std::vector<std::string_view> scratch;
            for (size_t i = 0; i < b->raw().size(); ++i) {
              const auto r = b->raw().get(i, scratch);
              ids[std::string(r.stream)].push_back(*EntryId::parse(r.id));
            }
            send(p, [this, e, ids, name](auto&) -> Deliver {
              std::vector<size_t> missing;
              for (const auto& [s, list] : ids) {
                if (!redis_.claimJustId(s, name, list, now_)) {
                  for (size_t i = 0; i < cfg_.consumer.streams.size(); ++i) {
                    if (cfg_.consumer.streams[i] == s) {
                      missing.push_back(i);
                    }
                  }
                }
              }
              return [=, this](Consumer& core) {
                for (size_t i : missing) {
                  core.groupMissing(e, i, now_);
                }
              };
            });
          } else if constexpr (std::is_same_v<T, pipeline::PingRedis>) {
            send(p, [](auto&) -> Deliver { return [](Consumer&) {}; });
          } else if constexpr (std::is_same_v<T, pipeline::DeleteIdleConsumers>) {
            send(p, [](auto&) -> Deliver { return [](Consumer&) {}; });
          } else if constexpr (std::is_same_v<T, pipeline::AbandonWrites>) {
            trace("cmd abandon_writes");
            p.abandon = true;
            while (!p.queue.empty()) {
              Batch* b = p.queue.front();
              p.queue.pop_front();
              at(now_,
                 [this, pid, b] { call(pid, [&](Consumer& core) { core.abandoned(b, now_); }); });
            }
          } else if constexpr (std::is_same_v<T, pipeline::Exit>) {
            trace("cmd exit {}", c.code);
            killProcess(c.code == 0 ? "exit 0" : "exit 1");
          } else if constexpr (std::is_same_v<T, pipeline::Note>) {
            trace("note {} stream {} {} {}", static_cast<int>(c.kind), c.stream, c.text, c.number);
          }
        },
        cmd);
  }
  if (!live(pid)) {
    return;
  }
  checkHeld(p);
  // Every batch is full by bytes at max_bytes plus the entry that crossed it; an entry costs a
  // batch its raw copy, its COPY row and its projection: at most a few times its raw size plus
  // the fixed columns (about 500 bytes of UUIDs, timestamps and ids).
  const size_t bound =
      bytes_bound_ + static_cast<size_t>(cfg_.batch.max_in_flight + 1) * (4 * max_raw_ + 1024);
  if (p.core->bytesHeld() > bound) {
    fail(fmt::format("{} bytes held, bound {}", p.core->bytesHeld(), bound));
  }
  scheduleWake(p);
}

void World::scheduleWake(Proc& p) {
  const auto wake = p.core->nextWake();
  if (!wake || (p.wake_at >= now_ && p.wake_at <= *wake)) {
    return; // an earlier (or the same) wake is already scheduled
  }
  p.wake_at = std::max(*wake, now_);
  const int pid = p.pid;
  at(p.wake_at, [this, pid] {
    if (Proc* q = live(pid)) {
      q->wake_at = -1;
      call(pid, [&](Consumer& core) { core.tick(now_); });
    }
  });
}

// Never two copies of an entry in one process.
void World::checkHeld(Proc& p) {
  std::set<Key> seen;
  std::vector<std::string_view> scratch;
  for (const Batch* b : p.core->heldBatches()) {
    for (size_t i = 0; i < b->raw().size(); ++i) {
      const auto r = b->raw().get(i, scratch);
      if (!seen.insert({std::string(r.stream), *EntryId::parse(r.id)}).second) {
        fail(fmt::format("{} {} held twice by process {}", r.stream, r.id, p.pid));
      }
    }
  }
}

// ---- Redis ----

void World::send(Proc& p, Effect effect, TimeMs block_ms) {
  if (now_ - window_start_ >= 1000) {
    window_start_ = now_;
    window_commands_ = 0;
  }
  if (++window_commands_ > kMaxCommandsPerSecond) {
    fail("a command flood: more Redis commands in one second than any workload here needs");
    return;
  }
  const int pid = p.pid;
  const uint64_t gen = p.gen;
  const uint64_t epoch = p.link_epoch;
  if (p.link == Proc::Link::None || p.link == Proc::Link::Connecting) {
    at(now_, [this, pid, epoch] {
      call(pid, [&](Consumer& core) { core.redisFailed(epoch, "not connected", now_); });
    });
    return;
  }
  auto answered = std::make_shared<bool>(false);
  // The adapter's command timeout: no reply in time closes the connections.
  at(now_ + cfg_.redis.command_timeout_ms + block_ms, [this, pid, gen, answered] {
    Proc* q = live(pid);
    if (q != nullptr && !*answered && q->gen == gen) {
      drop(*q, "command timed out");
    }
  });
  if (p.link == Proc::Link::Silent) {
    return; // the command goes nowhere
  }
  // Runs when the command reaches Redis; while Redis hangs it waits. The queued events hold
  // it; it holds only a weak reference to itself (no cycle).
  auto run = std::make_shared<std::function<void()>>();
  std::weak_ptr<std::function<void()>> weak = run;
  *run = [this, pid, gen, effect, answered, weak] {
    Proc* q = live(pid);
    if (q == nullptr || q->gen != gen || q->link != Proc::Link::Up || !redis_up_) {
      return; // the connection is gone: the command never ran
    }
    if (redis_hang_until_ > now_) {
      if (auto self = weak.lock()) {
        at(redis_hang_until_, [self] { (*self)(); });
      }
      return;
    }
    Deliver deliver = effect(answered);
    if (!deliver) {
      return; // a blocked read: answered later
    }
    at(now_ + latency(), [this, pid, gen, deliver, answered] {
      Proc* r = live(pid);
      if (r == nullptr || r->gen != gen || r->link != Proc::Link::Up) {
        return; // the reply is lost with the connection
      }
      *answered = true;
      call(pid, deliver);
    });
  };
  at(now_ + latency(), [run] { (*run)(); });
}

void World::drop(Proc& p, const char* error) {
  if (p.link == Proc::Link::None) {
    return;
  }
  trace("connection of process {} lost: {}", p.pid, error);
  ++p.gen;
  p.link = Proc::Link::None;
  const uint64_t epoch = p.link_epoch;
  const int pid = p.pid;
  at(now_, [this, pid, epoch, error] {
    call(pid, [&](Consumer& core) { core.redisFailed(epoch, error, now_); });
  });
}

void World::connect(Proc& p, uint64_t epoch) {
  ++p.gen;
  p.link = Proc::Link::Connecting;
  p.link_epoch = epoch;
  const int pid = p.pid;
  const uint64_t gen = p.gen;
  const bool hang = redis_hang_until_ > now_;
  at(now_ + (hang ? cfg_.redis.connect_timeout_ms : 1 + latency()), [this, pid, gen, epoch] {
    Proc* q = live(pid);
    if (q == nullptr || q->gen != gen) {
      return;
    }
    if (!redis_up_ || redis_hang_until_ > now_) {
      q->link = Proc::Link::None;
      call(pid, [&](Consumer& core) { core.redisFailed(epoch, "connection refused", now_); });
      return;
    }
    q->link = Proc::Link::Up;
    call(pid, [&](Consumer& core) { core.redisConnected(epoch, now_); });
  });
}

World::Deliver World::deliverEntries(pipeline::ReadResult result,
                                     const std::vector<ReplyEntry>& entries, uint64_t epoch) {
  // Copy what the reply carries: the model may change before it is delivered.
  struct Owned {
    std::string stream;
    std::string id;
    std::vector<std::string> fields;
    int64_t deliveries;
  };
  auto owned = std::make_shared<std::vector<Owned>>();
  for (const auto& e : entries) {
    owned->push_back(Owned{e.stream, e.id.toString(),
                           e.fields != nullptr ? *e.fields : std::vector<std::string>{},
                           e.deliveries});
  }
  return [this, result, owned, epoch](Consumer& core) {
    std::vector<std::vector<std::string_view>> views(owned->size());
    std::vector<pipeline::RawEntry> raw;
    for (size_t i = 0; i < owned->size(); ++i) {
      const Owned& o = (*owned)[i];
      for (const auto& f : o.fields) {
        views[i].push_back(f);
      }
      raw.push_back(pipeline::RawEntry{o.stream, o.id, views[i], o.deliveries});
    }
    trace("read {} entries (kind {})", raw.size(), static_cast<int>(result.kind));
    core.entriesRead(epoch, result, raw, now_);
  };
}

void World::readNew(Proc& p, const pipeline::ReadNew& r) {
  const uint64_t e = p.link_epoch;
  const int pid = p.pid;
  const size_t count = r.count;
  const TimeMs block = r.block_ms;
  send(
      p,
      [this, e, pid, count, block](const std::shared_ptr<bool>& answered) -> Deliver {
        std::vector<ReplyEntry> got;
        const std::string name = live(pid)->name;
        if (!redis_.readNew(cfg_.consumer.streams, name, count, now_, got)) {
          return [=, this](Consumer& core) { core.readNoGroup(e, std::nullopt, now_); };
        }
        if (!got.empty() || block == 0) {
          return deliverEntries({pipeline::ReadKind::New, 0, {}, 0}, got, e);
        }
        // BLOCK: answered by the next XADD, or empty at the timeout.
        const uint64_t gen = live(pid)->gen;
        blocked_.push_back(BlockedRead{pid, gen, count, answered});
        at(now_ + block, [this, pid, gen, e, answered] {
          Proc* q = live(pid);
          if (*answered || q == nullptr || q->gen != gen || q->link != Proc::Link::Up ||
              !redis_up_) {
            return;
          }
          *answered = true;
          call(pid, deliverEntries({pipeline::ReadKind::New, 0, {}, 0}, {}, e));
        });
        return nullptr;
      },
      block);
}

void World::wakeBlocked() {
  std::vector<BlockedRead> waiting;
  waiting.swap(blocked_);
  for (const auto& b : waiting) {
    Proc* q = live(b.pid);
    if (*b.answered || q == nullptr || q->gen != b.gen || q->link != Proc::Link::Up) {
      continue;
    }
    *b.answered = true;
    std::vector<ReplyEntry> got;
    const uint64_t e = q->link_epoch;
    Deliver d;
    if (!redis_.readNew(cfg_.consumer.streams, q->name, b.count, now_, got)) {
      d = [=, this](Consumer& core) { core.readNoGroup(e, std::nullopt, now_); };
    } else {
      d = deliverEntries({pipeline::ReadKind::New, 0, {}, 0}, got, e);
    }
    const int pid = b.pid;
    const uint64_t gen = b.gen;
    at(now_ + latency(), [this, pid, gen, d] {
      Proc* r = live(pid);
      if (r != nullptr && r->gen == gen && r->link == Proc::Link::Up) {
        call(pid, d);
      }
    });
  }
}

void World::redisDown(TimeMs duration, bool empty) {
  if (!redis_up_) {
    return;
  }
  redis_up_ = false;
  blocked_.clear();
  if (Proc* p = proc_ && proc_->alive ? proc_.get() : nullptr) {
    if (p->link == Proc::Link::Up) {
      drop(*p, "connection closed by server");
    }
  }
  at(now_ + duration, [this, empty] {
    if (empty) {
      redis_.flushAll();
    }
    redis_up_ = true;
    trace("redis is back{}", empty ? " (empty)" : "");
  });
}

// ---- PostgreSQL ----

void World::submit(Proc& p, Batch* batch) {
  p.queue.push_back(batch);
  p.attempts[batch] = 0;
  startWriters(p);
}

void World::startWriters(Proc& p) {
  while (p.busy < cfg_.postgres.writers && !p.queue.empty()) {
    Batch* b = p.queue.front();
    p.queue.pop_front();
    ++p.busy;
    attempt(p.pid, b);
  }
}

void World::attempt(int pid, Batch* batch) {
  Proc* p = live(pid);
  if (p == nullptr) {
    return;
  }
  if (p->abandon) {
    writeDone(*p, batch, false);
    return;
  }
  if (pg_down_) {
    at(now_ + 1, [this, pid, batch] {
      if (Proc* q = live(pid)) {
        writeFailed(*q, batch);
      }
    });
    return;
  }
  if (pg_hang_until_ > now_) {
    at(now_ + cfg_.postgres.statement_timeout_ms, [this, pid, batch] {
      if (Proc* q = live(pid)) {
        writeFailed(*q, batch);
      }
    });
    return;
  }
  TxnRows rows;
  std::vector<std::string_view> scratch;
  for (size_t i = 0; i < batch->raw().size(); ++i) {
    const auto r = batch->raw().get(i, scratch);
    Key k{std::string(r.stream), *EntryId::parse(r.id)};
    (batch->deadLetterReason(i) ? rows.dead_letters : rows.events).push_back(std::move(k));
  }
  tryBegin(pid, batch, ++txn_seq_, std::move(rows));
}

void World::tryBegin(int pid, Batch* batch, int txn, TxnRows rows) {
  if (live(pid) == nullptr) {
    pg_.rollback(txn); // its connection is gone: so is its place in the lock queue
    return;
  }
  if (!pg_.begin(txn, rows)) {
    at(now_ + 1, [this, pid, batch, txn, rows] { tryBegin(pid, batch, txn, rows); }); // lock wait
    return;
  }
  at(now_ + uniform(1, 8), [this, pid, batch, txn] { endTxn(pid, batch, txn); });
}

void World::endTxn(int pid, Batch* batch, int txn) {
  Proc* p = live(pid);
  if (p == nullptr) {
    // The process died with COMMIT maybe sent: either outcome is possible.
    chance(0.5) ? pg_.commit(txn) : pg_.rollback(txn);
    return;
  }
  if (pg_down_ || deadlocks_ > 0) {
    deadlocks_ = std::max(0, deadlocks_ - 1);
    pg_.rollback(txn);
    writeFailed(*p, batch);
    return;
  }
  pg_.commit(txn);
  if (lost_replies_ > 0) {
    --lost_replies_; // committed, but the writer only sees the connection drop
    writeFailed(*p, batch);
    return;
  }
  answering(*p, true);
  writeDone(*p, batch, true);
}

void World::writeFailed(Proc& p, Batch* batch) {
  answering(p, false);
  if (!live(p.pid)) {
    return;
  }
  if (p.abandon) {
    writeDone(p, batch, false);
    return;
  }
  const int n = std::min(++p.attempts[batch], 20);
  const TimeMs ceiling = std::min<TimeMs>(cfg_.retry.max_ms, cfg_.retry.initial_ms << n);
  const int pid = p.pid;
  at(now_ + uniform(0, ceiling), [this, pid, batch] { attempt(pid, batch); });
}

void World::writeDone(Proc& p, Batch* batch, bool committed) {
  --p.busy;
  p.attempts.erase(batch);
  const int pid = p.pid;
  trace("batch {}", committed ? "committed" : "abandoned");
  // Handed back through the event loop, as the writer threads do (boost::asio::post).
  at(now_, [this, pid, batch, committed] {
    call(pid, [&](Consumer& core) {
      committed ? core.committed(batch, now_) : core.abandoned(batch, now_);
    });
  });
  startWriters(p);
}

void World::answering(Proc& p, bool yes) {
  if (p.pg_answering != yes) {
    p.pg_answering = yes;
    at(now_, [this, pid = p.pid, yes] {
      call(pid, [&](Consumer& core) { core.postgresAnswering(yes, now_); });
    });
  }
}

// ---- faults, producer, checks ----

void World::inject(const Fault& f) {
  trace("FAULT {} for {} ms", kFaultNames[f.kind], f.duration);
  Proc* p = proc_ && proc_->alive ? proc_.get() : nullptr;
  switch (f.kind) {
  case Fault::DropConnection:
    if (p != nullptr && p->link == Proc::Link::Up) {
      drop(*p, "connection reset by peer");
    }
    break;
  case Fault::SilentDrop:
    if (p != nullptr && p->link == Proc::Link::Up) {
      p->link = Proc::Link::Silent;
    }
    break;
  case Fault::RedisRestart:
    redisDown(f.duration, false);
    break;
  case Fault::RedisRestartEmpty:
    redisDown(f.duration, true);
    break;
  case Fault::RedisFlush:
  case Fault::StreamDeleted:
    if (f.kind == Fault::RedisFlush) {
      redis_.flushAll();
    } else {
      redis_.del(cfg_.consumer.streams[uniform(0, cfg_.consumer.streams.size() - 1)]);
    }
    for (auto& b : blocked_) {
      if (Proc* q = live(b.pid); q != nullptr && !*b.answered && q->gen == b.gen) {
        *b.answered = true; // a blocked XREADGROUP on a deleted key: UNBLOCKED
        const uint64_t e = q->link_epoch;
        at(now_ + latency(), [this, pid = b.pid, e] {
          call(pid, [&](Consumer& core) { core.readNoGroup(e, std::nullopt, now_); });
        });
      }
    }
    blocked_.clear();
    break;
  case Fault::RedisHang:
    redis_hang_until_ = std::max(redis_hang_until_, now_ + f.duration);
    break;
  case Fault::PostgresDown:
    pg_down_ = true;
    at(now_ + f.duration, [this] { pg_down_ = false; });
    break;
  case Fault::PostgresHang:
    pg_hang_until_ = std::max(pg_hang_until_, now_ + f.duration);
    break;
  case Fault::LostCommitReply:
    lost_replies_ += static_cast<int>(uniform(1, 3));
    break;
  case Fault::Deadlock:
    deadlocks_ += static_cast<int>(uniform(1, 3));
    break;
  case Fault::Kill:
    killProcess("SIGKILL");
    break;
  case Fault::Term:
    if (p != nullptr) {
      const int pid = p->pid;
      call(pid, [&](Consumer& core) { core.stopRequested(now_); });
      if (chance(0.2)) {
        at(now_ + uniform(1, 300),
           [this, pid] { call(pid, [&](Consumer& core) { core.stopRequested(now_); }); });
      }
    }
    break;
  case Fault::Hup:
    if (p != nullptr) {
      pipeline::BatchLimits l{uniform(1, 40), uniform(1024, 16384), uniform(0, 20)};
      trace("limits now {} entries {} bytes {} ms", l.max_entries, l.max_bytes, l.linger_ms);
      max_entries_seen_ = std::max(max_entries_seen_, l.max_entries);
      // Batches filled before keep their limits: the bound is the larger of the two.
      bytes_bound_ = std::max(bytes_bound_, static_cast<size_t>(cfg_.batch.max_in_flight + 1) *
                                                static_cast<size_t>(l.max_bytes));
      call(p->pid, [&](Consumer& core) { core.limitsChanged(l, now_); });
    }
    break;
  case Fault::GroupCreateDenied:
    create_denied_until_ = std::max(create_denied_until_, now_ + f.duration);
    redis_.del(cfg_.consumer.streams[0]); // so that the group must be created again
    break;
  case Fault::Failover: {
    // The announcement comes when the new primary is up (or at once: a spurious one, or the
    // connection survived a failover to the same data).
    const TimeMs down = chance(0.5) ? f.duration : 0;
    if (down > 0) {
      redisDown(down, false);
    }
    at(now_ + down, [this] {
      if (Proc* q = proc_ && proc_->alive ? proc_.get() : nullptr) {
        call(q->pid, [&](Consumer& core) { core.redisPrimaryChanged(now_); });
      }
    });
    break;
  }
  case Fault::kCount:
    break;
  }
}

void World::produce(int remaining_tries) {
  if (!redis_up_) {
    if (remaining_tries > 0) {
      at(now_ + 20, [this, remaining_tries] { produce(remaining_tries - 1); });
    }
    return; // the application gave up on this one: it never reached Redis
  }
  const auto& streams = cfg_.consumer.streams;
  const std::string& s = streams[uniform(0, streams.size() - 1)];
  const auto id = redis_.xadd(s, entryFields(), kIdBase + now_);
  ++produced_;
  trace("xadd {} {}", s, id.toString());
  wakeBlocked();
}

bool World::settled() const {
  if (!proc_ || !proc_->alive || redis_.pendingCount() > 0 || proc_->core->entriesHeld() > 0) {
    return false;
  }
  for (const auto& [name, s] : redis_.streams()) {
    if (name.ends_with(":dlq")) {
      continue;
    }
    for (const auto& [id, e] : s.entries) {
      if (!pg_.isEvent({name, id}) && !pg_.isDeadLetter({name, id}) &&
          !before_start_.count({name, id})) {
        return false;
      }
    }
  }
  return true;
}

std::string World::unsettled() const {
  std::string why = fmt::format("{} pending in Redis, {} held", redis_.pendingCount(),
                                proc_ && proc_->alive ? proc_->core->entriesHeld() : 0);
  for (const auto& [name, s] : redis_.streams()) {
    if (s.group) {
      for (const auto& [id, pe] : s.group->pel) {
        why += fmt::format("; pending {} {} at {} x{}", name, id.toString(), pe.consumer,
                           pe.deliveries);
      }
    }
    if (name.ends_with(":dlq")) {
      continue;
    }
    for (const auto& [id, e] : s.entries) {
      if (!pg_.isEvent({name, id}) && !pg_.isDeadLetter({name, id}) &&
          !before_start_.count({name, id})) {
        why += fmt::format("; not written {} {}", name, id.toString());
      }
    }
  }
  return why.size() > 600 ? why.substr(0, 600) + "..." : why;
}

void World::finalChecks() {
  const auto once = [&](const Key& k, const char* what) {
    const bool ev = pg_.isEvent(k);
    const bool dl = pg_.isDeadLetter(k);
    if (ev == dl) {
      fail(fmt::format("{} {} {} is {}", what, k.first, k.second.toString(),
                       ev ? "both committed and dead-lettered"
                          : "neither committed nor dead-lettered"));
    }
  };
  for (const auto& [name, s] : redis_.streams()) {
    if (name.ends_with(":dlq")) {
      continue;
    }
    for (const auto& [id, e] : s.entries) {
      if (!before_start_.count({name, id})) {
        once({name, id}, "entry in Redis");
      }
    }
  }
  for (const auto& k : acked_) {
    once(k, "acknowledged entry");
  }
  for (const auto& k : pg_.deadLetters()) {
    if (pg_.isEvent(k)) {
      fail(fmt::format("{} {} is both committed and dead-lettered", k.first, k.second.toString()));
    }
  }
  if (redis_.pendingCount() > 0) {
    fail(fmt::format("{} entries still pending", redis_.pendingCount()));
  }
}

RunResult World::run() {
  trace("seed {}: streams {} start {} max_entries {} max_bytes {} linger {} in_flight {} writers "
        "{} block {} claim_interval {} cmd_timeout {} ping {} max_deliveries {} copy {} "
        "fixed_name {} faults {} entries {}",
        seed_, cfg_.consumer.streams.size(), cfg_.consumer.start_id, cfg_.batch.max_entries,
        cfg_.batch.max_bytes, cfg_.batch.linger_ms, cfg_.batch.max_in_flight, cfg_.postgres.writers,
        cfg_.consumer.block_ms, cfg_.consumer.claim_interval_ms, cfg_.redis.command_timeout_ms,
        cfg_.redis.ping_interval_ms, cfg_.dead_letter.max_deliveries, cfg_.dead_letter.stream_copy,
        fixed_name_, faults_.size(), to_produce_);
  for (int i = 0; i < to_produce_; ++i) {
    at(uniform(0, fault_end_ * 9 / 10), [this] { produce(5); });
  }
  for (const auto& f : faults_) {
    at(f.at, [this, f] { inject(f); });
  }
  at(0, [this] { startProcess(); });
  TimeMs next_settle_check = fault_end_;
  while (!queue_.empty() && result_.ok) {
    Event ev = queue_.top();
    queue_.pop();
    now_ = ev.at;
    if (now_ > fault_end_ + kDrainBound) {
      fail("did not drain within the bound after the last fault: a wedge: " + unsettled());
      break;
    }
    ev.fn();
    if (now_ >= next_settle_check && result_.ok) {
      next_settle_check = now_ + 100;
      // Settled, and no fault still to come (a restart still pending is part of a fault).
      if (settled() && redis_up_ && !pg_down_ && pg_hang_until_ <= now_ &&
          redis_hang_until_ <= now_) {
        break;
      }
    }
  }
  if (result_.ok) {
    finalChecks();
  }
  result_.summary =
      fmt::format("seed {}: produced {} ({} malformed), events {}, dead letters {}, restarts {}, "
                  "faults {}, ended at {} ms",
                  seed_, produced_, malformed_, pg_.events().size(), pg_.deadLetters().size(),
                  restarts_, faults_.size(), now_);
  return result_;
}

} // namespace

RunResult runSeed(uint64_t seed, bool trace) {
  World world(seed, trace);
  return world.run();
}

} // namespace auditq::sim
