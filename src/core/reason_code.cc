// Names of dead-letter reason codes.
#include "core/reason_code.h"

#include <cstdlib>

namespace auditq::core {

std::string_view reasonName(ReasonCode code) {
  switch (code) {
  case ReasonCode::MissingField:
    return "missing_field";
  case ReasonCode::DuplicateField:
    return "duplicate_field";
  case ReasonCode::BadEventType:
    return "bad_event_type";
  case ReasonCode::UnknownEventType:
    return "unknown_event_type";
  case ReasonCode::BadUuid:
    return "bad_uuid";
  case ReasonCode::BadTimestamp:
    return "bad_timestamp";
  case ReasonCode::BadType:
    return "bad_type";
  case ReasonCode::OutOfRange:
    return "out_of_range";
  case ReasonCode::BadJson:
    return "bad_json";
  case ReasonCode::BadState:
    return "bad_state";
  case ReasonCode::TooLarge:
    return "too_large";
  case ReasonCode::RejectedByDatabase:
    return "rejected_by_database";
  case ReasonCode::MaxDeliveries:
    return "max_deliveries";
  case ReasonCode::VersionMismatch:
    return "version_mismatch";
  }
  std::abort(); // unreachable: the switch covers the closed enum
}

std::optional<ReasonCode> reasonFromName(std::string_view name) {
  for (ReasonCode code : kAllReasonCodes) {
    if (reasonName(code) == name) {
      return code;
    }
  }
  return std::nullopt;
}

} // namespace auditq::core
