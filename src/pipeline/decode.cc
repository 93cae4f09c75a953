// Entry decoding: field lookup, per-field validation, JSON validation with simdjson, and the
// session/participant projection of the state.
#include "pipeline/decode.h"

#include <array>
#include <charconv>
#include <cstring>
#include <limits>

#include "core/text.h"
#include "pipeline/copy_text.h"
#include "pipeline/timestamp.h"

namespace auditq::pipeline {
namespace {

using core::ReasonCode;

constexpr std::array<std::string_view, 13> kKnownTypes = {
    "session_created",    "session_updated", "session_started",   "cycle_switched",
    "session_paused",     "session_resumed", "session_completed", "session_cancelled",
    "session_expired",    "session_deleted", "participant_added", "participant_removed",
    "participant_expired"};

constexpr std::array<std::string_view, 5> kSyncModes = {"per_participant", "per_cycle", "per_group",
                                                        "global", "count_up"};
constexpr std::array<std::string_view, 6> kStatuses = {"pending", "running",   "paused",
                                                       "expired", "completed", "cancelled"};

template <size_t N>
bool oneOf(const std::array<std::string_view, N>& set, std::string_view v) {
  for (auto s : set) {
    if (s == v) {
      return true;
    }
  }
  return false;
}

bool isTerminal(std::string_view status) {
  return status == "completed" || status == "cancelled" || status == "expired";
}

// Field slots in the order of kFieldNames.
enum Field : int {
  kType,
  kSessionId,
  kTs,
  kVersion,
  kState,
  kParticipantId,
  kGroupId,
  kTimeRemaining,
  kTimeElapsed,
  kCycleNumber,
  kMetadata,
  kFieldCount
};
constexpr std::array<std::string_view, kFieldCount> kFieldNames = {"type",
                                                                   "session_id",
                                                                   "ts",
                                                                   "version",
                                                                   "state",
                                                                   "participant_id",
                                                                   "group_id",
                                                                   "time_remaining_ms",
                                                                   "time_elapsed_ms",
                                                                   "cycle_number",
                                                                   "metadata"};

bool validEventType(std::string_view t) {
  if (t.empty() || t.size() > 50 || t[0] < 'a' || t[0] > 'z') {
    return false;
  }
  for (char c : t) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return true;
}

DecodeError error(ReasonCode reason, Field field, std::string_view detail) {
  return DecodeError{reason, kFieldNames[field], detail};
}

DecodeError stateError(std::string_view detail) {
  return DecodeError{ReasonCode::BadState, "state", detail};
}

// Helpers over the state object. Each returns false (with `detail` set) on a wrong type.
class StateReader {
public:
  explicit StateReader(simdjson::dom::object obj) : obj_(obj) {}

  // Absent or null: nullopt.
  bool optInt(std::string_view key, std::optional<int64_t>& out, int64_t min, int64_t max,
              std::string_view& detail) {
    out.reset();
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) {
      return true;
    }
    int64_t n = 0;
    if (v.get_int64().get(n) != simdjson::SUCCESS || n < min || n > max) {
      detail = key;
      return false;
    }
    out = n;
    return true;
  }

  bool optString(std::string_view key, std::string_view& out, std::string_view& detail) {
    out = {};
    simdjson::dom::element v;
    if (obj_.at_key(key).get(v) != simdjson::SUCCESS || v.is_null()) {
      return true;
    }
    if (v.get_string().get(out) != simdjson::SUCCESS) {
      detail = key;
      return false;
    }
    return true;
  }

  // Appends the timestamp column (or \N).
  bool timestampColumn(std::string_view key, std::string& out, std::string_view& detail) {
    std::string_view text;
    if (!optString(key, text, detail)) {
      return false;
    }
    if (text.empty()) {
      copy::appendNull(out);
      return true;
    }
    int64_t us = 0;
    if (!parseRfc3339(text, us)) {
      detail = key;
      return false;
    }
    appendTimestamp(out, us);
    return true;
  }

  bool intColumn(std::string_view key, std::string& out, std::string_view& detail) {
    std::optional<int64_t> v;
    if (!optInt(key, v, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(),
                detail)) {
      return false;
    }
    copy::appendOptionalInt(out, v);
    return true;
  }

