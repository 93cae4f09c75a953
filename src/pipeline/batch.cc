// Batch assembly: COPY rows for events and dead letters, newest-state collapse per session.
#include "pipeline/batch.h"

#include <simdjson.h>

#include "core/entry_id.h"
#include "core/json_text.h"
#include "pipeline/copy_text.h"
#include "pipeline/sha256.h"
#include "pipeline/timestamp.h"

namespace auditq::pipeline {
namespace {

using core::appendJsonString;

void appendBase64(std::string& out, std::string_view s) {
  static constexpr char kTable[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= s.size(); i += 3) {
    const uint32_t n = (static_cast<uint8_t>(s[i]) << 16) | (static_cast<uint8_t>(s[i + 1]) << 8) |
                       static_cast<uint8_t>(s[i + 2]);
    out.push_back(kTable[n >> 18]);
    out.push_back(kTable[(n >> 12) & 63]);
    out.push_back(kTable[(n >> 6) & 63]);
    out.push_back(kTable[n & 63]);
  }
  if (i < s.size()) {
    uint32_t n = static_cast<uint8_t>(s[i]) << 16;
    if (i + 1 < s.size()) {
      n |= static_cast<uint8_t>(s[i + 1]) << 8;
    }
    out.push_back(kTable[n >> 18]);
    out.push_back(kTable[(n >> 12) & 63]);
    out.push_back(i + 1 < s.size() ? kTable[(n >> 6) & 63] : '=');
    out.push_back('=');
  }
}

// One name or value: a JSON string when it is UTF-8 without NUL, else {"base64": ...}.
void appendFieldValue(std::string& out, std::string_view v) {
  if (simdjson::validate_utf8(v.data(), v.size()) && v.find('\0') == std::string_view::npos) {
    appendJsonString(out, v);
  } else {
    out.append("{\"base64\":\"");
    appendBase64(out, v);
    out.append("\"}");
  }
}

// The longest prefix of `v` of at most `max` bytes that does not end inside a UTF-8 sequence.
std::string_view utf8Prefix(std::string_view v, size_t max) {
  const auto continuation = [&](size_t i) { return (static_cast<uint8_t>(v[i]) & 0xC0) == 0x80; };
  size_t n = std::min(max, v.size());
  if (n < v.size()) {
    // v[n] is the first byte cut off: if it continues a character, cut before that character
    // (a UTF-8 character has at most three continuation bytes; more is not UTF-8 anyway, and
    // the prefix then goes as base64).
    size_t start = n;
    while (start > 0 && n - start < 3 && continuation(start)) {
      --start;
    }
    if (!continuation(start)) {
      n = start;
    }
  }
  return v.substr(0, n);
}

// A name or value of at most `budget` bytes as it is; a longer one as
// {"cut":{"text"|"base64":<its first budget bytes>},"length":N,"sha256_of_rest":<hex>}, so a
// dead letter can always be stored and the cut part still identified.
void appendCappedValue(std::string& out, std::string_view v, size_t budget, Sha256& sha) {
  if (v.size() <= budget) {
    appendFieldValue(out, v);
    return;
  }
  const std::string_view kept = utf8Prefix(v, budget);
  out.append("{\"cut\":");
  appendFieldValue(out, kept);
  out.append(",\"length\":");
  out.append(std::to_string(v.size()));
  sha.update(v.substr(kept.size()));
  out.append(",\"sha256_of_rest\":\"");
  out.append(sha.hex());
  out.append("\"}");
}

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') {
    return c - 'A';
  }
  if (c >= 'a' && c <= 'z') {
    return c - 'a' + 26;
  }
  if (c >= '0' && c <= '9') {
    return c - '0' + 52;
  }
  if (c == '+') {
    return 62;
  }
  if (c == '/') {
    return 63;
  }
  return -1;
}

