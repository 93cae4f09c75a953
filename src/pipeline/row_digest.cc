// A row's canonical text and its SHA-256 (see row_digest.h and pg/row_digest.h).
#include "pipeline/row_digest.h"

#include "pipeline/copy_text.h"

namespace auditq::pipeline {
namespace {

constexpr char kSep = '\x1f';
constexpr std::string_view kNull = "\\N";

void optionalUuid(std::string& out, const std::optional<Uuid>& v) {
  if (v) {
    appendUuid(out, *v);
  } else {
    out.append(kNull);
  }
}

} // namespace

void RowDigester::digest(std::string_view stream, int64_t entry_ms, int64_t entry_seq,
                         std::string_view entry_id, const Uuid& id, const Event& e,
                         unsigned char (&out)[32]) {
  std::string& c = canon_;
  c.clear();
  c.append(stream);
  c.push_back(kSep);
  copy::appendInt(c, entry_ms);
  c.push_back(kSep);
  copy::appendInt(c, entry_seq);
  c.push_back(kSep);
  c.append(entry_id);
  c.push_back(kSep);
  appendUuid(c, id);
  c.push_back(kSep);
  appendUuid(c, e.session_id);
  c.push_back(kSep);
  c.append(e.type);
  c.push_back(kSep);
  optionalUuid(c, e.participant_id);
  c.push_back(kSep);
  optionalUuid(c, e.group_id);
  c.push_back(kSep);
  copy::appendOptionalInt(c, e.time_remaining_ms);
  c.push_back(kSep);
  copy::appendOptionalInt(c, e.time_elapsed_ms);
  c.push_back(kSep);
  copy::appendOptionalInt(c, e.cycle_number);
  c.push_back(kSep);
  copy::appendInt(c, e.ts_us);
  c.push_back(kSep);
  if (e.state.empty()) {
    c.append(kNull);
  } else {
    jsonb_.render(e.state, c);
  }
  c.push_back(kSep);
  if (e.metadata.empty()) {
    c.append("{}"); // the column's value when the entry has none (pipeline/batch.cc)
  } else {
    jsonb_.render(e.metadata, c);
  }
  c.push_back(kSep);
  copy::appendOptionalInt(c, e.version);
  sha_.update(c);
  sha_.finish(out);
}

} // namespace auditq::pipeline
