// libFuzzer target: one stream entry through intake (delivery count, decoding, the jsonb
// check, projections) into a batch, sealed and rendered as COPY rows; and its fields through
// the dead letters' JSON and back. Input: fields separated by '\x1f' (a unit separator); the
// first byte, when present, sets the delivery count.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "pipeline/batch.h"
#include "pipeline/intake.h"

namespace {

struct State {
  auditq::config::BatchConfig batch;
  auditq::config::DecodeConfig decode;
  auditq::config::ProjectionsConfig projections;
  auditq::config::DeadLetterConfig dead_letter;
  auditq::pipeline::Intake intake{decode, projections, dead_letter};
  auditq::pipeline::Batch entries{batch, projections, 256};
  std::vector<std::string> back;
};

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static State s;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  int64_t deliveries = 1;
  if (!input.empty()) {
    deliveries = static_cast<uint8_t>(input[0]) % 8;
    input.remove_prefix(1);
  }
  std::vector<std::string_view> fields;
  for (size_t start = 0; start <= input.size();) {
    const size_t end = std::min(input.find('\x1f', start), input.size());
    fields.push_back(input.substr(start, end - start));
    start = end + 1;
  }
  s.entries.clear();
  s.intake.add(s.entries,
               auditq::pipeline::RawEntry{"fuzz", "1714557601000-0", fields, deliveries});
  s.entries.seal();
  // Every entry ends in exactly one place.
  if (s.entries.events() + s.entries.deadLetters() != 1) {
    std::abort();
  }
  // The dead letters' JSON of fields no longer than the cut gives the same bytes back.
  bool short_fields = fields.size() <= 16;
  for (auto f : fields) {
    short_fields = short_fields && f.size() <= 256;
  }
  std::string json;
  auditq::pipeline::appendFieldsJson(json, fields, 256);
  if (short_fields) {
    if (!auditq::pipeline::parseFieldsJson(json, s.back) || s.back.size() != fields.size()) {
      std::abort();
    }
    for (size_t i = 0; i < fields.size(); ++i) {
      if (s.back[i] != fields[i]) {
        std::abort();
      }
    }
  }
  return 0;
}