bool decodeBase64(std::string_view in, std::string& out) {
  if (in.size() % 4 != 0) {
    return false;
  }
  out.clear();
  for (size_t i = 0; i < in.size(); i += 4) {
    int v[4];
    int pad = 0;
    for (int k = 0; k < 4; ++k) {
      const char c = in[i + k];
      if (c == '=' && i + 4 == in.size() && k >= 2) {
        v[k] = 0;
        ++pad;
      } else if (pad > 0 || (v[k] = base64Value(c)) < 0) {
        return false;
      }
    }
    const uint32_t n = (v[0] << 18) | (v[1] << 12) | (v[2] << 6) | v[3];
    out.push_back(static_cast<char>(n >> 16));
    if (pad < 2) {
      out.push_back(static_cast<char>((n >> 8) & 0xff));
    }
    if (pad < 1) {
      out.push_back(static_cast<char>(n & 0xff));
    }
  }
  return true;
}

bool fieldValue(simdjson::dom::element e, std::string& out) {
  std::string_view text;
  if (e.get_string().get(text) == simdjson::SUCCESS) {
    out.assign(text);
    return true;
  }
  simdjson::dom::object obj;
  if (e.get_object().get(obj) != simdjson::SUCCESS ||
      obj["base64"].get_string().get(text) != simdjson::SUCCESS) {
    return false;
  }
  return decodeBase64(text, out);
}

} // namespace

bool parseFieldsJson(std::string_view json, std::vector<std::string>& out) {
  out.clear();
  simdjson::dom::parser parser;
  simdjson::dom::element root;
  if (parser.parse(json.data(), json.size()).get(root) != simdjson::SUCCESS) {
    return false;
  }
  simdjson::dom::array pairs;
  if (root.get_array().get(pairs) != simdjson::SUCCESS) {
    return false;
  }
  for (simdjson::dom::element pair : pairs) {
    simdjson::dom::array items;
    if (pair.get_array().get(items) != simdjson::SUCCESS || items.size() < 1 || items.size() > 2) {
      return false;
    }
    for (simdjson::dom::element item : items) {
      out.emplace_back();
      if (!fieldValue(item, out.back())) {
        return false;
      }
    }
  }
  return true;
}

void appendFieldsJson(std::string& out, std::span<const std::string_view> fields,
                      size_t max_field_bytes) {
  // Each name and value keeps at most max_field_bytes; the whole at most 16 times that: past
  // it, the remaining fields are summed up in a last element.
  const size_t total_budget = max_field_bytes * 16;
  size_t used = 0;
  Sha256 sha;
  out.push_back('[');
  for (size_t i = 0; i < fields.size(); i += 2) {
    const bool pair = i + 1 < fields.size();
    const size_t need = std::min(fields[i].size(), max_field_bytes) +
                        (pair ? std::min(fields[i + 1].size(), max_field_bytes) : 0);
    if (max_field_bytes == 0 || (used + need > total_budget && i > 0)) {
      size_t omitted_bytes = 0;
      for (size_t k = i; k < fields.size(); ++k) {
        sha.update(fields[k]);
        omitted_bytes += fields[k].size();
      }
      out.append(i > 0 ? ",{\"omitted_fields\":" : "{\"omitted_fields\":");
      out.append(std::to_string(fields.size() - i));
      out.append(",\"bytes\":");
      out.append(std::to_string(omitted_bytes));
      out.append(",\"sha256\":\"");
      out.append(sha.hex());
      out.append("\"}");
      break;
    }
    used += need;
    if (i > 0) {
      out.push_back(',');
    }
    out.push_back('[');
    appendCappedValue(out, fields[i], max_field_bytes, sha);
    if (pair) { // a dangling name without value is kept alone
      out.push_back(',');
      appendCappedValue(out, fields[i + 1], max_field_bytes, sha);
    }
    out.push_back(']');
  }
  out.push_back(']');
}

bool Batch::standsAbove(std::optional<int64_t> version, std::string_view stream,
                        std::string_view entry_id, const SessionSlot& current) {
  // Version (none below every version), then entry id numerically, then stream.
  const int64_t v = version.value_or(-1);
  const int64_t cv = current.version.value_or(-1);
  if (v != cv) {
    return v > cv;
  }
  const auto id = core::EntryId::parse(entry_id);
  const auto cid = core::EntryId::parse(current.entry_id);
  if (id && cid && *id != *cid) {
    return *id > *cid;
  }
  return stream > std::string_view(current.stream);
}

