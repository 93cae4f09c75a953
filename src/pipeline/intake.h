// What happens to one delivered entry: dead-lettered as max_deliveries when Redis has delivered
// it too often, else decoded into the batch as an event or dead-lettered with its decode error.
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
