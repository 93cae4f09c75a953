// A batch of stream entries on its way to one PostgreSQL transaction: the sync_events rows, the
// dead letters, the tombstones, and the session and participant rows collapsed to the newest
// state per session, all as COPY text; plus the entry ids to XACK per stream once committed.
// Batches are reused: clear() keeps every buffer's capacity.
#pragma once

#include <cstdint>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"
#include "pipeline/decode.h"
#include "pipeline/raw_entries.h"
#include "pipeline/session_index.h"

namespace auditq::pipeline {

// The entry ids of one stream in a batch, as "<ms>-<seq>" texts.
class StreamIds {
public:
  explicit StreamIds(std::string_view stream) : stream_(stream) {}
  const std::string& stream() const { return stream_; }
  size_t size() const { return ends_.size(); }
  std::string_view id(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends_[i - 1];
    return std::string_view(text_).substr(begin, ends_[i] - begin);
  }
  void add(std::string_view id) {
    text_.append(id);
    ends_.push_back(static_cast<uint32_t>(text_.size()));
  }
  void clear() {
    text_.clear();
    ends_.clear();
  }

private:
  std::string stream_;
  std::string text_;
  std::vector<uint32_t> ends_;
};

class Batch {
public:
  // Dead letters keep each field up to `max_field_bytes` (dead_letter.max_field_bytes).
  // With `row_digests` (audit.digests), each event's row digest is computed as it is added.
  Batch(const config::BatchConfig& batch, const config::ProjectionsConfig& projections,
        int64_t max_field_bytes = config::DeadLetterConfig{}.max_field_bytes,
        bool row_digests = false);

  void clear();
  // New limits (SIGHUP reload) for the next fill; call on an empty batch.
  void setLimits(int64_t max_entries, int64_t max_bytes);

  // Adds a valid entry, decoded from `raw` (kept for isolate-by-splitting). Precondition:
  // !full().
  void addEvent(const RawEntry& raw, const Event& event, const Projection& projection);

  // Adds an entry that can never be written, to be recorded in auditq_dead_letters and
  // acknowledged in the same commit. `raw.fields` are the name/value pairs as received (kept
  // up to max_field_bytes each). `minimal`: keep none of them, only their count, size and
  // SHA-256 (for a letter PostgreSQL refused with its fields).
  void addDeadLetter(const RawEntry& raw, const DecodeError& error, bool minimal = false);
  // Adds dead letter `i` of `other` exactly as it was rendered there (isolation never decodes a
  // dead letter again).
  void addDeadLetterOf(const Batch& other, size_t i, std::vector<std::string_view>& scratch);

  // Renders the collapsed session and participant rows. Call once, after the last add.
  void seal();

  bool full() const {
    return entries_ >= static_cast<size_t>(max_entries_) ||
           bytes() >= static_cast<size_t>(max_bytes_);
  }
  // How many more entries this batch takes before it is full by count (0 when full): from its
  // own limits, which a SIGHUP never changes while it is being filled.
  size_t room() const {
    return entries_ >= static_cast<size_t>(max_entries_)
               ? 0
               : static_cast<size_t>(max_entries_) - entries_;
  }
  // The bytes it takes before it is full by size (0 when full).
  size_t byteRoom() const {
    const size_t max = static_cast<size_t>(max_bytes_);
    return bytes() >= max ? 0 : max - bytes();
  }
  bool empty() const { return entries_ == 0; }
  size_t entries() const { return entries_; }
  size_t events() const { return events_; }
  size_t deadLetters() const { return dead_letters_; }
  // Every byte the batch holds for its entries: the raw copies, the COPY rows, and the
  // collapsed session and participant rows (memory is bounded by this, not by entry count).
  size_t bytes() const {
    return raw_.bytes() + event_rows_.size() + dead_letter_rows_.size() + tombstone_rows_.size() +
           projection_bytes_ + session_rows_.size() + participant_rows_.size() +
           digest_inputs_.size() * sizeof(DigestInput);
  }

  // The batch's first dead letter, for the one log line per batch (valid when deadLetters()).
  struct DeadLetterSample {
    core::ReasonCode reason = core::ReasonCode::MissingField;
    std::string stream;
    std::string entry_id;
  };
  const DeadLetterSample& firstDeadLetter() const { return first_dead_letter_; }

  // COPY text, one line per row (see pg/batch_writer.cc for the column lists).
  const std::string& eventRows() const { return event_rows_; }
  const std::string& deadLetterRows() const { return dead_letter_rows_; }
  const std::string& tombstoneRows() const { return tombstone_rows_; }
  const std::string& sessionRows() const { return session_rows_; }
  const std::string& participantRows() const { return participant_rows_; }

  // The entries' times (the ms part of their ids, at most INT64_MAX): the partitions the batch
  // needs lie between these.
  int64_t minEntryMs() const { return min_ms_; }
  int64_t maxEntryMs() const { return max_ms_; }