Batch::Batch(const config::BatchConfig& batch, const config::ProjectionsConfig& projections,
             int64_t max_field_bytes, bool row_digests)
    : max_entries_(batch.max_entries), max_bytes_(batch.max_bytes),
      max_field_bytes_(static_cast<size_t>(max_field_bytes)), projections_(projections),
      row_digests_on_(row_digests), rng_(std::random_device{}()) {
  index_.reset(static_cast<size_t>(max_entries_));
}

void Batch::setLimits(int64_t max_entries, int64_t max_bytes) {
  max_entries_ = max_entries;
  max_bytes_ = max_bytes;
  clear();
}

void Batch::markRejected(size_t i) {
  if (reasons_[i] < 0) {
    reasons_[i] = static_cast<int8_t>(core::ReasonCode::RejectedByDatabase);
    ++rejected_;
  }
}

void Batch::clear() {
  entries_ = events_ = dead_letters_ = rejected_ = 0;
  min_ms_ = INT64_MAX;
  max_ms_ = 0;
  digest_inputs_.clear();
  raw_.clear();
  reasons_.clear();
  dl_spans_.clear();
  event_rows_.clear();
  dead_letter_rows_.clear();
  tombstone_rows_.clear();
  session_rows_.clear();
  participant_rows_.clear();
  for (size_t i = 0; i < active_streams_; ++i) {
    streams_[i].clear();
  }
  active_streams_ = 0;
  index_.reset(static_cast<size_t>(max_entries_));
  used_slots_ = 0;
  projection_bytes_ = 0;
}

StreamIds& Batch::idsFor(std::string_view stream) {
  for (size_t i = 0; i < active_streams_; ++i) {
    if (streams_[i].stream() == stream) {
      return streams_[i];
    }
  }
  // Reuse an inactive entry for the same stream if there is one (keeps its capacity).
  for (size_t i = active_streams_; i < streams_.size(); ++i) {
    if (streams_[i].stream() == stream) {
      std::swap(streams_[i], streams_[active_streams_]);
      return streams_[active_streams_++];
    }
  }
  streams_.emplace_back(stream);
  std::swap(streams_.back(), streams_[active_streams_]);
  return streams_[active_streams_++];
}

void Batch::addEvent(const RawEntry& raw, const Event& event, const Projection& projection) {
  const std::string_view stream = raw.stream;
  const std::string_view entry_id = raw.id;
  raw_.add(raw.stream, raw.id, raw.fields, raw.deliveries);
  reasons_.push_back(-1);
  dl_spans_.emplace_back(0, 0);
  std::string& r = event_rows_;
  Uuid row_id{rng_(), rng_()}; // a random (version 4) UUID, as gen_random_uuid() made before
  row_id.hi = (row_id.hi & ~0xF000ULL) | 0x4000ULL;
  row_id.lo = (row_id.lo & 0x3FFFFFFFFFFFFFFFULL) | 0x8000000000000000ULL;
  appendUuid(r, row_id);
  copy::tab(r);
  r.append(event.session_id_text);
  copy::tab(r);
  DigestInput d;
  d.type_at = static_cast<uint32_t>(r.size());
  r.append(event.type);
  d.type_len = static_cast<uint32_t>(event.type.size());
  copy::tab(r);
  if (event.participant_id) {
    appendUuid(r, *event.participant_id);
  } else {
    copy::appendNull(r);
  }
  copy::tab(r);
  if (event.group_id) {
    appendUuid(r, *event.group_id);
  } else {
    copy::appendNull(r);
  }
  copy::tab(r);
  copy::appendOptionalInt(r, event.time_remaining_ms);
  copy::tab(r);
  copy::appendOptionalInt(r, event.time_elapsed_ms);
  copy::tab(r);
  copy::appendOptionalInt(r, event.cycle_number);
  copy::tab(r);
  appendTimestamp(r, event.ts_us);
  copy::tab(r);
  if (event.state.empty()) {
    copy::appendNull(r);
  } else {
    d.state_at = static_cast<uint32_t>(r.size());
    copy::appendEscaped(r, event.state);
    d.state_len = static_cast<uint32_t>(r.size()) - d.state_at;
  }
  copy::tab(r);
  if (event.metadata.empty()) {
    r.append("{}");
  } else {
    d.meta_at = static_cast<uint32_t>(r.size());
    copy::appendEscaped(r, event.metadata);
    d.meta_len = static_cast<uint32_t>(r.size()) - d.meta_at;
  }
  copy::tab(r);
  copy::appendEscaped(r, stream);
  copy::tab(r);
  d.id_at = static_cast<uint32_t>(r.size());
  r.append(entry_id);
  d.id_len = static_cast<uint32_t>(entry_id.size());
  copy::tab(r);
  copy::appendOptionalInt(r, event.version);
  copy::tab(r);
  appendIdColumns(r, entry_id);
  copy::endRow(r);
  if (row_digests_on_) {
    d.event = event;
    d.event.type = d.event.session_id_text = d.event.state = d.event.metadata = {};
    d.row_id = row_id;
    d.stream = digestStreamIndex(stream);
    const auto id = core::EntryId::parse(entry_id).value_or(core::EntryId{});
    d.ms = static_cast<int64_t>(id.ms);
    d.seq = static_cast<int64_t>(id.seq);
    digest_inputs_.push_back(d);
  }

  if (event.is_tombstone) {
    appendUuid(tombstone_rows_, event.session_id);
    copy::tab(tombstone_rows_);
    appendTimestamp(tombstone_rows_, event.ts_us);
    copy::tab(tombstone_rows_);
    copy::appendEscaped(tombstone_rows_, stream);
    copy::tab(tombstone_rows_);
    tombstone_rows_.append(entry_id);
    copy::endRow(tombstone_rows_);
  }
  if (projection.present) {
    offerProjection(stream, entry_id, event, projection);
  }
  idsFor(stream).add(entry_id);
  ++entries_;
  ++events_;
}

