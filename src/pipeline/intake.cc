// Entry intake: the delivery-count rule, then decoding.
#include "pipeline/intake.h"

#include <fmt/format.h>

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
  if (auto error = decoder_.decode(entry.fields, event_, projection_)) {
    batch.addDeadLetter(entry, *error);
    return false;
  }
  batch.addEvent(entry, event_, projection_);
  return true;
}

} // namespace auditq::pipeline
