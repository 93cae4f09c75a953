// auditq verify's decisions, without I/O: given every batch record of the digest chains (as
// stored in auditq_batches) and what the rows in sync_events hash to now, which batch is the
// first one whose rows or record were changed, deleted or added outside auditq.
//
// The rules: in each chain (one per writer) seq goes up by one; each record's digest is
// SHA-256(previous digest || rows digest) and names the previous record's digest; the rows that
// carry a batch's id hash to its rows digest, and are as many. The oldest record kept of a
// chain starts it (retention removed what came before). A batch whose entries start before the
// oldest partition kept lost rows to retention: its rows are not compared.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace auditq::pipeline {

struct BatchRecord {
  int64_t id = 0;
  std::string chain;
  int64_t seq = 0;
  int64_t first_ms = 0;
  int64_t row_count = 0;
  std::string rows_digest; // hex
  std::string prev_digest; // hex; empty for the chain's first batch
  std::string digest;      // hex
  std::string committed_at;
  // What the rows that carry this batch's id hash to now.
  int64_t rows_now = 0;
  std::string rows_digest_now; // hex; empty when no row carries the id
};

struct ChainFinding {
  int64_t batch_id = 0;
  std::string chain;
  int64_t seq = 0;
  std::string committed_at;
  std::string problem; // what was found, for the operator
};

struct ChainReport {
  int64_t batches = 0;
  int64_t rows = 0;
  int64_t chains = 0;
  std::vector<ChainFinding> findings; // in the order of the records given
};

// `records` sorted by (chain, seq); each chain's first record given is taken as its start
// (retention or --since left out what came before). `kept_from_ms`: the start of the oldest
// partition kept (batches starting earlier lost rows to retention).
ChainReport checkChains(const std::vector<BatchRecord>& records, int64_t kept_from_ms);

// SHA-256(bytes(prev_hex) || bytes(rows_hex)) in hex: how a record's digest is chained.
std::string chainDigest(const std::string& prev_hex, const std::string& rows_hex);

} // namespace auditq::pipeline
