// An in-memory model of what auditq's batch transaction does to sync_events and
// auditq_dead_letters, at READ COMMITTED: the statements of a transaction see what was
// committed when they ran, and their rows become visible at COMMIT. The entry-level lock that
// keeps an entry out of both tables (pg/batch_writer.cc: a shared advisory lock per stream for
// events, an exclusive one for dead letters) is modelled as a readers-writer lock. Test-only.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "core/entry_id.h"

namespace auditq::sim {

using Key = std::pair<std::string, core::EntryId>; // stream, id

struct TxnRows {
  std::vector<Key> events;
  std::vector<Key> dead_letters;
};

class PostgresModel {
public:
  // Begins a batch transaction; its statements run now (what they insert is decided from what
  // is committed now), its rows appear at commit(). Returns false when the lock it needs is
  // held in the conflicting mode (the caller waits and tries again).
  bool begin(int txn, const TxnRows& rows);
  // Makes the transaction's rows visible and releases its lock. `inserted_events` gets how many
  // events were new (the rest were duplicates).
  void commit(int txn, size_t* inserted_events = nullptr);
  void rollback(int txn);

  // The newest committed entry id of a stream, events and dead letters together; else where its
  // first group was recorded to start.
  std::optional<core::EntryId> resumeFrom(const std::string& stream) const;
  void recordStart(const std::string& stream, const core::EntryId& id) {
    starts_.emplace(stream, id); // ON CONFLICT DO NOTHING
  }

  bool isEvent(const Key& k) const { return events_.count(k) > 0; }
  bool isDeadLetter(const Key& k) const { return dead_letters_.count(k) > 0; }
  const std::set<Key>& events() const { return events_; }
  const std::set<Key>& deadLetters() const { return dead_letters_; }
  size_t eventInserts() const { return event_inserts_; }

private:
  struct Txn {
    std::vector<Key> events; // to insert at commit (already filtered)
    std::vector<Key> dead_letters;
    bool exclusive = false;
  };
  std::map<int, Txn> open_;
  std::set<int> exclusive_waiting_; // queued: later shared requests wait behind them
  int shared_holders_ = 0;
  bool exclusive_held_ = false;
  std::map<std::string, core::EntryId> starts_;
  std::set<Key> events_;
  std::set<Key> dead_letters_;
  size_t event_inserts_ = 0; // rows inserted into events (a duplicate counts once more)
};

} // namespace auditq::sim
