// The consumer's decisions, as one pure state machine: events in (Redis replies, disconnects,
// commits, failures, timer ticks, signals), commands out (connect, read, submit, ack, ...).
// No I/O, no clock of its own (every event carries `now`), no randomness but a seeded backoff:
// the daemon drives it with Asio, hiredis and the writer threads around it, the simulator
// (tests/sim) with in-memory models of Redis and PostgreSQL, and both see the same decisions.
//
// What it decides:
//   - the Redis link: connect, and on any loss (a disconnect, a failed or timed-out command,
//     a reply only an operator can fix) close both connections and reconnect with capped
//     exponential backoff; a PING on idle connections finds silent losses;
//   - consumer groups: an existing group is used as it is; a missing one (first start, NOGROUP,
//     UNBLOCKED, a Redis that came back empty) is created at the newest entry id PostgreSQL has
//     committed for that stream, and at consumer.start_id only for a stream PostgreSQL has
//     never seen;
//   - reading: own pending entries first (listed with XPENDING, then read back in runs that
//     skip what this process already holds, so their delivery counts are not inflated), then
//     entries idle in other consumers (XAUTOCLAIM, every consumer.claim_interval_ms), then new
//     ones; COUNT from the room left in the batch being filled;
//   - batches: one being filled, at most batch.max_in_flight handed to the writers or being
//     acknowledged; a batch seals when full (entries or bytes) or when its linger is over and a
//     writer is idle; an entry that does not fit stays in the own pending list and is re-read;
//   - one copy of an entry per process: an entry already held is never added again;
//   - acknowledgement strictly after commit, re-sent after a reconnect; entries held for long
//     are re-claimed to this consumer (XCLAIM JUSTID) so no one takes them over while they are
//     still being written;
//   - stall detection, SIGHUP limits, graceful and timed-out shutdown.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "core/entry_id.h"
#include "pipeline/backoff.h"
#include "pipeline/batch.h"
#include "pipeline/entry_set.h"
#include "pipeline/intake.h"

