// Decoding and validating one stream entry against the entry contract (DESIGN.md), and
// extracting from its `state` the session and participant rows the projections need.
// Pure; no allocation per entry once the decoder's buffers have grown to the largest entry.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <simdjson.h>

#include "config/config.h"
#include "core/reason_code.h"
#include "pipeline/jsonb_check.h"
#include "pipeline/session_index.h"
#include "pipeline/uuid.h"

namespace auditq::pipeline {

// A valid entry. Views point into the caller's field storage and live as long as it does.
struct Event {
  std::string_view type;
  std::string_view session_id_text;
  Uuid session_id;
  std::optional<Uuid> participant_id;
  std::optional<Uuid> group_id;
  int64_t ts_us = 0;
  std::optional<int64_t> version; // the `version` field, else the state's own "version"
  std::optional<int32_t> time_remaining_ms;
  std::optional<int32_t> time_elapsed_ms;
  std::optional<int32_t> cycle_number;
  std::string_view state;    // JSON object text as received; empty when absent
  std::string_view metadata; // JSON object text as received; empty when absent
  bool is_tombstone = false; // type == session_deleted
};

// What the `state` contributes to sync_sessions and sync_participants, pre-rendered as COPY
// text so that the batch only copies bytes. Buffers are reused from entry to entry.
struct Projection {
  bool present = false; // the state fed the projections (at least one is switched on)
  // sync_sessions columns from the state, tab-separated: sync_mode, time_per_cycle_ms,
  // increment_ms, max_time_ms, created_at, started_at, completed_at, final_status,
  // total_cycles, total_participants, last_updated_at, status (see pg/batch_writer.cc).
  std::string session_columns;
  // Whole COPY lines for auditq's participant staging table.
  std::string participant_rows;
  void clear() {
    present = false;
    session_columns.clear();
    participant_rows.clear();
  }
};

struct DecodeError {
  core::ReasonCode reason;
  std::string_view field; // the offending field, empty when none applies
  std::string_view detail;
};

class Decoder {
public:
  Decoder(const config::DecodeConfig& decode, const config::ProjectionsConfig& projections);

  // `fields` holds name, value, name, value, ... as Redis returned them. On success fills
  // `event` (and `projection` when the state feeds a projection) and returns nullopt.
  std::optional<DecodeError> decode(std::span<const std::string_view> fields, Event& event,
                                    Projection& projection);

private:
  std::optional<DecodeError> parseJsonObject(std::string_view field, std::string_view text,
                                             simdjson::dom::element& out);
  std::optional<DecodeError> project(const simdjson::dom::element& state, Event& event,
                                     Projection& projection);

  const config::DecodeConfig& decode_;
  const config::ProjectionsConfig& projections_;
  simdjson::dom::parser parser_;
  JsonbCheck jsonb_;
  std::string padded_;             // the JSON being parsed, with simdjson's padding after it
  SessionIndex seen_participants_; // participant ids of the state being decoded
};

// True for the known event types of DESIGN.md.
bool isKnownEventType(std::string_view type);

} // namespace auditq::pipeline
