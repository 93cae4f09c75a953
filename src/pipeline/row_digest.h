// The SHA-256 of one sync_events row's canonical text, computed by the writer from the values it
// writes, equal to what pg/row_digest.h's SQL computes from the stored row (so `auditq verify`
// can recompute it): every column but batch_id, in a fixed order, separated by 0x1f, NULL as \N,
// the time as microseconds since the epoch, jsonb as PostgreSQL prints it (JsonbText).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include <array>
#include <vector>

#include "pipeline/batch.h"
#include "pipeline/decode.h"
#include "pipeline/jsonb_text.h"
#include "pipeline/sha256.h"
#include "pipeline/uuid.h"

namespace auditq::pipeline {

class RowDigester {
public:
  struct RowDigest {
    uint32_t stream; // Batch::digestStream index
    int64_t ms;
    int64_t seq;
    std::array<unsigned char, 32> sha;
  };
  // Every event row's digest of `batch` (built with row_digests), in the order added.
  void digestBatch(const Batch& batch, std::vector<RowDigest>& out);

  void digest(std::string_view stream, int64_t entry_ms, int64_t entry_seq,
              std::string_view entry_id, const Uuid& id, const Event& event,
              unsigned char (&out)[32]);
  // The canonical text the last digest() hashed (for tests).
  const std::string& canonical() const { return canon_; }

private:
  JsonbText jsonb_;
  std::string canon_;
  std::string state_; // a column's JSON, COPY escapes undone
  std::string meta_;
  Sha256 sha_;
};

} // namespace auditq::pipeline