  simdjson::dom::object obj_;
};

constexpr int64_t kInt32Min = std::numeric_limits<int32_t>::min();
constexpr int64_t kInt32Max = std::numeric_limits<int32_t>::max();

} // namespace

bool isKnownEventType(std::string_view type) {
  return oneOf(kKnownTypes, type);
}

Decoder::Decoder(const config::DecodeConfig& decode, const config::ProjectionsConfig& projections)
    : decode_(decode), projections_(projections) {
  // As deep as jsonb takes (simdjson's default stops at 1,024). Without the memory for it,
  // deeper documents fail to parse and are dead-lettered: never a crash.
  if (parser_.allocate(size_t{64} << 10, kMaxJsonDepth + 1) != simdjson::SUCCESS) {
    parser_ = simdjson::dom::parser{};
  }
}

std::optional<DecodeError> Decoder::parseJsonObject(std::string_view field, std::string_view text,
                                                    simdjson::dom::element& out) {
  // What jsonb takes, by its own rules; simdjson then reads the known fields (from a copy
  // without the numbers it cannot hold, when there are any).
  bool exotic = false;
  if (const auto why = jsonb_.check(text, exotic)) {
    return DecodeError{ReasonCode::BadJson, field, *why};
  }
  const std::string_view readable = exotic ? std::string_view(jsonb_.sanitized(text)) : text;
  padded_.assign(readable);
  padded_.resize(readable.size() + simdjson::SIMDJSON_PADDING);
  if (parser_.parse(padded_.data(), readable.size(), false).get(out) != simdjson::SUCCESS) {
    return DecodeError{ReasonCode::BadJson, field, "not valid JSON"};
  }
  if (!out.is_object()) {
    return DecodeError{ReasonCode::BadType, field, "must be a JSON object"};
  }
  return std::nullopt;
}

std::optional<DecodeError> Decoder::decode(std::span<const std::string_view> fields, Event& event,
                                           Projection& projection) {
  event = Event{};
  projection.clear();
  if (fields.size() % 2 != 0) {
    return DecodeError{ReasonCode::MissingField, "", "odd number of field names and values"};
  }
  size_t bytes = 0;
  std::array<std::string_view, kFieldCount> value{};
  std::array<bool, kFieldCount> seen{};
  for (size_t i = 0; i < fields.size(); i += 2) {
    bytes += fields[i].size() + fields[i + 1].size();
    for (int f = 0; f < kFieldCount; ++f) {
      if (fields[i] == kFieldNames[f]) {
        if (seen[f]) {
          return error(ReasonCode::DuplicateField, static_cast<Field>(f), "appears twice");
        }
        seen[f] = true;
        value[f] = fields[i + 1];
        break;
      }
    }
  }
  if (bytes > static_cast<size_t>(decode_.max_entry_bytes)) {
    return DecodeError{ReasonCode::TooLarge, "", "entry exceeds decode.max_entry_bytes"};
  }
  for (Field f : {kType, kSessionId, kTs}) {
    if (value[f].empty()) {
      return error(ReasonCode::MissingField, f, "required");
    }
  }
  if (!validEventType(value[kType])) {
    return error(ReasonCode::BadEventType, kType, "must match [a-z][a-z0-9_]{0,49}");
  }
  event.type = value[kType];
  if (decode_.strict_types && !isKnownEventType(event.type)) {
    return error(ReasonCode::UnknownEventType, kType, "unknown type in strict mode");
  }
  event.is_tombstone = event.type == "session_deleted";
  if (!parseUuid(value[kSessionId], event.session_id)) {
    return error(ReasonCode::BadUuid, kSessionId, "not a UUID");
  }
  event.session_id_text = value[kSessionId];
  for (auto [f, target] :
       {std::pair{kParticipantId, &event.participant_id}, std::pair{kGroupId, &event.group_id}}) {
    if (!value[f].empty()) {
      Uuid id;
      if (!parseUuid(value[f], id)) {
        return error(ReasonCode::BadUuid, f, "not a UUID");
      }
      *target = id;
    }
  }
  if (!parseTimestamp(value[kTs], event.ts_us)) {
    return error(ReasonCode::BadTimestamp, kTs,
                 "not epoch milliseconds or RFC 3339 with an offset (years 1..9999)");
  }
  if (!value[kVersion].empty()) {
    int64_t v = 0;
    if (!core::parseInteger(value[kVersion], v)) {
      return error(ReasonCode::BadType, kVersion, "not an integer");
    }
    if (v < 0) {
      return error(ReasonCode::OutOfRange, kVersion, "must be >= 0");
    }
    event.version = v;
  }
  for (auto [f, target] : {std::pair{kTimeRemaining, &event.time_remaining_ms},
                           std::pair{kTimeElapsed, &event.time_elapsed_ms},
                           std::pair{kCycleNumber, &event.cycle_number}}) {
    if (value[f].empty()) {
      continue;
    }
    int64_t v = 0;
    if (!core::parseInteger(value[f], v)) {
      return error(ReasonCode::BadType, f, "not an integer");
    }
    if (v < kInt32Min || v > kInt32Max) {
      return error(ReasonCode::OutOfRange, f, "outside the 32-bit integer range");
    }
    *target = static_cast<int32_t>(v);
  }
  // metadata first: parsing state afterwards leaves the state's DOM alive for the projection.
  if (!value[kMetadata].empty()) {
    simdjson::dom::element metadata;
    if (auto e = parseJsonObject("metadata", value[kMetadata], metadata)) {
      return e;
    }
    event.metadata = value[kMetadata];
  }
  if (!value[kState].empty()) {
    simdjson::dom::element state;
    if (auto e = parseJsonObject("state", value[kState], state)) {
      return e;
    }
    event.state = value[kState];
    if (auto e = project(state, event, projection)) {
      return e;
    }
  }
  return std::nullopt;
}