namespace auditq::pipeline {

// Milliseconds on a monotonic clock (the daemon: steady_clock; the simulator: its own).
using TimeMs = int64_t;

// ---- Commands (what the adapters must do) ----

// Open both Redis connections (reader and control); answer redisConnected or redisFailed with
// the same epoch. Every later Redis command runs on the connections of the current epoch.
struct ConnectRedis {
  uint64_t epoch = 0;
};
// Close both connections; nothing more is reported for their epoch.
struct CloseRedis {};
// XINFO GROUPS: does our group exist on this stream? -> groupChecked.
struct CheckGroup {
  size_t stream = 0;
};
// PostgreSQL: where a previous group of this stream had got to: the newest entry id committed
// (events or dead letters, compared numerically), else the position its first group was
// created at (auditq_stream_starts) -> resumeFound.
struct LookupResume {
  size_t stream = 0;
};
// XGROUP CREATE stream group <start_id> MKSTREAM (BUSYGROUP counts as created), then the
// group's last delivered id and lag -> groupCreated.
struct CreateGroup {
  size_t stream = 0;
  std::string start_id;
};
// PostgreSQL: remember that this stream's group first started at `id` (INSERT ... ON CONFLICT
// DO NOTHING into auditq_stream_starts) -> groupStartRecorded.
struct RecordGroupStart {
  size_t stream = 0;
  core::EntryId id;
};
// XPENDING stream group (after +) count consumer: this consumer's pending entries after `after`
// (from the start when `from_start`) -> pendingListed.
struct ListPending {
  size_t stream = 0;
  core::EntryId after;
  bool from_start = false;
  size_t count = 0;
};
// XREADGROUP ... COUNT count STREAMS stream <after>: own pending entries after `after`
// -> entriesRead (kind Pending).
struct ReadPending {
  size_t stream = 0;
  core::EntryId after;
  size_t count = 0;
};
// XAUTOCLAIM stream group consumer min_idle cursor COUNT count, and the claimed entries'
// delivery counts -> entriesRead (kind Claimed).
struct ReadClaimed {
  size_t stream = 0;
  std::string cursor;
  size_t count = 0;
  int64_t min_idle_ms = 0;
};
// XREADGROUP ... COUNT count [BLOCK block_ms] STREAMS <all> > ... -> entriesRead (kind New).
// block_ms 0: no BLOCK (return at once).
struct ReadNew {
  size_t count = 0;
  int64_t block_ms = 0;
};
// Hand a sealed batch to the writers -> committed or abandoned, exactly once.
struct SubmitBatch {
  Batch* batch = nullptr;
};
// XADD a copy of the batch's dead letters to their dead-letter streams -> deadLettersCopied.
struct CopyDeadLetters {
  Batch* batch = nullptr;
};
// XACK the batch's ids -> acked.
struct AckBatch {
  Batch* batch = nullptr;
};
// XCLAIM the batch's ids to this consumer with JUSTID (idle time reset, delivery count kept),
// so that no consumer takes them over while they are still being written. No answer needed.
struct TouchBatch {
  Batch* batch = nullptr;
};
// PING the control connection, and the reader connection when `reader` (it is idle).
struct PingRedis {
  bool reader = false;
};
// Remove other consumers idle for consumer.delete_idle_ms that hold nothing.
struct DeleteIdleConsumers {};
// Stop every write in progress: batches not committed come back as abandoned.
struct AbandonWrites {};
// Leave the process with this code.
struct Exit {
  int code = 0;
};

// Things worth a log line or a metric; they change nothing by themselves.
enum class NoteKind {
  RedisConnected,   // text: nothing
  RedisUnavailable, // text: the error (first failure of an outage)
  RedisRecovered,   // number: attempts
  RedisExhausted,   // retry.max_elapsed_ms ran out
  GroupCreated,     // stream; text: start id (a stream PostgreSQL has never seen)
  GroupResumed,     // stream; text: the id it resumed after; number: entries after it
  EntriesClaimed,   // stream; number: count
  PendingDeleted,   // stream; number: pending entries trimmed from the stream
  Stalled,          // text: what is stuck
  StallCleared,     //
  ShutdownRequested,
  ShutdownComplete,
  ShutdownTimedOut, // number: batches still in flight
  ShutdownForced,   // a second stop signal
};
struct Note {
  NoteKind kind = NoteKind::RedisConnected;
  size_t stream = 0;
  std::string text;
  int64_t number = 0;
};

using Command =
    std::variant<ConnectRedis, CloseRedis, CheckGroup, LookupResume, CreateGroup, RecordGroupStart,
                 ListPending, ReadPending, ReadClaimed, ReadNew, SubmitBatch, CopyDeadLetters,
                 AckBatch, TouchBatch, PingRedis, DeleteIdleConsumers, AbandonWrites, Exit, Note>;

// ---- Events (what the adapters report) ----

enum class ReadKind { Pending, Claimed, New };

struct PendingInfo {
  core::EntryId id;
  int64_t deliveries = 1; // as XPENDING reports it, before the read that follows
};

// What a read brought besides its entries.
struct ReadResult {
  ReadKind kind = ReadKind::New;
  size_t stream = 0;       // Pending and Claimed
  std::string next_cursor; // Claimed: XAUTOCLAIM's next cursor ("0-0": pass complete)
  int64_t deleted = 0;     // Claimed: pending entries no longer in the stream
};

// The batch limits a SIGHUP may change.
struct BatchLimits {
  int64_t max_entries = 1000;
  int64_t max_bytes = int64_t{4} << 20;
  int64_t linger_ms = 5;
};

// Counters for /metrics and the stats line.
struct ConsumerCounters {
  uint64_t read = 0;            // entries taken into batches
  uint64_t duplicates_held = 0; // entries delivered again while held: skipped
  uint64_t left_pending = 0;    // entries that did not fit and were left to be re-read
  uint64_t claimed = 0;         // taken over from idle consumers
  uint64_t claimed_deleted = 0; // pending entries found trimmed from the stream
  uint64_t groups_created = 0;  // groups created (first start or loss)
  uint64_t groups_resumed = 0;  // of those, re-created after a loss at a committed id
  uint64_t redis_reconnects = 0;
  uint64_t batches_submitted = 0;
};

class Consumer {
public:
  // `cfg` must outlive the consumer. `seed` drives the reconnect backoff's jitter.
  Consumer(const config::Config& cfg, uint64_t seed);
  ~Consumer();
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // -- events --
  void start(TimeMs now);
  void redisConnected(uint64_t epoch, TimeMs now);
  // The link of `epoch` failed: connecting, a lost connection (with or without a command
  // outstanding), a command timeout, or a reply that is an error other than NOGROUP.
  void redisFailed(uint64_t epoch, std::string_view error, TimeMs now);
  // The sentinels announced a new primary (+switch-master): a link waiting out its backoff
  // reconnects at once, a link still up (to a primary since demoted) is dropped and
  // reconnects; the connection asks the sentinels where the primary is now.
  void redisPrimaryChanged(TimeMs now);
  // NOGROUP (or, for a read, UNBLOCKED): the group is gone on `stream`, or on some stream
  // (nullopt). readNoGroup: the answer to the outstanding read (ListPending, ReadPending,
  // ReadClaimed, ReadNew); groupMissing: to any other command.
  void readNoGroup(uint64_t epoch, std::optional<size_t> stream, TimeMs now);
  void groupMissing(uint64_t epoch, std::optional<size_t> stream, TimeMs now);
  void groupChecked(uint64_t epoch, size_t stream, bool exists, TimeMs now);
  // `id`: where a previous group had got to (LookupResume), nullopt when PostgreSQL has never
  // seen the stream. `ok` false: the lookup failed (PostgreSQL unreachable); asked again later.
  void resumeFound(size_t stream, bool ok, std::optional<core::EntryId> id, TimeMs now);
  // `at`: the group's last delivered id right after creation; `lag`: entries after it.
  void groupCreated(uint64_t epoch, size_t stream, const core::EntryId& at, int64_t lag,
                    TimeMs now);
  void groupStartRecorded(size_t stream, bool ok, TimeMs now);
  void pendingListed(uint64_t epoch, size_t stream, std::span<const PendingInfo> pending,
                     TimeMs now);
  // The entries of a read, in the order Redis returned them; views valid during the call.
  void entriesRead(uint64_t epoch, const ReadResult& result, std::span<const RawEntry> entries,
                   TimeMs now);
  void committed(Batch* batch, TimeMs now);
  void abandoned(Batch* batch, TimeMs now);
  void deadLettersCopied(uint64_t epoch, Batch* batch, TimeMs now);
  void acked(uint64_t epoch, Batch* batch, TimeMs now);
  // PostgreSQL answers (writes commit or are refused for their rows; pings answer) or not.
  void postgresAnswering(bool answering, TimeMs now);
  // The writers failed for retry.max_elapsed_ms: leave, the entries stay pending.
  void writesGaveUp(TimeMs now);
  void stopRequested(TimeMs now);
  void limitsChanged(const BatchLimits& limits, TimeMs now);
  void tick(TimeMs now);

