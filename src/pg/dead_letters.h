// auditq_dead_letters for the `auditq dlq` commands: list, replay (with the row locked while
// its copy is re-XADDed, so two concurrent replays never send one letter twice), purge.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.h"

namespace auditq::pg {

struct DeadLetter {
  int64_t id = 0;
  std::string stream;
  std::string entry_id;
  std::string fields_json; // [[name, value], ...] as stored (pipeline::parseFieldsJson)
  std::string reason;
  std::string error;
  int64_t delivery_count = 0;
  std::string dead_lettered_at; // RFC 3339, UTC
  std::string replayed_at;      // empty when never replayed
  std::string replayed_as;
};

struct DeadLetterFilter {
  std::optional<std::string> stream;
  std::optional<std::string> reason;
  int64_t limit = 100;
};

// Oldest first.
std::vector<DeadLetter> listDeadLetters(Connection& conn, const DeadLetterFilter& filter);

struct ReplayResult {
  std::vector<int64_t> replayed;
  std::vector<int64_t> already_replayed; // asked for by id, skipped
  std::vector<int64_t> missing;          // asked for by id, no such letter
  // Letters that cannot be replayed (no fields, fields cut), with why: reported, skipped.
  std::vector<std::pair<int64_t, std::string>> unreplayable;
};

// What `send` did with one letter: the entry id it was re-queued as, or why it cannot be.
struct Sent {
  std::optional<std::string> entry_id;
  std::string why_not;
};

// Replays the letters with the given ids, or every letter not yet replayed when `ids` is
// empty: `send` re-queues one letter; the letter is then marked replayed (replayed_at,
// replayed_as). `send` must be idempotent per letter (dlq replay makes it so in Redis): a
// crash between it and the mark is repaired by the next run. If `send` throws, the letters
// already sent are marked and the exception propagates.
ReplayResult replayDeadLetters(Connection& conn, const std::vector<int64_t>& ids,
                               const std::function<Sent(const DeadLetter&)>& send);

// Deletes letters dead-lettered more than `older_than_seconds` ago; returns how many.
int64_t purgeDeadLetters(Connection& conn, int64_t older_than_seconds);

// How many of `stream`'s entries were dead-lettered in the last `seconds`, by reason code.
std::map<std::string, int64_t> recentDeadLetters(Connection& conn, const std::string& stream,
                                                 int64_t seconds);

} // namespace auditq::pg
