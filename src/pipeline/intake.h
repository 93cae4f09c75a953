// What happens to one delivered entry: dead-lettered as max_deliveries when Redis has delivered
// it too often, else decoded into the batch as an event or dead-lettered with its decode error
// (or as bad_timestamp when its `ts` lies more than 24 h after its id's time).
// The daemon's reader and the writers' isolate-by-splitting path share it, so an entry gets the
// same verdict wherever it is (re)decoded.
#pragma once

#include <string>

#include "config/config.h"
#include "pipeline/batch.h"
#include "pipeline/decode.h"
#include "pipeline/raw_entries.h"

namespace auditq::pipeline {

class Intake {
public:
  // How far an entry's `ts` may lie after its id's time (clock skew between producer hosts).
  static constexpr int64_t kMaxFutureMicros = int64_t{24} * 3600 * 1'000'000;
  // Ids from 2001-09-09 on carry the clock time Redis gave them.
  static constexpr uint64_t kClockIdMs = 1'000'000'000'000;

  Intake(const config::DecodeConfig& decode, const config::ProjectionsConfig& projections,
         const config::DeadLetterConfig& dead_letter)
      : decoder_(decode, projections), max_deliveries_(dead_letter.max_deliveries) {}

  // Adds `entry` to `batch` (precondition: !batch.full()). Returns true for an event.
  bool add(Batch& batch, const RawEntry& entry);

private:
  Decoder decoder_;
  Event event_;
  Projection projection_;
  int64_t max_deliveries_;
  std::string detail_;
};

} // namespace auditq::pipeline
