// The closed list of reasons an entry is dead-lettered for. Stored as text in
// auditq_dead_letters.reason and used as a metrics label, so names never change once released.
#pragma once

#include <array>
#include <optional>
#include <string_view>

namespace auditq::core {

enum class ReasonCode {
  MissingField,       // a required field (type, session_id, ts) is absent or empty
  DuplicateField,     // the same field name appears twice in one entry
  BadEventType,       // `type` does not match [a-z][a-z0-9_]{0,49}
  UnknownEventType,   // well-formed but unknown `type` while decode.strict_types is on
  BadUuid,            // session_id, participant_id or group_id is not a UUID
  BadTimestamp,       // `ts` is neither epoch milliseconds nor RFC 3339 with an offset
  BadType,            // a field has the wrong type: not an integer, JSON that is not an object
  OutOfRange,         // an integer outside its column's range, or a negative version
  BadJson,            // `state` or `metadata` is not valid JSON (or not valid UTF-8)
  BadState,           // `state` lacks what the session projection needs, or names another session
  TooLarge,           // the entry exceeds decode.max_entry_bytes
  RejectedByDatabase, // PostgreSQL refused the row (SQLSTATE class 22 or 23)
  MaxDeliveries,      // delivered more than dead_letter.max_deliveries times without success
  VersionMismatch,    // the `version` field and the state's own version disagree
};

inline constexpr std::array kAllReasonCodes = {
    ReasonCode::MissingField,     ReasonCode::DuplicateField,  ReasonCode::BadEventType,
    ReasonCode::UnknownEventType, ReasonCode::BadUuid,         ReasonCode::BadTimestamp,
    ReasonCode::BadType,          ReasonCode::OutOfRange,      ReasonCode::BadJson,
    ReasonCode::BadState,         ReasonCode::TooLarge,        ReasonCode::RejectedByDatabase,
    ReasonCode::MaxDeliveries,    ReasonCode::VersionMismatch,
};

// The stable snake_case name, e.g. "bad_uuid".
std::string_view reasonName(ReasonCode code);
std::optional<ReasonCode> reasonFromName(std::string_view name);

} // namespace auditq::core