  // -- output --
  // The commands decided since the last call, in order. The caller executes and clears them.
  std::vector<Command>& commands() { return out_; }
  // When tick() must be called next (the earliest timer); nullopt: no timer.
  std::optional<TimeMs> nextWake() const;

  // -- state --
  bool redisReady() const { return link_ == Link::Ready; }
  bool redisConnected() const { return link_ == Link::Groups || link_ == Link::Ready; }
  bool stalled() const { return stalled_; }
  bool stopping() const { return stopping_; }
  bool exited() const { return exited_; }
  size_t batchesInFlight() const; // handed to writers or being acknowledged
  size_t batchesAtWriters() const { return at_writers_; }
  size_t bytesHeld() const; // by every batch not free
  size_t entriesHeld() const { return held_.size(); }
  const ConsumerCounters& counters() const { return counters_; }
  // Every batch that is not free (the simulator checks what they hold).
  std::vector<const Batch*> heldBatches() const;
  const BatchLimits& limits() const { return limits_; }
  uint64_t epoch() const { return epoch_; }

private:
  enum class Link { Down, Connecting, Groups, Ready };
  enum class Group { Unknown, Checking, LookingUp, LookupWait, Creating, Ready };
  enum class SlotState { Free, Filling, AtWriter, Committed, Copying, Acking };
  enum class Reading { None, ListPending, ReadPending, Claim, New };

