// Entry intake: the delivery-count rule, then decoding.
#include "pipeline/intake.h"

#include <fmt/format.h>

#include "core/entry_id.h"

namespace auditq::pipeline {

bool Intake::add(Batch& batch, const RawEntry& entry) {
  if (entry.capped) {
    // Only a too_large entry's copy is ever cut; its fields are not all there to decode.
    batch.addDeadLetter(entry, DecodeError{core::ReasonCode::TooLarge, "", "kept cut"});
    return false;
  }
  if (entry.deliveries > max_deliveries_) {
    // Checked before decoding: an entry that crashes auditq while being decoded or written
    // must stop coming back, whatever it holds.
    detail_ = fmt::format("delivered {} times (dead_letter.max_deliveries is {})", entry.deliveries,
                          max_deliveries_);
    batch.addDeadLetter(entry, DecodeError{core::ReasonCode::MaxDeliveries, "", detail_});
    return false;
  }
  // sync_events keeps the id as two bigints (its partition key and unique key): an explicit id
  // beyond them (XADD with a time past the year 292 million) can only be a dead letter.
  if (const auto id = core::EntryId::parse(entry.id);
      id &&
      (id->ms > static_cast<uint64_t>(INT64_MAX) || id->seq > static_cast<uint64_t>(INT64_MAX))) {
    batch.addDeadLetter(entry, DecodeError{core::ReasonCode::OutOfRange, "id",
                                           "entry id beyond 9223372036854775807"});
    return false;
  }
  if (auto error = decoder_.decode(entry.fields, event_, projection_)) {
    batch.addDeadLetter(entry, *error);
    return false;
  }
  // An event time far after the entry's own XADD time (its id) is a producer's clock gone
  // wrong: as a session's last event it would keep --recover restoring that session forever.
  // (Only ids that carry a clock time: an explicit small id such as 1-0 says nothing.)
  // (An id so far ahead that its time in microseconds overflows is after any ts.)
  constexpr auto kLastComparableMs = static_cast<uint64_t>((INT64_MAX - kMaxFutureMicros) / 1000);
  if (const auto id = core::EntryId::parse(entry.id);
      id && id->ms >= kClockIdMs && id->ms <= kLastComparableMs &&
      event_.ts_us > static_cast<int64_t>(id->ms) * 1000 + kMaxFutureMicros) {
    batch.addDeadLetter(entry, DecodeError{core::ReasonCode::BadTimestamp, "ts",
                                           "more than 24 h after the entry was added (its id)"});
    return false;
  }
  batch.addEvent(entry, event_, projection_);
  return true;
}

} // namespace auditq::pipeline
