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

// Undoes copy::appendEscaped (\\ \n \r \t).
void unescape(std::string_view in, std::string& out) {
  out.clear();
  for (size_t i = 0; i < in.size(); ++i) {
    const size_t bs = in.find('\\', i);
    if (bs == std::string_view::npos) {
      out.append(in, i);
      return;
    }
    out.append(in, i, bs - i);
    const char e = in[bs + 1];
    out.push_back(e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : e);
    i = bs + 1;
  }
}

} // namespace

void RowDigester::digestBatch(const Batch& batch, std::vector<RowDigest>& out) {
  out.clear();
  const std::string_view rows = batch.eventRows();
  for (const auto& d : batch.digestInputs()) {
    Event e = d.event;
    e.type = rows.substr(d.type_at, d.type_len);
    if (d.state_len > 0) {
      unescape(rows.substr(d.state_at, d.state_len), state_);
      e.state = state_;
    }
    if (d.meta_len > 0) {
      unescape(rows.substr(d.meta_at, d.meta_len), meta_);
      e.metadata = meta_;
    }
    RowDigest r{d.stream, d.ms, d.seq, {}};
    unsigned char sha[32];
    digest(batch.digestStream(d.stream), d.ms, d.seq, rows.substr(d.id_at, d.id_len), d.row_id, e,
           sha);
    std::copy(std::begin(sha), std::end(sha), r.sha.begin());
    out.push_back(r);
  }
}

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
