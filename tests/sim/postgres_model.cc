// The PostgreSQL model's transactions.
#include "sim/postgres_model.h"

namespace auditq::sim {

bool PostgresModel::begin(int txn, const TxnRows& rows) {
  const bool exclusive = !rows.dead_letters.empty();
  if (exclusive) {
    if (exclusive_held_ || shared_holders_ > 0) {
      exclusive_waiting_.insert(txn);
      return false;
    }
    exclusive_waiting_.erase(txn);
    exclusive_held_ = true;
  } else {
    if (exclusive_held_ || !exclusive_waiting_.empty()) {
      return false;
    }
    ++shared_holders_;
  }
  Txn t;
  t.exclusive = exclusive;
  // INSERT ... ON CONFLICT DO NOTHING, and never an entry that is a dead letter already.
  for (const auto& k : rows.events) {
    if (!events_.count(k) && !dead_letters_.count(k)) {
      t.events.push_back(k);
    }
  }
  // A dead letter only for an entry that is not an event (NOT EXISTS at statement time).
  for (const auto& k : rows.dead_letters) {
    if (!events_.count(k)) {
      t.dead_letters.push_back(k);
    }
  }
  open_[txn] = std::move(t);
  return true;
}

void PostgresModel::commit(int txn, size_t* inserted_events) {
  auto it = open_.find(txn);
  if (it == open_.end()) {
    return;
  }
  size_t inserted = 0;
  for (const auto& k : it->second.events) {
    // The unique key: a row committed meanwhile by another transaction makes this a no-op.
    if (!events_.count(k)) {
      events_.insert(k);
      ++inserted;
      ++event_inserts_;
    }
  }
  for (const auto& k : it->second.dead_letters) {
    dead_letters_.insert(k);
  }
  if (inserted_events != nullptr) {
    *inserted_events = inserted;
  }
  rollback(txn);
}

void PostgresModel::rollback(int txn) {
  exclusive_waiting_.erase(txn);
  auto it = open_.find(txn);
  if (it == open_.end()) {
    return;
  }
  if (it->second.exclusive) {
    exclusive_held_ = false;
  } else {
    --shared_holders_;
  }
  open_.erase(it);
}

std::optional<core::EntryId> PostgresModel::resumeFrom(const std::string& stream) const {
  std::optional<core::EntryId> best;
  for (const auto* set : {&events_, &dead_letters_}) {
    auto it = set->lower_bound(Key{stream + '\x01', core::EntryId{}});
    if (it != set->begin()) {
      --it;
      if (it->first == stream && (!best || *best < it->second)) {
        best = it->second;
      }
    }
  }
  if (!best) {
    if (auto it = starts_.find(stream); it != starts_.end()) {
      best = it->second;
    }
  }
  return best;
}

} // namespace auditq::sim
