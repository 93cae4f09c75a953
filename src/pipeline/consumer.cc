// The consumer state machine. Every event updates the state, then advance() decides what
// follows; commands go to out_. Nothing here blocks, sleeps, reads a clock or does I/O.
#include "pipeline/consumer.h"

#include <algorithm>

#include <fmt/format.h>

namespace auditq::pipeline {

std::string groupStartId(const std::optional<core::EntryId>& resume_from,
                         std::string_view configured_start_id) {
  return resume_from ? resume_from->toString() : std::string(configured_start_id);
}

Consumer::Consumer(const config::Config& cfg, uint64_t seed)
    : cfg_(cfg),
      intake_(cfg.decode, cfg.projections, cfg.dead_letter), limits_{cfg.batch.max_entries,
                                                                     cfg.batch.max_bytes,
                                                                     cfg.batch.linger_ms},
      backoff_(cfg.retry.initial_ms, cfg.retry.max_ms, seed) {
  slots_.resize(static_cast<size_t>(cfg.batch.max_in_flight) + 1);
  for (auto& s : slots_) {
    s.batch = std::make_unique<Batch>(cfg.batch, cfg.projections, cfg.dead_letter.max_field_bytes,
                                      cfg.audit.digests);
  }
  streams_.resize(cfg.consumer.streams.size());
}

Consumer::~Consumer() = default;

// ---- events ----

void Consumer::start(TimeMs now) {
  last_progress_at_ = now;
  reconnect_at_ = now;
  next_claim_at_ = now + cfg_.consumer.claim_interval_ms;
  next_ping_at_ = now + cfg_.redis.ping_interval_ms;
  advance(now);
}

void Consumer::redisConnected(uint64_t epoch, TimeMs now) {
  if (epoch != epoch_ || link_ != Link::Connecting) {
    return;
  }
  link_ = Link::Groups;
  fresh_link_ = true;
  if (ever_connected_) {
    ++counters_.redis_reconnects;
  }
  ever_connected_ = true;
  advance(now);
}

void Consumer::redisFailed(uint64_t epoch, std::string_view error, TimeMs now) {
  if (epoch != epoch_) {
    return; // a connection already replaced
  }
  linkLost(error, now);
  advance(now);
}

void Consumer::redisPrimaryChanged(TimeMs now) {
  if (exited_ || stopping_) {
    return;
  }
  if (link_ == Link::Groups || link_ == Link::Ready) {
    linkLost("the sentinels announced a new primary", now);
  }
  if (link_ == Link::Down) {
    reconnect_at_ = now;
  }
  advance(now);
}

void Consumer::readNoGroup(uint64_t epoch, std::optional<size_t> stream, TimeMs now) {
  if (epoch != epoch_) {
    return;
  }
  reading_ = Reading::None;
  groupMissing(epoch, stream, now);
}

void Consumer::groupMissing(uint64_t epoch, std::optional<size_t> stream, TimeMs now) {
  if (epoch != epoch_ || (link_ != Link::Groups && link_ != Link::Ready)) {
    return;
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    StreamState& s = streams_[i];
    if ((stream && *stream != i) || s.group != Group::Ready) {
      continue;
    }
    // Its pending list went with it: nothing to drain or claim there until it is back.
    noteFloor(i);
    s.group = Group::Unknown;
    s.drain = false;
    s.run.clear();
    s.claim_cursor.clear();
    link_ = Link::Groups;
  }
  advance(now);
}

void Consumer::groupChecked(uint64_t epoch, size_t stream, bool exists, TimeMs now) {
  StreamState& s = streams_[stream];
  if (epoch != epoch_ || s.group != Group::Checking) {
    return;
  }
  if (exists) {
    s.group = Group::Ready;
    s.floor.reset();
  } else {
    noteFloor(stream);
    s.group = Group::LookingUp;
    out_.emplace_back(LookupResume{stream});
  }
  advance(now);
}

void Consumer::resumeFound(size_t stream, bool ok, std::optional<core::EntryId> id, TimeMs now) {
  StreamState& s = streams_[stream];
  if (s.group != Group::LookingUp) {
    return; // the link went down meanwhile: the group is checked again on reconnect
  }
  if (!ok) {
    // Without PostgreSQL's answer the group cannot be placed safely: wait and ask again.
    s.group = Group::LookupWait;
    s.lookup_retry_at = now + backoff_.nextMs();
  } else {
    // Never after an entry this process still holds or was still to re-read: if the stream
    // kept it, it is delivered again (held ones are skipped, the rest written).
    if (s.floor && (!id || s.floor->predecessor() < *id)) {
      id = s.floor->predecessor();
    }
    s.floor.reset();
    s.resume = id;
    s.group = Group::Creating;
    out_.emplace_back(CreateGroup{stream, groupStartId(id, cfg_.consumer.start_id)});
  }
  advance(now);
}

void Consumer::groupCreated(uint64_t epoch, size_t stream, const core::EntryId& at, int64_t lag,
                            TimeMs now) {
  StreamState& s = streams_[stream];
  if (epoch != epoch_ || s.group != Group::Creating) {
    return;
  }
  s.group = Group::Ready;
  ++counters_.groups_created;
  if (s.resume) {
    ++counters_.groups_resumed;
    note(NoteKind::GroupResumed, stream, s.resume->toString(), lag);
  } else {
    // The stream's first group: remember where it started, so that a group lost before
    // anything is committed is re-created there and not at consumer.start_id ("$") again.
    note(NoteKind::GroupCreated, stream, cfg_.consumer.start_id, lag);
    s.record = at;
    s.record_retry_at = now;
  }
  advance(now);
}

void Consumer::groupStartRecorded(size_t stream, bool ok, TimeMs now) {
  StreamState& s = streams_[stream];
  s.recording = false;
  if (ok) {
    s.record.reset();
  } else {
    s.record_retry_at = now + backoff_.ceilingMs();
  }
  advance(now);
}

void Consumer::pendingListed(uint64_t epoch, size_t stream, std::span<const PendingInfo> pending,
                             TimeMs now) {
  if (epoch != epoch_ || reading_ != Reading::ListPending) {
    return;
  }
  reading_ = Reading::None;
  StreamState& s = streams_[stream];
  if (pending.empty()) {
    s.drain = false; // drained
    advance(now);
    return;
  }
  // Read back the first run of entries this process does not hold; skip the held ones
  // without reading them (a read would count one more delivery for entries still on their way).
  const auto held = [&](const PendingInfo& p) {
    return held_.contains(EntryKey{static_cast<uint32_t>(stream), p.id});
  };
  const auto first = std::find_if_not(pending.begin(), pending.end(), held);
  const auto end = std::find_if(first, pending.end(), held);
  s.drain_from_start = false;
  if (first == pending.end()) {
    s.drain_after = pending.back().id;
  } else {
    s.drain_after = (end - 1)->id;
    s.run.assign(first, end);
    reading_ = Reading::ReadPending;
    out_.emplace_back(
        ReadPending{stream, first->id.predecessor(), static_cast<size_t>(end - first)});
  }
  advance(now);
}

void Consumer::entriesRead(uint64_t epoch, const ReadResult& result,
                           std::span<const RawEntry> entries, TimeMs now) {
  if (epoch != epoch_) {
    return;
  }
  reading_ = Reading::None;
  size_t taken = 0;
  size_t run_pos = 0;
  std::optional<size_t> cached;
  for (const RawEntry& e : entries) {
    size_t stream = result.stream;
    if (result.kind == ReadKind::New) {
      if (!cached || cfg_.consumer.streams[*cached] != e.stream) {
        cached = streamIndex(e.stream);
      }
      if (!cached) {
        continue; // Redis only answers for the streams we asked for
      }
      stream = *cached;
    }
    const auto id = core::EntryId::parse(e.id);
    if (!id) {
      continue; // not an id Redis makes: nothing could acknowledge it either
    }
    RawEntry entry = e;
    if (result.kind == ReadKind::Pending) {
      // The counts XPENDING listed, plus this read.
      auto& run = streams_[stream].run;
      while (run_pos < run.size() && run[run_pos].id < *id) {
        ++run_pos;
      }
      entry.deliveries =
          run_pos < run.size() && run[run_pos].id == *id ? run[run_pos].deliveries + 1 : 1;
    } else if (result.kind == ReadKind::New) {
      entry.deliveries = 1;
    }
    const EntryKey key{static_cast<uint32_t>(stream), *id};
    if (held_.contains(key)) {
      // Already on its way in a batch of ours: never a second copy. If that batch's XACK is
      // already out, this delivery may have put the entry back in the pending list: ack again.
      ++counters_.duplicates_held;
      for (auto& slot : slots_) {
        if (slot.state == SlotState::Acking &&
            std::find(slot.keys.begin(), slot.keys.end(), key) != slot.keys.end()) {
          slot.reack = true;
        }
      }
      continue;
    }
    if (take(entry, stream, *id, now)) {
      ++taken;
    } else {
      leaveInPending(stream, *id);
    }
  }
  if (result.kind == ReadKind::Pending) {
    streams_[result.stream].run.clear();
  } else if (result.kind == ReadKind::Claimed) {
    StreamState& s = streams_[result.stream];
    s.claim_cursor = result.next_cursor == "0-0" ? std::string() : result.next_cursor;
    counters_.claimed += taken;
    if (taken > 0) {
      note(NoteKind::EntriesClaimed, result.stream, {}, static_cast<int64_t>(taken));
    }
    if (result.deleted > 0) {
      counters_.claimed_deleted += static_cast<uint64_t>(result.deleted);
      note(NoteKind::PendingDeleted, result.stream, {}, result.deleted);
    }
  }
  if (result.kind == ReadKind::New) {
    // A read that came back full says more is waiting: read on at once, linger or not (the
    // linger waits for entries to arrive, it must not throttle a backlog).
    backlog_ = !entries.empty() && entries.size() >= last_read_count_;
  }
  if (result.kind == ReadKind::New && last_read_block_ == 0) {
    if (Slot* f = filling(); f != nullptr && now >= f->first_entry_at + limits_.linger_ms) {
      f->topped_up = true;
    }
  }
  if (result.kind == ReadKind::New && entries.empty() && last_read_block_ == 0) {
    // Past the linger, a top-up found nothing more and the batch still cannot go (every
    // writer busy): wait for a writer rather than spin on empty reads. (Before the linger is
    // over, the deadline's tick reads again.)
    const Slot* f = filling();
    if (f != nullptr && !f->batch->empty() && now >= f->first_entry_at + limits_.linger_ms &&
        !shouldSeal(*f, now)) {
      wait_for_writer_ = true;
    }
  }
  advance(now);
}

void Consumer::committed(Batch* batch, TimeMs now) {
  Slot& slot = slotOf(batch);
  if (slot.state != SlotState::AtWriter) {
    return;
  }
  --at_writers_;
  wait_for_writer_ = false;
  last_progress_at_ = now;
  slot.state = SlotState::Committed;
  slot.copy_needed = cfg_.dead_letter.stream_copy && batch->deadLetters() + batch->rejected() > 0;
  advance(now);
}

void Consumer::abandoned(Batch* batch, TimeMs now) {
  Slot& slot = slotOf(batch);
  if (slot.state != SlotState::AtWriter) {
    return;
  }
  --at_writers_;
  release(slot); // not committed: the entries stay pending in Redis
  advance(now);
}

void Consumer::deadLettersCopied(uint64_t epoch, Batch* batch, TimeMs now) {
  Slot& slot = slotOf(batch);
  if (epoch != epoch_ || slot.state != SlotState::Copying) {
    return;
  }
  slot.copy_needed = false;
  slot.state = SlotState::Acking;
  out_.emplace_back(AckBatch{batch});
  advance(now);
}

void Consumer::acked(uint64_t epoch, Batch* batch, TimeMs now) {
  Slot& slot = slotOf(batch);
  if (epoch != epoch_ || slot.state != SlotState::Acking) {
    return;
  }
  last_progress_at_ = now;
  if (slot.reack) {
    slot.reack = false;
    out_.emplace_back(AckBatch{batch});
  } else {
    release(slot);
  }
  advance(now);
}

void Consumer::postgresAnswering(bool answering, TimeMs now) {
  postgres_answering_ = answering;
  advance(now);
}

void Consumer::writesGaveUp(TimeMs now) {
  (void)now;
  if (!exited_) {
    out_.emplace_back(AbandonWrites{});
    exit(1);
  }
}

void Consumer::stopRequested(TimeMs now) {
  if (exited_) {
    return;
  }
  if (stopping_) {
    // A second signal: leave now. What is not committed stays pending and comes back.
    note(NoteKind::ShutdownForced);
    exit(1);
    return;
  }
  stopping_ = true;
  shutdown_deadline_ = now + cfg_.shutdown.timeout_ms;
  note(NoteKind::ShutdownRequested, 0, {}, static_cast<int64_t>(batchesInFlight()));
  advance(now);
}

void Consumer::limitsChanged(const BatchLimits& limits, TimeMs now) {
  limits_ = limits;
  // A batch being filled keeps the limits it started with; the next ones get these.
  if (Slot* f = filling(); f != nullptr && f->batch->empty()) {
    f->batch->setLimits(limits_.max_entries, limits_.max_bytes);
  }
  advance(now);
}

void Consumer::tick(TimeMs now) {
  if (exited_) {
    return;
  }
  if (stopping_ && now >= shutdown_deadline_) {
    note(NoteKind::ShutdownTimedOut, 0, {}, static_cast<int64_t>(batchesInFlight()));
    out_.emplace_back(AbandonWrites{});
    exit(1);
    return;
  }
  if (now >= next_ping_at_) {
    next_ping_at_ = now + cfg_.redis.ping_interval_ms;
    if (link_ == Link::Groups || link_ == Link::Ready) {
      // A silently dropped connection shows itself only when something is sent on it.
      out_.emplace_back(PingRedis{reading_ == Reading::None});
    }
  }
  if (now >= next_claim_at_) {
    next_claim_at_ = now + cfg_.consumer.claim_interval_ms;
    if (link_ == Link::Ready && !stopping_) {
      for (auto& s : streams_) {
        if (s.claim_cursor.empty()) {
          s.claim_cursor = "0-0";
        }
      }
      if (cfg_.consumer.delete_idle_ms > 0) {
        out_.emplace_back(DeleteIdleConsumers{});
      }
    }
  }
  advance(now);
}

// ---- decisions ----

void Consumer::advance(TimeMs now) {
  last_now_ = std::max(last_now_, now);
  if (exited_) {
    return;
  }
  connectIfDue(now);
  groupsWork(now);
  for (size_t i = 0; i < streams_.size(); ++i) {
    StreamState& s = streams_[i];
    if (s.record && !s.recording && now >= s.record_retry_at) {
      s.recording = true;
      out_.emplace_back(RecordGroupStart{i, *s.record});
    }
  }
  sendAcks();
  touchOld(now);
  maybeSeal(now);
  maybeRead(now);
  if (stopping_) {
    maybeFinish(now);
  }
  checkStall(now);
}

void Consumer::connectIfDue(TimeMs now) {
  if (stopping_ && (link_ == Link::Connecting || link_ == Link::Groups)) {
    // Nothing more is read once stopping; a link that is not up yet is not worth waiting for.
    out_.emplace_back(CloseRedis{});
    link_ = Link::Down;
    return;
  }
  if (link_ != Link::Down || stopping_ || now < reconnect_at_) {
    return;
  }
  ++epoch_;
  link_ = Link::Connecting;
  out_.emplace_back(ConnectRedis{epoch_});
}

void Consumer::linkLost(std::string_view error, TimeMs now) {
  if (link_ == Link::Down) {
    return;
  }
  out_.emplace_back(CloseRedis{});
  link_ = Link::Down;
  reading_ = Reading::None;
  wait_for_writer_ = false;
  for (auto& slot : slots_) {
    if (slot.state == SlotState::Copying || slot.state == SlotState::Acking) {
      slot.state = SlotState::Committed; // re-sent on the next link
      slot.reack = false;
    }
  }
  for (auto& s : streams_) {
    s.group = Group::Unknown;
    s.drain = false;
    s.run.clear();
    s.claim_cursor.clear();
  }
  if (stopping_) {
    return; // maybeFinish lets the committed batches go unacknowledged
  }
  if (!failing_) {
    failing_ = true;
    failing_since_ = now;
    note(NoteKind::RedisUnavailable, 0, std::string(error));
  } else if (cfg_.retry.max_elapsed_ms > 0 && now - failing_since_ >= cfg_.retry.max_elapsed_ms) {
    note(NoteKind::RedisExhausted, 0, std::string(error), now - failing_since_);
    out_.emplace_back(AbandonWrites{});
    exit(1);
    return;
  }
  reconnect_at_ = now + backoff_.nextMs();
}

void Consumer::groupsWork(TimeMs now) {
  if (link_ != Link::Groups || stopping_) {
    return;
  }
  bool all_ready = true;
  for (size_t i = 0; i < streams_.size(); ++i) {
    StreamState& s = streams_[i];
    if (s.group == Group::Unknown) {
      s.group = Group::Checking;
      out_.emplace_back(CheckGroup{i});
    } else if (s.group == Group::LookupWait && now >= s.lookup_retry_at) {
      s.group = Group::LookingUp;
      out_.emplace_back(LookupResume{i});
    }
    all_ready = all_ready && s.group == Group::Ready;
  }
  if (!all_ready) {
    return;
  }
  link_ = Link::Ready;
  // The backoff restarts only once the link is fully usable: a link that connects and then
  // fails at XGROUP CREATE (NOPERM, say) keeps backing off instead of retrying at once.
  backoff_.reset();
  if (failing_) {
    failing_ = false;
    note(NoteKind::RedisRecovered, 0, {}, backoff_.attempts());
  } else if (fresh_link_ && counters_.redis_reconnects == 0) {
    note(NoteKind::RedisConnected);
  }
  if (fresh_link_) {
    // Entries delivered to us before a crash or a reconnect are still ours: read them first.
    fresh_link_ = false;
    for (auto& s : streams_) {
      s.drain = true;
      s.drain_from_start = true;
      s.drain_after = {};
    }
  }
}

void Consumer::sendAcks() {
  if (link_ != Link::Groups && link_ != Link::Ready) {
    return;
  }
  for (auto& slot : slots_) {
    if (slot.state != SlotState::Committed) {
      continue;
    }
    if (slot.copy_needed) {
      slot.state = SlotState::Copying;
      out_.emplace_back(CopyDeadLetters{slot.batch.get()});
    } else {
      slot.state = SlotState::Acking;
      out_.emplace_back(AckBatch{slot.batch.get()});
    }
  }
}

void Consumer::touchOld(TimeMs now) {
  if (link_ != Link::Groups && link_ != Link::Ready) {
    return;
  }
  const TimeMs every = cfg_.consumer.claim_idle_ms / 2;
  for (auto& slot : slots_) {
    if (slot.state != SlotState::Free && !slot.batch->empty() && now - slot.touched_at >= every) {
      slot.touched_at = now;
      out_.emplace_back(TouchBatch{slot.batch.get()});
    }
  }
}

bool Consumer::shouldSeal(const Slot& slot, TimeMs now) const {
  if (slot.batch->empty()) {
    return false;
  }
  if (slot.batch->full() || stopping_ || link_ != Link::Ready) {
    return true; // nothing more will be added soon: commit what is held
  }
  // Past its linger, a batch first collects what arrived meanwhile (one read without BLOCK, more
  // while reads come back full). Then, group commit: it goes as soon as a writer is idle; while
  // every writer is busy it keeps growing (fewer, larger commits when PostgreSQL is the
  // bottleneck).
  return now >= slot.first_entry_at + limits_.linger_ms && slot.topped_up && !backlog_ &&
         at_writers_ < static_cast<size_t>(cfg_.postgres.writers);
}

void Consumer::maybeSeal(TimeMs now) {
  Slot* f = filling();
  if (f == nullptr) {
    return;
  }
  if (f->batch->empty()) {
    if (stopping_) {
      release(*f);
    }
    return;
  }
  if (batchesInFlight() < static_cast<size_t>(cfg_.batch.max_in_flight) && shouldSeal(*f, now)) {
    seal(*f);
  }
}

void Consumer::maybeRead(TimeMs now) {
  if (link_ != Link::Ready || reading_ != Reading::None || stopping_ || wait_for_writer_) {
    return;
  }
  Slot* f = filling();
  if (f == nullptr) {
    f = takeFree(now);
    if (f == nullptr) {
      return; // back-pressure: every batch is with the writers
    }
  }
  if (f->batch->full()) {
    return; // waits for a writer to take it
  }
  const size_t room = readCount(*f->batch);
  if (!f->batch->empty() && now < f->first_entry_at + limits_.linger_ms && !backlog_) {
    return; // lingering: the tick at the deadline tops the batch up
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    StreamState& s = streams_[i];
    if (s.drain) {
      reading_ = Reading::ListPending;
      out_.emplace_back(ListPending{i, s.drain_after, s.drain_from_start, room});
      return;
    }
  }
  for (size_t i = 0; i < streams_.size(); ++i) {
    StreamState& s = streams_[i];
    if (!s.claim_cursor.empty()) {
      reading_ = Reading::Claim;
      out_.emplace_back(ReadClaimed{i, s.claim_cursor, room, cfg_.consumer.claim_idle_ms});
      return;
    }
  }
  // A batch with entries only tops up what is already there; an empty one waits for entries.
  last_read_block_ = f->batch->empty() ? cfg_.consumer.block_ms : 0;
  const size_t n = streams_.size();
  reading_ = Reading::New;
  last_read_count_ = (room + n - 1) / n;
  out_.emplace_back(ReadNew{last_read_count_, last_read_block_});
}

size_t Consumer::readCount(const Batch& batch) const {
  // About what a read may bring to decode at once: a few milliseconds of work.
  static constexpr size_t kReadBytes = size_t{1} << 20;
  // The most one reply may hold whatever the entries are: Redis answers COUNT entries of any
  // size, and if they suddenly grow only this bounds it.
  static constexpr size_t kReplyBytes = size_t{16} << 20;
  if (entry_cost_ == 0) {
    return 1; // until an entry has been seen, its size is anyone's guess: one
  }
  const size_t by_reply =
      std::max<size_t>(1, kReplyBytes / static_cast<size_t>(cfg_.decode.max_entry_bytes));
  const size_t by_bytes = std::max<size_t>(1, std::min(batch.byteRoom(), kReadBytes) / entry_cost_);
  return std::max<size_t>(1, std::min({batch.room(), by_reply, by_bytes}));
}

void Consumer::checkStall(TimeMs now) {
  const bool work = held_.size() > 0;
  const bool servers_ok = link_ == Link::Ready && postgres_answering_;
  if (!work || !servers_ok) {
    if (stalled_) {
      stalled_ = false;
      note(NoteKind::StallCleared);
    }
    // An outage or an idle pipeline is not a stall: the clock starts when both hold again.
    last_progress_at_ = now;
    return;
  }
  if (!stalled_ && now - last_progress_at_ >= cfg_.health.stall_ms) {
    stalled_ = true;
    note(NoteKind::Stalled, 0,
         fmt::format("{} entries held, {} batches at the writers, {} being acknowledged; no "
                     "commit for {} ms while Redis and PostgreSQL answer",
                     held_.size(), at_writers_, batchesInFlight() - at_writers_,
                     now - last_progress_at_),
         now - last_progress_at_);
  } else if (stalled_ && now - last_progress_at_ < cfg_.health.stall_ms) {
    stalled_ = false;
    note(NoteKind::StallCleared);
  }
}

void Consumer::maybeFinish(TimeMs now) {
  (void)now;
  if (link_ == Link::Down) {
    // Committed batches whose XACK cannot go out: they are committed, so letting them go only
    // means a harmless redelivery (a duplicate the database skips).
    for (auto& slot : slots_) {
      if (slot.state == SlotState::Committed) {
        release(slot);
      }
    }
  }
  if (reading_ != Reading::None && link_ != Link::Down) {
    return; // a read Redis may already have answered: its entries are committed with the rest
  }
  for (const auto& slot : slots_) {
    if (slot.state != SlotState::Free) {
      return;
    }
  }
  note(NoteKind::ShutdownComplete);
  exit(0);
}

void Consumer::exit(int code) {
  exited_ = true;
  out_.emplace_back(Exit{code});
}

// ---- slots ----

Consumer::Slot* Consumer::filling() {
  for (auto& s : slots_) {
    if (s.state == SlotState::Filling) {
      return &s;
    }
  }
  return nullptr;
}

Consumer::Slot* Consumer::takeFree(TimeMs now) {
  for (auto& s : slots_) {
    if (s.state == SlotState::Free) {
      s.state = SlotState::Filling;
      s.topped_up = false;
      s.batch->setLimits(limits_.max_entries, limits_.max_bytes);
      s.first_entry_at = now;
      s.touched_at = now;
      return &s;
    }
  }
  return nullptr;
}

Consumer::Slot& Consumer::slotOf(Batch* batch) {
  for (auto& s : slots_) {
    if (s.batch.get() == batch) {
      return s;
    }
  }
  std::abort(); // a batch the adapters made up: a broken invariant
}

void Consumer::seal(Slot& slot) {
  slot.batch->seal();
  slot.state = SlotState::AtWriter;
  ++at_writers_;
  ++counters_.batches_submitted;
  wait_for_writer_ = false;
  out_.emplace_back(SubmitBatch{slot.batch.get()});
}

void Consumer::release(Slot& slot) {
  for (const auto& key : slot.keys) {
    held_.erase(key);
  }
  slot.keys.clear();
  slot.batch->clear();
  slot.state = SlotState::Free;
  slot.copy_needed = false;
  slot.reack = false;
}

bool Consumer::take(const RawEntry& entry, size_t stream, const core::EntryId& id, TimeMs now) {
  Slot* f = filling();
  if (f != nullptr && f->batch->full()) {
    if (batchesInFlight() >= static_cast<size_t>(cfg_.batch.max_in_flight)) {
      return false;
    }
    seal(*f);
    f = nullptr;
  }
  if (f == nullptr && (f = takeFree(now)) == nullptr) {
    return false;
  }
  if (f->batch->empty()) {
    f->first_entry_at = now;
    f->touched_at = now;
  }
  const size_t before = f->batch->bytes();
  intake_.add(*f->batch, entry);
  const size_t cost = f->batch->bytes() - before;
  entry_cost_ = entry_cost_ == 0 ? cost : (entry_cost_ * 7 + cost) / 8;
  const EntryKey key{static_cast<uint32_t>(stream), id};
  f->keys.push_back(key);
  held_.insert(key);
  ++counters_.read;
  return true;
}

void Consumer::noteFloor(size_t stream) {
  StreamState& s = streams_[stream];
  const auto lower = [&](const core::EntryId& id) {
    if (!s.floor || id < *s.floor) {
      s.floor = id;
    }
  };
  for (const auto& slot : slots_) {
    for (const auto& key : slot.keys) {
      if (key.stream == stream) {
        lower(key.id);
      }
    }
  }
  if (s.drain && !s.drain_from_start) {
    lower(s.drain_after.successor());
  }
}

void Consumer::leaveInPending(size_t stream, const core::EntryId& id) {
  // Delivered to us, so in our pending list: the drain reads it back once there is room.
  ++counters_.left_pending;
  StreamState& s = streams_[stream];
  const core::EntryId after = id.predecessor();
  if (!s.drain) {
    s.drain = true;
    s.drain_from_start = false;
    s.drain_after = after;
  } else if (!s.drain_from_start && after < s.drain_after) {
    s.drain_after = after;
  }
}

size_t Consumer::batchesInFlight() const {
  size_t n = 0;
  for (const auto& s : slots_) {
    n += s.state != SlotState::Free && s.state != SlotState::Filling ? 1 : 0;
  }
  return n;
}

std::vector<const Batch*> Consumer::heldBatches() const {
  std::vector<const Batch*> out;
  for (const auto& s : slots_) {
    if (s.state != SlotState::Free) {
      out.push_back(s.batch.get());
    }
  }
  return out;
}

size_t Consumer::bytesHeld() const {
  size_t n = 0;
  for (const auto& s : slots_) {
    n += s.state != SlotState::Free ? s.batch->bytes() : 0;
  }
  return n;
}

std::optional<size_t> Consumer::streamIndex(std::string_view name) const {
  for (size_t i = 0; i < cfg_.consumer.streams.size(); ++i) {
    if (cfg_.consumer.streams[i] == name) {
      return i;
    }
  }
  return std::nullopt;
}

void Consumer::note(NoteKind kind, size_t stream, std::string text, int64_t number) {
  out_.emplace_back(Note{kind, stream, std::move(text), number});
}

std::optional<TimeMs> Consumer::nextWake() const {
  if (exited_) {
    return std::nullopt;
  }
  std::optional<TimeMs> at;
  // Only deadlines still ahead: one that has passed was acted on (or is waiting on an event,
  // not on time), so waking for it again would spin.
  const auto consider = [&](TimeMs t) {
    if (t > last_now_ && (!at || t < *at)) {
      at = t;
    }
  };
  consider(next_ping_at_);
  consider(next_claim_at_);
  if (link_ == Link::Down && !stopping_) {
    consider(reconnect_at_);
  }
  for (const auto& s : streams_) {
    if (s.group == Group::LookupWait) {
      consider(s.lookup_retry_at);
    }
    if (s.record && !s.recording) {
      consider(s.record_retry_at);
    }
  }
  for (const auto& slot : slots_) {
    if (slot.state == SlotState::Filling && !slot.batch->empty()) {
      consider(slot.first_entry_at + limits_.linger_ms);
    }
    if (slot.state != SlotState::Free && !slot.batch->empty()) {
      consider(slot.touched_at + cfg_.consumer.claim_idle_ms / 2);
    }
  }
  if (held_.size() > 0 && !stalled_) {
    consider(last_progress_at_ + cfg_.health.stall_ms);
  }
  if (stopping_) {
    consider(shutdown_deadline_);
  }
  return at;
}

} // namespace auditq::pipeline