std::optional<DecodeError> Decoder::project(const simdjson::dom::element& state_element,
                                            Event& event, Projection& projection) {
  StateReader state(state_element.get_object().value_unsafe());
  std::string_view detail;

  std::string_view state_session;
  if (!state.optString("session_id", state_session, detail)) {
    return stateError("session_id is not a string");
  }
  if (!state_session.empty()) {
    Uuid id;
    if (!parseUuid(state_session, id) || id != event.session_id) {
      return stateError("state.session_id differs from the entry's session_id");
    }
  }
  std::optional<int64_t> state_version;
  if (!state.optInt("version", state_version, 0, std::numeric_limits<int64_t>::max(), detail)) {
    return stateError("state.version is not an integer >= 0");
  }
  if (!event.version) {
    event.version = state_version;
  } else if (state_version && *state_version != *event.version) {
    // Which one would the session row and --recover trust? Neither: a version that freezes a
    // session (9223372036854775807 over a state at 3) must not get in.
    return DecodeError{ReasonCode::VersionMismatch, "version",
                       "differs from the state's own version"};
  }
  if (!projections_.sessions && !projections_.participants) {
    return std::nullopt;
  }

  std::string& cols = projection.session_columns;
  std::string_view sync_mode;
  if (!state.optString("sync_mode", sync_mode, detail) || !oneOf(kSyncModes, sync_mode)) {
    return stateError("sync_mode is missing or not a known mode");
  }
  std::string_view status;
  if (!state.optString("status", status, detail) ||
      (!status.empty() && !oneOf(kStatuses, status))) {
    return stateError("status is not a known status");
  }
  cols.append(sync_mode);
  copy::tab(cols);
  for (std::string_view key : {"time_per_cycle_ms", "increment_ms", "max_time_ms"}) {
    if (!state.intColumn(key, cols, detail)) {
      return stateError("an integer field of the state has the wrong type or range");
    }
    copy::tab(cols);
  }
  // created_at is NOT NULL in sync_sessions: fall back to the event time.
  std::string_view created;
  if (!state.optString("created_at", created, detail)) {
    return stateError("created_at is not a string");
  }
  if (created.empty()) {
    appendTimestamp(cols, event.ts_us);
  } else if (!state.timestampColumn("created_at", cols, detail)) {
    return stateError("created_at is not an RFC 3339 time");
  }
  copy::tab(cols);
  for (std::string_view key : {"session_started_at", "session_completed_at"}) {
    if (!state.timestampColumn(key, cols, detail)) {
      return stateError("a time field of the state is not an RFC 3339 time");
    }
    copy::tab(cols);
  }
  if (!status.empty() && isTerminal(status)) {
    cols.append(status);
  } else {
    copy::appendNull(cols);
  }
  copy::tab(cols);

  simdjson::dom::array participants;
  simdjson::dom::element participants_element;
  const bool has_participants =
      state.obj_.at_key("participants").get(participants_element) == simdjson::SUCCESS &&
      !participants_element.is_null();
  if (has_participants && participants_element.get_array().get(participants) != simdjson::SUCCESS) {
    return stateError("participants is not an array");
  }
  int64_t total_cycles = 0;
  int64_t total_participants = 0;
  seen_participants_.reset(0);
  if (has_participants) {
    for (simdjson::dom::element p : participants) {
      simdjson::dom::object po;
      if (p.get_object().get(po) != simdjson::SUCCESS) {
        return stateError("a participant is not an object");
      }
      StateReader pr(po);
      std::string_view pid_text;
      Uuid pid;
      if (!pr.optString("participant_id", pid_text, detail) || !parseUuid(pid_text, pid)) {
        return stateError("a participant's participant_id is missing or not a UUID");
      }
      // Twice in one state would make the participant upsert touch a row twice (SQLSTATE 21000).
      // A hash set: a state with 12,000 participants must not cost 72 million comparisons.
      bool inserted = false;
      seen_participants_.findOrInsert(pid, 0, inserted);
      if (!inserted) {
        return stateError("a participant appears twice");
      }
      std::optional<int64_t> total_time, cycle_count, time_used;
      if (!pr.optInt("total_time_ms", total_time, kInt32Min, kInt32Max, detail) ||
          !pr.optInt("cycle_count", cycle_count, 0, kInt32Max, detail) ||
          !pr.optInt("time_used_ms", time_used, kInt32Min, kInt32Max, detail)) {
        return stateError("a participant's integer field has the wrong type or range");
      }
      std::string_view group_text;
      Uuid group;
      if (!pr.optString("group_id", group_text, detail) ||
          (!group_text.empty() && !parseUuid(group_text, group))) {
        return stateError("a participant's group_id is not a UUID");
      }
      bool active = false;
      simdjson::dom::element active_element;
      if (po.at_key("is_active").get(active_element) == simdjson::SUCCESS &&
          !active_element.is_null() && active_element.get_bool().get(active) != simdjson::SUCCESS) {
        return stateError("a participant's is_active is not a boolean");
      }
      total_cycles += cycle_count.value_or(0);
      ++total_participants;
      if (!projections_.participants) {
        continue;
      }
      if (!total_time) {
        return stateError("a participant has no total_time_ms");
      }
      std::string& rows = projection.participant_rows;
      appendUuid(rows, event.session_id);
      copy::tab(rows);
      appendUuid(rows, pid);
      copy::tab(rows);
      copy::appendInt(rows, *total_time);
      copy::tab(rows);
      if (group_text.empty()) {
        copy::appendNull(rows);
      } else {
        appendUuid(rows, group);
      }
      copy::tab(rows);
      copy::appendInt(rows, cycle_count.value_or(0));
      copy::tab(rows);
      copy::appendInt(rows, time_used.value_or(0));
      copy::tab(rows);
      appendTimestamp(rows, event.ts_us); // added_at (kept from the first insert)
      copy::tab(rows);
      for (int i = 0; i < 2; ++i) { // first_active_at, last_active_at
        if (active) {
          appendTimestamp(rows, event.ts_us);
        } else {
          copy::appendNull(rows);
        }
        copy::tab(rows);
      }
      copy::appendOptionalInt(rows, event.version);
      copy::endRow(rows);
    }
  }
  if (total_cycles > kInt32Max) {
    return stateError("the participants' cycle counts overflow total_cycles");
  }
  copy::appendInt(cols, total_cycles);
  copy::tab(cols);
  copy::appendInt(cols, total_participants);
  copy::tab(cols);
  if (!state.timestampColumn("updated_at", cols, detail)) {
    return stateError("updated_at is not an RFC 3339 time");
  }
  copy::tab(cols);
  if (status.empty()) {
    copy::appendNull(cols);
  } else {
    cols.append(status);
  }
  projection.present = true;
  return std::nullopt;
}

} // namespace auditq::pipeline
