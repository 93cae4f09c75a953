// Reading the audit store for `auditq verify` and `auditq tail`: the digest records with what
// their rows hash to now, rows no batch accounts for, and the rows a NOTIFY announced.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "pg/connection.h"
#include "pipeline/audit_chain.h"

namespace auditq::pg {

struct VerifyInput {
  std::vector<pipeline::BatchRecord> records; // sorted by (chain, seq)
  int64_t kept_from_ms = 0;                   // start of the oldest sync_events partition kept
  int64_t unaccounted_rows = 0;    // rows with no batch record (outside the legacy partition)
  std::string unaccounted_example; // "stream entry_id" of one of them
};

// Batches committed at or after `since` (an SQL timestamptz literal; empty: all), those holding
// `stream` when given. Rows are hashed by the server (pg/row_digest.h), in one pass.
VerifyInput readVerifyInput(Connection& conn, const std::optional<std::string>& stream,
                            const std::string& since);

// A committed batch as its NOTIFY payload names it.
struct Announced {
  std::string stream;
  std::string first; // entry ids
  std::string last;
};

// The rows of an announced batch (optionally one session's), oldest first: as text columns
// (stream, entry_id, timestamp, session_id, event_type, version) or one JSON object each.
void forEachAnnouncedRow(Connection& conn, const Announced& a,
                         const std::optional<std::string>& session_id, bool json,
                         const std::function<void(const std::vector<std::string>&)>& visit);

} // namespace auditq::pg