void Batch::appendIdColumns(std::string& r, std::string_view entry_id) {
  const auto id = core::EntryId::parse(entry_id).value_or(core::EntryId{});
  constexpr auto kMax = static_cast<uint64_t>(INT64_MAX);
  const auto ms = static_cast<int64_t>(std::min(id.ms, kMax));
  copy::appendInt(r, ms);
  copy::tab(r);
  copy::appendInt(r, static_cast<int64_t>(std::min(id.seq, kMax)));
  min_ms_ = std::min(min_ms_, ms);
  max_ms_ = std::max(max_ms_, ms);
}

uint32_t Batch::digestStreamIndex(std::string_view stream) {
  uint32_t s = 0;
  while (s < digest_streams_.size() && digest_streams_[s] != stream) {
    ++s;
  }
  if (s == digest_streams_.size()) {
    digest_streams_.emplace_back(stream);
  }
  return s;
}

void Batch::offerProjection(std::string_view stream, std::string_view entry_id, const Event& event,
                            const Projection& projection) {
  bool inserted = false;
  const uint32_t slot_no =
      index_.findOrInsert(event.session_id, static_cast<uint32_t>(used_slots_), inserted);
  if (inserted) {
    if (used_slots_ == slots_.size()) {
      slots_.emplace_back();
    }
    ++used_slots_;
  } else if (!standsAbove(event.version, stream, entry_id, slots_[slot_no])) {
    return; // the same rule as the database upsert (pg/batch_writer.cc, AUDITQ_STANDING)
  }
  SessionSlot& slot = slots_[slot_no];
  if (!inserted) {
    projection_bytes_ -= slot.columns.size() + slot.participant_rows.size();
  }
  projection_bytes_ += projection.session_columns.size() + projection.participant_rows.size();
  slot.session_id = event.session_id;
  slot.version = event.version;
  slot.ts_us = event.ts_us;
  slot.columns.assign(projection.session_columns);
  slot.participant_rows.assign(projection.participant_rows);
  slot.stream.assign(stream);
  slot.entry_id.assign(entry_id);
}