  // With row_digests, what each event row's digest is computed from (pipeline/row_digest.h,
  // by the writer thread, off the event loop): the decoded values, and where the row's text
  // columns are in eventRows() (state and metadata COPY-escaped). `stream` indexes
  // digestStream().
  struct DigestInput {
    Event event; // its string views unset: see the offsets
    Uuid row_id;
    uint32_t stream = 0;
    int64_t ms = 0;
    int64_t seq = 0;
    uint32_t type_at = 0, type_len = 0;
    uint32_t state_at = 0, state_len = 0; // state_len 0: no state (NULL)
    uint32_t meta_at = 0, meta_len = 0;   // meta_len 0: none ("{}")
    uint32_t id_at = 0, id_len = 0;
  };
  std::span<const DigestInput> digestInputs() const { return digest_inputs_; }
  const std::string& digestStream(uint32_t i) const { return digest_streams_[i]; }

  // Entry ids per stream, for XACK after COMMIT (only streams with entries in this batch).
  std::span<const StreamIds> acks() const { return std::span(streams_).first(active_streams_); }

  // Every entry as delivered, in the order added, and whether (and why) it is dead-lettered.
  const RawEntries& raw() const { return raw_; }
  std::optional<core::ReasonCode> deadLetterReason(size_t i) const {
    return reasons_[i] < 0 ? std::nullopt
                           : std::optional(static_cast<core::ReasonCode>(reasons_[i]));
  }
  // Records that PostgreSQL refused entry `i` and it went to the dead letters instead (set by
  // the writer that isolated it, before the batch is handed back).
  void markRejected(size_t i);
  // Entries PostgreSQL refused (after isolation): no longer events, now dead letters.
  size_t rejected() const { return rejected_; }

private:
  struct SessionSlot {
    Uuid session_id;
    std::optional<int64_t> version;
    int64_t ts_us = 0;
    std::string columns;
    std::string participant_rows;
    std::string stream;
    std::string entry_id;
  };

  StreamIds& idsFor(std::string_view stream);
  uint32_t digestStreamIndex(std::string_view stream);
  // Appends "<ms>\t<seq>" of `entry_id` (ms clamped to INT64_MAX) and notes its time.
  void appendIdColumns(std::string& r, std::string_view entry_id);
  void noteDeadLetter(core::ReasonCode reason, std::string_view stream, std::string_view entry_id);
  static bool standsAbove(std::optional<int64_t> version, std::string_view stream,
                          std::string_view entry_id, const SessionSlot& current);
  void offerProjection(std::string_view stream, std::string_view entry_id, const Event& event,
                       const Projection& projection);

  int64_t max_entries_;
  int64_t max_bytes_;
  size_t max_field_bytes_;
  const config::ProjectionsConfig& projections_;

  size_t entries_ = 0;
  bool row_digests_on_;
  std::mt19937_64 rng_; // the rows' id column: random, chosen here so that the digest covers it
  std::vector<DigestInput> digest_inputs_;
  std::vector<std::string> digest_streams_;
  int64_t min_ms_ = INT64_MAX;
  int64_t max_ms_ = 0;
  size_t events_ = 0;
  size_t dead_letters_ = 0;
  size_t rejected_ = 0;
  RawEntries raw_;
  std::vector<int8_t> reasons_; // per entry: -1 event, else the ReasonCode it is dead-lettered for
  // per entry: where its dead letter row is in dead_letter_rows_ (empty for an event)
  std::vector<std::pair<size_t, size_t>> dl_spans_;
  DeadLetterSample first_dead_letter_;
  std::string event_rows_;
  std::string dead_letter_rows_;
  std::string tombstone_rows_;
  std::string session_rows_;
  std::string participant_rows_;
  std::vector<StreamIds> streams_;
  size_t active_streams_ = 0;
  SessionIndex index_;
  std::vector<SessionSlot> slots_;
  size_t used_slots_ = 0;
  size_t projection_bytes_ = 0; // what the used slots' columns and participant rows hold
};

// The raw fields of an entry as the JSON kept in auditq_dead_letters.fields:
// [[name, value], ...] in order; a name or value that is not UTF-8 or holds a NUL byte becomes
// {"base64": "..."} so that jsonb accepts it. A name or value longer than `max_field_bytes`
// keeps its first max_field_bytes as {"cut": <text or base64>, "length": N, "sha256_of_rest":
// hex}; past 16 * max_field_bytes in all, the remaining fields become one last element
// {"omitted_fields": n, "bytes": m, "sha256": hex}. So a dead letter is always storable.
void appendFieldsJson(std::string& out, std::span<const std::string_view> fields,
                      size_t max_field_bytes);

// The inverse, for replaying a dead letter: the exact bytes of each name and value, in order
// (a dangling name without value comes back alone). False when `json` is not of that shape,
// or was cut (the entry's bytes are not all there).
bool parseFieldsJson(std::string_view json, std::vector<std::string>& out);

} // namespace auditq::pipeline