  struct Slot {
    std::unique_ptr<Batch> batch;
    SlotState state = SlotState::Free;
    std::vector<EntryKey> keys; // what it holds, for the held set
    TimeMs first_entry_at = 0;
    TimeMs touched_at = 0; // last read or XCLAIM JUSTID of its entries
    bool copy_needed = false;
    bool reack = false;     // an entry it holds was delivered again while its XACK was out
    bool topped_up = false; // past its linger, a read collected what had arrived meanwhile
  };
  struct StreamState {
    Group group = Group::Unknown;
    std::optional<core::EntryId> resume; // from PostgreSQL, for the next CreateGroup
    // The oldest entry of the stream this process still holds or left in its pending list when
    // the group went missing: the group is re-created no later than just before it.
    std::optional<core::EntryId> floor;
    // A first group's start not yet recorded in PostgreSQL (retried until it is).
    std::optional<core::EntryId> record;
    bool recording = false;
    TimeMs record_retry_at = 0;
    TimeMs lookup_retry_at = 0;
    // Own pending list: drained after every (re)connect and after entries were left in it.
    bool drain = false;
    bool drain_from_start = false;
    core::EntryId drain_after;
    std::vector<PendingInfo> run; // the run being read back (ids and their delivery counts)
    // XAUTOCLAIM pass: the cursor while it runs, empty otherwise.
    std::string claim_cursor;
  };

  // The one place that decides what happens next; every event ends with it.
  void advance(TimeMs now);
  void connectIfDue(TimeMs now);
  void linkLost(std::string_view error, TimeMs now);
  void groupsWork(TimeMs now);
  void sendAcks();
  void maybeSeal(TimeMs now);
  void maybeRead(TimeMs now);
  void touchOld(TimeMs now);
  void checkStall(TimeMs now);
  void maybeFinish(TimeMs now);
  void exit(int code);

  Slot* filling();
  Slot* takeFree(TimeMs now);
  Slot& slotOf(Batch* batch);
  void seal(Slot& slot);
  void release(Slot& slot);
  // Adds one delivered entry to the batch being filled. False: it did not fit (no free batch).
  bool take(const RawEntry& entry, size_t stream, const core::EntryId& id, TimeMs now);
  void leaveInPending(size_t stream, const core::EntryId& id);
  void noteFloor(size_t stream);
  bool shouldSeal(const Slot& slot, TimeMs now) const;
  // How many entries the next read may ask for: the room in `batch` by count, and by bytes at
  // the bytes an entry has cost so far (so a read of large entries asks for few), and never
  // more than kReadBytes' worth: one reply is decoded in one go on the event loop.
  size_t readCount(const Batch& batch) const;
  bool hasWork() const;
  std::optional<size_t> streamIndex(std::string_view name) const;
  void note(NoteKind kind, size_t stream = 0, std::string text = {}, int64_t number = 0);

  const config::Config& cfg_;
  Intake intake_;
  BatchLimits limits_;
  Backoff backoff_;
  std::vector<Slot> slots_;
  std::vector<StreamState> streams_;
  EntrySet held_;
  std::vector<Command> out_;
  ConsumerCounters counters_;

  Link link_ = Link::Down;
  uint64_t epoch_ = 0;
  TimeMs reconnect_at_ = 0;
  bool failing_ = false; // an outage is under way (logged once)
  TimeMs failing_since_ = 0;
  bool ever_connected_ = false;
  bool fresh_link_ = false; // connected, own pending lists not yet scheduled for draining
  TimeMs last_now_ = 0;     // the latest time an event carried
  Reading reading_ = Reading::None;
  int64_t last_read_block_ = 0;
  size_t last_read_count_ = 0;   // per stream
  bool backlog_ = false;         // the last read of new entries came back full
  size_t entry_cost_ = 0;        // moving average of the bytes one entry adds to a batch
  bool wait_for_writer_ = false; // a top-up read found nothing while every writer was busy
  size_t at_writers_ = 0;
  TimeMs next_claim_at_ = 0;
  TimeMs next_ping_at_ = 0;
  bool ping_reader_due_ = false;
  bool postgres_answering_ = true;
  TimeMs last_progress_at_ = 0; // last commit, or when work appeared while idle
  bool had_work_ = false;
  bool stalled_ = false;
  bool stopping_ = false;
  TimeMs shutdown_deadline_ = 0;
  bool abandoning_ = false;
  bool exited_ = false;
};

// The id a missing group is created at: where a previous group of the stream had got to
// (LookupResume), else consumer.start_id (the stream's first start). Shared with --recover.
std::string groupStartId(const std::optional<core::EntryId>& resume_from,
                         std::string_view configured_start_id);

} // namespace auditq::pipeline