void Batch::addDeadLetter(const RawEntry& raw, const DecodeError& error, bool minimal) {
  const std::string_view stream = raw.stream;
  const std::string_view entry_id = raw.id;
  const auto fields = raw.fields;
  const int64_t delivery_count = raw.deliveries;
  if (error.reason == core::ReasonCode::TooLarge || minimal) {
    raw_.addCapped(raw.stream, raw.id, raw.fields, raw.deliveries, max_field_bytes_);
  } else {
    raw_.add(raw.stream, raw.id, raw.fields, raw.deliveries);
  }
  reasons_.push_back(static_cast<int8_t>(error.reason));
  std::string& r = dead_letter_rows_;
  const size_t row_begin = r.size();
  copy::appendEscaped(r, stream);
  copy::tab(r);
  r.append(entry_id);
  copy::tab(r);
  appendIdColumns(r, entry_id);
  copy::tab(r);
  const size_t json_start = r.size();
  appendFieldsJson(r, fields, minimal ? 0 : max_field_bytes_);
  // The JSON may hold backslashes (escapes): COPY-escape it in place.
  if (r.find('\\', json_start) != std::string::npos) {
    std::string json = r.substr(json_start);
    r.resize(json_start);
    copy::appendEscaped(r, json);
  }
  copy::tab(r);
  r.append(core::reasonName(error.reason));
  copy::tab(r);
  if (!error.field.empty()) {
    r.append(error.field);
    r.append(": ");
  }
  copy::appendEscaped(r, error.detail);
  copy::tab(r);
  copy::appendInt(r, delivery_count);
  copy::endRow(r);
  dl_spans_.emplace_back(row_begin, r.size());
  noteDeadLetter(error.reason, stream, entry_id);
}

void Batch::addDeadLetterOf(const Batch& other, size_t i, std::vector<std::string_view>& scratch) {
  const RawEntry raw = other.raw().get(i, scratch);
  const auto [begin, end] = other.dl_spans_[i];
  // The row as rendered the first time: never decoded again (a too_large entry's raw copy is
  // cut, and its row holds the digests of the uncut fields).
  raw_.addCapped(raw.stream, raw.id, raw.fields, raw.deliveries, SIZE_MAX, raw.capped);
  reasons_.push_back(other.reasons_[i]);
  const size_t row_begin = dead_letter_rows_.size();
  dead_letter_rows_.append(other.dead_letter_rows_, begin, end - begin);
  dl_spans_.emplace_back(row_begin, dead_letter_rows_.size());
  const auto id = core::EntryId::parse(raw.id).value_or(core::EntryId{});
  const auto ms = static_cast<int64_t>(std::min(id.ms, static_cast<uint64_t>(INT64_MAX)));
  min_ms_ = std::min(min_ms_, ms);
  max_ms_ = std::max(max_ms_, ms);
  noteDeadLetter(static_cast<core::ReasonCode>(other.reasons_[i]), raw.stream, raw.id);
}

void Batch::noteDeadLetter(core::ReasonCode reason, std::string_view stream,
                           std::string_view entry_id) {
  if (dead_letters_ == 0) {
    first_dead_letter_.reason = reason;
    first_dead_letter_.stream.assign(stream);
    first_dead_letter_.entry_id.assign(entry_id);
  }
  idsFor(stream).add(entry_id);
  ++entries_;
  ++dead_letters_;
}

void Batch::seal() {
  for (size_t i = 0; i < used_slots_; ++i) {
    const SessionSlot& s = slots_[i];
    if (projections_.sessions) {
      appendUuid(session_rows_, s.session_id);
      copy::tab(session_rows_);
      session_rows_.append(s.columns);
      copy::tab(session_rows_);
      copy::appendOptionalInt(session_rows_, s.version);
      copy::tab(session_rows_);
      appendTimestamp(session_rows_, s.ts_us);
      copy::tab(session_rows_);
      copy::appendEscaped(session_rows_, s.stream);
      copy::tab(session_rows_);
      session_rows_.append(s.entry_id);
      copy::endRow(session_rows_);
    }
    if (projections_.participants) {
      // Each participant row carries the snapshot's stream and entry id: the upsert's
      // tie-break between equal versions.
      const std::string& rows = s.participant_rows;
      for (size_t pos = 0; pos < rows.size();) {
        const size_t end = rows.find('\n', pos);
        participant_rows_.append(rows, pos, end - pos);
        copy::tab(participant_rows_);
        copy::appendEscaped(participant_rows_, s.stream);
        copy::tab(participant_rows_);
        participant_rows_.append(s.entry_id);
        copy::endRow(participant_rows_);
        pos = end + 1;
      }
    }
  }
}

} // namespace auditq::pipeline
